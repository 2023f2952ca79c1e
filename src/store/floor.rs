//! Questions from the floor: proposals made during a running debate
//! (`!propose`), numbered P1, P2... per occurrence across all its rooms and
//! networks, the votes cast for them (one per person), and the question
//! number each was asked as.

use chrono::{DateTime, Utc};

#[cfg(doc)]
use super::WriteOp;
use super::{Result, Store};

/// A proposal to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewProposal<'a> {
    pub occurrence_id: i64,
    pub text: &'a str,
    /// The sender id (`@ann:example.org`, `irc:ann`...).
    pub proposer_id: &'a str,
    /// The display name the proposer had.
    pub proposer_name: &'a str,
    /// `matrix` or `irc`.
    pub network: &'a str,
    pub room: &'a str,
    /// The id of the message that proposed it.
    pub network_id: &'a str,
    pub at: DateTime<Utc>,
}

/// A proposal as stored, with the votes it has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposalRow {
    pub id: i64,
    pub occurrence_id: i64,
    /// Its number in the occurrence: P1, P2...
    pub number: i64,
    pub text: String,
    pub proposer_id: String,
    pub proposer_name: String,
    pub network: String,
    pub room: String,
    pub network_id: String,
    pub proposed_at: DateTime<Utc>,
    /// The question number it was asked as, once asked.
    pub asked_as: Option<i64>,
    /// When the message that made it was deleted (before it was asked):
    /// its text and name are erased then, and its votes gone.
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub votes: i64,
}

/// What [`Store::propose`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proposed {
    /// Stored, numbered after the occurrence's last proposal.
    New(ProposalRow),
    /// Nothing stored: the proposer already has this open (not yet asked)
    /// one in the occurrence.
    AlreadyOpen(ProposalRow),
    /// Nothing stored: the same message was stored already (a replayed
    /// event).
    Duplicate(ProposalRow),
}

impl Store {
    /// Stores a proposal, numbered after the occurrence's last one; or,
    /// storing nothing, the proposer's open one or this message's own.
    ///
    /// # Errors
    /// Database failures.
    pub async fn propose(&self, p: &NewProposal<'_>) -> Result<Proposed> {
        run!(self, floor::propose(p))
    }

    /// Proposal `number` (P1 is 1) of an occurrence, with its votes.
    ///
    /// # Errors
    /// Database failures.
    pub async fn proposal(&self, occurrence_id: i64, number: i64) -> Result<Option<ProposalRow>> {
        run!(self, floor::proposal(occurrence_id, number))
    }

    /// An occurrence's proposals in number order, with their votes.
    ///
    /// # Errors
    /// Database failures.
    pub async fn proposals(&self, occurrence_id: i64) -> Result<Vec<ProposalRow>> {
        run!(self, floor::proposals(occurrence_id))
    }

    /// Counts `voter`'s vote for a proposal: `true` if counted now,
    /// `false` if they had voted for it already. (A vote by reaction is
    /// written with the other incoming events: [`WriteOp::Vote`].)
    ///
    /// # Errors
    /// Database failures, or no such proposal.
    pub async fn vote(&self, proposal_id: i64, voter_id: &str, at: DateTime<Utc>) -> Result<bool> {
        run!(self, floor::vote(proposal_id, voter_id, at))
    }

    /// Withdraws `voter`'s vote for a proposal; whether there was one.
    ///
    /// # Errors
    /// Database failures.
    pub async fn unvote(&self, proposal_id: i64, voter_id: &str) -> Result<bool> {
        run!(self, floor::unvote(proposal_id, voter_id))
    }

    /// Records that a proposal was asked as question `question`: `false`
    /// if it had been asked already (then it keeps its first number).
    ///
    /// # Errors
    /// Database failures.
    pub async fn mark_asked(&self, proposal_id: i64, question: i64) -> Result<bool> {
        run!(self, floor::mark_asked(proposal_id, question))
    }
}
