//! The rooms where an occurrence collects replies, with what attribution
//! needs there: the questions posted (and when), the message ids of
//! questions and stored replies, when collection opens and closes. Live
//! rooms follow the time line as it is posted; past rooms are rebuilt from
//! the store to file messages delivered late (a Matrix sync after a
//! restart) to the debate they were sent during.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::attribution::RoomState;
use super::occurrences::OccKey;
use crate::domain::{PostKind, PostStatus};
use crate::schedule::Schedule;
use crate::store::{PostRow, StoredReply};

/// A room in which an occurrence is collecting replies.
#[derive(Clone, Debug)]
pub struct ActiveRoom {
    pub occurrence_id: i64,
    pub key: OccKey,
    pub state: RoomState,
    /// Questions in posting order, with when they were posted.
    posted: Vec<(DateTime<Utc>, u32)>,
    /// Replies are collected from then (the intro)...
    opens: DateTime<Utc>,
    /// ...until then (set when the closing is posted).
    pub closes: Option<DateTime<Utc>>,
}

impl ActiveRoom {
    /// A room opening at `opens` for an occurrence of `questions` questions.
    pub fn new(key: &OccKey, occurrence_id: i64, questions: u32, opens: DateTime<Utc>) -> Self {
        ActiveRoom {
            opens,
            occurrence_id,
            key: key.clone(),
            state: RoomState {
                questions,
                ..RoomState::default()
            },
            posted: Vec::new(),
            closes: None,
        }
    }

    /// A room's state rebuilt from the occurrence's stored posts (of every
    /// room) and the stored replies in this room (their questions and
    /// authors).
    pub fn rebuild(
        key: &OccKey,
        occurrence_id: i64,
        questions: u32,
        room: &str,
        posts: &[PostRow],
        replies: Vec<StoredReply>,
        collect_grace: Duration,
    ) -> Self {
        let here = |kind: PostKind| posts.iter().find(|p| p.room == room && p.kind == kind);
        let opens =
            here(PostKind::Intro).map_or(key.1, |p| p.sent_at.unwrap_or(p.due_at).min(p.due_at));
        let mut active = ActiveRoom::new(key, occurrence_id, questions, opens);
        active.closes =
            here(PostKind::Closing).map(|p| p.sent_at.unwrap_or(p.due_at) + collect_grace);
        for p in posts.iter().filter(|p| {
            p.room == room && p.kind == PostKind::Question && p.status == PostStatus::Sent
        }) {
            let n = u32::try_from(p.seq).unwrap_or(0);
            if let Some(id) = &p.network_id {
                active.state.question_ids.insert(id.clone(), n);
            }
            active.posted.push((p.sent_at.unwrap_or(p.due_at), n));
            active.state.questions = active.state.questions.max(n);
        }
        active.state.latest = active
            .posted
            .iter()
            .max_by_key(|(t, _)| *t)
            .map(|(_, q)| *q);
        for r in replies {
            active.state.remember(r.network_id, r.sender_id, r.question);
        }
        active
    }

    /// Whether a message sent at `at` is collected here.
    pub fn covers(&self, at: DateTime<Utc>) -> bool {
        self.opens <= at && self.closes.is_none_or(|c| at <= c)
    }

    /// The latest question posted by `at`, for a message sent then.
    pub fn latest_at(&self, at: DateTime<Utc>) -> Option<u32> {
        self.posted
            .iter()
            .filter(|(t, _)| *t <= at)
            .max_by_key(|(t, _)| *t)
            .map(|(_, q)| *q)
    }

    /// Question `n` exists; posted as `network_id`, asked since `at`, when
    /// it was really posted (only then does it become the latest).
    fn question(&mut self, n: u32, posted: Option<(&str, DateTime<Utc>)>) {
        self.state.questions = self.state.questions.max(n);
        if let Some((id, at)) = posted {
            self.state.question_ids.insert(id.to_owned(), n);
            self.state.latest = Some(n);
            self.posted.retain(|(_, q)| *q != n);
            self.posted.push((at, n));
        }
    }
}

/// The room a past occurrence collects in: its name and the occurrence.
pub type PastSlot = (String, OccKey);

/// Every room collecting replies, by room name, and the past rooms.
#[derive(Debug, Default)]
pub struct Rooms {
    live: HashMap<String, ActiveRoom>,
    past: HashMap<PastSlot, ActiveRoom>,
    /// When each past room was rebuilt from the store.
    past_built: HashMap<PastSlot, tokio::time::Instant>,
}

impl Rooms {
    /// Makes `active` the room's live state unless a later occurrence
    /// already holds the room: catching up an old occurrence after a
    /// restart must not take the room from the one running now.
    pub fn open(&mut self, name: String, active: ActiveRoom) {
        match self.live.get(&name) {
            Some(held) if held.key.1 > active.key.1 => {}
            _ => {
                self.live.insert(name, active);
            }
        }
    }

    /// Keeps the room in step with a question of `key` (see
    /// [`ActiveRoom::question`]).
    pub fn question(
        &mut self,
        name: &str,
        key: &OccKey,
        n: u32,
        posted: Option<(&str, DateTime<Utc>)>,
    ) {
        if let Some(active) = self.live.get_mut(name).filter(|a| a.key == *key) {
            active.question(n, posted);
        }
    }

    /// Question `n` of `key` was handed to the network at `at`: messages
    /// sent from then on answer it, before the network confirms it.
    pub fn handed(&mut self, name: &str, key: &OccKey, n: u32, at: DateTime<Utc>) {
        if let Some(active) = self.live.get_mut(name).filter(|a| a.key == *key) {
            active.posted.push((at, n));
        }
    }

    /// Question `n` of `key`, handed over, did not go out after all.
    pub fn withdraw(&mut self, name: &str, key: &OccKey, n: u32) {
        if let Some(active) = self.live.get_mut(name).filter(|a| a.key == *key) {
            active.posted.retain(|(_, q)| *q != n);
        }
    }

    /// The occurrence `key` closed in the room; replies are collected until
    /// `until`.
    pub fn close(&mut self, name: &str, key: &OccKey, until: DateTime<Utc>) {
        if let Some(active) = self.live.get_mut(name).filter(|a| a.key == *key) {
            active.closes = Some(until);
        }
    }

    /// The latest question of `key` handed over in the room by `at`: the
    /// one a message sent then answers, so the one a last call is for.
    pub fn latest(&self, name: &str, key: &OccKey, at: DateTime<Utc>) -> Option<u32> {
        self.live
            .get(name)
            .filter(|a| a.key == *key)
            .and_then(|a| a.latest_at(at))
    }

    /// The occurrence running in the room (opened and not yet closed).
    pub fn running(&self, name: &str) -> Option<&OccKey> {
        self.live
            .get(name)
            .filter(|a| a.closes.is_none())
            .map(|a| &a.key)
    }

    /// The live room, when it collects a message sent at `at`.
    pub fn live_covering(&mut self, name: &str, at: DateTime<Utc>) -> Option<&mut ActiveRoom> {
        self.live.get_mut(name).filter(|a| a.covers(at))
    }

    /// Whether the live room collects a message sent at `at`.
    pub fn live_covers(&self, name: &str, at: DateTime<Utc>) -> bool {
        self.live.get(name).is_some_and(|a| a.covers(at))
    }

    /// Whether the room's live occurrence closed before `at`.
    pub fn closed_before(&self, name: &str, at: DateTime<Utc>) -> bool {
        self.live
            .get(name)
            .is_some_and(|a| a.closes.is_some_and(|c| at > c))
    }

    /// Whether `sender` may change reply `target` in the room, as far as
    /// the rooms know: false when a live or past room holds the reply as
    /// someone else's.
    pub fn may_change(&self, name: &str, target: &str, sender: &str) -> bool {
        self.live
            .get(name)
            .into_iter()
            .chain(
                self.past
                    .iter()
                    .filter(|(s, _)| s.0 == name)
                    .map(|(_, a)| a),
            )
            .all(|a| a.state.may_change(target, sender))
    }

    /// The live room's new question for reply `target` edited by its
    /// author `sender`, when the edit carries a valid answer tag. Someone
    /// else's edit moves nothing (see [`Rooms::may_change`]).
    pub fn retag(&mut self, name: &str, target: &str, sender: &str, body: &str) -> Option<u32> {
        if !self.may_change(name, target, sender) {
            return None;
        }
        let active = self.live.get_mut(name)?;
        let q = active.state.retag(body)?;
        active
            .state
            .reply_questions
            .insert(target.to_owned(), Some(q));
        Some(q)
    }

    pub fn has_past(&self, slot: &PastSlot) -> bool {
        self.past.contains_key(slot)
    }

    /// Whether the past room was rebuilt from the store longer than `ago`.
    pub fn past_older_than(&self, slot: &PastSlot, ago: std::time::Duration) -> bool {
        self.past_built.get(slot).is_none_or(|t| t.elapsed() > ago)
    }

    /// Sets the past room's state; one rebuilt again keeps what the old
    /// state remembered of the answers filed there.
    pub fn add_past(&mut self, slot: PastSlot, mut active: ActiveRoom) {
        if let Some(old) = self.past.remove(&slot) {
            let state = &mut active.state;
            for (id, q) in old.state.reply_questions {
                state.reply_questions.entry(id).or_insert(q);
            }
            for (id, a) in old.state.reply_authors {
                state.reply_authors.entry(id).or_insert(a);
            }
        }
        self.past_built
            .insert(slot.clone(), tokio::time::Instant::now());
        self.past.insert(slot, active);
    }

    /// The past room, when it collects a message sent at `at`.
    pub fn past_covering(&mut self, slot: &PastSlot, at: DateTime<Utc>) -> Option<&mut ActiveRoom> {
        self.past.get_mut(slot).filter(|a| a.covers(at))
    }

    /// A debate (or one of its rooms) taken out of the schedule while it
    /// runs stops there: no closing is posted, collection ends after
    /// `grace`.
    pub fn end_removed(&mut self, schedule: &Schedule, now: DateTime<Utc>, grace: Duration) {
        for (name, active) in &mut self.live {
            let still_held = schedule
                .debate(&active.key.0)
                .is_some_and(|d| d.rooms.iter().any(|r| r.to_string() == *name));
            if active.closes.is_none() && !still_held {
                tracing::warn!(debate = %active.key.0, room = %name,
                    "a running debate was removed from the schedule here; it ends now");
                active.closes = Some(now + grace);
            }
        }
    }

    /// Forgets rooms closed a day ago and past rooms of occurrences that
    /// started before `cutoff`.
    /// Forgets the rooms' state of every occurrence of `debate` (its lease
    /// moved): messages there are then filed from the store's posts, as
    /// for a past occurrence, until this process leads it again.
    pub fn forget_debate(&mut self, debate: &str) {
        self.live.retain(|_, r| r.key.0 != debate);
        self.past.retain(|(_, (d, _)), _| d != debate);
        self.past_built.retain(|(_, (d, _)), _| d != debate);
    }

    pub fn forget(&mut self, now: DateTime<Utc>, cutoff: DateTime<Utc>) {
        self.live
            .retain(|_, r| r.closes.is_none_or(|c| c > now - Duration::days(1)));
        self.past.retain(|(_, (_, start)), _| *start > cutoff);
        self.past_built.retain(|(_, (_, start)), _| *start > cutoff);
    }
}
