//! The command line: argument parsing and the offline commands (`check`,
//! `schedule`, `ics`). Everything here is a thin layer over the library so
//! tests can reach the same code without a process.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Duration, NaiveTime, SecondsFormat, Utc};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::schedule::{self, Diagnostics, LoadError, Occurrence, Schedule, Severity};

/// Exit status for a schedule with errors (as the contract says).
pub const EXIT_INVALID: u8 = 2;
/// Exit status for a wrong command line (sysexits' EX_USAGE).
pub const EXIT_USAGE: u8 = 64;

/// Diagnostics printed at most, per run.
const MAX_SHOWN: usize = 100;

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

    /// Where Podium keeps its database (podium.db) and rehearsal logs.
    #[arg(
        long,
        global = true,
        env = "PODIUM_DATA_DIR",
        default_value = "data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,

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
    /// Without --from and --until, shows the next 90 days.
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
    /// (rehearsals included).
    Transcript(TranscriptArgs),
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
    /// The schedule file.
    #[arg(long, default_value = "debates.yaml", env = "PODIUM_SCHEDULE")]
    pub file: PathBuf,
    /// Base of transcript links.
    #[arg(
        long,
        env = "PODIUM_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: String,
}

#[derive(Debug, Args)]
pub struct TranscriptArgs {
    /// The debate's id.
    pub debate: String,
    /// The occurrence's date, local to the debate (YYYY-MM-DD).
    #[arg(long, value_parser = schedule::time::parse_date)]
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
    /// The schedule file.
    #[arg(default_value = "debates.yaml", env = "PODIUM_SCHEDULE")]
    pub file: PathBuf,
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
    if let Ok(date) = schedule::time::parse_date(s) {
        return Ok(date.and_time(NaiveTime::MIN).and_utc());
    }
    parse_instant(s).map_err(|_| {
        format!(
            "`{s}` is neither a date (2011-11-01) nor an RFC 3339 instant (2011-11-01T20:00:00Z)"
        )
    })
}

/// Runs a parsed command line; returns the process exit status.
pub fn run(cli: Cli) -> ExitCode {
    init_tracing();
    let now = cli.now.unwrap_or_else(Utc::now);
    // Buffered: a year of a large schedule is tens of thousands of lines.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let result = match cli.command {
        Command::Check(args) => check(&args.file, now, &mut out),
        Command::Schedule(args) => schedule_cmd(&args, now, &mut out),
        Command::Ics(args) => ics(&args, now, &mut out),
        Command::Rehearse(args) => {
            drop(out);
            return rehearse(args, &cli.data_dir, now);
        }
        Command::Transcript(args) => transcript(&args, &cli.data_dir, now, &mut out),
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

/// Loads the schedule, printing diagnostics to stderr. `Err(code)` when the
/// command cannot go on.
fn load(file: &Path, now: DateTime<Utc>, show: &[Severity]) -> Result<Schedule, ExitCode> {
    let name = file.display().to_string();
    let print = |diags: &Diagnostics| {
        let mut err = std::io::BufWriter::new(std::io::stderr().lock());
        let shown: Vec<_> = diags
            .0
            .iter()
            .filter(|d| show.contains(&d.severity))
            .collect();
        // A broken generated file can hold a million errors; the first
        // hundred say what is wrong.
        for d in shown.iter().take(MAX_SHOWN) {
            let _ = writeln!(err, "{}", d.render(&name));
        }
        if shown.len() > MAX_SHOWN {
            let _ = writeln!(err, "{name}: ... and {} more", shown.len() - MAX_SHOWN);
        }
    };
    match schedule::load(file, now) {
        Ok((schedule, diags)) => {
            print(&diags);
            Ok(schedule)
        }
        Err(LoadError::Invalid { diagnostics, .. }) => {
            print(&diagnostics);
            let errors = diagnostics.errors().count();
            eprintln!(
                "{name}: {errors} error{} found",
                if errors == 1 { "" } else { "s" }
            );
            Err(ExitCode::from(EXIT_INVALID))
        }
        Err(e @ LoadError::Read { .. }) => {
            eprintln!("podium: {e}");
            Err(ExitCode::from(EXIT_FAILURE))
        }
    }
}

fn check(file: &Path, now: DateTime<Utc>, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let all = [Severity::Error, Severity::Warning, Severity::Note];
    let schedule = match load(file, now, &all) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let repeating = schedule.debates.iter().filter(|d| d.is_repeating()).count();
    write!(
        out,
        "{}: ok, {} debate{} ({repeating} repeating)",
        file.display(),
        schedule.debates.len(),
        if schedule.debates.len() == 1 { "" } else { "s" },
    )?;
    match schedule.occurrences_after(now) {
        Some(next) => writeln!(
            out,
            "; next: {} on {}",
            next.debate.id,
            next.time_line().render()
        )?,
        None => writeln!(out, "; none still to come")?,
    }
    Ok(ExitCode::SUCCESS)
}

/// One occurrence as `podium schedule --json` prints it (see the design's contracts).
#[derive(Serialize)]
struct OccurrenceJson<'a> {
    debate: &'a str,
    title: &'a str,
    starts_at: String,
    ends_at: String,
    timezone: &'a str,
    /// Zone name → local time, by zone name (as a JSON object map sorts them).
    local: std::collections::BTreeMap<&'a str, String>,
    zones: Vec<&'a str>,
    rooms: Vec<String>,
    /// The announcement form, "Tue 1 Nov 2011 20:00 London · 16:00 New York".
    time_line: String,
    notes: Vec<String>,
    /// 0-based position in the series, counting skipped dates.
    occurrence: u32,
    /// "gap" or "fold" when the wall time had to be adjusted for daylight saving.
    adjusted: Option<&'static str>,
}

fn utc_string(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl<'a> OccurrenceJson<'a> {
    /// `line` is the occurrence's time line, computed once by the caller
    /// with remembered spreads.
    fn new(o: &Occurrence<'a>, line: schedule::zones::TimeLine) -> Self {
        let d = o.debate;
        OccurrenceJson {
            debate: &d.id,
            title: &d.title,
            starts_at: utc_string(o.starts_at),
            ends_at: utc_string(o.ends_at),
            timezone: d.timezone.name(),
            local: d
                .zones
                .iter()
                .map(|z| {
                    let local = o.starts_at.with_timezone(z);
                    (z.name(), local.to_rfc3339_opts(SecondsFormat::Secs, false))
                })
                .collect(),
            zones: d.zones.iter().map(|z| z.name()).collect(),
            rooms: d.rooms.iter().map(ToString::to_string).collect(),
            notes: line
                .mismatches
                .iter()
                .map(|m| m.sentence(o.starts_at))
                .collect(),
            time_line: line.text,
            occurrence: o.index,
            adjusted: o.adjustment.map(|a| match a {
                schedule::model::Adjustment::Gap => "gap",
                schedule::model::Adjustment::Fold => "fold",
            }),
        }
    }
}

fn schedule_cmd(
    args: &ScheduleArgs,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let from = args.from.unwrap_or(now);
    let until = args.until.unwrap_or(from + Duration::days(90));
    if until <= from {
        eprintln!(
            "podium: --until ({}) must be after --from ({}{})",
            utc_string(until),
            utc_string(from),
            if args.from.is_none() { ", now" } else { "" }
        );
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    // Warnings as `check` prints them (an occurrence moved by a gap or a
    // fold); notes are shown beside each occurrence instead.
    let schedule = match load(&args.file.file, now, &[Severity::Error, Severity::Warning]) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    // Streamed: each occurrence is written as it comes out of the merge, so
    // memory does not grow with the window.
    let mut spreads = schedule::zones::Spreads::default();
    let occurrences = schedule.occurrences_between(from, until).map(|o| {
        let line = o.time_line_in(&mut spreads);
        (o, line)
    });
    if args.json {
        let mut json = serde_json::Serializer::pretty(&mut *out);
        serde::Serializer::collect_seq(
            &mut json,
            occurrences.map(|(o, line)| OccurrenceJson::new(&o, line)),
        )?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut listed = false;
    for (o, line) in occurrences {
        listed = true;
        writeln!(out, "{}", line.text)?;
        writeln!(
            out,
            "    {}: {} ({})",
            o.debate.id,
            o.debate.title,
            schedule::time::format_duration(o.debate.duration)
        )?;
        for m in &line.mismatches {
            writeln!(out, "    note: {}", m.sentence(o.starts_at))?;
        }
    }
    if !listed {
        writeln!(
            out,
            "No debates between {} and {} (use --from and --until to look elsewhere).",
            utc_string(from),
            utc_string(until)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn ics(args: &IcsArgs, now: DateTime<Utc>, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let schedule = match load(&args.file.file, now, &[Severity::Error]) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let text = crate::ics::calendar(&schedule, now);
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?,
        None => out.write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Logs go to stderr; `RUST_LOG` (e.g. `podium=debug`) changes the level.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn rehearse(args: RehearseArgs, data_dir: &Path, now: DateTime<Utc>) -> ExitCode {
    let schedule = match load(&args.file, now, &[Severity::Error]) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let Some(debate) = schedule.debate(&args.debate).cloned() else {
        let ids: Vec<&str> = schedule.debates.iter().map(|d| d.id.as_str()).collect();
        eprintln!(
            "podium: no debate `{}` in {}; its debates are: {}",
            args.debate,
            args.file.display(),
            ids.join(", ")
        );
        return ExitCode::from(EXIT_FAILURE);
    };
    let opts = crate::rehearse::Options {
        debate,
        speed: args.speed,
        data_dir: data_dir.to_owned(),
        fresh: args.fresh,
        public_url: args.public_url,
    };
    let result = runtime().and_then(|rt| {
        let result = rt.block_on(crate::rehearse::run(opts, Box::new(std::io::stdout())));
        // Reading stdin blocks a thread until a line or EOF arrives; do not
        // wait for it once the rehearsal is over.
        rt.shutdown_background();
        result
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("podium: {e:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn transcript(
    args: &TranscriptArgs,
    data_dir: &Path,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let text = rt.block_on(async {
        // Read-only and without the data directory's lock: this works
        // beside a running Podium and on a read-only copy of its data.
        let store = crate::store::Store::open_read_only(data_dir).await?;
        let Some(occ) = crate::transcript::find(&store, &args.debate, args.date, now, true).await?
        else {
            return anyhow::Ok(None);
        };
        Ok(Some(
            crate::transcript::build(&store, &occ)
                .await?
                .render(args.format),
        ))
    })?;
    match text {
        Some(text) => {
            out.write_all(text.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            match args.date {
                Some(d) => eprintln!(
                    "podium: no occurrence of `{}` on {d} in the store",
                    args.debate
                ),
                None => eprintln!("podium: no occurrence of `{}` has started yet", args.debate),
            }
            Ok(ExitCode::from(EXIT_FAILURE))
        }
    }
}
