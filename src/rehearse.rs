//! `podium rehearse`: one debate, run now, in the terminal, on a compressed
//! clock. Posts are printed as they fall due; each typed line is a reply
//! (`name: text` speaks as someone else). Killed and started again, it
//! resumes the same rehearsal on the same compressed time line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, Utc};
use tokio::io::AsyncBufReadExt;
use tokio::sync::{mpsc, oneshot, watch};

use crate::chat::console::{ConsoleChat, YOU};
use crate::chat::{Event, Incoming, Receipt, Room, Sender};
use crate::engine::tag::parse_tag;
use crate::engine::{Clock, Engine, EngineConfig, Notice};
use crate::schedule::{Debate, Schedule};
use crate::store::{PostKind, PostStatus, Store};
use crate::transcript;

pub struct Options {
    pub debate: Debate,
    pub speed: f64,
    pub data_dir: PathBuf,
    pub fresh: bool,
    pub public_url: String,
}

/// Who is speaking in a typed line, and what they say. A leading single
/// word and a colon names the speaker, unless the line is an answer tag
/// (`A1: ...`) or a command.
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
        .occurrence(
            id,
            start,
            &debate.title,
            debate.timezone.name(),
            Some((origin, speed)),
            clock.now(),
        )
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
    let link_posted = store
        .posts(row.id)
        .await?
        .iter()
        .any(|p| p.kind == PostKind::Transcript && p.status != PostStatus::Sending);
    if !link_posted && !host(&store, &chat, clock, config, schedule_rx, &debate).await? {
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

/// Runs the engine until the transcript link is posted (true) or Ctrl-C (false).
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
    tokio::spawn(read_stdin(events_tx, room, chat.clone()));

    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let watcher = tokio::spawn(async move {
        while let Ok(n) = notices.recv().await {
            if let Notice::Posted {
                kind: PostKind::Transcript,
                ..
            }
            | Notice::Skipped {
                kind: PostKind::Transcript,
                ..
            } = n
            {
                break;
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
    Ok(!interrupted.load(std::sync::atomic::Ordering::SeqCst))
}

fn transcript_path(data_dir: &Path, id: &str, start: DateTime<Utc>) -> PathBuf {
    data_dir
        .join("rehearsals")
        .join(format!("{id}-{}.md", start.format("%Y%m%dT%H%M%S%3f")))
}

async fn read_stdin(events: mpsc::Sender<Incoming>, room: Room, chat: Arc<ConsoleChat>) {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    // Ids must be unique across restarts of the same rehearsal.
    let run = Utc::now().timestamp_nanos_opt().unwrap_or(0);
    let mut n = 0u64;
    while let Ok(Some(line)) = lines.next_line().await {
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
        if events.send(incoming).await.is_err() {
            break;
        }
        let chat = chat.clone();
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
                Ok(Receipt::Command | Receipt::Updated) | Err(_) => {}
            }
        });
    }
}
