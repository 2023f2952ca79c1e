//! Replicas and their leases (PostgreSQL only): several `podium run`
//! processes share one database, and each debate of the schedule is led by
//! one of them at a time. The database is the only coordinator: every
//! time below is its own `now()`, so the replicas' clocks need not agree,
//! and a lease changes hands only through a row update that bumps its
//! epoch. What the replicas do with their leases is `crate::replicas`.
//!
//! A lease lasts while its holder is live: renewing all a replica's leases
//! is its one heartbeat row. So a replica's periodic tick writes one row
//! and runs a fixed handful of statements (heartbeat, a read of what it
//! holds, a count of live replicas, and an acquisition only while it holds
//! less than its share), whatever the number of debates.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use sqlx::{Connection as _, Row as _};

use super::{Backend, Result, Store, StoreError};

/// One tick of a replica's lease keeper.
#[derive(Debug)]
pub struct Tick<'a> {
    pub name: &'a str,
    pub session: &'a str,
    pub ttl: StdDuration,
    /// The schedule's debates: the leases this replica may take.
    pub debates: &'a [String],
    /// Leases this replica gives back now (a new replica arrived and this
    /// one holds more than its share).
    pub shed: &'a [String],
}

/// What a tick found.
#[derive(Debug, Default)]
pub struct Ticked {
    /// The leases this replica holds after the tick, with their epochs.
    pub held: Vec<(String, i64)>,
    /// The leases it took in this tick (also in `held`).
    pub taken: Vec<(String, i64)>,
    /// Live replicas, this one included.
    pub live: i64,
    /// How many leases this replica should hold: the schedule's debates
    /// shared evenly among the live replicas, rounded up.
    pub share: usize,
}

/// A replica, as `podium replicas` and `/healthz` show it.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaRow {
    pub name: String,
    pub started_at: DateTime<Utc>,
    pub seen_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    /// Seen within its lease time and not stopped.
    pub live: bool,
}

/// A lease, as `podium replicas` and `/healthz` show it.
#[derive(Clone, Debug, PartialEq)]
pub struct LeaseRow {
    pub debate: String,
    /// `None` when free.
    pub holder: Option<String>,
    pub epoch: i64,
    pub expires_at: Option<DateTime<Utc>>,
    /// Held and unexpired.
    pub live: bool,
}

/// SQL: replica `r` is live (seen within its lease time, not stopped).
macro_rules! live {
    ($r:literal) => {
        concat!(
            $r,
            ".stopped_at IS NULL AND ",
            $r,
            ".seen_at + make_interval(secs => ",
            $r,
            ".ttl_ms / 1000.0) > now()"
        )
    };
}
pub(super) use live;

impl Store {
    fn pg(&self, what: &'static str) -> Result<&super::postgres::Postgres> {
        match &*self.backend {
            Backend::Postgres(pg) => Ok(pg),
            Backend::Sqlite(_) => Err(StoreError::Unsupported(what)),
        }
    }

    /// Records this replica as started, from the data directory `home`
    /// names. Refused while another live process, on another data
    /// directory, runs under the same name; a restart on the same one
    /// takes the name over at once, with the leases it still holds.
    ///
    /// # Errors
    /// [`StoreError::ReplicaName`]; database failures;
    /// [`StoreError::Unsupported`] on SQLite.
    pub async fn register_replica(
        &self,
        name: &str,
        home: &str,
        session: &str,
        ttl: StdDuration,
    ) -> Result<()> {
        let pg = self.pg("replicas")?;
        let mut c = pg.conn().await?;
        let r = async {
            let row = sqlx::query(
                "INSERT INTO replicas (name, home, session, started_at, seen_at, ttl_ms) \
                 VALUES ($1, $2, $3, now(), now(), $4) \
                 ON CONFLICT (name) DO UPDATE SET session = excluded.session, \
                   home = excluded.home, started_at = excluded.started_at, \
                   seen_at = excluded.seen_at, ttl_ms = excluded.ttl_ms, stopped_at = NULL \
                 WHERE replicas.stopped_at IS NOT NULL OR replicas.home = excluded.home \
                    OR replicas.seen_at + make_interval(secs => replicas.ttl_ms / 1000.0) < now() \
                 RETURNING name",
            )
            .bind(name)
            .bind(home)
            .bind(session)
            .bind(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
            .fetch_optional(&mut *c)
            .await?;
            if row.is_none() {
                return Err(StoreError::ReplicaName {
                    name: name.to_owned(),
                });
            }
            Ok(())
        }
        .await;
        pg.observe(r)
    }

    /// One tick of the lease keeper, in one transaction: the heartbeat
    /// (which renews every lease this replica holds), leases given back,
    /// and, while this replica holds less than its share, acquisition of
    /// free ones and of those whose holder is no longer live.
    ///
    /// # Errors
    /// [`StoreError::ReplicaName`] when another process took this name
    /// over; database failures.
    pub async fn lease_tick(&self, t: &Tick<'_>) -> Result<Ticked> {
        let pg = self.pg("replicas")?;
        let mut c = pg.conn().await?;
        let r = async {
            let mut tx = c.begin().await?;
            let seen = sqlx::query(
                "UPDATE replicas SET seen_at = now(), ttl_ms = $3 \
                 WHERE name = $1 AND session = $2 AND stopped_at IS NULL",
            )
            .bind(t.name)
            .bind(t.session)
            .bind(i64::try_from(t.ttl.as_millis()).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if seen == 0 {
                return Err(StoreError::ReplicaName {
                    name: t.name.to_owned(),
                });
            }
            if !t.shed.is_empty() {
                sqlx::query(
                    "UPDATE leases SET holder = NULL WHERE holder = $1 AND debate = ANY($2)",
                )
                .bind(t.name)
                .bind(t.shed)
                .execute(&mut *tx)
                .await?;
            }
            // The heartbeat above renewed them all; this says which they
            // are (one taken while this replica was not live is gone).
            let mut held: Vec<(String, i64)> =
                sqlx::query("SELECT debate, epoch FROM leases WHERE holder = $1")
                    .bind(t.name)
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| Ok((r.try_get("debate")?, r.try_get("epoch")?)))
                    .collect::<Result<_>>()?;
            let live: i64 = sqlx::query_scalar(concat!(
                "SELECT count(*) FROM replicas r WHERE ",
                live!("r")
            ))
            .fetch_one(&mut *tx)
            .await?;
            let share = t
                .debates
                .len()
                .div_ceil(usize::try_from(live.max(1)).unwrap_or(1));
            let mut taken = Vec::new();
            // Whether anything is there to take at all: cheap (by the
            // holder index, and the few replicas), where the acquisition
            // itself reads through the schedule's debates.
            let takeable: bool = if held.len() < share {
                sqlx::query_scalar(concat!(
                    "SELECT EXISTS (SELECT 1 FROM leases WHERE holder IS NULL) \
                     OR EXISTS (SELECT 1 FROM replicas r WHERE NOT (",
                    live!("r"),
                    ") AND EXISTS (SELECT 1 FROM leases l WHERE l.holder = r.name))"
                ))
                .fetch_one(&mut *tx)
                .await?
            } else {
                false
            };
            if takeable {
                // Free leases, and those of replicas no longer live. Each
                // replica walks them in its own order (a hash of the debate
                // and its name), so replicas starting together take
                // different ones rather than queue for the same rows.
                taken = sqlx::query(concat!(
                    "UPDATE leases l SET holder = $1, epoch = l.epoch + 1 \
                     FROM (SELECT f.debate FROM leases f \
                           LEFT JOIN replicas r ON r.name = f.holder \
                           WHERE f.debate = ANY($2) AND (f.holder IS NULL OR r.name IS NULL \
                             OR NOT (",
                    live!("r"),
                    ")) ORDER BY md5(f.debate || $1) LIMIT $3 FOR UPDATE OF f SKIP LOCKED) c \
                     WHERE l.debate = c.debate RETURNING l.debate, l.epoch"
                ))
                .bind(t.name)
                .bind(t.debates)
                .bind(i64::try_from(share - held.len()).unwrap_or(i64::MAX))
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| Ok((r.try_get("debate")?, r.try_get("epoch")?)))
                .collect::<Result<Vec<(String, i64)>>>()?;
                held.extend(taken.iter().cloned());
            }
            tx.commit().await?;
            Ok(Ticked {
                held,
                taken,
                live,
                share,
            })
        }
        .await;
        pg.observe(r)
    }

    /// Makes sure every debate of the schedule has its lease row (free
    /// until a replica takes it); run when the schedule changes.
    ///
    /// # Errors
    /// Database failures; [`StoreError::Unsupported`] on SQLite.
    pub async fn add_leases(&self, debates: &[String]) -> Result<()> {
        let pg = self.pg("replicas")?;
        let mut c = pg.conn().await?;
        let r = sqlx::query(
            "INSERT INTO leases (debate) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
        )
        .bind(debates)
        .execute(&mut *c)
        .await
        .map(drop)
        .map_err(StoreError::from);
        pg.observe(r)
    }

    /// A stopping replica gives back all its leases at once, so the others
    /// take them at their next tick instead of after the lease time, and
    /// is recorded as stopped. Returns how many leases it gave back.
    ///
    /// # Errors
    /// Database failures; [`StoreError::Unsupported`] on SQLite.
    pub async fn stop_replica(&self, name: &str, session: &str) -> Result<u64> {
        let pg = self.pg("replicas")?;
        let mut c = pg.conn().await?;
        let r = async {
            let mut tx = c.begin().await?;
            let n = sqlx::query("UPDATE leases SET holder = NULL WHERE holder = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("UPDATE replicas SET stopped_at = now() WHERE name = $1 AND session = $2")
                .bind(name)
                .bind(session)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(n)
        }
        .await;
        pg.observe(r)
    }

    /// Every replica that has run against this database, live ones first.
    ///
    /// # Errors
    /// Database failures; [`StoreError::Unsupported`] on SQLite.
    pub async fn replicas(&self) -> Result<Vec<ReplicaRow>> {
        let pg = self.pg("replicas")?;
        let mut c = pg.conn().await?;
        let r = async {
            sqlx::query(concat!(
                "SELECT name, started_at, seen_at, stopped_at, (",
                live!("r"),
                ") AS live FROM replicas r ORDER BY live DESC, name"
            ))
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| {
                Ok(ReplicaRow {
                    name: r.try_get("name")?,
                    started_at: r.try_get("started_at")?,
                    seen_at: r.try_get("seen_at")?,
                    stopped_at: r.try_get("stopped_at")?,
                    live: r.try_get("live")?,
                })
            })
            .collect()
        }
        .await;
        pg.observe(r)
    }

    /// Every lease, by debate.
    ///
    /// # Errors
    /// Database failures; [`StoreError::Unsupported`] on SQLite.
    pub async fn leases(&self) -> Result<Vec<LeaseRow>> {
        let pg = self.pg("replicas")?;
        let mut c = pg.conn().await?;
        let r = async {
            sqlx::query(concat!(
                "SELECT l.debate, l.holder, l.epoch, \
                   r.seen_at + make_interval(secs => r.ttl_ms / 1000.0) AS expires_at, \
                   coalesce(",
                live!("r"),
                ", false) AS live \
                 FROM leases l LEFT JOIN replicas r ON r.name = l.holder ORDER BY l.debate"
            ))
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| {
                Ok(LeaseRow {
                    debate: r.try_get("debate")?,
                    holder: r.try_get("holder")?,
                    epoch: r.try_get("epoch")?,
                    expires_at: r.try_get("expires_at")?,
                    live: r.try_get("live")?,
                })
            })
            .collect()
        }
        .await;
        pg.observe(r)
    }
}
