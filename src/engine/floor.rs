//! Questions from the floor: during a debate anyone may propose a question
//! (`!propose`), numbered P1, P2, ... across all the debate's rooms and
//! networks; people vote for them (`!vote P2`, once each, withdrawn with
//! `!unvote P2`), `!proposals` shows the ones with most votes, and an
//! organiser asks one (`!ask P2`, `!ask top`) as the next extra question,
//! crediting who proposed it. The store keeps them (one open proposal per
//! person, one vote per person and proposal), so a restart or another
//! replica taking the debate over loses none.

use chrono::{DateTime, Utc};

use super::Engine;
use super::command::Pick;
use super::here::Here;
use super::occurrences::OccKey;
use crate::chat::{Chat, Network};
use crate::schedule::Debate;
use crate::store::{NewProposal, ProposalRow, Proposed};

/// The longest proposal, in characters: a question, not an essay; short
/// enough that `!proposals` lists five in a readable answer.
pub const PROPOSAL_MAX: usize = 280;

/// How many proposals `!proposals` lists.
pub const LISTED: usize = 5;

const NOT_RUNNING: &str = "Proposals are taken while a debate runs in this room.";

/// A proposal as it is kept and shown: on one line (a question is posted
/// as one), with its outer space trimmed, runs of space as one, and
/// without the invisible characters that would let it reverse or hide the
/// text around it where it is shown (bidirectional overrides and
/// isolates, controls).
#[must_use]
pub fn clean(text: &str) -> String {
    let visible = text
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !c.is_control() && !is_bidi_control(*c));
    let mut out = String::with_capacity(text.len());
    for c in visible {
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069):
/// in a proposal they would reorder what follows it in the room and on the
/// page.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The question a proposal is asked as: its text, crediting the proposer.
#[must_use]
pub fn credited(text: &str, proposer: &str) -> String {
    format!("{text} (proposed by {proposer})")
}

fn votes(n: i64) -> String {
    if n == 1 {
        "1 vote".to_owned()
    } else {
        format!("{n} votes")
    }
}

/// The open proposals in the order `!proposals` lists them and `!ask top`
/// picks: most votes first, the earliest of equals first.
fn ranked(mut all: Vec<ProposalRow>) -> Vec<ProposalRow> {
    all.retain(|p| p.asked_as.is_none() && p.withdrawn_at.is_none());
    all.sort_by_key(|p| (std::cmp::Reverse(p.votes), p.number));
    all
}

impl<C: Chat> Engine<C> {
    /// The stored id of the occurrence running here, with its debate; or
    /// what to tell the person when there is none.
    fn floor_of<'h>(&self, here: &'h Here<'_>) -> Result<(OccKey, &'h Debate, i64), String> {
        let Some(key) = &here.running else {
            return Err(NOT_RUNNING.to_owned());
        };
        let Some(debate) = here.schedule.debate(&key.0) else {
            return Err(NOT_RUNNING.to_owned());
        };
        let Some(id) = self.occs.id(key) else {
            return Err(NOT_RUNNING.to_owned());
        };
        Ok((key.clone(), debate, id))
    }

    /// `!propose TEXT`
    pub(super) async fn propose(
        &mut self,
        here: &Here<'_>,
        message_id: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let (key, debate, id) = match self.floor_of(here) {
            Ok(found) => found,
            Err(refusal) => return Ok(refusal),
        };
        let text = clean(text);
        let length = text.chars().count();
        if length == 0 {
            return Ok(
                "`!propose` needs the question: !propose What would you change first?".to_owned(),
            );
        }
        if length > PROPOSAL_MAX {
            return Ok(format!(
                "That proposal is too long: at most {PROPOSAL_MAX} characters, and it has \
                 {length}. Nothing was proposed."
            ));
        }
        // Refused now rather than when an organiser asks it, when the
        // proposer may be gone.
        // A display name is chat text too: no line breaks or reordering
        // in the credit.
        let name = clean(&here.sender.name);
        let question = credited(&text, &name);
        if let Some((allowed, asked)) = self.over_length(debate, &key, &question) {
            let credit = asked - length;
            return Ok(format!(
                "That proposal is too long for this debate's rooms once credited to you: at \
                 most {} characters, and it has {length}. Nothing was proposed.",
                allowed.saturating_sub(credit)
            ));
        }
        let new = NewProposal {
            occurrence_id: id,
            text: &text,
            proposer_id: &here.sender.id,
            proposer_name: &name,
            network: here.room.network().as_str(),
            room: &here.room.to_string(),
            network_id: message_id,
            at: now,
        };
        Ok(match self.store.propose(&new).await? {
            Proposed::New(p) | Proposed::Duplicate(p) => {
                tracing::info!(debate = %debate.id, proposal = p.number, room = %here.room,
                    "question proposed");
                let or_react = if here.room.network() == Network::Matrix {
                    " or a 👍 on this message"
                } else {
                    ""
                };
                format!(
                    "Proposed as P{n}: “{}”. Vote for it with !vote P{n}{or_react}.",
                    p.text,
                    n = p.number
                )
            }
            Proposed::AlreadyOpen(p) => format!(
                "{}, your proposal P{} (“{}”) is still open: one each at a time, until an \
                 organiser asks it.",
                here.sender.name, p.number, p.text
            ),
        })
    }

    /// `!vote Pn` and `!unvote Pn`.
    pub(super) async fn vote(
        &mut self,
        here: &Here<'_>,
        number: u32,
        cast: bool,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let (_, _, id) = match self.floor_of(here) {
            Ok(found) => found,
            Err(refusal) => return Ok(refusal),
        };
        // A nick nobody is logged in with is anyone's to take: voting under
        // it would let one person vote as many times as they change nick.
        if !here.sender.verified {
            return Ok(format!(
                "{}, votes are counted by account here: log in to your account on this \
                 network (NickServ), then vote again.",
                here.sender.name
            ));
        }
        let Some(p) = self.store.proposal(id, i64::from(number)).await? else {
            return Ok(format!(
                "There is no P{number} in this debate; !proposals lists them."
            ));
        };
        if p.withdrawn_at.is_some() {
            return Ok(format!("P{number} was withdrawn by its proposer."));
        }
        if let (true, Some(q)) = (cast, p.asked_as) {
            return Ok(format!(
                "P{number} was asked already, as Q{q}: votes are closed."
            ));
        }
        if cast && p.proposer_id == here.sender.id {
            return Ok(format!(
                "P{number} is your own proposal; your vote goes to someone else's."
            ));
        }
        if cast {
            let counted = self.store.vote(p.id, &here.sender.id, now).await?;
            let p = self
                .store
                .proposal(id, i64::from(number))
                .await?
                .unwrap_or(p);
            Ok(if counted {
                format!("Your vote for P{number} is counted: {}.", votes(p.votes))
            } else {
                format!(
                    "You have voted for P{number} already ({}); one vote each.",
                    votes(p.votes)
                )
            })
        } else {
            let removed = self.store.unvote(p.id, &here.sender.id).await?;
            let p = self
                .store
                .proposal(id, i64::from(number))
                .await?
                .unwrap_or(p);
            Ok(if removed {
                format!("Your vote for P{number} is taken back: {}.", votes(p.votes))
            } else {
                format!("You had not voted for P{number}.")
            })
        }
    }

    /// `!proposals`: the open ones with most votes, one line each.
    pub(super) async fn list_proposals(&mut self, here: &Here<'_>) -> anyhow::Result<String> {
        let (_, _, id) = match self.floor_of(here) {
            Ok(found) => found,
            Err(refusal) => return Ok(refusal),
        };
        let mut all = self.store.proposals(id).await?;
        all.retain(|p| p.withdrawn_at.is_none());
        if all.is_empty() {
            return Ok("No questions proposed yet: propose one with !propose TEXT.".to_owned());
        }
        let open = ranked(all);
        if open.is_empty() {
            return Ok(
                "Every proposal has been asked; propose another with !propose TEXT.".to_owned(),
            );
        }
        let mut lines = vec![format!(
            "Open proposals, most votes first ({} in all; vote with !vote P1):",
            open.len()
        )];
        for p in open.iter().take(LISTED) {
            lines.push(format!(
                "P{} ({}): {} — {}",
                p.number,
                votes(p.votes),
                p.text,
                p.proposer_name
            ));
        }
        Ok(lines.join("\n"))
    }

    /// `!ask P2` / `!ask top`: the proposal goes out as the next extra
    /// question, crediting its proposer, and is marked asked.
    pub(super) async fn ask_proposal(
        &mut self,
        here: &Here<'_>,
        pick: Pick,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let (key, debate, id) = match self.floor_of(here) {
            Ok(found) => found,
            Err(refusal) => return Ok(refusal),
        };
        let chosen = match pick {
            Pick::Number(n) => match self.store.proposal(id, i64::from(n)).await? {
                Some(p) => p,
                None => {
                    return Ok(format!(
                        "There is no P{n} in this debate; !proposals lists them."
                    ));
                }
            },
            Pick::Top => match ranked(self.store.proposals(id).await?).into_iter().next() {
                Some(p) => p,
                None => return Ok("There is no open proposal to ask.".to_owned()),
            },
        };
        if chosen.withdrawn_at.is_some() {
            return Ok(format!("P{} was withdrawn by its proposer.", chosen.number));
        }
        if let Some(q) = chosen.asked_as {
            return Ok(format!("P{} was asked already, as Q{q}.", chosen.number));
        }
        if self.occs.live(&key).ended_at.is_some() {
            return Ok(format!("“{}” is closing already.", debate.title));
        }
        let question = credited(&chosen.text, &chosen.proposer_name);
        if let Some((allowed, length)) = self.over_length(debate, &key, &question) {
            return Ok(format!(
                "P{} is too long for this debate's rooms with its credit: at most {allowed} \
                 characters, and it has {length}. Nothing was asked.",
                chosen.number
            ));
        }
        let n = self.ask_numbered(debate, &key, &question, now).await?;
        self.store.mark_asked(chosen.id, i64::from(n)).await?;
        tracing::info!(debate = %debate.id, proposal = chosen.number, question = n,
            "proposal asked");
        Ok(format!("Asked P{} as Q{n}.", chosen.number))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proposal_is_kept_on_one_line_without_invisible_reordering() {
        assert_eq!(clean("  Why\n\tnot   now?  "), "Why not now?");
        assert_eq!(clean("a\u{202E}evil\u{2066}b\u{2069}"), "aevilb");
        assert_eq!(clean("bell\u{7}s"), "bells");
        assert_eq!(clean(" \n "), "");
        assert_eq!(clean("Ça va ? 🙂"), "Ça va ? 🙂");
    }

    #[test]
    fn the_credit_names_the_proposer() {
        assert_eq!(credited("Why?", "ann"), "Why? (proposed by ann)");
    }
}
