//! Occurrences: one scheduled (or rehearsed) run of a debate.

use chrono::{DateTime, Duration, Utc};
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
fn json_list(r: &sqlx::sqlite::SqliteRow, column: &str) -> Result<Vec<String>> {
    match r.try_get::<Option<String>, _>(column)? {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("{column} `{json}`: {e}"))),
        None => Ok(Vec::new()),
    }
}

/// 128 bits from the operating system's random source, in hex.
fn new_token() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Corrupt(format!("no randomness for a token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
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
        questions: json_list(r, "questions")?,
        zones: json_list(r, "zones")?,
        public: r.try_get::<i64, _>("public")? != 0,
        token: r.try_get::<Option<String>, _>("token")?.unwrap_or_default(),
        purged_at: opt_ts(r.try_get("purged_at")?)?,
        duration: r
            .try_get::<Option<i64>, _>("duration_seconds")?
            .map(Duration::seconds),
        collect_grace: r
            .try_get::<Option<i64>, _>("collect_grace_seconds")?
            .map(Duration::seconds),
    })
}

const OCC_COLS: &str = "id, debate, scheduled_start, title, timezone, shift_seconds, ended_at, \
                        rehearsal, clock_real_base, clock_speed, questions, zones, public, token, \
                        purged_at, duration_seconds, collect_grace_seconds";

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
        let mut c = self.conn().await?;
        let r = sqlx::query(
            "INSERT INTO occurrences (debate, scheduled_start, title, timezone, rehearsal, \
             clock_real_base, clock_speed, created_at, questions, zones, public, token, \
             duration_seconds, collect_grace_seconds) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
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
        .bind(zones)
        .bind(i64::from(new.public))
        .bind(token)
        .bind(new.duration.num_seconds())
        .bind(new.collect_grace.num_seconds())
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
        let mut c = self.conn().await?;
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {OCC_COLS} FROM occurrences WHERE public = 1 AND rehearsal = 0 \
             AND scheduled_start <= ? ORDER BY scheduled_start DESC LIMIT ?"
        )))
        .bind(ts(now))
        .bind(i64::from(limit))
        .fetch_all(c.c())
        .await;
        let rows = c.check(r)?;
        rows.iter().map(occurrence_row).collect()
    }

    /// What changes when anything shown about an occurrence changes: its
    /// end, its posts, its replies (added, edited, deleted, purged).
    ///
    /// # Errors
    /// Database failures.
    pub async fn fingerprint(&self, occurrence_id: i64) -> Result<String> {
        let mut c = self.conn().await?;
        let r = sqlx::query(
            "SELECT \
             (SELECT coalesce(ended_at, '') || '|' || coalesce(purged_at, '') || '|' || \
                     shift_seconds FROM occurrences WHERE id = ?1) || '|' || \
             (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || \
                     coalesce(max(sent_at), '') || ':' || group_concat(status, '') \
              FROM posts WHERE occurrence_id = ?1) || '|' || \
             (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || \
                     coalesce(max(edited_at), '') || ':' || coalesce(max(deleted_at), '') || ':' || \
                     count(deleted_at) \
              FROM replies WHERE occurrence_id = ?1)",
        )
        .bind(occurrence_id)
        .fetch_one(c.c())
        .await;
        let row = c.check(r)?;
        Ok(row.try_get::<Option<String>, _>(0)?.unwrap_or_default())
    }

    /// Removes the answers of occurrences that started before `cutoff`
    /// (the retention period), marking them purged at `now`, their raw
    /// log lines, and the presence records of that time (kept a little longer: see
    /// `presence::KEPT_BEFORE_CUTOFF`). Returns how many answers went.
    ///
    /// # Errors
    /// Database failures.
    pub async fn purge_before(&self, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> Result<u64> {
        let mut c = self.conn().await?;
        let r = purge_in(c.c(), cutoff, now).await;
        c.check(r)
    }

    /// Whether the database answers.
    ///
    /// # Errors
    /// It does not.
    pub async fn ping(&self) -> Result<()> {
        let mut c = self.conn().await?;
        let r = sqlx::query("SELECT 1").execute(c.c()).await;
        c.check(r).map(|_| ())
    }
}

async fn purge_in(
    conn: &mut sqlx::SqliteConnection,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64> {
    use sqlx::Connection;
    let mut tx = conn.begin().await?;
    sqlx::query(
        "UPDATE occurrences SET purged_at = ? WHERE scheduled_start < ? AND purged_at IS NULL \
         AND EXISTS (SELECT 1 FROM replies WHERE occurrence_id = occurrences.id)",
    )
    .bind(ts(now))
    .bind(ts(cutoff))
    .execute(&mut *tx)
    .await?;
    let gone = sqlx::query(
        "DELETE FROM replies WHERE occurrence_id IN \
         (SELECT id FROM occurrences WHERE scheduled_start < ?)",
    )
    .bind(ts(cutoff))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    super::presence::purge_presence(&mut tx, cutoff).await?;
    super::room_log::purge_lines(&mut tx, cutoff).await?;
    tx.commit().await?;
    super::erase::checkpoint(conn).await?;
    Ok(gone)
}
