//! The store: the only place with SQL. Two backends behind one type:
//! SQLite in the data directory (the default, nothing to set up) and
//! PostgreSQL (`database.url`). Each has its schema in
//! `migrations/<backend>/`, applied at start. Unique keys make posting
//! idempotent; replies are written in batches, each batch in one
//! transaction together with the network cursor that covers it.
//!
//! The shape: callers see one concrete [`Store`]; each public method is one
//! line, `run!`, that takes a connection from the backend in use and
//! calls the operation's function in `sql/`. Those functions are written
//! once and compiled once per backend (see `sql/mod.rs`), so the SQL of
//! both lives in one place, the few statements that must differ side by
//! side. The backends' own code (connections, locks, time encoding,
//! what an erasure needs) is in `sqlite.rs` and `postgres.rs`.

/// Runs one operation of `sql/<module>.rs` on the store's backend, on a
/// connection taken for it; a failure marks a SQLite connection for
/// reopening and is observed for PostgreSQL's outage log.
macro_rules! run {
    ($store:expr, $module:ident :: $func:ident ( $($arg:expr),* $(,)? )) => {
        match &*$store.backend {
            $crate::store::Backend::Sqlite(db) => {
                let mut c = db.conn().await?;
                let r = $crate::store::sqlite::sql::$module::$func(c.c(), $($arg),*).await;
                c.check(r)
            }
            $crate::store::Backend::Postgres(pg) => {
                let mut c = pg.conn().await?;
                let r = $crate::store::postgres::sql::$module::$func(&mut *c, $($arg),*).await;
                pg.observe(r)
            }
        }
    };
}

mod adhoc;
mod codec;
mod copy;
mod erase;
mod floor;
mod forget;
mod leases;
mod lock;
mod occurrences;
mod people;
mod postgres;
mod posts;
mod presence;
mod private;
mod progress;
mod replies;
mod room_log;
mod rsvp;
mod sqlite;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use self::adhoc::AdHocRow;
pub use self::codec::{parse_ts, ts};
pub use self::copy::Counts;
pub use self::floor::{NewProposal, ProposalRow, Proposed};
pub use self::forget::Holdings;
pub use self::leases::{LeaseRow, ReplicaRow, Tick, Ticked};
pub use self::lock::{DataDirLock, LOCK_FILE};
pub use self::occurrences::{NewOccurrence, OccurrenceRow, new_token};
pub use self::postgres::{PgOptions, redact};
pub use self::posts::{Fence, NewPost, PostRow};
pub use self::presence::{MIN_ABSENCE, PRESENCE_EVERY};
pub use self::private::{create_private_dir, keep_new_files_private, private_file, write_private};
pub use self::replies::{NewReply, ReplyRow, StoredReply, WriteOp};
pub use self::room_log::{HistoryLine, LOG_BEFORE, LogLine};
pub use self::rsvp::RsvpRow;
use crate::domain::UnknownName;
pub use crate::domain::{PostKind, PostStatus};

pub use self::sqlite::MIGRATOR;

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
        "{what} was written by an older Podium and has not been upgraded yet: \
         start `podium run` (or `podium rehearse`) once with this version to upgrade it"
    )]
    Outdated { what: String },
    #[error("cannot use the database at {url}: {cause}")]
    Connect { url: String, cause: String },
    #[error(
        "the database at {url} is in use by another Podium ({holder}); stop it first, or give \
         this one a database of its own"
    )]
    InUse { url: String, holder: String },
    #[error(
        "another live replica is running under the name {name:?}: give each replica its own \
         replicas.name (PODIUM_REPLICAS_NAME)"
    )]
    ReplicaName { name: String },
    #[error("{0} is not possible on this backend")]
    Unsupported(&'static str),
    #[error(
        "the target database is not empty ({table} has {rows} rows): copy into a new, empty \
         database"
    )]
    NotEmpty { table: &'static str, rows: i64 },
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

/// Where the store is: `url` unset is SQLite in the data directory;
/// `postgres://...` is PostgreSQL.
#[derive(Clone, Default)]
pub struct Database {
    pub url: Option<String>,
    /// Connections in PostgreSQL's pool.
    pub pool: u32,
}

/// Connections a PostgreSQL pool has unless configured: enough for the
/// engine, the reply writer and a page or two at once on two cores.
pub const DEFAULT_POOL: u32 = 4;

/// Never the password, whatever is printed.
impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("url", &self.url.as_deref().map(redact))
            .field("pool", &self.pool)
            .finish()
    }
}

impl Database {
    /// The PostgreSQL URL, if the store is there.
    #[must_use]
    pub fn postgres(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// Where it is, for logs: the data directory's file, or the URL
    /// without its password.
    #[must_use]
    pub fn shown(&self, data_dir: &Path) -> String {
        match self.postgres() {
            Some(url) => redact(url),
            None => data_dir.join("podium.db").display().to_string(),
        }
    }

    fn pg(&self, read_only: bool, writer: bool) -> PgOptions {
        PgOptions {
            replica: false,
            pool: if self.pool == 0 {
                DEFAULT_POOL
            } else {
                self.pool
            },
            read_only,
            writer,
        }
    }
}

/// A cheap handle on the database; clone it freely.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Arc<Backend>,
    /// The replica this handle writes for: its network cursors are its own
    /// ('' without replicas).
    replica: Arc<str>,
}

#[derive(Debug)]
enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

impl Store {
    fn with(backend: Backend) -> Store {
        Store {
            backend: Arc::new(backend),
            replica: Arc::from(""),
        }
    }

    /// The same store, writing for replica `name`: network cursors are
    /// kept per replica (a Matrix sync token belongs to one device).
    #[must_use]
    pub fn for_replica(&self, name: &str) -> Store {
        Store {
            backend: self.backend.clone(),
            replica: Arc::from(name),
        }
    }

    /// Opens (creating if needed) `DATA_DIR/podium.db`, locks the directory
    /// for this process and migrates the database. The directory is made
    /// owner-only, and so are the database and its companions (see
    /// [`private`]).
    ///
    /// # Errors
    /// The directory or database cannot be created, another process holds
    /// the directory, or a migration fails.
    pub async fn open(data_dir: &Path) -> Result<Store> {
        Ok(Store::with(Backend::Sqlite(
            sqlite::Sqlite::open(data_dir).await?,
        )))
    }

    /// The store for a writing Podium (`podium run`, rehearsals): on
    /// SQLite as [`Store::open`]; on PostgreSQL the data directory is
    /// still locked (it holds the Matrix session and keys) and the
    /// database too, one Podium per database.
    ///
    /// # Errors
    /// As [`Store::open`]; for PostgreSQL also [`StoreError::Connect`]
    /// (unreachable, refused, wrong password) and [`StoreError::InUse`].
    pub async fn open_at(db: &Database, data_dir: &Path) -> Result<Store> {
        Store::open_writer(db, data_dir, false).await
    }

    /// The store of one of several replicas (PostgreSQL only): as
    /// [`Store::open_at`], but the one-writer lock is shared among
    /// replicas, which coordinate through their leases.
    ///
    /// # Errors
    /// As [`Store::open_at`]; [`StoreError::Unsupported`] on SQLite.
    pub async fn open_replica_at(db: &Database, data_dir: &Path) -> Result<Store> {
        if db.postgres().is_none() {
            return Err(StoreError::Unsupported("replicas (they need PostgreSQL)"));
        }
        Store::open_writer(db, data_dir, true).await
    }

    async fn open_writer(db: &Database, data_dir: &Path, replica: bool) -> Result<Store> {
        let Some(url) = db.postgres() else {
            return Store::open(data_dir).await;
        };
        create_private_dir(data_dir).map_err(|cause| StoreError::DataDir {
            path: data_dir.to_owned(),
            cause,
        })?;
        let dir_lock = DataDirLock::acquire(data_dir)?;
        let mut o = db.pg(false, true);
        o.replica = replica;
        let pg = postgres::Postgres::open(url, &o).await?;
        // The directory stays locked while the store lives.
        Ok(Store::with(Backend::Postgres(pg.holding(dir_lock))))
    }

    /// Opens `DATA_DIR/podium.db` for reading only, without the lock: for
    /// `podium transcript` beside a running Podium, or on a read-only copy.
    ///
    /// # Errors
    /// No database there, one not yet upgraded to this version, or SQLite
    /// failures.
    pub async fn open_read_only(data_dir: &Path) -> Result<Store> {
        Store::open_readers(data_dir, 1).await
    }

    /// `connections` read-only connections, for readers that should not
    /// wait on each other (the web pages).
    ///
    /// # Errors
    /// As [`Store::open_read_only`].
    pub async fn open_readers(data_dir: &Path, connections: usize) -> Result<Store> {
        Ok(Store::with(Backend::Sqlite(
            sqlite::Sqlite::open_readers(data_dir, connections).await?,
        )))
    }

    /// Readers wherever the store is: on PostgreSQL a pool of
    /// `connections` whose every transaction is read-only.
    ///
    /// # Errors
    /// As [`Store::open_read_only`], or [`StoreError::Connect`].
    pub async fn open_readers_at(
        db: &Database,
        data_dir: &Path,
        connections: usize,
    ) -> Result<Store> {
        let Some(url) = db.postgres() else {
            return Store::open_readers(data_dir, connections).await;
        };
        let mut o = db.pg(true, false);
        o.pool = u32::try_from(connections)
            .unwrap_or(u32::MAX)
            .clamp(1, o.pool.max(1));
        Ok(Store::with(Backend::Postgres(
            postgres::Postgres::open(url, &o).await?,
        )))
    }

    /// A private in-memory database, for tests and benchmarks.
    ///
    /// # Errors
    /// As [`Store::open`].
    pub async fn open_memory() -> Result<Store> {
        Ok(Store::with(Backend::Sqlite(
            sqlite::Sqlite::open_memory().await?,
        )))
    }

    /// Which backend, for logs and `/healthz`.
    #[must_use]
    pub fn backend_name(&self) -> &'static str {
        match &*self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Makes the database "full" at `pages` pages (`None`: SQLite's maximum),
    /// as a full disk would, for tests of what happens then. The limit
    /// stays across reconnects until changed. SQLite only.
    ///
    /// # Errors
    /// Database failures; [`StoreError::Unsupported`] on PostgreSQL.
    #[doc(hidden)]
    pub async fn set_max_pages(&self, pages: Option<u32>) -> Result<()> {
        match &*self.backend {
            Backend::Sqlite(db) => db.set_max_pages(pages).await,
            Backend::Postgres(_) => Err(StoreError::Unsupported("a page limit")),
        }
    }
}
