//! A network's chat that the engine can hold before the connection exists.
//! `podium run` starts the engine and the web server at once and connects
//! each network in its own task, so a homeserver slow to log in (or an IRC
//! server that never answers) holds up nothing else. Until the connection
//! is made, a post to one of its rooms waits a little for it, then fails
//! as temporary (the engine retries it); the questions the engine asks of
//! a chat are answered as the network always answers them.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{Chat, ChatError, Outgoing, PostKind, Room};

/// How long a post waits for its network's connection before it is handed
/// back to the engine to retry: long enough for a login at start, short
/// enough that a network down for long does not hold its rooms' posts
/// past the engine's own judgement of lateness.
const PATIENCE: Duration = Duration::from_secs(20);

/// What a network answers whether or not it is connected: properties of
/// the protocol, not of the connection.
#[derive(Clone, Copy, Debug)]
pub struct Nature {
    /// See [`Chat::deduplicates`]: the engine asks at start, about posts a
    /// crash interrupted, before any network is connected.
    pub deduplicates: bool,
    /// See [`Chat::replies`].
    pub replies: bool,
}

/// The chat of a network being connected.
pub struct Later<C> {
    chat: watch::Receiver<Option<Arc<C>>>,
    nature: Nature,
}

/// Hands the connected chat to its [`Later`].
pub struct Connected<C>(watch::Sender<Option<Arc<C>>>);

impl<C> Connected<C> {
    /// The connection is made: posts go through `chat` from now on.
    pub fn set(&self, chat: Arc<C>) {
        self.0.send_replace(Some(chat));
    }
}

impl<C> Later<C> {
    /// A chat to be connected, and the handle that connects it.
    pub fn new(nature: Nature) -> (Later<C>, Connected<C>) {
        let (tx, rx) = watch::channel(None);
        (Later { chat: rx, nature }, Connected(tx))
    }

    /// A chat connected already.
    pub fn ready(chat: Arc<C>, nature: Nature) -> Later<C> {
        let (later, connected) = Later::new(nature);
        connected.set(chat);
        later
    }

    fn now(&self) -> Option<Arc<C>> {
        self.chat.borrow().clone()
    }
}

impl<C: Chat> Chat for Later<C> {
    async fn send(&self, room: &Room, post: Outgoing<'_>) -> Result<String, ChatError> {
        let mut chat = self.chat.clone();
        let waited = tokio::time::timeout(PATIENCE, async {
            // The guard `wait_for` returns is dropped at once.
            chat.wait_for(Option::is_some)
                .await
                .map(|c| c.clone())
                .ok()
                .flatten()
        })
        .await;
        match waited.ok().flatten() {
            Some(chat) => chat.send(room, post).await,
            None => Err(ChatError::Temporary(format!(
                "not connected to {} yet",
                room.network()
            ))),
        }
    }

    async fn send_direct(
        &self,
        network: crate::domain::Network,
        person: &str,
        name: &str,
        body: &str,
    ) -> Result<(), ChatError> {
        match self.now() {
            Some(chat) => chat.send_direct(network, person, name, body).await,
            None => Err(ChatError::Temporary(format!(
                "not connected to {network} yet"
            ))),
        }
    }

    async fn is_moderator(&self, room: &Room, user: &str) -> bool {
        match self.now() {
            Some(chat) => chat.is_moderator(room, user).await,
            // Nobody can be seen to moderate a room not joined yet.
            None => false,
        }
    }

    fn deduplicates(&self, room: &Room) -> bool {
        self.now()
            .map_or(self.nature.deduplicates, |c| c.deduplicates(room))
    }

    fn replies(&self, room: &Room) -> bool {
        self.now().map_or(self.nature.replies, |c| c.replies(room))
    }

    fn max_chars(&self, room: &Room, kind: Option<PostKind>) -> Option<usize> {
        // Unknown until connected; nothing reaches the network before.
        self.now().and_then(|c| c.max_chars(room, kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::memory::MemoryChat;

    fn post(key: &str) -> Outgoing<'_> {
        Outgoing {
            key,
            body: "Q1: Why?",
            kind: Some(PostKind::Question),
            reply_to: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_post_waits_for_the_connection_then_goes_through_it() {
        let nature = Nature {
            deduplicates: false,
            replies: false,
        };
        let (later, connected) = Later::<MemoryChat>::new(nature);
        let room: Room = "#d:example.org".parse().unwrap();
        assert!(
            !later.deduplicates(&room),
            "the network's nature until then"
        );
        assert!(!later.replies(&room));
        let chat = Arc::new(MemoryChat::default());
        let sending = later.send(&room, post("k1"));
        let connecting = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            connected.set(chat.clone());
        };
        let (sent, ()) = tokio::join!(sending, connecting);
        assert!(sent.is_ok(), "{sent:?}");
        assert!(later.deduplicates(&room), "the connected chat's own answer");
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_connection_a_post_fails_as_temporary() {
        let nature = Nature {
            deduplicates: true,
            replies: true,
        };
        let (later, _connected) = Later::<MemoryChat>::new(nature);
        let room: Room = "#d:example.org".parse().unwrap();
        let sent = later.send(&room, post("k1")).await;
        assert!(matches!(sent, Err(ChatError::Temporary(_))), "{sent:?}");
    }
}
