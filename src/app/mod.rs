//! The one app that `podium run` and `podium rehearse` both go through. It
//! holds the store, the engine, the schedule reloader and the networks'
//! tasks, and owns one shutdown: when it is asked to stop (SIGINT or
//! SIGTERM), the networks stop delivering events, the engine stops, the
//! reply writer commits what it holds, and `run` returns, within
//! [`SHUTDOWN_DEADLINE`] even if the disk refuses the last writes (those
//! replies were never acknowledged, so a network delivers them again).

pub mod rehearsal;
pub mod retention;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::chat::{Chat, Incoming};
use crate::clock::Clock;
use crate::engine::{Engine, EngineConfig, Notice};
use crate::schedule::Schedule;
use crate::schedule::reload::{self, WatchGuard};
use crate::store::Store;

/// How long a stopping app waits for the store before giving up.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(8);

/// Events waiting for the engine at most; a network waits when it is full.
const EVENTS: usize = 1024;

pub struct App<C: Chat> {
    store: Store,
    engine: Engine<C>,
    events: mpsc::Sender<Incoming>,
    events_rx: mpsc::Receiver<Incoming>,
    /// Networks' tasks (a sync loop, the terminal reader): stopped first.
    tasks: Vec<JoinHandle<()>>,
    /// A network that cannot go on (its session was revoked) says why here.
    failed: (mpsc::Sender<anyhow::Error>, mpsc::Receiver<anyhow::Error>),
    _reloader: Option<WatchGuard>,
}

impl<C: Chat> App<C> {
    /// An app over an open store, posting through `chat`.
    pub fn new(
        store: Store,
        chat: Arc<C>,
        clock: Clock,
        config: EngineConfig,
        schedule: watch::Receiver<Arc<Schedule>>,
    ) -> Self {
        let engine = Engine::new(store.clone(), chat, clock, config, schedule);
        let (events, events_rx) = mpsc::channel(EVENTS);
        App {
            store,
            engine,
            events,
            events_rx,
            tasks: Vec::new(),
            failed: mpsc::channel(1),
            _reloader: None,
        }
    }

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

    /// A network's task, stopped when the app stops.
    pub fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.push(tokio::spawn(task));
    }

    /// A network's task whose failure stops the app: `name` says which
    /// network in the error.
    pub fn spawn_network(
        &mut self,
        name: &'static str,
        task: impl Future<Output = anyhow::Result<()>> + Send + 'static,
    ) {
        let failed = self.failed.0.clone();
        self.spawn(async move {
            if let Err(e) = task.await {
                let _ = failed.send(e.context(format!("{name} stopped"))).await;
            }
        });
    }

    /// Serves the web pages on `listener` while the app runs.
    pub fn serve_web(&mut self, listener: tokio::net::TcpListener, site: crate::web::Site) {
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        tracing::info!(%addr, "serving the transcript pages");
        self.spawn(async move {
            let never = std::future::pending::<()>();
            if let Err(e) = crate::web::serve(listener, Arc::new(site), never).await {
                tracing::error!(cause = %e, %addr, "the web server stopped");
            }
        });
    }

    /// Erases what is older than `retention` (counted from each debate's
    /// start; see [`retention`]), now and every hour.
    pub fn purge_after(&mut self, retention: chrono::Duration, clock: Clock, data_dir: PathBuf) {
        let store = self.store.clone();
        self.spawn(async move {
            let mut hourly = tokio::time::interval(Duration::from_secs(3600));
            loop {
                hourly.tick().await;
                let now = clock.now();
                match retention::purge(&store, &data_dir, now - retention, now).await {
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
    pub fn watch_schedule(
        &mut self,
        path: PathBuf,
        tx: watch::Sender<Arc<Schedule>>,
        clock: Clock,
    ) -> notify::Result<()> {
        self._reloader = Some(reload::watch(path, tx, clock)?);
        Ok(())
    }

    /// Runs until `stop` completes (or the engine fails), then shuts down
    /// in order.
    ///
    /// # Errors
    /// The engine's failures.
    pub async fn run(self, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
        let App {
            engine,
            events,
            events_rx,
            tasks,
            mut failed,
            _reloader,
            ..
        } = self;
        // The engine's own channel stays open while networks are stopped.
        drop(events);
        let (halt, halted) = oneshot::channel::<()>();
        let engine = engine.run(events_rx, async {
            let _ = halted.await;
        });
        tokio::pin!(engine, stop);
        let mut failure = None;
        tokio::select! {
            result = &mut engine => return result,
            () = &mut stop => {}
            Some(e) = failed.1.recv() => {
                tracing::error!(cause = %format!("{e:#}"), "stopping");
                failure = Some(e);
            }
        }
        tracing::info!("stopping: no more events are taken; committing what was received");
        for task in &tasks {
            task.abort();
        }
        let _ = halt.send(());
        let stopped = match tokio::time::timeout(SHUTDOWN_DEADLINE, engine).await {
            Ok(result) => result,
            Err(_) => {
                tracing::error!(waited = ?SHUTDOWN_DEADLINE,
                    "the store did not take the last replies in time; they were not \
                     acknowledged, so the network delivers them again after a restart");
                Ok(())
            }
        };
        match failure {
            Some(e) => Err(e),
            None => stopped,
        }
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
