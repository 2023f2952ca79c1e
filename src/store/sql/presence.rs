use chrono::{DateTime, Utc};

use super::{Conn, get_ts, pick, ts};
use crate::domain::Network;
use crate::store::Result;
use crate::store::presence::KEPT_BEFORE_CUTOFF;

pub async fn presence_begin(conn: &mut Conn, network: Network, at: DateTime<Utc>) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO presence (network, since, until) VALUES ($1, $2, $2) RETURNING id",
    )
    .bind(network.as_str())
    .bind(ts(at))
    .fetch_one(conn)
    .await?)
}

pub async fn presence_extend(conn: &mut Conn, id: i64, at: DateTime<Utc>) -> Result<()> {
    // Never moves back: an earlier `at` (the clock stepped back) is ignored.
    let sql = pick(
        "UPDATE presence SET until = max(until, $1) WHERE id = $2",
        "UPDATE presence SET until = greatest(until, $1) WHERE id = $2",
    );
    sqlx::query(sql).bind(ts(at)).bind(id).execute(conn).await?;
    Ok(())
}

/// The presence rows of `network` that overlap [from, until], by start;
/// `None` when none was ever recorded up to `until`.
pub async fn presence_in(
    conn: &mut Conn,
    network: Network,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Option<Vec<(DateTime<Utc>, DateTime<Utc>)>>> {
    let ever: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM presence WHERE network = $1 AND since <= $2)",
    )
    .bind(network.as_str())
    .bind(ts(until))
    .fetch_one(&mut *conn)
    .await?;
    if !ever {
        return Ok(None);
    }
    let rows = sqlx::query(
        "SELECT since, until FROM presence WHERE network = $1 AND since <= $2 AND until >= $3 \
         ORDER BY since, id",
    )
    .bind(network.as_str())
    .bind(ts(until))
    .bind(ts(from))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((get_ts(r, "since")?, get_ts(r, "until")?)))
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// Deletes presence rows that ended well before the retention `cutoff`,
/// inside the caller's transaction (the purge of answers).
pub async fn purge_presence(conn: &mut Conn, cutoff: DateTime<Utc>) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM presence WHERE until < $1")
        .bind(ts(cutoff - KEPT_BEFORE_CUTOFF))
        .execute(conn)
        .await?
        .rows_affected())
}
