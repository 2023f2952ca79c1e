use chrono::{DateTime, Utc};
use sqlx::Row as _;

use super::{Conn, Row, get_opt_ts, get_ts, ts};
use crate::store::floor::{NewProposal, ProposalRow, Proposed};
use crate::store::{Result, StoreError};

/// The columns of [`ProposalRow`] but its votes.
macro_rules! proposal_cols {
    () => {
        "id, occurrence_id, number, text, proposer_id, proposer_name, network, room, \
         network_id, proposed_at, asked_as, withdrawn_at"
    };
}

/// Proposals with their votes, counted in the same statement; the caller
/// adds the condition.
macro_rules! select_proposals {
    () => {
        concat!(
            "SELECT ",
            proposal_cols!(),
            ", (SELECT count(*) FROM votes WHERE votes.proposal_id = proposals.id) AS votes \
             FROM proposals WHERE "
        )
    };
}

/// How many times a proposal is numbered again after another one took its
/// number at the same moment (PostgreSQL only: SQLite has one writer).
const ATTEMPTS: usize = 8;

fn proposal_row(r: &Row) -> Result<ProposalRow> {
    Ok(ProposalRow {
        id: r.try_get("id")?,
        occurrence_id: r.try_get("occurrence_id")?,
        number: r.try_get("number")?,
        text: r.try_get("text")?,
        proposer_id: r.try_get("proposer_id")?,
        proposer_name: r.try_get("proposer_name")?,
        network: r.try_get("network")?,
        room: r.try_get("room")?,
        network_id: r.try_get("network_id")?,
        proposed_at: get_ts(r, "proposed_at")?,
        asked_as: r.try_get("asked_as")?,
        withdrawn_at: get_opt_ts(r, "withdrawn_at")?,
        votes: r.try_get("votes")?,
    })
}

/// Numbers the proposal after the occurrence's last one in the statement
/// that stores it. Storing nothing means one of the unique keys was met:
/// the same message (a replayed event), the proposer's open proposal, or
/// the number, taken by a proposal stored at the same moment; then it is
/// numbered again.
pub async fn propose(conn: &mut Conn, p: &NewProposal<'_>) -> Result<Proposed> {
    for _ in 0..ATTEMPTS {
        // The WHERE clause also keeps SQLite from reading ON CONFLICT as
        // part of a join.
        let row = sqlx::query(concat!(
            "INSERT INTO proposals (occurrence_id, number, text, proposer_id, proposer_name, \
             network, room, network_id, proposed_at) \
             SELECT $1, coalesce(max(number), 0) + 1, $2, $3, $4, $5, $6, $7, $8 \
             FROM proposals WHERE occurrence_id = $1 \
             ON CONFLICT DO NOTHING \
             RETURNING ",
            proposal_cols!(),
            ", CAST(0 AS bigint) AS votes"
        ))
        .bind(p.occurrence_id)
        .bind(p.text)
        .bind(p.proposer_id)
        .bind(p.proposer_name)
        .bind(p.network)
        .bind(p.room)
        .bind(p.network_id)
        .bind(ts(p.at))
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = row {
            return Ok(Proposed::New(proposal_row(&row)?));
        }
        let same = sqlx::query(concat!(
            select_proposals!(),
            "network = $1 AND room = $2 AND network_id = $3"
        ))
        .bind(p.network)
        .bind(p.room)
        .bind(p.network_id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = same {
            return Ok(Proposed::Duplicate(proposal_row(&row)?));
        }
        let open = sqlx::query(concat!(
            select_proposals!(),
            "occurrence_id = $1 AND proposer_id = $2 AND asked_as IS NULL \
             AND withdrawn_at IS NULL"
        ))
        .bind(p.occurrence_id)
        .bind(p.proposer_id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = open {
            return Ok(Proposed::AlreadyOpen(proposal_row(&row)?));
        }
    }
    Err(StoreError::Corrupt(format!(
        "no number for a proposal in occurrence {} after {ATTEMPTS} attempts: others took \
         each one first",
        p.occurrence_id
    )))
}

pub async fn proposal(
    conn: &mut Conn,
    occurrence_id: i64,
    number: i64,
) -> Result<Option<ProposalRow>> {
    let row = sqlx::query(concat!(
        select_proposals!(),
        "occurrence_id = $1 AND number = $2"
    ))
    .bind(occurrence_id)
    .bind(number)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(proposal_row).transpose()
}

pub async fn proposals(conn: &mut Conn, occurrence_id: i64) -> Result<Vec<ProposalRow>> {
    let rows = sqlx::query(concat!(
        select_proposals!(),
        "occurrence_id = $1 ORDER BY number"
    ))
    .bind(occurrence_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(proposal_row).collect()
}

/// Whether the vote was counted now (not cast before).
pub async fn vote(
    conn: &mut Conn,
    proposal_id: i64,
    voter_id: &str,
    at: DateTime<Utc>,
) -> Result<bool> {
    let n = sqlx::query(
        "INSERT INTO votes (proposal_id, voter_id, at) VALUES ($1, $2, $3) \
         ON CONFLICT (proposal_id, voter_id) DO NOTHING",
    )
    .bind(proposal_id)
    .bind(voter_id)
    .bind(ts(at))
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// Whether there was a vote to withdraw.
pub async fn unvote(conn: &mut Conn, proposal_id: i64, voter_id: &str) -> Result<bool> {
    let n = sqlx::query("DELETE FROM votes WHERE proposal_id = $1 AND voter_id = $2")
        .bind(proposal_id)
        .bind(voter_id)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(n > 0)
}

/// Whether it was not asked before.
pub async fn mark_asked(conn: &mut Conn, proposal_id: i64, question: i64) -> Result<bool> {
    let n = sqlx::query("UPDATE proposals SET asked_as = $2 WHERE id = $1 AND asked_as IS NULL")
        .bind(proposal_id)
        .bind(question)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(n > 0)
}

/// Removes the votes and proposals of occurrences that started before
/// `cutoff` (the retention period), votes first; how many proposals went.
pub async fn purge_proposals(conn: &mut Conn, cutoff: DateTime<Utc>) -> Result<u64> {
    sqlx::query(
        "DELETE FROM votes WHERE proposal_id IN (SELECT id FROM proposals WHERE occurrence_id IN \
         (SELECT id FROM occurrences WHERE scheduled_start < $1))",
    )
    .bind(ts(cutoff))
    .execute(&mut *conn)
    .await?;
    Ok(sqlx::query(
        "DELETE FROM proposals WHERE occurrence_id IN \
         (SELECT id FROM occurrences WHERE scheduled_start < $1)",
    )
    .bind(ts(cutoff))
    .execute(conn)
    .await?
    .rows_affected())
}
