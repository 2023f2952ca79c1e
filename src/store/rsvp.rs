//! RSVPs: who registered for an occurrence, to be reminded personally.

use chrono::{DateTime, Utc};

use super::{Result, Store};

/// One registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsvpRow {
    pub occurrence_id: i64,
    pub debate: String,
    pub scheduled_start: DateTime<Utc>,
    pub person_id: String,
    pub name: String,
    pub network: String,
}

impl Store {
    /// Registers `person` for an occurrence; `false` if they were already.
    ///
    /// # Errors
    /// Database failures.
    pub async fn rsvp(
        &self,
        occurrence_id: i64,
        person: &str,
        name: &str,
        network: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        run!(self, rsvp::rsvp(occurrence_id, person, name, network, at))
    }

    /// Takes a registration back; whether there was one.
    ///
    /// # Errors
    /// Database failures.
    pub async fn unrsvp(&self, occurrence_id: i64, person: &str) -> Result<bool> {
        run!(self, rsvp::unrsvp(occurrence_id, person))
    }

    /// `person`'s registrations for occurrences starting from `from`, by
    /// start.
    ///
    /// # Errors
    /// Database failures.
    pub async fn rsvps_of(&self, person: &str, from: DateTime<Utc>) -> Result<Vec<RsvpRow>> {
        run!(self, rsvp::rsvps_of(person, from))
    }

    /// How many are registered for an occurrence.
    ///
    /// # Errors
    /// Database failures.
    pub async fn registered(&self, occurrence_id: i64) -> Result<i64> {
        run!(self, rsvp::registered(occurrence_id))
    }

    /// Claims the personal reminders of an occurrence not sent yet: each
    /// is marked sent in the same statement, so no other run (or replica)
    /// sends it again.
    ///
    /// # Errors
    /// Database failures.
    pub async fn claim_reminders(
        &self,
        occurrence_id: i64,
        at: DateTime<Utc>,
    ) -> Result<Vec<RsvpRow>> {
        run!(self, rsvp::claim_reminders(occurrence_id, at))
    }
}
