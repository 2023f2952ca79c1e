//! Where claimed posts wait to be sent: one queue and one task per room, so
//! each room's posts go out in order and one slow room (a rate limit, a
//! homeserver far away) never delays another. Results come back to the
//! engine's loop, which confirms them in the store.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::posting::Ready;
use crate::chat::{Chat, ChatError, Outgoing, Room};

/// A post and what became of it.
pub type Sent = (Ready, Result<String, ChatError>);

pub struct Outbox<C: Chat> {
    chat: Arc<C>,
    rooms: HashMap<Room, mpsc::UnboundedSender<Ready>>,
    results: mpsc::UnboundedSender<Sent>,
}

impl<C: Chat> Outbox<C> {
    /// An outbox sending through `chat`, and where its results arrive.
    pub fn new(chat: Arc<C>) -> (Self, mpsc::UnboundedReceiver<Sent>) {
        let (results, results_rx) = mpsc::unbounded_channel();
        let outbox = Outbox {
            chat,
            rooms: HashMap::new(),
            results,
        };
        (outbox, results_rx)
    }

    /// Queues a claimed post behind the room's earlier ones.
    pub fn push(&mut self, ready: Ready) {
        let room = ready.room().clone();
        let queue = self.rooms.entry(room.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(send_in_order(
                self.chat.clone(),
                room.clone(),
                rx,
                self.results.clone(),
            ));
            tx
        });
        if let Err(mpsc::error::SendError(ready)) = queue.send(ready) {
            // The room's task is gone (a panic in a network's send): the
            // post was not sent; say so, so it is retried by a new task.
            let _ = self.results.send((
                ready,
                Err(ChatError::Temporary("the room's sender stopped".into())),
            ));
            self.rooms.remove(&room);
        }
    }
}

/// Sends one room's posts in order. After a temporary failure, the posts
/// already waiting behind it are handed back unsent, to be retried after
/// it: a later post never overtakes an earlier one.
async fn send_in_order<C: Chat>(
    chat: Arc<C>,
    room: Room,
    mut queue: mpsc::UnboundedReceiver<Ready>,
    results: mpsc::UnboundedSender<Sent>,
) {
    while let Some(ready) = queue.recv().await {
        let send_key = format!("podium-{}", ready.row().id);
        let post = Outgoing {
            key: &send_key,
            body: &ready.row().body,
            kind: Some(ready.row().kind),
            reply_to: None,
        };
        let result = chat.send(&room, post).await;
        let held = matches!(result, Err(ChatError::Temporary(_)));
        if results.send((ready, result)).is_err() {
            return;
        }
        while held && let Ok(waiting) = queue.try_recv() {
            let error = ChatError::Temporary("an earlier post in this room is waiting".into());
            if results.send((waiting, Err(error))).is_err() {
                return;
            }
        }
    }
}
