//! The command line: argument parsing and one file per command. Each is a
//! thin layer over the library, so tests reach the same code without a
//! process.

mod check;
mod config;
mod db;
mod ics;
mod load;
mod rehearse;
mod replicas;
mod run;
mod schedule;
mod transcript;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, NaiveTime, Utc};
use clap::{Args, Parser, Subcommand};

use crate::config::{Config, Overrides};

/// Exit status for a schedule with errors (as the contract says).
pub const EXIT_INVALID: u8 = 2;
/// Exit status for a wrong command line (sysexits' EX_USAGE).
pub const EXIT_USAGE: u8 = 64;
/// Exit status for bad configuration (sysexits' EX_CONFIG).
pub const EXIT_CONFIG: u8 = 78;
/// Exit status for other failures (unreadable file, bad arguments to a command).
pub const EXIT_FAILURE: u8 = 1;

#[derive(Debug, Parser)]
#[command(
    name = "podium",
    version,
    about = "Hosts scheduled debates in Matrix rooms and IRC channels",
    long_about = "Podium hosts scheduled debates: it announces them ahead of time with the \
time in every listed zone, posts the intro and the numbered questions on time, \
collects the answers and publishes a transcript.\n\n\
Debates are kept in a YAML file (default ./debates.yaml; see README.md for \
the format). Start with `podium check` to validate it and `podium schedule` to \
see the coming debates in every zone."
)]
pub struct Cli {
    /// Pretend the current time is this RFC 3339 instant (for tests and demos).
    #[arg(long, global = true, hide = true, value_parser = parse_instant)]
    pub now: Option<DateTime<Utc>>,

    /// Where Podium keeps its database (podium.db) and rehearsal logs
    /// [default: data; env: PODIUM_DATA_DIR; podium.toml: data_dir].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// The configuration file [default: ./podium.toml when present]. Every
    /// setting can also come from the environment (PODIUM_<SECTION>_<KEY>);
    /// `podium config` shows them all.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a schedule file and report every problem in it.
    ///
    /// Errors are printed as FILE:LINE:COLUMN: error: MESSAGE, with a hint
    /// where one helps; warnings and notes (such as weeks when clocks change
    /// on different dates in the shown zones) follow the same form. Exit
    /// status: 0 valid, 2 invalid, 1 unreadable.
    Check(FileArg),
    /// List the occurrences of every debate in a window, in every shown zone.
    ///
    /// Without --from and --until, shows the next 90 days. The schedule's
    /// warnings go to stderr as `check` prints them; --until not after
    /// --from exits 64.
    Schedule(ScheduleArgs),
    /// Write the schedule as an iCalendar (RFC 5545) file for calendar apps.
    ///
    /// Repeating debates become RRULEs in the debate's own time zone, so they
    /// keep their wall-clock time across daylight-saving changes.
    Ics(IcsArgs),
    /// Run one debate now in the terminal, on a compressed clock.
    ///
    /// Reminders, the intro, the questions and the closing are printed as
    /// they fall due; each line you type is a reply (`name: text` speaks as
    /// someone else; `A2: ...` answers Q2), and organiser commands such as
    /// !skip and !end work. At the end it writes the transcript and says
    /// where. Interrupted (Ctrl-C, or killed), the same command resumes it.
    Rehearse(RehearseArgs),
    /// Print the transcript of a debate from the store.
    ///
    /// Without --date, the most recent occurrence that has started
    /// (rehearsals included). Reads the database without locking it, so it
    /// works beside a running Podium and on a read-only copy of the data.
    Transcript(TranscriptArgs),
    /// Host the schedule's debates on the configured networks until SIGINT
    /// or SIGTERM.
    ///
    /// Needs Matrix or IRC configured (see `podium config`); exits 78 with
    /// what to set when neither is. The schedule is re-read when it changes
    /// and on SIGHUP. Logs go to stderr (RUST_LOG=podium=debug for more).
    Run,
    /// Print the effective configuration and where each value came from.
    ///
    /// Secrets are shown as ***. Bad configuration is reported with its
    /// place (podium.toml:LINE:COLUMN, or the environment variable) and
    /// exit status 78.
    Config,
    /// Move the store between databases.
    #[command(subcommand)]
    Db(DbCommand),
    /// List the replicas sharing the PostgreSQL database and the debates
    /// each leads.
    ///
    /// Each replica (live ones first) with when it started and was last
    /// seen, and the debates whose lease it holds, with the lease's epoch,
    /// its expiry and, from the schedule, the debate's rooms; then the
    /// leases no replica holds (free, or expired: their holder stopped
    /// renewing them) and the schedule's debates that have no lease yet.
    /// Live and expired are judged by the database's clock. Reads in
    /// read-only transactions, beside running replicas. Replicas need
    /// PostgreSQL: with the SQLite store it exits 78. See docs/replicas.md.
    Replicas(replicas::ReplicasArgs),
}

#[derive(Debug, clap::Subcommand)]
pub enum DbCommand {
    /// Copy the SQLite store of the data directory into PostgreSQL.
    ///
    /// Every table and row, ids included, in one transaction, into an empty
    /// database (its tables are created first). Then checks that every
    /// table has as many rows on both sides and that every occurrence's
    /// transcript renders byte-identical from both, in every format; exit
    /// status 1 if anything differs. Stop Podium first: what it writes
    /// during the copy is not copied. Afterwards set PODIUM_DATABASE_URL
    /// (or database.url) to the same URL and start Podium again.
    Copy(DbCopyArgs),
}

#[derive(Debug, Args)]
pub struct DbCopyArgs {
    /// The PostgreSQL database to copy into [default: the configured
    /// database.url; env: PODIUM_DATABASE_URL]. Better given through the
    /// environment than here, where other users' `ps` can see the password.
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
}

#[derive(Debug, Args)]
pub struct RehearseArgs {
    /// The debate's id in the schedule.
    pub debate: String,
    /// How many times faster than real time (60: an hour takes a minute).
    #[arg(long, default_value_t = 60.0, value_parser = parse_speed)]
    pub speed: f64,
    /// Start a new rehearsal even if an unfinished one could be resumed.
    #[arg(long)]
    pub fresh: bool,
    /// The schedule file [default: debates.yaml; env: PODIUM_SCHEDULE].
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Base of transcript links [default: http://127.0.0.1:8080; env:
    /// PODIUM_PUBLIC_URL].
    #[arg(long)]
    pub public_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct TranscriptArgs {
    /// The debate's id.
    pub debate: String,
    /// The occurrence's date, local to the debate (YYYY-MM-DD).
    #[arg(long, value_parser = crate::schedule::time::parse_date)]
    pub date: Option<chrono::NaiveDate>,
    #[arg(long, value_enum, default_value = "md")]
    pub format: crate::transcript::Format,
}

fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 100_000.0 => Ok(v),
        _ => Err(format!(
            "`{s}` is not a speed: give a number from 0.01 to 100000"
        )),
    }
}

#[derive(Debug, Args)]
pub struct FileArg {
    /// The schedule file [default: debates.yaml; env: PODIUM_SCHEDULE;
    /// podium.toml: schedule].
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(flatten)]
    pub file: FileArg,
    /// Start of the window: a date (2011-11-01, midnight UTC) or an RFC 3339 instant.
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub from: Option<DateTime<Utc>>,
    /// End of the window (exclusive), in the same forms as --from.
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub until: Option<DateTime<Utc>>,
    /// Print a JSON array instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct IcsArgs {
    #[command(flatten)]
    pub file: FileArg,
    /// Write to this file instead of standard output.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
}

fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 instant ({e}); e.g. 2011-11-01T20:00:00Z"))
}

/// WHEN: a date (midnight UTC) or an RFC 3339 instant.
fn parse_when(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(date) = crate::schedule::time::parse_date(s) {
        return Ok(date.and_time(NaiveTime::MIN).and_utc());
    }
    parse_instant(s).map_err(|_| {
        format!(
            "`{s}` is neither a date (2011-11-01) nor an RFC 3339 instant (2011-11-01T20:00:00Z)"
        )
    })
}

/// What every command may need: the time, and how to find the
/// configuration.
pub struct Ctx {
    pub now: DateTime<Utc>,
    pub config_file: Option<PathBuf>,
    pub overrides: Overrides,
}

impl Ctx {
    /// The configuration; its errors are printed and become the exit status.
    pub fn config(&self) -> Result<Config, ExitCode> {
        self.config_with(self.overrides.clone())
    }

    pub fn config_with(&self, overrides: Overrides) -> Result<Config, ExitCode> {
        load::config(self.config_file.as_deref(), &overrides)
    }

    /// The schedule file: as given, or as configured.
    pub fn schedule_file(&self, given: Option<&Path>) -> Result<PathBuf, ExitCode> {
        match given {
            Some(path) => Ok(path.to_owned()),
            None => self.config().map(|c| c.schedule),
        }
    }
}

/// Runs a parsed command line; returns the process exit status.
pub fn run(cli: Cli) -> ExitCode {
    init_tracing(matches!(cli.command, Command::Run));
    let ctx = Ctx {
        now: cli.now.unwrap_or_else(Utc::now),
        config_file: cli.config,
        overrides: Overrides {
            data_dir: cli.data_dir,
            ..Overrides::default()
        },
    };
    // Buffered: a year of a large schedule is tens of thousands of lines.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let result = match cli.command {
        Command::Check(args) => check::run(&ctx, &args, &mut out),
        Command::Schedule(args) => schedule::run(&ctx, &args, &mut out),
        Command::Ics(args) => ics::run(&ctx, &args, &mut out),
        Command::Transcript(args) => transcript::run(&ctx, &args, &mut out),
        Command::Config => config::run(&ctx, &mut out),
        Command::Db(DbCommand::Copy(args)) => db::copy(&ctx, &args, &mut out),
        Command::Replicas(args) => replicas::run(&ctx, &args, &mut out),
        Command::Rehearse(args) => {
            drop(out);
            return rehearse::run(&ctx, args);
        }
        Command::Run => {
            drop(out);
            return run::run(&ctx);
        }
    };
    let result = result.and_then(|code| {
        out.flush()?;
        Ok(code)
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("podium: {e:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Logs go to stderr; `RUST_LOG` (e.g. `podium=debug`) sets how much. The
/// long-running bot says what it does (info); one-shot commands only what
/// went wrong (warn).
fn init_tracing(long_running: bool) {
    use tracing_subscriber::prelude::*;

    // matrix-sdk logs benign conditions (a 404 for account data not set
    // yet, no key backup) as errors and warnings; Podium logs its own
    // failures with what they mean, so the SDK's are kept to errors that
    // are not about single HTTP requests.
    let default = if long_running {
        "podium=info,warn,matrix_sdk=error,matrix_sdk_base=error,matrix_sdk_crypto=error,\
         matrix_sdk::http_client=off"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // The irc crate logs every line it sends at trace level, passwords
    // (PASS, AUTHENTICATE, NickServ IDENTIFY) included: never shown, even
    // with RUST_LOG=trace. Podium logs what happens on IRC itself.
    let no_irc_lines = tracing_subscriber::filter::filter_fn(|m| {
        !(m.target().starts_with("irc") && *m.level() >= tracing::Level::DEBUG)
    });
    // Colours only for a terminal: a log file or the journal gets text.
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter).with_filter(no_irc_lines))
        .try_init();
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
