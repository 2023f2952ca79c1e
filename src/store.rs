//! The store: the only place with SQL. SQLite in WAL mode, schema in
//! `migrations/`, applied at start. Unique keys make posting idempotent;
//! replies are written in batches, each batch in one transaction together
//! with the network cursor that covers it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{Mutex, MutexGuard};
// Dynamic SQL here only splices the fixed column lists below, never input.
use sqlx::{AssertSqlSafe, Row, migrate::Migrator};

use crate::domain::{Cursor, UnknownName};
pub use crate::domain::{PostKind, PostStatus};

/// Embedded migrations, applied by [`Store::open`].
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Store failures. Each message names what failed and where, once: the
/// underlying error is part of the message, not a separate `source`, so
/// `{:#}` chains never print it twice.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    // Not called `source`: thiserror would make the field the error's
    // source too, and `{:#}` would print it twice.
    #[error("cannot create the data directory {}: {cause}", path.display())]
    DataDir {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "the data directory {} is in use by another Podium ({holder}); stop it first, \
         or give this one another --data-dir",
        dir.display()
    )]
    Locked { dir: PathBuf, holder: String },
    #[error("cannot lock the data directory {}: {cause}", dir.display())]
    Lock { dir: PathBuf, cause: std::io::Error },
    #[error("no database in {} (set --data-dir or PODIUM_DATA_DIR)", dir.display())]
    Missing { dir: PathBuf },
    #[error(
        "the database in {} was written by an older Podium and has not been upgraded yet: \
         start `podium run` (or `podium rehearse`) once with this version to upgrade it",
        dir.display()
    )]
    Outdated { dir: PathBuf },
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("cannot apply the database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt value in the database: {0}")]
    Corrupt(String),
}

impl From<UnknownName> for StoreError {
    fn from(e: UnknownName) -> Self {
        StoreError::Corrupt(e.to_string())
    }
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
    db: Arc<Mutex<Db>>,
}

#[derive(Debug)]
struct Db {
    conn: SqliteConnection,
    options: SqliteConnectOptions,
    /// Set when an operation failed. A failure can leave the connection
    /// believing it is inside a transaction that SQLite has already rolled
    /// back (a full disk at COMMIT does this): every later "commit" would
    /// then only release a savepoint and nothing would reach the disk. So
    /// the next operation starts on a fresh connection instead, as a pool
    /// would, and the old one is closed (which rolls back whatever it held).
    broken: bool,
    /// An in-memory database lives as long as one connection to it does.
    _keeper: Option<SqliteConnection>,
    /// Held by a writable store on a data directory: one writer at a time.
    _lock: Option<DataDirLock>,
}

/// The connection for one operation. [`Conn::check`] marks it broken when
/// the operation failed, so the next one reconnects.
struct Conn<'a>(MutexGuard<'a, Db>);

impl Conn<'_> {
    fn c(&mut self) -> &mut SqliteConnection {
        &mut self.0.conn
    }

    fn check<T, E: Into<StoreError>>(&mut self, r: std::result::Result<T, E>) -> Result<T> {
        r.map_err(|e| {
            self.0.broken = true;
            e.into()
        })
    }
}

/// An exclusive lock on a data directory, held while a store writes to it:
/// two rehearsals (or a rehearsal and `podium run`) on one directory would
/// split one debate's posts between them. The operating system releases it
/// when the process ends, however it ends.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// The lock file in a data directory; it holds the owner's pid and command.
pub const LOCK_FILE: &str = "podium.lock";

impl DataDirLock {
    /// Takes the lock on `dir` (which must exist), or says who holds it.
    ///
    /// # Errors
    /// [`StoreError::Locked`] when another process holds it.
    pub fn acquire(dir: &Path) -> Result<DataDirLock> {
        let lock_err = |cause| StoreError::Lock {
            dir: dir.to_owned(),
            cause,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))
            .map_err(lock_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(StoreError::Locked {
                    dir: dir.to_owned(),
                    holder: if holder.is_empty() {
                        "another process".to_owned()
                    } else {
                        holder.to_owned()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(lock_err(e)),
        }
        // Who holds it, for the message a second process prints.
        let me = format!(
            "process {}: {}",
            std::process::id(),
            std::env::args().collect::<Vec<_>>().join(" ")
        );
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(me.as_bytes()))
            .and_then(|()| file.flush())
            .map_err(lock_err)?;
        Ok(DataDirLock { _file: file })
    }
}

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
        questions: match r.try_get::<Option<String>, _>("questions")? {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("question texts `{json}`: {e}")))?,
            None => Vec::new(),
        },
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

/// The newest migration applied to a database.
async fn applied_version(conn: &mut SqliteConnection) -> std::result::Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success")
        .fetch_one(conn)
        .await
}

/// SQLite's "unable to open database file" (`SQLITE_CANTOPEN`), the
/// error a WAL database gives when its index cannot be created.
fn is_cannot_open(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        // Extended codes keep the primary code in their low byte.
        .and_then(|code| code.parse::<i64>().ok())
        .is_some_and(|code| code & 0xff == 14)
}

const OCC_COLS: &str = "id, debate, scheduled_start, title, timezone, shift_seconds, ended_at, \
                        rehearsal, clock_real_base, clock_speed, questions";
const POST_COLS: &str = "id, occurrence_id, room, kind, seq, body, question_text, due_at, \
                         sent_at, late, status, network_id";

impl Store {
    /// Opens (creating if needed) `DATA_DIR/podium.db`, locks the directory
    /// for this process and migrates the database.
    ///
    /// # Errors
    /// The directory or database cannot be created, another process holds
    /// the directory, or a migration fails.
    pub async fn open(data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|cause| StoreError::DataDir {
            path: data_dir.to_owned(),
            cause,
        })?;
        let lock = DataDirLock::acquire(data_dir)?;
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
        let mut conn = options.connect().await?;
        MIGRATOR.run(&mut conn).await?;
        Ok(Store::new(Db {
            conn,
            options,
            broken: false,
            _keeper: None,
            _lock: Some(lock),
        }))
    }

    /// Opens `DATA_DIR/podium.db` for reading only, without the lock: for
    /// `podium transcript` beside a running Podium, or on a read-only copy.
    ///
    /// # Errors
    /// No database there, one not yet upgraded to this version, or SQLite
    /// failures.
    pub async fn open_read_only(data_dir: &Path) -> Result<Store> {
        let path = data_dir.join("podium.db");
        if !path.is_file() {
            return Err(StoreError::Missing {
                dir: data_dir.to_owned(),
            });
        }
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .read_only(true)
            .busy_timeout(StdDuration::from_secs(10));
        let mut conn = options.connect().await?;
        // A WAL database needs its `-shm` index; on a read-only copy made
        // after a clean stop it is gone and cannot be created. Nothing can
        // be writing to such a copy, so it is read as an immutable file.
        let options = match applied_version(&mut conn).await {
            Ok(_) => options,
            Err(e) if is_cannot_open(&e) => {
                drop(conn);
                let options = options.immutable(true);
                conn = options.connect().await?;
                options
            }
            Err(e) => return Err(e.into()),
        };
        let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        if applied_version(&mut conn).await? < latest {
            return Err(StoreError::Outdated {
                dir: data_dir.to_owned(),
            });
        }
        Ok(Store::new(Db {
            conn,
            options,
            broken: false,
            _keeper: None,
            _lock: None,
        }))
    }

    /// A private in-memory database, for tests and benchmarks.
    ///
    /// # Errors
    /// As [`Store::open`].
    pub async fn open_memory() -> Result<Store> {
        // `sqlite::memory:` names a fresh shared-cache database, so a
        // reconnect after a failure reaches the same data while the keeper
        // connection holds it open.
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        let keeper = options.connect().await?;
        let mut conn = options.connect().await?;
        MIGRATOR.run(&mut conn).await?;
        Ok(Store::new(Db {
            conn,
            options,
            broken: false,
            _keeper: Some(keeper),
            _lock: None,
        }))
    }

    fn new(db: Db) -> Store {
        Store {
            db: Arc::new(Mutex::new(db)),
        }
    }

    /// Makes the database "full" at `pages` pages (`None`: SQLite's maximum),
    /// as a full disk would, for tests of what happens then. The limit
    /// stays across reconnects until changed.
    ///
    /// # Errors
    /// Database failures.
    #[doc(hidden)]
    pub async fn set_max_pages(&self, pages: Option<u32>) -> Result<()> {
        // SQLite's own ceiling, 2^32 - 2 pages.
        let pages = pages.map_or(4_294_967_294, u64::from);
        let mut c = self.conn().await?;
        c.0.options =
            c.0.options
                .clone()
                .pragma("max_page_count", pages.to_string());
        let r = sqlx::query(AssertSqlSafe(format!("PRAGMA max_page_count = {pages}")))
            .execute(c.c())
            .await;
        c.check(r)?;
        Ok(())
    }

    /// The connection for one operation: a fresh one if the last failed.
    async fn conn(&self) -> Result<Conn<'_>> {
        let mut db = self.db.lock().await;
        if db.broken {
            let fresh = db.options.connect().await?;
            let old = std::mem::replace(&mut db.conn, fresh);
            // Closed before anything else runs, so a transaction it still
            // holds cannot keep the new connection waiting.
            if let Err(e) = old.close().await {
                tracing::debug!(cause = %e, "closing the failed database connection");
            }
            db.broken = false;
            tracing::info!("reopened the database connection after a failure");
        }
        Ok(Conn(db))
    }

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

    /// Every post of an occurrence, in the order they were due.
    ///
    /// # Errors
    /// Database failures.
    pub async fn posts(&self, occurrence_id: i64) -> Result<Vec<PostRow>> {
        let mut c = self.conn().await?;
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {POST_COLS} FROM posts WHERE occurrence_id = ? ORDER BY due_at, id"
        )))
        .bind(occurrence_id)
        .fetch_all(c.c())
        .await;
        let rows = c.check(r)?;
        rows.iter().map(post_row).collect()
    }

    /// Records a post before it is sent. Returns the new row, or the
    /// existing one when this item was already claimed: the unique key is
    /// what guarantees a question is never posted twice.
    ///
    /// # Errors
    /// Database failures.
    pub async fn claim_post(&self, post: &NewPost<'_>) -> Result<(PostRow, bool)> {
        let mut c = self.conn().await?;
        let r = sqlx::query(
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
        .execute(c.c())
        .await;
        let inserted = c.check(r)?.rows_affected() == 1;
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {POST_COLS} FROM posts WHERE occurrence_id = ? AND room = ? AND kind = ? \
             AND seq = ?"
        )))
        .bind(post.occurrence_id)
        .bind(post.room)
        .bind(post.kind.as_str())
        .bind(post.seq)
        .fetch_one(c.c())
        .await;
        let row = c.check(r)?;
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
        let mut c = self.conn().await?;
        let r = sqlx::query(
            "UPDATE posts SET status = 'sent', sent_at = ?, network_id = ? WHERE id = ?",
        )
        .bind(ts(sent_at))
        .bind(network_id)
        .bind(post_id)
        .execute(c.c())
        .await;
        c.check(r)?;
        Ok(())
    }

    /// # Errors
    /// Database failures.
    pub async fn mark_status(&self, post_id: i64, status: PostStatus) -> Result<()> {
        let mut c = self.conn().await?;
        let r = sqlx::query("UPDATE posts SET status = ? WHERE id = ?")
            .bind(status.as_str())
            .bind(post_id)
            .execute(c.c())
            .await;
        c.check(r)?;
        Ok(())
    }

    /// Writes a batch of reply operations and, in the same transaction, the
    /// cursor that covers them. Returns how many rows each op touched.
    ///
    /// # Errors
    /// Database failures; then nothing of the batch is written.
    pub async fn write_batch(&self, ops: &[WriteOp], cursors: &[Cursor]) -> Result<Vec<u64>> {
        let mut c = self.conn().await?;
        let r = write_batch_in(c.c(), ops, cursors).await;
        c.check(r)
    }
}

async fn write_batch_in(
    conn: &mut SqliteConnection,
    ops: &[WriteOp],
    cursors: &[Cursor],
) -> Result<Vec<u64>> {
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

impl Store {
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
        let mut c = self.conn().await?;
        let r = sqlx::query(
            "INSERT INTO handled_commands (network, room, network_id, handled_at) \
             VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(network)
        .bind(room)
        .bind(network_id)
        .bind(ts(at))
        .execute(c.c())
        .await;
        Ok(c.check(r)?.rows_affected() == 1)
    }

    /// Where `network` resumes from.
    ///
    /// # Errors
    /// Database failures.
    pub async fn cursor(&self, network: &str) -> Result<Option<String>> {
        let mut c = self.conn().await?;
        let r = sqlx::query_scalar("SELECT position FROM cursors WHERE network = ?")
            .bind(network)
            .fetch_optional(c.c())
            .await;
        c.check(r)
    }

    /// Replies of an occurrence in the order they were received, deleted
    /// ones included (the caller decides whether to show them).
    ///
    /// # Errors
    /// Database failures.
    pub async fn replies(&self, occurrence_id: i64) -> Result<Vec<ReplyRow>> {
        let mut c = self.conn().await?;
        let r = sqlx::query(
            "SELECT id, network, room, sender_id, sender_name, body, question, attributed_by, \
             network_id, server_ts, received_at, edited_at, deleted_at FROM replies \
             WHERE occurrence_id = ? ORDER BY received_at, id",
        )
        .bind(occurrence_id)
        .fetch_all(c.c())
        .await;
        let rows = c.check(r)?;
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
        let mut c = self.conn().await?;
        let r = sqlx::query(
            "SELECT network_id, question FROM replies WHERE occurrence_id = ? AND room = ?",
        )
        .bind(occurrence_id)
        .bind(room)
        .fetch_all(c.c())
        .await;
        let rows = c.check(r)?;
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
