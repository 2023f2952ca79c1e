//! Incoming events: a message is a command or a reply; replies are
//! attributed and handed to the writer, edits and deletions find the reply
//! they change. Each event's cursor and acknowledgement travel with it to
//! the writer, so both wait until what it changed is committed.
//!
//! Messages that are not answers (commands, chatter before the intro or
//! after the closing) are kept for the room's raw log when they fall in a
//! debate's window. Senders a debate held in the room ignores are not
//! collected, logged or answered.

use chrono::{DateTime, Duration, Utc};
use tokio::sync::mpsc;

use super::occurrences::OccKey;
use super::rooms::{ActiveRoom, PastSlot};
use super::timeline::MAX_EXTENDED;
use super::{Engine, START_AHEAD, command, scheduled_questions, writer};
use crate::chat::{AttributedBy, Chat, Event, Incoming, Network, Receipt, Room, Sender};
use crate::store::{LOG_BEFORE, LogLine, NewReply, Store, WriteOp};

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
            Event::Edit { sender, .. }
            | Event::Delete { sender, .. }
            | Event::Reaction { sender, .. }
                if self.ignores(&room, &sender) =>
            {
                (WriteOp::Nothing, Receipt::Ignored(IGNORED))
            }
            Event::Edit {
                target,
                sender,
                body,
                server_ts,
            } => self.on_edit(&room, target, &sender, body, server_ts.unwrap_or(now)),
            Event::Delete {
                target,
                sender,
                moderator,
                server_ts,
            } => self.on_delete(&room, target, &sender, moderator, server_ts.unwrap_or(now)),
            Event::Reaction {
                id,
                sender,
                target,
                key,
                server_ts,
            } => on_reaction(&room, id, &sender, target, &key, server_ts.unwrap_or(now)),
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

    /// A command is answered, and logged; anything else is an answer, or
    /// logged when it is not one. An ignored sender gets neither (nor an
    /// answer to a command: silence does not feed a troll).
    async fn on_message(
        &mut self,
        room: &Room,
        message: Message,
        now: DateTime<Utc>,
    ) -> (WriteOp, Receipt) {
        if self.ignores(room, &message.sender) {
            tracing::debug!(room = %room, sender = %message.sender.id, "an ignored sender");
            return (WriteOp::Nothing, Receipt::Ignored(IGNORED));
        }
        match command::Command::parse(&message.body).filter(|_| !message.action) {
            Some(parsed) => {
                // Kept out of the raw log: it would keep the name of the
                // person it just erased.
                let forget = matches!(parsed, Ok(command::Command::Forget { .. }));
                let receipt = self
                    .on_command(room, &message.sender, &message.id, parsed, now)
                    .await;
                let op = if forget {
                    WriteOp::Nothing
                } else {
                    self.log_line(room, message, now)
                };
                (op, receipt)
            }
            None => match self.collect(room, &message, now).await {
                Ok((reply, receipt)) => (WriteOp::Insert(reply), receipt),
                Err(why) => (self.log_line(room, message, now), Receipt::Ignored(why)),
            },
        }
    }

    /// A command is applied once, even when delivered again after a crash;
    /// the rate limits come first, before any database work.
    async fn on_command(
        &mut self,
        room: &Room,
        sender: &Sender,
        id: &str,
        parsed: Result<command::Command, command::CommandError>,
        now: DateTime<Utc>,
    ) -> Receipt {
        if !self.answers_in(room, now) {
            return Receipt::Ignored(ANOTHER_REPLICA);
        }
        if !self.admit(room, sender, id).await {
            return Receipt::Ignored("too many commands");
        }
        let network = room.network().as_str();
        match self
            .store
            .claim_command(network, &room.to_string(), id, now)
            .await
        {
            Ok(true) => self.command(room, sender, id, parsed, now).await,
            Ok(false) => tracing::info!(room = %room, id = %id, "command already handled"),
            Err(e) => {
                crate::metrics::store_error(crate::metrics::StoreJob::Commands);
                tracing::error!(cause = %e, "cannot record a command; ignoring it");
            }
        }
        Receipt::Command
    }

    /// Whether this process answers commands in `room`: without replicas
    /// always; with them, the replica leading the room's debate does. A
    /// room several debates share belongs, for this, to the one whose
    /// occurrence runs or comes next there (by the schedule alone, so every
    /// replica reaches the same answer).
    fn answers_in(&self, room: &Room, now: DateTime<Utc>) -> bool {
        let schedule = self.schedule();
        let grace = self.config.collect_grace;
        let owner = schedule
            .debates
            .iter()
            .filter(|d| d.rooms.contains(room))
            .min_by_key(|d| {
                let next = d
                    .occurrences()
                    .find(|o| {
                        let key = (d.id.clone(), o.starts_at);
                        o.ends_at + self.occs.extended(&key) + grace >= now
                    })
                    .map(|o| o.starts_at);
                (next.is_none(), next, d.id.clone())
            });
        match owner {
            Some(d) => self.lease(&d.id).leads(),
            None => self.leadership.borrow().replica().is_none(),
        }
    }

    /// A message filed as an answer to the occurrence collecting in the
    /// room when it was sent (the live one, or a past one for a message
    /// delivered late), or why it is not one. After the closing only clear
    /// answers count (a tag, a reply to a question or to an answer), and
    /// only until another debate posts in the room.
    async fn collect(
        &mut self,
        room: &Room,
        m: &Message,
        now: DateTime<Utc>,
    ) -> Result<(NewReply, Receipt), &'static str> {
        let name = room.to_string();
        let at = m.server_ts.unwrap_or(now);
        let why = if self.rooms.closed_before(&name, at) {
            OVER
        } else {
            NO_DEBATE
        };
        let slot = if self.rooms.live_covering(&name, at).is_some() {
            None
        } else {
            match self.past_room(room, at).await {
                Ok(Some(slot)) => Some(slot),
                Ok(None) => return Err(why),
                Err(e) => {
                    tracing::error!(cause = %e, room = %room,
                        "cannot look up the debate of a late message");
                    return Err(why);
                }
            }
        };
        let grace = self.config.collect_grace;
        let target = match &slot {
            None => self.rooms.live_covering(&name, at),
            Some(slot) => self.rooms.past_covering(slot, at),
        };
        let active = target.ok_or(why)?;
        let latest = active.latest_at(at);
        let (question, by) =
            active
                .state
                .attribute_with_latest(&m.body, m.in_reply_to.as_deref(), latest);
        if let Some(closed) = active.closes.map(|c| c - grace).filter(|c| at > *c) {
            after_closing(&self.store, &name, active.occurrence_id, (closed, at), by).await?;
        }
        active
            .state
            .remember(m.id.clone(), m.sender.id.clone(), question);
        let occurrence_id = active.occurrence_id;
        let led = {
            let debate = active.key.0.clone();
            self.lease(&debate).leads()
        };
        let reply = NewReply {
            occurrence_id,
            network: room.network().as_str().to_owned(),
            room: name,
            sender_id: m.sender.id.clone(),
            sender_name: m.sender.name.clone(),
            body: m.body.clone(),
            question,
            attributed_by: by,
            network_id: m.id.clone(),
            in_reply_to: m.in_reply_to.clone(),
            server_ts: m.server_ts,
            received_at: now,
            action: m.action,
            led,
        };
        Ok((reply, Receipt::Saved { question, by }))
    }

    /// A message that is not an answer, kept for the room's raw log when
    /// it falls in a debate's window there (see [`LOG_BEFORE`]).
    fn log_line(&self, room: &Room, m: Message, now: DateTime<Utc>) -> WriteOp {
        let at = m.server_ts.unwrap_or(now);
        if !self.in_log_window(room, at) {
            return WriteOp::Nothing;
        }
        WriteOp::Log(LogLine {
            network: room.network().as_str().to_owned(),
            room: room.to_string(),
            network_id: m.id,
            sender_id: m.sender.id,
            sender_name: m.sender.name,
            body: m.body,
            action: m.action,
            at,
        })
    }

    /// Whether `at` falls in the window of a debate held in `room`: from
    /// [`LOG_BEFORE`] before its start (as `!start` moved it) to the end
    /// of its collection.
    fn in_log_window(&self, room: &Room, at: DateTime<Utc>) -> bool {
        if self.rooms.live_covers(&room.to_string(), at) {
            return true;
        }
        let schedule = self.schedule();
        let grace = self.config.collect_grace;
        schedule
            .debates
            .iter()
            .filter(|d| d.rooms.contains(room))
            .any(|d| {
                let from = at - d.duration - grace - START_AHEAD - MAX_EXTENDED;
                let until = at + LOG_BEFORE + START_AHEAD;
                d.occurrences_between(from, until).any(|o| {
                    let key = (d.id.clone(), o.starts_at);
                    let shift = self.occs.shift(&key);
                    let ends = o.ends_at + shift + self.occs.extended(&key);
                    o.starts_at + shift - LOG_BEFORE <= at && at <= ends + grace
                })
            })
    }

    /// Whether a debate held in `room` ignores `sender` (its `ignore`
    /// list: Matrix user ids, `irc:` accounts or nicks).
    fn ignores(&self, room: &Room, sender: &Sender) -> bool {
        let irc = room.network() == Network::Irc;
        self.schedule()
            .debates
            .iter()
            .filter(|d| d.rooms.contains(room))
            .any(|d| d.ignores(&sender.id, &sender.name, irc))
    }

    /// An edit by the reply's author updates it; a valid answer tag in it
    /// moves the reply to that question. Anyone else's edit changes
    /// nothing (the Matrix spec requires an edit's sender to be the
    /// original's), its tag included.
    fn on_edit(
        &mut self,
        room: &Room,
        target: String,
        sender: &Sender,
        body: String,
        at: DateTime<Utc>,
    ) -> (WriteOp, Receipt) {
        let name = room.to_string();
        if !self.rooms.may_change(&name, &target, &sender.id) {
            tracing::debug!(room = %room, target = %target, sender = %sender.id,
                "an edit of someone else's message; ignored");
            return (WriteOp::Nothing, Receipt::Ignored(NOT_THE_AUTHOR));
        }
        let question = self.rooms.retag(&name, &target, &sender.id, &body);
        let op = WriteOp::Edit {
            network: room.network().as_str().to_owned(),
            room: name,
            target,
            sender: sender.id.clone(),
            body,
            question,
            at,
        };
        (op, Receipt::Updated)
    }

    /// A deletion by the reply's author, or by someone the network lets
    /// remove others' messages, hides the stored reply from every
    /// transcript; anyone else's changes nothing. The same rule, applied
    /// by the store, takes back the vote a deleted reaction cast and
    /// withdraws the proposal a deleted `!propose` made.
    fn on_delete(
        &mut self,
        room: &Room,
        target: String,
        sender: &Sender,
        moderator: bool,
        at: DateTime<Utc>,
    ) -> (WriteOp, Receipt) {
        let name = room.to_string();
        if !moderator && !self.rooms.may_change(&name, &target, &sender.id) {
            tracing::debug!(room = %room, target = %target, sender = %sender.id,
                "a deletion of someone else's message by a non-moderator; ignored");
            return (WriteOp::Nothing, Receipt::Ignored(NOT_THE_AUTHOR));
        }
        let op = WriteOp::Delete {
            network: room.network().as_str().to_owned(),
            room: name,
            target,
            only_by: (!moderator).then(|| sender.id.clone()),
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
        let schedule = self.schedule();
        let grace = self.config.collect_grace;
        let found = schedule
            .debates
            .iter()
            .filter(|d| d.rooms.contains(room))
            .filter_map(|d| {
                d.occurrences()
                    // One `!extend` may have kept going past its end:
                    // how long is known once it is found.
                    .find(|o| o.ends_at + grace + MAX_EXTENDED >= at)
                    .filter(|o| o.starts_at <= at)
                    .map(|o| (d, o.starts_at))
            })
            .max_by_key(|(_, start)| *start);
        let Some((debate, start)) = found else {
            return Ok(None);
        };
        let key: OccKey = (debate.id.clone(), start);
        let slot: PastSlot = (room.to_string(), key.clone());
        // A debate another replica leads is running here: its time line is
        // learnt from the store's posts, looked at again at most every
        // FOLLOW_EVERY (the leader's copy of an answer corrects the
        // question filed here, if it differs).
        let known = self.rooms.has_past(&slot);
        let follower = !self.lease(&debate.id).leads();
        if !known || (follower && self.rooms.past_older_than(&slot, FOLLOW_EVERY)) {
            let debate = debate.clone();
            let id = self.occurrence_id(&key, &debate, at).await?;
            let posts = self.store.posts(id).await?;
            let mut active = if known {
                // Only the time line moves: the answers filed here are
                // remembered already, so they are not read again (a flood
                // in the room must not mean a read of all its answers
                // twice a second).
                ActiveRoom::rebuild(
                    &key,
                    id,
                    scheduled_questions(&debate),
                    &slot.0,
                    &posts,
                    Vec::new(),
                    grace,
                )
            } else {
                self.rebuild_room(&key, id, &debate, &slot.0, &posts)
                    .await?
            };
            if active.closes.is_none() {
                let extended: Duration = self
                    .store
                    .extensions(id)
                    .await?
                    .into_iter()
                    .map(|(_, s)| Duration::seconds(s))
                    .sum();
                active.closes = Some(start + debate.duration + extended + grace);
            }
            self.rooms.add_past(slot.clone(), active);
        }
        Ok(Some(slot))
    }
}

/// A 👍 (any skin tone) on the message that made a proposal, or on
/// Podium's acknowledgement of it (the network gives the proposal's
/// message then), is a vote; a ✅ on one of Podium's reminders registers
/// for that debate (`!rsvp`); other reactions are not Podium's business.
/// Every replica stores it (once: a person has one vote per proposal).
fn on_reaction(
    room: &Room,
    id: String,
    sender: &Sender,
    target: String,
    key: &str,
    at: DateTime<Utc>,
) -> (WriteOp, Receipt) {
    if !sender.verified {
        return (WriteOp::Nothing, Receipt::Ignored(NOT_A_VOTE));
    }
    if is_check_mark(key) {
        let op = WriteOp::Rsvp {
            network: room.network().as_str().to_owned(),
            room: room.to_string(),
            target,
            person: sender.id.clone(),
            name: sender.name.clone(),
            reaction: id,
            at,
        };
        return (op, Receipt::Ignored(NOT_A_VOTE));
    }
    if !is_thumbs_up(key) {
        return (WriteOp::Nothing, Receipt::Ignored(NOT_A_VOTE));
    }
    let op = WriteOp::Vote {
        network: room.network().as_str().to_owned(),
        room: room.to_string(),
        target,
        voter: sender.id.clone(),
        reaction: id,
        at,
    };
    (op, Receipt::Ignored(NOT_A_VOTE))
}

/// ✅ (or ✔️, ☑️), as clients send them.
fn is_check_mark(key: &str) -> bool {
    matches!(
        key.trim_end_matches('\u{FE0F}'),
        "\u{2705}" | "\u{2714}" | "\u{2611}"
    )
}

/// 👍, with or without a skin tone or the emoji presentation selector, as
/// clients send it.
fn is_thumbs_up(key: &str) -> bool {
    key.strip_prefix('\u{1F44D}').is_some_and(|rest| {
        rest.chars()
            .all(|c| matches!(c, '\u{1F3FB}'..='\u{1F3FF}' | '\u{FE0F}'))
            && rest.chars().count() <= 1
    })
}

/// How stale a follower's view of a debate another replica leads may be.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Why an edit or deletion of someone else's message was ignored.
const NOT_THE_AUTHOR: &str = "only its author (or, to remove it, a moderator) may change a message";

/// Whether a message sent at `at`, after the closing at `closed` of
/// occurrence `occurrence_id` in room `name`, is still one of its answers:
/// only a clear one (a tag, a reply to a question or to an answer), and
/// only while no other debate has posted in the room since.
async fn after_closing(
    store: &Store,
    name: &str,
    occurrence_id: i64,
    (closed, at): (DateTime<Utc>, DateTime<Utc>),
    by: AttributedBy,
) -> Result<(), &'static str> {
    if !matches!(by, AttributedBy::Tag | AttributedBy::Reply) {
        return Err(OVER);
    }
    match store
        .posted_by_others(name, occurrence_id, closed, at)
        .await
    {
        Ok(None) => Ok(()),
        Ok(Some(_)) => Err(NEXT_BEGUN),
        // Losing an answer is worse than filing one a little late.
        Err(e) => {
            tracing::error!(cause = %e, room = %name,
                "cannot tell whether another debate has begun here; collecting");
            Ok(())
        }
    }
}

/// Why a message is not an answer.
const OVER: &str = "the debate is over";
const NO_DEBATE: &str = "no debate is running in this room";
const NEXT_BEGUN: &str = "another debate has begun in this room";
const IGNORED: &str = "the debate ignores this sender";
const NOT_A_VOTE: &str = "a reaction that is not a vote or a registration";
const ANOTHER_REPLICA: &str = "another replica answers commands in this room";

#[cfg(test)]
mod tests {
    use super::is_thumbs_up;

    #[test]
    fn check_marks_register() {
        for key in ["✅", "✔️", "✔", "☑️"] {
            assert!(super::is_check_mark(key), "{key}");
        }
        for key in ["", "👍", "✅✅", "x"] {
            assert!(!super::is_check_mark(key), "{key}");
        }
    }

    #[test]
    fn a_thumbs_up_of_any_skin_tone_is_a_vote() {
        for key in ["👍", "👍🏻", "👍🏿", "👍\u{FE0F}"] {
            assert!(is_thumbs_up(key), "{key}");
        }
        for key in ["", "👎", "+1", "👍👍", "👍🏻🏻", "x👍", "❤️"] {
            assert!(!is_thumbs_up(key), "{key}");
        }
    }
}
