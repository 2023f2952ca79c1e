//! Occurrences: one scheduled (or rehearsed) run of a debate.

use chrono::{DateTime, Duration, Utc};

use super::{Backend, Result, Store, StoreError};

/// An occurrence to find or create.
#[derive(Clone, Debug)]
pub struct NewOccurrence<'a> {
    pub debate: &'a str,
    pub scheduled_start: DateTime<Utc>,
    pub title: &'a str,
    pub timezone: &'a str,
    /// The scheduled question texts, in order.
    pub questions: Vec<&'a str>,
    /// The zones its pages show times in (IANA names).
    pub zones: Vec<&'a str>,
    /// Listed on the web; otherwise its address carries a token.
    pub public: bool,
    /// For rehearsals: the compressed clock's real origin and speed.
    pub rehearsal_clock: Option<(DateTime<Utc>, f64)>,
    /// The debate's scheduled length and the engine's collect grace: with
    /// them a transcript knows when collection ended without the schedule
    /// or the configuration (see `transcript::gaps`).
    pub duration: Duration,
    pub collect_grace: Duration,
    pub now: DateTime<Utc>,
}

/// An occurrence as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct OccurrenceRow {
    pub id: i64,
    pub debate: String,
    pub scheduled_start: DateTime<Utc>,
    pub title: String,
    pub timezone: String,
    pub shift_seconds: i64,
    pub ended_at: Option<DateTime<Utc>>,
    pub rehearsal: bool,
    pub clock_real_base: Option<DateTime<Utc>>,
    pub clock_speed: Option<f64>,
    /// The scheduled question texts when it was created (empty for
    /// occurrences stored before they were recorded).
    pub questions: Vec<String>,
    pub zones: Vec<String>,
    pub public: bool,
    /// 128 random bits in hex: a private transcript's address carries it.
    pub token: String,
    /// When the retention period removed its answers.
    pub purged_at: Option<DateTime<Utc>>,
    /// As created (`None` for occurrences stored before they were recorded).
    pub duration: Option<Duration>,
    pub collect_grace: Option<Duration>,
}

/// A JSON array of texts, as stored (NULL for rows from before it was).
pub(super) fn json_list(column: &str, json: Option<String>) -> Result<Vec<String>> {
    match json {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("{column} `{json}`: {e}"))),
        None => Ok(Vec::new()),
    }
}

/// 128 bits from the operating system's random source, in hex.
///
/// # Errors
/// The source fails.
pub fn new_token() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Corrupt(format!("no randomness for a token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Store {
    /// Finds or creates the occurrence `(debate, scheduled_start)`. An
    /// existing one keeps what it was created with.
    ///
    /// # Errors
    /// Database failures.
    pub async fn occurrence(&self, new: &NewOccurrence<'_>) -> Result<OccurrenceRow> {
        let questions = serde_json::to_string(&new.questions)
            .map_err(|e| StoreError::Corrupt(format!("question texts: {e}")))?;
        let zones = serde_json::to_string(&new.zones)
            .map_err(|e| StoreError::Corrupt(format!("zones: {e}")))?;
        let token = new_token()?;
        run!(
            self,
            occurrences::occurrence(new, &questions, &zones, &token)
        )
    }

    /// # Errors
    /// Database failures.
    pub async fn find_occurrence(
        &self,
        debate: &str,
        scheduled_start: DateTime<Utc>,
    ) -> Result<Option<OccurrenceRow>> {
        run!(self, occurrences::find_occurrence(debate, scheduled_start))
    }

    /// Occurrences of a debate, newest first.
    ///
    /// # Errors
    /// Database failures.
    pub async fn occurrences_of(&self, debate: &str) -> Result<Vec<OccurrenceRow>> {
        run!(self, occurrences::occurrences_of(debate))
    }

    /// The most recent rehearsal of `debate`: `podium rehearse` resumes it
    /// unless its transcript was written.
    ///
    /// # Errors
    /// Database failures.
    pub async fn latest_rehearsal(&self, debate: &str) -> Result<Option<OccurrenceRow>> {
        run!(self, occurrences::latest_rehearsal(debate))
    }

    /// # Errors
    /// Database failures.
    pub async fn set_shift(&self, occurrence_id: i64, seconds: i64) -> Result<()> {
        run!(self, occurrences::set_shift(occurrence_id, seconds))
    }

    /// # Errors
    /// Database failures.
    pub async fn set_ended(&self, occurrence_id: i64, at: DateTime<Utc>) -> Result<()> {
        run!(self, occurrences::set_ended(occurrence_id, at))
    }

    /// `!extend`: what was still to come at `at` moves `seconds` later,
    /// and the occurrence's duration grows by as much.
    ///
    /// # Errors
    /// Database failures, or an extension already recorded at `at`.
    pub async fn add_extension(
        &self,
        occurrence_id: i64,
        at: DateTime<Utc>,
        seconds: i64,
    ) -> Result<()> {
        run!(self, occurrences::add_extension(occurrence_id, at, seconds))
    }

    /// An occurrence's extensions, oldest first: (said at, seconds).
    ///
    /// # Errors
    /// Database failures.
    pub async fn extensions(&self, occurrence_id: i64) -> Result<Vec<(DateTime<Utc>, i64)>> {
        run!(self, occurrences::extensions(occurrence_id))
    }

    /// Public occurrences that have started by `now` (rehearsals never),
    /// newest first, at most `limit`.
    ///
    /// # Errors
    /// Database failures.
    pub async fn public_occurrences(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OccurrenceRow>> {
        run!(self, occurrences::public_occurrences(now, limit))
    }

    /// What changes when anything shown about an occurrence changes: its
    /// end, its posts, its replies (added, edited, deleted, purged).
    ///
    /// # Errors
    /// Database failures.
    pub async fn fingerprint(&self, occurrence_id: i64) -> Result<String> {
        run!(self, occurrences::fingerprint(occurrence_id))
    }

    /// Removes the answers of occurrences that started before `cutoff`
    /// (the retention period), marking them purged at `now`, their raw
    /// log lines, and the presence records of that time (kept a little longer: see
    /// `presence::KEPT_BEFORE_CUTOFF`). Returns how many answers went.
    ///
    /// # Errors
    /// Database failures.
    pub async fn purge_before(&self, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> Result<u64> {
        let gone = run!(self, occurrences::purge_before(cutoff, now))?;
        if let Backend::Postgres(pg) = &*self.backend
            && gone > 0
        {
            // Best effort: autovacuum gets there too.
            if let Err(e) = pg.vacuum_after_purge().await {
                tracing::warn!(cause = %e, "cannot vacuum after the retention purge");
            }
        }
        Ok(gone)
    }

    /// Whether the database answers.
    ///
    /// # Errors
    /// It does not.
    pub async fn ping(&self) -> Result<()> {
        run!(self, occurrences::ping())
    }
}
