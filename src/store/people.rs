//! What Podium remembers about a person across debates: for now the time
//! zone chosen with `!tz`, in which `!next` also shows times.

use chrono::{DateTime, Utc};

use super::{Result, Store};

impl Store {
    /// Remembers `person`'s zone (an IANA name the caller checked).
    ///
    /// # Errors
    /// Database failures.
    pub async fn set_zone(&self, person: &str, zone: &str, now: DateTime<Utc>) -> Result<()> {
        run!(self, people::set_zone(person, zone, now))
    }

    /// `person`'s zone, if they set one; reading it counts as using it, so
    /// retention keeps a zone in use.
    ///
    /// # Errors
    /// Database failures.
    pub async fn zone_of(&self, person: &str, now: DateTime<Utc>) -> Result<Option<String>> {
        run!(self, people::zone_of(person, now))
    }

    /// Forgets `person`'s zone; whether there was one.
    ///
    /// # Errors
    /// Database failures.
    pub async fn clear_zone(&self, person: &str) -> Result<bool> {
        run!(self, people::clear_zone(person))
    }
}
