//! What people said, waiting for the engine. The connection must keep
//! reading whatever the engine is doing: the `irc` crate answers the
//! server's PINGs (and sends Podium's own lines) only while the stream is
//! read, so a connection that waits for a busy engine is soon dropped by
//! the server, and everything said meanwhile is lost.
//!
//! So messages wait here, in the order they came, and go to the engine as
//! it takes them. Commands (`!help`...) are the one thing a flood is made
//! of and the one thing that can be dropped: a few per sender and a few in
//! all may be on their way (waiting here or not yet answered by the
//! engine), the rest are shed, logged at most once a minute with counts.
//! A command is handed over only while the engine has little else
//! waiting, so a flood never fills its queue. Answers are never shed; only
//! past [`MOST`] messages waiting does reading pause.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::chat::Incoming;

/// Commands on their way from one sender, beyond which theirs are shed.
const PER_SENDER: usize = 3;
/// Commands on their way in all, beyond which any is shed.
const COMMANDS: usize = 32;
/// A command goes to the engine only while at most this many events wait
/// in its queue.
const ENGINE_SLACK: usize = 4;
/// Messages waiting, beyond which reading pauses (the engine is not
/// taking anything: storing is stuck). Tens of megabytes at most.
const MOST: usize = 50_000;
/// Shedding is logged at most once per this long.
const LOG_EVERY: Duration = Duration::from_secs(60);

struct Waiting {
    incoming: Incoming,
    is_command: bool,
}

/// Commands shed since the last log line.
#[derive(Default)]
struct Shed {
    total: usize,
    by_sender: HashMap<String, usize>,
    logged: Option<Instant>,
}

/// Commands on their way, by sender: counted from when they are taken in
/// until the engine has handled them (its receipt).
#[derive(Default)]
struct Flight {
    by_sender: HashMap<String, usize>,
    total: usize,
}

#[derive(Default)]
pub struct Inbox {
    waiting: VecDeque<Waiting>,
    flight: Arc<Mutex<Flight>>,
    shed: Shed,
}

impl Inbox {
    /// Takes a message in; a command from `command_of` may be shed.
    /// Returns whether it was kept.
    pub fn push(&mut self, mut incoming: Incoming, command_of: Option<String>) -> bool {
        let is_command = command_of.is_some();
        if let Some(sender) = command_of {
            if !self.take_off(&sender) {
                self.shed_one(&sender);
                return false;
            }
            // The engine's receipt says when the command is done with; an
            // engine that drops it says so too.
            let (ack, done) = oneshot::channel();
            incoming.ack = Some(ack);
            let flight = self.flight.clone();
            tokio::spawn(async move {
                let _ = done.await;
                land(&flight, &sender);
            });
        }
        self.waiting.push_back(Waiting {
            incoming,
            is_command,
        });
        true
    }

    /// Counts a command from `sender` on its way, unless too many are.
    fn take_off(&self, sender: &str) -> bool {
        let mut f = self.flight.lock().unwrap_or_else(PoisonError::into_inner);
        let theirs = f.by_sender.get(sender).copied().unwrap_or(0);
        if theirs >= PER_SENDER || f.total >= COMMANDS {
            return false;
        }
        *f.by_sender.entry(sender.to_owned()).or_default() += 1;
        f.total += 1;
        true
    }

    /// Whether anything can go to the engine, which has `in_engine` events
    /// waiting already.
    pub fn ready(&self, in_engine: usize) -> bool {
        match self.waiting.front() {
            None => false,
            Some(w) => !w.is_command || in_engine <= ENGINE_SLACK,
        }
    }

    /// Whether something waits that the engine is too busy to take now.
    pub fn held(&self, in_engine: usize) -> bool {
        !self.waiting.is_empty() && !self.ready(in_engine)
    }

    pub fn pop(&mut self) -> Option<Incoming> {
        self.waiting.pop_front().map(|w| w.incoming)
    }

    /// Whether reading must pause.
    pub fn full(&self) -> bool {
        self.waiting.len() >= MOST
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    fn shed_one(&mut self, sender: &str) {
        self.shed.total += 1;
        crate::metrics::dropped(
            crate::domain::Network::Irc,
            crate::metrics::Dropped::Backlog,
        );
        *self.shed.by_sender.entry(sender.to_owned()).or_default() += 1;
        self.log_shed();
    }

    /// Logs what was shed since the last line, unless a line was logged
    /// within the last minute (then the counts wait for the next call).
    pub fn log_shed(&mut self) {
        let now = Instant::now();
        if self.shed.total == 0 || self.shed.logged.is_some_and(|at| now - at < LOG_EVERY) {
            return;
        }
        let (top, top_count) = self
            .shed
            .by_sender
            .iter()
            .max_by_key(|(s, n)| (**n, std::cmp::Reverse((*s).clone())))
            .map(|(s, n)| (s.clone(), *n))
            .unwrap_or_default();
        tracing::warn!(
            shed = self.shed.total,
            senders = self.shed.by_sender.len(),
            most_from = %top,
            most = top_count,
            waiting = self.waiting.len(),
            "IRC commands are coming faster than they can be answered; \
             these were dropped unanswered"
        );
        self.shed.total = 0;
        self.shed.by_sender.clear();
        self.shed.logged = Some(now);
    }

    /// Commands shed and not logged yet (for tests).
    #[cfg(test)]
    fn unlogged(&self) -> usize {
        self.shed.total
    }

    /// Commands on their way (for tests).
    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.flight.lock().unwrap().total
    }
}

/// The engine is done with a command from `sender`.
fn land(flight: &Mutex<Flight>, sender: &str) {
    let mut f = flight.lock().unwrap_or_else(PoisonError::into_inner);
    f.total = f.total.saturating_sub(1);
    if let Some(n) = f.by_sender.get_mut(sender) {
        *n -= 1;
        if *n == 0 {
            f.by_sender.remove(sender);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{Event, Room, Sender};

    fn said(who: &str, body: &str) -> (Incoming, Option<String>) {
        let incoming = Incoming {
            room: Room::Irc("#d".into()),
            event: Event::Message {
                id: format!("{who}:{body}"),
                sender: Sender {
                    id: format!("irc:{who}"),
                    name: who.into(),
                    verified: true,
                },
                body: body.into(),
                in_reply_to: None,
                server_ts: None,
                action: false,
            },
            cursor: None,
            ack: None,
        };
        let command = crate::chat::is_command(body).then(|| format!("irc:{who}"));
        (incoming, command)
    }

    fn body(i: &Incoming) -> String {
        match &i.event {
            Event::Message { body, .. } => body.clone(),
            other => format!("{other:?}"),
        }
    }

    /// Hands everything waiting to a stand-in engine that handles each
    /// event at once (answering commands' receipts); returns the bodies.
    async fn engine_takes_all(inbox: &mut Inbox) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(i) = inbox.pop() {
            out.push(body(&i));
            if let Some(ack) = i.ack {
                let _ = ack.send(crate::chat::Receipt::Command);
            }
        }
        tokio::task::yield_now().await;
        out
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_of_commands_is_shed_and_every_answer_kept_in_order() {
        let mut inbox = Inbox::default();
        let mut kept = 0;
        for n in 0..1000 {
            let (i, c) = said("mallory", "!help");
            kept += usize::from(inbox.push(i, c));
            if n % 10 == 0 {
                let (i, c) = said("alice", &format!("A1: answer {n}"));
                assert!(inbox.push(i, c), "an answer is never shed");
            }
        }
        assert_eq!(kept, PER_SENDER);
        // Another sender's command still gets through.
        let (i, c) = said("org", "!skip");
        assert!(inbox.push(i, c));
        let out = engine_takes_all(&mut inbox).await;
        let answers: Vec<&String> = out.iter().filter(|b| b.starts_with("A1")).collect();
        assert_eq!(answers.len(), 100);
        assert_eq!(answers[0], "A1: answer 0");
        assert_eq!(answers[99], "A1: answer 990");
        assert_eq!(out.last().map(String::as_str), Some("!skip"));
        // Once the engine has handled them, the sender may send more.
        assert_eq!(inbox.in_flight(), 0);
        let (i, c) = said("mallory", "!help");
        assert!(inbox.push(i, c));
    }

    #[tokio::test(start_paused = true)]
    async fn commands_count_until_the_engine_has_handled_them() {
        let mut inbox = Inbox::default();
        for _ in 0..PER_SENDER {
            let (i, c) = said("bob", "!next");
            assert!(inbox.push(i, c));
        }
        // Taken by the engine, not handled yet: still on their way.
        let taken: Vec<Incoming> = std::iter::from_fn(|| inbox.pop()).collect();
        let (i, c) = said("bob", "!next");
        assert!(!inbox.push(i, c));
        drop(taken);
        tokio::task::yield_now().await;
        let (i, c) = said("bob", "!next");
        assert!(inbox.push(i, c), "a dropped receipt lands the command too");
    }

    #[tokio::test(start_paused = true)]
    async fn many_senders_are_capped_in_all() {
        let mut inbox = Inbox::default();
        let kept = (0..100)
            .filter(|n| {
                let (i, c) = said(&format!("user{n}"), "!next");
                inbox.push(i, c)
            })
            .count();
        assert_eq!(kept, COMMANDS);
    }

    #[tokio::test(start_paused = true)]
    async fn commands_wait_while_the_engine_is_busy_and_answers_do_not() {
        let mut inbox = Inbox::default();
        let (i, c) = said("bob", "!next");
        inbox.push(i, c);
        assert!(!inbox.ready(ENGINE_SLACK + 1));
        assert!(inbox.held(ENGINE_SLACK + 1));
        assert!(inbox.ready(ENGINE_SLACK));
        inbox.pop();
        let (i, c) = said("bob", "A1: yes");
        inbox.push(i, c);
        assert!(inbox.ready(1000));
        assert!(!inbox.held(1000));
        assert!(!inbox.full());
    }

    #[tokio::test(start_paused = true)]
    async fn shedding_is_logged_at_most_once_a_minute() {
        let mut inbox = Inbox::default();
        for _ in 0..20 {
            let (i, c) = said("mallory", "!help");
            inbox.push(i, c);
        }
        // The first shed command was logged at once, the rest wait.
        assert_eq!(inbox.unlogged(), 20 - PER_SENDER - 1);
        tokio::time::advance(Duration::from_secs(30)).await;
        inbox.log_shed();
        assert_eq!(inbox.unlogged(), 20 - PER_SENDER - 1);
        tokio::time::advance(Duration::from_secs(31)).await;
        inbox.log_shed();
        assert_eq!(inbox.unlogged(), 0);
    }
}
