//! Answers to commands, sent apart from the debate's posts: one short
//! queue and one task per room, so the engine hands an answer over and
//! goes on at once, whatever the network does with it (an IRC queue paced
//! for a flood takes seconds a line). A room's queue holds a few answers;
//! when it is full, the new answer is dropped (and counted): answers are
//! the first thing to go when a room is busy, never a post or a reply.
//! When the engine stops, the answers already queued are still sent
//! ([`Answers::stop`]).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::chat::{Chat, Outgoing, Room};

/// Answers waiting in one room at most.
pub const QUEUE: usize = 8;

/// An answer to the command message `reply_to`.
#[derive(Debug)]
pub struct Answer {
    pub body: String,
    pub reply_to: String,
}

pub struct Answers<C: Chat> {
    chat: Arc<C>,
    rooms: HashMap<Room, mpsc::Sender<Answer>>,
    /// The rooms' tasks.
    tasks: JoinSet<()>,
}

impl<C: Chat> Answers<C> {
    pub fn new(chat: Arc<C>) -> Self {
        Answers {
            chat,
            rooms: HashMap::new(),
            tasks: JoinSet::new(),
        }
    }

    /// Takes no more answers; each room's task sends those queued and
    /// ends. Returns the tasks, for the engine to wait for.
    pub fn stop(&mut self) -> JoinSet<()> {
        self.rooms.clear();
        std::mem::take(&mut self.tasks)
    }

    /// Queues an answer in `room`; false when the room's queue is full and
    /// the answer was dropped.
    pub fn push(&mut self, room: &Room, answer: Answer) -> bool {
        let answer = match self.queue(room).try_send(answer) {
            Ok(()) => return true,
            Err(mpsc::error::TrySendError::Full(_)) => return false,
            // The room's task is gone (a panic in a network's send): a new
            // one takes the answer.
            Err(mpsc::error::TrySendError::Closed(answer)) => answer,
        };
        self.rooms.remove(room);
        self.queue(room).try_send(answer).is_ok()
    }

    fn queue(&mut self, room: &Room) -> &mpsc::Sender<Answer> {
        self.rooms.entry(room.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            self.tasks
                .spawn(send_in_order(self.chat.clone(), room.clone(), rx));
            tx
        })
    }
}

/// Sends one room's answers in order; a failure is logged, never retried
/// (an answer is worth less than the time it would hold the queue).
async fn send_in_order<C: Chat>(chat: Arc<C>, room: Room, mut queue: mpsc::Receiver<Answer>) {
    while let Some(answer) = queue.recv().await {
        let key = format!("podium-cmd-{}", answer.reply_to);
        let post = Outgoing {
            key: &key,
            body: &answer.body,
            kind: None,
            reply_to: Some(&answer.reply_to),
        };
        if let Err(e) = chat.send(&room, post).await {
            tracing::warn!(cause = %e, room = %room, "cannot answer a command");
        }
    }
}
