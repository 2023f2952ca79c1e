//! Incoming events: a message is a command or a reply; replies are
//! attributed and handed to the writer, edits and deletions find the reply
//! they change. Each event's cursor and acknowledgement travel with it to
//! the writer, so both wait until what it changed is committed.

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::occurrences::OccKey;
use super::rooms::PastSlot;
use super::{Engine, command, writer};
use crate::chat::{Chat, Event, Incoming, Receipt, Room, Sender};
use crate::store::{NewReply, WriteOp};

/// A chat message as the engine reads it.
struct Message {
    id: String,
    sender: Sender,
    body: String,
    in_reply_to: Option<String>,
    server_ts: Option<DateTime<Utc>>,
    /// `/me ...`: never a command.
    action: bool,
}

impl<C: Chat> Engine<C> {
    /// Handles one incoming event: commands now, replies via the writer.
    pub(super) async fn handle(&mut self, ev: Incoming, writer: &mpsc::Sender<writer::Job>) {
        let now = self.clock.now();
        let Incoming {
            room,
            event,
            cursor,
            ack,
        } = ev;
        let (op, receipt) = match event {
            Event::Message {
                id,
                sender,
                body,
                in_reply_to,
                server_ts,
                action,
            } => {
                let message = Message {
                    id,
                    sender,
                    body,
                    in_reply_to,
                    server_ts,
                    action,
                };
                self.on_message(&room, message, now).await
            }
            Event::Edit {
                target,
                sender: _,
                body,
                server_ts,
            } => self.on_edit(&room, target, body, server_ts.unwrap_or(now)),
            Event::Delete {
                target, server_ts, ..
            } => on_delete(&room, target, server_ts.unwrap_or(now)),
            Event::Checkpoint => (WriteOp::Nothing, Receipt::Updated),
        };
        let job = writer::Job {
            op,
            cursor,
            ack,
            receipt,
        };
        if writer.send(job).await.is_err() {
            tracing::error!("the reply writer has stopped; an event was not stored");
        }
    }

    async fn on_message(
        &mut self,
        room: &Room,
        message: Message,
        now: DateTime<Utc>,
    ) -> (WriteOp, Receipt) {
        match command::Command::parse(&message.body).filter(|_| !message.action) {
            Some(parsed) => {
                self.on_command(room, &message.sender, &message.id, parsed, now)
                    .await;
                (WriteOp::Nothing, Receipt::Command)
            }
            None => self.on_reply(room, message, now).await,
        }
    }

    /// A command is applied once, even when delivered again after a crash.
    async fn on_command(
        &mut self,
        room: &Room,
        sender: &Sender,
        id: &str,
        parsed: Result<command::Command, command::CommandError>,
        now: DateTime<Utc>,
    ) {
        let network = room.network().as_str();
        match self
            .store
            .claim_command(network, &room.to_string(), id, now)
            .await
        {
            Ok(true) => self.command(room, sender, id, parsed, now).await,
            Ok(false) => tracing::info!(room = %room, id = %id, "command already handled"),
            Err(e) => tracing::error!(cause = %e, "cannot record a command; ignoring it"),
        }
    }

    /// A reply, filed to the occurrence collecting in the room when it was
    /// sent: the live one, or a past one for a message delivered late.
    async fn on_reply(
        &mut self,
        room: &Room,
        m: Message,
        now: DateTime<Utc>,
    ) -> (WriteOp, Receipt) {
        let name = room.to_string();
        let at = m.server_ts.unwrap_or(now);
        let over = self.rooms.closed_before(&name, at);
        let slot = if self.rooms.live_covering(&name, at).is_some() {
            None
        } else {
            match self.past_room(room, at).await {
                Ok(Some(slot)) => Some(slot),
                Ok(None) => return not_collected(over),
                Err(e) => {
                    tracing::error!(cause = %e, room = %room,
                        "cannot look up the debate of a late message");
                    return not_collected(over);
                }
            }
        };
        let target = match &slot {
            None => self.rooms.live_covering(&name, at),
            Some(slot) => self.rooms.past_covering(slot, at),
        };
        let Some(active) = target else {
            return not_collected(over);
        };
        let latest = active.latest_at(at);
        let (question, by) =
            active
                .state
                .attribute_with_latest(&m.body, m.in_reply_to.as_deref(), latest);
        active.state.reply_questions.insert(m.id.clone(), question);
        let reply = NewReply {
            occurrence_id: active.occurrence_id,
            network: room.network().as_str().to_owned(),
            room: name,
            sender_id: m.sender.id,
            sender_name: m.sender.name,
            body: m.body,
            question,
            attributed_by: by,
            network_id: m.id,
            in_reply_to: m.in_reply_to,
            server_ts: m.server_ts,
            received_at: now,
            action: m.action,
        };
        (WriteOp::Insert(reply), Receipt::Saved { question, by })
    }

    /// An edit updates the stored reply; a valid answer tag in it moves the
    /// reply to that question.
    fn on_edit(
        &mut self,
        room: &Room,
        target: String,
        body: String,
        at: DateTime<Utc>,
    ) -> (WriteOp, Receipt) {
        let question = self.rooms.retag(&room.to_string(), &target, &body);
        let op = WriteOp::Edit {
            network: room.network().as_str().to_owned(),
            room: room.to_string(),
            target,
            body,
            question,
            at,
        };
        (op, Receipt::Updated)
    }

    /// The occurrence a message sent at `at` in `room` belongs to, when the
    /// room has no live state for it: messages re-delivered after Podium
    /// was down (a Matrix sync from the saved token) are collected too,
    /// even for a debate that ran entirely while it was down.
    async fn past_room(
        &mut self,
        room: &Room,
        at: DateTime<Utc>,
    ) -> anyhow::Result<Option<PastSlot>> {
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
        let slot: PastSlot = (room.to_string(), key.clone());
        if !self.rooms.has_past(&slot) {
            let debate = debate.clone();
            let id = self.occurrence_id(&key, &debate, at).await?;
            let posts = self.store.posts(id).await?;
            let mut active = self
                .rebuild_room(&key, id, &debate, &slot.0, &posts)
                .await?;
            if active.closes.is_none() {
                active.closes = Some(start + debate.duration + grace);
            }
            self.rooms.add_past(slot.clone(), active);
        }
        Ok(Some(slot))
    }
}

/// A deletion hides the stored reply from every transcript.
fn on_delete(room: &Room, target: String, at: DateTime<Utc>) -> (WriteOp, Receipt) {
    let op = WriteOp::Delete {
        network: room.network().as_str().to_owned(),
        room: room.to_string(),
        target,
        at,
    };
    (op, Receipt::Updated)
}

fn not_collected(over: bool) -> (WriteOp, Receipt) {
    let why = if over {
        "the debate is over"
    } else {
        "no debate is running in this room"
    };
    (WriteOp::Nothing, Receipt::Ignored(why))
}
