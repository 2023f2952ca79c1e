//! IRC, through the `irc` crate: the bot connects and registers
//! (`session`: TLS, IRCv3 capabilities, SASL), joins the schedule's
//! channels, many to a JOIN line (`joins`), and reads what people say in
//! them (`connection`), and posts through one paced queue (`queue`) in
//! lines that fit (`lines`).
//!
//! IRC keeps no history and has no message ids of its own: what is said
//! while Podium is disconnected is lost (the time is recorded so every
//! transcript says so), and a post interrupted by a crash is not sent
//! again, since a question posted twice is worse than one missing
//! ([`Chat::deduplicates`] is false).
//!
//! Questions and other posts are PRIVMSG; answers to commands are NOTICE,
//! and Podium never answers a NOTICE, so two bots cannot talk in a loop.

mod bucket;
mod caps;
mod casemap;
mod connection;
mod ctcp;
mod echo;
mod inbox;
mod incoming;
mod joins;
mod lines;
mod members;
mod queue;
mod session;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use irc::proto::Message;
use irc::proto::message::Tag;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::{Chat, ChatError, Incoming, Outgoing, PostKind, Room, jittered};
use crate::config::IrcConfig;
use crate::domain::Refused;
use crate::health::Health;
use crate::schedule::Schedule;
use crate::store::Store;
use casemap::CaseMapping;
use echo::Aliases;
use members::Members;
use queue::{Bucket, Job, Lane, Link, Queue};
pub use session::OpenError;

/// Whether `nick` is one of the replicas' nicks (the configured one, its
/// numbered forms `podium-2`..., and the alternates taken while it is in
/// use), compared folded by `fold`. What another replica posts is not an
/// answer; a participant who takes such a nick only silences themselves.
pub fn is_sibling(configured: &str, nick: &str, fold: impl Fn(&str) -> String) -> bool {
    let configured = fold(configured);
    let base = match configured.rsplit_once('-') {
        Some((b, n)) if !b.is_empty() && !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => {
            b
        }
        _ => configured.as_str(),
    };
    let nick = fold(nick);
    let Some(rest) = nick.strip_prefix(base) else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    rest.is_empty()
        || rest.strip_prefix('-').is_some_and(digits)
        || (!rest.is_empty() && rest.bytes().all(|c| c == b'_'))
        || digits(rest)
}
use session::Session;

/// The name of this network in the health report.
pub const NETWORK: &str = "irc";

/// Ids Podium makes up where the server gives none (no `msgid` tag).
const LOCAL_ID: &str = "irc-local-";

/// Lines waiting in the queue beyond which answers to commands are
/// dropped rather than queued: a crowd typing `!next` must not hold up
/// the questions.
const BUSY: usize = 40;

/// The first wait before reconnecting, doubled each time up to the last.
const FIRST_WAIT: Duration = Duration::from_secs(1);
const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// About `wait`, give or take, so bots restarted together do not all
/// reconnect at once.
async fn sleep(wait: Duration) {
    tokio::time::sleep(jittered(wait)).await;
}

/// What the connection and the engine's sends share.
#[derive(Default)]
struct Shared {
    /// Channels joined now, by folded name, as the schedule writes them.
    joined: RwLock<HashMap<String, Room>>,
    /// Podium's own nick now, and the length of its `user@host`, once seen.
    me: RwLock<(String, Option<usize>)>,
    /// The nick each sender id was last seen with (an id may be an
    /// account), by folded id.
    nicks: RwLock<HashMap<String, String>>,
    /// How the server compares names (ISUPPORT `CASEMAPPING`).
    casemap: RwLock<CaseMapping>,
    /// Who is in each channel, with which status.
    members: RwLock<Members>,
    /// Server ids of posts whose echo came too late, to their local ids.
    aliases: Arc<Mutex<Aliases>>,
    /// Joined channels where the server refused a post, and why (by folded
    /// name): Podium is there but cannot say anything.
    muted: RwLock<HashMap<String, String>>,
}

impl Shared {
    /// `name` as the server compares it (`#Deb[1]` is `#deb{1}` under
    /// rfc1459).
    fn fold(&self, name: &str) -> String {
        read(&self.casemap).fold(name)
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// The bot's connection to its IRC server, as the engine posts through it.
pub struct IrcChat {
    shared: Arc<Shared>,
    link: watch::Receiver<Option<Link>>,
    queue: Queue,
    operators_are_organisers: bool,
}

/// An IRC connection, registered or still to be.
pub struct Irc {
    chat: Arc<IrcChat>,
    config: IrcConfig,
    link: watch::Sender<Option<Link>>,
}

impl Irc {
    /// The connection, not made yet: [`Irc::run`] makes it, in its own
    /// task, so a server slow to answer holds up nothing else. Until then
    /// posts to its channels fail as temporary, as while reconnecting.
    pub fn new(config: &IrcConfig) -> Irc {
        let (link, link_rx) = watch::channel(None);
        let chat = IrcChat {
            shared: Arc::new(Shared::default()),
            queue: Queue::start(
                link_rx.clone(),
                Bucket::new(config.send_burst, config.send_interval),
            ),
            link: link_rx,
            operators_are_organisers: config.operators_are_organisers,
        };
        Irc {
            chat: Arc::new(chat),
            config: config.clone(),
            link,
        }
    }

    /// The connection the engine posts through.
    pub fn chat(&self) -> Arc<IrcChat> {
        self.chat.clone()
    }

    /// Connects, stays connected, joined to the schedule's channels,
    /// delivering what people say in them to `events`, reconnecting with
    /// growing waits after the connection is lost, until `stop` is
    /// cancelled: then it says QUIT, records its presence up to the
    /// server's farewell and hands over what it read.
    ///
    /// # Errors
    /// [`Refused`] when the server refuses Podium's settings (password,
    /// nick, SASL login) before Podium ever registered with them, so
    /// `podium run` can say so and exit; every other failure is retried.
    pub async fn run(
        self,
        store: Store,
        events: mpsc::Sender<Incoming>,
        schedule: watch::Receiver<Arc<Schedule>>,
        health: Health,
        stop: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut wait = FIRST_WAIT;
        let mut registered = false;
        loop {
            let Some(attempt) = stop
                .run_until_cancelled(self.connect(&health, registered))
                .await
            else {
                return Ok(());
            };
            let Some(session) = attempt? else {
                if stop.run_until_cancelled(sleep(wait)).await.is_none() {
                    return Ok(());
                }
                wait = (wait * 2).min(LONGEST_WAIT);
                continue;
            };
            registered = true;
            let began = tokio::time::Instant::now();
            let reason = connection::Connection::new(
                &self.chat,
                &self.config,
                &self.link,
                session,
                &events,
                &health,
                &store,
            )
            .serve(schedule.clone(), &stop)
            .await;
            self.link.send_replace(None);
            write(&self.chat.shared.joined).clear();
            write(&self.chat.shared.muted).clear();
            if stop.is_cancelled() {
                health.set(NETWORK, false, "stopped");
                tracing::info!(server = %self.config.server, %reason, "left IRC");
                return Ok(());
            }
            health.set(NETWORK, false, format!("disconnected: {reason}"));
            tracing::warn!(server = %self.config.server, %reason,
                "disconnected from IRC; reconnecting");
            if began.elapsed() > LONGEST_WAIT {
                wait = FIRST_WAIT;
            }
            if stop.run_until_cancelled(sleep(wait)).await.is_none() {
                return Ok(());
            }
            wait = (wait * 2).min(LONGEST_WAIT);
        }
    }

    /// One attempt; `None` to try again later.
    async fn connect(&self, health: &Health, registered: bool) -> Result<Option<Session>, Refused> {
        health.set(NETWORK, false, "connecting");
        match session::open(&self.config).await {
            Ok(s) => Ok(Some(s)),
            Err(OpenError::Refused(why)) if !registered => {
                Err(Refused(format!("IRC ({}): {why}", self.config.server)))
            }
            Err(OpenError::Refused(why)) => {
                // The settings were accepted before: someone changed them
                // on the server.
                tracing::error!(server = %self.config.server, reason = %why,
                    "the IRC server refuses Podium's settings; trying again");
                health.set(NETWORK, false, why);
                Ok(None)
            }
            Err(OpenError::Failed(why)) => {
                tracing::warn!(server = %self.config.server, reason = %why,
                    "cannot connect to IRC; trying again in the background");
                health.set(NETWORK, false, why);
                Ok(None)
            }
        }
    }
}

impl IrcChat {
    /// The lines of `post` to `channel`, as `command`, with the reply tag
    /// where the server relays it and the command answered has an id.
    fn messages(
        &self,
        channel: &str,
        command: &str,
        post: Outgoing<'_>,
        link: &Link,
    ) -> Vec<Message> {
        let text = lines::format(post.body, post.kind);
        let budget = self.budget(channel, command);
        let reply = post
            .reply_to
            .filter(|id| link.tags && !id.starts_with(LOCAL_ID));
        lines::split(&text, budget, lines::most_lines(post.kind))
            .into_iter()
            .filter_map(|line| {
                let tags = reply.map(|id| vec![Tag("+draft/reply".into(), Some(id.to_owned()))]);
                Message::with_tags(tags, None, command, vec![channel, &line]).ok()
            })
            .collect()
    }

    /// Bytes of text a line of `command` to `channel` may carry.
    fn budget(&self, channel: &str, command: &str) -> usize {
        let (nick, mask) = read(&self.shared.me).clone();
        lines::budget(&nick, mask.unwrap_or(lines::UNKNOWN_MASK), command, channel)
    }
}

/// The command a post goes out as, and its lane in the send queue.
fn command_and_lane(kind: Option<PostKind>) -> (&'static str, Lane) {
    match kind {
        Some(PostKind::Question) => ("PRIVMSG", Lane::Question),
        Some(_) => ("PRIVMSG", Lane::Post),
        None => ("NOTICE", Lane::Answer),
    }
}

impl Chat for IrcChat {
    async fn send(&self, room: &Room, post: Outgoing<'_>) -> Result<String, ChatError> {
        let Room::Irc(channel) = room else {
            return Err(ChatError::Permanent(format!(
                "{room} is not an IRC channel"
            )));
        };
        let Some(link) = self.link.borrow().clone() else {
            return Err(ChatError::Temporary(
                "not connected to the IRC server".into(),
            ));
        };
        if !read(&self.shared.joined).contains_key(&self.shared.fold(channel)) {
            return Err(ChatError::Temporary(format!("not in {channel} (yet)")));
        }
        if post.kind.is_none() && self.queue.waiting() > BUSY {
            return Err(ChatError::Permanent(format!(
                "{} lines are waiting to be sent; this answer is dropped",
                self.queue.waiting()
            )));
        }
        let (command, lane) = command_and_lane(post.kind);
        let messages = self.messages(channel, command, post, &link);
        if messages.is_empty() {
            return Err(ChatError::Permanent("the post has no text to send".into()));
        }
        let (done, result) = oneshot::channel();
        let fallback_id = format!("{LOCAL_ID}{}", post.key);
        self.queue.push(Job {
            messages,
            done: Some(done),
            fallback_id: fallback_id.clone(),
            lane,
            target: channel.clone(),
        });
        if post.kind.is_none() {
            // An answer to a command is not waited for: it may wait in the
            // queue behind every post, and whoever sends it (the engine)
            // must not wait with it. Nothing refers to its id.
            return Ok(fallback_id);
        }
        result
            .await
            .unwrap_or_else(|_| Err(ChatError::Temporary("IRC is stopping".into())))
    }

    /// A NOTICE to the person's nick (the one their id was last seen with,
    /// else the name given), only while it is in a channel Podium is in:
    /// IRC keeps nothing for someone offline.
    async fn send_direct(
        &self,
        _network: crate::domain::Network,
        person: &str,
        name: &str,
        body: &str,
    ) -> Result<(), ChatError> {
        let Some(link) = self.link.borrow().clone() else {
            return Err(ChatError::Temporary(
                "not connected to the IRC server".into(),
            ));
        };
        let nick = read(&self.shared.nicks)
            .get(&self.shared.fold(person))
            .cloned()
            .unwrap_or_else(|| name.to_owned());
        if !read(&self.shared.members).is_present(&nick) {
            return Err(ChatError::Permanent(format!(
                "{nick} is not in any channel Podium is in"
            )));
        }
        let post = Outgoing {
            key: "",
            body,
            kind: None,
            reply_to: None,
        };
        let messages = self.messages(&nick, "NOTICE", post, &link);
        if messages.is_empty() {
            return Err(ChatError::Permanent(
                "the message has no text to send".into(),
            ));
        }
        self.queue.push(Job {
            messages,
            done: None,
            fallback_id: String::new(),
            lane: Lane::Answer,
            target: nick,
        });
        Ok(())
    }

    /// Channel operators (and owners, admins) are organisers where the
    /// configuration allows, as Podium has seen them (a nick change keeps
    /// the status), except on channels Podium found empty: there the
    /// first to come back became operator, which proves nothing.
    async fn is_moderator(&self, room: &Room, user: &str) -> bool {
        let Room::Irc(channel) = room else {
            return false;
        };
        if !self.operators_are_organisers {
            return false;
        }
        let Some(nick) = read(&self.shared.nicks)
            .get(&self.shared.fold(user))
            .cloned()
        else {
            return false;
        };
        let members = read(&self.shared.members);
        members.is_operator(channel, &nick) && !members.found_empty(channel)
    }

    fn deduplicates(&self, _room: &Room) -> bool {
        false
    }

    /// Few IRC clients can reply to a message (`+draft/reply` is honoured
    /// where one does), so the intro asks for answer tags only.
    fn replies(&self, _room: &Room) -> bool {
        false
    }

    /// What fits the post's share of lines ([`lines::max_chars`]): a
    /// question up to 30 lines, an announcement 4 (2 in plain English, so
    /// two channels' intros do not hold up the questions), an answer to a
    /// command 10. Lines are what the send queue spends its time on.
    fn max_chars(&self, room: &Room, kind: Option<PostKind>) -> Option<usize> {
        let Room::Irc(channel) = room else {
            return None;
        };
        let (command, _) = command_and_lane(kind);
        Some(lines::max_chars(self.budget(channel, command), kind))
    }

    /// Nicks and accounts compare as the server compares them: under
    /// rfc1459, `irc:org[a]` in the schedule is `org{a}` in the channel.
    fn same_user(&self, _room: &Room, listed: &str, sender_id: &str) -> bool {
        read(&self.shared.casemap).same(listed, sender_id)
    }
}

#[cfg(test)]
mod tests {
    use super::is_sibling;

    #[test]
    fn replicas_know_each_others_nicks_and_no_one_elses() {
        let fold = |s: &str| s.to_ascii_lowercase();
        for configured in ["podium", "Podium", "podium-2"] {
            for nick in [
                "podium",
                "PODIUM-2",
                "podium-13",
                "podium_",
                "podium__",
                "podium7",
            ] {
                assert!(is_sibling(configured, nick, fold), "{configured} {nick}");
            }
            for nick in [
                "podiumfan",
                "podium-",
                "podium-x",
                "pod",
                "alice",
                "podium_2",
                "xpodium",
            ] {
                assert!(!is_sibling(configured, nick, fold), "{configured} {nick}");
            }
        }
    }
}
