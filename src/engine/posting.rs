//! Posting, in three phases: each due item is claimed in the store
//! ([`Engine::prepare`]); the claimed posts are handed to the outbox, which
//! sends each room's in order and the rooms at the same time, so one slow
//! room never delays another ([`Engine::dispatch`]); each result is
//! confirmed in the store as it comes back ([`Engine::confirm`]) and the
//! rooms' attribution state follows what was posted. What failed for a
//! while is retried; what fell due too long ago is skipped and logged.

use chrono::{DateTime, Duration, Utc};

use super::occurrences::{OccKey, PostKey};
use super::rooms::ActiveRoom;
use super::timeline::Item;
use super::{Engine, Notice, RETRY_AFTER, scheduled_questions, text};
use crate::chat::{Chat, ChatError, Room};
use crate::domain::{PostKind, PostStatus};
use crate::schedule::{Debate, Schedule};
use crate::store::{NewPost, PostRow};

/// A reminder this late still states its own lead time.
const ON_TIME: Duration = Duration::seconds(5);

/// How late a post is, and what that means for it.
struct Lateness {
    /// Past the grace window (or a reminder after the start): skipped.
    too_late: bool,
    /// Sent, but marked late.
    late: bool,
}

/// A claimed post, ready to go out.
#[derive(Debug)]
pub struct Ready {
    key: OccKey,
    room: Room,
    row: PostRow,
}

impl Ready {
    pub fn room(&self) -> &Room {
        &self.room
    }

    pub fn row(&self) -> &PostRow {
        &self.row
    }

    fn post_key(&self) -> PostKey {
        (self.row.room.clone(), self.row.kind, self.row.seq)
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
        let stale = self.occs.take_stale_claim(key, &k);
        let occurrence_id = self.occurrence_id(key, debate, now).await?;
        let lateness = self.lateness(key, item, now);
        if let Some(row) = stale {
            return self.resume_claim(debate, key, room, row, &lateness).await;
        }
        let (mut body, question) = self.body(debate, key, item, now, extra_text);
        if lateness.late && !lateness.too_late && item.kind != PostKind::Reminder {
            body.push_str(&text::late_note(item.due, debate));
        }
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
                late: lateness.late,
                status: if lateness.too_late {
                    PostStatus::Skipped
                } else {
                    PostStatus::Sending
                },
            })
            .await?;
        if inserted && row.status == PostStatus::Sending {
            let ready = Ready {
                key: key.clone(),
                room: room.clone(),
                row,
            };
            return Ok(Prepared::Send(Box::new(ready)));
        }
        self.done(key, &k);
        if inserted {
            self.skipped(debate, key, occurrence_id, room, item, now);
        }
        Ok(Prepared::Done)
    }

    fn lateness(&self, key: &OccKey, item: &Item, now: DateTime<Utc>) -> Lateness {
        let lateness = now - item.due;
        let actual_start = key.1 + self.occs.live(key).shift;
        Lateness {
            too_late: lateness > self.config.late_grace
                || (item.kind == PostKind::Reminder && now >= actual_start),
            late: lateness > self.config.late_after,
        }
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
        if lateness.too_late || !self.chat.deduplicates(room) {
            tracing::warn!(debate = %debate.id, room = %room, kind = row.kind.as_str(), seq = row.seq,
                "a post was interrupted by a restart and cannot be safely sent again \
                 (too late, or the network cannot deduplicate); leaving it");
            self.store.mark_status(row.id, PostStatus::Unknown).await?;
            self.done(key, &(row.room.clone(), row.kind, row.seq));
            return Ok(Prepared::Done);
        }
        let ready = Ready {
            key: key.clone(),
            room: room.clone(),
            row,
        };
        Ok(Prepared::Send(Box::new(ready)))
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

    /// The text of an item, and for a question its text alone.
    fn body(
        &self,
        debate: &Debate,
        key: &OccKey,
        item: &Item,
        now: DateTime<Utc>,
        extra: Option<&str>,
    ) -> (String, Option<String>) {
        let start = key.1 + self.occs.live(key).shift;
        match item.kind {
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
                (text::intro(debate, start, questions as usize), None)
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
            PostKind::Closing => (text::closing(debate), None),
            PostKind::Transcript => {
                let link = self.occs.link(key).unwrap_or_default();
                (text::transcript(debate, link), None)
            }
        }
    }

    /// Hands claimed posts to the outbox; their results come back to the
    /// engine's loop, which confirms them.
    pub(super) fn dispatch(&mut self, ready: Vec<Ready>) {
        for r in ready {
            self.occs.set_in_flight(&r.key, r.post_key(), true);
            self.outbox.push(r);
        }
    }

    /// Records what became of one sent post. A temporary failure is known
    /// not to have reached the room, so the same claim is retried later.
    pub(super) async fn confirm(
        &mut self,
        ready: Ready,
        result: Result<String, ChatError>,
    ) -> anyhow::Result<()> {
        let now = self.clock.now();
        let schedule = self.schedule.borrow().clone();
        let k = ready.post_key();
        let Ready { key, room, row } = ready;
        self.occs.set_in_flight(&key, k.clone(), false);
        let debate = schedule.debate(&key.0);
        let debate_id = key.0.as_str();
        match result {
            Ok(network_id) => {
                let sent_at = self.clock.now();
                self.store.mark_sent(row.id, sent_at, &network_id).await?;
                self.done(&key, &k);
                if let Some(debate) = debate {
                    self.after_post(debate, &key, &room, &row, &network_id, sent_at);
                }
            }
            Err(ChatError::Temporary(e)) => {
                tracing::warn!(debate = %debate_id, room = %room, kind = row.kind.as_str(),
                    seq = row.seq, cause = %e, "sending failed; will retry");
                self.occs.schedule_retry(&key, row, now + RETRY_AFTER);
                self.replan = true;
            }
            Err(e @ ChatError::NoNetwork(_)) => {
                tracing::info!(debate = %debate_id, room = %room, kind = row.kind.as_str(),
                    "skipped: {e}");
                self.store.mark_status(row.id, PostStatus::Skipped).await?;
                self.done(&key, &k);
            }
            Err(ChatError::Permanent(e)) => {
                tracing::error!(debate = %debate_id, room = %room, kind = row.kind.as_str(),
                    cause = %e, "cannot post in this room; giving up on this post");
                self.store.mark_status(row.id, PostStatus::Failed).await?;
                self.done(&key, &k);
            }
        }
        Ok(())
    }

    /// The posts that failed temporarily and are due for a retry, ready to
    /// be sent again; those past the grace window are given up.
    pub(super) async fn due_retries(
        &mut self,
        schedule: &Schedule,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Ready>> {
        let mut ready = Vec::new();
        for (key, row) in self.occs.take_due_retries(now) {
            let (Some(debate), Ok(room)) = (schedule.debate(&key.0), row.room.parse::<Room>())
            else {
                continue;
            };
            if now - row.due_at > self.config.late_grace + self.config.late_grace {
                tracing::error!(debate = %debate.id, room = %row.room, kind = row.kind.as_str(),
                    "giving up on a post after retrying it for too long");
                self.store.mark_status(row.id, PostStatus::Failed).await?;
                self.done(&key, &(row.room.clone(), row.kind, row.seq));
                continue;
            }
            // A reminder held up until the debate has started has nothing
            // left to remind of.
            if row.kind == PostKind::Reminder && now >= key.1 + self.occs.live(&key).shift {
                tracing::info!(debate = %debate.id, room = %row.room,
                    "a reminder held up until the start is dropped");
                self.store.mark_status(row.id, PostStatus::Skipped).await?;
                self.done(&key, &(row.room.clone(), row.kind, row.seq));
                continue;
            }
            let row = self.mark_late(debate, row, now).await?;
            ready.push(Ready { key, room, row });
        }
        // Oldest first, so a room's retried posts keep their order.
        ready.sort_by_key(|r| (r.row.due_at, r.row.kind, r.row.seq));
        Ok(ready)
    }

    /// A post retried after its time (the network was down) says it is
    /// late, as one sent late after a restart does; a reminder says how
    /// long is left instead, so it is left as it is.
    async fn mark_late(
        &mut self,
        debate: &Debate,
        mut row: PostRow,
        now: DateTime<Utc>,
    ) -> anyhow::Result<PostRow> {
        if row.late || row.kind == PostKind::Reminder || now - row.due_at <= self.config.late_after
        {
            return Ok(row);
        }
        row.body.push_str(&text::late_note(row.due_at, debate));
        row.late = true;
        self.store.set_late_body(row.id, &row.body).await?;
        Ok(row)
    }

    /// The post needs nothing more; the plan may have changed.
    pub(super) fn done(&mut self, key: &OccKey, k: &PostKey) {
        self.occs.mark_done(key, k);
        self.replan = true;
    }

    /// Keeps the room's attribution state in step with the time line. A
    /// question only becomes "latest" when it was really posted
    /// (`network_id`); intro and closing count even when skipped.
    #[allow(clippy::too_many_arguments)]
    fn track(
        &mut self,
        debate: &Debate,
        key: &OccKey,
        occurrence_id: i64,
        room: &Room,
        kind: PostKind,
        seq: i64,
        network_id: Option<&str>,
        at: DateTime<Utc>,
    ) {
        let name = room.to_string();
        match kind {
            PostKind::Intro => {
                // Collection opens at the start, even if the intro went out
                // late or was skipped after a restart.
                let start = key.1 + self.occs.live(key).shift;
                let questions = scheduled_questions(debate);
                let active = ActiveRoom::new(key, occurrence_id, questions, start.min(at));
                self.rooms.open(name, active);
            }
            PostKind::Question => {
                let n = u32::try_from(seq).unwrap_or(0);
                self.rooms
                    .question(&name, key, n, network_id.map(|id| (id, at)));
                self.occs.note_question(key, n);
            }
            PostKind::Closing => {
                self.rooms.close(&name, key, at + self.config.collect_grace);
            }
            PostKind::Reminder | PostKind::Transcript => {}
        }
    }

    fn after_post(
        &mut self,
        debate: &Debate,
        key: &OccKey,
        room: &Room,
        row: &PostRow,
        network_id: &str,
        sent_at: DateTime<Utc>,
    ) {
        self.track(
            debate,
            key,
            row.occurrence_id,
            room,
            row.kind,
            row.seq,
            Some(network_id),
            sent_at,
        );
        let late_by = (sent_at - row.due_at).num_milliseconds();
        tracing::info!(debate = %debate.id, room = %room, kind = row.kind.as_str(), seq = row.seq,
            late = row.late, late_by_ms = late_by, "posted");
        let _ = self.notices.send(Notice::Posted {
            debate: debate.id.clone(),
            room: room.clone(),
            kind: row.kind,
            seq: row.seq,
            body: row.body.clone(),
            late: row.late,
        });
    }
}
