//! Replies: the answers collected in a room, written in batches.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, Row};

use super::codec::{opt_ts, parse_ts, ts};
use super::progress::save_cursors;
use super::room_log::{LogLine, delete_line, edit_line, insert_line};
use super::{Result, Store};
use crate::domain::{AttributedBy, Cursor};

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
    /// `None` (a moderator's deletion).
    Delete {
        network: String,
        room: String,
        target: String,
        only_by: Option<String>,
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

fn reply_row(r: &sqlx::sqlite::SqliteRow) -> Result<ReplyRow> {
    Ok(ReplyRow {
        id: r.try_get("id")?,
        network: r.try_get("network")?,
        room: r.try_get("room")?,
        sender_id: r.try_get("sender_id")?,
        sender_name: r.try_get("sender_name")?,
        body: r.try_get("body")?,
        question: r
            .try_get::<Option<i64>, _>("question")?
            .and_then(|q| u32::try_from(q).ok()),
        attributed_by: r.try_get("attributed_by")?,
        network_id: r.try_get("network_id")?,
        in_reply_to: r.try_get("in_reply_to")?,
        server_ts: opt_ts(r.try_get("server_ts")?)?,
        received_at: parse_ts(&r.try_get::<String, _>("received_at")?)?,
        edited_at: opt_ts(r.try_get("edited_at")?)?,
        deleted_at: opt_ts(r.try_get("deleted_at")?)?,
        action: r.try_get::<i64, _>("action")? != 0,
    })
}

/// Rows per multi-row INSERT: 14 parameters each, well under SQLite's limit.
const INSERT_ROWS: usize = 64;

async fn insert_replies<'a>(
    conn: &mut SqliteConnection,
    rows: impl Iterator<Item = &'a NewReply>,
) -> Result<()> {
    let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
        "INSERT INTO replies (occurrence_id, network, room, sender_id, sender_name, \
         original_body, body, question, attributed_by, network_id, in_reply_to, server_ts, \
         received_at, action) ",
    );
    q.push_values(rows, |mut b, r| {
        b.push_bind(r.occurrence_id)
            .push_bind(r.network.as_str())
            .push_bind(r.room.as_str())
            .push_bind(r.sender_id.as_str())
            .push_bind(r.sender_name.as_str())
            .push_bind(r.body.as_str())
            .push_bind(r.body.as_str())
            .push_bind(r.question.map(i64::from))
            .push_bind(r.attributed_by.as_str())
            .push_bind(r.network_id.as_str())
            .push_bind(r.in_reply_to.as_deref())
            .push_bind(r.server_ts.map(ts))
            .push_bind(ts(r.received_at))
            .push_bind(i64::from(r.action));
    });
    q.push(" ON CONFLICT (network, room, network_id) DO NOTHING");
    q.build().execute(conn).await?;
    Ok(())
}

impl Store {
    /// Writes a batch of reply operations and, in the same transaction, the
    /// cursor that covers them. Returns how many rows each op touched.
    ///
    /// # Errors
    /// Database failures; then nothing of the batch is written.
    pub async fn write_batch(&self, ops: &[WriteOp], cursors: &[Cursor]) -> Result<Vec<u64>> {
        let mut c = self.conn().await?;
        let r = write_batch_in(c.c(), ops, cursors).await;
        c.check(r)
    }

    /// Replies of an occurrence in the order they were received, deleted
    /// ones included (the caller decides whether to show them).
    ///
    /// # Errors
    /// Database failures.
    pub async fn replies(&self, occurrence_id: i64) -> Result<Vec<ReplyRow>> {
        let mut c = self.conn().await?;
        let r = sqlx::query(
            "SELECT id, network, room, sender_id, sender_name, body, question, attributed_by, \
             network_id, in_reply_to, server_ts, received_at, edited_at, deleted_at, action \
             FROM replies \
             WHERE occurrence_id = ? ORDER BY received_at, id",
        )
        .bind(occurrence_id)
        .fetch_all(c.c())
        .await;
        let rows = c.check(r)?;
        rows.iter().map(reply_row).collect()
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
        let mut c = self.conn().await?;
        let r = sqlx::query(
            "SELECT network_id, sender_id, question FROM replies \
             WHERE occurrence_id = ? AND room = ?",
        )
        .bind(occurrence_id)
        .bind(room)
        .fetch_all(c.c())
        .await;
        let rows = c.check(r)?;
        rows.iter()
            .map(|r| {
                Ok(StoredReply {
                    network_id: r.try_get("network_id")?,
                    sender_id: r.try_get("sender_id")?,
                    question: r
                        .try_get::<Option<i64>, _>("question")?
                        .and_then(|q| u32::try_from(q).ok()),
                })
            })
            .collect()
    }
}

async fn write_batch_in(
    conn: &mut SqliteConnection,
    ops: &[WriteOp],
    cursors: &[Cursor],
) -> Result<Vec<u64>> {
    let mut tx = conn.begin().await?;
    let mut touched = Vec::with_capacity(ops.len());
    let mut i = 0;
    while i < ops.len() {
        // Runs of new replies go in multi-row statements: far fewer
        // round trips to SQLite's thread than one statement per row.
        let run = ops[i..]
            .iter()
            .take(INSERT_ROWS)
            .take_while(|op| matches!(op, WriteOp::Insert(_)))
            .count();
        if run > 0 {
            insert_replies(
                &mut tx,
                ops[i..i + run].iter().filter_map(|op| match op {
                    WriteOp::Insert(r) => Some(r),
                    _ => None,
                }),
            )
            .await?;
            touched.extend(std::iter::repeat_n(1, run));
            i += run;
            continue;
        }
        touched.push(write_one(&mut tx, &ops[i]).await?);
        i += 1;
    }
    save_cursors(&mut tx, cursors).await?;
    tx.commit().await?;
    let erased = ops
        .iter()
        .zip(&touched)
        .any(|(op, n)| matches!(op, WriteOp::Delete { .. }) && *n > 0);
    if erased {
        super::erase::checkpoint(conn).await?;
    }
    Ok(touched)
}

/// One op that is not part of a run of inserts; returns the rows it
/// touched (an edit or removal applies to the answer or to the raw log's
/// line, whichever the message is).
async fn write_one(conn: &mut SqliteConnection, op: &WriteOp) -> Result<u64> {
    let n = match op {
        WriteOp::Insert(_) | WriteOp::Nothing => 0,
        WriteOp::Log(line) => insert_line(conn, line).await?,
        WriteOp::Edit {
            network,
            room,
            target,
            sender,
            body,
            question,
            at,
        } => {
            let key = (network.as_str(), room.as_str(), target.as_str());
            edit_reply(conn, key, sender, body, *question, *at).await?
                + edit_line(conn, key, sender, body, *at).await?
        }
        WriteOp::Delete {
            network,
            room,
            target,
            only_by,
            at,
        } => {
            let key = (network.as_str(), room.as_str(), target.as_str());
            delete_reply(conn, key, only_by.as_deref(), *at).await?
                + delete_line(conn, key, only_by.as_deref(), *at).await?
        }
    };
    Ok(n)
}

/// Reply `target` as its author `sender` edited it; a `question` from a
/// new answer tag moves it.
async fn edit_reply(
    conn: &mut SqliteConnection,
    (network, room, target): (&str, &str, &str),
    sender: &str,
    body: &str,
    question: Option<u32>,
    at: DateTime<Utc>,
) -> Result<u64> {
    Ok(sqlx::query(
        // Numbered parameters throughout: sqlx numbers a bare `?` on its
        // own count, whatever `?N` came before it.
        "UPDATE replies SET body = ?1, original_body = ?1, edited_at = ?2, \
             question = coalesce(?3, question), \
             attributed_by = CASE WHEN ?3 IS NULL THEN attributed_by ELSE 'tag' END \
             WHERE network = ?4 AND room = ?5 AND network_id = ?6 AND sender_id = ?7 \
             AND deleted_at IS NULL",
    )
    .bind(body)
    .bind(ts(at))
    .bind(question.map(i64::from))
    .bind(network)
    .bind(room)
    .bind(target)
    .bind(sender)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Erases reply `target`: only one `only_by` wrote, or anyone's when
/// `None` (a moderator's removal). What a transcript needs to know is that
/// there was a reply and it was removed: the text and the name go.
async fn delete_reply(
    conn: &mut SqliteConnection,
    (network, room, target): (&str, &str, &str),
    only_by: Option<&str>,
    at: DateTime<Utc>,
) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE replies SET deleted_at = ?1, body = '', original_body = '', sender_name = '' \
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
