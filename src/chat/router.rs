//! One chat for the engine over every configured network: each room's
//! posts go to the connection of the network the room is on. A room on a
//! network Podium is not connected to gets [`ChatError::NoNetwork`], which
//! the engine records as skipped with a log line.

use std::sync::Arc;

use super::console::ConsoleChat;
use super::irc::IrcChat;
use super::later::{Later, Nature};
use super::matrix::MatrixChat;
use super::{Chat, ChatError, Network, Outgoing, PostKind, Room};

#[derive(Default)]
pub struct Router {
    console: Option<Arc<ConsoleChat>>,
    /// Logged in after the engine starts (see [`Later`]).
    matrix: Option<Later<MatrixChat>>,
    irc: Option<Arc<IrcChat>>,
}

/// Matrix, whether logged in yet or not: a transaction id makes a post
/// sent twice appear once, and people can reply to a message.
pub const MATRIX: Nature = Nature {
    deduplicates: true,
    replies: true,
};

impl Router {
    pub fn new() -> Self {
        Router::default()
    }

    #[must_use]
    pub fn with_console(mut self, console: Arc<ConsoleChat>) -> Self {
        self.console = Some(console);
        self
    }

    #[must_use]
    pub fn with_matrix(self, matrix: Arc<MatrixChat>) -> Self {
        self.with_matrix_later(Later::ready(matrix, MATRIX))
    }

    /// Matrix rooms, served once the login (in its own task) is done.
    #[must_use]
    pub fn with_matrix_later(mut self, matrix: Later<MatrixChat>) -> Self {
        self.matrix = Some(matrix);
        self
    }

    #[must_use]
    pub fn with_irc(mut self, irc: Arc<IrcChat>) -> Self {
        self.irc = Some(irc);
        self
    }

    /// Whether posts to rooms on `network` can be delivered (now, or once
    /// connected).
    pub fn serves(&self, network: Network) -> bool {
        match network {
            Network::Console => self.console.is_some(),
            Network::Matrix => self.matrix.is_some(),
            Network::Irc => self.irc.is_some(),
        }
    }
}

impl Chat for Router {
    async fn send(&self, room: &Room, post: Outgoing<'_>) -> Result<String, ChatError> {
        match room.network() {
            Network::Console if let Some(c) = &self.console => c.send(room, post).await,
            Network::Matrix if let Some(m) = &self.matrix => m.send(room, post).await,
            Network::Irc if let Some(i) = &self.irc => i.send(room, post).await,
            network => Err(ChatError::NoNetwork(network)),
        }
    }

    async fn send_direct(
        &self,
        network: Network,
        person: &str,
        name: &str,
        body: &str,
    ) -> Result<(), ChatError> {
        match network {
            Network::Matrix if let Some(m) = &self.matrix => {
                m.send_direct(network, person, name, body).await
            }
            Network::Irc if let Some(i) = &self.irc => {
                i.send_direct(network, person, name, body).await
            }
            network => Err(ChatError::NoNetwork(network)),
        }
    }

    async fn is_moderator(&self, room: &Room, user: &str) -> bool {
        match room.network() {
            Network::Console if let Some(c) = &self.console => c.is_moderator(room, user).await,
            Network::Matrix if let Some(m) = &self.matrix => m.is_moderator(room, user).await,
            Network::Irc if let Some(i) = &self.irc => i.is_moderator(room, user).await,
            _ => false,
        }
    }

    fn deduplicates(&self, room: &Room) -> bool {
        match room.network() {
            Network::Console if let Some(c) = &self.console => c.deduplicates(room),
            Network::Matrix if let Some(m) = &self.matrix => m.deduplicates(room),
            Network::Irc if let Some(i) = &self.irc => i.deduplicates(room),
            // Nothing is sent there, so nothing can be sent twice.
            _ => true,
        }
    }

    fn replies(&self, room: &Room) -> bool {
        match room.network() {
            Network::Console if let Some(c) = &self.console => c.replies(room),
            Network::Matrix if let Some(m) = &self.matrix => m.replies(room),
            Network::Irc if let Some(i) = &self.irc => i.replies(room),
            _ => true,
        }
    }

    fn max_chars(&self, room: &Room, kind: Option<PostKind>) -> Option<usize> {
        match room.network() {
            Network::Console if let Some(c) = &self.console => c.max_chars(room, kind),
            // Before the login the room's encryption is not known: the
            // limit of an encrypted room holds in any room.
            Network::Matrix if let Some(m) = &self.matrix => m
                .max_chars(room, kind)
                .or_else(|| Some(super::matrix::max_chars_anywhere(kind))),
            Network::Irc if let Some(i) = &self.irc => i.max_chars(room, kind),
            _ => None,
        }
    }

    fn same_user(&self, room: &Room, listed: &str, sender_id: &str) -> bool {
        match room.network() {
            Network::Console if let Some(c) = &self.console => c.same_user(room, listed, sender_id),
            Network::Matrix if let Some(m) = &self.matrix => m.same_user(room, listed, sender_id),
            Network::Irc if let Some(i) = &self.irc => i.same_user(room, listed, sender_id),
            _ => listed.eq_ignore_ascii_case(sender_id),
        }
    }
}
