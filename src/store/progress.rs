//! How far Podium got: commands handled once, and where each network
//! resumes from.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteConnection;

use super::codec::ts;
use super::{Result, Store};
use crate::domain::Cursor;

impl Store {
    /// Records that a command message is being handled; false if it was
    /// already (a re-delivery after a crash).
    ///
    /// # Errors
    /// Database failures.
    pub async fn claim_command(
        &self,
        network: &str,
        room: &str,
        network_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let mut c = self.conn().await?;
        let r = sqlx::query(
            "INSERT INTO handled_commands (network, room, network_id, handled_at) \
             VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(network)
        .bind(room)
        .bind(network_id)
        .bind(ts(at))
        .execute(c.c())
        .await;
        Ok(c.check(r)?.rows_affected() == 1)
    }

    /// Where `network` resumes from.
    ///
    /// # Errors
    /// Database failures.
    pub async fn cursor(&self, network: &str) -> Result<Option<String>> {
        let mut c = self.conn().await?;
        let r = sqlx::query_scalar("SELECT position FROM cursors WHERE network = ?")
            .bind(network)
            .fetch_optional(c.c())
            .await;
        c.check(r)
    }
}

/// Saves where each network resumes from, inside the caller's transaction
/// (the one that wrote the replies these cursors cover).
pub(super) async fn save_cursors(conn: &mut SqliteConnection, cursors: &[Cursor]) -> Result<()> {
    let now = ts(Utc::now());
    for c in cursors {
        sqlx::query(
            "INSERT INTO cursors (network, position, updated_at) VALUES (?, ?, ?) \
                 ON CONFLICT (network) DO UPDATE SET position = excluded.position, \
                 updated_at = excluded.updated_at",
        )
        .bind(&c.network)
        .bind(&c.position)
        .bind(&now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
