//! Replicas: several `podium run` processes sharing one PostgreSQL
//! database, each debate of the schedule led by one of them at a time
//! (docs/replicas.md). The unit is the debate, all its occurrences and
//! rooms: an occurrence's shifts, `!end` and `!ask` numbering, and what its
//! rooms are told, must come from one place.
//!
//! The [`Keeper`] renews this replica's leases, takes its share of the
//! free ones and gives back what it holds beyond its share; the engine
//! reads the outcome, a [`Leadership`], to know which debates it posts
//! for. Leadership is also bounded locally: a lease counts only until
//! `ttl` after the renewal that last confirmed it was *sent*, so a replica
//! that was paused or cut off stops before another can take over (the
//! database computed the expiry later than that, by its own clock). The
//! fence that settles it is in the store: a post is handed to a network
//! only by a statement that checks the lease there (`Store::hand_post`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::health::Health;
use crate::outage::{Outage, Report};
use crate::schedule::Schedule;
use crate::store::{Store, StoreError, Tick};

/// Which debates this process leads.
#[derive(Clone, Debug, Default)]
pub struct Leadership {
    /// `None` without replicas: this Podium leads everything.
    replica: Option<Arc<str>>,
    held: HashMap<String, Held>,
}

#[derive(Clone, Copy, Debug)]
struct Held {
    epoch: i64,
    until: Instant,
}

/// What this process may do for one debate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lease {
    /// No replicas: everything is this Podium's.
    Solo,
    /// Held, at this epoch.
    Held(i64),
    /// Another replica's, or nobody's yet.
    NotHeld,
}

impl Lease {
    /// Whether this process posts for the debate.
    #[must_use]
    pub fn leads(self) -> bool {
        self != Lease::NotHeld
    }
}

impl Leadership {
    /// A Podium without replicas.
    #[must_use]
    pub fn solo() -> Self {
        Leadership::default()
    }

    /// This replica's name (`None` without replicas).
    #[must_use]
    pub fn replica(&self) -> Option<&str> {
        self.replica.as_deref()
    }

    /// What this process may do for `debate` now.
    #[must_use]
    pub fn lease(&self, debate: &str) -> Lease {
        if self.replica.is_none() {
            return Lease::Solo;
        }
        match self.held.get(debate) {
            Some(h) if h.until > Instant::now() => Lease::Held(h.epoch),
            _ => Lease::NotHeld,
        }
    }

    /// The debates this process leads now, sorted (for `/healthz`).
    #[must_use]
    pub fn leads(&self) -> Vec<String> {
        let now = Instant::now();
        let mut v: Vec<String> = self
            .held
            .iter()
            .filter(|(_, h)| h.until > now)
            .map(|(d, _)| d.clone())
            .collect();
        v.sort();
        v
    }
}

/// The settings of one replica.
#[derive(Clone, Debug)]
pub struct Settings {
    pub name: String,
    /// The id kept in this replica's data directory (see [`home_id`]).
    pub home: String,
    pub renew: Duration,
    pub ttl: Duration,
}

/// Keeps this replica's leases.
pub struct Keeper {
    store: Store,
    settings: Settings,
    session: String,
    schedule: watch::Receiver<Arc<Schedule>>,
    tx: watch::Sender<Arc<Leadership>>,
    health: Option<Health>,
}

/// Subtracted from a lease's local term: the two clocks' rates may differ
/// a little over a lease time.
const MARGIN: Duration = Duration::from_millis(250);

impl Keeper {
    /// Registers this replica in the database (refused while another live
    /// process has its name) and returns the keeper and the leadership it
    /// publishes (nothing held until its first tick).
    ///
    /// # Errors
    /// [`StoreError::ReplicaName`]; database failures.
    pub async fn register(
        store: Store,
        settings: Settings,
        schedule: watch::Receiver<Arc<Schedule>>,
    ) -> Result<(Keeper, watch::Receiver<Arc<Leadership>>), StoreError> {
        let session = crate::store::new_token()?;
        store
            .register_replica(&settings.name, &settings.home, &session, settings.ttl)
            .await?;
        tracing::info!(replica = %settings.name, renew = ?settings.renew, ttl = ?settings.ttl,
            "registered as a replica");
        let (tx, rx) = watch::channel(Arc::new(Leadership {
            replica: Some(Arc::from(settings.name.as_str())),
            held: HashMap::new(),
        }));
        let keeper = Keeper {
            store,
            settings,
            session,
            schedule,
            tx,
            health: None,
        };
        Ok((keeper, rx))
    }

    /// Shows this replica and what it leads in `/healthz`.
    #[must_use]
    pub fn reporting_to(mut self, health: Health) -> Self {
        self.health = Some(health);
        self.report(&[]);
        self
    }

    fn report(&self, leads: &[String]) {
        if let Some(h) = &self.health {
            h.set_section(
                "replica",
                serde_json::json!({ "name": self.settings.name, "leads": leads }),
            );
        }
    }

    /// Ticks every `renew` until `released` (the engine has finished what
    /// it had in hand: the leases must last until then), then hands every
    /// lease back at once, so the others take them at their next tick
    /// rather than after the lease time.
    pub async fn run(mut self, released: CancellationToken) {
        let mut known: HashSet<String> = HashSet::new();
        let mut outage = Outage::default();
        let mut share = usize::MAX;
        // The first tick waits one period: replicas started together all
        // register before any takes leases, so they split them at once.
        let mut next = Instant::now() + self.settings.renew;
        loop {
            tokio::select! {
                () = released.cancelled() => break,
                () = tokio::time::sleep_until(next) => {}
            }
            next = Instant::now() + self.settings.renew;
            match self.tick(&mut known, share).await {
                Ok(s) => {
                    share = s;
                    if let Some(lasted) = outage.recovered() {
                        tracing::warn!(lasted = ?lasted, "leases are renewed again");
                    }
                }
                Err(e) => match outage.failed() {
                    Report::Started => tracing::error!(cause = %e,
                        "cannot renew leases; the debates led here stop at their lease's end \
                         and another replica takes them"),
                    Report::Lasting(lasted) => {
                        tracing::error!(cause = %e, lasted = ?lasted, "still cannot renew leases");
                    }
                    Report::Quiet => {}
                },
            }
        }
        // Nothing is led from here on, whatever the database says.
        self.tx.send_replace(Arc::new(Leadership {
            replica: Some(Arc::from(self.settings.name.as_str())),
            held: HashMap::new(),
        }));
        self.report(&[]);
        match self
            .store
            .stop_replica(&self.settings.name, &self.session)
            .await
        {
            Ok(n) => tracing::info!(replica = %self.settings.name, count = n,
                "handed back leases"),
            Err(e) => tracing::warn!(cause = %e,
                "cannot hand back leases at the stop; they pass to other replicas when they expire"),
        }
    }

    /// One tick; returns this replica's share.
    async fn tick(
        &mut self,
        known: &mut HashSet<String>,
        share: usize,
    ) -> Result<usize, StoreError> {
        let debates: Vec<String> = {
            let s = self.schedule.borrow();
            s.debates.iter().map(|d| d.id.clone()).collect()
        };
        if debates.iter().any(|d| !known.contains(d)) {
            self.store.add_leases(&debates).await?;
            *known = debates.iter().cloned().collect();
        }
        let current = self.tx.borrow().clone();
        let mut held: Vec<String> = current.held.keys().cloned().collect();
        held.sort();
        let shed = self.to_shed(&held, share);
        let sent = Instant::now();
        let ticked = self
            .store
            .lease_tick(&Tick {
                name: &self.settings.name,
                session: &self.session,
                ttl: self.settings.ttl,
                debates: &debates,
                shed: &shed,
            })
            .await?;
        let until = sent + self.settings.ttl.saturating_sub(MARGIN);
        let now_held: HashMap<String, Held> = ticked
            .held
            .iter()
            .map(|(d, epoch)| {
                (
                    d.clone(),
                    Held {
                        epoch: *epoch,
                        until,
                    },
                )
            })
            .collect();
        for (d, epoch) in &ticked.taken {
            tracing::info!(replica = %self.settings.name, debate = %d, epoch, "took lease");
        }
        for d in current.held.keys() {
            if !now_held.contains_key(d) {
                if shed.contains(d) {
                    tracing::info!(replica = %self.settings.name, debate = %d,
                        "gave lease back (more than this replica's share)");
                } else {
                    tracing::warn!(replica = %self.settings.name, debate = %d, "lost lease");
                }
            }
        }
        let leadership = Leadership {
            replica: Some(Arc::from(self.settings.name.as_str())),
            held: now_held,
        };
        self.report(&leadership.leads());
        self.tx.send_replace(Arc::new(leadership));
        Ok(ticked.share)
    }

    /// The leases to give back: those beyond this replica's share, among
    /// debates with nothing running or due soon: a live debate stays where
    /// it is (a hand-over mid-send could cost a post) until it is idle.
    fn to_shed(&self, held: &[String], share: usize) -> Vec<String> {
        if held.len() <= share {
            return Vec::new();
        }
        let schedule = self.schedule.borrow().clone();
        let now = chrono::Utc::now();
        let busy = |id: &str| {
            schedule.debates.iter().filter(|d| d.id == id).any(|d| {
                let lead = d
                    .remind
                    .first()
                    .copied()
                    .unwrap_or_else(chrono::Duration::zero);
                d.occurrences_between(now - d.duration - BUSY_AFTER, now + lead + BUSY_BEFORE)
                    .next()
                    .is_some()
            })
        };
        held.iter()
            .filter(|d| !busy(d))
            .take(held.len() - share)
            .cloned()
            .collect()
    }
}

/// The id of the data directory `dir`, kept in it (`replica-id`, drawn at
/// its first use): it tells a replica restarted on the same directory from
/// another process under the same name.
///
/// # Errors
/// The file cannot be read or written.
pub fn home_id(dir: &std::path::Path) -> std::io::Result<String> {
    let path = dir.join("replica-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let id = crate::store::new_token().map_err(std::io::Error::other)?;
    crate::store::write_private(&path, id.as_bytes())?;
    Ok(id)
}

/// A debate is busy from this long before its first reminder...
const BUSY_BEFORE: chrono::Duration = chrono::Duration::minutes(5);
/// ...to this long after its end (collection, the transcript link).
const BUSY_AFTER: chrono::Duration = chrono::Duration::minutes(30);
