//! The one app that `podium run`, `podium rehearse` and the tests all go
//! through: built in one place ([`build`], [`build_with`]) from one
//! [`Options`], it holds the store, the engine, the schedule reloader, the
//! web server, the retention task and the networks' tasks, and owns one
//! cooperative shutdown.
//!
//! # Stopping
//!
//! Every long-lived task is handed a [`CancellationToken`] and stops at
//! its next safe point, rather than being aborted wherever it happens to
//! be. The tokens form a tree, so no part can outlive the part it feeds:
//!
//! ```text
//! app ─┬─ engine ── networks   (Matrix sync, IRC, the terminal's input)
//!      └─ services             (web server, retention, schedule reloader)
//! ```
//!
//! When the app is asked to stop (SIGINT or SIGTERM, a rehearsal's end, a
//! test), in this order:
//!
//! 1. `networks` and `services` are cancelled. Networks stop taking in
//!    what people say and hand over what they hold while the engine still
//!    takes it: IRC says QUIT and records its presence up to the server's
//!    farewell, Matrix's sync loop leaves its long poll. The web server
//!    stops accepting and finishes the requests in progress.
//! 2. Once the networks have stopped (or [`NETWORKS_PATIENCE`] is over),
//!    `engine` is cancelled: the engine finishes the posts it has in
//!    hand, records them, and drops its end of the reply writer's channel,
//!    so the writer commits what it holds last.
//! 3. `run` returns once the engine and the services are done, within
//!    [`SHUTDOWN_DEADLINE`] even if the disk refuses the last writes
//!    (those replies were never acknowledged, so a network delivers them
//!    again). What has not stopped by then is dropped with the app.

mod build;
pub mod rehearsal;
pub mod retention;

pub use build::{Console, Networks, Options, build, build_with, open_store};

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::chat::{Chat, Incoming};
use crate::clock::Clock;
use crate::engine::{Engine, Notice};
use crate::health::Health;
use crate::schedule::Schedule;
use crate::store::Store;

/// How long a stopping app waits for everything, the store's last writes
/// included, before giving up.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(8);

/// How long a stopping app waits for the networks before it stops the
/// engine anyway: the rest of [`SHUTDOWN_DEADLINE`] is the engine's.
pub const NETWORKS_PATIENCE: Duration = Duration::from_secs(4);

/// The app's cancellation tokens (see the module's documentation).
struct Tokens {
    app: CancellationToken,
    engine: CancellationToken,
    networks: CancellationToken,
    services: CancellationToken,
    /// The engine is done: a replica's leases may be handed back.
    released: CancellationToken,
}

impl Tokens {
    fn new() -> Tokens {
        let app = CancellationToken::new();
        let engine = app.child_token();
        let networks = engine.child_token();
        let services = app.child_token();
        let released = app.child_token();
        Tokens {
            app,
            engine,
            networks,
            services,
            released,
        }
    }
}

/// A built app (see [`build`]), posting through `C`: [`App::run`] runs it
/// until it is asked to stop.
pub struct App<C: Chat> {
    store: Store,
    engine: Engine<C>,
    events: mpsc::Sender<Incoming>,
    events_rx: mpsc::Receiver<Incoming>,
    schedule: watch::Sender<Arc<Schedule>>,
    health: Health,
    clock: Clock,
    tokens: Tokens,
    /// The networks' tasks: stopped first.
    networks: JoinSet<()>,
    /// The web server, the retention task, the reloader: stopped with the
    /// networks, waited for beside the engine.
    services: JoinSet<()>,
    /// A network that cannot go on (its session was revoked) says why here.
    failed: (mpsc::Sender<anyhow::Error>, mpsc::Receiver<anyhow::Error>),
    web_addr: Option<SocketAddr>,
    metrics_addr: Option<SocketAddr>,
    deadline: Option<Duration>,
}

impl<C: Chat> App<C> {
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Where networks deliver incoming events.
    pub fn events(&self) -> mpsc::Sender<Incoming> {
        self.events.clone()
    }

    /// What the engine posts, skips and finishes.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.engine.subscribe()
    }

    /// Sending a new schedule here is a reload.
    pub fn schedule(&self) -> watch::Sender<Arc<Schedule>> {
        self.schedule.clone()
    }

    /// What each part says about itself, as `/healthz` shows it.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Where the web pages are served, if they are.
    pub fn web_addr(&self) -> Option<SocketAddr> {
        self.web_addr
    }

    /// Where the metrics are served, if they are.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// A network's task, stopped (through `stop`, its token) before the
    /// engine; its failure stops the app, `name` saying which network.
    fn spawn_network<F>(&mut self, name: &'static str, task: impl FnOnce(CancellationToken) -> F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let failed = self.failed.0.clone();
        let task = task(self.tokens.networks.clone());
        self.networks.spawn(async move {
            if let Err(e) = task.await {
                let _ = failed.send(e.context(format!("{name} stopped"))).await;
            }
        });
    }

    /// A service's task (the web server, retention, the reloader), handed
    /// its token.
    fn spawn_service<F>(&mut self, task: impl FnOnce(CancellationToken) -> F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let task = task(self.tokens.services.clone());
        self.services.spawn(task);
    }

    /// Serves the web pages on `listener` while the app runs; when it
    /// stops, the server stops accepting and finishes the requests in
    /// progress.
    fn serve_web(&mut self, listener: tokio::net::TcpListener, site: crate::web::Site) {
        let addr = listener.local_addr().ok();
        self.web_addr = addr;
        let addr = addr.map(|a| a.to_string()).unwrap_or_default();
        tracing::info!(%addr, "serving the transcript pages");
        self.spawn_service(|stop| async move {
            if let Err(e) =
                crate::web::serve(listener, Arc::new(site), stop.cancelled_owned()).await
            {
                tracing::error!(cause = %e, %addr, "the web server stopped");
            }
        });
    }

    /// Serves `/metrics` on `listener` while the app runs, with the web
    /// pages' limits on connections and headers.
    fn serve_metrics(&mut self, listener: tokio::net::TcpListener) {
        let addr = listener.local_addr().ok();
        self.metrics_addr = addr;
        let addr = addr.map(|a| a.to_string()).unwrap_or_default();
        tracing::info!(%addr, "serving the metrics at /metrics");
        self.spawn_service(|stop| async move {
            if let Err(e) = crate::web::serve_metrics(listener, stop.cancelled_owned()).await {
                tracing::error!(cause = %e, %addr, "the metrics server stopped");
            }
        });
    }

    /// Erases what is older than `retention` (counted from each debate's
    /// start; see [`retention`]), now and every hour. A purge in progress
    /// when the app stops is finished: it is one transaction, and the
    /// files after it are few.
    fn purge_after(&mut self, retention: chrono::Duration, data_dir: Option<PathBuf>) {
        let store = self.store.clone();
        let clock = self.clock.clone();
        self.spawn_service(|stop| async move {
            let mut hourly = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = hourly.tick() => {}
                }
                let now = clock.now();
                match retention::purge(&store, data_dir.as_deref(), now - retention, now).await {
                    Ok(retention::Purged {
                        answers: 0,
                        files: 0,
                    }) => {}
                    Ok(purged) => tracing::info!(
                        answers = purged.answers,
                        rehearsal_files = purged.files,
                        ?retention,
                        "erased what was past the retention period"
                    ),
                    Err(e) => tracing::error!(cause = %format!("{e:#}"),
                        "cannot erase what is past the retention period"),
                }
            }
        });
    }

    /// Reloads the schedule from `path` when it changes and on SIGHUP.
    ///
    /// # Errors
    /// When the file system watcher cannot be set up.
    fn watch_schedule(&mut self, path: PathBuf) -> notify::Result<()> {
        let reloader = crate::schedule::reload::Reloader::new(
            path,
            self.schedule.clone(),
            self.clock.clone(),
        )?;
        self.spawn_service(|stop| reloader.run(stop));
        Ok(())
    }

    /// Runs until `stop` completes (or the engine or a network fails),
    /// then shuts down in order (see the module's documentation).
    ///
    /// # Errors
    /// The engine's failures, or a network's.
    pub async fn run(self, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
        let App {
            engine,
            events,
            events_rx,
            tokens,
            mut networks,
            mut services,
            mut failed,
            deadline,
            ..
        } = self;
        // The engine's own channel stays open while networks are stopped.
        drop(events);
        let engine = engine.run(events_rx, tokens.engine.clone().cancelled_owned());
        tokio::pin!(engine, stop);
        let mut failure = None;
        tokio::select! {
            result = &mut engine => {
                tokens.app.cancel();
                return result;
            }
            () = &mut stop => {}
            Some(e) = failed.1.recv() => {
                tracing::error!(cause = %format!("{e:#}"), "stopping");
                failure = Some(e);
            }
        }
        tracing::info!("stopping: no more events are taken; committing what was received");
        let deadline = deadline.map(|d| Instant::now() + d);
        tokens.networks.cancel();
        tokens.services.cancel();
        let patience = deadline.map(|d| d.min(Instant::now() + NETWORKS_PATIENCE));
        let networks_stopped = within(patience, async {
            while networks.join_next().await.is_some() {}
        });
        tokio::select! {
            result = &mut engine => {
                tokens.app.cancel();
                return failure.map_or(result, Err);
            }
            stopped = networks_stopped => if stopped.is_none() {
                tracing::warn!(waited = ?NETWORKS_PATIENCE,
                    "a network did not stop in time; stopping the engine anyway");
            }
        }
        drop(networks);
        tokens.engine.cancel();
        let released = tokens.released.clone();
        let rest = within(deadline, async {
            let result = engine.await;
            released.cancel();
            while services.join_next().await.is_some() {}
            result
        });
        let stopped = match rest.await {
            Some(result) => result,
            None => {
                tracing::error!(waited = ?SHUTDOWN_DEADLINE,
                    "the store did not take the last replies in time; they were not \
                     acknowledged, so the network delivers them again after a restart");
                Ok(())
            }
        };
        tokens.app.cancel();
        match failure {
            Some(e) => Err(e),
            None => stopped,
        }
    }
}

/// `task`'s output, or `None` if `deadline` comes first (never, without
/// one).
async fn within<T>(deadline: Option<Instant>, task: impl Future<Output = T>) -> Option<T> {
    match deadline {
        Some(d) => tokio::time::timeout_at(d, task).await.ok(),
        None => Some(task.await),
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (`docker stop`, systemd).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(cause = %e, "cannot listen for SIGTERM; only Ctrl-C stops Podium");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
