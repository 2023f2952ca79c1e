//! The store: the only place with SQL. SQLite in WAL mode, schema in
//! `migrations/`, applied at start. Unique keys make posting idempotent;
//! replies are written in batches, each batch in one transaction together
//! with the network cursor that covers it.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration as StdDuration;

use chrono::{DateTime, SecondsFormat, Utc};
use std::sync::Arc;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::Mutex;
// Dynamic SQL here only splices the fixed column lists below, never input.
use sqlx::{AssertSqlSafe, Row, migrate::Migrator};

use crate::chat::Cursor;

/// Embedded migrations, applied by [`Store::open`].
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("cannot apply the database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt value in the database: {0}")]
    Corrupt(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Fixed-width UTC text, so times sort and compare as strings.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("timestamp `{s}`: {e}")))
}

fn opt_ts(s: Option<String>) -> Result<Option<DateTime<Utc>>> {
    s.as_deref().map(parse_ts).transpose()
}

/// A cheap handle on the database; clone it freely.
///
/// One connection behind an async mutex rather than a pool: SQLite takes
/// one writer at a time anyway, and a pool guards every acquire with a
/// timer, which tokio's paused time in tests fires at once. Nothing here
/// waits on a timer, so whole debates run under paused time.
#[derive(Clone, Debug)]
pub struct Store {
    conn: Arc<Mutex<SqliteConnection>>,
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
}

/// What kind of post, in the order posts due at the same instant are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PostKind {
    Reminder,
    Intro,
    Question,
    Closing,
    Transcript,
}

impl PostKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PostKind::Reminder => "reminder",
            PostKind::Intro => "intro",
            PostKind::Question => "question",
            PostKind::Closing => "closing",
            PostKind::Transcript => "transcript",
        }
    }
}

impl FromStr for PostKind {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        [
            PostKind::Reminder,
            PostKind::Intro,
            PostKind::Question,
            PostKind::Closing,
            PostKind::Transcript,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| StoreError::Corrupt(format!("post kind `{s}`")))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostStatus {
    Sending,
    Sent,
    Skipped,
    Unknown,
    Failed,
}

impl PostStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PostStatus::Sending => "sending",
            PostStatus::Sent => "sent",
            PostStatus::Skipped => "skipped",
            PostStatus::Unknown => "unknown",
            PostStatus::Failed => "failed",
        }
    }
}

impl FromStr for PostStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        [
            PostStatus::Sending,
            PostStatus::Sent,
            PostStatus::Skipped,
            PostStatus::Unknown,
            PostStatus::Failed,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| StoreError::Corrupt(format!("post status `{s}`")))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct PostRow {
    pub id: i64,
    pub occurrence_id: i64,
    pub room: String,
    pub kind: PostKind,
    pub seq: i64,
    pub body: String,
    pub question_text: Option<String>,
    pub due_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub late: bool,
    pub status: PostStatus,
    pub network_id: Option<String>,
}

/// A post about to be sent.
#[derive(Clone, Debug)]
pub struct NewPost<'a> {
    pub occurrence_id: i64,
    pub room: &'a str,
    pub kind: PostKind,
    pub seq: i64,
    pub body: &'a str,
    pub question_text: Option<&'a str>,
    pub due_at: DateTime<Utc>,
    pub late: bool,
    pub status: PostStatus,
}

/// A reply ready to be stored.
#[derive(Clone, Debug)]
pub struct NewReply {
    pub occurrence_id: i64,
    pub network: String,
    pub room: String,
    pub sender_id: String,
    pub sender_name: String,
    pub body: String,
    pub question: Option<u32>,
    pub attributed_by: &'static str,
    pub network_id: String,
    pub server_ts: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
}

/// One write in a batch.
#[derive(Clone, Debug)]
pub enum WriteOp {
    Insert(NewReply),
    /// A new body; `question` is `Some` when the edit carries a new answer tag.
    Edit {
        network: String,
        room: String,
        target: String,
        body: String,
        question: Option<u32>,
        at: DateTime<Utc>,
    },
    Delete {
        network: String,
        room: String,
        target: String,
        at: DateTime<Utc>,
    },
    /// Nothing to write, but the event's cursor must still be saved in order.
    Nothing,
}

/// A reply as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplyRow {
    pub id: i64,
    pub network: String,
    pub room: String,
    pub sender_id: String,
    pub sender_name: String,
    pub body: String,
    pub question: Option<u32>,
    pub attributed_by: String,
    pub network_id: String,
    pub server_ts: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
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
    })
}

fn post_row(r: &sqlx::sqlite::SqliteRow) -> Result<PostRow> {
    Ok(PostRow {
        id: r.try_get("id")?,
        occurrence_id: r.try_get("occurrence_id")?,
        room: r.try_get("room")?,
        kind: r.try_get::<String, _>("kind")?.parse()?,
        seq: r.try_get("seq")?,
        body: r.try_get("body")?,
        question_text: r.try_get("question_text")?,
        due_at: parse_ts(&r.try_get::<String, _>("due_at")?)?,
        sent_at: opt_ts(r.try_get("sent_at")?)?,
        late: r.try_get::<i64, _>("late")? != 0,
        status: r.try_get::<String, _>("status")?.parse()?,
        network_id: r.try_get("network_id")?,
    })
}

fn reply_row(r: &sqlx::sqlite::SqliteRow) -> Result<ReplyRow> {
    Ok(ReplyRow {
        id: r.try_get("id")?,
        network: r.try_get("network")?,
        room: r.try_get("room")?,
        sender_id: r.try_get("sender_id")?,
        sender_name: r.try_get("sender_name")?,
        body: r.try_get("body")?,
        question: r
            .try_get::<Option<i64>, _>("question")?
            .and_then(|q| u32::try_from(q).ok()),
        attributed_by: r.try_get("attributed_by")?,
        network_id: r.try_get("network_id")?,
        server_ts: opt_ts(r.try_get("server_ts")?)?,
        received_at: parse_ts(&r.try_get::<String, _>("received_at")?)?,
        edited_at: opt_ts(r.try_get("edited_at")?)?,
        deleted_at: opt_ts(r.try_get("deleted_at")?)?,
    })
}

/// Rows per multi-row INSERT: 12 parameters each, well under SQLite's limit.
const INSERT_ROWS: usize = 64;

async fn insert_replies<'a>(
    conn: &mut SqliteConnection,
    rows: impl Iterator<Item = &'a NewReply>,
) -> Result<()> {
    let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
        "INSERT INTO replies (occurrence_id, network, room, sender_id, sender_name, \
         original_body, body, question, attributed_by, network_id, server_ts, received_at) ",
    );
    q.push_values(rows, |mut b, r| {
        b.push_bind(r.occurrence_id)
            .push_bind(r.network.as_str())
            .push_bind(r.room.as_str())
            .push_bind(r.sender_id.as_str())
            .push_bind(r.sender_name.as_str())
            .push_bind(r.body.as_str())
            .push_bind(r.body.as_str())
            .push_bind(r.question.map(i64::from))
            .push_bind(r.attributed_by)
            .push_bind(r.network_id.as_str())
            .push_bind(r.server_ts.map(ts))
            .push_bind(ts(r.received_at));
    });
    q.push(" ON CONFLICT (network, room, network_id) DO NOTHING");
    q.build().execute(conn).await?;
    Ok(())
}

const OCC_COLS: &str = "id, debate, scheduled_start, title, timezone, shift_seconds, ended_at, \
                        rehearsal, clock_real_base, clock_speed";
const POST_COLS: &str = "id, occurrence_id, room, kind, seq, body, question_text, due_at, \
                         sent_at, late, status, network_id";

impl Store {
    /// Opens (creating if needed) `DATA_DIR/podium.db` and migrates it.
    ///
    /// # Errors
    /// The directory or database cannot be created, or a migration fails.
    pub async fn open(data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join("podium.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // In WAL mode NORMAL loses at most the last transactions on power
            // loss, never consistency; a committed batch survives a crash of
            // the process, which is what acknowledgements promise.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(StdDuration::from_secs(10));
        Self::connect(options).await
    }

    /// A private in-memory database, for tests and benchmarks.
    ///
    /// # Errors
    /// As [`Store::open`].
    pub async fn open_memory() -> Result<Store> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        Self::connect(options).await
    }

    async fn connect(options: SqliteConnectOptions) -> Result<Store> {
        let mut conn = options.connect().await?;
        MIGRATOR.run(&mut conn).await?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Finds or creates the occurrence `(debate, scheduled_start)`.
    ///
    /// # Errors
    /// Database failures.
    pub async fn occurrence(
        &self,
        debate: &str,
        scheduled_start: DateTime<Utc>,
        title: &str,
        timezone: &str,
        rehearsal_clock: Option<(DateTime<Utc>, f64)>,
        now: DateTime<Utc>,
    ) -> Result<OccurrenceRow> {
        sqlx::query(
            "INSERT INTO occurrences (debate, scheduled_start, title, timezone, rehearsal, \
             clock_real_base, clock_speed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (debate, scheduled_start) DO NOTHING",
        )
        .bind(debate)
        .bind(ts(scheduled_start))
        .bind(title)
        .bind(timezone)
        .bind(i64::from(rehearsal_clock.is_some()))
        .bind(rehearsal_clock.map(|(b, _)| ts(b)))
        .bind(rehearsal_clock.map(|(_, s)| s))
        .bind(ts(now))
        .execute(&mut *self.conn.lock().await)
        .await?;
        self.find_occurrence(debate, scheduled_start)
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
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {OCC_COLS} FROM occurrences WHERE debate = ? AND scheduled_start = ?"
        )))
        .bind(debate)
        .bind(ts(scheduled_start))
        .fetch_optional(&mut *self.conn.lock().await)
        .await?;
        row.as_ref().map(occurrence_row).transpose()
    }

    /// Occurrences of a debate, newest first.
    ///
    /// # Errors
    /// Database failures.
    pub async fn occurrences_of(&self, debate: &str) -> Result<Vec<OccurrenceRow>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {OCC_COLS} FROM occurrences WHERE debate = ? ORDER BY scheduled_start DESC"
        )))
        .bind(debate)
        .fetch_all(&mut *self.conn.lock().await)
        .await?;
        rows.iter().map(occurrence_row).collect()
    }

    /// The most recent rehearsal of `debate`: `podium rehearse` resumes it
    /// unless its transcript was written.
    ///
    /// # Errors
    /// Database failures.
    pub async fn latest_rehearsal(&self, debate: &str) -> Result<Option<OccurrenceRow>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {OCC_COLS} FROM occurrences WHERE debate = ? AND rehearsal = 1 \
             ORDER BY scheduled_start DESC LIMIT 1"
        )))
        .bind(debate)
        .fetch_optional(&mut *self.conn.lock().await)
        .await?;
        row.as_ref().map(occurrence_row).transpose()
    }

    /// # Errors
    /// Database failures.
    pub async fn set_shift(&self, occurrence_id: i64, seconds: i64) -> Result<()> {
        sqlx::query("UPDATE occurrences SET shift_seconds = ? WHERE id = ?")
            .bind(seconds)
            .bind(occurrence_id)
            .execute(&mut *self.conn.lock().await)
            .await?;
        Ok(())
    }

    /// # Errors
    /// Database failures.
    pub async fn set_ended(&self, occurrence_id: i64, at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE occurrences SET ended_at = ? WHERE id = ? AND ended_at IS NULL")
            .bind(ts(at))
            .bind(occurrence_id)
            .execute(&mut *self.conn.lock().await)
            .await?;
        Ok(())
    }

    /// Every post of an occurrence, in the order they were due.
    ///
    /// # Errors
    /// Database failures.
    pub async fn posts(&self, occurrence_id: i64) -> Result<Vec<PostRow>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {POST_COLS} FROM posts WHERE occurrence_id = ? ORDER BY due_at, id"
        )))
        .bind(occurrence_id)
        .fetch_all(&mut *self.conn.lock().await)
        .await?;
        rows.iter().map(post_row).collect()
    }

    /// Records a post before it is sent. Returns the new row, or the
    /// existing one when this item was already claimed: the unique key is
    /// what guarantees a question is never posted twice.
    ///
    /// # Errors
    /// Database failures.
    pub async fn claim_post(&self, post: &NewPost<'_>) -> Result<(PostRow, bool)> {
        let inserted = sqlx::query(
            "INSERT INTO posts (occurrence_id, room, kind, seq, body, question_text, due_at, \
             late, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (occurrence_id, room, kind, seq) DO NOTHING",
        )
        .bind(post.occurrence_id)
        .bind(post.room)
        .bind(post.kind.as_str())
        .bind(post.seq)
        .bind(post.body)
        .bind(post.question_text)
        .bind(ts(post.due_at))
        .bind(i64::from(post.late))
        .bind(post.status.as_str())
        .execute(&mut *self.conn.lock().await)
        .await?
        .rows_affected()
            == 1;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {POST_COLS} FROM posts WHERE occurrence_id = ? AND room = ? AND kind = ? \
             AND seq = ?"
        )))
        .bind(post.occurrence_id)
        .bind(post.room)
        .bind(post.kind.as_str())
        .bind(post.seq)
        .fetch_one(&mut *self.conn.lock().await)
        .await?;
        Ok((post_row(&row)?, inserted))
    }

    /// # Errors
    /// Database failures.
    pub async fn mark_sent(
        &self,
        post_id: i64,
        sent_at: DateTime<Utc>,
        network_id: &str,
    ) -> Result<()> {
        sqlx::query("UPDATE posts SET status = 'sent', sent_at = ?, network_id = ? WHERE id = ?")
            .bind(ts(sent_at))
            .bind(network_id)
            .bind(post_id)
            .execute(&mut *self.conn.lock().await)
            .await?;
        Ok(())
    }

    /// # Errors
    /// Database failures.
    pub async fn mark_status(&self, post_id: i64, status: PostStatus) -> Result<()> {
        sqlx::query("UPDATE posts SET status = ? WHERE id = ?")
            .bind(status.as_str())
            .bind(post_id)
            .execute(&mut *self.conn.lock().await)
            .await?;
        Ok(())
    }

    /// Writes a batch of reply operations and, in the same transaction, the
    /// cursor that covers them. Returns how many rows each op touched.
    ///
    /// # Errors
    /// Database failures; then nothing of the batch is written.
    pub async fn write_batch(&self, ops: &[WriteOp], cursors: &[Cursor]) -> Result<Vec<u64>> {
        let mut conn = self.conn.lock().await;
        let mut tx = conn.begin().await?;
        let mut touched = Vec::with_capacity(ops.len());
        let mut i = 0;
        while i < ops.len() {
            // Runs of new replies go in multi-row statements: far fewer
            // round trips to SQLite's thread than one statement per row.
            let run = ops[i..]
                .iter()
                .take(INSERT_ROWS)
                .take_while(|op| matches!(op, WriteOp::Insert(_)))
                .count();
            if run > 0 {
                insert_replies(
                    &mut tx,
                    ops[i..i + run].iter().filter_map(|op| match op {
                        WriteOp::Insert(r) => Some(r),
                        _ => None,
                    }),
                )
                .await?;
                touched.extend(std::iter::repeat_n(1, run));
                i += run;
                continue;
            }
            let op = &ops[i];
            i += 1;
            let n = match op {
                WriteOp::Insert(_) => 0,
                WriteOp::Edit {
                    network,
                    room,
                    target,
                    body,
                    question,
                    at,
                } => sqlx::query(
                    "UPDATE replies SET body = ?, edited_at = ?, \
                     question = CASE WHEN ? IS NULL THEN question ELSE ? END, \
                     attributed_by = CASE WHEN ? IS NULL THEN attributed_by ELSE 'tag' END \
                     WHERE network = ? AND room = ? AND network_id = ?",
                )
                .bind(body)
                .bind(ts(*at))
                .bind(question.map(i64::from))
                .bind(question.map(i64::from))
                .bind(question.map(i64::from))
                .bind(network)
                .bind(room)
                .bind(target)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
                WriteOp::Delete {
                    network,
                    room,
                    target,
                    at,
                } => sqlx::query(
                    "UPDATE replies SET deleted_at = ? \
                     WHERE network = ? AND room = ? AND network_id = ? AND deleted_at IS NULL",
                )
                .bind(ts(*at))
                .bind(network)
                .bind(room)
                .bind(target)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
                WriteOp::Nothing => 0,
            };
            touched.push(n);
        }
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
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(touched)
    }

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
        Ok(sqlx::query(
            "INSERT INTO handled_commands (network, room, network_id, handled_at) \
             VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(network)
        .bind(room)
        .bind(network_id)
        .bind(ts(at))
        .execute(&mut *self.conn.lock().await)
        .await?
        .rows_affected()
            == 1)
    }

    /// Where `network` resumes from.
    ///
    /// # Errors
    /// Database failures.
    pub async fn cursor(&self, network: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT position FROM cursors WHERE network = ?")
                .bind(network)
                .fetch_optional(&mut *self.conn.lock().await)
                .await?,
        )
    }

    /// Replies of an occurrence in the order they were received, deleted
    /// ones included (the caller decides whether to show them).
    ///
    /// # Errors
    /// Database failures.
    pub async fn replies(&self, occurrence_id: i64) -> Result<Vec<ReplyRow>> {
        let rows = sqlx::query(
            "SELECT id, network, room, sender_id, sender_name, body, question, attributed_by, \
             network_id, server_ts, received_at, edited_at, deleted_at FROM replies \
             WHERE occurrence_id = ? ORDER BY received_at, id",
        )
        .bind(occurrence_id)
        .fetch_all(&mut *self.conn.lock().await)
        .await?;
        rows.iter().map(reply_row).collect()
    }

    /// The question each stored reply in `room` is attributed to, by the
    /// network's message id: replies to a reply join its question.
    ///
    /// # Errors
    /// Database failures.
    pub async fn reply_questions(
        &self,
        occurrence_id: i64,
        room: &str,
    ) -> Result<Vec<(String, Option<u32>)>> {
        let rows = sqlx::query(
            "SELECT network_id, question FROM replies WHERE occurrence_id = ? AND room = ?",
        )
        .bind(occurrence_id)
        .bind(room)
        .fetch_all(&mut *self.conn.lock().await)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("network_id")?,
                    r.try_get::<Option<i64>, _>("question")?
                        .and_then(|q| u32::try_from(q).ok()),
                ))
            })
            .collect()
    }
}
