//! The SQLite backend: the default, one file in the data directory, in WAL
//! mode. One writer connection behind an async mutex rather than a pool:
//! SQLite takes one writer at a time anyway, and sqlx's pool guards every
//! acquire with a timer, which tokio's paused time in tests fires at once.
//! Nothing here waits on a timer, so whole debates run under paused time.
//! Readers (the web pages) get several read-only connections the same way,
//! so pages never wait on the engine's writes nor on each other.

// The store's statements, compiled for SQLite (see `sql/mod.rs`).
// Loaded once per backend on purpose (see `sql/mod.rs`).
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
pub(super) mod sql;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
// Dynamic SQL here only splices a page count, never input.
use sqlx::AssertSqlSafe;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Row as _};
use tokio::sync::{Mutex, MutexGuard};

use super::codec::{opt_ts, parse_ts};
use super::lock::DataDirLock;
use super::private::{create_private_dir, private_file};
use super::replies::{NewReply, insert_replies_head, insert_replies_tail};
use super::{Result, StoreError};

pub(super) type Conn = sqlx::SqliteConnection;
pub(super) type Row = sqlx::sqlite::SqliteRow;
pub(super) type Db = sqlx::Sqlite;

/// Rows per multi-row INSERT: 14 parameters each, well under SQLite's limit
/// of 32,766 and small enough that a batch's statements stay few and cached.
pub(super) const INSERT_ROWS: usize = 64;

/// The SQLite schema's migrations, embedded and applied at open.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Times are fixed-width UTC text, so they sort and compare as strings.
pub(super) fn ts(t: DateTime<Utc>) -> String {
    super::codec::ts(t)
}

pub(super) fn get_ts(r: &Row, column: &str) -> Result<DateTime<Utc>> {
    parse_ts(&r.try_get::<String, _>(column)?)
}

pub(super) fn get_opt_ts(r: &Row, column: &str) -> Result<Option<DateTime<Utc>>> {
    opt_ts(r.try_get(column)?)
}

/// New replies in one multi-row `VALUES` statement; one already stored
/// (the same network event) is met as the statement's tail says.
pub(super) async fn insert_replies(conn: &mut Conn, rows: &[&NewReply]) -> Result<()> {
    let mut q = sqlx::QueryBuilder::<Db>::new(concat!(insert_replies_head!(), " "));
    q.push_values(rows, |mut b, r| {
        b.push_bind(r.occurrence_id)
            .push_bind(r.network.as_str())
            .push_bind(r.room.as_str())
            .push_bind(r.sender_id.as_str())
            .push_bind(r.sender_name.as_str())
            .push_bind(r.body.as_str())
            .push_bind(r.body.as_str())
            .push_bind(r.question.map(i64::from))
            .push_bind(r.attributed_by.as_str())
            .push_bind(r.network_id.as_str())
            .push_bind(r.in_reply_to.as_deref())
            .push_bind(r.server_ts.map(ts))
            .push_bind(ts(r.received_at))
            .push_bind(r.action)
            .push_bind(r.led);
    });
    q.push(insert_replies_tail!());
    q.build().execute(conn).await?;
    Ok(())
}

/// The SQLite text of a statement whose SQL differs between backends.
pub(super) fn pick(sqlite: &'static str, _postgres: &'static str) -> &'static str {
    sqlite
}

/// After text was erased: the WAL checkpointed and truncated, so the page
/// versions from before the erasure are gone (see `erase`).
pub(super) async fn after_erase(conn: &mut Conn) -> Result<()> {
    super::erase::checkpoint(conn).await
}

/// The connections of a store on SQLite: the writer, or several readers.
#[derive(Debug)]
pub(super) struct Sqlite {
    dbs: Arc<[Mutex<Db1>]>,
}

/// One connection.
#[derive(Debug)]
struct Db1 {
    conn: Conn,
    options: SqliteConnectOptions,
    /// Set when an operation failed. A failure can leave the connection
    /// believing it is inside a transaction that SQLite has already rolled
    /// back (a full disk at COMMIT does this): every later "commit" would
    /// then only release a savepoint and nothing would reach the disk. So
    /// the next operation starts on a fresh connection instead, as a pool
    /// would, and the old one is closed (which rolls back whatever it held).
    broken: bool,
    /// An in-memory database lives as long as one connection to it does.
    _keeper: Option<Conn>,
    /// Held by a writable store on a data directory: one writer at a time.
    _lock: Option<DataDirLock>,
}

/// The connection for one operation. [`Guard::check`] marks it broken when
/// the operation failed, so the next one reconnects.
pub(super) struct Guard<'a>(MutexGuard<'a, Db1>);

impl Guard<'_> {
    pub(super) fn c(&mut self) -> &mut Conn {
        &mut self.0.conn
    }

    pub(super) fn check<T>(&mut self, r: Result<T>) -> Result<T> {
        if r.is_err() {
            self.0.broken = true;
        }
        r
    }
}

/// The newest migration applied to a database.
async fn applied_version(conn: &mut Conn) -> std::result::Result<i64, sqlx::Error> {
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

impl Sqlite {
    fn one(db: Db1) -> Sqlite {
        Sqlite {
            dbs: Arc::new([Mutex::new(db)]),
        }
    }

    /// Opens (creating if needed) `DATA_DIR/podium.db`, locks the directory
    /// for this process and migrates the database. The directory is made
    /// owner-only, and so are the database and its companions (see
    /// `private`).
    pub(super) async fn open(data_dir: &Path) -> Result<Sqlite> {
        create_private_dir(data_dir).map_err(|cause| StoreError::DataDir {
            path: data_dir.to_owned(),
            cause,
        })?;
        let lock = DataDirLock::acquire(data_dir)?;
        let db = data_dir.join("podium.db");
        for (name, create) in [
            ("podium.db", true),
            ("podium.db-wal", false),
            ("podium.db-shm", false),
        ] {
            private_file(&data_dir.join(name), create).map_err(|cause| StoreError::Private {
                path: data_dir.join(name),
                cause,
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(db)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // In WAL mode NORMAL loses at most the last transactions on power
            // loss, never consistency; a committed batch survives a crash of
            // the process, which is what acknowledgements promise.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Erased text is overwritten, not left in free space (see
            // `erase`).
            .pragma("secure_delete", "ON")
            .busy_timeout(StdDuration::from_secs(10));
        let mut conn = options.connect().await?;
        MIGRATOR.run(&mut conn).await?;
        Ok(Sqlite::one(Db1 {
            conn,
            options,
            broken: false,
            _keeper: None,
            _lock: Some(lock),
        }))
    }

    /// `connections` read-only connections to `DATA_DIR/podium.db`, without
    /// the lock: for `podium transcript` beside a running Podium, the web
    /// pages, or a read-only copy.
    pub(super) async fn open_readers(data_dir: &Path, connections: usize) -> Result<Sqlite> {
        let mut dbs = Vec::with_capacity(connections.max(1));
        for _ in 0..connections.max(1) {
            dbs.push(Mutex::new(read_only_db(data_dir).await?));
        }
        Ok(Sqlite { dbs: dbs.into() })
    }

    /// A private in-memory database, for tests and benchmarks.
    pub(super) async fn open_memory() -> Result<Sqlite> {
        // `sqlite::memory:` names a fresh shared-cache database, so a
        // reconnect after a failure reaches the same data while the keeper
        // connection holds it open.
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        let keeper = options.connect().await?;
        let mut conn = options.connect().await?;
        MIGRATOR.run(&mut conn).await?;
        Ok(Sqlite::one(Db1 {
            conn,
            options,
            broken: false,
            _keeper: Some(keeper),
            _lock: None,
        }))
    }

    /// Makes the database "full" at `pages` pages (`None`: SQLite's
    /// maximum), as a full disk would. The limit stays across reconnects.
    pub(super) async fn set_max_pages(&self, pages: Option<u32>) -> Result<()> {
        // SQLite's own ceiling, 2^32 - 2 pages.
        let pages = pages.map_or(4_294_967_294, u64::from);
        let mut c = self.conn().await?;
        c.0.options =
            c.0.options
                .clone()
                .pragma("max_page_count", pages.to_string());
        let r = sqlx::query(AssertSqlSafe(format!("PRAGMA max_page_count = {pages}")))
            .execute(c.c())
            .await
            .map_err(StoreError::from);
        c.check(r).map(drop)
    }

    /// The connection for one operation: a fresh one if the last failed.
    pub(super) async fn conn(&self) -> Result<Guard<'_>> {
        // A free connection if there is one, else wait for the first.
        let free = self.dbs.iter().find_map(|db| db.try_lock().ok());
        let mut db = match free {
            Some(db) => db,
            None => self.dbs[0].lock().await,
        };
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
        Ok(Guard(db))
    }
}

/// One read-only connection to `DATA_DIR/podium.db`.
async fn read_only_db(data_dir: &Path) -> Result<Db1> {
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
            what: format!("the database in {}", data_dir.display()),
        });
    }
    Ok(Db1 {
        conn,
        options,
        broken: false,
        _keeper: None,
        _lock: None,
    })
}
