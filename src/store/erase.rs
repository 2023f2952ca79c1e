//! Erasing text for good. A removed answer (a redaction, the retention
//! period) must not stay readable on disk: SQLite keeps deleted bytes in
//! free space inside pages and in freed pages, and in WAL mode the page
//! versions from before the erasure stay in the `-wal` file until a
//! checkpoint. So the writer connection runs with `secure_delete` (freed
//! space is overwritten with zeros; set where the store is opened), and
//! after each erasure the WAL is checkpointed into the database file and
//! truncated to nothing. Readers that hold an older snapshot can delay
//! that (the checkpoint waits for them, up to the busy timeout); if they
//! outlast it, the next erasure, the hourly retention purge or the
//! checkpoint at a clean stop finishes the job, and the log says so.
//!
//! An edit is not an erasure: the reply's row keeps only the new text at
//! once (`original_body` follows `body`: nothing reads the first text, so
//! it is not kept), and the earlier page version leaves the WAL at the
//! next checkpoint, automatic or not.

use sqlx::Row;
use sqlx::sqlite::SqliteConnection;

use super::Result;

/// Copies the WAL into the database file and truncates it to zero bytes,
/// so page versions from before an erasure are gone from both.
///
/// # Errors
/// Database failures (a checkpoint that readers held up is logged, not an
/// error).
pub(super) async fn checkpoint(conn: &mut SqliteConnection) -> Result<()> {
    let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&mut *conn)
        .await?;
    let busy: i64 = row.try_get(0)?;
    if busy != 0 {
        tracing::warn!(
            "erased text may stay in the database's WAL file until the next checkpoint: \
             a reader held up the one after the erasure"
        );
    }
    Ok(())
}
