//! The second half of posting: claimed posts go to the outbox, and what
//! becomes of each comes back here. A question counts as asked from the
//! moment it is handed to the network (an answer sent a moment later, by
//! the network's clock, is its answer, even before the network says it
//! took the question); a post is late if the network took it more than
//! `late_after` after its time, whether it waited in Podium's queue or in
//! the network's own; one sent early (`!skip`) is logged as early.

use chrono::{DateTime, Duration, Utc};

use super::occurrences::{OccKey, PostKey};
use super::outbox::Progress;
use super::posting::Ready;
use super::rooms::ActiveRoom;
use super::{Engine, Notice, RETRY_AFTER, scheduled_questions};
use crate::chat::{Chat, ChatError, Room};
use crate::domain::{PostKind, PostStatus};
use crate::metrics;
use crate::schedule::{Debate, Schedule};
use crate::store::PostRow;

impl<C: Chat> Engine<C> {
    /// Hands claimed posts to the outbox; their progress comes back to the
    /// engine's loop ([`Engine::progress`]).
    pub(super) fn dispatch(&mut self, ready: Vec<Ready>) {
        for r in ready {
            self.occs.set_in_flight(&r.key, r.post_key(), true);
            self.outbox.push(r);
        }
    }

    /// What the outbox reports.
    ///
    /// # Errors
    /// A post sent that cannot be recorded as sent.
    pub(super) async fn progress(&mut self, progress: Progress) -> anyhow::Result<()> {
        match progress {
            Progress::Handed { key, post, at } => {
                let (room, kind, seq) = post;
                if kind == PostKind::Question {
                    let n = u32::try_from(seq).unwrap_or(0);
                    self.rooms.handed(&room, &key, n, at);
                }
                Ok(())
            }
            Progress::Done(ready, result) => self.confirm(*ready, result).await,
            Progress::Withheld(ready) => {
                // The lease moved on (or the claim was settled elsewhere):
                // the debate's holder sends it. Nothing is retried here.
                tracing::info!(debate = %ready.key.0, room = %ready.room,
                    kind = ready.row.kind.as_str(), seq = ready.row.seq,
                    "a post was not sent: this replica no longer leads its debate");
                let k = ready.post_key();
                self.occs.set_in_flight(&ready.key, k.clone(), false);
                self.done(&ready.key, &k);
                Ok(())
            }
        }
    }

    /// Records what became of one sent post. A temporary failure is known
    /// not to have reached the room, so the same claim is retried later.
    async fn confirm(
        &mut self,
        mut ready: Ready,
        result: Result<String, ChatError>,
    ) -> anyhow::Result<()> {
        let now = self.clock.now();
        let k = ready.post_key();
        self.occs.set_in_flight(&ready.key, k.clone(), false);
        if result.is_err() && ready.row.kind == PostKind::Question {
            // Not asked after all; a retry is handed over anew.
            let n = u32::try_from(ready.row.seq).unwrap_or(0);
            self.rooms.withdraw(&k.0, &ready.key, n);
        }
        let debate_id = ready.key.0.clone();
        let (room, kind) = (ready.room.clone(), ready.row.kind.as_str());
        match result {
            Ok(network_id) => self.sent(ready, &network_id, now).await?,
            Err(ChatError::Temporary(e)) => {
                tracing::warn!(debate = %debate_id, room = %room, kind, seq = ready.row.seq,
                    cause = %e, "sending failed; will retry");
                metrics::post(room.network(), metrics::Outcome::Retried, None);
                if std::mem::take(&mut ready.changed) {
                    self.store
                        .set_late_body(ready.row.id, &ready.row.body)
                        .await?;
                }
                if self.lease(&debate_id) != crate::replicas::Lease::Solo {
                    // It certainly did not reach the room: whoever leads
                    // the debate when it is retried may send it.
                    self.store
                        .mark_status(ready.row.id, PostStatus::Queued)
                        .await?;
                }
                self.occs
                    .schedule_retry(&ready.key, ready.row, now + RETRY_AFTER);
                self.replan = true;
            }
            Err(e @ ChatError::NoNetwork(_)) => {
                tracing::info!(debate = %debate_id, room = %room, kind, "skipped: {e}");
                metrics::post(room.network(), metrics::Outcome::Skipped, None);
                self.store
                    .mark_status(ready.row.id, PostStatus::Skipped)
                    .await?;
                self.done(&ready.key, &k);
            }
            Err(ChatError::Permanent(e)) => {
                tracing::error!(debate = %debate_id, room = %room, kind, cause = %e,
                    "cannot post in this room; giving up on this post");
                metrics::post(room.network(), metrics::Outcome::Failed, None);
                self.store
                    .mark_status(ready.row.id, PostStatus::Failed)
                    .await?;
                self.done(&ready.key, &k);
            }
        }
        Ok(())
    }

    /// A post the network took: late if it took it more than `late_after`
    /// after its time (held up in the network's own queue, it has no note:
    /// its text had gone), recorded as sent, tracked, logged.
    async fn sent(
        &mut self,
        mut ready: Ready,
        network_id: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let accepted = ready.accepted_at.unwrap_or(now);
        let late_by = accepted - ready.row.due_at;
        if !ready.row.late && late_by > self.config.late_after {
            ready.row.late = true;
            ready.changed = true;
        }
        let outcome = if ready.row.late {
            metrics::Outcome::Late
        } else {
            metrics::Outcome::Sent
        };
        let seconds = late_by.num_milliseconds() as f64 / 1000.0;
        metrics::post(ready.room.network(), outcome, Some(seconds));
        if ready.changed {
            self.store
                .set_late_body(ready.row.id, &ready.row.body)
                .await?;
        }
        self.store
            .mark_sent(ready.row.id, accepted, network_id)
            .await?;
        self.done(&ready.key, &ready.post_key());
        let schedule = self.schedule();
        // A debate led elsewhere by now is followed from the store.
        if let Some(debate) = schedule.debate(&ready.key.0)
            && self.lease(&debate.id).leads()
        {
            self.after_post(debate, &ready, network_id, accepted);
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
                metrics::post(room.network(), metrics::Outcome::Failed, None);
                self.store.mark_status(row.id, PostStatus::Failed).await?;
                self.done(&key, &(row.room.clone(), row.kind, row.seq));
                continue;
            }
            // A reminder held up until the debate has started has nothing
            // left to remind of.
            if row.kind == PostKind::Reminder && now >= key.1 + self.occs.live(&key).shift {
                tracing::info!(debate = %debate.id, room = %row.room,
                    "a reminder held up until the start is dropped");
                metrics::post(room.network(), metrics::Outcome::Skipped, None);
                self.store.mark_status(row.id, PostStatus::Skipped).await?;
                self.done(&key, &(row.room.clone(), row.kind, row.seq));
                continue;
            }
            // So is a last call whose question or closing went out
            // meanwhile, or became due.
            if row.kind == PostKind::LastCall
                && (self.last_call_moot(&key, &room, row.seq)
                    || super::posting::last_call_passed(debate, row.due_at, now))
            {
                tracing::info!(debate = %debate.id, room = %row.room,
                    "a last call held up until what it announced is dropped");
                self.store.mark_status(row.id, PostStatus::Skipped).await?;
                self.done(&key, &(row.room.clone(), row.kind, row.seq));
                continue;
            }
            ready.push(self.ready(debate, &key, &room, row));
        }
        // Oldest first, so a room's retried posts keep their order.
        ready.sort_by_key(|r| (r.row.due_at, r.row.kind, r.row.seq));
        Ok(ready)
    }

    /// The post needs nothing more; the plan may have changed.
    pub(super) fn done(&mut self, key: &OccKey, k: &PostKey) {
        self.occs.mark_done(key, k);
        self.replan = true;
    }

    /// Keeps the room's attribution state in step with the time line. A
    /// question only becomes "latest" when it was really posted
    /// (`network_id`), from `at`; intro and closing count even when
    /// skipped.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn track(
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
            PostKind::Reminder | PostKind::LastCall | PostKind::Transcript => {}
        }
    }

    fn after_post(&mut self, debate: &Debate, ready: &Ready, network_id: &str, at: DateTime<Utc>) {
        let row = &ready.row;
        // A question is asked from the moment it was handed over.
        let since = match row.kind {
            PostKind::Question => ready.handed_at.unwrap_or(at),
            _ => at,
        };
        self.track(
            debate,
            &ready.key,
            row.occurrence_id,
            &ready.room,
            row.kind,
            row.seq,
            Some(network_id),
            since,
        );
        log_posted(&debate.id, &ready.room, row, at - row.due_at);
        let _ = self.notices.send(Notice::Posted {
            debate: debate.id.clone(),
            room: ready.room.clone(),
            kind: row.kind,
            seq: row.seq,
            body: row.body.clone(),
            late: row.late,
        });
    }
}

/// The `posted` line (a contract: `late` and `late_by_ms` on every one).
/// A post taken before its time (`!skip`, `!start`) is not negatively
/// late: `late_by_ms=0` and `early_by_ms` says how early.
fn log_posted(debate: &str, room: &Room, row: &PostRow, late_by: Duration) {
    let (kind, seq, late) = (row.kind.as_str(), row.seq, row.late);
    if late_by < Duration::zero() {
        let early_by_ms = (-late_by).num_milliseconds();
        tracing::info!(debate = %debate, room = %room, kind, seq, late, late_by_ms = 0,
            early_by_ms, "posted");
    } else {
        let late_by_ms = late_by.num_milliseconds();
        tracing::info!(debate = %debate, room = %room, kind, seq, late, late_by_ms, "posted");
    }
}
