//! `podium run`: the long-running bot. It hosts the schedule's debates on
//! the configured networks until SIGINT or SIGTERM, reloading the schedule
//! when it changes.

use std::process::ExitCode;
use std::sync::Arc;

use chrono::Utc;

use super::load::load;
use super::{Ctx, EXIT_CONFIG, EXIT_FAILURE, runtime};
use crate::app::{self, Networks, Options, shutdown_signal};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::Refused;
use crate::engine::EngineConfig;
use crate::schedule::{Schedule, Severity};
use crate::store::StoreError;

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

/// Builds the app `config` describes and runs it until SIGINT or
/// SIGTERM. Settings a network refuses, and a database that refuses
/// Podium, cannot be reached at start or is in use by another Podium, end
/// `podium run` as a configuration error: restarting will not help (the
/// URL is shown without its password).
async fn serve(config: &Config, schedule: Schedule) -> anyhow::Result<RunEnd> {
    for exposed in config.exposed_secrets() {
        tracing::warn!("{}", exposed.message());
    }
    if let Some(next) = schedule.occurrences_after(Utc::now()) {
        tracing::info!(debate = %next.debate.id, at = %next.time_line().render(), "next debate");
    }
    let engine = EngineConfig::new(config.timings, &config.public_url);
    let mut opts = Options::new(Clock::System, engine, Arc::new(schedule));
    opts.data_dir = Some(config.data_dir.clone());
    opts.database = config.database.clone();
    opts.schedule_file = Some(config.schedule.clone());
    opts.web = Some(config.web_addr);
    opts.metrics = config.metrics_addr;
    opts.retention = config.retention;
    opts.replicas = config.replicas.clone();
    let networks = Networks {
        matrix: config.matrix.clone(),
        irc: config.irc.clone(),
        console: None,
    };
    let app = match app::build(opts, networks).await {
        Ok(app) => app,
        Err(e) => {
            return match e.downcast_ref::<StoreError>() {
                Some(
                    StoreError::Connect { .. }
                    | StoreError::InUse { .. }
                    | StoreError::ReplicaName { .. }
                    | StoreError::Unsupported(_),
                ) => Ok(RunEnd::Refused(e.to_string())),
                _ => Err(e),
            };
        }
    };
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

/// How `podium run` ended, short of an error.
enum RunEnd {
    Stopped,
    /// A network refused the settings: a configuration problem.
    Refused(String),
}
