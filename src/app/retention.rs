//! The retention period (`retention`): what Podium holds of a debate is
//! erased once its start is that long ago. In the database that is the
//! answers and the raw room log (erased for good: see `store::erase`); in
//! the data directory, the rehearsals' console logs and transcripts
//! (`DATA_DIR/rehearsals/*.log` and `*.md`), judged by when each file was
//! last written, which is when its rehearsal ran.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::store::Store;

/// What one purge removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub answers: u64,
    pub files: usize,
}

/// Erases everything from before `cutoff`, marking the occurrences purged
/// at `now`; `data_dir` holds the rehearsal files (none for a store in
/// memory).
///
/// # Errors
/// The store failed, or the rehearsals directory cannot be read.
pub async fn purge(
    store: &Store,
    data_dir: Option<&Path>,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<Purged> {
    let answers = store.purge_before(cutoff, now).await?;
    let files = match data_dir {
        Some(dir) => purge_rehearsal_files(dir, cutoff)?,
        None => 0,
    };
    Ok(Purged { answers, files })
}

/// Removes the rehearsal files last written before `cutoff`; returns how
/// many. Only Podium's own kinds of file there (`.log`, `.md`) are touched.
///
/// # Errors
/// The directory cannot be read (a missing one is no error).
pub fn purge_rehearsal_files(data_dir: &Path, cutoff: DateTime<Utc>) -> std::io::Result<usize> {
    let dir = data_dir.join("rehearsals");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let path = entry?.path();
        let ours = path.extension().is_some_and(|e| e == "log" || e == "md");
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let written: Option<DateTime<Utc>> = meta.modified().ok().map(DateTime::from);
        if ours && meta.is_file() && written.is_some_and(|w| w < cutoff) {
            match std::fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) => tracing::warn!(file = %path.display(), cause = %e,
                    "cannot remove a rehearsal file past the retention period"),
            }
        }
    }
    Ok(removed)
}
