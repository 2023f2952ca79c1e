use chrono::{DateTime, Utc};
use sqlx::{Connection as _, Row as _};

use super::progress::save_cursors;
use super::room_log::{delete_line, edit_line, insert_line};
use super::{Conn, INSERT_ROWS, Row, after_erase, get_opt_ts, get_ts, insert_replies, ts};
use crate::domain::Cursor;
use crate::store::Result;
use crate::store::replies::{NewReply, ReplyRow, StoredReply, WriteOp};

fn question(r: &Row) -> Result<Option<u32>> {
    Ok(r.try_get::<Option<i64>, _>("question")?
        .and_then(|q| u32::try_from(q).ok()))
}

fn reply_row(r: &Row) -> Result<ReplyRow> {
    Ok(ReplyRow {
        id: r.try_get("id")?,
        network: r.try_get("network")?,
        room: r.try_get("room")?,
        sender_id: r.try_get("sender_id")?,
        sender_name: r.try_get("sender_name")?,
        body: r.try_get("body")?,
        question: question(r)?,
        attributed_by: r.try_get("attributed_by")?,
        network_id: r.try_get("network_id")?,
        in_reply_to: r.try_get("in_reply_to")?,
        server_ts: get_opt_ts(r, "server_ts")?,
        received_at: get_ts(r, "received_at")?,
        edited_at: get_opt_ts(r, "edited_at")?,
        deleted_at: get_opt_ts(r, "deleted_at")?,
        action: r.try_get("action")?,
    })
}

pub async fn replies(conn: &mut Conn, occurrence_id: i64) -> Result<Vec<ReplyRow>> {
    let rows = sqlx::query(
        "SELECT id, network, room, sender_id, sender_name, body, question, attributed_by, \
         network_id, in_reply_to, server_ts, received_at, edited_at, deleted_at, action \
         FROM replies WHERE occurrence_id = $1 ORDER BY received_at, id",
    )
    .bind(occurrence_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(reply_row).collect()
}

pub async fn reply_questions(
    conn: &mut Conn,
    occurrence_id: i64,
    room: &str,
) -> Result<Vec<StoredReply>> {
    let rows = sqlx::query(
        "SELECT network_id, sender_id, question FROM replies \
         WHERE occurrence_id = $1 AND room = $2",
    )
    .bind(occurrence_id)
    .bind(room)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StoredReply {
                network_id: r.try_get("network_id")?,
                sender_id: r.try_get("sender_id")?,
                question: question(r)?,
            })
        })
        .collect()
}

/// A batch of reply operations and, in the same transaction, the cursors
/// that cover them; how many rows each op touched.
pub async fn write_batch(
    conn: &mut Conn,
    ops: &[WriteOp],
    replica: &str,
    cursors: &[Cursor],
) -> Result<Vec<u64>> {
    let mut tx = conn.begin().await?;
    let mut touched = Vec::with_capacity(ops.len());
    let mut i = 0;
    while i < ops.len() {
        // Runs of new replies go in multi-row statements: far fewer
        // round trips than one statement per row.
        let run = ops[i..]
            .iter()
            .take(INSERT_ROWS)
            .take_while(|op| matches!(op, WriteOp::Insert(_)))
            .count();
        if run > 0 {
            // The same event twice in one statement would be an error for
            // its upsert (a row changed twice): the first copy is kept.
            let mut seen = std::collections::HashSet::new();
            let rows: Vec<&NewReply> = ops[i..i + run]
                .iter()
                .filter_map(|op| match op {
                    WriteOp::Insert(r) => Some(r),
                    _ => None,
                })
                .filter(|r| seen.insert((&r.network, &r.room, &r.network_id)))
                .collect();
            insert_replies(&mut tx, &rows).await?;
            touched.extend(std::iter::repeat_n(1, run));
            i += run;
            continue;
        }
        touched.push(write_one(&mut tx, &ops[i]).await?);
        i += 1;
    }
    save_cursors(&mut tx, replica, cursors).await?;
    tx.commit().await?;
    let erased = ops
        .iter()
        .zip(&touched)
        .any(|(op, n)| matches!(op, WriteOp::Delete { .. }) && *n > 0);
    if erased {
        after_erase(conn).await?;
    }
    Ok(touched)
}

/// One op that is not part of a run of inserts; returns the rows it
/// touched (an edit or removal applies to the answer or to the raw log's
/// line, whichever the message is).
async fn write_one(conn: &mut Conn, op: &WriteOp) -> Result<u64> {
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
                + unvote(conn, target, only_by.as_deref()).await?
                + unregister(conn, target, only_by.as_deref()).await?
                + withdraw(conn, key, only_by.as_deref(), *at).await?
        }
        WriteOp::Rsvp {
            network,
            room,
            target,
            person,
            name,
            reaction,
            at,
        } => register(conn, (network, room, target), (person, name), reaction, *at).await?,
        WriteOp::Vote {
            network,
            room,
            target,
            voter,
            reaction,
            at,
        } => vote(conn, (network, room, target), voter, reaction, *at).await?,
    };
    Ok(n)
}

/// A reaction's vote for the proposal made by message `target`: none for
/// one's own proposal, and one per person (a second 👍, or a `!vote`
/// before it, changes nothing).
async fn vote(
    conn: &mut Conn,
    (network, room, target): (&str, &str, &str),
    voter: &str,
    reaction: &str,
    at: DateTime<Utc>,
) -> Result<u64> {
    Ok(sqlx::query(
        "INSERT INTO votes (proposal_id, voter_id, at, network_id) \
         SELECT id, $4, $5, $6 FROM proposals \
         WHERE network = $1 AND room = $2 AND network_id = $3 AND proposer_id <> $4 \
         AND withdrawn_at IS NULL AND asked_as IS NULL \
         ON CONFLICT DO NOTHING",
    )
    .bind(network)
    .bind(room)
    .bind(target)
    .bind(voter)
    .bind(ts(at))
    .bind(reaction)
    .execute(conn)
    .await?
    .rows_affected())
}

/// A reaction's registration for the occurrence whose reminder `target`
/// is; one per person (a `!rsvp` before it, or a second ✅, changes
/// nothing).
async fn register(
    conn: &mut Conn,
    (network, room, target): (&str, &str, &str),
    (person, name): (&str, &str),
    reaction: &str,
    at: DateTime<Utc>,
) -> Result<u64> {
    Ok(sqlx::query(
        "INSERT INTO rsvps (occurrence_id, person_id, name, network, network_id, registered_at) \
         SELECT occurrence_id, $4, $5, $1, $6, $7 FROM posts \
         WHERE room = $2 AND network_id = $3 AND kind = 'reminder' \
         ON CONFLICT DO NOTHING",
    )
    .bind(network)
    .bind(room)
    .bind(target)
    .bind(person)
    .bind(name)
    .bind(reaction)
    .bind(ts(at))
    .execute(conn)
    .await?
    .rows_affected())
}

/// The registration reaction `reaction` made, taken back: only by its
/// author, or anyone's when `None` (a moderator removed the reaction).
async fn unregister(conn: &mut Conn, reaction: &str, only_by: Option<&str>) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM rsvps WHERE network_id = $1 AND ($2 IS NULL OR person_id = $2)")
            .bind(reaction)
            .bind(only_by)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

/// The vote reaction `reaction` cast, taken back: only by its voter, or
/// anyone's when `None` (a moderator removed the reaction).
async fn unvote(conn: &mut Conn, reaction: &str, only_by: Option<&str>) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM votes WHERE network_id = $1 AND ($2 IS NULL OR voter_id = $2)")
            .bind(reaction)
            .bind(only_by)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

/// The proposal message `target` made, withdrawn (its proposer deleted
/// it, or a moderator did when `only_by` is `None`), unless it was asked:
/// its text and name erased as a deleted answer's are, its votes gone.
async fn withdraw(
    conn: &mut Conn,
    (network, room, target): (&str, &str, &str),
    only_by: Option<&str>,
    at: DateTime<Utc>,
) -> Result<u64> {
    let gone: Vec<i64> = sqlx::query_scalar(
        "UPDATE proposals SET withdrawn_at = $1, text = '', proposer_name = '' \
         WHERE network = $2 AND room = $3 AND network_id = $4 AND asked_as IS NULL \
         AND withdrawn_at IS NULL AND ($5 IS NULL OR proposer_id = $5) RETURNING id",
    )
    .bind(ts(at))
    .bind(network)
    .bind(room)
    .bind(target)
    .bind(only_by)
    .fetch_all(&mut *conn)
    .await?;
    for id in &gone {
        sqlx::query("DELETE FROM votes WHERE proposal_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(gone.len() as u64)
}

/// Reply `target` as its author `sender` edited it; a `question` from a
/// new answer tag moves it.
async fn edit_reply(
    conn: &mut Conn,
    (network, room, target): (&str, &str, &str),
    sender: &str,
    body: &str,
    question: Option<u32>,
    at: DateTime<Utc>,
) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE replies SET body = $1, original_body = $1, edited_at = $2, \
         question = coalesce($3, question), \
         attributed_by = CASE WHEN $3 IS NULL THEN attributed_by ELSE 'tag' END \
         WHERE network = $4 AND room = $5 AND network_id = $6 AND sender_id = $7 \
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
    conn: &mut Conn,
    (network, room, target): (&str, &str, &str),
    only_by: Option<&str>,
    at: DateTime<Utc>,
) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE replies SET deleted_at = $1, body = '', original_body = '', sender_name = '' \
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
