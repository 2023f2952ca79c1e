//! One registered connection, until it is lost: the schedule's channels
//! joined (again after each reload, after a kick, and with growing waits
//! after the server refused one, with its reason logged), what people say
//! in them delivered to the engine, the configured nick taken back when it
//! is free, and the answer to CTCP VERSION. Podium never answers a NOTICE.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use irc::proto::{Command, Message, Prefix};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::queue::{Job, Link};
use super::session::{self, Session, numeric};
use super::{BUSY, IrcChat, LOCAL_ID, NETWORK, fold, lines, read, write};
use crate::chat::{Event, Incoming, Room, Sender};
use crate::config::IrcConfig;
use crate::domain::Network;
use crate::health::Health;
use crate::schedule::Schedule;
use crate::store::Store;

/// How often channels that could not be joined are tried again and the
/// configured nick is asked for.
const TICK: Duration = Duration::from_secs(30);
/// The first wait after a refused join, doubled each time up to the last.
const FIRST_JOIN_WAIT: Duration = Duration::from_secs(60);
const LONGEST_JOIN_WAIT: Duration = Duration::from_secs(900);

/// Numerics that refuse a JOIN; the channel is their first argument
/// after the nick.
const JOIN_REFUSALS: &[u16] = &[403, 405, 437, 471, 473, 474, 475, 476, 477, 489, 520];

pub struct Connection<'a> {
    chat: &'a IrcChat,
    config: &'a IrcConfig,
    link_tx: &'a watch::Sender<Option<Link>>,
    events: &'a mpsc::Sender<Incoming>,
    health: &'a Health,
    store: &'a Store,
    session: Session,
    link: Link,
    /// This connection's presence row (see [`Store::presence_begin`]):
    /// IRC keeps no history, so the transcript must say when Podium was
    /// away and answers were lost.
    presence: Option<i64>,
    /// When the server last sent anything: the evidence that the
    /// connection was alive, up to which presence is extended.
    seen: DateTime<Utc>,
    /// The schedule's channels, by folded name.
    wanted: HashMap<String, Room>,
    /// When a channel not joined yet may be asked for again (after no
    /// answer, a refusal or a kick), and the wait after that.
    retry: HashMap<String, (Instant, Duration)>,
    /// Why the server is closing the link, once it has said.
    closing: Option<String>,
    /// Ids for messages without a server id: unique within this process,
    /// and the clock makes them unique across restarts.
    counter: u64,
}

impl<'a> Connection<'a> {
    pub fn new(
        chat: &'a IrcChat,
        config: &'a IrcConfig,
        link_tx: &'a watch::Sender<Option<Link>>,
        session: Session,
        events: &'a mpsc::Sender<Incoming>,
        health: &'a Health,
        store: &'a Store,
    ) -> Self {
        let link = Link {
            client: session.client.clone(),
            labels: Arc::new(AtomicBool::new(
                ["echo-message", "labeled-response", "batch"]
                    .iter()
                    .all(|c| session.caps.contains(*c)),
            )),
            tags: session.caps.contains("message-tags"),
            echoes: Arc::default(),
        };
        *write(&chat.shared.me) = (session.nick.clone(), None);
        write(&chat.shared.nicks).clear();
        Connection {
            chat,
            config,
            link_tx,
            events,
            health,
            store,
            session,
            link,
            presence: None,
            seen: Utc::now(),
            wanted: HashMap::new(),
            retry: HashMap::new(),
            closing: None,
            counter: 0,
        }
    }

    /// Serves the connection until it is lost, and says why. Presence is
    /// recorded from registration to the last line received.
    pub async fn serve(mut self, schedule: watch::Receiver<Arc<Schedule>>) -> String {
        self.presence = match self.store.presence_begin(Network::Irc, Utc::now()).await {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::warn!(cause = %e, "cannot record that Podium is on IRC; \
                    a later outage may not show in transcripts");
                None
            }
        };
        let reason = self.serve_until_lost(schedule).await;
        self.extend_presence().await;
        reason
    }

    /// Extends the presence row to the last line received (not to now:
    /// a connection that died silently is only noticed at the ping
    /// timeout, and answers sent meanwhile were lost).
    async fn extend_presence(&self) {
        let Some(id) = self.presence else { return };
        if let Err(e) = self.store.presence_extend(id, self.seen).await {
            tracing::warn!(cause = %e, "cannot record that Podium is still on IRC");
        }
    }

    async fn serve_until_lost(&mut self, mut schedule: watch::Receiver<Arc<Schedule>>) -> String {
        let mut caps: Vec<&String> = self.session.caps.iter().collect();
        caps.sort();
        tracing::info!(server = %self.config.server, nick = %self.session.nick,
            tls = self.config.tls, ?caps, accounts = self.session.accounts,
            "connected to IRC");
        self.link_tx.send_replace(Some(self.link.clone()));
        self.identify();
        let current = schedule.borrow_and_update().clone();
        self.want(&current);
        self.join_missing();
        let mut tick = tokio::time::interval_at(Instant::now() + TICK, TICK);
        let mut schedule_open = true;
        loop {
            tokio::select! {
                next = self.session.stream.next() => match next {
                    Some(Ok(m)) => self.handle(m).await,
                    Some(Err(e)) => {
                        return self.closing.take().unwrap_or_else(|| session::describe(&e));
                    }
                    None => {
                        return self
                            .closing
                            .take()
                            .unwrap_or_else(|| "the server closed the connection".into());
                    }
                },
                changed = schedule.changed(), if schedule_open => {
                    if changed.is_ok() {
                        let current = schedule.borrow_and_update().clone();
                        self.want(&current);
                        self.join_missing();
                    } else {
                        schedule_open = false;
                    }
                }
                _ = tick.tick() => {
                    self.join_missing();
                    self.regain_nick();
                    self.extend_presence().await;
                }
            }
        }
    }

    fn nick(&self) -> String {
        read(&self.chat.shared.me).0.clone()
    }

    /// Sends `messages` through the paced queue, nobody waiting for them.
    fn queue(&self, messages: Vec<Message>) {
        self.chat.queue.push(Job {
            messages,
            done: None,
            fallback_id: String::new(),
        });
    }

    /// NickServ, where SASL did not log Podium in (a server without SASL,
    /// or services that take IDENTIFY only). Harmless where there is no
    /// NickServ: the server answers that there is no such nick.
    fn identify(&self) {
        let Some(password) = &self.config.password else {
            return;
        };
        if self.session.logged_in {
            return;
        }
        tracing::info!(account = %self.config.account, "identifying to NickServ");
        let text = format!("IDENTIFY {} {}", self.config.account, password.expose());
        self.queue(vec![Command::PRIVMSG("NickServ".into(), text).into()]);
    }

    fn want(&mut self, schedule: &Schedule) {
        self.wanted = schedule
            .debates
            .iter()
            .flat_map(|d| d.rooms.iter())
            .filter_map(|r| match r {
                Room::Irc(c) => Some((fold(c), r.clone())),
                _ => None,
            })
            .collect();
        self.report();
    }

    /// Asks to join every wanted channel not joined whose wait is over.
    fn join_missing(&mut self) {
        let now = Instant::now();
        let joined = read(&self.chat.shared.joined).clone();
        let mut joins = Vec::new();
        for (key, room) in &self.wanted {
            if joined.contains_key(key) {
                continue;
            }
            let wait = match self.retry.get(key) {
                Some((at, _)) if *at > now => continue,
                Some((_, wait)) => *wait,
                None => FIRST_JOIN_WAIT,
            };
            // An unanswered JOIN is asked again after a while, not at once.
            self.retry.insert(key.clone(), (now + 4 * TICK, wait));
            if let Room::Irc(channel) = room {
                joins.push(Command::JOIN(channel.clone(), None, None).into());
            }
        }
        if !joins.is_empty() {
            self.queue(joins);
        }
    }

    /// Asks whether the configured nick is free again (answered by 303).
    fn regain_nick(&self) {
        if fold(&self.nick()) != fold(&self.config.nick) {
            self.queue(vec![Command::ISON(vec![self.config.nick.clone()]).into()]);
        }
    }

    fn report(&self) {
        let joined = read(&self.chat.shared.joined).len();
        let wanted = self.wanted.len();
        self.health.set(
            NETWORK,
            joined >= wanted,
            format!(
                "connected as {}; in {joined} of {wanted} channels",
                self.nick()
            ),
        );
    }

    async fn handle(&mut self, m: Message) {
        self.seen = Utc::now();
        let me = self.nick();
        let from_me = m.source_nickname().is_some_and(|n| fold(n) == fold(&me));
        match &m.command {
            Command::PRIVMSG(..) if from_me => self.echoed(&m),
            Command::PRIVMSG(target, body) => self.said(&m, target, body).await,
            Command::NOTICE(_, text) if m.source_nickname() == Some("NickServ") => {
                tracing::info!(notice = %lines::strip_formatting(text), "NickServ says");
            }
            Command::JOIN(channel, ..) if from_me => self.joined(channel, m.prefix.as_ref()),
            Command::PART(channel, _) if from_me => self.left(channel, "left"),
            Command::KICK(channel, who, reason) if fold(who) == fold(&me) => {
                let by = m.source_nickname().unwrap_or("the server").to_owned();
                let reason = reason.clone().unwrap_or_default();
                tracing::warn!(%channel, %by, %reason, "kicked; joining again soon");
                self.left(channel, "kicked");
                self.retry
                    .insert(fold(channel), (Instant::now() + TICK / 3, FIRST_JOIN_WAIT));
            }
            Command::INVITE(_, channel) if self.wanted.contains_key(&fold(channel)) => {
                tracing::info!(%channel, "invited; joining");
                self.retry.remove(&fold(channel));
                self.join_missing();
            }
            Command::NICK(new) if from_me => {
                tracing::info!(nick = %new, "now known as");
                write(&self.chat.shared.me).0.clone_from(new);
            }
            Command::ERROR(reason) => {
                self.closing = Some(format!("the server closed the link: {reason}"));
            }
            _ => self.numeric(&m),
        }
    }

    /// Podium's own line, echoed: its label says which post it was.
    fn echoed(&self, m: &Message) {
        if let (Some(label), Some(id)) = (tag(m, "label"), tag(m, "msgid")) {
            self.link.echoed(label, id.to_owned());
        }
    }

    fn joined(&mut self, channel: &str, prefix: Option<&Prefix>) {
        let key = fold(channel);
        let room = self
            .wanted
            .get(&key)
            .cloned()
            .unwrap_or_else(|| Room::Irc(channel.to_owned()));
        write(&self.chat.shared.joined).insert(key.clone(), room);
        self.retry.remove(&key);
        if let Some(Prefix::Nickname(_, user, host)) = prefix {
            write(&self.chat.shared.me).1 = Some(user.len() + host.len());
        }
        tracing::info!(%channel, "joined");
        self.report();
    }

    fn left(&mut self, channel: &str, how: &str) {
        write(&self.chat.shared.joined).remove(&fold(channel));
        tracing::debug!(%channel, how, "no longer in the channel");
        self.report();
    }

    fn numeric(&mut self, m: &Message) {
        let Some((code, args)) = numeric(&m.command) else {
            return;
        };
        let reason = args.last().map_or("", String::as_str);
        match code {
            c if JOIN_REFUSALS.contains(&c) => {
                let Some(channel) = args.get(1) else { return };
                let key = fold(channel);
                if !self.wanted.contains_key(&key) {
                    return;
                }
                let wait = self.retry.get(&key).map_or(FIRST_JOIN_WAIT, |(_, w)| *w);
                tracing::warn!(%channel, code, %reason, retry_in = ?wait,
                    "the server refuses to let Podium join the channel");
                self.retry.insert(
                    key,
                    (Instant::now() + wait, (wait * 2).min(LONGEST_JOIN_WAIT)),
                );
            }
            // ISON: the configured nick is free when it is not listed.
            303 => {
                let online = reason
                    .split_whitespace()
                    .any(|n| fold(n) == fold(&self.config.nick));
                if !online {
                    tracing::info!(nick = %self.config.nick, "taking the configured nick back");
                    self.queue(vec![Command::NICK(self.config.nick.clone()).into()]);
                }
            }
            900 => tracing::info!(account = %args.get(2).map_or("", String::as_str),
                "logged in to the bot's account"),
            _ => {}
        }
    }

    /// Someone's PRIVMSG: in a debate channel it goes to the engine (an
    /// ACTION, `/me`, too); a CTCP VERSION is answered; other CTCP and
    /// private messages are ignored.
    async fn said(&mut self, m: &Message, target: &str, body: &str) {
        let Some(nick) = m.source_nickname() else {
            return;
        };
        let (text, action) = match ctcp(body) {
            None => (body, false),
            Some(("ACTION", rest)) => (rest, true),
            Some(("VERSION", _)) => {
                if self.chat.queue.waiting() < BUSY {
                    let answer = format!("\x01VERSION {}\x01", session::version());
                    self.queue(vec![Command::NOTICE(nick.to_owned(), answer).into()]);
                }
                return;
            }
            Some(_) => return,
        };
        let Some(room) = read(&self.chat.shared.joined).get(&fold(target)).cloned() else {
            return;
        };
        let body = lines::strip_formatting(text);
        if body.trim().is_empty() {
            return;
        }
        let id = tag(m, "msgid").map_or_else(|| self.local_id(), ToOwned::to_owned);
        let event = Event::Message {
            id,
            sender: self.sender(m, nick),
            body,
            in_reply_to: tag(m, "+draft/reply")
                .or_else(|| tag(m, "+reply"))
                .map(ToOwned::to_owned),
            server_ts: tag(m, "time").and_then(|t| {
                DateTime::parse_from_rfc3339(t)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            }),
            action,
        };
        let incoming = Incoming {
            room,
            event,
            cursor: None,
            ack: None,
        };
        if self.events.send(incoming).await.is_err() {
            tracing::debug!("the engine has stopped; a message was not handed over");
        }
    }

    /// Who said it: by account where the server says (`account-tag`), by
    /// nick otherwise. On a server with accounts a bare nick is anyone's
    /// to take, so it is not vouched for.
    fn sender(&self, m: &Message, nick: &str) -> Sender {
        let account = tag(m, "account").filter(|a| *a != "*");
        let (id, verified) = match account {
            Some(a) => (format!("irc:{a}"), true),
            None => (format!("irc:{nick}"), !self.session.accounts),
        };
        write(&self.chat.shared.nicks).insert(fold(&id), nick.to_owned());
        Sender {
            id,
            name: nick.to_owned(),
            verified,
        }
    }

    fn local_id(&mut self) -> String {
        self.counter += 1;
        let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        format!("{LOCAL_ID}{nanos}-{}", self.counter)
    }
}

/// A tag's value.
fn tag<'m>(m: &'m Message, name: &str) -> Option<&'m str> {
    m.tags
        .as_ref()?
        .iter()
        .find(|t| t.0 == name)
        .and_then(|t| t.1.as_deref())
}

/// A CTCP message's verb (upper case) and the rest; `None` for text.
fn ctcp(body: &str) -> Option<(&str, &str)> {
    let inner = body.strip_prefix('\x01')?;
    let inner = inner.strip_suffix('\x01').unwrap_or(inner);
    let (verb, rest) = inner.split_once(' ').unwrap_or((inner, ""));
    let verb = match verb {
        v if v.eq_ignore_ascii_case("ACTION") => "ACTION",
        v if v.eq_ignore_ascii_case("VERSION") => "VERSION",
        _ => "OTHER",
    };
    Some((verb, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctcp_verbs_are_read_and_text_is_not_ctcp() {
        assert_eq!(ctcp("\x01ACTION agrees\x01"), Some(("ACTION", "agrees")));
        assert_eq!(ctcp("\x01action agrees"), Some(("ACTION", "agrees")));
        assert_eq!(ctcp("\x01VERSION\x01"), Some(("VERSION", "")));
        assert_eq!(ctcp("\x01PING 123\x01"), Some(("OTHER", "123")));
        assert_eq!(ctcp("A1: plain"), None);
    }

    #[test]
    fn tags_are_read_unescaped() {
        let m: Message =
            "@time=2026-11-27T20:01:02.345Z;+draft/reply=abc;account=ann :ann!a@h PRIVMSG #d :hi"
                .parse()
                .unwrap();
        assert_eq!(tag(&m, "+draft/reply"), Some("abc"));
        assert_eq!(tag(&m, "account"), Some("ann"));
        assert_eq!(tag(&m, "msgid"), None);
    }
}
