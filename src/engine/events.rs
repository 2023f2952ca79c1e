//! Incoming events: replies attributed and handed to the writer, edits and
//! deletions, commands; and the per-room state they are filed against,
//! rebuilt from the store after a restart or for late deliveries.

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::attribution::RoomState;
use super::{ActiveRoom, Engine, OccKey, command, writer};
use crate::chat::{Chat, Event, Incoming, Receipt, Room};
use crate::schedule::Debate;
use crate::store::{NewReply, PostKind, PostRow, PostStatus, WriteOp};

impl<C: Chat> Engine<C> {
    /// Rebuilds attribution state for rooms where the occurrence was
    /// collecting replies when Podium stopped.
    pub(super) async fn restore_rooms(
        &mut self,
        key: &OccKey,
        occurrence_id: i64,
        debate: &Debate,
        posts: &[PostRow],
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        for room in &debate.rooms {
            let name = room.to_string();
            if !posts
                .iter()
                .any(|p| p.room == name && p.kind == PostKind::Intro)
            {
                continue;
            }
            let active = self
                .rebuild_room(key, occurrence_id, debate, room, posts)
                .await?;
            if active.closes.is_none_or(|c| c >= now) {
                self.open_room(name, active);
            }
        }
        Ok(())
    }

    /// A room's attribution state rebuilt from what the store holds.
    pub(super) async fn rebuild_room(
        &self,
        key: &OccKey,
        occurrence_id: i64,
        debate: &Debate,
        room: &Room,
        posts: &[PostRow],
    ) -> anyhow::Result<ActiveRoom> {
        let name = room.to_string();
        let opens = posts
            .iter()
            .find(|p| p.room == name && p.kind == PostKind::Intro)
            .map_or(key.1, |p| p.sent_at.unwrap_or(p.due_at).min(p.due_at));
        let mut active = self.new_active(key, occurrence_id, debate, opens);
        active.closes = posts
            .iter()
            .find(|p| p.room == name && p.kind == PostKind::Closing)
            .map(|p| p.sent_at.unwrap_or(p.due_at) + self.config.collect_grace);
        for p in posts.iter().filter(|p| {
            p.room == name && p.kind == PostKind::Question && p.status == PostStatus::Sent
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
        for (id, q) in self.store.reply_questions(occurrence_id, &name).await? {
            active.state.reply_questions.insert(id, q);
        }
        Ok(active)
    }

    /// The occurrence a message sent at `at` in `room` belongs to, when the
    /// room has no live state for it: messages re-delivered after Podium
    /// was down (a Matrix sync from the saved token) are collected too,
    /// even for a debate that ran entirely while it was down.
    pub(super) async fn past_room(
        &mut self,
        room: &Room,
        at: DateTime<Utc>,
    ) -> anyhow::Result<Option<(String, OccKey)>> {
        let schedule = self.schedule.borrow().clone();
        let grace = self.config.collect_grace;
        let found = schedule
            .debates
            .iter()
            .filter(|d| d.rooms.contains(room))
            .filter_map(|d| {
                d.occurrences()
                    .find(|o| o.ends_at + grace >= at)
                    .filter(|o| o.starts_at <= at)
                    .map(|o| (d, o.starts_at))
            })
            .max_by_key(|(_, start)| *start);
        let Some((debate, start)) = found else {
            return Ok(None);
        };
        let key: OccKey = (debate.id.clone(), start);
        let slot = (room.to_string(), key.clone());
        if !self.past.contains_key(&slot) {
            let debate = debate.clone();
            let id = self.occurrence_id(&key, &debate, at).await?;
            let posts = self.store.posts(id).await?;
            let mut active = self.rebuild_room(&key, id, &debate, room, &posts).await?;
            if active.closes.is_none() {
                active.closes = Some(start + debate.duration + grace);
            }
            self.past.insert(slot.clone(), active);
        }
        Ok(Some(slot))
    }

    pub(super) fn new_active(
        &self,
        key: &OccKey,
        occurrence_id: i64,
        debate: &Debate,
        opens: DateTime<Utc>,
    ) -> ActiveRoom {
        ActiveRoom {
            opens,
            occurrence_id,
            key: key.clone(),
            state: RoomState {
                questions: u32::try_from(debate.questions.len()).unwrap_or(u32::MAX),
                ..RoomState::default()
            },
            posted: Vec::new(),
            closes: None,
        }
    }

    /// Handles one incoming event: commands now, replies via the writer.
    pub(super) async fn handle(&mut self, ev: Incoming, writer: &mpsc::Sender<writer::Job>) {
        let now = self.clock.now();
        let room_name = ev.room.to_string();
        let network = ev.room.network().as_str().to_owned();
        let (op, receipt) = match ev.event {
            Event::Message {
                id,
                sender,
                body,
                in_reply_to,
                server_ts,
            } => {
                if let Some(parsed) = command::Command::parse(&body) {
                    match self
                        .store
                        .claim_command(&network, &room_name, &id, now)
                        .await
                    {
                        Ok(true) => self.command(&ev.room, &sender, &id, parsed, now).await,
                        Ok(false) => {
                            tracing::info!(room = %ev.room, id = %id, "command already handled");
                        }
                        Err(e) => {
                            tracing::error!(cause = %e, "cannot record a command; ignoring it")
                        }
                    }
                    (WriteOp::Nothing, Receipt::Command)
                } else {
                    let at = server_ts.unwrap_or(now);
                    let live = self.rooms.get(&room_name);
                    let over = live.is_some_and(|a| a.closes.is_some_and(|c| at > c));
                    let target = if live.is_some_and(|a| a.covers(at)) {
                        self.rooms.get_mut(&room_name)
                    } else {
                        match self.past_room(&ev.room, at).await {
                            Ok(Some(slot)) => self.past.get_mut(&slot).filter(|a| a.covers(at)),
                            Ok(None) => None,
                            Err(e) => {
                                tracing::error!(cause = %e, room = %ev.room,
                                    "cannot look up the debate of a late message");
                                None
                            }
                        }
                    };
                    match target {
                        Some(active) => {
                            let latest = active.latest_at(at);
                            let (question, by) = active.state.attribute_with_latest(
                                &body,
                                in_reply_to.as_deref(),
                                latest,
                            );
                            active.state.reply_questions.insert(id.clone(), question);
                            (
                                WriteOp::Insert(NewReply {
                                    occurrence_id: active.occurrence_id,
                                    network: network.clone(),
                                    room: room_name.clone(),
                                    sender_id: sender.id,
                                    sender_name: sender.name,
                                    body,
                                    question,
                                    attributed_by: by,
                                    network_id: id,
                                    server_ts,
                                    received_at: now,
                                }),
                                Receipt::Saved { question, by },
                            )
                        }
                        None if over => (WriteOp::Nothing, Receipt::Ignored("the debate is over")),
                        None => (
                            WriteOp::Nothing,
                            Receipt::Ignored("no debate is running in this room"),
                        ),
                    }
                }
            }
            Event::Edit {
                target,
                body,
                server_ts,
            } => {
                let question = self.rooms.get_mut(&room_name).and_then(|a| {
                    let q = a.state.retag(&body);
                    if let Some(q) = q {
                        a.state.reply_questions.insert(target.clone(), Some(q));
                    }
                    q
                });
                (
                    WriteOp::Edit {
                        network: network.clone(),
                        room: room_name.clone(),
                        target,
                        body,
                        question,
                        at: server_ts.unwrap_or(now),
                    },
                    Receipt::Updated,
                )
            }
            Event::Delete { target, server_ts } => (
                WriteOp::Delete {
                    network: network.clone(),
                    room: room_name.clone(),
                    target,
                    at: server_ts.unwrap_or(now),
                },
                Receipt::Updated,
            ),
        };
        let job = writer::Job {
            op,
            cursor: ev.cursor,
            ack: ev.ack,
            receipt,
        };
        if writer.send(job).await.is_err() {
            tracing::error!("the reply writer has stopped; an event was not stored");
        }
    }
}
