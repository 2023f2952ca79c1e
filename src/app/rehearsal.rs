//! `podium rehearse`: one debate, run now, in the terminal, on a compressed
//! clock. Posts are printed as they fall due; each typed line is a reply
//! (`name: text` speaks as someone else). Stopped (Ctrl-C, SIGTERM, a kill)
//! and started again, it resumes the same rehearsal on the same compressed
//! time line; it finishes once nothing is left to post, however late.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration, DurationRound, Utc};
use tokio::sync::{broadcast, watch};

use super::{App, Console, Networks, shutdown_signal};
use crate::chat::Room;
use crate::chat::console::ConsoleChat;
use crate::chat::router::Router;
use crate::clock::Clock;
use crate::engine::{EngineConfig, Notice};
use crate::schedule::{Debate, Schedule};
use crate::store::{NewOccurrence, OccurrenceRow, Store};
use crate::transcript;

pub struct Options {
    pub debate: Debate,
    pub speed: f64,
    pub data_dir: PathBuf,
    /// Where the store is (PostgreSQL, or SQLite in `data_dir`).
    pub database: crate::store::Database,
    pub fresh: bool,
    pub engine: EngineConfig,
}

/// The rehearsal copy of a debate: held in the console room, starting at
/// `start`, with only its shortest reminder.
fn rehearsal_debate(debate: &Debate, start: DateTime<Utc>) -> Debate {
    let mut d = debate.clone();
    d.rooms = vec![Room::Console("rehearsal".to_owned())];
    d.remind = debate.remind.last().copied().into_iter().collect();
    d.repeat = None;
    d.public = false;
    d.starts = start.with_timezone(&d.timezone).naive_local();
    d.first_start = start;
    d
}

/// The rehearsal's compressed time line: its scheduled start, the real
/// instant its clock started from and its speed.
struct TimeLine {
    start: DateTime<Utc>,
    origin: DateTime<Utc>,
    speed: f64,
}

/// The latest rehearsal is resumed until its transcript file exists: a kill
/// after the last post but before the transcript was written must not lose
/// it. Otherwise a new one starts now, its intro after the last reminder.
async fn time_line(store: &Store, opts: &Options) -> anyhow::Result<(TimeLine, bool)> {
    let id = &opts.debate.id;
    let resumed = if opts.fresh {
        None
    } else {
        store
            .latest_rehearsal(id)
            .await?
            .filter(|row| !transcript_path(&opts.data_dir, id, row.scheduled_start).exists())
    };
    Ok(match resumed {
        Some(row) => (
            TimeLine {
                start: row.scheduled_start,
                origin: row.clock_real_base.unwrap_or(row.scheduled_start),
                speed: row.clock_speed.unwrap_or(opts.speed),
            },
            true,
        ),
        None => {
            let origin = Utc::now().duration_trunc(Duration::milliseconds(1))?;
            let lead = opts
                .debate
                .remind
                .last()
                .copied()
                .unwrap_or_else(Duration::zero);
            let line = TimeLine {
                start: origin + lead,
                origin,
                speed: opts.speed,
            };
            (line, false)
        }
    })
}

/// Runs the rehearsal to the end (or until stopped).
///
/// # Errors
/// Store or console log failures.
pub async fn run(opts: Options, out: Box<dyn Write + Send>) -> anyhow::Result<()> {
    // Opened before the app: the rehearsal's time line is planned from
    // what an earlier run of it left.
    let store = super::open_store(&opts.database, Some(&opts.data_dir)).await?;
    let id = opts.debate.id.clone();
    let (line, resumed) = time_line(&store, &opts).await?;
    let debate = rehearsal_debate(&opts.debate, line.start);
    let clock = Clock::compressed(line.origin, line.origin, line.speed);
    let row = store
        .occurrence(&NewOccurrence {
            debate: &id,
            scheduled_start: line.start,
            title: &debate.title,
            timezone: debate.timezone.name(),
            questions: debate.questions.iter().map(|q| q.text.as_str()).collect(),
            zones: debate.zones.iter().map(|z| z.name()).collect(),
            public: false,
            rehearsal_clock: Some((line.origin, line.speed)),
            duration: debate.duration,
            collect_grace: opts.engine.collect_grace,
            now: clock.now(),
        })
        .await?;
    let log_dir = opts.data_dir.join("rehearsals");
    crate::store::create_private_dir(&log_dir)?;
    let log = log_dir.join(format!(
        "{id}-{}.log",
        transcript::rehearsal_stamp(line.start)
    ));
    // Made owner-only before the console opens it: it holds every answer.
    crate::store::private_file(&log, true)?;
    let chat = Arc::new(ConsoleChat::open(
        &log,
        out,
        clock.clone(),
        debate.timezone,
    )?);
    chat.say(&format!(
        "{} rehearsal of “{}” at {}× speed. Type answers (A1: ...), `name: text` to speak as \
         someone else, or commands (!help). Ctrl-C stops; run the same command again to resume.",
        if resumed {
            "Resuming the"
        } else {
            "Starting a"
        },
        debate.title,
        line.speed
    ));
    let schedule = Arc::new(Schedule {
        debates: vec![debate.clone()],
        ..Schedule::default()
    });
    let config = EngineConfig {
        rehearsal: Some((line.origin, line.speed)),
        ..opts.engine.clone()
    };
    let mut app_opts = super::Options::new(clock.clone(), config, schedule);
    app_opts.data_dir = Some(opts.data_dir.clone());
    app_opts.database = opts.database.clone();
    app_opts.store = Some(store.clone());
    let (pending_tx, pending) = watch::channel(0usize);
    let console = Console {
        chat: chat.clone(),
        room: debate.rooms[0].clone(),
        pending: pending_tx,
    };
    let networks = Networks {
        console: Some(console),
        ..Networks::default()
    };
    let app = super::build(app_opts, networks).await?;
    if !host(app, pending, &debate).await? {
        chat.say("Stopped. Run the same command again to resume this rehearsal.");
        return Ok(());
    }
    let public_url = &opts.engine.public_url;
    write_transcript(&store, &row, &opts.data_dir, public_url, &chat, clock.now()).await
}

/// Runs the app until the rehearsal has nothing left to post (true) or a
/// signal stops it (false). Every typed line has been answered when it
/// returns.
async fn host(
    app: App<Router>,
    mut pending: watch::Receiver<usize>,
    debate: &Debate,
) -> anyhow::Result<bool> {
    let mut notices = app.subscribe();
    let id = debate.id.clone();
    let interrupted = AtomicBool::new(false);
    app.run(async {
        tokio::select! {
            () = finished(&mut notices, &id) => {}
            () = shutdown_signal() => interrupted.store(true, Ordering::SeqCst),
        }
    })
    .await?;
    // Lines the engine had not taken yet are answered "not collected" as
    // their acknowledgements are dropped; wait (briefly) until each is told.
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        pending.wait_for(|n| *n == 0),
    )
    .await;
    Ok(!interrupted.load(Ordering::SeqCst))
}

/// Completes when the engine says the debate `id` is finished.
async fn finished(notices: &mut broadcast::Receiver<Notice>, id: &str) {
    loop {
        match notices.recv().await {
            Ok(Notice::Finished { debate, .. }) if debate == id => return,
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Writes the Markdown transcript beside the console log and says where:
/// the file, the web address `podium run` serves it at on this data
/// directory (the link the rehearsal posted), and the command.
async fn write_transcript(
    store: &Store,
    row: &OccurrenceRow,
    data_dir: &Path,
    public_url: &str,
    chat: &ConsoleChat,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let t = transcript::build(store, row, now).await?;
    let path = transcript_path(data_dir, &row.debate, row.scheduled_start);
    // Written aside and renamed: the file's existence marks the rehearsal done.
    let partial = path.with_extension("md.partial");
    crate::store::write_private(&partial, t.render(transcript::Format::Md).as_bytes())?;
    std::fs::rename(&partial, &path)?;
    let zone: chrono_tz::Tz = row.timezone.parse().unwrap_or(chrono_tz::UTC);
    let date = row.scheduled_start.with_timezone(&zone).format("%Y-%m-%d");
    chat.say(&format!(
        "Transcript: {}\nOn the web, while `podium run` serves this data directory: {}\n\
         (or: podium transcript {} --date {date} --format md|txt|json)",
        path.display(),
        transcript::url_of(public_url, row),
        row.debate
    ));
    Ok(())
}

fn transcript_path(data_dir: &Path, id: &str, start: DateTime<Utc>) -> PathBuf {
    data_dir
        .join("rehearsals")
        .join(format!("{id}-{}.md", transcript::rehearsal_stamp(start)))
}
