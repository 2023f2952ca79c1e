//! A room's own history around its debates, for the raw log beside each
//! transcript: Podium's posts (`posts`), the answers (`replies`) and what
//! else people said there (`room_log`: commands, chatter before the intro
//! or after the closing). Lines of `room_log` are erased as answers are:
//! a removal empties the text and the name (the row stays, so a message
//! delivered again is not stored again); retention deletes them.

use chrono::{DateTime, Duration, Utc};

use super::{Result, Store};

/// How long before a debate's start the raw log begins: the greetings
/// before the intro belong to it.
pub const LOG_BEFORE: Duration = Duration::minutes(10);

/// Something said in a room that is not an answer, to keep for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub network: String,
    pub room: String,
    pub network_id: String,
    pub sender_id: String,
    pub sender_name: String,
    pub body: String,
    /// `/me waves`, Matrix's `m.emote`.
    pub action: bool,
    /// When it was said (the network's time where it gives one).
    pub at: DateTime<Utc>,
}

/// One line of a room's history, as the raw log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryLine {
    pub at: DateTime<Utc>,
    pub room: String,
    /// The sender's id and name; `None` for Podium's own posts.
    pub author: Option<(String, String)>,
    pub body: String,
    pub action: bool,
}

impl Store {
    /// Everything said in `room` from `from` to `until` (inclusive) that
    /// is still there: Podium's sent posts, answers and other messages not
    /// removed, in time order.
    ///
    /// # Errors
    /// Database failures.
    pub async fn room_history(
        &self,
        room: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<HistoryLine>> {
        run!(self, room_log::room_history(room, from, until))
    }

    /// What changes when anything [`Store::room_history`] shows for the
    /// same window changes: lines added, edited or removed, posts sent.
    ///
    /// # Errors
    /// Database failures.
    pub async fn room_history_summary(
        &self,
        room: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<String> {
        run!(self, room_log::room_history_summary(room, from, until))
    }

    /// When another occurrence than `occurrence_id` first posted in `room`
    /// after `after`, up to `until`: a debate's collection ends there.
    ///
    /// # Errors
    /// Database failures.
    pub async fn posted_by_others(
        &self,
        room: &str,
        occurrence_id: i64,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        run!(
            self,
            room_log::posted_by_others(room, occurrence_id, after, until)
        )
    }
}
