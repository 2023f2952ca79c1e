//! CTCP: `/me` (ACTION) is an answer like any message; VERSION is
//! answered, sparingly; every other request is ignored. Anyone can send a
//! hundred VERSION requests in a second, and each reply is a line the bot
//! is allowed to send, so replies are rationed: one per sender a minute,
//! [`GLOBAL`] a minute in all, and they go last in the send queue, behind
//! every post.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

/// Replies to one sender, at most one per this long.
const PER_SENDER: Duration = Duration::from_secs(60);
/// Replies in all per [`WINDOW`].
pub const GLOBAL: usize = 4;
const WINDOW: Duration = Duration::from_secs(60);

/// A CTCP message's verb (upper case; `OTHER` for one Podium ignores) and
/// the rest; `None` for text.
pub fn parse(body: &str) -> Option<(&str, &str)> {
    let inner = body.strip_prefix('\x01')?;
    let inner = inner.strip_suffix('\x01').unwrap_or(inner);
    let (verb, rest) = inner.split_once(' ').unwrap_or((inner, ""));
    let verb = match verb {
        v if v.eq_ignore_ascii_case("ACTION") => "ACTION",
        v if v.eq_ignore_ascii_case("VERSION") => "VERSION",
        _ => "OTHER",
    };
    Some((verb, rest))
}

/// Who was answered when.
#[derive(Default)]
pub struct Limiter {
    last: HashMap<String, Instant>,
    recent: VecDeque<Instant>,
    refused: usize,
}

impl Limiter {
    /// Whether `sender` (a folded nick) may be answered now; if so, it
    /// counts.
    pub fn allow(&mut self, sender: &str) -> bool {
        let now = Instant::now();
        while self.recent.front().is_some_and(|at| now - *at >= WINDOW) {
            self.recent.pop_front();
        }
        if self.last.len() > 1024 {
            self.last.retain(|_, at| now - *at < PER_SENDER);
        }
        let too_soon = self
            .last
            .get(sender)
            .is_some_and(|at| now - *at < PER_SENDER);
        if too_soon || self.recent.len() >= GLOBAL {
            self.refused += 1;
            if self.refused == 1 || self.refused.is_power_of_two() {
                tracing::info!(
                    refused = self.refused,
                    "CTCP requests left unanswered (rate limit)"
                );
            }
            return false;
        }
        self.last.insert(sender.to_owned(), now);
        self.recent.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctcp_verbs_are_read_and_text_is_not_ctcp() {
        assert_eq!(parse("\x01ACTION agrees\x01"), Some(("ACTION", "agrees")));
        assert_eq!(parse("\x01action agrees"), Some(("ACTION", "agrees")));
        assert_eq!(parse("\x01VERSION\x01"), Some(("VERSION", "")));
        assert_eq!(parse("\x01PING 123\x01"), Some(("OTHER", "123")));
        assert_eq!(parse("A1: plain"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn one_reply_per_sender_a_minute_and_a_few_in_all() {
        let mut l = Limiter::default();
        assert!(l.allow("bob"));
        assert!(!l.allow("bob"));
        let others = (0..100).filter(|n| l.allow(&format!("user{n}"))).count();
        assert_eq!(others, GLOBAL - 1);
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(l.allow("bob"));
        assert!(l.allow("user99"));
    }
}
