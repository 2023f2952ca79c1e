//! Stores for the tests, and the stored rows they start from.

use chrono::{DateTime, Utc};
use podium::store::{NewOccurrence, Store};

/// A fresh in-memory store.
///
/// Opening it never pauses time; a test that wants paused time asks for it
/// (`#[tokio::test(start_paused = true)]`). Opening works under paused time
/// because connecting sets no tokio timer: it only waits on SQLite's worker
/// thread. A timeout around that wait would fire at once (the idle runtime
/// jumps to the next timer), so should opening ever wait under one (a
/// pool's acquire timeout, say), open the store first and call
/// `tokio::time::pause()` after.
pub async fn memory_store() -> Store {
    Store::open_memory().await.unwrap()
}

/// Debate `d` ("D", in London, one question "Why?", an hour long, answers
/// collected for 10 minutes after the closing) starting at `start`,
/// recorded at its start.
pub fn occurrence(start: DateTime<Utc>) -> NewOccurrence<'static> {
    NewOccurrence {
        debate: "d",
        scheduled_start: start,
        title: "D",
        timezone: "Europe/London",
        questions: vec!["Why?"],
        zones: vec!["Europe/London"],
        public: false,
        rehearsal_clock: None,
        duration: chrono::Duration::hours(1),
        collect_grace: chrono::Duration::minutes(10),
        now: start,
    }
}

/// A presence row of `network` from `since` to `until`, as the network
/// adapter leaves one: begun, then extended; its id.
pub async fn presence(
    store: &Store,
    network: podium::domain::Network,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> i64 {
    let id = store.presence_begin(network, since).await.unwrap();
    store.presence_extend(id, until).await.unwrap();
    id
}

/// Where a test's store lives, on one backend: the data directory (SQLite's
/// file is there) and, for PostgreSQL, a database of the test's own on the
/// test binary's server. Opening it again is what a restarted Podium does.
pub struct Place {
    pub db: podium::store::Database,
    pub dir: tempfile::TempDir,
}

impl Place {
    /// SQLite in a fresh data directory.
    pub fn sqlite() -> Place {
        Place {
            db: podium::store::Database::default(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A fresh PostgreSQL database (and a data directory for the rest).
    pub async fn postgres() -> Place {
        Place {
            db: podium::store::Database {
                url: Some(super::postgres::database().await),
                pool: 4,
            },
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.db.url.is_some()
    }

    /// The writer's store, as `podium run` opens it.
    pub async fn open(&self) -> Store {
        Store::open_at(&self.db, self.dir.path()).await.unwrap()
    }

    /// A reader's, as `podium transcript` opens it.
    pub async fn reader(&self) -> Store {
        Store::open_readers_at(&self.db, self.dir.path(), 1)
            .await
            .unwrap()
    }

    /// Runs `sql` on the database directly, behind the store's back (to
    /// age it, say).
    pub async fn execute(&self, sql: &'static str) {
        use sqlx::{ConnectOptions, Connection};
        match &self.db.url {
            Some(url) => {
                let mut c = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query(sql).execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
            None => {
                let mut c = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(self.dir.path().join("podium.db"))
                    .connect()
                    .await
                    .unwrap();
                sqlx::query(sql).execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
        }
    }
}

/// Each test once per backend: `NAME::sqlite` and `NAME::postgres`, with
/// `place` a fresh [`Place`] on that backend. One suite, not two copies:
/// what the README promises holds on both.
#[macro_export]
macro_rules! on_both_backends {
    ($($(#[doc = $doc:literal])* async fn $name:ident($place:ident) $body:block)*) => {
        $(
            $(#[doc = $doc])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn test($place: $crate::support::store::Place) $body

                #[tokio::test]
                async fn sqlite() {
                    test($crate::support::store::Place::sqlite()).await;
                }

                #[tokio::test]
                async fn postgres() {
                    test($crate::support::store::Place::postgres().await).await;
                }
            }
        )*
    };
}
