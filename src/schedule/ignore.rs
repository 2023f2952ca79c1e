//! `ignore`: people a debate pays no attention to (a troll, a bot that
//! echoes everything). Their messages in the debate's rooms are not
//! collected as answers, not kept in the raw log and not answered, not
//! even with a refusal. Entries are Matrix user ids (`@spam:example.org`)
//! and IRC names (`irc:troll`), matched against the IRC account where the
//! server tags one and against the nick in any case: an ignored nick
//! stays ignored whoever logs in with it, and an ignored account under
//! any nick. IRC names are compared as IRC servers do (RFC 1459 case
//! mapping: `[]\~` are the capitals of `{}|^`).
//!
//! A debate's own list adds to the top-level one: a debate cannot undo a
//! block meant for every debate.

use super::diag::Diagnostic;
use super::model::Debate;
use super::read::Ctx;
use super::yaml::Node;

impl Ctx {
    /// The entries of an `ignore` list, each checked.
    pub(super) fn ignore(&mut self, node: &Node) -> Option<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        let mut ok = true;
        for item in self.list(node) {
            let Some(text) = self.text(item, "an `ignore` entry") else {
                ok = false;
                continue;
            };
            if is_user(&text) {
                if !out.contains(&text) {
                    out.push(text);
                }
            } else {
                self.diags.push(
                    Diagnostic::error(
                        item.pos,
                        format!("`ignore` entry `{text}` is neither a Matrix user nor an IRC name"),
                    )
                    .with_hint(
                        "write a Matrix user id (`@spam:example.org`) or an IRC account or \
                         nick (`irc:troll`)",
                    ),
                );
                ok = false;
            }
        }
        ok.then_some(out)
    }
}

/// `@name:server`, or `irc:` and a name an IRC server could give.
fn is_user(text: &str) -> bool {
    let clean = !text.chars().any(|c| c.is_whitespace() || c.is_control());
    let matrix = text.strip_prefix('@').is_some_and(|rest| {
        rest.split_once(':')
            .is_some_and(|(u, s)| !u.is_empty() && !s.is_empty())
    });
    let irc = text
        .strip_prefix("irc:")
        .is_some_and(|n| !n.is_empty() && !n.contains([',', '!', '@', '#', ':']));
    clean && (matrix || irc)
}

/// An IRC name folded as RFC 1459 servers compare names.
fn irc_fold(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '[' => '{',
            ']' => '}',
            '\\' => '|',
            '~' => '^',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

impl Debate {
    /// Whether this debate ignores a sender: `id` as the network gives it
    /// (`@alice:example.org`, `irc:account` or `irc:nick`), `name` its nick
    /// on IRC (`irc` true).
    pub fn ignores(&self, id: &str, name: &str, irc: bool) -> bool {
        self.ignore
            .iter()
            .any(|entry| match entry.strip_prefix("irc:") {
                Some(who) if irc => {
                    let who = irc_fold(who);
                    id.strip_prefix("irc:").is_some_and(|i| irc_fold(i) == who)
                        || irc_fold(name) == who
                }
                Some(_) => false,
                None => entry.eq_ignore_ascii_case(id),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_matrix_users_or_irc_names() {
        for good in ["@spam:example.org", "irc:troll", "irc:Tr[o]ll"] {
            assert!(is_user(good), "{good}");
        }
        for bad in [
            "spam",
            "@spam",
            "@:x",
            "irc:",
            "irc:#chan",
            "irc:a b",
            "#room:x",
            "irc:\u{1b}x",
        ] {
            assert!(!is_user(bad), "{bad}");
        }
    }

    #[test]
    fn irc_names_match_accounts_and_nicks_under_rfc1459_case_mapping() {
        let mut d = crate::schedule::parse(
            "timezone: UTC\ndebates:\n  - id: d\n    title: D\n    starts: 2030-01-01 20:00\n    \
             rooms: ['#d']\n    questions: [Q?]\n",
            chrono::Utc::now(),
        )
        .unwrap()
        .0
        .debates
        .remove(0);
        d.ignore = vec!["irc:tr[o]ll".into(), "@Spam:example.org".into()];
        assert!(d.ignores("irc:TR{O}LL", "someone", true), "by account");
        assert!(d.ignores("irc:other", "Tr{o}ll", true), "by nick");
        assert!(!d.ignores("irc:troll", "troll", true));
        assert!(d.ignores("@spam:example.org", "spam", false));
        assert!(
            !d.ignores("irc:tr[o]ll", "tr[o]ll", false),
            "an IRC name on Matrix"
        );
        assert!(!d.ignores("@spam:example.org.evil", "spam", false));
    }
}
