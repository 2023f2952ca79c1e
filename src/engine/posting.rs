//! Posting: claiming each item in the store, sending it, retrying what
//! failed, and keeping rooms' attribution state in step with what was posted.

use chrono::{DateTime, Duration, Utc};

use super::timeline::Item;
use super::{Engine, Notice, OccKey, RETRY_AFTER, text};
use crate::chat::{Chat, ChatError, Outgoing, Room};
use crate::schedule::{Debate, Schedule};
use crate::store::{NewPost, PostKind, PostRow, PostStatus};

impl<C: Chat> Engine<C> {
    pub(super) fn transcript_url(&self, debate: &Debate, start: DateTime<Utc>) -> String {
        format!(
            "{}/transcripts/{}/{}",
            self.config.public_url.trim_end_matches('/'),
            debate.id,
            start.with_timezone(&debate.timezone).format("%Y-%m-%d")
        )
    }

    pub(super) fn body(
        &self,
        debate: &Debate,
        key: &OccKey,
        item: &Item,
        extra: Option<&str>,
    ) -> (String, Option<String>) {
        match item.kind {
            PostKind::Reminder => (
                text::reminder(debate, key.1, Duration::seconds(item.seq)),
                None,
            ),
            PostKind::Intro => {
                let extra = self.occs.get(key).map_or(0, |o| o.extra_questions);
                (
                    text::intro(debate, debate.questions.len().max(extra as usize)),
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
            PostKind::Closing => (text::closing(debate), None),
            PostKind::Transcript => (
                text::transcript(debate, &self.transcript_url(debate, key.1)),
                None,
            ),
        }
    }

    /// Posts one item in one room unless it is done. Returns when to retry
    /// after a temporary failure.
    pub(super) async fn post_item(
        &mut self,
        debate: &Debate,
        key: &OccKey,
        room: &Room,
        item: &Item,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<DateTime<Utc>>> {
        self.post_item_with(debate, key, room, item, now, None)
            .await
    }

    pub(super) async fn post_item_with(
        &mut self,
        debate: &Debate,
        key: &OccKey,
        room: &Room,
        item: &Item,
        now: DateTime<Utc>,
        extra_text: Option<&str>,
    ) -> anyhow::Result<Option<DateTime<Utc>>> {
        let room_name = room.to_string();
        let k = (room_name.clone(), item.kind, item.seq);
        self.load(key, debate, now).await?;
        let state = self.occs.entry(key.clone()).or_default();
        if state.done.contains(&k) {
            return Ok(None);
        }
        if let Some((_, at)) = state.retries.get(&k) {
            // Retried by `retry_failed`, which also covers extra questions.
            return Ok(Some(*at));
        }
        let live = state.live;
        let stale = state.stale_claims.remove(&k);
        let occurrence_id = self.occurrence_id(key, debate, now).await?;

        let lateness = now - item.due;
        let actual_start = key.1 + live.shift;
        let too_late = lateness > self.config.late_grace
            || (item.kind == PostKind::Reminder && now >= actual_start);
        let late = lateness > self.config.late_after;

        if let Some(row) = stale {
            // Claimed before a crash: it may or may not have reached the room.
            if too_late || !self.chat.deduplicates(room) {
                tracing::warn!(debate = %debate.id, room = %room, kind = row.kind.as_str(), seq = row.seq,
                    "a post was interrupted by a restart and cannot be safely sent again \
                     (too late, or the network cannot deduplicate); leaving it");
                self.store.mark_status(row.id, PostStatus::Unknown).await?;
                self.mark_done(key, &k);
                return Ok(None);
            }
            return self
                .send_row(debate, key, occurrence_id, room, row, now)
                .await;
        }

        let (mut body, question) = self.body(debate, key, item, extra_text);
        if late && !too_late {
            body.push_str(&text::late_note(item.due, debate));
        }
        // A skipped item is recorded too, so it is logged once and never
        // posted by a later run.
        let (row, inserted) = self
            .store
            .claim_post(&NewPost {
                occurrence_id,
                room: &room_name,
                kind: item.kind,
                seq: item.seq,
                body: &body,
                question_text: question.as_deref(),
                due_at: item.due,
                late,
                status: if too_late {
                    PostStatus::Skipped
                } else {
                    PostStatus::Sending
                },
            })
            .await?;
        if !inserted || row.status != PostStatus::Sending {
            self.mark_done(key, &k);
            if inserted {
                tracing::warn!(debate = %debate.id, room = %room, kind = item.kind.as_str(),
                    seq = item.seq, due = %item.due, late_by = %lateness,
                    "skipped a post that fell due while Podium was not running \
                     (outside the grace window)");
                // The debate still runs even if its intro or closing was
                // missed: replies must be collected all the same, over the
                // times the skipped items stood for.
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
            return Ok(None);
        }
        self.send_row(debate, key, occurrence_id, room, row, now)
            .await
    }

    /// Sends a claimed post. A temporary failure is known not to have
    /// reached the room, so the same claim is retried later on any network.
    pub(super) async fn send_row(
        &mut self,
        debate: &Debate,
        key: &OccKey,
        occurrence_id: i64,
        room: &Room,
        row: PostRow,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<DateTime<Utc>>> {
        let k = (row.room.clone(), row.kind, row.seq);
        let send_key = format!("podium-{}", row.id);
        let sent = self
            .chat
            .send(
                room,
                Outgoing {
                    key: &send_key,
                    body: &row.body,
                },
            )
            .await;
        match sent {
            Ok(network_id) => {
                let sent_at = self.clock.now();
                self.store.mark_sent(row.id, sent_at, &network_id).await?;
                self.mark_done(key, &k);
                self.after_post(debate, key, occurrence_id, room, &row, &network_id, sent_at);
                Ok(None)
            }
            Err(ChatError::Temporary(e)) => {
                let retry = now + RETRY_AFTER;
                tracing::warn!(debate = %debate.id, room = %room, kind = row.kind.as_str(),
                    cause = %e, "sending failed; will retry");
                let state = self.occs.entry(key.clone()).or_default();
                state.retries.insert(k, (row, retry));
                Ok(Some(retry))
            }
            Err(ChatError::Permanent(e)) => {
                tracing::error!(debate = %debate.id, room = %room, kind = row.kind.as_str(),
                    cause = %e, "cannot post in this room; giving up on this post");
                self.store.mark_status(row.id, PostStatus::Failed).await?;
                self.mark_done(key, &k);
                Ok(None)
            }
        }
    }

    /// Sends again the posts that failed temporarily and are due for a
    /// retry, giving up on those past the grace window. Returns the next
    /// retry time.
    pub(super) async fn retry_failed(
        &mut self,
        schedule: &Schedule,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<DateTime<Utc>>> {
        let due: Vec<(OccKey, PostRow)> = self
            .occs
            .iter()
            .flat_map(|(key, o)| {
                o.retries
                    .values()
                    .filter(|(_, at)| *at <= now)
                    .map(move |(row, _)| (key.clone(), row.clone()))
            })
            .collect();
        for (key, row) in due {
            let k = (row.room.clone(), row.kind, row.seq);
            if let Some(o) = self.occs.get_mut(&key) {
                o.retries.remove(&k);
            }
            let (Some(debate), Ok(room)) = (schedule.debate(&key.0), row.room.parse::<Room>())
            else {
                continue;
            };
            if now - row.due_at > self.config.late_grace + self.config.late_grace {
                tracing::error!(debate = %debate.id, room = %row.room, kind = row.kind.as_str(),
                    "giving up on a post after retrying it for too long");
                self.store.mark_status(row.id, PostStatus::Failed).await?;
                self.mark_done(&key, &k);
                continue;
            }
            let debate = debate.clone();
            self.send_row(&debate, &key, row.occurrence_id, &room, row, now)
                .await?;
        }
        Ok(self
            .occs
            .values()
            .flat_map(|o| o.retries.values().map(|(_, at)| *at))
            .min())
    }

    pub(super) fn mark_done(&mut self, key: &OccKey, k: &(String, PostKind, i64)) {
        let state = self.occs.entry(key.clone()).or_default();
        state.retries.remove(k);
        state.done.insert(k.clone());
        self.replan = true;
    }

    /// Keeps the room's attribution state in step with the timeline. A
    /// question only becomes "latest" when it was really posted
    /// (`network_id`); intro and closing count even when skipped.
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
                let start = key.1
                    + self
                        .occs
                        .get(key)
                        .map_or(Duration::zero(), |o| o.live.shift);
                let active = self.new_active(key, occurrence_id, debate, start.min(at));
                self.open_room(name, active);
            }
            PostKind::Question => {
                let n = u32::try_from(seq).unwrap_or(0);
                if let Some(active) = self.rooms.get_mut(&name).filter(|a| a.key == *key) {
                    active.state.questions = active.state.questions.max(n);
                    if let Some(id) = network_id {
                        active.state.question_ids.insert(id.to_owned(), n);
                        active.state.latest = Some(n);
                        active.posted.push((at, n));
                    }
                }
                let state = self.occs.entry(key.clone()).or_default();
                state.extra_questions = state.extra_questions.max(n);
            }
            PostKind::Closing => {
                if let Some(active) = self.rooms.get_mut(&name).filter(|a| a.key == *key) {
                    active.closes = Some(at + self.config.collect_grace);
                }
            }
            PostKind::Reminder | PostKind::Transcript => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn after_post(
        &mut self,
        debate: &Debate,
        key: &OccKey,
        occurrence_id: i64,
        room: &Room,
        row: &PostRow,
        network_id: &str,
        sent_at: DateTime<Utc>,
    ) {
        self.track(
            debate,
            key,
            occurrence_id,
            room,
            row.kind,
            row.seq,
            Some(network_id),
            sent_at,
        );
        tracing::info!(debate = %debate.id, room = %room, kind = row.kind.as_str(), seq = row.seq,
            late = row.late, "posted");
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
