//! Rate limits on commands, so that one person (or ten) sending commands
//! by the thousand cannot keep the engine, the database or a room's
//! network queue busy: each sender and each room has a budget of answers,
//! checked before anything else is done for a command. Beyond it, commands
//! are ignored; a sender learns so at most once a minute, and the log says
//! how many were ignored (and how many answers were dropped because a
//! room's queue was full) once a minute per room.
//!
//! Budgets are token buckets on tokio's clock (real time even in a
//! compressed rehearsal, and paused time in tests).

use std::collections::HashMap;

use tokio::time::{Duration, Instant};

use crate::chat::Room;

/// A budget: `burst` at once, then one more every `every`.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    pub burst: u32,
    pub every: Duration,
}

/// Each sender: 5 commands at once, then one every 12 s (5 a minute).
pub const PER_SENDER: Rate = Rate {
    burst: 5,
    every: Duration::from_secs(12),
};

/// Each room: 10 answers at once, then one every 6 s (10 a minute).
/// Organisers' commands are answered even when the room is over it.
pub const PER_ROOM: Rate = Rate {
    burst: 10,
    every: Duration::from_secs(6),
};

/// How often a sender over the limit is told, and how often the log
/// reports what was ignored in a room.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Senders remembered before those whose budget is full again are
/// forgotten.
const SENDERS: usize = 4096;

/// A token bucket kept as the instant it is full again (the "theoretical
/// arrival time" of GCRA): no timer, one instant per key.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    full_at: Instant,
}

impl Bucket {
    fn new(now: Instant) -> Self {
        Bucket { full_at: now }
    }

    /// Takes one token if there is one.
    fn take(&mut self, rate: Rate, now: Instant) -> bool {
        let full_at = self.full_at.max(now);
        if full_at - now > rate.every * rate.burst.saturating_sub(1) {
            return false;
        }
        self.full_at = full_at + rate.every;
        true
    }
}

/// What to do with a command. Whoever ignores one counts it
/// ([`Limiter::ignored`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Within both budgets: handle and answer it.
    Answer,
    /// The sender is over their budget: ignore it; `notice` says whether
    /// to tell them (once a window, and only within the room's budget).
    OverSender { notice: bool },
    /// The room is over its budget: ignore it unless the sender organises
    /// a debate here (the caller knows).
    OverRoom,
}

#[derive(Debug)]
struct SenderState {
    bucket: Bucket,
    /// Told they were over the limit, until then.
    told_until: Option<Instant>,
}

/// What was ignored in a room since its report window began.
#[derive(Debug, Default)]
struct Report {
    since: Option<Instant>,
    ignored: u64,
    shed: u64,
}

#[derive(Debug, Default)]
pub struct Limiter {
    senders: HashMap<String, SenderState>,
    rooms: HashMap<Room, Bucket>,
    reports: HashMap<Room, Report>,
}

impl Limiter {
    /// Checks (and spends) the budgets for a command from `sender` in
    /// `room`.
    pub fn check(&mut self, room: &Room, sender: &str, now: Instant) -> Verdict {
        if !self.senders.contains_key(sender) && self.senders.len() >= SENDERS {
            self.senders
                .retain(|_, s| s.bucket.full_at > now || s.told_until.is_some_and(|t| t > now));
        }
        let state = self
            .senders
            .entry(sender.to_owned())
            .or_insert_with(|| SenderState {
                bucket: Bucket::new(now),
                told_until: None,
            });
        let room_bucket = self
            .rooms
            .entry(room.clone())
            .or_insert_with(|| Bucket::new(now));
        if !state.bucket.take(PER_SENDER, now) {
            let due = state.told_until.is_none_or(|t| t <= now);
            let notice = due && room_bucket.take(PER_ROOM, now);
            if notice {
                state.told_until = Some(now + WINDOW);
            }
            return Verdict::OverSender { notice };
        }
        if room_bucket.take(PER_ROOM, now) {
            Verdict::Answer
        } else {
            Verdict::OverRoom
        }
    }

    /// A command was ignored in `room`; true when it is the first of the
    /// room's report window (so the caller logs that limiting began).
    pub fn ignored(&mut self, room: &Room, now: Instant) -> bool {
        let report = self.reports.entry(room.clone()).or_default();
        report.ignored += 1;
        let first = report.since.is_none();
        report.since.get_or_insert(now);
        first
    }

    /// An answer was dropped: the room's queue of answers was full.
    pub fn shed(&mut self, room: &Room, now: Instant) {
        let report = self.reports.entry(room.clone()).or_default();
        report.shed += 1;
        report.since.get_or_insert(now);
    }

    /// When the next report is due, if anything is waiting to be reported.
    pub fn report_at(&self) -> Option<Instant> {
        self.reports
            .values()
            .filter_map(|r| r.since)
            .min()
            .map(|since| since + WINDOW)
    }

    /// Logs, once per window and room, how many commands were ignored and
    /// answers dropped.
    pub fn report(&mut self, now: Instant) {
        self.reports.retain(|room, r| {
            let Some(since) = r.since else {
                return false;
            };
            if since + WINDOW > now {
                return true;
            }
            // ignored: over a rate limit; shed: the room's queue of
            // answers was full.
            tracing::info!(room = %room, ignored = r.ignored, shed = r.shed,
                window_s = WINDOW.as_secs(), "commands left unanswered");
            false
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_bucket_gives_its_burst_then_one_token_per_period() {
        let t0 = Instant::now();
        let mut b = Bucket::new(t0);
        let taken = (0..8).filter(|_| b.take(PER_SENDER, t0)).count();
        assert_eq!(taken, 5);
        assert!(!b.take(PER_SENDER, t0 + 11 * SECOND));
        assert!(b.take(PER_SENDER, t0 + 12 * SECOND));
        assert!(!b.take(PER_SENDER, t0 + 13 * SECOND));
        // Idle long enough, the whole burst is back, never more.
        let later = t0 + 600 * SECOND;
        assert_eq!((0..8).filter(|_| b.take(PER_SENDER, later)).count(), 5);
    }

    #[test]
    fn a_sender_over_the_limit_is_told_once_a_window() {
        let t0 = Instant::now();
        let room = Room::Irc("#r".into());
        let mut l = Limiter::default();
        let verdicts: Vec<Verdict> = (0..8).map(|_| l.check(&room, "m", t0)).collect();
        assert_eq!(verdicts[..5], [Verdict::Answer; 5]);
        assert_eq!(verdicts[5], Verdict::OverSender { notice: true });
        assert_eq!(verdicts[6..], [Verdict::OverSender { notice: false }; 2]);
        // A token back after 12 s, no notice again within the minute...
        assert_eq!(l.check(&room, "m", t0 + 12 * SECOND), Verdict::Answer);
        assert_eq!(
            l.check(&room, "m", t0 + 12 * SECOND),
            Verdict::OverSender { notice: false }
        );
        // ...and one after it, at the first refusal.
        let later: Vec<Verdict> = (0..10)
            .map(|_| l.check(&room, "m", t0 + 61 * SECOND))
            .filter(|v| *v != Verdict::Answer)
            .collect();
        assert_eq!(later[0], Verdict::OverSender { notice: true });
        assert!(
            later[1..]
                .iter()
                .all(|v| *v == Verdict::OverSender { notice: false })
        );
    }

    #[test]
    fn a_room_over_its_limit_refuses_everyone_and_notices_count_in_it() {
        let t0 = Instant::now();
        let room = Room::Matrix("#r:x".into());
        let other = Room::Matrix("#o:x".into());
        let mut l = Limiter::default();
        for i in 0..10 {
            assert_eq!(l.check(&room, &format!("p{i}"), t0), Verdict::Answer);
        }
        assert_eq!(l.check(&room, "late", t0), Verdict::OverRoom);
        assert_eq!(l.check(&other, "late", t0), Verdict::Answer);
        // A sender over their own limit gets no notice in a full room.
        for _ in 0..5 {
            l.check(&other, "m", t0);
        }
        assert_eq!(
            l.check(&room, "m", t0),
            Verdict::OverSender { notice: false }
        );
        assert_eq!(l.check(&room, "x", t0 + 6 * SECOND), Verdict::Answer);
    }

    #[test]
    fn what_was_ignored_is_reported_once_its_window_ends() {
        let t0 = Instant::now();
        let room = Room::Irc("#r".into());
        let mut l = Limiter::default();
        assert_eq!(l.report_at(), None);
        assert!(l.ignored(&room, t0));
        assert!(!l.ignored(&room, t0 + SECOND));
        l.shed(&room, t0 + SECOND);
        assert_eq!(l.report_at(), Some(t0 + WINDOW));
        l.report(t0 + 30 * SECOND);
        assert_eq!(l.report_at(), Some(t0 + WINDOW));
        l.report(t0 + WINDOW);
        assert_eq!(l.report_at(), None);
    }

    #[test]
    fn senders_whose_budget_is_full_again_are_forgotten_when_many() {
        let t0 = Instant::now();
        let room = Room::Irc("#r".into());
        let mut l = Limiter::default();
        for i in 0..SENDERS {
            l.check(&room, &format!("s{i}"), t0);
        }
        assert_eq!(l.senders.len(), SENDERS);
        l.check(&room, "new", t0 + 13 * SECOND);
        assert_eq!(l.senders.len(), 1);
    }
}
