//! `!forget`: everything Podium holds about one person, counted (for the
//! confirmation it asks for) and erased (once confirmed), on both backends.

use chrono::{DateTime, Utc};

use super::{Result, Store};

/// What Podium holds about a person, or what it erased.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Holdings {
    /// Answers not already removed.
    pub answers: u64,
    /// Other messages kept in the rooms' raw logs.
    pub lines: u64,
    /// Proposals (open ones are withdrawn; asked ones lose the name).
    pub proposals: u64,
    pub votes: u64,
    /// The time zone set with `!tz`: 0 or 1.
    pub zones: u64,
    /// Registrations for debates (`!rsvp`).
    pub rsvps: u64,
}

impl Holdings {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Holdings::default()
    }
}

impl Store {
    /// What is held about `person` (a sender id).
    ///
    /// # Errors
    /// Database failures.
    pub async fn holdings(&self, person: &str) -> Result<Holdings> {
        run!(self, forget::holdings(person))
    }

    /// Erases what is held about `person`, in one transaction: answers and
    /// raw log lines are erased as a deletion erases them (every page then
    /// says an answer was withdrawn, without its text or name), open
    /// proposals are withdrawn and asked ones lose their proposer, votes
    /// and the time zone go. Returns what was erased.
    ///
    /// # Errors
    /// Database failures; then nothing is erased.
    pub async fn forget(&self, person: &str, at: DateTime<Utc>) -> Result<Holdings> {
        let erased = run!(self, forget::forget(person, at))?;
        if let super::Backend::Postgres(pg) = &*self.backend {
            // The erased text leaves the tables' free space now rather
            // than at autovacuum's next visit.
            if let Err(e) = pg.vacuum_after_purge().await {
                tracing::warn!(cause = %e, "cannot vacuum after a person's data was erased");
            }
        }
        Ok(erased)
    }
}
