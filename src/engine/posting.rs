//! Posting, in three phases: each due item is claimed in the store
//! ([`Engine::prepare`], here); the claimed posts are handed to the
//! outbox, which sends each room's in order and the rooms at the same
//! time, so one slow room never delays another; each result is confirmed
//! in the store as it comes back (`confirm.rs`) and the rooms' attribution
//! state follows what was posted. What failed for a while is retried; what
//! fell due too long ago is skipped and logged.
//!
//! Whether a post is late is settled when it is handed to the network
//! (its late note) and when the network took it (its flag and log line),
//! not when it is claimed: a post can wait behind slow ones.

use chrono::{DateTime, Duration, Utc};

use super::occurrences::{OccKey, PostKey};
use super::timeline::Item;
use super::{Engine, Notice, scheduled_questions, text};
use crate::chat::{Chat, Room};
use crate::domain::{PostKind, PostStatus};
use crate::schedule::Debate;
use crate::store::{NewPost, PostRow};

/// A reminder this late still states its own lead time.
const ON_TIME: Duration = Duration::seconds(5);

/// How late a post is when it is claimed, and what that means for it.
struct Lateness {
    /// Past the grace window (or a reminder after the start): skipped.
    too_late: bool,
    /// Late already (only recorded for a skipped post: one that goes out
    /// is judged when it does).
    late: bool,
}

/// A claimed post, ready to go out.
#[derive(Debug)]
pub struct Ready {
    pub(super) key: OccKey,
    pub(super) room: Room,
    pub(super) row: PostRow,
    /// What the post says if it is handed over late, when that fits in
    /// the room (reminders say how long is left instead).
    late_note: Option<String>,
    late_after: Duration,
    pub(super) handed_at: Option<DateTime<Utc>>,
    pub(super) accepted_at: Option<DateTime<Utc>>,
    /// The row's body and late flag changed since it was stored.
    pub(super) changed: bool,
}

impl Ready {
    pub fn room(&self) -> &Room {
        &self.room
    }

    pub fn row(&self) -> &PostRow {
        &self.row
    }

    pub fn key(&self) -> &OccKey {
        &self.key
    }

    pub fn post_key(&self) -> PostKey {
        (self.row.room.clone(), self.row.kind, self.row.seq)
    }

    /// Handed to the network at `at`: more than `late_after` after its
    /// time, the post says it is late (readers must not take a question
    /// posted at 20:17 for the one due at 20:15).
    pub fn hand(&mut self, at: DateTime<Utc>) {
        self.handed_at = Some(at);
        if !self.row.late
            && at - self.row.due_at > self.late_after
            && let Some(note) = self.late_note.take()
        {
            self.row.body.push_str(&note);
            self.row.late = true;
            self.changed = true;
        }
    }

    /// The network took it (or refused it) at `at`.
    pub fn accepted(&mut self, at: DateTime<Utc>) {
        self.accepted_at = Some(at);
    }
}

/// What claiming an item left to do.
pub(super) enum Prepared {
    /// Nothing: done before, or skipped now.
    Done,
    /// Waiting for a retry at this instant.
    RetryAt(DateTime<Utc>),
    Send(Box<Ready>),
}

impl<C: Chat> Engine<C> {
    /// Claims one item in one room unless it is done; `extra_text` is the
    /// text of a question asked with `!ask`.
    pub(super) async fn prepare(
        &mut self,
        debate: &Debate,
        key: &OccKey,
        room: &Room,
        item: &Item,
        now: DateTime<Utc>,
        extra_text: Option<&str>,
    ) -> anyhow::Result<Prepared> {
        let k: PostKey = (room.to_string(), item.kind, item.seq);
        self.load(key, debate, now).await?;
        if self.occs.is_done(key, &k) {
            return Ok(Prepared::Done);
        }
        if let Some(at) = self.occs.retry_at(key, &k) {
            // Sent again by `due_retries`, which also covers extra questions.
            return Ok(Prepared::RetryAt(at));
        }
        if self.occs.is_in_flight(key, &k) {
            return Ok(Prepared::Done);
        }
        if item.kind == PostKind::LastCall && self.last_call_moot(key, room, item.seq) {
            // Not recorded: the store already says why (the question's
            // own post, or the end), so a restart decides the same.
            if let Some(row) = self.occs.take_stale_claim(key, &k) {
                self.store.mark_status(row.id, PostStatus::Unknown).await?;
            }
            self.occs.mark_done(key, &k);
            return Ok(Prepared::Done);
        }
        let stale = self.occs.take_stale_claim(key, &k);
        let occurrence_id = self.occurrence_id(key, debate, now).await?;
        let lateness = self.lateness(debate, key, item, now);
        if let Some(row) = stale {
            return self.resume_claim(debate, key, room, row, &lateness).await;
        }
        let (body, question) = self.body(debate, key, room, item, now, extra_text);
        // A skipped item is recorded too, so it is logged once and never
        // posted by a later run.
        let (row, inserted) = self
            .store
            .claim_post(&NewPost {
                occurrence_id,
                room: &k.0,
                kind: item.kind,
                seq: item.seq,
                body: &body,
                question_text: question.as_deref(),
                due_at: item.due,
                late: lateness.late && lateness.too_late,
                // With replicas a claim waits as `queued` and becomes
                // `sending` only as it is handed over, under the lease (see
                // the outbox's fence); alone, it is `sending` at once.
                status: if lateness.too_late {
                    PostStatus::Skipped
                } else if self.lease(&debate.id) == crate::replicas::Lease::Solo {
                    PostStatus::Sending
                } else {
                    PostStatus::Queued
                },
            })
            .await?;
        // A queued claim never reached the network, whoever made it (an
        // earlier holder of the lease, or this one): it is sent now, and
        // the hand-over statement settles who sends it.
        if (inserted && row.status == PostStatus::Sending) || row.status == PostStatus::Queued {
            let ready = self.ready(debate, key, room, row);
            return Ok(Prepared::Send(Box::new(ready)));
        }
        self.done(key, &k);
        if inserted {
            self.skipped(debate, key, occurrence_id, room, item, now);
        }
        Ok(Prepared::Done)
    }

    fn lateness(&self, debate: &Debate, key: &OccKey, item: &Item, now: DateTime<Utc>) -> Lateness {
        let lateness = now - item.due;
        let actual_start = key.1 + self.occs.live(key).shift;
        // A reminder after the start, or a last call once what it
        // announces is due, has nothing left to say.
        let passed = match item.kind {
            PostKind::Reminder => now >= actual_start,
            PostKind::LastCall => last_call_passed(debate, item.due, now),
            _ => false,
        };
        Lateness {
            too_late: lateness > self.config.late_grace || passed,
            late: lateness > self.config.late_after,
        }
    }

    /// Whether last call `seq` (0: the closing's) in `room` would come too
    /// late to mean anything: what it announces was claimed already (a
    /// question `!skip` brought forward), or the debate was ended with
    /// `!end`.
    pub(super) fn last_call_moot(&self, key: &OccKey, room: &Room, seq: i64) -> bool {
        let next = if seq == 0 {
            PostKind::Closing
        } else {
            PostKind::Question
        };
        self.occs.live(key).ended_at.is_some()
            || self.occs.is_claimed(key, &(room.to_string(), next, seq))
    }

    /// A claim left by a crash: it may or may not have reached the room.
    /// Sent again with the same key only where the network deduplicates
    /// and it is not too late; otherwise left alone.
    async fn resume_claim(
        &mut self,
        debate: &Debate,
        key: &OccKey,
        room: &Room,
        row: PostRow,
        lateness: &Lateness,
    ) -> anyhow::Result<Prepared> {
        // Another replica's claim: its network send key was its own
        // device's, so sending again could post it twice.
        let foreign = match self.lease(&debate.id) {
            crate::replicas::Lease::Solo => false,
            _ => row.holder.as_deref() != self.leadership.borrow().replica(),
        };
        if foreign {
            tracing::warn!(debate = %debate.id, room = %room, kind = row.kind.as_str(), seq = row.seq,
                holder = row.holder.as_deref().unwrap_or("?"), epoch = row.epoch.unwrap_or(0),
                "a post another replica was sending when it lost its lease may or may not have \
                 reached the room; leaving it (missing rather than twice)");
            self.store.mark_status(row.id, PostStatus::Unknown).await?;
            self.done(key, &(row.room.clone(), row.kind, row.seq));
            return Ok(Prepared::Done);
        }
        if lateness.too_late || !self.chat.deduplicates(room) {
            tracing::warn!(debate = %debate.id, room = %room, kind = row.kind.as_str(), seq = row.seq,
                "a post was interrupted by a restart and cannot be safely sent again \
                 (too late, or the network cannot deduplicate); leaving it");
            self.store.mark_status(row.id, PostStatus::Unknown).await?;
            self.done(key, &(row.room.clone(), row.kind, row.seq));
            return Ok(Prepared::Done);
        }
        let ready = self.ready(debate, key, room, row);
        Ok(Prepared::Send(Box::new(ready)))
    }

    /// A claimed row, ready to go out, with the note it gets if it is
    /// handed over late.
    pub(super) fn ready(&self, debate: &Debate, key: &OccKey, room: &Room, row: PostRow) -> Ready {
        // Reminders and last calls say how long is left instead.
        let late_note = (!matches!(row.kind, PostKind::Reminder | PostKind::LastCall))
            .then(|| text::late_note(row.due_at, debate))
            .filter(|note| {
                self.chat
                    .max_chars(room, Some(row.kind))
                    .is_none_or(|max| row.body.chars().count() + note.chars().count() <= max)
            });
        Ready {
            key: key.clone(),
            room: room.clone(),
            row,
            late_note,
            late_after: self.config.late_after,
            handed_at: None,
            accepted_at: None,
            changed: false,
        }
    }

    /// A post recorded as skipped: logged, announced, and counted for
    /// attribution at the time it stood for.
    fn skipped(
        &mut self,
        debate: &Debate,
        key: &OccKey,
        occurrence_id: i64,
        room: &Room,
        item: &Item,
        now: DateTime<Utc>,
    ) {
        tracing::warn!(debate = %debate.id, room = %room, kind = item.kind.as_str(),
            seq = item.seq, due = %item.due, late_by = %(now - item.due),
            "skipped a post that fell due while Podium was not running \
             (outside the grace window)");
        crate::metrics::post(room.network(), crate::metrics::Outcome::Skipped, None);
        // The debate still runs even if its intro or closing was missed:
        // replies must be collected all the same.
        self.track(
            debate,
            key,
            occurrence_id,
            room,
            item.kind,
            item.seq,
            None,
            item.due,
        );
        let _ = self.notices.send(Notice::Skipped {
            debate: debate.id.clone(),
            room: room.clone(),
            kind: item.kind,
            seq: item.seq,
        });
    }

    /// The text of an item in `room` (within what the room takes), and
    /// for a question its text alone.
    fn body(
        &self,
        debate: &Debate,
        key: &OccKey,
        room: &Room,
        item: &Item,
        now: DateTime<Utc>,
        extra: Option<&str>,
    ) -> (String, Option<String>) {
        let start = key.1 + self.occs.live(key).shift;
        let max = self.chat.max_chars(room, Some(item.kind));
        let (body, question) = match item.kind {
            PostKind::Reminder => {
                // Sent late, a reminder says how long is really left
                // (a few seconds' delay still counts as on time).
                let lead = Duration::seconds(item.seq);
                let left = start - now;
                let said = if lead - left <= ON_TIME { lead } else { left };
                (text::reminder(debate, key.1, said), None)
            }
            PostKind::Intro => {
                let asked = self.occs.get(key).map_or(0, |o| o.questions());
                let questions = scheduled_questions(debate).max(asked);
                let replies = self.chat.replies(room);
                (
                    text::intro(debate, start, questions as usize, replies),
                    None,
                )
            }
            PostKind::Question => {
                let q = extra.map(str::to_owned).unwrap_or_else(|| {
                    usize::try_from(item.seq - 1)
                        .ok()
                        .and_then(|i| debate.questions.get(i))
                        .map(|q| q.text.clone())
                        .unwrap_or_default()
                });
                (text::question(debate, item.seq, &q), Some(q))
            }
            PostKind::LastCall => {
                // What it announces is due `last_call` after it; sent
                // late, it says what is really left (see reminders).
                let lead = debate.last_call.unwrap_or_else(Duration::zero);
                let left = item.due + lead - now;
                let said = if lead - left <= ON_TIME { lead } else { left };
                let next = if item.seq == 0 {
                    text::Next::Closing
                } else {
                    text::Next::Question
                };
                let current = self.rooms.latest(&room.to_string(), key, now);
                (text::last_call(debate, current, next, said), None)
            }
            PostKind::Closing => (text::closing(debate), None),
            PostKind::Transcript => {
                let link = self.occs.link(key, debate.public).unwrap_or_default();
                (text::transcript(&debate.title, link), None)
            }
        };
        let fitted = fit(debate, room, item, body, max);
        (fitted, question)
    }
}

/// A post cut to what its room takes (ending with "…", with room left
/// for a late note), and a warning: a post too long would fail at the
/// network after it was claimed, and the debate would miss it. The
/// transcript link's title is shortened instead, never its address.
fn fit(debate: &Debate, room: &Room, item: &Item, body: String, max: Option<usize>) -> String {
    let length = body.chars().count();
    let Some(max) = max.filter(|max| length > *max) else {
        return body;
    };
    tracing::warn!(debate = %debate.id, room = %room, kind = item.kind.as_str(), seq = item.seq,
        limit = max, length, "a post is longer than the room takes; shortened");
    match item.kind {
        PostKind::Transcript => {
            let link = body.rsplit(' ').next().unwrap_or_default();
            text::titled(Some(max), &debate.title, |title| {
                text::transcript(title, link)
            })
        }
        PostKind::Reminder | PostKind::LastCall => text::shorten(&body, max),
        _ => {
            let note = text::late_note(item.due, debate).chars().count();
            text::shorten(&body, max.saturating_sub(note).max(1))
        }
    }
}

/// Whether what a last call due at `due` announces is due by `now`: the
/// call is then too late to be of use. (A debate whose `last_call` was
/// removed by a reload has none to make.)
pub(super) fn last_call_passed(debate: &Debate, due: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    debate.last_call.is_none_or(|lead| now >= due + lead)
}
