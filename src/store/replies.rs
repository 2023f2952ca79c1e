//! Replies: the answers collected in a room, written in batches.

use chrono::{DateTime, Utc};

use super::room_log::LogLine;
use super::{Result, Store};
use crate::domain::{AttributedBy, Cursor};

/// The head of the statement that stores new replies; each backend adds its
/// rows its own way (multi-row `VALUES` on SQLite, arrays on PostgreSQL).
/// A macro so that `concat!` can make each backend's whole statement a
/// `&'static str`.
macro_rules! insert_replies_head {
    () => {
        "INSERT INTO replies (occurrence_id, network, room, sender_id, sender_name, \
         original_body, body, question, attributed_by, network_id, in_reply_to, server_ts, \
         received_at, action, led)"
    };
}
pub(super) use insert_replies_head;

/// How a copy of an answer already stored is met: another replica's copy
/// stays (first wins), but the leader's corrects the question of one a
/// follower stored, unless its author has edited it since.
macro_rules! insert_replies_tail {
    () => {
        " ON CONFLICT (network, room, network_id) DO UPDATE SET question = excluded.question, \
         attributed_by = excluded.attributed_by, led = true \
         WHERE excluded.led AND NOT replies.led AND replies.edited_at IS NULL"
    };
}
pub(super) use insert_replies_tail;

/// A reply ready to be stored.
#[derive(Clone, Debug)]
pub struct NewReply {
    pub occurrence_id: i64,
    pub network: String,
    pub room: String,
    pub sender_id: String,
    pub sender_name: String,
    pub body: String,
    pub question: Option<u32>,
    pub attributed_by: AttributedBy,
    pub network_id: String,
    /// The network id of the message this one replies to.
    pub in_reply_to: Option<String>,
    pub server_ts: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    /// An action (`/me waves`), shown as one in transcripts.
    pub action: bool,
    /// Filed by the replica leading the debate (always, without
    /// replicas): its question wins over another replica's copy.
    pub led: bool,
}

/// One write in a batch.
#[derive(Clone, Debug)]
pub enum WriteOp {
    Insert(NewReply),
    /// A new body; `question` is `Some` when the edit carries a new answer
    /// tag. Applies only to a reply `sender` wrote (the Matrix rule for
    /// `m.replace`; the store is where every reply's author is known).
    Edit {
        network: String,
        room: String,
        target: String,
        sender: String,
        body: String,
        question: Option<u32>,
        at: DateTime<Utc>,
    },
    /// Removes a reply: only one `only_by` wrote, or anyone's when it is
    /// `None` (a moderator's deletion). The message may instead be a
    /// reaction that voted (the vote goes) or registered (so does the
    /// registration), or one that made a proposal not yet asked (it is
    /// withdrawn), under the same rule.
    Delete {
        network: String,
        room: String,
        target: String,
        only_by: Option<String>,
        at: DateTime<Utc>,
    },
    /// A 👍 reaction (network message `reaction`) by `voter` to the
    /// message that made a proposal (`target`, in `room`): a vote for it,
    /// unless the proposal is the voter's own or they voted for it already.
    Vote {
        network: String,
        room: String,
        target: String,
        voter: String,
        reaction: String,
        at: DateTime<Utc>,
    },
    /// A ✅ reaction (network message `reaction`) by `person` to one of
    /// Podium's reminders (`target`, in `room`): a registration for that
    /// occurrence.
    Rsvp {
        network: String,
        room: String,
        target: String,
        person: String,
        name: String,
        reaction: String,
        at: DateTime<Utc>,
    },
    /// A message that is not an answer, for the room's raw log.
    Log(LogLine),
    /// Nothing to write, but the event's cursor must still be saved in order.
    Nothing,
}

/// What attribution needs of a stored reply: its question and author.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredReply {
    pub network_id: String,
    pub sender_id: String,
    pub question: Option<u32>,
}

/// A reply as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplyRow {
    pub id: i64,
    pub network: String,
    pub room: String,
    pub sender_id: String,
    pub sender_name: String,
    pub body: String,
    pub question: Option<u32>,
    pub attributed_by: String,
    pub network_id: String,
    pub in_reply_to: Option<String>,
    pub server_ts: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub action: bool,
}

impl Store {
    /// Writes a batch of reply operations and, in the same transaction, the
    /// cursor that covers them. Returns how many rows each op touched.
    ///
    /// # Errors
    /// Database failures; then nothing of the batch is written.
    pub async fn write_batch(&self, ops: &[WriteOp], cursors: &[Cursor]) -> Result<Vec<u64>> {
        run!(self, replies::write_batch(ops, &self.replica, cursors))
    }

    /// Replies of an occurrence in the order they were received, deleted
    /// ones included (the caller decides whether to show them).
    ///
    /// # Errors
    /// Database failures.
    pub async fn replies(&self, occurrence_id: i64) -> Result<Vec<ReplyRow>> {
        run!(self, replies::replies(occurrence_id))
    }

    /// The question and author of each stored reply in `room`: replies to
    /// a reply join its question, and only its author may edit it.
    ///
    /// # Errors
    /// Database failures.
    pub async fn reply_questions(
        &self,
        occurrence_id: i64,
        room: &str,
    ) -> Result<Vec<StoredReply>> {
        run!(self, replies::reply_questions(occurrence_id, room))
    }
}
