use chrono::{DateTime, Utc};
use sqlx::Row as _;

use super::{Conn, get_ts, ts};
use crate::store::Result;
use crate::store::adhoc::AdHocRow;

pub async fn start_adhoc(conn: &mut Conn, row: &AdHocRow) -> Result<bool> {
    let n = sqlx::query(
        "INSERT INTO adhoc (debate, title, room, timezone, starts_at, seconds) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (debate) DO NOTHING",
    )
    .bind(&row.debate)
    .bind(&row.title)
    .bind(&row.room)
    .bind(&row.timezone)
    .bind(ts(row.starts_at))
    .bind(row.seconds)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n > 0)
}

pub async fn adhoc_since(conn: &mut Conn, since: DateTime<Utc>) -> Result<Vec<AdHocRow>> {
    let rows = sqlx::query(
        "SELECT debate, title, room, timezone, starts_at, seconds FROM adhoc WHERE starts_at >= $1 \
         ORDER BY starts_at, debate",
    )
    .bind(ts(since))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AdHocRow {
                debate: r.try_get("debate")?,
                title: r.try_get("title")?,
                room: r.try_get("room")?,
                timezone: r.try_get("timezone")?,
                starts_at: get_ts(r, "starts_at")?,
                seconds: r.try_get("seconds")?,
            })
        })
        .collect()
}

pub async fn is_adhoc(conn: &mut Conn, debate: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM adhoc WHERE debate = $1")
        .bind(debate)
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}
