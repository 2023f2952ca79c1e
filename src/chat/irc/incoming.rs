//! What the server sends, read: what people say in the debate channels
//! (into the [`super::inbox::Inbox`]), the echoes and refusals of
//! Podium's own lines, who is in each channel with which status, the
//! server's rules (ISUPPORT), and the numerics that answer joins and
//! nick requests. Podium never answers a NOTICE.

use chrono::{DateTime, Utc};
use irc::proto::{Command, Message};
use tokio::time::Instant;

use super::casemap::CaseMapping;
use super::connection::{Connection, FIRST_JOIN_WAIT, LONGEST_JOIN_WAIT};
use super::echo::Answer;
use super::members::{ChanModes, Change, Prefixes};
use super::queue::Lane;
use super::session::{self, numeric};
use super::{BUSY, LOCAL_ID, ctcp, lines, read, write};
use crate::chat::{Event, Incoming, Sender, is_command};

/// Numerics that refuse a JOIN; the channel is their first argument
/// after the nick.
const JOIN_REFUSALS: &[u16] = &[403, 405, 437, 471, 473, 474, 475, 476, 477, 489, 520];
/// ERR_CANNOTSENDTOCHAN: Podium is in the channel but may not speak.
const CANNOT_SEND: u16 = 404;

impl Connection<'_> {
    pub(super) fn handle(&mut self, m: Message) {
        self.seen = Utc::now();
        let me = self.nick();
        let source = m.source_nickname().map(ToOwned::to_owned);
        let from_me = source
            .as_deref()
            .is_some_and(|n| self.fold(n) == self.fold(&me));
        let from_sibling = !from_me
            && self.config.replicas
            && source
                .as_deref()
                .is_some_and(|n| super::is_sibling(&self.config.nick, n, |s| self.fold(s)));
        match &m.command {
            Command::PRIVMSG(target, _) | Command::NOTICE(target, _) if from_me => {
                self.echoed(&m, target);
            }
            Command::PRIVMSG(..) | Command::NOTICE(..) | Command::Raw(..) if from_sibling => {}
            Command::PRIVMSG(target, body) => self.said(&m, target, body),
            Command::NOTICE(_, text) if source.as_deref() == Some("NickServ") => {
                tracing::info!(notice = %lines::strip_formatting(text), "NickServ says");
            }
            Command::Raw(verb, _) if verb == "ACK" => {
                if let Some(label) = tag(&m, "label") {
                    self.link.echo.answered(label, Answer::Accepted);
                }
            }
            Command::ERROR(reason) => {
                self.closing = Some(format!("the server closed the link: {reason}"));
            }
            _ => {
                if let Some(nick) = &source {
                    self.membership(&m, nick, from_me);
                }
                self.numeric(&m);
            }
        }
    }

    /// Podium's own line, echoed: its label says which post it was, and a
    /// line that reached a channel proves Podium may post there.
    fn echoed(&mut self, m: &Message, target: &str) {
        if let Some(label) = tag(m, "label") {
            let answer = match tag(m, "msgid") {
                Some(id) => Answer::Echo(id.to_owned()),
                None => Answer::Accepted,
            };
            self.link.echo.answered(label, answer);
        }
        self.unmuted(target);
    }

    /// JOIN, PART, KICK, QUIT, NICK and MODE: who is where, with which
    /// status; Podium's own joins and parts; invitations.
    fn membership(&mut self, m: &Message, nick: &str, from_me: bool) {
        let me = self.nick();
        match &m.command {
            Command::JOIN(channel, ..) if from_me => self.joined(channel, m.prefix.as_ref()),
            Command::JOIN(channel, ..) => write(&self.chat.shared.members).joined(channel, nick),
            Command::PART(channel, _) if from_me => self.left(channel, "left"),
            Command::PART(channel, _) => write(&self.chat.shared.members).left(channel, nick),
            Command::KICK(channel, who, reason) if self.fold(who) == self.fold(&me) => {
                let reason = reason.clone().unwrap_or_default();
                tracing::warn!(%channel, by = %nick, %reason, "kicked; joining again soon");
                self.left(channel, "kicked");
                self.retry.insert(
                    self.fold(channel),
                    (Instant::now() + FIRST_JOIN_WAIT / 6, FIRST_JOIN_WAIT),
                );
            }
            Command::KICK(channel, who, _) => write(&self.chat.shared.members).left(channel, who),
            Command::QUIT(_) => write(&self.chat.shared.members).quit(nick),
            Command::NICK(new) => {
                write(&self.chat.shared.members).renamed(nick, new);
                if from_me {
                    tracing::info!(nick = %new, "now known as");
                    write(&self.chat.shared.me).0.clone_from(new);
                }
            }
            Command::ChannelMODE(channel, modes) => {
                let changes: Vec<(bool, char, Option<&str>)> = modes
                    .iter()
                    .filter_map(|mode| {
                        let flag = mode.flag();
                        let plus = flag.starts_with('+');
                        let letter = flag.trim_start_matches(['+', '-']).chars().next()?;
                        Some((plus, letter, mode.arg()))
                    })
                    .collect();
                self.mode(channel, &changes);
            }
            Command::INVITE(_, channel) if self.wanted.contains_key(&self.fold(channel)) => {
                tracing::info!(%channel, "invited; joining");
                self.retry.remove(&self.fold(channel));
                self.join_missing();
            }
            _ => {}
        }
    }

    /// A channel's modes changed: statuses follow, and Podium may be
    /// allowed to speak again. A line Podium cannot read safely makes it
    /// ask for the channel's NAMES again.
    fn mode(&mut self, channel: &str, changes: &[Change<'_>]) {
        self.unmuted(channel);
        if write(&self.chat.shared.members).mode(channel, changes) {
            return;
        }
        if write(&self.chat.shared.members).refreshing(channel) {
            // Not urgent: after the posts.
            self.queue(
                Lane::Answer,
                "",
                vec![Command::NAMES(Some(channel.to_owned()), None).into()],
            );
        }
    }

    fn numeric(&mut self, m: &Message) {
        let Some((code, args)) = numeric(&m.command) else {
            return;
        };
        let reason = args.last().map_or("", String::as_str);
        if (400..600).contains(&code)
            && let Some(label) = tag(m, "label")
        {
            self.link
                .echo
                .answered(label, Answer::Refused(reason.to_owned()));
        }
        let arg = |i: usize| args.get(i).map_or("", String::as_str);
        match code {
            5 => self.isupport(args.get(1..args.len().saturating_sub(1)).unwrap_or(&[])),
            // RPL_ENDOFMOTD, ERR_NOMOTD: the welcome, ISUPPORT with it, is over.
            376 | 422 => self.welcomed(),
            353 => write(&self.chat.shared.members).names(arg(2), reason),
            366 => self.end_of_names(arg(1)),
            CANNOT_SEND => self.muted(arg(1), reason),
            c if JOIN_REFUSALS.contains(&c) => self.join_refused(arg(1), code, reason),
            // ISON: the configured nick is free when it is not listed.
            303 => {
                let online = reason
                    .split_whitespace()
                    .any(|n| self.fold(n) == self.fold(&self.config.nick));
                if !online {
                    tracing::info!(nick = %self.config.nick, "taking the configured nick back");
                    self.queue(
                        Lane::Control,
                        "",
                        vec![Command::NICK(self.config.nick.clone()).into()],
                    );
                }
            }
            900 => tracing::info!(account = %arg(2), "logged in to the bot's account"),
            _ => {}
        }
    }

    /// RPL_ISUPPORT: how the server compares names, its status modes,
    /// which channel modes take an argument, and how many channels a JOIN
    /// may name and Podium may be in.
    fn isupport(&mut self, tokens: &[String]) {
        for token in tokens {
            let (key, value) = token.split_once('=').unwrap_or((token, ""));
            match key {
                "CASEMAPPING" => {
                    let casemap = CaseMapping::parse(value);
                    tracing::debug!(?casemap, "the server's casemapping");
                    self.set_casemap(casemap);
                }
                "PREFIX" => {
                    if let Some(p) = Prefixes::parse(value) {
                        write(&self.chat.shared.members).set_prefixes(p);
                    }
                }
                "CHANMODES" => {
                    write(&self.chat.shared.members).set_chanmodes(ChanModes::parse(value))
                }
                key => {
                    if self.limits.isupport(key, value) {
                        tracing::debug!(%token, "the server's joining rules");
                    }
                }
            }
        }
    }

    fn end_of_names(&mut self, channel: &str) {
        let me = self.nick();
        let mut members = write(&self.chat.shared.members);
        let before = members.found_empty(channel);
        members.end_of_names(channel, &me);
        if !before && members.found_empty(channel) {
            tracing::info!(%channel, "found the channel empty: whoever is its operator later \
                was merely first to come, so operators there are not organisers");
        }
    }

    fn join_refused(&mut self, channel: &str, code: u16, reason: &str) {
        let key = self.fold(channel);
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

    /// Someone's PRIVMSG: in a debate channel it goes to the engine (an
    /// ACTION, `/me`, too, never as a command); a CTCP VERSION is
    /// answered, sparingly; other CTCP and private messages are ignored.
    fn said(&mut self, m: &Message, target: &str, body: &str) {
        let Some(nick) = m.source_nickname() else {
            return;
        };
        let (text, action) = match ctcp::parse(body) {
            None => (body, false),
            Some(("ACTION", rest)) => (rest, true),
            Some(("VERSION", _)) => return self.version(nick),
            Some(_) => return,
        };
        let Some(room) = read(&self.chat.shared.joined)
            .get(&self.fold(target))
            .cloned()
        else {
            return;
        };
        let body = lines::strip_formatting(text);
        if body.trim().is_empty() {
            return;
        }
        let id = match tag(m, "msgid") {
            Some(id) => id.to_owned(),
            None => self.derived_id(m, nick, target, &body),
        };
        // A reply to a post whose echo came late names the server's id;
        // the engine knows the post by Podium's own.
        let in_reply_to = tag(m, "+draft/reply")
            .or_else(|| tag(m, "+reply"))
            .map(|to| {
                let aliases = self.chat.shared.aliases.lock();
                let aliases = aliases.unwrap_or_else(std::sync::PoisonError::into_inner);
                aliases.local(to).unwrap_or(to).to_owned()
            });
        let sender = self.sender(m, nick);
        let command_of = (!action && is_command(&body)).then(|| self.fold(&sender.id));
        let event = Event::Message {
            id,
            sender,
            body,
            in_reply_to,
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
        self.inbox.push(incoming, command_of);
    }

    /// Answers a CTCP VERSION, within the rations, last in the queue.
    fn version(&mut self, nick: &str) {
        if self.chat.queue.waiting() >= BUSY || !self.ctcp.allow(&self.fold(nick)) {
            return;
        }
        let answer = format!("\x01VERSION {}\x01", session::version());
        self.queue(
            Lane::Chatter,
            nick,
            vec![Command::NOTICE(nick.to_owned(), answer).into()],
        );
    }

    /// Who said it: by account where the server says (`account-tag`), by
    /// nick otherwise. On a server with accounts a bare nick is anyone's
    /// to take, so it is not vouched for.
    fn sender(&self, m: &Message, nick: &str) -> Sender {
        let account = tag(m, "account").filter(|a| *a != "*");
        // Where the server has accounts, a nick nobody is logged in with
        // is anyone's: its id is marked (`~`, as IRC marks an unverified
        // user name) so it can never be taken for the account of that
        // name, in the transcript's authors as in the organisers.
        let (id, verified) = match account {
            Some(a) => (format!("irc:{a}"), true),
            None if self.session.accounts => (format!("irc:~{nick}"), false),
            None => (format!("irc:{nick}"), true),
        };
        write(&self.chat.shared.nicks).insert(self.fold(&id), nick.to_owned());
        Sender {
            id,
            name: nick.to_owned(),
            verified,
        }
    }

    /// An id for a message the server gave none (no `msgid`): where it
    /// stamped the message's time (`server-time`), one every connection
    /// derives alike from that time, the sender, the channel and the text,
    /// so replicas store their copies once; otherwise one of this
    /// connection's own.
    fn derived_id(&mut self, m: &Message, nick: &str, target: &str, body: &str) -> String {
        match tag(m, "time") {
            Some(time) => {
                let key = [time, &self.fold(nick), &self.fold(target), body];
                format!("{LOCAL_ID}t-{}", fnv1a(&key))
            }
            None => self.local_id(),
        }
    }

    fn local_id(&mut self) -> String {
        self.counter += 1;
        let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        format!("{LOCAL_ID}{nanos}-{}", self.counter)
    }
}

/// FNV-1a over the parts (each followed by a 0 byte): stable across
/// processes and versions, unlike std's hasher, and enough to tell
/// messages apart that already share their time to the millisecond.
fn fnv1a(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.bytes().chain([0])) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A tag's value.
fn tag<'m>(m: &'m Message, name: &str) -> Option<&'m str> {
    m.tags
        .as_ref()?
        .iter()
        .find(|t| t.0 == name)
        .and_then(|t| t.1.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_without_msgid_gets_the_same_id_on_every_connection_when_timed() {
        let a = super::fnv1a(&["2026-12-05T09:00:00.123Z", "alice", "#d", "A1: yes"]);
        assert_eq!(
            a,
            super::fnv1a(&["2026-12-05T09:00:00.123Z", "alice", "#d", "A1: yes"])
        );
        assert_ne!(
            a,
            super::fnv1a(&["2026-12-05T09:00:00.124Z", "alice", "#d", "A1: yes"])
        );
        assert_ne!(
            a,
            super::fnv1a(&["2026-12-05T09:00:00.123Z", "alic", "e#d", "A1: yes"])
        );
        assert_eq!(a.len(), 16);
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
