//! `!forget`: a person removes everything Podium holds about them (answers,
//! raw log lines, proposals, votes, time zone) from the store and so from
//! every page. Two steps, so a stray `!forget` erases nothing: the first
//! says what would go, `!forget confirm` within [`CONFIRM_WITHIN`] erases
//! it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::Engine;
use crate::chat::{Chat, Sender};
use crate::store::Holdings;

/// How long a `!forget` waits for its `!forget confirm`.
pub const CONFIRM_WITHIN: std::time::Duration = std::time::Duration::from_secs(300);

/// Who asked to be forgotten, and when: waiting for their confirmation.
#[derive(Debug, Default)]
pub struct Pending(HashMap<String, Instant>);

impl Pending {
    fn ask(&mut self, person: &str, now: Instant) {
        // Bounded by the people who asked in the last few minutes (and
        // commands are rate-limited per person).
        self.0
            .retain(|_, at| now.duration_since(*at) < CONFIRM_WITHIN);
        self.0.insert(person.to_owned(), now);
    }

    /// Whether `person` asked recently enough; asking is then used up.
    fn confirm(&mut self, person: &str, now: Instant) -> bool {
        self.0
            .remove(person)
            .is_some_and(|at| now.duration_since(at) < CONFIRM_WITHIN)
    }
}

fn listed(h: &Holdings) -> String {
    let plural = |n: u64, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let mut parts = Vec::new();
    if h.answers > 0 {
        parts.push(plural(h.answers, "answer", "answers"));
    }
    if h.lines > 0 {
        parts.push(plural(h.lines, "other message", "other messages"));
    }
    if h.proposals > 0 {
        parts.push(plural(h.proposals, "proposal", "proposals"));
    }
    if h.votes > 0 {
        parts.push(plural(h.votes, "vote", "votes"));
    }
    if h.rsvps > 0 {
        parts.push(plural(h.rsvps, "registration", "registrations"));
    }
    if h.zones > 0 {
        parts.push("your time zone".to_owned());
    }
    match parts.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

impl<C: Chat> Engine<C> {
    /// `!forget` and `!forget confirm`.
    pub(super) async fn forget(
        &mut self,
        sender: &Sender,
        confirm: bool,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        // A nick nobody is logged in with is anyone's: whoever takes it
        // must not erase what its earlier holder said.
        if !sender.verified {
            return Ok(format!(
                "{}, !forget needs to know it is you: log in to your account on this network \
                 (NickServ), then ask again.",
                sender.name
            ));
        }
        let instant = Instant::now();
        if !confirm {
            let held = self.store.holdings(&sender.id).await?;
            if held.is_empty() {
                return Ok("Podium holds nothing of yours.".to_owned());
            }
            self.forgetting.ask(&sender.id, instant);
            return Ok(format!(
                "Podium holds these of yours: {}. To remove all of it from the store and \
                 every transcript (pages will say an answer was withdrawn, without its text or \
                 your name), say !forget confirm within 5 minutes.",
                listed(&held)
            ));
        }
        if !self.forgetting.confirm(&sender.id, instant) {
            return Ok(
                "Say !forget first: it tells you what goes, then !forget confirm \
                 within 5 minutes removes it."
                    .to_owned(),
            );
        }
        let erased = self.store.forget(&sender.id, now).await?;
        tracing::info!(
            answers = erased.answers,
            lines = erased.lines,
            proposals = erased.proposals,
            votes = erased.votes,
            zones = erased.zones,
            "a person's data was erased at their request"
        );
        Ok(if erased.is_empty() {
            "Podium held nothing of yours.".to_owned()
        } else {
            format!("Removed: {}.", listed(&erased))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_held_is_listed_in_words() {
        let h = Holdings {
            answers: 2,
            lines: 1,
            proposals: 0,
            votes: 1,
            zones: 1,
            rsvps: 0,
        };
        assert_eq!(
            listed(&h),
            "2 answers, 1 other message, 1 vote and your time zone"
        );
        let one = Holdings {
            answers: 1,
            ..Holdings::default()
        };
        assert_eq!(listed(&one), "1 answer");
        assert_eq!(listed(&Holdings::default()), "");
    }

    #[test]
    fn a_confirmation_counts_once_and_only_in_time() {
        let t0 = Instant::now();
        let mut p = Pending::default();
        assert!(!p.confirm("a", t0));
        p.ask("a", t0);
        assert!(p.confirm("a", t0 + std::time::Duration::from_secs(299)));
        assert!(!p.confirm("a", t0), "used up");
        p.ask("b", t0);
        assert!(!p.confirm("b", t0 + CONFIRM_WITHIN));
    }
}
