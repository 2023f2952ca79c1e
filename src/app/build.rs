//! One startup path. `podium run`, a rehearsal and the tests describe what
//! they want in one [`Options`] (and which networks, [`Networks`]), and
//! [`build`] wires it: the store, the engine, the networks, the web
//! server, the schedule reloader and the retention task. They differ only
//! in what they ask for, so a test's bot is started the way `podium run`
//! starts, as zero2prod's `spawn_app` is.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{App, SHUTDOWN_DEADLINE, Tokens};
use crate::chat::console::{ConsoleChat, read_stdin};
use crate::chat::irc::Irc;
use crate::chat::later::{Connected, Later};
use crate::chat::matrix::{LoginError, Matrix, MatrixChat};
use crate::chat::router::{self, Router};
use crate::chat::{Chat, Incoming, Room};
use crate::clock::Clock;
use crate::config::{IrcConfig, MatrixConfig, ReplicasConfig};
use crate::domain::Refused;
use crate::engine::{Engine, EngineConfig};
use crate::health::Health;
use crate::schedule::Schedule;
use crate::store::{Database, Store};
use crate::web::Site;

/// Events waiting for the engine at most; a network waits when it is full.
pub const EVENTS: usize = 1024;

/// Read-only connections the web pages are served from.
const READERS: usize = 4;

/// Matrix's name in the health report.
const MATRIX_HEALTH: &str = "matrix";

/// What an app is built from, the networks apart.
pub struct Options {
    /// Podium's own files: the SQLite store (`podium.db`, unless
    /// [`Options::database`] names PostgreSQL or [`Options::store`] hands
    /// one in), Matrix's session and the rehearsal files. `None`: nothing
    /// on disk (tests), the store in memory.
    pub data_dir: Option<PathBuf>,
    /// Where the store is: SQLite in the data directory unless it names
    /// PostgreSQL.
    pub database: Database,
    /// A store already open: one a rehearsal opened with [`open_store`] to
    /// plan its time line, or a test's.
    pub store: Option<Store>,
    pub clock: Clock,
    pub engine: EngineConfig,
    pub schedule: Arc<Schedule>,
    /// The schedule's file, reloaded when it changes and on SIGHUP.
    pub schedule_file: Option<PathBuf>,
    /// Where the web pages are served (port 0: any free port; see
    /// [`App::web_addr`]).
    pub web: Option<SocketAddr>,
    /// Where the Prometheus metrics are served, on a listener of their
    /// own (port 0: any free port; see [`App::metrics_addr`]).
    pub metrics: Option<SocketAddr>,
    /// Answers are erased this long after their debate's start.
    pub retention: Option<chrono::Duration>,
    /// Incoming events that may wait for the engine before a network waits.
    pub queue: usize,
    /// How long stopping may take at most ([`SHUTDOWN_DEADLINE`]). `None`
    /// waits as long as it takes, for tests on paused time: a paused clock
    /// jumps to any timer while the store works on its own thread, so a
    /// deadline there would pass at once.
    pub shutdown_deadline: Option<Duration>,
    /// One of several replicas sharing a PostgreSQL database.
    pub replicas: Option<ReplicasConfig>,
}

impl Options {
    /// An app on `clock` with `engine`'s settings hosting `schedule`, and
    /// nothing else: no files, no web pages, no reloading, no retention.
    pub fn new(clock: Clock, engine: EngineConfig, schedule: Arc<Schedule>) -> Options {
        Options {
            data_dir: None,
            database: Database::default(),
            store: None,
            clock,
            engine,
            schedule,
            schedule_file: None,
            web: None,
            metrics: None,
            retention: None,
            queue: EVENTS,
            shutdown_deadline: Some(SHUTDOWN_DEADLINE),
            replicas: None,
        }
    }
}

/// The networks an app hosts its debates on, each connected in its own
/// task behind one [`Router`].
#[derive(Default)]
pub struct Networks {
    pub matrix: Option<MatrixConfig>,
    pub irc: Option<IrcConfig>,
    /// The terminal, for a rehearsal.
    pub console: Option<Console>,
}

/// The terminal as a network: the rehearsal's room, typed lines its
/// messages.
pub struct Console {
    pub chat: Arc<ConsoleChat>,
    pub room: Room,
    /// How many typed lines are waiting for their answer.
    pub pending: watch::Sender<usize>,
}

/// The store an app writes to: the one place it is opened, where
/// `database` says (SQLite in the data directory, or PostgreSQL; the data
/// directory is locked either way: one writer per directory), or in
/// memory without a data directory.
///
/// # Errors
/// The store cannot be opened (see [`Store::open_at`]); the error is the
/// [`crate::store::StoreError`], for callers to tell a database that
/// refuses Podium from other failures.
pub async fn open_store(database: &Database, data_dir: Option<&Path>) -> anyhow::Result<Store> {
    let Some(dir) = data_dir else {
        return Ok(Store::open_memory().await?);
    };
    let store = Store::open_at(database, dir).await?;
    tracing::info!(store = store.backend_name(), at = %database.shown(dir), "store open");
    Ok(store)
}

/// The store of one of several replicas: PostgreSQL, shared with the
/// others; network cursors kept under this replica's name.
async fn open_replica_store(
    database: &Database,
    data_dir: Option<&Path>,
    name: &str,
) -> anyhow::Result<Store> {
    let Some(dir) = data_dir else {
        anyhow::bail!("a replica needs a data directory (its Matrix device and keys live there)");
    };
    let store = Store::open_replica_at(database, dir)
        .await?
        .for_replica(name);
    tracing::info!(store = store.backend_name(), at = %database.shown(dir), "store open");
    Ok(store)
}

/// The store the web pages read: connections of their own (read-only),
/// apart from the engine's writer; the writer's own in memory.
async fn open_readers(
    database: &Database,
    data_dir: Option<&Path>,
    store: &Store,
) -> anyhow::Result<Store> {
    Ok(match data_dir {
        Some(dir) => Store::open_readers_at(database, dir, READERS).await?,
        None => store.clone(),
    })
}

/// The app `opts` describe, hosting debates on `networks`. The store opens
/// first (local, fast); then the engine and the web server are ready to
/// start at once, and each network connects in its own task, so one slow
/// to connect (a homeserver far away, an IRC server that never answers
/// TLS) holds up neither the others nor the pages. Settings a network
/// refuses end [`App::run`] with [`Refused`].
///
/// # Errors
/// The store cannot be opened, or the web address cannot be listened on.
pub async fn build(opts: Options, networks: Networks) -> anyhow::Result<App<Router>> {
    let Networks {
        matrix,
        mut irc,
        console,
    } = networks;
    if let Some(irc) = &mut irc {
        irc.replicas = opts.replicas.is_some();
    }
    let mut router = Router::new();
    let connected = matrix.as_ref().map(|_| {
        let (later, connected) = Later::new(router::MATRIX);
        router = std::mem::take(&mut router).with_matrix_later(later);
        connected
    });
    let irc = irc.as_ref().map(Irc::new);
    if let Some(irc) = &irc {
        router = router.with_irc(irc.chat());
    }
    if let Some(console) = &console {
        router = router.with_console(console.chat.clone());
    }
    report_unserved(&opts.schedule, &router);
    let health = Health::default();
    // Every configured network is starting until it says otherwise, so
    // the pages, which start first, never report ok before it is up.
    if matrix.is_some() {
        health.set(MATRIX_HEALTH, false, "logging in");
    }
    if irc.is_some() {
        health.set(crate::chat::irc::NETWORK, false, "connecting");
    }
    let data_dir = opts.data_dir.clone();
    let mut app = assemble(opts, Arc::new(router), health).await?;
    if let (Some(config), Some(connected)) = (matrix, connected) {
        let Some(data_dir) = data_dir else {
            anyhow::bail!("Matrix needs a data directory for its session");
        };
        let login = MatrixLogin {
            config,
            data_dir,
            connected,
        };
        let (store, events, schedule, health) = app.network_parts();
        app.spawn_network("Matrix", |stop| {
            login.run(store, events, schedule, health, stop)
        });
    }
    if let Some(irc) = irc {
        let (store, events, schedule, health) = app.network_parts();
        app.spawn_network("IRC", |stop| irc.run(store, events, schedule, health, stop));
    }
    if let Some(console) = console {
        let events = app.events();
        app.spawn_network("the terminal", |stop| async move {
            read_stdin(events, console.room, console.chat, console.pending, stop).await;
            Ok(())
        });
    }
    Ok(app)
}

/// The app `opts` describe, posting through `chat` (the tests' own
/// networks): everything [`build`] wires but the networks.
///
/// # Errors
/// The store cannot be opened, or the web address cannot be listened on.
pub async fn build_with<C: Chat>(opts: Options, chat: Arc<C>) -> anyhow::Result<App<C>> {
    assemble(opts, chat, Health::default()).await
}

/// The store, the engine, and the services `opts` ask for.
async fn assemble<C: Chat>(opts: Options, chat: Arc<C>, health: Health) -> anyhow::Result<App<C>> {
    let store = match (opts.store, &opts.replicas) {
        (Some(store), Some(r)) => store.for_replica(&r.name),
        (Some(store), None) => store,
        (None, Some(r)) => {
            open_replica_store(&opts.database, opts.data_dir.as_deref(), &r.name).await?
        }
        (None, None) => open_store(&opts.database, opts.data_dir.as_deref()).await?,
    };
    let (schedule, schedule_rx) = watch::channel(opts.schedule);
    let mut engine = Engine::new(
        store.clone(),
        chat,
        opts.clock.clone(),
        opts.engine,
        schedule_rx.clone(),
    );
    let mut keeper = None;
    if let Some(r) = &opts.replicas {
        let dir = opts
            .data_dir
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("a replica needs a data directory"))?;
        let home = crate::replicas::home_id(dir).map_err(|e| {
            anyhow::anyhow!("cannot keep the replica's id in {}: {e}", dir.display())
        })?;
        let settings = crate::replicas::Settings {
            home,
            name: r.name.clone(),
            renew: r.renew,
            ttl: r.ttl,
        };
        let (k, leadership) =
            crate::replicas::Keeper::register(store.clone(), settings, schedule_rx.clone()).await?;
        engine = engine.with_leadership(leadership);
        keeper = Some(k.reporting_to(health.clone()));
    }
    let (events, events_rx) = mpsc::channel(opts.queue);
    let mut app = App {
        store,
        engine,
        events,
        events_rx,
        schedule,
        health,
        clock: opts.clock,
        tokens: Tokens::new(),
        networks: tokio::task::JoinSet::new(),
        services: tokio::task::JoinSet::new(),
        failed: mpsc::channel(1),
        web_addr: None,
        metrics_addr: None,
        deadline: opts.shutdown_deadline,
    };
    if let Some(keeper) = keeper {
        let released = app.tokens.released.clone();
        app.services.spawn(keeper.run(released));
    }
    if let Some(addr) = opts.web {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot serve the web pages on {addr}: {e}"))?;
        let readers = open_readers(&opts.database, opts.data_dir.as_deref(), &app.store).await?;
        let site = Site::new(readers, schedule_rx, app.health.clone(), app.clock.clone());
        app.serve_web(listener, site);
    }
    if let Some(addr) = opts.metrics {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot serve the metrics on {addr}: {e}"))?;
        app.serve_metrics(listener);
    }
    if let Some(retention) = opts.retention {
        app.purge_after(retention, opts.data_dir.clone());
    }
    if let Some(path) = opts.schedule_file
        && let Err(e) = app.watch_schedule(path.clone())
    {
        tracing::warn!(cause = %e, file = %path.display(),
            "cannot watch the schedule for changes; send SIGHUP or restart after editing it");
    }
    Ok(app)
}

impl<C: Chat> App<C> {
    /// What a network's task is handed: the store (for its cursor and
    /// presence), where to deliver events, the schedule (for its rooms)
    /// and the health report.
    fn network_parts(
        &self,
    ) -> (
        Store,
        mpsc::Sender<Incoming>,
        watch::Receiver<Arc<Schedule>>,
        Health,
    ) {
        (
            self.store.clone(),
            self.events(),
            self.schedule.subscribe(),
            self.health.clone(),
        )
    }
}

/// Matrix's task: log in (waiting out a homeserver out of reach), join
/// the schedule's rooms, hand the connection to the engine, then sync.
struct MatrixLogin {
    config: MatrixConfig,
    data_dir: PathBuf,
    connected: Connected<MatrixChat>,
}

impl MatrixLogin {
    async fn run(
        self,
        store: Store,
        events: mpsc::Sender<Incoming>,
        schedule: watch::Receiver<Arc<Schedule>>,
        health: Health,
        stop: CancellationToken,
    ) -> anyhow::Result<()> {
        health.set(MATRIX_HEALTH, false, "logging in");
        let connect = Matrix::connect(&self.config, &self.data_dir);
        // Stopped while logging in (a homeserver out of reach): nothing
        // was received yet, so nothing is lost.
        let matrix = match stop.run_until_cancelled(connect).await {
            None => return Ok(()),
            Some(Ok(m)) => m,
            Some(Err(e @ LoginError::Refused { .. })) => return Err(Refused(e.to_string()).into()),
            Some(Err(e)) => return Err(e.into()),
        };
        let now = schedule.borrow().clone();
        if stop.run_until_cancelled(matrix.join(&now)).await.is_none() {
            return Ok(());
        }
        self.connected.set(matrix.chat());
        matrix.run(store, events, schedule, health, stop).await
    }
}

/// Rooms on networks Podium is not connected to are named once, at start;
/// their posts are skipped (with a log line each) rather than failing.
fn report_unserved(schedule: &Schedule, router: &Router) {
    for debate in &schedule.debates {
        for room in debate.rooms.iter().filter(|r| !router.serves(r.network())) {
            tracing::warn!(debate = %debate.id, room = %room,
                "no {} connection is configured: this room's posts will be skipped",
                room.network());
        }
    }
}
