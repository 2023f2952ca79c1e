//! `podium run`: the long-running bot. It hosts the schedule's debates on
//! the configured networks until SIGINT or SIGTERM, reloading the schedule
//! when it changes.

use std::process::ExitCode;
use std::sync::Arc;

use chrono::Utc;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::load::load;
use super::{Ctx, EXIT_CONFIG, EXIT_FAILURE, runtime};
use crate::app::{App, shutdown_signal};
use crate::chat::irc::Irc;
use crate::chat::matrix::{LoginError, Matrix};
use crate::chat::router::Router;
use crate::clock::Clock;
use crate::config::Config;
use crate::engine::EngineConfig;
use crate::health::Health;
use crate::schedule::{Schedule, Severity};
use crate::store::Store;
use crate::web::Site;

/// What `podium run` says when no network is configured.
const NO_NETWORK: &str = "podium: no chat network is configured, so there is nowhere to host \
debates.
  Matrix: set PODIUM_MATRIX_HOMESERVER, PODIUM_MATRIX_USER and PODIUM_MATRIX_PASSWORD (or \
PODIUM_MATRIX_PASSWORD_FILE), or [matrix] homeserver, user and password in podium.toml.
  IRC: set PODIUM_IRC_SERVER (host:port) and PODIUM_IRC_NICK, or [irc] server and nick.
`podium config` shows what is set and where it came from; `podium rehearse DEBATE` tries a \
debate in the terminal without any network.";

pub fn run(ctx: &Ctx) -> ExitCode {
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

/// The configured networks, connected (or, for IRC, still trying).
struct Networks {
    router: Router,
    matrix: Option<Matrix>,
    irc: Option<Irc>,
}

/// Logs in to Matrix and tries IRC once; settings a server refuses end
/// `podium run` with a configuration error.
async fn connect(config: &Config, schedule: &Schedule) -> anyhow::Result<Result<Networks, RunEnd>> {
    let mut networks = Networks {
        router: Router::new(),
        matrix: None,
        irc: None,
    };
    if let Some(m) = &config.matrix {
        // Stopping works while the homeserver is still out of reach too.
        let connected = tokio::select! {
            connected = Matrix::connect(m, &config.data_dir) => connected,
            () = shutdown_signal() => return Ok(Err(RunEnd::Stopped)),
        };
        match connected {
            Ok(connected) => {
                connected.join(schedule).await;
                networks.router = networks.router.with_matrix(connected.chat());
                networks.matrix = Some(connected);
            }
            Err(e @ LoginError::Refused { .. }) => return Ok(Err(RunEnd::Refused(e.to_string()))),
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(i) = &config.irc {
        let started = tokio::select! {
            started = Irc::start(i) => started,
            () = shutdown_signal() => return Ok(Err(RunEnd::Stopped)),
        };
        match started {
            Ok(irc) => {
                networks.router = networks.router.with_irc(irc.chat());
                networks.irc = Some(irc);
            }
            Err(e) => return Ok(Err(RunEnd::Refused(format!("IRC ({}): {e}", i.server)))),
        }
    }
    Ok(Ok(networks))
}

async fn serve(config: &Config, schedule: Schedule) -> anyhow::Result<RunEnd> {
    let store = Store::open(&config.data_dir).await?;
    let Networks {
        router,
        matrix,
        irc,
    } = match connect(config, &schedule).await? {
        Ok(n) => n,
        Err(end) => return Ok(end),
    };
    report_unserved(&schedule, &router);
    if let Some(next) = schedule.occurrences_after(Utc::now()) {
        tracing::info!(debate = %next.debate.id, at = %next.time_line().render(), "next debate");
    }
    let clock = Clock::System;
    let (tx, rx) = watch::channel(Arc::new(schedule));
    let engine = EngineConfig::new(config.timings, &config.public_url);
    let health = Health::default();
    let readers = Store::open_readers(&config.data_dir, 4).await?;
    let listener = TcpListener::bind(config.web_addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot serve the web pages on {}: {e}", config.web_addr))?;
    let router = Arc::new(router);
    let mut app = App::new(store.clone(), router, clock.clone(), engine, rx.clone());
    let site = Site::new(readers, rx.clone(), health.clone(), clock.clone());
    app.serve_web(listener, site);
    if let Some(retention) = config.retention {
        app.purge_after(retention, clock.clone(), config.data_dir.clone());
    }
    if let Some(matrix) = matrix {
        let run = matrix.run(store.clone(), app.events(), rx.clone(), health.clone());
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
    app.run(shutdown_signal()).await?;
    Ok(RunEnd::Stopped)
}

/// How `podium run` ended, short of an error.
enum RunEnd {
    Stopped,
    /// The homeserver refused the credentials: a configuration problem.
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
