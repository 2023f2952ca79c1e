//! What the engine knows of each occurrence it has looked at: its stored
//! id, the organisers' live changes, which posts need nothing more, the
//! claims a crash left behind, the posts waiting for a retry, and the
//! question numbers handed out. The store holds the truth; this is the
//! engine's working copy, loaded once per occurrence and kept in step.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::timeline::{Item, Live};
use crate::domain::{PostKind, PostStatus, Room};
use crate::store::{OccurrenceRow, PostRow};

/// An occurrence: its debate and scheduled start.
pub type OccKey = (String, DateTime<Utc>);

/// One post of an occurrence: room, kind and number.
pub type PostKey = (String, PostKind, i64);

/// An occurrence the engine has looked at, with what it has done.
#[derive(Clone, Debug, Default)]
pub struct OccState {
    pub id: Option<i64>,
    /// Its transcript's address once it is stored: as its row has it,
    /// and with its key (posted instead if the debate is private now,
    /// made so after the occurrence was stored).
    pub link: Option<(String, String)>,
    pub live: Live,
    /// Posts that need nothing more.
    done: HashSet<PostKey>,
    /// Claims found in the store when this process started, which may or
    /// may not have reached the network before a crash.
    stale_claims: HashMap<PostKey, PostRow>,
    /// Posts that failed temporarily in this process, and when to retry.
    retries: HashMap<PostKey, (PostRow, DateTime<Utc>)>,
    /// Posts handed to the outbox and not confirmed yet.
    in_flight: HashSet<PostKey>,
    /// Highest question number handed out (extra questions raise it).
    questions: u32,
    /// [`super::Notice::Finished`] was sent.
    finished: bool,
    /// The personal reminders of those registered were claimed (by this
    /// run; the store keeps which were, across runs).
    pub people_reminded: bool,
}

impl OccState {
    /// The state an earlier run left in the store.
    pub fn from_store(row: &OccurrenceRow, posts: &[PostRow]) -> OccState {
        let mut state = OccState {
            id: Some(row.id),
            live: Live {
                shift: chrono::Duration::seconds(row.shift_seconds),
                ended_at: row.ended_at,
                extensions: Vec::new(),
            },
            ..OccState::default()
        };
        for p in posts {
            if p.kind == PostKind::Question {
                state.questions = state.questions.max(u32::try_from(p.seq).unwrap_or(0));
            }
            let k = (p.room.clone(), p.kind, p.seq);
            if p.status == PostStatus::Sending {
                state.stale_claims.insert(k, p.clone());
            } else {
                state.done.insert(k);
            }
        }
        state
    }

    pub fn is_done(&self, k: &PostKey) -> bool {
        self.done.contains(k)
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Highest question number handed out so far.
    pub fn questions(&self) -> u32 {
        self.questions
    }
}

/// Every occurrence in view, by key.
#[derive(Debug, Default)]
pub struct Occurrences {
    map: HashMap<OccKey, OccState>,
}

impl Occurrences {
    pub fn get(&self, key: &OccKey) -> Option<&OccState> {
        self.map.get(key)
    }

    pub fn contains(&self, key: &OccKey) -> bool {
        self.map.contains_key(key)
    }

    pub fn insert(&mut self, key: OccKey, state: OccState) {
        self.map.insert(key, state);
    }

    fn entry(&mut self, key: &OccKey) -> &mut OccState {
        self.map.entry(key.clone()).or_default()
    }

    pub fn id(&self, key: &OccKey) -> Option<i64> {
        self.map.get(key).and_then(|o| o.id)
    }

    pub fn set_id(&mut self, key: &OccKey, id: i64) {
        self.entry(key).id = Some(id);
    }

    pub fn set_link(&mut self, key: &OccKey, link: (String, String)) {
        self.entry(key).link = Some(link);
    }

    /// The address to post: with the key when the debate is private now.
    pub fn link(&self, key: &OccKey, public: bool) -> Option<&str> {
        let (link, keyed) = self.map.get(key)?.link.as_ref()?;
        Some(if public { link } else { keyed })
    }

    pub fn live(&self, key: &OccKey) -> Live {
        self.map
            .get(key)
            .map(|o| o.live.clone())
            .unwrap_or_default()
    }

    /// How far `!start` moved the occurrence.
    pub fn set_people_reminded(&mut self, key: &OccKey) {
        self.entry(key).people_reminded = true;
    }

    pub fn shift(&self, key: &OccKey) -> chrono::Duration {
        self.map
            .get(key)
            .map_or_else(chrono::Duration::zero, |o| o.live.shift)
    }

    /// How much later than planned `!extend` made the occurrence end.
    pub fn extended(&self, key: &OccKey) -> chrono::Duration {
        self.map
            .get(key)
            .map_or_else(chrono::Duration::zero, |o| o.live.extended())
    }

    /// `!extend`: what is still to come moves `by` later.
    pub fn extend(&mut self, key: &OccKey, at: DateTime<Utc>, by: chrono::Duration) {
        self.entry(key).live.extensions.push((at, by));
    }

    /// `!start`: the whole time line moves by `shift` seconds.
    pub fn set_shift(&mut self, key: &OccKey, seconds: i64) {
        self.entry(key).live.shift = chrono::Duration::seconds(seconds);
    }

    /// `!end`: the closing falls due now (the first `!end` counts).
    pub fn set_ended(&mut self, key: &OccKey, at: DateTime<Utc>) {
        self.entry(key).live.ended_at.get_or_insert(at);
    }

    pub fn is_done(&self, key: &OccKey, k: &PostKey) -> bool {
        self.map.get(key).is_some_and(|o| o.is_done(k))
    }

    /// Whether the post was claimed at all: done, on its way, waiting for
    /// a retry, or left by a crash. Such a post has gone out or may yet,
    /// so nothing should announce it as still to come.
    pub fn is_claimed(&self, key: &OccKey, k: &PostKey) -> bool {
        self.map.get(key).is_some_and(|o| {
            o.done.contains(k)
                || o.in_flight.contains(k)
                || o.retries.contains_key(k)
                || o.stale_claims.contains_key(k)
        })
    }

    /// The post needs nothing more: sent, skipped or given up. (Nothing
    /// to do for an occurrence forgotten meanwhile: see
    /// [`Occurrences::forget_debate`].)
    pub fn mark_done(&mut self, key: &OccKey, k: &PostKey) {
        let Some(state) = self.map.get_mut(key) else {
            return;
        };
        state.retries.remove(k);
        state.done.insert(k.clone());
    }

    /// A post is (or is no longer) on its way to the room.
    pub fn set_in_flight(&mut self, key: &OccKey, k: PostKey, on: bool) {
        let Some(state) = self.map.get_mut(key) else {
            return;
        };
        if on {
            state.in_flight.insert(k);
        } else {
            state.in_flight.remove(&k);
        }
    }

    pub fn is_in_flight(&self, key: &OccKey, k: &PostKey) -> bool {
        self.map.get(key).is_some_and(|o| o.in_flight.contains(k))
    }

    /// The claim a crash left for this post, if any (taken: it is dealt
    /// with once).
    pub fn take_stale_claim(&mut self, key: &OccKey, k: &PostKey) -> Option<PostRow> {
        self.map.get_mut(key)?.stale_claims.remove(k)
    }

    /// When a post that failed temporarily is retried, if it is waiting.
    pub fn retry_at(&self, key: &OccKey, k: &PostKey) -> Option<DateTime<Utc>> {
        self.map.get(key)?.retries.get(k).map(|(_, at)| *at)
    }

    pub fn schedule_retry(&mut self, key: &OccKey, row: PostRow, at: DateTime<Utc>) {
        let k = (row.room.clone(), row.kind, row.seq);
        if let Some(state) = self.map.get_mut(key) {
            state.retries.insert(k, (row, at));
        }
    }

    /// The posts whose retry time has come, taken out of the retry list.
    pub fn take_due_retries(&mut self, now: DateTime<Utc>) -> Vec<(OccKey, PostRow)> {
        let mut due = Vec::new();
        for (key, state) in &mut self.map {
            let ready: Vec<PostKey> = state
                .retries
                .iter()
                .filter(|(_, (_, at))| *at <= now)
                .map(|(k, _)| k.clone())
                .collect();
            for k in ready {
                if let Some((row, _)) = state.retries.remove(&k) {
                    due.push((key.clone(), row));
                }
            }
        }
        due
    }

    pub fn next_retry(&self) -> Option<DateTime<Utc>> {
        self.map
            .values()
            .flat_map(|o| o.retries.values().map(|(_, at)| *at))
            .min()
    }

    /// A question numbered `n` exists (posted, or reserved by `!ask`).
    pub fn note_question(&mut self, key: &OccKey, n: u32) {
        let state = self.entry(key);
        state.questions = state.questions.max(n);
    }

    /// The number for an extra question (`!ask`): after the scheduled ones
    /// and any asked before. Reserved at once, so a retried or failed post
    /// keeps its number and the next `!ask` gets another.
    pub fn reserve_question(&mut self, key: &OccKey, scheduled: u32) -> u32 {
        let state = self.entry(key);
        let n = state.questions.max(scheduled) + 1;
        state.questions = n;
        n
    }

    /// True the first time every item is done in every room: the caller
    /// then says the occurrence is finished.
    pub fn finish_if_done(&mut self, key: &OccKey, items: &[Item], rooms: &[Room]) -> bool {
        let Some(state) = self.map.get_mut(key) else {
            return false;
        };
        let all_done = items.iter().all(|i| {
            rooms
                .iter()
                .all(|r| state.done.contains(&(r.to_string(), i.kind, i.seq)))
        });
        if state.finished || !all_done {
            return false;
        }
        state.finished = true;
        true
    }

    /// Forgets every occurrence of `debate`: its lease moved (to another
    /// replica, or back here), so the store's truth is loaded afresh when
    /// it is next needed. Results of posts in flight that come back later
    /// find nothing to update.
    pub fn forget_debate(&mut self, debate: &str) {
        self.map.retain(|(d, _), _| d != debate);
    }

    /// Forgets occurrences that started before `cutoff`.
    pub fn forget_before(&mut self, cutoff: DateTime<Utc>) {
        self.map.retain(|(_, start), _| *start > cutoff);
    }
}
