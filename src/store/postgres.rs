//! The PostgreSQL backend: `database.url = "postgres://..."`, for operators
//! who already run PostgreSQL (beside Synapse, say) and back it up. A pool
//! of connections with prepared statements (sqlx caches them per
//! connection); times are `timestamptz`, flags `boolean`.
//!
//! One Podium per database: the writer holds a session advisory lock on a
//! connection of its own for as long as it runs, so a second `podium run`
//! on the same database is refused with who holds it, as a second one on
//! the same data directory is on SQLite. (Replicas sharing one database
//! are a separate mode, which lifts this.)
//!
//! What SQLite's `secure_delete` and WAL checkpoint do for erased text
//! (see `erase`) has no equivalent here: an erased answer's old row version
//! stays in the table's free space until VACUUM reclaims it (autovacuum,
//! and the hourly retention purge runs one on the tables it emptied), and
//! in PostgreSQL's WAL and in backups for as long as the operator keeps
//! them. The README says so.

// The store's statements, compiled for PostgreSQL (see `sql/mod.rs`).
// Loaded once per backend on purpose (see `sql/mod.rs`).
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
pub(super) mod sql;

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Row as _};
use tokio::sync::Mutex;

use super::lock::DataDirLock;
use super::replies::{NewReply, insert_replies_head, insert_replies_tail};
use super::{Result, StoreError};

pub(super) type Conn = sqlx::PgConnection;
pub(super) type Row = sqlx::postgres::PgRow;
pub(super) type Db = sqlx::Postgres;

/// Rows per INSERT from arrays (see [`insert_replies`]): the statement's
/// parameters do not grow with it; a writer's batch (1,024 at most) goes in
/// one or two statements.
pub(super) const INSERT_ROWS: usize = 512;

/// The PostgreSQL schema's migrations, embedded and applied at open under
/// sqlx's own advisory lock, so two processes starting together do not race.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// The advisory lock a writing Podium holds on its database ("podium" in
/// ASCII): one Podium per database.
const WRITER_LOCK: i64 = 0x706f_6469_756d;

/// How long an operation waits for a connection before it fails (and the
/// engine's own retry takes over): short, so a database that is down shows
/// as a failed operation in seconds, not as a debate that hangs.
const ACQUIRE_TIMEOUT: StdDuration = StdDuration::from_secs(5);

pub(super) fn ts(t: DateTime<Utc>) -> DateTime<Utc> {
    t
}

pub(super) fn get_ts(r: &Row, column: &str) -> Result<DateTime<Utc>> {
    Ok(r.try_get(column)?)
}

pub(super) fn get_opt_ts(r: &Row, column: &str) -> Result<Option<DateTime<Utc>>> {
    Ok(r.try_get(column)?)
}

/// New replies in one statement whatever their number: each column goes as
/// one array parameter and `UNNEST` turns the arrays back into rows, so
/// the statement's text (and its prepared plan) is the same for 1 row or
/// 4,000, and PostgreSQL parses 15 parameters instead of 15 per row. One
/// already stored (the same network event) is met as the statement's tail
/// says (see `insert_replies_tail`).
pub(super) async fn insert_replies(conn: &mut Conn, rows: &[&NewReply]) -> Result<()> {
    let sql = concat!(
        insert_replies_head!(),
        " SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], \
         $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[], \
         $11::text[], $12::timestamptz[], $13::timestamptz[], $14::boolean[], $15::boolean[])",
        insert_replies_tail!()
    );
    let col = |f: fn(&NewReply) -> &str| rows.iter().map(|r| f(r)).collect::<Vec<_>>();
    sqlx::query(sql)
        .bind(rows.iter().map(|r| r.occurrence_id).collect::<Vec<_>>())
        .bind(col(|r| &r.network))
        .bind(col(|r| &r.room))
        .bind(col(|r| &r.sender_id))
        .bind(col(|r| &r.sender_name))
        .bind(col(|r| &r.body))
        .bind(col(|r| &r.body))
        .bind(
            rows.iter()
                .map(|r| r.question.map(i64::from))
                .collect::<Vec<_>>(),
        )
        .bind(col(|r| r.attributed_by.as_str()))
        .bind(col(|r| &r.network_id))
        .bind(
            rows.iter()
                .map(|r| r.in_reply_to.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|r| r.server_ts).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.received_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.action).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.led).collect::<Vec<_>>())
        .execute(conn)
        .await?;
    Ok(())
}

/// The PostgreSQL text of a statement whose SQL differs between backends.
pub(super) fn pick(_sqlite: &'static str, postgres: &'static str) -> &'static str {
    postgres
}

/// Nothing to do at once after an erasure (see the module's comment).
#[allow(clippy::unused_async)]
pub(super) async fn after_erase(_conn: &mut Conn) -> Result<()> {
    Ok(())
}

/// How a store on PostgreSQL is opened.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// Connections in the pool.
    pub pool: u32,
    /// Reads only: every transaction is read-only (`podium transcript`, the
    /// web pages).
    pub read_only: bool,
    /// Takes the one-writer lock (`podium run`, rehearsals).
    pub writer: bool,
    /// Takes it shared: one of several replicas, which coordinate through
    /// their leases. A Podium without replicas (exclusive) and replicas
    /// (shared) never run on one database together.
    pub replica: bool,
}

#[derive(Debug)]
pub(super) struct Postgres {
    pool: sqlx::PgPool,
    /// The URL without its password, for messages.
    shown: String,
    /// Whether the last operation failed for want of the database, so an
    /// outage is logged once when it starts and once when it ends.
    down: AtomicBool,
    /// The connection holding the writer's advisory lock.
    _lock: Option<Mutex<Conn>>,
    /// A writer's data directory stays locked too: it holds the Matrix
    /// session and keys.
    _dir_lock: Option<DataDirLock>,
}

/// `url` with its password replaced by `***`, for logs and messages.
#[must_use]
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            // A password given as a query parameter goes too.
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k.eq_ignore_ascii_case("password") {
                        "***".to_owned()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            if !pairs.is_empty() {
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.to_string()
        }
        Err(_) => "(a database URL that cannot be parsed)".to_owned(),
    }
}

/// Whether `e` means the database could not be reached (rather than that
/// a statement was wrong): the server down or restarting, the network, a
/// connection that died.
fn is_unreachable(e: &StoreError) -> bool {
    match e {
        StoreError::Sql(e) => match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => true,
            sqlx::Error::Database(d) => d.code().is_some_and(|c| {
                // Connection exceptions, and the server shutting down or
                // starting up.
                c.starts_with("08") || c == "57P01" || c == "57P02" || c == "57P03"
            }),
            _ => false,
        },
        _ => false,
    }
}

impl Postgres {
    /// Connects, migrates (unless reading only) and, for a writer, takes
    /// the one-writer lock.
    pub(super) async fn open(url: &str, o: &PgOptions) -> Result<Postgres> {
        let shown = redact(url);
        let connect_err = |cause: sqlx::Error| StoreError::Connect {
            url: shown.clone(),
            cause: cause.to_string(),
        };
        let mut options = PgConnectOptions::from_str(url).map_err(connect_err)?;
        options = options.application_name(&format!(
            "podium {} (pid {})",
            match (o.writer, o.replica) {
                (true, true) => "replica",
                (true, false) => "writer",
                _ => "reader",
            },
            std::process::id()
        ));
        if o.read_only {
            options = options.options([("default_transaction_read_only", "on")]);
        }
        // A first connection says at once whether the URL works, with the
        // server's own reason (a wrong password, no such database).
        let mut first = options.connect().await.map_err(connect_err)?;
        let lock = if o.writer {
            let held: bool = sqlx::query_scalar(if o.replica {
                "SELECT pg_try_advisory_lock_shared($1)"
            } else {
                "SELECT pg_try_advisory_lock($1)"
            })
            .bind(WRITER_LOCK)
            .fetch_one(&mut first)
            .await
            .map_err(connect_err)?;
            if !held {
                let holder: Option<String> = sqlx::query_scalar(
                    "SELECT a.application_name || ' on ' || \
                     coalesce(host(a.client_addr), 'a local socket') \
                     FROM pg_locks l JOIN pg_stat_activity a USING (pid) \
                     WHERE l.locktype = 'advisory' AND l.granted \
                     AND ((l.classid::bigint << 32) | l.objid::bigint) = $1 LIMIT 1",
                )
                .bind(WRITER_LOCK)
                .fetch_optional(&mut first)
                .await
                .ok()
                .flatten();
                let holder = holder.unwrap_or_else(|| "another process".to_owned());
                return Err(if o.replica {
                    StoreError::InUse {
                        url: shown,
                        holder: format!("{holder}, without replicas"),
                    }
                } else {
                    StoreError::InUse { url: shown, holder }
                });
            }
            Some(Mutex::new(first))
        } else {
            drop(first);
            None
        };
        let pool = PgPoolOptions::new()
            .max_connections(o.pool.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(connect_err)?;
        if o.read_only {
            let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
            let applied: i64 = sqlx::query_scalar(
                "SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success",
            )
            .fetch_one(&pool)
            .await
            .unwrap_or(0);
            if applied < latest {
                return Err(StoreError::Outdated {
                    what: format!("the database at {shown}"),
                });
            }
        } else {
            MIGRATOR.run(&pool).await?;
        }
        Ok(Postgres {
            pool,
            shown,
            down: AtomicBool::new(false),
            _lock: lock,
            _dir_lock: None,
        })
    }

    pub(super) fn holding(mut self, dir_lock: DataDirLock) -> Postgres {
        self._dir_lock = Some(dir_lock);
        self
    }

    /// A connection for one operation.
    pub(super) async fn conn(&self) -> Result<PoolConnection<Db>> {
        let r = self.pool.acquire().await.map_err(StoreError::from);
        match r {
            Ok(c) => Ok(c),
            Err(e) => self.observe(Err(e)),
        }
    }

    /// Logs an outage once when it starts and once when it ends.
    pub(super) fn observe<T>(&self, r: Result<T>) -> Result<T> {
        match &r {
            Ok(_) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!(database = %self.shown, "the database is reachable again");
                }
            }
            Err(e) if is_unreachable(e) => {
                if !self.down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(database = %self.shown, cause = %e,
                        "the database is unreachable; what cannot be written is held and \
                         retried, and the debate goes on");
                }
            }
            Err(_) => {}
        }
        r
    }

    /// Reclaims the space of erased rows in the tables a retention purge
    /// emptied (a VACUUM cannot run inside the purge's transaction).
    pub(super) async fn vacuum_after_purge(&self) -> Result<()> {
        let mut c = self.conn().await?;
        let r = sqlx::query("VACUUM replies, room_log, presence, proposals, votes")
            .execute(&mut *c)
            .await
            .map(drop)
            .map_err(StoreError::from);
        self.observe(r)
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn a_url_is_shown_without_its_password() {
        assert_eq!(
            redact("postgres://podium:s3cret@db.example:5432/podium"),
            "postgres://podium:***@db.example:5432/podium"
        );
        assert_eq!(
            redact("postgres://podium@127.0.0.1/podium?password=s3cret&sslmode=disable"),
            "postgres://podium@127.0.0.1/podium?password=***&sslmode=disable"
        );
        assert_eq!(redact("postgres://127.0.0.1/p"), "postgres://127.0.0.1/p");
        assert!(!redact("postgres://u:s3cret@[::1/x").contains("s3cret"));
    }
}
