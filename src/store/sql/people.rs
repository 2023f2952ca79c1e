use chrono::{DateTime, Utc};

use super::{Conn, ts};
use crate::store::Result;

pub async fn set_zone(conn: &mut Conn, person: &str, zone: &str, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "INSERT INTO people (person_id, zone, used_at) VALUES ($1, $2, $3) \
         ON CONFLICT (person_id) DO UPDATE SET zone = excluded.zone, used_at = excluded.used_at",
    )
    .bind(person)
    .bind(zone)
    .bind(ts(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// The person's zone, marking it used now (so retention keeps it).
pub async fn zone_of(conn: &mut Conn, person: &str, now: DateTime<Utc>) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("UPDATE people SET used_at = $2 WHERE person_id = $1 RETURNING zone")
            .bind(person)
            .bind(ts(now))
            .fetch_optional(conn)
            .await?,
    )
}

/// Whether there was a zone to forget.
pub async fn clear_zone(conn: &mut Conn, person: &str) -> Result<bool> {
    let gone = sqlx::query("DELETE FROM people WHERE person_id = $1")
        .bind(person)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(gone > 0)
}
