use chrono::{DateTime, Utc};
use sqlx::Connection as _;

use super::{Conn, after_erase, ts};
use crate::store::Result;
use crate::store::forget::Holdings;

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub async fn holdings(conn: &mut Conn, person: &str) -> Result<Holdings> {
    let (answers, lines, proposals, votes, zones, rsvps): (i64, i64, i64, i64, i64, i64) =
        sqlx::query_as(
            "SELECT \
         (SELECT count(*) FROM replies WHERE sender_id = $1 AND deleted_at IS NULL), \
         (SELECT count(*) FROM room_log WHERE sender_id = $1 AND deleted_at IS NULL), \
         (SELECT count(*) FROM proposals WHERE proposer_id = $1 AND withdrawn_at IS NULL), \
         (SELECT count(*) FROM votes WHERE voter_id = $1), \
         (SELECT count(*) FROM people WHERE person_id = $1), \
         (SELECT count(*) FROM rsvps WHERE person_id = $1)",
        )
        .bind(person)
        .fetch_one(conn)
        .await?;
    Ok(Holdings {
        answers: count(answers),
        lines: count(lines),
        proposals: count(proposals),
        votes: count(votes),
        zones: count(zones),
        rsvps: count(rsvps),
    })
}

pub async fn forget(conn: &mut Conn, person: &str, at: DateTime<Utc>) -> Result<Holdings> {
    let mut tx = conn.begin().await?;
    let answers = sqlx::query(
        "UPDATE replies SET deleted_at = $2, body = '', original_body = '', sender_name = '' \
         WHERE sender_id = $1 AND deleted_at IS NULL",
    )
    .bind(person)
    .bind(ts(at))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let lines = sqlx::query(
        "UPDATE room_log SET deleted_at = $2, body = '', sender_name = '' \
         WHERE sender_id = $1 AND deleted_at IS NULL",
    )
    .bind(person)
    .bind(ts(at))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // Others' votes for an open proposal go with it, as when it is
    // withdrawn by deleting its message.
    sqlx::query(
        "DELETE FROM votes WHERE proposal_id IN (SELECT id FROM proposals \
         WHERE proposer_id = $1 AND asked_as IS NULL AND withdrawn_at IS NULL)",
    )
    .bind(person)
    .execute(&mut *tx)
    .await?;
    let open = sqlx::query(
        "UPDATE proposals SET withdrawn_at = $2, text = '', proposer_name = '' \
         WHERE proposer_id = $1 AND asked_as IS NULL AND withdrawn_at IS NULL",
    )
    .bind(person)
    .bind(ts(at))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // An asked one was posted as a question by an organiser: it stays,
    // without who proposed it, in the store's copy of the question too
    // (what every transcript shows).
    sqlx::query(
        "UPDATE posts SET \
         question_text = replace(question_text, \
             (SELECT ' (proposed by ' || p.proposer_name || ')' FROM proposals p \
              WHERE p.occurrence_id = posts.occurrence_id AND p.asked_as = posts.seq \
              AND p.proposer_id = $1), ''), \
         body = replace(body, \
             (SELECT ' (proposed by ' || p.proposer_name || ')' FROM proposals p \
              WHERE p.occurrence_id = posts.occurrence_id AND p.asked_as = posts.seq \
              AND p.proposer_id = $1), '') \
         WHERE kind = 'question' AND EXISTS (SELECT 1 FROM proposals p \
             WHERE p.occurrence_id = posts.occurrence_id AND p.asked_as = posts.seq \
             AND p.proposer_id = $1)",
    )
    .bind(person)
    .execute(&mut *tx)
    .await?;
    let asked = sqlx::query(
        "UPDATE proposals SET proposer_id = '', proposer_name = '' \
         WHERE proposer_id = $1 AND asked_as IS NOT NULL",
    )
    .bind(person)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // Withdrawn ones (now, or earlier by deleting their message) keep no
    // trace of who made them either.
    sqlx::query("UPDATE proposals SET proposer_id = '', proposer_name = '' WHERE proposer_id = $1")
        .bind(person)
        .execute(&mut *tx)
        .await?;
    let votes = sqlx::query("DELETE FROM votes WHERE voter_id = $1")
        .bind(person)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let zones = sqlx::query("DELETE FROM people WHERE person_id = $1")
        .bind(person)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let rsvps = sqlx::query("DELETE FROM rsvps WHERE person_id = $1")
        .bind(person)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    after_erase(conn).await?;
    Ok(Holdings {
        answers,
        lines,
        proposals: open + asked,
        votes,
        zones,
        rsvps,
    })
}
