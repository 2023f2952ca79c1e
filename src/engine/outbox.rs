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
}

pub struct Outbox<C: Chat> {
    chat: Arc<C>,
    clock: Clock,
    rooms: HashMap<Room, mpsc::UnboundedSender<Ready>>,
    results: mpsc::UnboundedSender<Progress>,
    /// The rooms' tasks.
    tasks: JoinSet<()>,
    stop: CancellationToken,
}

impl<C: Chat> Outbox<C> {
    /// An outbox sending through `chat`, and where its progress arrives.
    pub fn new(chat: Arc<C>, clock: Clock) -> (Self, mpsc::UnboundedReceiver<Progress>) {
        let (results, results_rx) = mpsc::unbounded_channel();
        let outbox = Outbox {
            chat,
            clock,
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
    room: Room,
    results: mpsc::UnboundedSender<Progress>,
}

impl<C: Chat> RoomTask<C> {
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
            let at = self.clock.now();
            ready.hand(at);
            let handed = Progress::Handed {
                key: ready.key().clone(),
                post: ready.post_key(),
                at,
            };
            if self.results.send(handed).is_err() {
                return;
            }
            let send_key = format!("podium-{}", ready.row().id);
            let post = Outgoing {
                key: &send_key,
                body: &ready.row().body,
                kind: Some(ready.row().kind),
                reply_to: None,
            };
            let result = self.chat.send(&self.room, post).await;
            ready.accepted(self.clock.now());
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
