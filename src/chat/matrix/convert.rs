//! Matrix timeline events as the engine reads them: people's messages (with
//! the reply or thread they belong to), edits, redactions and reactions
//! (votes). The bot's own events and other bots' notices are not Podium's
//! business, except which command each of its answers replies to: a
//! reaction to an answer is a reaction to what it answers.

use chrono::{DateTime, Utc};
use matrix_sdk::deserialized_responses::{TimelineEvent, TimelineEventKind};
use matrix_sdk::ruma::events::reaction::SyncReactionEvent;
use matrix_sdk::ruma::events::room::message::{
    MessageType, Relation, RoomMessageEventContentWithoutRelation, SyncRoomMessageEvent,
};
use matrix_sdk::ruma::events::room::redaction::SyncRoomRedactionEvent;
use matrix_sdk::ruma::events::{AnySyncMessageLikeEvent, AnySyncTimelineEvent};
use matrix_sdk::ruma::{MilliSecondsSinceUnixEpoch, UserId};

use crate::chat::{Event, Sender};

/// What a timeline event is to Podium.
#[derive(Debug)]
pub enum Converted {
    Event(Event),
    /// Encrypted, and its key has not arrived (yet).
    Undecryptable,
    /// The bot's own message `id`, answering message `reply_to`.
    Answered {
        id: String,
        reply_to: String,
    },
    /// Not Podium's business (state, notices, its own posts).
    Ignored,
}

/// Reads one timeline event; `me` is the bot.
pub fn convert(event: &TimelineEvent, me: &UserId) -> Converted {
    if matches!(event.kind, TimelineEventKind::UnableToDecrypt { .. }) {
        return Converted::Undecryptable;
    }
    match event.raw().deserialize() {
        Ok(any) => convert_any(any, me),
        Err(e) => {
            tracing::debug!(cause = %e, "a timeline event that does not parse; ignored");
            Converted::Ignored
        }
    }
}

fn convert_any(event: AnySyncTimelineEvent, me: &UserId) -> Converted {
    let AnySyncTimelineEvent::MessageLike(event) = event else {
        return Converted::Ignored;
    };
    match event {
        AnySyncMessageLikeEvent::RoomMessage(SyncRoomMessageEvent::Original(m)) => {
            if m.sender == me {
                return match m.content.relates_to.as_ref().and_then(replied_to) {
                    Some(reply_to) => Converted::Answered {
                        id: m.event_id.to_string(),
                        reply_to,
                    },
                    None => Converted::Ignored,
                };
            }
            let server_ts = Some(time(m.origin_server_ts));
            let Some(body) = text_of(&m.content.msgtype) else {
                return Converted::Ignored;
            };
            let sender = sender(&m.sender);
            let event = match m.content.relates_to {
                Some(Relation::Replacement(r)) => match text_of(&r.new_content.msgtype) {
                    Some(body) => Event::Edit {
                        target: r.event_id.to_string(),
                        sender,
                        body,
                        server_ts,
                    },
                    None => return Converted::Ignored,
                },
                relation => Event::Message {
                    id: m.event_id.to_string(),
                    sender,
                    body: strip_reply_fallback(&body).to_owned(),
                    in_reply_to: relation.and_then(|r| replied_to(&r)),
                    server_ts,
                    action: matches!(m.content.msgtype, MessageType::Emote(_)),
                },
            };
            Converted::Event(event)
        }
        AnySyncMessageLikeEvent::RoomRedaction(SyncRoomRedactionEvent::Original(r)) => {
            let target = r.redacts.or(r.content.redacts);
            match target {
                Some(target) => Converted::Event(Event::Delete {
                    target: target.to_string(),
                    sender: sender(&r.sender),
                    moderator: false,
                    server_ts: Some(time(r.origin_server_ts)),
                }),
                None => Converted::Ignored,
            }
        }
        AnySyncMessageLikeEvent::Reaction(SyncReactionEvent::Original(r)) if r.sender != me => {
            Converted::Event(Event::Reaction {
                id: r.event_id.to_string(),
                sender: sender(&r.sender),
                target: r.content.relates_to.event_id.to_string(),
                key: r.content.relates_to.key,
                server_ts: Some(time(r.origin_server_ts)),
            })
        }
        _ => Converted::Ignored,
    }
}

/// A Matrix user as a sender: the user id is vouched for by the
/// homeserver; the name shown is the localpart until the room's member
/// list gives a display name.
fn sender(user: &UserId) -> Sender {
    Sender {
        id: user.to_string(),
        name: user.localpart().to_owned(),
        verified: true,
    }
}

/// The text people wrote. Notices are what bots send (Podium among them),
/// so they are not answers; files and images have no text to collect.
fn text_of(msgtype: &MessageType) -> Option<String> {
    match msgtype {
        MessageType::Text(t) => Some(t.body.clone()),
        MessageType::Emote(e) => Some(e.body.clone()),
        _ => None,
    }
}

/// The message a reply answers, or the root of a thread (or, in a thread,
/// the message it genuinely replies to).
fn replied_to(relation: &Relation<RoomMessageEventContentWithoutRelation>) -> Option<String> {
    match relation {
        Relation::Reply(r) => Some(r.in_reply_to.event_id.to_string()),
        Relation::Thread(t) => Some(
            t.in_reply_to
                .as_ref()
                .filter(|_| !t.is_falling_back)
                .map_or(&t.event_id, |r| &r.event_id)
                .to_string(),
        ),
        _ => None,
    }
}

/// Older clients quote the message replied to at the top of a reply
/// (`> <@bob:x> ...` lines and a blank line); that is not the answer.
fn strip_reply_fallback(body: &str) -> &str {
    if !body.starts_with("> ") {
        return body;
    }
    let mut rest = body;
    while let Some(line_end) = rest.find('\n') {
        if !rest.starts_with('>') {
            break;
        }
        rest = &rest[line_end + 1..];
    }
    if rest.starts_with('>') {
        return body;
    }
    rest.strip_prefix('\n').unwrap_or(rest)
}

fn time(ts: MilliSecondsSinceUnixEpoch) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(i64::from(ts.get())).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use matrix_sdk::ruma::serde::Raw;
    use matrix_sdk::ruma::user_id;

    fn event(json: serde_json::Value) -> TimelineEvent {
        TimelineEvent::from_plaintext(Raw::new(&json).unwrap().cast_unchecked())
    }

    fn message(content: serde_json::Value, sender: &str) -> TimelineEvent {
        event(serde_json::json!({
            "type": "m.room.message",
            "event_id": "$e1",
            "sender": sender,
            "origin_server_ts": 1_320_177_600_000u64,
            "content": content,
        }))
    }

    fn me() -> &'static UserId {
        user_id!("@podium:localhost")
    }

    #[test]
    fn messages_replies_threads_edits_and_redactions() {
        let plain = message(
            serde_json::json!({"msgtype": "m.text", "body": "A1: listening"}),
            "@alice:localhost",
        );
        let Converted::Event(Event::Message {
            id,
            sender,
            body,
            in_reply_to,
            server_ts,
            action,
        }) = convert(&plain, me())
        else {
            panic!("a message")
        };
        assert_eq!(
            (id.as_str(), sender.id.as_str(), body.as_str()),
            ("$e1", "@alice:localhost", "A1: listening")
        );
        assert_eq!(in_reply_to, None);
        assert!(!action);
        assert_eq!(server_ts.unwrap().to_rfc3339(), "2011-11-01T20:00:00+00:00");

        let reply = message(
            serde_json::json!({"msgtype": "m.text",
                "body": "> <@podium:localhost> Q1: What?\n\nagreed",
                "m.relates_to": {"m.in_reply_to": {"event_id": "$q1"}}}),
            "@bob:localhost",
        );
        let Converted::Event(Event::Message {
            body, in_reply_to, ..
        }) = convert(&reply, me())
        else {
            panic!("a reply")
        };
        assert_eq!(
            (body.as_str(), in_reply_to.as_deref()),
            ("agreed", Some("$q1"))
        );

        let thread = message(
            serde_json::json!({"msgtype": "m.text", "body": "in the thread",
                "m.relates_to": {"rel_type": "m.thread", "event_id": "$q2",
                    "is_falling_back": true, "m.in_reply_to": {"event_id": "$other"}}}),
            "@bob:localhost",
        );
        let Converted::Event(Event::Message { in_reply_to, .. }) = convert(&thread, me()) else {
            panic!("a thread message")
        };
        assert_eq!(in_reply_to.as_deref(), Some("$q2"));

        let edit = message(
            serde_json::json!({"msgtype": "m.text", "body": "* A2: changed",
                "m.new_content": {"msgtype": "m.text", "body": "A2: changed"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": "$e0"}}),
            "@bob:localhost",
        );
        assert!(matches!(
            convert(&edit, me()),
            Converted::Event(Event::Edit { ref target, ref body, .. })
                if target == "$e0" && body == "A2: changed"
        ));

        let redaction = event(serde_json::json!({
            "type": "m.room.redaction", "event_id": "$r", "sender": "@bob:localhost",
            "origin_server_ts": 1u64, "redacts": "$e0", "content": {"redacts": "$e0"}}));
        assert!(matches!(
            convert(&redaction, me()),
            Converted::Event(Event::Delete { ref target, .. }) if target == "$e0"
        ));
    }

    #[test]
    fn its_own_posts_and_other_bots_notices_are_ignored() {
        let own = message(
            serde_json::json!({"msgtype": "m.text", "body": "!help"}),
            "@podium:localhost",
        );
        assert!(matches!(convert(&own, me()), Converted::Ignored));
        let notice = message(
            serde_json::json!({"msgtype": "m.notice", "body": "Q1: from another bot"}),
            "@otherbot:localhost",
        );
        assert!(matches!(convert(&notice, me()), Converted::Ignored));
    }

    #[test]
    fn reactions_are_read_and_its_own_answers_say_what_they_answer() {
        let reaction = event(serde_json::json!({
            "type": "m.reaction", "event_id": "$like", "sender": "@bob:localhost",
            "origin_server_ts": 1u64,
            "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$ack",
                "key": "👍"}}}));
        let Converted::Event(Event::Reaction {
            id,
            sender,
            target,
            key,
            ..
        }) = convert(&reaction, me())
        else {
            panic!("a reaction")
        };
        assert_eq!(
            (
                id.as_str(),
                sender.id.as_str(),
                target.as_str(),
                key.as_str()
            ),
            ("$like", "@bob:localhost", "$ack", "👍")
        );
        let own_reaction = event(serde_json::json!({
            "type": "m.reaction", "event_id": "$mine", "sender": "@podium:localhost",
            "origin_server_ts": 1u64,
            "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$x",
                "key": "👍"}}}));
        assert!(matches!(convert(&own_reaction, me()), Converted::Ignored));
        let answer = message(
            serde_json::json!({"msgtype": "m.notice", "body": "Proposed as P1",
                "m.relates_to": {"m.in_reply_to": {"event_id": "$cmd"}}}),
            "@podium:localhost",
        );
        assert!(matches!(
            convert(&answer, me()),
            Converted::Answered { ref id, ref reply_to } if id == "$e1" && reply_to == "$cmd"
        ));
    }
}
