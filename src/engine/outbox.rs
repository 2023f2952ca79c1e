//! Where claimed posts wait to be sent: one queue and one task per room, so
//! each room's posts go out in order and one slow room (a rate limit, a
//! homeserver far away) never delays another. What happens to each post
//! comes back to the engine's loop: the moment it is handed to the
//! network (a question counts as asked from then on), then its result,
//! which the engine confirms in the store.
//!
//! Lateness is settled here, when a post is handed over, since a post can
//! wait in its room's queue behind slow ones: a post handed over more than
//! `late_after` after its time gets its late note then (see
//! [`super::posting::Ready::hand`]).
//!
//! When the engine stops, each room's task finishes the post it has in
//! hand and takes no other ([`Outbox::stop`]), so what the network took is
//! recorded as sent rather than left for a restart to guess about.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::occurrences::{OccKey, PostKey};
use super::posting::Ready;
use crate::chat::{Chat, ChatError, Outgoing, Room};
use crate::clock::Clock;
use crate::replicas::{Leadership, Lease};
use crate::store::{Fence, Store};

/// What became of a post the outbox took.
#[derive(Debug)]
pub enum Progress {
    /// Handed to the network at `at`, as `post` of occurrence `key`.
    Handed {
        key: OccKey,
        post: PostKey,
        at: DateTime<Utc>,
    },
    /// Sent (with the network's id), or not.
    Done(Box<Ready>, Result<String, ChatError>),
    /// Not handed to the network: the debate's lease is no longer this
    /// replica's (or the claim no longer waits). Its new holder sends it.
    Withheld(Box<Ready>),
}

/// The last check before a post goes out: the claim moves to `sending`
/// under this process's lease of the post's debate, in one statement
/// (`Store::hand_post`), so a replica that lost its lease posts nothing.
#[derive(Clone)]
pub struct Fencer {
    pub store: Store,
    pub leadership: tokio::sync::watch::Receiver<Arc<Leadership>>,
}

/// What the fence said.
enum Handed {
    Yes,
    No,
    Failed(String),
}

impl Fencer {
    async fn hand(&self, ready: &Ready) -> Handed {
        let debate = ready.key().0.as_str();
        let (replica, lease) = {
            let l = self.leadership.borrow();
            (l.replica().map(str::to_owned), l.lease(debate))
        };
        let holder = replica.as_deref().unwrap_or("");
        let fence = match lease {
            // Without replicas the claim was made `sending` already: no
            // other process can take it over, and a store round trip here
            // would only delay the post.
            Lease::Solo => return Handed::Yes,
            Lease::Held(epoch) => Fence {
                holder,
                lease: Some((debate, epoch)),
            },
            Lease::NotHeld => return Handed::No,
        };
        match self.store.hand_post(ready.row().id, &fence).await {
            Ok(true) => Handed::Yes,
            Ok(false) => Handed::No,
            Err(e) => Handed::Failed(e.to_string()),
        }
    }
}

pub struct Outbox<C: Chat> {
    chat: Arc<C>,
    clock: Clock,
    fencer: Fencer,
    rooms: HashMap<Room, mpsc::UnboundedSender<Ready>>,
    results: mpsc::UnboundedSender<Progress>,
    /// The rooms' tasks.
    tasks: JoinSet<()>,
    stop: CancellationToken,
}

impl<C: Chat> Outbox<C> {
    /// An outbox sending through `chat`, and where its progress arrives.
    pub fn new(
        chat: Arc<C>,
        clock: Clock,
        fencer: Fencer,
    ) -> (Self, mpsc::UnboundedReceiver<Progress>) {
        let (results, results_rx) = mpsc::unbounded_channel();
        let outbox = Outbox {
            chat,
            clock,
            fencer,
            rooms: HashMap::new(),
            results,
            tasks: JoinSet::new(),
            stop: CancellationToken::new(),
        };
        (outbox, results_rx)
    }

    /// Takes no more posts; each room's task finishes the post in hand
    /// (its progress still comes back) and ends. Posts still waiting are
    /// not sent: their claims stay, as after a crash. Returns the tasks,
    /// for the engine to wait for while it records their progress.
    pub fn stop(&mut self) -> JoinSet<()> {
        self.stop.cancel();
        self.rooms.clear();
        std::mem::take(&mut self.tasks)
    }

    /// Queues a claimed post behind the room's earlier ones.
    pub fn push(&mut self, ready: Ready) {
        let room = ready.room().clone();
        let queue = self.rooms.entry(room.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let room_task = RoomTask {
                chat: self.chat.clone(),
                clock: self.clock.clone(),
                fencer: self.fencer.clone(),
                room: room.clone(),
                results: self.results.clone(),
            };
            self.tasks
                .spawn(room_task.send_in_order(rx, self.stop.clone()));
            tx
        });
        if let Err(mpsc::error::SendError(ready)) = queue.send(ready) {
            // The room's task is gone (a panic in a network's send): the
            // post was not sent; say so, so it is retried by a new task.
            let _ = self.results.send(Progress::Done(
                Box::new(ready),
                Err(ChatError::Temporary("the room's sender stopped".into())),
            ));
            self.rooms.remove(&room);
        }
    }
}

/// The task sending one room's posts.
struct RoomTask<C: Chat> {
    chat: Arc<C>,
    clock: Clock,
    fencer: Fencer,
    room: Room,
    results: mpsc::UnboundedSender<Progress>,
}

impl<C: Chat> RoomTask<C> {
    /// Hands one post to the network; `None` when the engine is gone.
    async fn send(&self, ready: &mut Ready) -> Option<Result<String, ChatError>> {
        let at = self.clock.now();
        ready.hand(at);
        let handed = Progress::Handed {
            key: ready.key().clone(),
            post: ready.post_key(),
            at,
        };
        self.results.send(handed).ok()?;
        let send_key = format!("podium-{}", ready.row().id);
        let post = Outgoing {
            key: &send_key,
            body: &ready.row().body,
            kind: Some(ready.row().kind),
            reply_to: None,
        };
        let result = self.chat.send(&self.room, post).await;
        ready.accepted(self.clock.now());
        Some(result)
    }

    /// Sends the room's posts in order. After a temporary failure, the
    /// posts already waiting behind it are handed back unsent, to be
    /// retried after it: a later post never overtakes an earlier one.
    async fn send_in_order(
        self,
        mut queue: mpsc::UnboundedReceiver<Ready>,
        stop: CancellationToken,
    ) {
        loop {
            let next = tokio::select! {
                biased;
                () = stop.cancelled() => return,
                next = queue.recv() => next,
            };
            let Some(mut ready) = next else { return };
            let result = match self.fencer.hand(&ready).await {
                Handed::Yes => self.send(&mut ready).await,
                Handed::No => {
                    if self
                        .results
                        .send(Progress::Withheld(Box::new(ready)))
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
                Handed::Failed(e) => Some(Err(ChatError::Temporary(format!(
                    "cannot record the post as being sent: {e}"
                )))),
            };
            let Some(result) = result else { return };
            let held = matches!(result, Err(ChatError::Temporary(_)));
            if self
                .results
                .send(Progress::Done(Box::new(ready), result))
                .is_err()
            {
                return;
            }
            while held && let Ok(waiting) = queue.try_recv() {
                let error = ChatError::Temporary("an earlier post in this room is waiting".into());
                if self
                    .results
                    .send(Progress::Done(Box::new(waiting), Err(error)))
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}
