//! The chat boundary: the one small interface between the engine and a
//! network. The engine sends posts through [`Chat`] and receives
//! [`Incoming`] events on a channel; it never knows which network a room is
//! on. Matrix, IRC and the console are implementations; tests use
//! [`memory::MemoryChat`].

pub mod console;
pub mod irc;
pub mod later;
pub mod matrix;
pub mod memory;
pub mod router;
pub mod tag;

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

pub use crate::domain::{AttributedBy, Cursor, Network, PostKind, Room};

/// Who wrote a message: a network-wide id (`@alice:example.org`,
/// `irc:alice`, `console:alice`) and the name to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sender {
    pub id: String,
    pub name: String,
    /// Whether the network vouches that `id` is this person: a Matrix user
    /// id or a logged-in IRC account is; a bare nick on an IRC server that
    /// has accounts is not (anyone can take it), so it never matches an
    /// organiser listed in the schedule.
    pub verified: bool,
}

/// Something that happened in a room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Message {
        /// The network's id for this message, used by later edits and replies.
        id: String,
        sender: Sender,
        body: String,
        /// The message this one replies to (or the root of its thread).
        in_reply_to: Option<String>,
        server_ts: Option<DateTime<Utc>>,
        /// An action (`/me waves`: IRC's CTCP ACTION, Matrix's `m.emote`):
        /// collected as an answer like any message, but never a command,
        /// and shown as an action in transcripts.
        action: bool,
    },
    /// A new text for an earlier message. `sender` is who sent the edit:
    /// only the original's author may change it (the Matrix spec's rule
    /// for `m.replace`), so anyone else's edit is ignored.
    Edit {
        target: String,
        sender: Sender,
        body: String,
        server_ts: Option<DateTime<Utc>>,
    },
    /// An earlier message removed. It applies when `sender` wrote the
    /// message, or `moderator` is set: the network says the sender may
    /// remove other people's messages in this room (Matrix: a power level
    /// at least the room's `redact` level).
    Delete {
        target: String,
        sender: Sender,
        moderator: bool,
        server_ts: Option<DateTime<Utc>>,
    },
    /// A reaction (Matrix `m.reaction`) to `target`: a 👍 is a vote for the
    /// proposal `target` made, or that Podium's acknowledgement of it
    /// answers (the adapter gives the proposal's message then). Taking it
    /// back is a [`Event::Delete`] of `id`.
    Reaction {
        id: String,
        sender: Sender,
        target: String,
        key: String,
        server_ts: Option<DateTime<Utc>>,
    },
    /// Nothing to store: the network has moved on (a sync with nothing for
    /// Podium in it) and the event's cursor is to be saved in order.
    Checkpoint,
}

/// What became of an incoming event, once it is safely stored (or not stored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Receipt {
    /// Stored as a reply to `question` (`None`: before Q1, to the intro).
    Saved {
        question: Option<u32>,
        by: AttributedBy,
    },
    /// An edit or deletion was applied to a stored reply.
    Updated,
    /// A command was handled.
    Command,
    /// Not collected, and why.
    Ignored(&'static str),
}

/// An event with what the engine must do once it is durable.
#[derive(Debug)]
pub struct Incoming {
    pub room: Room,
    pub event: Event,
    pub cursor: Option<Cursor>,
    /// Answered after the event is committed to the store.
    pub ack: Option<oneshot::Sender<Receipt>>,
}

/// A post to send. `key` is stable across restarts: networks that can
/// deduplicate (Matrix transaction ids) use it to make a retried send a no-op.
#[derive(Clone, Copy, Debug)]
pub struct Outgoing<'a> {
    pub key: &'a str,
    pub body: &'a str,
    /// What the post is (a question, the intro...), for networks that
    /// format posts; `None` for answers to commands.
    pub kind: Option<PostKind>,
    /// The network id of the message this answers (a command), where the
    /// network can show the relation.
    pub reply_to: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// Worth retrying: the network or the connection failed, and the post
    /// certainly did not reach the room (adapters must not report a send
    /// that may have gone out as temporary: it would be posted again).
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// Not worth retrying: the room does not exist, the bot may not post...
    #[error("{0}")]
    Permanent(String),
    /// The room is on a network Podium is not configured to connect to.
    #[error("no {0} connection is configured")]
    NoNetwork(Network),
}

/// A chat network as the engine sees it.
pub trait Chat: Send + Sync + 'static {
    /// Posts `post` in `room` and returns the network's id for the message.
    fn send(
        &self,
        room: &Room,
        post: Outgoing<'_>,
    ) -> impl Future<Output = Result<String, ChatError>> + Send;

    /// Whether `user` moderates `room` (Matrix power level >= 50, IRC
    /// channel operator), which makes them an organiser there.
    fn is_moderator(&self, room: &Room, user: &str) -> impl Future<Output = bool> + Send;

    /// True when sending twice with the same key posts once. Then a post
    /// interrupted by a crash is retried; otherwise it is left alone, since a
    /// duplicate question is worse than a missing one.
    fn deduplicates(&self, room: &Room) -> bool;

    /// Whether participants can reply to a message in `room` with their
    /// client (Matrix can; most IRC clients cannot), so the intro only
    /// suggests replying where people can.
    fn replies(&self, _room: &Room) -> bool {
        true
    }

    /// The longest body, in characters, that a post of `kind` (`None`: an
    /// answer to a command) may have in `room`, or `None` when the network
    /// sets no limit Podium knows of. The engine checks a post against it
    /// before confirming anything: an `!ask` too long is refused, a long
    /// announcement is shortened, so a post never fails at the network
    /// after Podium said it was made.
    fn max_chars(&self, _room: &Room, _kind: Option<PostKind>) -> Option<usize> {
        None
    }

    /// Sends `body` to one person, privately: `person` is their sender id
    /// (`@user:server`, `irc:account`, `irc:nick`), `name` the name they
    /// were last seen with. Matrix: a direct-message room, created once and
    /// reused; IRC: a NOTICE to the nick, when it is online. Networks
    /// without private messages refuse.
    fn send_direct(
        &self,
        network: Network,
        person: &str,
        name: &str,
        body: &str,
    ) -> impl Future<Output = Result<(), ChatError>> + Send {
        let _ = (person, name, body);
        async move { Err(ChatError::NoNetwork(network)) }
    }

    /// Whether `listed` (an organiser as the schedule writes it, such as
    /// `irc:org[a]`) names the sender `sender_id`. Networks compare names
    /// their own way (IRC servers fold `[]\~` to `{}|^` under their
    /// CASEMAPPING); the default ignores ASCII case only.
    fn same_user(&self, _room: &Room, listed: &str, sender_id: &str) -> bool {
        listed.eq_ignore_ascii_case(sender_id)
    }
}

/// Whether a message's text is a command (`!` then a letter, after
/// leading spaces), as the engine reads it. Networks use it to shed a
/// flood of commands before it reaches the engine, never an answer; the
/// engine's parser starts from the same test, so the two cannot disagree.
pub fn is_command(body: &str) -> bool {
    body.trim_start()
        .strip_prefix('!')
        .is_some_and(|rest| rest.starts_with(char::is_alphabetic))
}

/// `wait`, give or take a quarter, so restarted bots do not retry in step.
pub(crate) fn jittered(wait: Duration) -> Duration {
    let nanos = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos()),
    );
    let spread = u64::try_from(wait.as_millis() / 2).unwrap_or(u64::MAX);
    let offset = if spread == 0 { 0 } else { nanos % spread };
    wait - wait / 4 + Duration::from_millis(offset)
}
