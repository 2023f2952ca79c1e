//! The app over the in-memory chat network (`MemoryChat`, or any other
//! [`Chat`]), with a schedule and a clock of the test's choosing, built by
//! `podium::app::build_with` as `podium run` builds its own: start it, say
//! things in its rooms, wait for its notices, stop it.
//!
//! Nothing here touches tokio's clock; a test that wants paused time pauses
//! it itself (see [`super::store::memory_store`] for when).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use podium::app::{self, Options};
use podium::chat::memory::MemoryChat;
use podium::chat::{Chat, Event, Incoming, Receipt, Room, Sender};
use podium::clock::Clock;
use podium::engine::{EngineConfig, Notice};
use podium::schedule::Schedule;
use podium::store::{PostKind, Store};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// How many incoming events may wait for the engine before delivering
/// another one waits too.
pub const QUEUE: usize = 64;

/// `yaml` parsed as a valid schedule, as if read at `now`.
pub fn schedule(yaml: &str, now: DateTime<Utc>) -> Arc<Schedule> {
    Arc::new(
        podium::schedule::parse(yaml, now)
            .map_err(|d| d.render("t"))
            .unwrap()
            .0,
    )
}

/// A running engine and the handles a test drives it with.
pub struct Bot {
    /// Where incoming chat events go (see [`deliver`]).
    pub events: mpsc::Sender<Incoming>,
    /// What the engine reports: posts made or skipped, debates finished.
    pub notices: broadcast::Receiver<Notice>,
    /// Sending on it (or dropping it) shuts the app down.
    pub stop: oneshot::Sender<()>,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// Sending a new schedule here is a reload.
    pub schedule: watch::Sender<Arc<Schedule>>,
}

/// Starts the engine on `chat` (a handle to the same log of posts).
pub async fn start(store: &Store, chat: &MemoryChat, clock: Clock, schedule: Arc<Schedule>) -> Bot {
    start_with(store, chat.clone(), clock, schedule).await
}

/// Starts the engine on any chat network, with a [`QUEUE`] of incoming
/// events.
pub async fn start_with<C: Chat>(
    store: &Store,
    chat: C,
    clock: Clock,
    schedule: Arc<Schedule>,
) -> Bot {
    start_queued(store, chat, clock, schedule, QUEUE).await
}

/// Starts the engine on any chat network, with room for `queue` incoming
/// events.
pub async fn start_queued<C: Chat>(
    store: &Store,
    chat: C,
    clock: Clock,
    schedule: Arc<Schedule>,
    queue: usize,
) -> Bot {
    let mut opts = Options::new(clock, EngineConfig::default(), schedule);
    opts.store = Some(store.clone());
    opts.queue = queue;
    // Tests may pause time, under which any deadline passes at once.
    opts.shutdown_deadline = None;
    let app = app::build_with(opts, Arc::new(chat)).await.unwrap();
    let notices = app.subscribe();
    let events = app.events();
    let schedule = app.schedule();
    let (stop, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run(async move {
        let _ = stop_rx.await;
    }));
    Bot {
        events,
        notices,
        stop,
        task,
        schedule,
    }
}

/// Hands `event` in `room` to the engine without waiting for it to be
/// handled; the returned receiver gets its acknowledgement.
pub async fn deliver(
    events: &mpsc::Sender<Incoming>,
    room: &Room,
    event: Event,
) -> oneshot::Receiver<Receipt> {
    let (tx, rx) = oneshot::channel();
    events
        .send(Incoming {
            room: room.clone(),
            event,
            cursor: None,
            ack: Some(tx),
        })
        .await
        .unwrap();
    rx
}

impl Bot {
    /// Waits until the engine has posted or skipped post `kind`/`seq` (in
    /// any room); fails if the engine stops first.
    pub async fn wait_for(&mut self, kind: PostKind, seq: i64) {
        loop {
            let notice = match self.notices.recv().await {
                Ok(n) => n,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(e) => panic!("engine stopped ({e}): {:?}", (&mut self.task).await),
            };
            match notice {
                Notice::Posted {
                    kind: k, seq: s, ..
                }
                | Notice::Skipped {
                    kind: k, seq: s, ..
                } if k == kind && s == seq => {
                    return;
                }
                _ => {}
            }
        }
    }

    /// `who` (`@who:example.org`) says `body` in `room` as message `id`,
    /// perhaps in reply to another; returns the acknowledgement.
    pub async fn say(
        &self,
        room: &Room,
        id: &str,
        who: &str,
        body: &str,
        reply_to: Option<&str>,
    ) -> Receipt {
        self.send(
            room,
            Event::Message {
                id: id.to_owned(),
                sender: Sender {
                    id: format!("@{who}:example.org"),
                    name: who.to_owned(),
                    verified: true,
                },
                body: body.to_owned(),
                in_reply_to: reply_to.map(str::to_owned),
                server_ts: None,
                action: false,
            },
        )
        .await
    }

    /// Delivers `event` in `room` and waits for its acknowledgement.
    pub async fn send(&self, room: &Room, event: Event) -> Receipt {
        deliver(&self.events, room, event).await.await.unwrap()
    }

    /// Shuts the engine down; fails if it had failed.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}
