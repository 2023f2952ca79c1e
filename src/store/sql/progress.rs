use chrono::{DateTime, Utc};

use super::{Conn, ts};
use crate::domain::Cursor;
use crate::store::Result;

pub async fn claim_command(
    conn: &mut Conn,
    network: &str,
    room: &str,
    network_id: &str,
    at: DateTime<Utc>,
) -> Result<bool> {
    Ok(sqlx::query(
        "INSERT INTO handled_commands (network, room, network_id, handled_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(network)
    .bind(room)
    .bind(network_id)
    .bind(ts(at))
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

pub async fn cursor(conn: &mut Conn, replica: &str, network: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT position FROM cursors WHERE replica = $1 AND network = $2")
            .bind(replica)
            .bind(network)
            .fetch_optional(conn)
            .await?,
    )
}

/// Saves where each network resumes from, inside the caller's transaction
/// (the one that wrote the replies these cursors cover).
pub async fn save_cursors(conn: &mut Conn, replica: &str, cursors: &[Cursor]) -> Result<()> {
    let now = Utc::now();
    for c in cursors {
        sqlx::query(
            "INSERT INTO cursors (replica, network, position, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (replica, network) DO UPDATE SET position = excluded.position, \
             updated_at = excluded.updated_at",
        )
        .bind(replica)
        .bind(&c.network)
        .bind(&c.position)
        .bind(ts(now))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
