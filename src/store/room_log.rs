//! A room's own history around its debates, for the raw log beside each
//! transcript: Podium's posts (`posts`), the answers (`replies`) and what
//! else people said there (`room_log`: commands, chatter before the intro
//! or after the closing). Lines of `room_log` are erased as answers are:
//! a removal empties the text and the name (the row stays, so a message
//! delivered again is not stored again); retention deletes them.

use chrono::{DateTime, Duration, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteConnection;

use super::codec::{parse_ts, ts};
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
        let mut c = self.conn().await?;
        let r = sqlx::query(
            "SELECT at, sender_id, sender_name, body, action, 0 AS podium, id FROM room_log \
             WHERE room = ?1 AND at BETWEEN ?2 AND ?3 AND deleted_at IS NULL \
             UNION ALL \
             SELECT coalesce(server_ts, received_at), sender_id, sender_name, body, 0, 0, id \
             FROM replies WHERE room = ?1 AND deleted_at IS NULL \
             AND coalesce(server_ts, received_at) BETWEEN ?2 AND ?3 \
             UNION ALL \
             SELECT sent_at, '', '', body, 0, 1, id FROM posts \
             WHERE room = ?1 AND status = 'sent' AND sent_at BETWEEN ?2 AND ?3 \
             ORDER BY 1, 6 DESC, 7",
        )
        .bind(room)
        .bind(ts(from))
        .bind(ts(until))
        .fetch_all(c.c())
        .await;
        let rows = c.check(r)?;
        rows.iter()
            .map(|r| {
                let podium = r.try_get::<i64, _>(5)? != 0;
                Ok(HistoryLine {
                    at: parse_ts(&r.try_get::<String, _>(0)?)?,
                    room: room.to_owned(),
                    author: (!podium)
                        .then(|| -> Result<(String, String)> { Ok((r.try_get(1)?, r.try_get(2)?)) })
                        .transpose()?,
                    body: r.try_get(3)?,
                    action: r.try_get::<i64, _>(4)? != 0,
                })
            })
            .collect()
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
        let mut c = self.conn().await?;
        let r = sqlx::query_scalar::<_, String>(
            "SELECT \
             (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || total(length(body)) || \
                     ':' || coalesce(max(edited_at), '') || ':' || coalesce(max(deleted_at), '') \
              FROM room_log \
              WHERE room = ?1 AND at BETWEEN ?2 AND ?3) || '|' || \
             (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || total(length(body)) || \
                     ':' || coalesce(max(edited_at), '') || ':' || coalesce(max(deleted_at), '') \
              FROM replies \
              WHERE room = ?1 AND coalesce(server_ts, received_at) BETWEEN ?2 AND ?3) || '|' || \
             (SELECT count(*) || ':' || coalesce(max(id), 0) FROM posts \
              WHERE room = ?1 AND status = 'sent' AND sent_at BETWEEN ?2 AND ?3)",
        )
        .bind(room)
        .bind(ts(from))
        .bind(ts(until))
        .fetch_one(c.c())
        .await;
        c.check(r)
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
        let mut c = self.conn().await?;
        let r = sqlx::query_scalar::<_, Option<String>>(
            "SELECT min(sent_at) FROM posts WHERE room = ? AND occurrence_id != ? \
             AND status = 'sent' AND sent_at > ? AND sent_at <= ?",
        )
        .bind(room)
        .bind(occurrence_id)
        .bind(ts(after))
        .bind(ts(until))
        .fetch_one(c.c())
        .await;
        c.check(r)?.map(|t| parse_ts(&t)).transpose()
    }
}

/// Stores a line (once: a message delivered again is not stored twice).
pub(super) async fn insert_line(conn: &mut SqliteConnection, l: &LogLine) -> Result<u64> {
    Ok(sqlx::query(
        "INSERT INTO room_log (network, room, network_id, sender_id, sender_name, body, action, \
         at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (network, room, network_id) DO NOTHING",
    )
    .bind(&l.network)
    .bind(&l.room)
    .bind(&l.network_id)
    .bind(&l.sender_id)
    .bind(&l.sender_name)
    .bind(&l.body)
    .bind(i64::from(l.action))
    .bind(ts(l.at))
    .execute(conn)
    .await?
    .rows_affected())
}

/// Message `target` of `room` as its author `sender` edited it.
pub(super) async fn edit_line(
    conn: &mut SqliteConnection,
    (network, room, target): (&str, &str, &str),
    sender: &str,
    body: &str,
    at: DateTime<Utc>,
) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE room_log SET body = ?1, edited_at = ?2 WHERE network = ?3 AND room = ?4 \
         AND network_id = ?5 AND sender_id = ?6 AND deleted_at IS NULL",
    )
    .bind(body)
    .bind(ts(at))
    .bind(network)
    .bind(room)
    .bind(target)
    .bind(sender)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Erases message `target` of `room`: only one `only_by` wrote, or
/// anyone's when `None` (a moderator's removal).
pub(super) async fn delete_line(
    conn: &mut SqliteConnection,
    (network, room, target): (&str, &str, &str),
    only_by: Option<&str>,
    at: DateTime<Utc>,
) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE room_log SET deleted_at = ?1, body = '', sender_name = '' \
         WHERE network = ?2 AND room = ?3 AND network_id = ?4 AND deleted_at IS NULL \
         AND (?5 IS NULL OR sender_id = ?5)",
    )
    .bind(ts(at))
    .bind(network)
    .bind(room)
    .bind(target)
    .bind(only_by)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Deletes the lines of debates that started before the retention
/// `cutoff`. A line said at `t` belongs to the debates whose window holds
/// it, the latest of which starts at most [`LOG_BEFORE`] after `t`: lines
/// from before `cutoff - LOG_BEFORE` belong only to such debates.
pub(super) async fn purge_lines(conn: &mut SqliteConnection, cutoff: DateTime<Utc>) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM room_log WHERE at < ?")
        .bind(ts(cutoff - LOG_BEFORE))
        .execute(conn)
        .await?
        .rows_affected())
}
