//! The vocabulary every layer shares: rooms and the network each is on,
//! network resume positions, the kinds and states of posts, and how a reply
//! was attributed. It imports nothing of Podium's, so the schedule, the
//! store, the chat networks and the engine all take these names from below
//! and none reaches up into another for them.

use std::fmt;
use std::str::FromStr;

/// The chat networks Podium knows. Only the rooms say which one they are
/// on; the engine stores the name and never branches on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Network {
    Matrix,
    Irc,
    /// The terminal of `podium rehearse`.
    Console,
}

impl Network {
    /// The name stored with replies and cursors.
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Matrix => "matrix",
            Network::Irc => "irc",
            Network::Console => "console",
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a debate is held. Matrix rooms are `!id:server` or `#alias:server`;
/// IRC channels are `#channel` (no colon) or `irc:#channel`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Room {
    Matrix(String),
    Irc(String),
    /// The terminal of `podium rehearse`; never written in debates.yaml.
    Console(String),
}

impl Room {
    /// The network the room is on.
    pub fn network(&self) -> Network {
        match self {
            Room::Matrix(_) => Network::Matrix,
            Room::Irc(_) => Network::Irc,
            Room::Console(_) => Network::Console,
        }
    }

    /// Reads a room as written in `rooms:`.
    ///
    /// # Errors
    /// A message saying what a room should look like.
    pub fn parse(s: &str) -> Result<Room, String> {
        let s = s.trim();
        // Said first, and escaped: the name would otherwise reach the
        // terminal (and an IRC server) with the control characters in it.
        if s.chars().any(char::is_control) {
            return Err(format!(
                "a room name cannot contain control characters: `{}`",
                s.escape_debug()
            ));
        }
        let bad = |why: &str| Err(format!("{why}: `{s}`"));
        if let Some(rest) = s.strip_prefix("irc:") {
            return Room::irc(rest).map_or_else(|| bad("not an IRC channel"), Ok);
        }
        if let Some(rest) = s.strip_prefix("matrix:") {
            return Room::matrix(rest).map_or_else(|| bad("not a Matrix room"), Ok);
        }
        if s.contains(':') || is_v12_room_id(s) {
            return Room::matrix(s).map_or_else(
                || bad("not a Matrix room id (`!id:server`) or alias (`#alias:server`)"),
                Ok,
            );
        }
        Room::irc(s).map_or_else(
            || {
                bad("a room is a Matrix room (`#alias:server`, `!id:server`) or an IRC channel (`#channel`)")
            },
            Ok,
        )
    }

    fn matrix(s: &str) -> Option<Room> {
        if is_v12_room_id(s) {
            return Some(Room::Matrix(s.to_owned()));
        }
        let (local, server) = s.get(1..)?.split_once(':')?;
        let ok = (s.starts_with('#') || s.starts_with('!'))
            && !local.is_empty()
            && !server.is_empty()
            && !s.chars().any(char::is_whitespace);
        ok.then(|| Room::Matrix(s.to_owned()))
    }

    fn irc(s: &str) -> Option<Room> {
        // RFC 2812: channels start with # & + or !, and have no spaces,
        // commas or control characters (BEL, and the colour and formatting
        // codes clients would show as something else); no colons either,
        // which Podium reads as a Matrix server part.
        let ok = s.len() > 1
            && s.len() <= 50
            && s.starts_with(['#', '&', '+', '!'])
            && !s
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == ':');
        ok.then(|| Room::Irc(s.to_owned()))
    }
}

/// A room id of room version 12 and later (Synapse's default since 1.135):
/// `!` and the create event's hash, 43 characters of URL-safe base64, with
/// no server part. Written bare in `rooms:` it is taken for Matrix: an IRC
/// channel cannot look like it by accident (`!` channels, used by hardly
/// any network, are `!` and five characters of upper case and digits
/// before their name), and `irc:` still says otherwise.
fn is_v12_room_id(s: &str) -> bool {
    s.strip_prefix('!').is_some_and(|hash| {
        hash.len() == 43
            && hash
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

impl fmt::Display for Room {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Room::Matrix(r) => f.write_str(r),
            Room::Irc(c) => write!(f, "irc:{c}"),
            Room::Console(c) => write!(f, "console:{c}"),
        }
    }
}

/// The inverse of `Display`: how rooms are stored in the database.
impl FromStr for Room {
    type Err = String;
    fn from_str(s: &str) -> Result<Room, String> {
        match s.strip_prefix("console:") {
            Some(name) => Ok(Room::Console(name.to_owned())),
            None => Room::parse(s),
        }
    }
}

/// A network's resume position (a Matrix sync token, say). The engine saves
/// it in the same transaction as the replies received before it, so a crash
/// re-delivers uncommitted messages instead of losing them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub network: String,
    pub position: String,
}

/// A network refused Podium's settings (a wrong password, a revoked
/// token, a nick the server will not take) before it ever got in:
/// restarting will not help, so `podium run` stops with a configuration
/// error (exit status 78) rather than retrying for ever.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// A stored name that is not one of an enum's (a corrupt database).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}`")]
pub struct UnknownName {
    pub what: &'static str,
    pub name: String,
}

/// Enums stored by name: one table of names, both directions.
macro_rules! named {
    ($ty:ident, $what:literal, { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),*
                }
            }
        }

        impl FromStr for $ty {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($name => Ok($ty::$variant),)*
                    _ => Err(UnknownName { what: $what, name: s.to_owned() }),
                }
            }
        }
    };
}

/// What kind of post, in the order posts due at the same instant are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PostKind {
    Reminder,
    Intro,
    Question,
    /// "Last call for Q2": time is nearly up for the question being
    /// answered (`last_call` before the next question or the closing).
    LastCall,
    Closing,
    Transcript,
}

named!(PostKind, "post kind", {
    Reminder => "reminder",
    Intro => "intro",
    Question => "question",
    LastCall => "last_call",
    Closing => "closing",
    Transcript => "transcript",
});

/// Where a post stands. A post is claimed (`Queued`) when it falls due,
/// moves to `Sending` at the moment it is handed to the network (under the
/// claimant's lease, with replicas), and is marked `Sent` after; `Unknown`
/// is a `Sending` claim a crash interrupted on a network that cannot
/// deduplicate, or one another replica left. A `Queued` claim never
/// reached the network, so whoever finds it may send it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostStatus {
    Queued,
    Sending,
    Sent,
    Skipped,
    Unknown,
    Failed,
}

named!(PostStatus, "post status", {
    Queued => "queued",
    Sending => "sending",
    Sent => "sent",
    Skipped => "skipped",
    Unknown => "unknown",
    Failed => "failed",
});

/// How a reply was attributed to its question; stored with it, so
/// transcripts can show which attributions were guesses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttributedBy {
    Tag,
    Reply,
    Latest,
    Intro,
}

named!(AttributedBy, "attribution", {
    Tag => "tag",
    Reply => "reply",
    Latest => "latest",
    Intro => "intro",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_read_back_as_they_are_written_and_know_their_network() {
        for (text, network) in [
            ("#debate:example.org", Network::Matrix),
            ("!abc:example.org", Network::Matrix),
            // Room version 12: no server part.
            (
                "!1dqe54DSzgguQuFvg1o3qg6U2-2bhcwLGOxDfQumKcI",
                Network::Matrix,
            ),
            ("irc:#debate", Network::Irc),
            (
                "irc:!1dqe54DSzgguQuFvg1o3qg6U2-2bhcwLGOxDfQumKcI",
                Network::Irc,
            ),
            ("irc:!ABCDEchannel", Network::Irc),
            ("console:rehearsal", Network::Console),
        ] {
            let room: Room = text.parse().unwrap();
            assert_eq!(room.to_string(), text);
            assert_eq!(room.network(), network);
        }
        assert_eq!(
            "#debate".parse::<Room>().unwrap().to_string(),
            "irc:#debate"
        );
    }

    #[test]
    fn a_room_with_control_characters_is_refused_and_shown_escaped() {
        for text in [
            "#deb\u{1}ate",
            "irc:#col\u{3}ours",
            "#del\u{7f}",
            "#a\u{9b}b:example.org",
        ] {
            let err = Room::parse(text).unwrap_err();
            assert!(
                err.starts_with("a room name cannot contain control characters: `"),
                "{err}"
            );
            assert!(!err.chars().any(char::is_control), "{err:?}");
        }
        assert_eq!(Room::parse("#ünïcödé"), Ok(Room::Irc("#ünïcödé".into())));
    }

    #[test]
    fn stored_names_round_trip() {
        for k in [
            PostKind::Reminder,
            PostKind::Intro,
            PostKind::Question,
            PostKind::LastCall,
            PostKind::Closing,
            PostKind::Transcript,
        ] {
            assert_eq!(k.as_str().parse::<PostKind>(), Ok(k));
        }
        assert_eq!("sent".parse::<PostStatus>(), Ok(PostStatus::Sent));
        assert_eq!("latest".parse::<AttributedBy>(), Ok(AttributedBy::Latest));
        assert_eq!(
            "nope".parse::<PostStatus>().unwrap_err().to_string(),
            "unknown post status `nope`"
        );
    }
}
