//! `podium rehearse`: one debate, run now, in the terminal, on a compressed
//! clock. Posts are printed as they fall due; each typed line is a reply
//! (`name: text` speaks as someone else). Killed and started again, it
//! resumes the same rehearsal on the same compressed time line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, Utc};
use tokio::io::AsyncBufReadExt;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::chat::console::{ConsoleChat, YOU};
use crate::chat::{Event, Incoming, Receipt, Room, Sender};
use crate::clock::Clock;
use crate::engine::tag::parse_tag;
use crate::engine::{Engine, EngineConfig, Notice};
use crate::schedule::{Debate, Schedule};
use crate::store::{NewOccurrence, Store};
use crate::transcript;

pub struct Options {
    pub debate: Debate,
    pub speed: f64,
    pub data_dir: PathBuf,
    pub fresh: bool,
    pub public_url: String,
}

/// Who is speaking in a typed line, and what they say. A leading single
/// word, a colon and a space name the speaker (`bob: A2: ...`), unless the
/// line is an answer tag (`A1: ...`) or a command; `http://...` is text.
pub fn speaker(line: &str) -> (String, &str) {
    let line = line.trim();
    if parse_tag(line).is_none()
        && !line.starts_with('!')
        && let Some((name, rest)) = line.split_once(':')
        && !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "_-.".contains(c))
        && rest.starts_with(char::is_whitespace)
        && !rest.trim().is_empty()
    {
        return (name.to_owned(), rest.trim());
    }
    ("you".to_owned(), line)
}

/// The rehearsal copy of a debate: held in the console room, starting at
/// `start`, with only its shortest reminder.
fn rehearsal_debate(debate: &Debate, start: DateTime<Utc>) -> Debate {
    let mut d = debate.clone();
    d.rooms = vec![Room::Console("rehearsal".to_owned())];
    d.remind = debate.remind.last().copied().into_iter().collect();
    d.repeat = None;
    d.starts = start.with_timezone(&d.timezone).naive_local();
    d.first_start = start;
    d
}

/// Runs the rehearsal to the end (or until Ctrl-C).
///
/// # Errors
/// Store or console log failures.
pub async fn run(opts: Options, out: Box<dyn Write + Send>) -> anyhow::Result<()> {
    let store = Store::open(&opts.data_dir).await?;
    let id = &opts.debate.id;
    // The latest rehearsal is resumed until its transcript file exists: a
    // kill after the last post but before the transcript was written must
    // not lose it.
    let resumed = if opts.fresh {
        None
    } else {
        store
            .latest_rehearsal(id)
            .await?
            .filter(|row| !transcript_path(&opts.data_dir, id, row.scheduled_start).exists())
    };
    let (start, origin, speed) = match &resumed {
        Some(row) => (
            row.scheduled_start,
            row.clock_real_base.unwrap_or(row.scheduled_start),
            row.clock_speed.unwrap_or(opts.speed),
        ),
        None => {
            let origin = Utc::now().duration_trunc(Duration::milliseconds(1))?;
            let lead = opts
                .debate
                .remind
                .last()
                .copied()
                .unwrap_or_else(Duration::zero);
            (origin + lead, origin, opts.speed)
        }
    };
    let debate = rehearsal_debate(&opts.debate, start);
    let clock = Clock::compressed(origin, origin, speed);
    store
        .occurrence(&NewOccurrence {
            debate: id,
            scheduled_start: start,
            title: &debate.title,
            timezone: debate.timezone.name(),
            questions: debate.questions.iter().map(|q| q.text.as_str()).collect(),
            rehearsal_clock: Some((origin, speed)),
            now: clock.now(),
        })
        .await?;
    let log_dir = opts.data_dir.join("rehearsals");
    std::fs::create_dir_all(&log_dir)?;
    let log = log_dir.join(format!("{id}-{}.log", start.format("%Y%m%dT%H%M%S%3f")));
    let chat = Arc::new(ConsoleChat::open(
        &log,
        out,
        clock.clone(),
        debate.timezone,
    )?);
    chat.say(&format!(
        "{} rehearsal of “{}” at {speed}× speed. Type answers (A1: ...), `name: text` to speak as \
         someone else, or commands (!help). Ctrl-C stops; run the same command again to resume.",
        if resumed.is_some() {
            "Resuming the"
        } else {
            "Starting a"
        },
        debate.title
    ));

    let (_schedule_tx, schedule_rx) = watch::channel(Arc::new(Schedule {
        debates: vec![debate.clone()],
    }));
    let config = EngineConfig {
        public_url: opts.public_url.clone(),
        rehearsal: Some((origin, speed)),
        ..EngineConfig::default()
    };
    let row = store
        .find_occurrence(id, start)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the rehearsal occurrence is missing from the store"))?;
    // A rehearsal whose whole time line passed while it was stopped still
    // finishes: the engine skips (or posts late) what is left and says so.
    if !host(&store, &chat, clock, config, schedule_rx, &debate).await? {
        chat.say("Stopped. Run the same command again to resume this rehearsal.");
        return Ok(());
    }
    let t = transcript::build(&store, &row).await?;
    let path = transcript_path(&opts.data_dir, id, start);
    // Written aside and renamed: the file's existence marks the rehearsal done.
    let partial = path.with_extension("md.partial");
    std::fs::write(&partial, t.render(transcript::Format::Md))?;
    std::fs::rename(&partial, &path)?;
    let date = start.with_timezone(&debate.timezone).format("%Y-%m-%d");
    chat.say(&format!(
        "Transcript: {}\n(or: podium transcript {id} --date {date} --format md|txt|json)",
        path.display()
    ));
    Ok(())
}

/// Runs the engine until the rehearsal has nothing left to post (true) or
/// Ctrl-C (false). Every typed line has been answered when it returns.
async fn host(
    store: &Store,
    chat: &Arc<ConsoleChat>,
    clock: Clock,
    config: EngineConfig,
    schedule_rx: watch::Receiver<Arc<Schedule>>,
    debate: &Debate,
) -> anyhow::Result<bool> {
    let engine = Engine::new(store.clone(), chat.clone(), clock, config, schedule_rx);
    let mut notices = engine.subscribe();
    let (events_tx, events_rx) = mpsc::channel(1024);
    let room = debate.rooms[0].clone();
    let (pending_tx, mut pending) = watch::channel(0usize);
    tokio::spawn(read_stdin(events_tx, room, chat.clone(), pending_tx));

    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let id = debate.id.clone();
    let watcher = tokio::spawn(async move {
        loop {
            match notices.recv().await {
                Ok(Notice::Finished { debate, .. }) if debate == id => break,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
        let _ = stop_tx.send(());
    });
    let interrupted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = interrupted.clone();
    engine
        .run(events_rx, async move {
            tokio::select! {
                _ = stop_rx => {}
                _ = tokio::signal::ctrl_c() => flag.store(true, std::sync::atomic::Ordering::SeqCst),
            }
        })
        .await?;
    watcher.abort();
    // Lines the engine had not taken yet are answered "not collected" as
    // their acknowledgements are dropped; wait (briefly) until each is told.
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        pending.wait_for(|n| *n == 0),
    )
    .await;
    Ok(!interrupted.load(std::sync::atomic::Ordering::SeqCst))
}

fn transcript_path(data_dir: &Path, id: &str, start: DateTime<Utc>) -> PathBuf {
    data_dir
        .join("rehearsals")
        .join(format!("{id}-{}.md", start.format("%Y%m%dT%H%M%S%3f")))
}

/// Reads typed lines as replies until stdin closes. Bytes that are not
/// UTF-8 are replaced (U+FFFD) rather than ending the input. Each line is
/// answered once: saved (and where), or not collected (and why).
async fn read_stdin(
    events: mpsc::Sender<Incoming>,
    room: Room,
    chat: Arc<ConsoleChat>,
    pending: watch::Sender<usize>,
) {
    let mut input = tokio::io::BufReader::new(tokio::io::stdin());
    let mut buf = Vec::new();
    // Ids must be unique across restarts of the same rehearsal.
    let run = Utc::now().timestamp_nanos_opt().unwrap_or(0);
    let mut n = 0u64;
    loop {
        buf.clear();
        match input.read_until(b'\n', &mut buf).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(cause = %e, "cannot read the terminal; typed lines are ignored from now");
                break;
            }
        }
        let line = String::from_utf8_lossy(&buf);
        if line.trim().is_empty() {
            continue;
        }
        n += 1;
        let (name, body) = speaker(&line);
        let sender = if name == "you" {
            Sender {
                id: YOU.to_owned(),
                name,
            }
        } else {
            Sender {
                id: format!("console:{name}"),
                name,
            }
        };
        let (ack_tx, ack_rx) = oneshot::channel();
        let who = sender.name.clone();
        let incoming = Incoming {
            room: room.clone(),
            event: Event::Message {
                id: format!("{run}-{n}"),
                sender,
                body: body.to_owned(),
                in_reply_to: None,
                server_ts: None,
            },
            cursor: None,
            ack: Some(ack_tx),
        };
        pending.send_modify(|n| *n += 1);
        if events.send(incoming).await.is_err() {
            chat.say(STOPPED);
            pending.send_modify(|n| *n -= 1);
            continue;
        }
        let chat = chat.clone();
        let pending = pending.clone();
        tokio::spawn(async move {
            match ack_rx.await {
                Ok(Receipt::Saved {
                    question: Some(q), ..
                }) => {
                    chat.say(&format!("  ✓ saved: {who} → Q{q}"));
                }
                Ok(Receipt::Saved { question: None, .. }) => {
                    chat.say(&format!("  ✓ saved: {who} → before Q1"));
                }
                Ok(Receipt::Ignored(why)) => chat.say(&format!("  (not collected: {why})")),
                Ok(Receipt::Command | Receipt::Updated) => {}
                // The engine stopped before it took the line.
                Err(_) => chat.say(STOPPED),
            }
            pending.send_modify(|n| *n -= 1);
        });
    }
}

/// The answer to a line typed once the rehearsal no longer collects.
const STOPPED: &str = "  (not collected: the rehearsal has stopped)";
