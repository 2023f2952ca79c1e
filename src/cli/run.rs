//! `podium run`: the long-running bot. It hosts the schedule's debates on
//! the configured networks until SIGINT or SIGTERM, reloading the schedule
//! when it changes.

use std::process::ExitCode;
use std::sync::Arc;

use chrono::Utc;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use super::load::load;
use super::{Ctx, EXIT_CONFIG, EXIT_FAILURE, runtime};
use crate::app::{App, shutdown_signal};
use crate::chat::Incoming;
use crate::chat::irc::Irc;
use crate::chat::later::{Connected, Later};
use crate::chat::matrix::{LoginError, Matrix, MatrixChat};
use crate::chat::router::{self, Router};
use crate::clock::Clock;
use crate::config::{Config, MatrixConfig};
use crate::domain::Refused;
use crate::engine::EngineConfig;
use crate::health::Health;
use crate::schedule::{Schedule, Severity};
use crate::store::{Store, StoreError};
use crate::web::Site;

/// Matrix's name in the health report.
const MATRIX_HEALTH: &str = "matrix";

/// What `podium run` says when no network is configured.
const NO_NETWORK: &str = "podium: no chat network is configured, so there is nowhere to host \
debates.
  Matrix: set PODIUM_MATRIX_HOMESERVER, PODIUM_MATRIX_USER and PODIUM_MATRIX_PASSWORD (or \
PODIUM_MATRIX_PASSWORD_FILE), or [matrix] homeserver, user and password in podium.toml.
  IRC: set PODIUM_IRC_SERVER (host:port) and PODIUM_IRC_NICK, or [irc] server and nick.
`podium config` shows what is set and where it came from; `podium rehearse DEBATE` tries a \
debate in the terminal without any network.";

pub fn run(ctx: &Ctx) -> ExitCode {
    // Before the runtime's threads: the umask is the whole process's.
    crate::store::keep_new_files_private();
    let config = match ctx.config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    if config.matrix.is_none() && config.irc.is_none() {
        eprintln!("{NO_NETWORK}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let schedule = match load(
        &config.schedule,
        ctx.now,
        &[Severity::Error, Severity::Warning],
    ) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let result = runtime().and_then(|rt| {
        let result = rt.block_on(serve(&config, schedule));
        rt.shutdown_timeout(std::time::Duration::from_secs(1));
        result
    });
    match result {
        Ok(RunEnd::Stopped) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Ok(RunEnd::Refused(why)) => {
            // Restarting will not help: exit as a configuration error, so
            // a supervisor can tell (systemd: RestartPreventExitStatus=78).
            eprintln!("podium: {why}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(e) => {
            eprintln!("podium: {e:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Opens the store, then starts the engine, the web server and each
/// network's connection side by side: one network slow to connect (a
/// homeserver far away, an IRC server that never answers TLS) holds up
/// neither the others nor the pages. Settings a network refuses still end
/// `podium run` as a configuration error.
async fn serve(config: &Config, schedule: Schedule) -> anyhow::Result<RunEnd> {
    let store = match Store::open_at(&config.database, &config.data_dir).await {
        Ok(store) => store,
        // A database that refuses us, cannot be reached at start or is in
        // use by another Podium is the operator's to fix: restarting will
        // not help (the URL is shown without its password).
        Err(e @ (StoreError::Connect { .. } | StoreError::InUse { .. })) => {
            return Ok(RunEnd::Refused(e.to_string()));
        }
        Err(e) => return Err(e.into()),
    };
    let readers = Store::open_readers_at(&config.database, &config.data_dir, 4).await?;
    tracing::info!(store = store.backend_name(), at = %config.database.shown(&config.data_dir),
        "store open");
    let listener = TcpListener::bind(config.web_addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot serve the web pages on {}: {e}", config.web_addr))?;
    let (router, matrix, irc) = networks(config);
    report_unserved(&schedule, &router);
    if let Some(next) = schedule.occurrences_after(Utc::now()) {
        tracing::info!(debate = %next.debate.id, at = %next.time_line().render(), "next debate");
    }
    let clock = Clock::System;
    let (tx, rx) = watch::channel(Arc::new(schedule));
    let engine = EngineConfig::new(config.timings, &config.public_url);
    let health = Health::default();
    // Every configured network is starting until it says otherwise, so
    // the pages, which start first, never report ok before it is up.
    if config.matrix.is_some() {
        health.set(MATRIX_HEALTH, false, "logging in");
    }
    if config.irc.is_some() {
        health.set(crate::chat::irc::NETWORK, false, "connecting");
    }
    let router = Arc::new(router);
    let mut app = App::new(store.clone(), router, clock.clone(), engine, rx.clone());
    let site = Site::new(readers, rx.clone(), health.clone(), clock.clone());
    app.serve_web(listener, site);
    if let Some(retention) = config.retention {
        app.purge_after(retention, clock.clone(), config.data_dir.clone());
    }
    if let (Some(m), Some(connected)) = (&config.matrix, matrix) {
        let login = MatrixLogin {
            config: m.clone(),
            data_dir: config.data_dir.clone(),
            connected,
        };
        let run = login.run(store.clone(), app.events(), rx.clone(), health.clone());
        app.spawn_network("Matrix", run);
    }
    if let Some(irc) = irc {
        app.spawn_network("IRC", irc.run(store, app.events(), rx, health));
    }
    if let Err(e) = app.watch_schedule(config.schedule.clone(), tx, clock) {
        tracing::warn!(cause = %e, file = %config.schedule.display(),
            "cannot watch the schedule for changes; send SIGHUP or restart after editing it");
    }
    tracing::info!(data_dir = %config.data_dir.display(), schedule = %config.schedule.display(),
        "podium is running; SIGINT or SIGTERM stops it");
    match app.run(shutdown_signal()).await {
        Ok(()) => Ok(RunEnd::Stopped),
        Err(e) => match e.downcast_ref::<Refused>() {
            Some(refused) => Ok(RunEnd::Refused(refused.to_string())),
            None => Err(e),
        },
    }
}

/// The router over the configured networks, none connected yet: Matrix
/// with the handle its login completes, IRC with its connection to run.
fn networks(config: &Config) -> (Router, Option<Connected<MatrixChat>>, Option<Irc>) {
    let mut router = Router::new();
    let matrix = config.matrix.as_ref().map(|_| {
        let (later, connected) = Later::new(router::MATRIX);
        router = std::mem::take(&mut router).with_matrix_later(later);
        connected
    });
    let irc = config.irc.as_ref().map(Irc::new);
    if let Some(irc) = &irc {
        router = router.with_irc(irc.chat());
    }
    (router, matrix, irc)
}

/// Matrix's task: log in (waiting out a homeserver out of reach), join
/// the schedule's rooms, hand the connection to the engine, then sync.
struct MatrixLogin {
    config: MatrixConfig,
    data_dir: std::path::PathBuf,
    connected: Connected<MatrixChat>,
}

impl MatrixLogin {
    async fn run(
        self,
        store: Store,
        events: mpsc::Sender<Incoming>,
        schedule: watch::Receiver<Arc<Schedule>>,
        health: Health,
    ) -> anyhow::Result<()> {
        health.set(MATRIX_HEALTH, false, "logging in");
        let matrix = match Matrix::connect(&self.config, &self.data_dir).await {
            Ok(m) => m,
            Err(e @ LoginError::Refused { .. }) => return Err(Refused(e.to_string()).into()),
            Err(e) => return Err(e.into()),
        };
        let now = schedule.borrow().clone();
        matrix.join(&now).await;
        self.connected.set(matrix.chat());
        matrix.run(store, events, schedule, health).await
    }
}

/// How `podium run` ended, short of an error.
enum RunEnd {
    Stopped,
    /// A network refused the settings: a configuration problem.
    Refused(String),
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
