//! Occurrences: one scheduled (or rehearsed) run of a debate.

use chrono::{DateTime, Utc};
// Dynamic SQL here only splices the fixed column lists below, never input.
use sqlx::{AssertSqlSafe, Row};

use super::codec::{opt_ts, parse_ts, ts};
use super::{Result, Store, StoreError};

/// An occurrence to find or create.
#[derive(Clone, Debug)]
pub struct NewOccurrence<'a> {
    pub debate: &'a str,
    pub scheduled_start: DateTime<Utc>,
    pub title: &'a str,
    pub timezone: &'a str,
    /// The scheduled question texts, in order.
    pub questions: Vec<&'a str>,
    /// For rehearsals: the compressed clock's real origin and speed.
    pub rehearsal_clock: Option<(DateTime<Utc>, f64)>,
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
}

fn occurrence_row(r: &sqlx::sqlite::SqliteRow) -> Result<OccurrenceRow> {
    Ok(OccurrenceRow {
        id: r.try_get("id")?,
        debate: r.try_get("debate")?,
        scheduled_start: parse_ts(&r.try_get::<String, _>("scheduled_start")?)?,
        title: r.try_get("title")?,
        timezone: r.try_get("timezone")?,
        shift_seconds: r.try_get("shift_seconds")?,
        ended_at: opt_ts(r.try_get("ended_at")?)?,
        rehearsal: r.try_get::<i64, _>("rehearsal")? != 0,
        clock_real_base: opt_ts(r.try_get("clock_real_base")?)?,
        clock_speed: r.try_get("clock_speed")?,
        questions: match r.try_get::<Option<String>, _>("questions")? {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("question texts `{json}`: {e}")))?,
            None => Vec::new(),
        },
    })
}

const OCC_COLS: &str = "id, debate, scheduled_start, title, timezone, shift_seconds, ended_at, \
                        rehearsal, clock_real_base, clock_speed, questions";

impl Store {
    /// Finds or creates the occurrence `(debate, scheduled_start)`. An
    /// existing one keeps what it was created with.
    ///
    /// # Errors
    /// Database failures.
    pub async fn occurrence(&self, new: &NewOccurrence<'_>) -> Result<OccurrenceRow> {
        let questions = serde_json::to_string(&new.questions)
            .map_err(|e| StoreError::Corrupt(format!("question texts: {e}")))?;
        let mut c = self.conn().await?;
        let r = sqlx::query(
            "INSERT INTO occurrences (debate, scheduled_start, title, timezone, rehearsal, \
             clock_real_base, clock_speed, created_at, questions) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (debate, scheduled_start) DO NOTHING",
        )
        .bind(new.debate)
        .bind(ts(new.scheduled_start))
        .bind(new.title)
        .bind(new.timezone)
        .bind(i64::from(new.rehearsal_clock.is_some()))
        .bind(new.rehearsal_clock.map(|(b, _)| ts(b)))
        .bind(new.rehearsal_clock.map(|(_, s)| s))
        .bind(ts(new.now))
        .bind(questions)
        .execute(c.c())
        .await;
        c.check(r)?;
        drop(c);
        self.find_occurrence(new.debate, new.scheduled_start)
            .await?
            .ok_or_else(|| StoreError::Corrupt("occurrence vanished after insert".into()))
    }

    /// # Errors
    /// Database failures.
    pub async fn find_occurrence(
        &self,
        debate: &str,
        scheduled_start: DateTime<Utc>,
    ) -> Result<Option<OccurrenceRow>> {
        let mut c = self.conn().await?;
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {OCC_COLS} FROM occurrences WHERE debate = ? AND scheduled_start = ?"
        )))
        .bind(debate)
        .bind(ts(scheduled_start))
        .fetch_optional(c.c())
        .await;
        let row = c.check(r)?;
        row.as_ref().map(occurrence_row).transpose()
    }

    /// Occurrences of a debate, newest first.
    ///
    /// # Errors
    /// Database failures.
    pub async fn occurrences_of(&self, debate: &str) -> Result<Vec<OccurrenceRow>> {
        let mut c = self.conn().await?;
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {OCC_COLS} FROM occurrences WHERE debate = ? ORDER BY scheduled_start DESC"
        )))
        .bind(debate)
        .fetch_all(c.c())
        .await;
        let rows = c.check(r)?;
        rows.iter().map(occurrence_row).collect()
    }

    /// The most recent rehearsal of `debate`: `podium rehearse` resumes it
    /// unless its transcript was written.
    ///
    /// # Errors
    /// Database failures.
    pub async fn latest_rehearsal(&self, debate: &str) -> Result<Option<OccurrenceRow>> {
        let mut c = self.conn().await?;
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {OCC_COLS} FROM occurrences WHERE debate = ? AND rehearsal = 1 \
             ORDER BY scheduled_start DESC LIMIT 1"
        )))
        .bind(debate)
        .fetch_optional(c.c())
        .await;
        let row = c.check(r)?;
        row.as_ref().map(occurrence_row).transpose()
    }

    /// # Errors
    /// Database failures.
    pub async fn set_shift(&self, occurrence_id: i64, seconds: i64) -> Result<()> {
        let mut c = self.conn().await?;
        let r = sqlx::query("UPDATE occurrences SET shift_seconds = ? WHERE id = ?")
            .bind(seconds)
            .bind(occurrence_id)
            .execute(c.c())
            .await;
        c.check(r)?;
        Ok(())
    }

    /// # Errors
    /// Database failures.
    pub async fn set_ended(&self, occurrence_id: i64, at: DateTime<Utc>) -> Result<()> {
        let mut c = self.conn().await?;
        let r =
            sqlx::query("UPDATE occurrences SET ended_at = ? WHERE id = ? AND ended_at IS NULL")
                .bind(ts(at))
                .bind(occurrence_id)
                .execute(c.c())
                .await;
        c.check(r)?;
        Ok(())
    }
}
