//! One registered connection, until it is lost: the schedule's channels
//! joined, many to a line and within the server's cap ([`super::joins`]),
//! once the server has said what its rules are (again after each reload,
//! after a kick, and with growing waits after the server refused one,
//! with its reason logged), what people say
//! in them handed to the engine ([`super::incoming`]), the configured nick
//! taken back when it is free.
//!
//! The connection never waits for the engine: what people say waits in an
//! [`Inbox`] while the engine is busy, and reading goes on, so the server's
//! PINGs are answered and Podium's own lines go out (the `irc` crate does
//! both only while the stream is read).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use irc::proto::{Command, Message, Prefix};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::casemap::CaseMapping;
use super::ctcp;
use super::echo::Echo;
use super::inbox::Inbox;
use super::joins::{self, Limits};
use super::queue::{Job, Lane, Link, Sink};
use super::session::{self, Session};
use super::{IrcChat, NETWORK, lines, read, write};
use crate::chat::{Incoming, Room};
use crate::config::IrcConfig;
use crate::domain::Network;
use crate::health::Health;
use crate::schedule::Schedule;
use crate::store::Store;

/// How often channels that could not be joined are tried again and the
/// configured nick is asked for.
const TICK: Duration = Duration::from_secs(30);
/// The first wait after a refused join, doubled each time up to the last.
pub(super) const FIRST_JOIN_WAIT: Duration = Duration::from_secs(60);
pub(super) const LONGEST_JOIN_WAIT: Duration = Duration::from_secs(900);
/// What Podium says as it leaves (others see it as the reason of its
/// QUIT).
pub const QUIT_MESSAGE: &str = "Podium is stopping; see you at the next debate";
/// How long a stopping Podium waits for the server to close the link
/// after QUIT.
const QUIT_PATIENCE: Duration = Duration::from_secs(2);
/// How long Podium waits for the end of the server's welcome (its rules,
/// ISUPPORT, come before it) before joining anyway.
const WELCOME_PATIENCE: Duration = Duration::from_secs(5);
/// How many of the channels left out for the server's cap `/healthz`
/// names (the log names them all).
const OVER_NAMED: usize = 10;
/// How often a message the engine is too busy to take is offered again.
const HELD_POLL: Duration = Duration::from_millis(20);

pub struct Connection<'a> {
    pub(super) chat: &'a IrcChat,
    pub(super) config: &'a IrcConfig,
    link_tx: &'a watch::Sender<Option<Link>>,
    events: &'a mpsc::Sender<Incoming>,
    health: &'a Health,
    store: &'a Store,
    pub(super) session: Session,
    pub(super) link: Link,
    /// This connection's presence row (see [`Store::presence_begin`]):
    /// IRC keeps no history, so the transcript must say when Podium was
    /// away and answers were lost.
    presence: Option<i64>,
    /// When the server last sent anything: the evidence that the
    /// connection was alive, up to which presence is extended.
    pub(super) seen: DateTime<Utc>,
    /// The schedule's channels, by folded name.
    pub(super) wanted: HashMap<String, Room>,
    /// Their folded names in the schedule's order: the first ones win
    /// where the server caps how many channels Podium may be in.
    order: Vec<String>,
    /// What the server says about joining (ISUPPORT).
    pub(super) limits: Limits,
    /// The server has said its rules (the end of its welcome): joins wait
    /// for it, to be batched and capped as the server wants.
    welcomed: bool,
    /// Wanted channels not asked for, since the server's cap leaves no
    /// room for them, as the schedule writes them.
    over: Vec<String>,
    /// When a channel not joined yet may be asked for again (after no
    /// answer, a refusal or a kick), and the wait after that.
    pub(super) retry: HashMap<String, (Instant, Duration)>,
    /// Why the server is closing the link, once it has said.
    pub(super) closing: Option<String>,
    /// Ids for messages without a server id: unique within this process,
    /// and the clock makes them unique across restarts.
    pub(super) counter: u64,
    /// What people said, waiting for the engine.
    pub(super) inbox: Inbox,
    /// CTCP replies given, to ration them.
    pub(super) ctcp: ctcp::Limiter,
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
        let client = session.client.clone();
        let sink: Sink = Arc::new(move |m: Message| client.send(m).is_ok());
        let labels = ["echo-message", "labeled-response", "batch"]
            .iter()
            .all(|c| session.caps.contains(*c));
        let link = Link {
            sink,
            echo: Arc::new(Echo::new(labels, chat.shared.aliases.clone())),
            tags: session.caps.contains("message-tags"),
        };
        *write(&chat.shared.me) = (session.nick.clone(), None);
        *write(&chat.shared.casemap) = CaseMapping::default();
        write(&chat.shared.nicks).clear();
        write(&chat.shared.members).reset();
        write(&chat.shared.muted).clear();
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
            order: Vec::new(),
            limits: Limits::default(),
            welcomed: false,
            over: Vec::new(),
            retry: HashMap::new(),
            closing: None,
            counter: 0,
            inbox: Inbox::default(),
            ctcp: ctcp::Limiter::default(),
        }
    }

    /// Serves the connection until it is lost or `stop` is cancelled, and
    /// says why. Presence is recorded from registration to the last line
    /// received (at a stop, the server's answer to QUIT).
    pub async fn serve(
        mut self,
        schedule: watch::Receiver<Arc<Schedule>>,
        stop: &CancellationToken,
    ) -> String {
        self.presence = match self.store.presence_begin(Network::Irc, Utc::now()).await {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::warn!(cause = %e, "cannot record that Podium is on IRC; \
                    a later outage may not show in transcripts");
                None
            }
        };
        let reason = self.serve_until_lost(schedule, stop).await;
        self.extend_presence().await;
        // What the engine had no time to take is handed over as the
        // connection ends, so nothing read is lost.
        while let Some(incoming) = self.inbox.pop() {
            if self.events.send(incoming).await.is_err() {
                break;
            }
        }
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

    async fn serve_until_lost(
        &mut self,
        mut schedule: watch::Receiver<Arc<Schedule>>,
        stop: &CancellationToken,
    ) -> String {
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
        let welcome = tokio::time::sleep(WELCOME_PATIENCE);
        tokio::pin!(welcome);
        let mut tick = tokio::time::interval_at(Instant::now() + TICK, TICK);
        let mut schedule_open = true;
        let mut paused = false;
        loop {
            let in_engine = self.events.max_capacity() - self.events.capacity();
            let (ready, held) = (self.inbox.ready(in_engine), self.inbox.held(in_engine));
            paused = self.pause_if_full(paused);
            tokio::select! {
                () = stop.cancelled() => return self.quit().await,
                next = self.session.stream.next(), if !paused => match next {
                    Some(Ok(m)) => self.handle(m),
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
                permit = self.events.reserve(), if ready => match permit {
                    Ok(permit) => {
                        if let Some(incoming) = self.inbox.pop() {
                            permit.send(incoming);
                        }
                    }
                    Err(_) => {
                        tracing::debug!("the engine has stopped; what people say is not handed over");
                        while self.inbox.pop().is_some() {}
                    }
                },
                () = &mut welcome, if !self.welcomed => self.welcomed(),
                () = tokio::time::sleep(HELD_POLL), if held => {}
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
                    self.inbox.log_shed();
                    self.extend_presence().await;
                }
            }
        }
    }

    /// Says goodbye: QUIT, then reads on until the server closes the link
    /// (for [`QUIT_PATIENCE`] at most). What arrives meanwhile is handled
    /// as usual (answers go to the inbox), and the server's farewell is
    /// the last evidence that the connection was alive, up to which
    /// presence is then recorded: a transcript shows an absence from the
    /// stop, not from the last periodic record.
    async fn quit(&mut self) -> String {
        if let Err(e) = self.session.client.send_quit(QUIT_MESSAGE) {
            tracing::debug!(cause = %session::describe(&e), "cannot say QUIT");
        }
        let deadline = Instant::now() + QUIT_PATIENCE;
        while let Ok(Some(Ok(m))) =
            tokio::time::timeout_at(deadline, self.session.stream.next()).await
        {
            self.handle(m);
        }
        "Podium is stopping".into()
    }

    /// Whether reading must pause (past the inbox's bound, which only an
    /// engine that stores nothing lets happen); says so when it changes.
    fn pause_if_full(&self, paused: bool) -> bool {
        let full = self.inbox.full();
        if full && !paused {
            tracing::warn!(
                waiting = self.inbox.len(),
                "the engine is not taking what people say on IRC; reading paused until it does"
            );
        } else if paused && !full {
            tracing::info!(waiting = self.inbox.len(), "reading from IRC again");
        }
        full
    }

    pub(super) fn nick(&self) -> String {
        read(&self.chat.shared.me).0.clone()
    }

    pub(super) fn fold(&self, name: &str) -> String {
        self.chat.shared.fold(name)
    }

    /// Sends `messages` through the paced queue in `lane`, nobody waiting
    /// for them.
    pub(super) fn queue(&self, lane: Lane, target: &str, messages: Vec<Message>) {
        self.chat.queue.push(Job {
            messages,
            done: None,
            fallback_id: String::new(),
            lane,
            target: target.to_owned(),
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
        self.queue(
            Lane::Control,
            "NickServ",
            vec![Command::PRIVMSG("NickServ".into(), text).into()],
        );
    }

    fn want(&mut self, schedule: &Schedule) {
        self.wanted.clear();
        self.order.clear();
        for room in schedule.debates.iter().flat_map(|d| d.rooms.iter()) {
            if let Room::Irc(c) = room {
                let key = self.fold(c);
                if self.wanted.insert(key.clone(), room.clone()).is_none() {
                    self.order.push(key);
                }
            }
        }
        self.report();
    }

    /// The server's CASEMAPPING is known (it may differ from the one
    /// assumed until now): every name is folded again.
    pub(super) fn set_casemap(&mut self, casemap: CaseMapping) {
        *write(&self.chat.shared.casemap) = casemap;
        write(&self.chat.shared.members).set_casemap(casemap);
        let fold = |room: &Room| match room {
            Room::Irc(c) => casemap.fold(c),
            other => other.to_string(),
        };
        let order = std::mem::take(&mut self.order);
        let wanted = std::mem::take(&mut self.wanted);
        for key in order {
            let Some(room) = wanted.get(&key) else {
                continue;
            };
            let key = fold(room);
            if self.wanted.insert(key.clone(), room.clone()).is_none() {
                self.order.push(key);
            }
        }
        let mut joined = write(&self.chat.shared.joined);
        *joined = joined.values().map(|r| (fold(r), r.clone())).collect();
        drop(joined);
        self.retry.clear();
        write(&self.chat.shared.nicks).clear();
        self.report();
    }

    /// The end of the server's welcome (or the wait for it is over): its
    /// rules are known, the channels may be asked for.
    pub(super) fn welcomed(&mut self) {
        if !self.welcomed {
            self.welcomed = true;
            self.join_missing();
        }
    }

    /// Asks to join every wanted channel not joined whose wait is over and
    /// for which the server's cap leaves room, many to a line.
    pub(super) fn join_missing(&mut self) {
        if !self.welcomed {
            return;
        }
        let now = Instant::now();
        let joined = read(&self.chat.shared.joined).clone();
        let wanted: Vec<(&str, bool)> = self
            .order
            .iter()
            .filter_map(|key| match self.wanted.get(key) {
                Some(Room::Irc(c)) => Some((c.as_str(), joined.contains_key(key))),
                _ => None,
            })
            .collect();
        let inside: Vec<&str> = joined
            .values()
            .filter_map(|r| match r {
                Room::Irc(c) => Some(c.as_str()),
                _ => None,
            })
            .collect();
        let over: Vec<String> = self
            .limits
            .over(&inside, &wanted)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let left_out: HashSet<&str> = over.iter().map(String::as_str).collect();
        let mut asked: Vec<String> = Vec::new();
        for key in &self.order {
            let Some(Room::Irc(channel)) = self.wanted.get(key) else {
                continue;
            };
            if joined.contains_key(key) || left_out.contains(channel.as_str()) {
                continue;
            }
            let wait = match self.retry.get(key) {
                Some((at, _)) if *at > now => continue,
                Some((_, wait)) => *wait,
                None => FIRST_JOIN_WAIT,
            };
            // An unanswered JOIN is asked again after a while, not at once.
            self.retry.insert(key.clone(), (now + 4 * TICK, wait));
            asked.push(channel.clone());
        }
        self.left_out(over);
        if asked.is_empty() {
            return;
        }
        // The prefix the server would put in front: the longer of the
        // nicks Podium may have by the time the lines go.
        let (nick, mask) = read(&self.chat.shared.me).clone();
        let nick = if nick.len() >= self.config.nick.len() {
            nick
        } else {
            self.config.nick.clone()
        };
        let room = joins::room(&nick, mask.unwrap_or(lines::UNKNOWN_MASK));
        let asked: Vec<&str> = asked.iter().map(String::as_str).collect();
        let lines: Vec<_> = joins::batches(&asked, room, self.limits.per_line())
            .into_iter()
            .map(|list| Command::JOIN(list, None, None).into())
            .collect();
        tracing::debug!(
            channels = asked.len(),
            lines = lines.len(),
            "asking to join"
        );
        self.queue(Lane::Join, "", lines);
    }

    /// The wanted channels the server's cap leaves no room for: said once
    /// (and again when they change), and shown by `/healthz`.
    fn left_out(&mut self, over: Vec<String>) {
        if over == self.over {
            return;
        }
        if over.is_empty() {
            tracing::info!("the server's channel limit leaves room for every scheduled channel");
        } else {
            tracing::warn!(
                count = over.len(),
                limit = %self.limits.describe(),
                channels = %over.join(" "),
                "the server caps how many channels Podium may be in: these scheduled \
                 channels are not joined (nor asked for); split the schedule between \
                 bots or ask the server's operators for a higher limit"
            );
        }
        self.over = over;
        self.report();
    }

    /// Asks whether the configured nick is free again (answered by 303).
    fn regain_nick(&self) {
        if self.fold(&self.nick()) != self.fold(&self.config.nick) {
            self.queue(
                Lane::Control,
                "",
                vec![Command::ISON(vec![self.config.nick.clone()]).into()],
            );
        }
    }

    /// Healthy when every wanted channel is joined and none refuses posts.
    pub(super) fn report(&self) {
        let joined = read(&self.chat.shared.joined);
        let wanted = self.wanted.len();
        let inside = self
            .wanted
            .keys()
            .filter(|k| joined.contains_key(*k))
            .count();
        drop(joined);
        let muted = read(&self.chat.shared.muted);
        let mut detail = format!(
            "connected as {}; in {inside} of {wanted} channels",
            self.nick()
        );
        if !self.over.is_empty() {
            let named: Vec<&str> = self
                .over
                .iter()
                .take(OVER_NAMED)
                .map(String::as_str)
                .collect();
            detail.push_str(&format!(
                "; {} not joined, over the server's limit ({}): {}",
                self.over.len(),
                self.limits.describe(),
                named.join(", ")
            ));
            if self.over.len() > OVER_NAMED {
                detail.push_str(&format!(" and {} more", self.over.len() - OVER_NAMED));
            }
        }
        let mut why: Vec<&String> = muted.values().collect();
        why.sort();
        for w in why {
            detail.push_str("; cannot post in ");
            detail.push_str(w);
        }
        self.health
            .set(NETWORK, inside >= wanted && muted.is_empty(), detail);
    }

    pub(super) fn joined(&mut self, channel: &str, prefix: Option<&Prefix>) {
        let key = self.fold(channel);
        let room = self
            .wanted
            .get(&key)
            .cloned()
            .unwrap_or_else(|| Room::Irc(channel.to_owned()));
        write(&self.chat.shared.joined).insert(key.clone(), room);
        write(&self.chat.shared.muted).remove(&key);
        write(&self.chat.shared.members).joined_self(channel);
        self.retry.remove(&key);
        if let Some(Prefix::Nickname(_, user, host)) = prefix {
            write(&self.chat.shared.me).1 = Some(user.len() + host.len());
        }
        tracing::info!(%channel, "joined");
        self.report();
    }

    pub(super) fn left(&mut self, channel: &str, how: &str) {
        let key = self.fold(channel);
        write(&self.chat.shared.joined).remove(&key);
        write(&self.chat.shared.muted).remove(&key);
        write(&self.chat.shared.members).left_self(channel);
        tracing::debug!(%channel, how, "no longer in the channel");
        self.report();
    }

    /// The server refused a line to `channel` (404): Podium is there but
    /// cannot post, which `/healthz` must say.
    pub(super) fn muted(&mut self, channel: &str, reason: &str) {
        let key = self.fold(channel);
        if !read(&self.chat.shared.joined).contains_key(&key) {
            return;
        }
        tracing::warn!(%channel, %reason, "the server refuses Podium's posts to the channel");
        write(&self.chat.shared.muted).insert(key, format!("{channel}: {reason}"));
        self.report();
    }

    /// A post to `channel` went through, or something changed there that
    /// may let one through: the next post will tell.
    pub(super) fn unmuted(&mut self, channel: &str) {
        let key = self.fold(channel);
        if write(&self.chat.shared.muted).remove(&key).is_some() {
            tracing::info!(%channel, "Podium may post in the channel again");
            self.report();
        }
    }
}
