//! The store: the only place with SQL. SQLite in WAL mode, schema in
//! `migrations/`, applied at start. Unique keys make posting idempotent;
//! replies are written in batches, each batch in one transaction together
//! with the network cursor that covers it.

mod codec;
mod erase;
mod lock;
mod occurrences;
mod posts;
mod presence;
mod private;
mod progress;
mod replies;
mod room_log;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};
// Dynamic SQL here only splices a page count, never input.
use sqlx::AssertSqlSafe;
use tokio::sync::{Mutex, MutexGuard};

pub use self::codec::{parse_ts, ts};
pub use self::lock::{DataDirLock, LOCK_FILE};
pub use self::occurrences::{NewOccurrence, OccurrenceRow};
pub use self::posts::{NewPost, PostRow};
pub use self::presence::{MIN_ABSENCE, PRESENCE_EVERY};
pub use self::private::{create_private_dir, keep_new_files_private, private_file, write_private};
pub use self::replies::{NewReply, ReplyRow, StoredReply, WriteOp};
pub use self::room_log::{HistoryLine, LOG_BEFORE, LogLine};
use crate::domain::UnknownName;
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
    #[error("cannot make {} readable by its owner only: {cause}", path.display())]
    Private {
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

/// A cheap handle on the database; clone it freely.
///
/// The writer is one connection behind an async mutex rather than a pool:
/// SQLite takes one writer at a time anyway, and sqlx's pool guards every
/// acquire with a timer, which tokio's paused time in tests fires at once.
/// Nothing here waits on a timer, so whole debates run under paused time.
/// Readers (the web pages) get several read-only connections the same way,
/// so pages never wait on the engine's writes nor on each other.
#[derive(Clone, Debug)]
pub struct Store {
    dbs: Arc<[Mutex<Db>]>,
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

impl Store {
    /// Opens (creating if needed) `DATA_DIR/podium.db`, locks the directory
    /// for this process and migrates the database. The directory is made
    /// owner-only, and so are the database and its companions (see
    /// [`private`]).
    ///
    /// # Errors
    /// The directory or database cannot be created, another process holds
    /// the directory, or a migration fails.
    pub async fn open(data_dir: &Path) -> Result<Store> {
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
        Ok(Store::new(read_only_db(data_dir).await?))
    }

    /// `connections` read-only connections, for readers that should not
    /// wait on each other (the web pages).
    ///
    /// # Errors
    /// As [`Store::open_read_only`].
    pub async fn open_readers(data_dir: &Path, connections: usize) -> Result<Store> {
        let mut dbs = Vec::with_capacity(connections.max(1));
        for _ in 0..connections.max(1) {
            dbs.push(Mutex::new(read_only_db(data_dir).await?));
        }
        Ok(Store { dbs: dbs.into() })
    }
}

/// One read-only connection to `DATA_DIR/podium.db`.
async fn read_only_db(data_dir: &Path) -> Result<Db> {
    {
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
        Ok(Db {
            conn,
            options,
            broken: false,
            _keeper: None,
            _lock: None,
        })
    }
}

impl Store {
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
            dbs: Arc::new([Mutex::new(db)]),
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
        Ok(Conn(db))
    }
}
