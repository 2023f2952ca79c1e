use chrono::{DateTime, Utc};
use sqlx::Row as _;

use super::{Conn, get_opt_ts, get_ts, pick, ts};
use crate::store::Result;
use crate::store::room_log::{HistoryLine, LOG_BEFORE, LogLine};

pub async fn room_history(
    conn: &mut Conn,
    room: &str,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<HistoryLine>> {
    let rows = sqlx::query(
        "SELECT at, sender_id, sender_name, body, action, false AS podium, id FROM room_log \
         WHERE room = $1 AND at BETWEEN $2 AND $3 AND deleted_at IS NULL \
         UNION ALL \
         SELECT coalesce(server_ts, received_at), sender_id, sender_name, body, false, false, id \
         FROM replies WHERE room = $1 AND deleted_at IS NULL \
         AND coalesce(server_ts, received_at) BETWEEN $2 AND $3 \
         UNION ALL \
         SELECT sent_at, '', '', body, false, true, id FROM posts \
         WHERE room = $1 AND status = 'sent' AND sent_at BETWEEN $2 AND $3 \
         ORDER BY 1, 6 DESC, 7",
    )
    .bind(room)
    .bind(ts(from))
    .bind(ts(until))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let podium: bool = r.try_get("podium")?;
            Ok(HistoryLine {
                at: get_ts(r, "at")?,
                room: room.to_owned(),
                author: (!podium)
                    .then(|| -> Result<(String, String)> {
                        Ok((r.try_get("sender_id")?, r.try_get("sender_name")?))
                    })
                    .transpose()?,
                body: r.try_get("body")?,
                action: r.try_get("action")?,
            })
        })
        .collect()
}

pub async fn room_history_summary(
    conn: &mut Conn,
    room: &str,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<String> {
    // Text built in SQL: times and sums are turned into text each
    // database's own way.
    let sql = pick(
        "SELECT \
         (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || total(length(body)) || \
                 ':' || coalesce(max(edited_at), '') || ':' || coalesce(max(deleted_at), '') \
          FROM room_log WHERE room = $1 AND at BETWEEN $2 AND $3) || '|' || \
         (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || total(length(body)) || \
                 ':' || coalesce(max(edited_at), '') || ':' || coalesce(max(deleted_at), '') \
          FROM replies \
          WHERE room = $1 AND coalesce(server_ts, received_at) BETWEEN $2 AND $3) || '|' || \
         (SELECT count(*) || ':' || coalesce(max(id), 0) FROM posts \
          WHERE room = $1 AND status = 'sent' AND sent_at BETWEEN $2 AND $3)",
        "SELECT \
         (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || \
                 coalesce(sum(length(body)), 0) || ':' || coalesce(max(edited_at)::text, '') || \
                 ':' || coalesce(max(deleted_at)::text, '') \
          FROM room_log WHERE room = $1 AND at BETWEEN $2 AND $3) || '|' || \
         (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || \
                 coalesce(sum(length(body)), 0) || ':' || coalesce(max(edited_at)::text, '') || \
                 ':' || coalesce(max(deleted_at)::text, '') \
          FROM replies \
          WHERE room = $1 AND coalesce(server_ts, received_at) BETWEEN $2 AND $3) || '|' || \
         (SELECT count(*) || ':' || coalesce(max(id), 0) FROM posts \
          WHERE room = $1 AND status = 'sent' AND sent_at BETWEEN $2 AND $3)",
    );
    Ok(sqlx::query_scalar::<_, String>(sql)
        .bind(room)
        .bind(ts(from))
        .bind(ts(until))
        .fetch_one(conn)
        .await?)
}

pub async fn posted_by_others(
    conn: &mut Conn,
    room: &str,
    occurrence_id: i64,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    let row = sqlx::query(
        "SELECT min(sent_at) AS first FROM posts WHERE room = $1 AND occurrence_id != $2 \
         AND status = 'sent' AND sent_at > $3 AND sent_at <= $4",
    )
    .bind(room)
    .bind(occurrence_id)
    .bind(ts(after))
    .bind(ts(until))
    .fetch_one(conn)
    .await?;
    get_opt_ts(&row, "first")
}

/// Stores a line (once: a message delivered again is not stored twice).
pub async fn insert_line(conn: &mut Conn, l: &LogLine) -> Result<u64> {
    Ok(sqlx::query(
        "INSERT INTO room_log (network, room, network_id, sender_id, sender_name, body, action, \
         at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (network, room, network_id) DO NOTHING",
    )
    .bind(&l.network)
    .bind(&l.room)
    .bind(&l.network_id)
    .bind(&l.sender_id)
    .bind(&l.sender_name)
    .bind(&l.body)
    .bind(l.action)
    .bind(ts(l.at))
    .execute(conn)
    .await?
    .rows_affected())
}

/// Message `target` of `room` as its author `sender` edited it.
pub async fn edit_line(
    conn: &mut Conn,
    (network, room, target): (&str, &str, &str),
    sender: &str,
    body: &str,
    at: DateTime<Utc>,
) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE room_log SET body = $1, edited_at = $2 WHERE network = $3 AND room = $4 \
         AND network_id = $5 AND sender_id = $6 AND deleted_at IS NULL",
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
pub async fn delete_line(
    conn: &mut Conn,
    (network, room, target): (&str, &str, &str),
    only_by: Option<&str>,
    at: DateTime<Utc>,
) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE room_log SET deleted_at = $1, body = '', sender_name = '' \
         WHERE network = $2 AND room = $3 AND network_id = $4 AND deleted_at IS NULL \
         AND ($5 IS NULL OR sender_id = $5)",
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
pub async fn purge_lines(conn: &mut Conn, cutoff: DateTime<Utc>) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM room_log WHERE at < $1")
        .bind(ts(cutoff - LOG_BEFORE))
        .execute(conn)
        .await?
        .rows_affected())
}
