//! One chat for the engine over every configured network: each room's
//! posts go to the connection of the network the room is on. A room on a
//! network Podium is not connected to gets [`ChatError::NoNetwork`], which
//! the engine records as skipped with a log line.

use std::sync::Arc;

use super::console::ConsoleChat;
use super::{Chat, ChatError, Network, Outgoing, Room};

#[derive(Clone, Default)]
pub struct Router {
    console: Option<Arc<ConsoleChat>>,
}

impl Router {
    pub fn new() -> Self {
        Router::default()
    }

    #[must_use]
    pub fn with_console(mut self, console: Arc<ConsoleChat>) -> Self {
        self.console = Some(console);
        self
    }

    /// Whether posts to rooms on `network` can be delivered.
    pub fn serves(&self, network: Network) -> bool {
        match network {
            Network::Console => self.console.is_some(),
            Network::Matrix | Network::Irc => false,
        }
    }
}

impl Chat for Router {
    async fn send(&self, room: &Room, post: Outgoing<'_>) -> Result<String, ChatError> {
        match (room.network(), &self.console) {
            (Network::Console, Some(console)) => console.send(room, post).await,
            (network, _) => Err(ChatError::NoNetwork(network)),
        }
    }

    async fn is_moderator(&self, room: &Room, user: &str) -> bool {
        match (room.network(), &self.console) {
            (Network::Console, Some(console)) => console.is_moderator(room, user).await,
            _ => false,
        }
    }

    fn deduplicates(&self, room: &Room) -> bool {
        match (room.network(), &self.console) {
            (Network::Console, Some(console)) => console.deduplicates(room),
            // Nothing is sent there, so nothing can be sent twice.
            _ => true,
        }
    }
}
