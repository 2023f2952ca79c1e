//! Debates started in a room with `!debate TITLE`: what makes each one
//! (it has no entry in debates.yaml), kept so that a restart carries on
//! with it. Its occurrence, posts and answers are stored as any other's.

use chrono::{DateTime, Utc};

use super::{Result, Store};

/// A debate started with `!debate`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdHocRow {
    pub debate: String,
    pub title: String,
    /// The room, as written in `rooms:` (`#d:example.org`, `irc:#d`).
    pub room: String,
    /// An IANA name.
    pub timezone: String,
    pub starts_at: DateTime<Utc>,
    /// How long it may run at most.
    pub seconds: i64,
}

impl Store {
    /// Records a debate just started; `false` when one with that id was
    /// recorded already.
    ///
    /// # Errors
    /// Database failures.
    pub async fn start_adhoc(&self, row: &AdHocRow) -> Result<bool> {
        run!(self, adhoc::start_adhoc(row))
    }

    /// The debates started with `!debate` since `since`, oldest first.
    ///
    /// # Errors
    /// Database failures.
    pub async fn adhoc_since(&self, since: DateTime<Utc>) -> Result<Vec<AdHocRow>> {
        run!(self, adhoc::adhoc_since(since))
    }

    /// Whether `debate` was started with `!debate` (its transcript says
    /// so).
    ///
    /// # Errors
    /// Database failures.
    pub async fn is_adhoc(&self, debate: &str) -> Result<bool> {
        run!(self, adhoc::is_adhoc(debate))
    }
}
