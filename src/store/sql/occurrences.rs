use chrono::{DateTime, Duration, Utc};
use sqlx::{Connection as _, Row as _};

use super::{Conn, Row, after_erase, get_opt_ts, get_ts, pick, ts};
use crate::store::occurrences::{NewOccurrence, OccurrenceRow, json_list};
use crate::store::{Result, StoreError};

fn occurrence_row(r: &Row) -> Result<OccurrenceRow> {
    let json = |column| json_list(column, r.try_get::<Option<String>, _>(column)?);
    Ok(OccurrenceRow {
        id: r.try_get("id")?,
        debate: r.try_get("debate")?,
        scheduled_start: get_ts(r, "scheduled_start")?,
        title: r.try_get("title")?,
        timezone: r.try_get("timezone")?,
        shift_seconds: r.try_get("shift_seconds")?,
        ended_at: get_opt_ts(r, "ended_at")?,
        rehearsal: r.try_get("rehearsal")?,
        clock_real_base: get_opt_ts(r, "clock_real_base")?,
        clock_speed: r.try_get("clock_speed")?,
        questions: json("questions")?,
        zones: json("zones")?,
        public: r.try_get("public")?,
        token: r.try_get::<Option<String>, _>("token")?.unwrap_or_default(),
        purged_at: get_opt_ts(r, "purged_at")?,
        duration: r
            .try_get::<Option<i64>, _>("duration_seconds")?
            .map(Duration::seconds),
        collect_grace: r
            .try_get::<Option<i64>, _>("collect_grace_seconds")?
            .map(Duration::seconds),
    })
}

/// The columns of [`OccurrenceRow`], for every query that reads one.
macro_rules! occ_cols {
    () => {
        "id, debate, scheduled_start, title, timezone, shift_seconds, ended_at, rehearsal, \
         clock_real_base, clock_speed, questions, zones, public, token, purged_at, \
         duration_seconds, collect_grace_seconds"
    };
}

pub async fn occurrence(
    conn: &mut Conn,
    new: &NewOccurrence<'_>,
    questions: &str,
    zones: &str,
    token: &str,
) -> Result<OccurrenceRow> {
    sqlx::query(
        "INSERT INTO occurrences (debate, scheduled_start, title, timezone, rehearsal, \
         clock_real_base, clock_speed, created_at, questions, zones, public, token, \
         duration_seconds, collect_grace_seconds) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (debate, scheduled_start) DO NOTHING",
    )
    .bind(new.debate)
    .bind(ts(new.scheduled_start))
    .bind(new.title)
    .bind(new.timezone)
    .bind(new.rehearsal_clock.is_some())
    .bind(new.rehearsal_clock.map(|(b, _)| ts(b)))
    .bind(new.rehearsal_clock.map(|(_, s)| s))
    .bind(ts(new.now))
    .bind(questions)
    .bind(zones)
    .bind(new.public)
    .bind(token)
    .bind(new.duration.num_seconds())
    .bind(new.collect_grace.num_seconds())
    .execute(&mut *conn)
    .await?;
    find_occurrence(conn, new.debate, new.scheduled_start)
        .await?
        .ok_or_else(|| StoreError::Corrupt("occurrence vanished after insert".into()))
}

pub async fn find_occurrence(
    conn: &mut Conn,
    debate: &str,
    scheduled_start: DateTime<Utc>,
) -> Result<Option<OccurrenceRow>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        occ_cols!(),
        " FROM occurrences WHERE debate = $1 AND scheduled_start = $2"
    ))
    .bind(debate)
    .bind(ts(scheduled_start))
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(occurrence_row).transpose()
}

pub async fn occurrences_of(conn: &mut Conn, debate: &str) -> Result<Vec<OccurrenceRow>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        occ_cols!(),
        " FROM occurrences WHERE debate = $1 ORDER BY scheduled_start DESC"
    ))
    .bind(debate)
    .fetch_all(conn)
    .await?;
    rows.iter().map(occurrence_row).collect()
}

pub async fn latest_rehearsal(conn: &mut Conn, debate: &str) -> Result<Option<OccurrenceRow>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        occ_cols!(),
        " FROM occurrences WHERE debate = $1 AND rehearsal ",
        "ORDER BY scheduled_start DESC LIMIT 1"
    ))
    .bind(debate)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(occurrence_row).transpose()
}

pub async fn set_shift(conn: &mut Conn, occurrence_id: i64, seconds: i64) -> Result<()> {
    sqlx::query("UPDATE occurrences SET shift_seconds = $1 WHERE id = $2")
        .bind(seconds)
        .bind(occurrence_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_ended(conn: &mut Conn, occurrence_id: i64, at: DateTime<Utc>) -> Result<()> {
    sqlx::query("UPDATE occurrences SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
        .bind(ts(at))
        .bind(occurrence_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records an extension and lengthens the occurrence by it, together.
pub async fn add_extension(
    conn: &mut Conn,
    occurrence_id: i64,
    at: DateTime<Utc>,
    seconds: i64,
) -> Result<()> {
    let mut tx = conn.begin().await?;
    sqlx::query("INSERT INTO extensions (occurrence_id, at, seconds) VALUES ($1, $2, $3)")
        .bind(occurrence_id)
        .bind(ts(at))
        .bind(seconds)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE occurrences SET duration_seconds = duration_seconds + $1 \
         WHERE id = $2 AND duration_seconds IS NOT NULL",
    )
    .bind(seconds)
    .bind(occurrence_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// An occurrence's extensions, oldest first: (said at, seconds).
pub async fn extensions(conn: &mut Conn, occurrence_id: i64) -> Result<Vec<(DateTime<Utc>, i64)>> {
    let rows =
        sqlx::query("SELECT at, seconds FROM extensions WHERE occurrence_id = $1 ORDER BY at")
            .bind(occurrence_id)
            .fetch_all(conn)
            .await?;
    rows.iter()
        .map(|r| Ok((get_ts(r, "at")?, r.try_get::<i64, _>("seconds")?)))
        .collect()
}

pub async fn public_occurrences(
    conn: &mut Conn,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<OccurrenceRow>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        occ_cols!(),
        " FROM occurrences WHERE public AND NOT rehearsal AND scheduled_start <= $1 ",
        "ORDER BY scheduled_start DESC LIMIT $2"
    ))
    .bind(ts(now))
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    rows.iter().map(occurrence_row).collect()
}

pub async fn fingerprint(conn: &mut Conn, occurrence_id: i64) -> Result<String> {
    // Text built in SQL: times and lists are turned into text each
    // database's own way.
    let sql = pick(
        "SELECT \
         (SELECT coalesce(ended_at, '') || '|' || coalesce(purged_at, '') || '|' || \
                 shift_seconds || '|' || coalesce(duration_seconds, 0) \
          FROM occurrences WHERE id = $1) || '|' || \
         (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || \
                 coalesce(max(sent_at), '') || ':' || coalesce(group_concat(status, ''), '') || \
                 ':' || coalesce(sum(length(coalesce(question_text, ''))), 0) \
          FROM posts WHERE occurrence_id = $1) || '|' || \
         (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || \
                 coalesce(max(edited_at), '') || ':' || coalesce(max(deleted_at), '') || ':' || \
                 count(deleted_at) \
          FROM replies WHERE occurrence_id = $1) || '|' || \
         (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || count(asked_as) || ':' || \
                 coalesce(sum(asked_as), 0) || ':' || count(withdrawn_at) || ':' || \
                 coalesce(sum(CASE WHEN proposer_id = '' THEN 1 ELSE 0 END), 0) \
          FROM proposals WHERE occurrence_id = $1) || '|' || \
         (SELECT count(*) FROM rsvps WHERE occurrence_id = $1) || '|' || \
         (SELECT count(*) || ':' || coalesce(sum(proposal_id), 0) || ':' || \
                 coalesce(max(at), '') \
          FROM votes WHERE proposal_id IN (SELECT id FROM proposals WHERE occurrence_id = $1))",
        "SELECT \
         (SELECT coalesce(ended_at::text, '') || '|' || coalesce(purged_at::text, '') || '|' || \
                 shift_seconds || '|' || coalesce(duration_seconds, 0) \
          FROM occurrences WHERE id = $1) || '|' || \
         (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || \
                 coalesce(max(sent_at)::text, '') || ':' || \
                 coalesce(string_agg(status, '' ORDER BY id), '') || ':' || \
                 coalesce(sum(length(coalesce(question_text, ''))), 0) \
          FROM posts WHERE occurrence_id = $1) || '|' || \
         (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || \
                 coalesce(max(edited_at)::text, '') || ':' || \
                 coalesce(max(deleted_at)::text, '') || ':' || count(deleted_at) \
          FROM replies WHERE occurrence_id = $1) || '|' || \
         (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || count(asked_as) || ':' || \
                 coalesce(sum(asked_as), 0) || ':' || count(withdrawn_at) || ':' || \
                 coalesce(sum(CASE WHEN proposer_id = '' THEN 1 ELSE 0 END), 0) \
          FROM proposals WHERE occurrence_id = $1) || '|' || \
         (SELECT count(*) FROM rsvps WHERE occurrence_id = $1) || '|' || \
         (SELECT count(*) || ':' || coalesce(sum(proposal_id), 0) || ':' || \
                 coalesce(max(at)::text, '') \
          FROM votes WHERE proposal_id IN (SELECT id FROM proposals WHERE occurrence_id = $1))",
    );
    Ok(sqlx::query_scalar::<_, Option<String>>(sql)
        .bind(occurrence_id)
        .fetch_one(conn)
        .await?
        .unwrap_or_default())
}

/// Removes the answers of occurrences that started before `cutoff`, with
/// their proposals and votes, raw log lines and presence rows, in one
/// transaction.
pub async fn purge_before(
    conn: &mut Conn,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut tx = conn.begin().await?;
    sqlx::query(
        "UPDATE occurrences SET purged_at = $1 WHERE scheduled_start < $2 AND purged_at IS NULL \
         AND (EXISTS (SELECT 1 FROM replies WHERE occurrence_id = occurrences.id) \
              OR EXISTS (SELECT 1 FROM proposals WHERE occurrence_id = occurrences.id))",
    )
    .bind(ts(now))
    .bind(ts(cutoff))
    .execute(&mut *tx)
    .await?;
    let gone = sqlx::query(
        "DELETE FROM replies WHERE occurrence_id IN \
         (SELECT id FROM occurrences WHERE scheduled_start < $1)",
    )
    .bind(ts(cutoff))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    super::presence::purge_presence(&mut tx, cutoff).await?;
    // An asked proposal's credit names its proposer in the question's
    // copy every transcript shows: it goes with the proposal.
    sqlx::query(
        "UPDATE posts SET \
         question_text = replace(question_text, \
             (SELECT ' (proposed by ' || p.proposer_name || ')' FROM proposals p \
              WHERE p.occurrence_id = posts.occurrence_id AND p.asked_as = posts.seq), ''), \
         body = replace(body, \
             (SELECT ' (proposed by ' || p.proposer_name || ')' FROM proposals p \
              WHERE p.occurrence_id = posts.occurrence_id AND p.asked_as = posts.seq), '') \
         WHERE kind = 'question' AND occurrence_id IN \
             (SELECT id FROM occurrences WHERE scheduled_start < $1) \
         AND EXISTS (SELECT 1 FROM proposals p WHERE p.occurrence_id = posts.occurrence_id \
             AND p.asked_as = posts.seq AND p.proposer_name <> '')",
    )
    .bind(ts(cutoff))
    .execute(&mut *tx)
    .await?;
    // Questions from the floor, and their votes, go with the answers.
    super::floor::purge_proposals(&mut tx, cutoff).await?;
    sqlx::query(
        "DELETE FROM rsvps WHERE occurrence_id IN \
         (SELECT id FROM occurrences WHERE scheduled_start < $1)",
    )
    .bind(ts(cutoff))
    .execute(&mut *tx)
    .await?;
    // A zone nobody used since the cutoff goes with the answers of then.
    sqlx::query("DELETE FROM people WHERE used_at < $1")
        .bind(ts(cutoff))
        .execute(&mut *tx)
        .await?;
    super::room_log::purge_lines(&mut tx, cutoff).await?;
    tx.commit().await?;
    after_erase(conn).await?;
    Ok(gone)
}

pub async fn ping(conn: &mut Conn) -> Result<()> {
    sqlx::query("SELECT 1").execute(conn).await?;
    Ok(())
}

pub async fn all_occurrences(conn: &mut Conn) -> Result<Vec<OccurrenceRow>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        occ_cols!(),
        " FROM occurrences ORDER BY id"
    ))
    .fetch_all(conn)
    .await?;
    rows.iter().map(occurrence_row).collect()
}
