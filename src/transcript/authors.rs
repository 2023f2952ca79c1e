//! Who said what. Display names are anyone's to choose: mallory can call
//! herself `alice`, and Matrix `@alice:example.org` and IRC `alice` are two
//! people with one name. So every author gets one label, unique within the
//! transcript, that every view shows: the display name alone where nobody
//! else could be meant, and otherwise the name with who it really is, as
//! Matrix clients do (`alice (@mallory:example.org)`; on IRC `alice (irc)`,
//! `alice (irc account bob)` for a nick logged in to another account, and
//! `alice (irc, no account)` for a nick nobody is logged in with on a
//! server that has accounts, id `irc:~alice`).
//! The participants are counted by who they are, not by their names.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::{ReplyEntry, Transcript};

/// The key two replies share when they come from the same person: the
/// author id, with IRC nicks and accounts compared without ASCII case (as
/// every IRC casemapping does; the brackets some also fold are left apart,
/// so two people are never taken for one).
pub(crate) fn identity(author_id: &str) -> String {
    if author_id.starts_with("irc:") {
        author_id.to_ascii_lowercase()
    } else {
        author_id.to_owned()
    }
}

/// The name an author id itself gives (a Matrix localpart, an IRC nick or
/// account, a console name): a display name equal to someone else's is
/// borrowed.
fn user_name(author_id: &str) -> Option<&str> {
    match author_id.strip_prefix('@') {
        Some(rest) => rest.split(':').next(),
        // `irc:~nick`: a nick not logged in, on a server with accounts.
        None => author_id
            .split_once(':')
            .map(|(_, name)| name.strip_prefix('~').unwrap_or(name)),
    }
}

/// Characters a reader does not see (or sees as a space), so they never
/// tell two names apart.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{34f}'
            | '\u{61c}'
            | '\u{115f}'
            | '\u{1160}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
    ) || c.is_control()
}

/// A name as a reader tells it from others: without case, invisible
/// characters, or the number of spaces between words.
fn name_key(name: &str) -> String {
    let visible: String = name
        .chars()
        .filter(|c| !invisible(*c))
        .flat_map(char::to_lowercase)
        .collect();
    visible.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A name that could pass for a label or an id (`alice (irc)`,
/// `@alice:example.org`) is always shown with who it is.
fn looks_like_a_label(name: &str) -> bool {
    let key = name_key(name);
    key.contains(['(', ')', '[', ']'])
        || (key.starts_with('@') && key.contains(':'))
        || key.starts_with("irc:")
}

/// Who the author is, to show beside a name that does not say it alone.
fn qualifier(author_id: &str, name: &str) -> String {
    match author_id.strip_prefix("irc:") {
        Some(nick) if nick.eq_ignore_ascii_case(name.trim()) => "irc".to_owned(),
        Some(unverified) if unverified.starts_with('~') => "irc, no account".to_owned(),
        Some(account) => format!("irc account {account}"),
        None => author_id.to_owned(),
    }
}

/// The names in use: each (by [`name_key`]) with the people using it as a
/// display name, and the people whose id gives it.
#[derive(Default)]
struct Names {
    shown: HashMap<String, BTreeSet<String>>,
    of_ids: HashMap<String, BTreeSet<String>>,
}

impl Names {
    /// The names of these (author id, display name) pairs.
    fn of<'a>(pairs: impl Iterator<Item = &'a (&'a str, &'a str)>) -> Names {
        let mut names = Names::default();
        for (id, name) in pairs {
            let who = identity(id);
            if let Some(user) = user_name(id) {
                names
                    .of_ids
                    .entry(name_key(user))
                    .or_default()
                    .insert(who.clone());
            }
            names.shown.entry(name_key(name)).or_default().insert(who);
        }
        names
    }

    /// Whether `name`, used by `who`, could make a reader think of someone
    /// else.
    fn borrowed(&self, who: &str, name: &str) -> bool {
        let key = name_key(name);
        let others =
            |set: Option<&BTreeSet<String>>| set.is_some_and(|s| s.iter().any(|o| o != who));
        key.is_empty()
            || others(self.shown.get(&key))
            || others(self.of_ids.get(&key))
            || looks_like_a_label(name)
    }
}

/// The first label of `name` for `author_id`.
fn label(names: &Names, author_id: &str, name: &str) -> String {
    if name.trim().is_empty() {
        return author_id.to_owned();
    }
    if names.borrowed(&identity(author_id), name) {
        format!("{name} ({})", qualifier(author_id, name))
    } else {
        name.to_owned()
    }
}

impl Transcript {
    /// Every reply, wherever it was filed.
    pub(crate) fn all_replies(&self) -> impl Iterator<Item = &ReplyEntry> {
        self.unattributed
            .iter()
            .chain(self.questions.iter().flat_map(|q| q.replies.iter()))
    }

    /// How many people answered (by who they are, not by their names).
    pub fn participants(&self) -> usize {
        let ids: HashSet<&str> = self.all_replies().map(|r| r.author_id.as_str()).collect();
        ids.into_iter().map(identity).collect::<HashSet<_>>().len()
    }

    /// Gives every reply its author's label, and every proposal its
    /// proposer's (the same as their answers have): unique within the
    /// transcript (no two people share one), and the bare display name
    /// wherever that cannot be taken for someone else.
    pub fn label_authors(&mut self) {
        // Each author and name once, however many answers and proposals
        // they gave.
        let pairs: HashSet<(&str, &str)> = self
            .all_replies()
            .map(|r| (r.author_id.as_str(), r.author.as_str()))
            .chain(
                self.proposals
                    .iter()
                    // A forgotten proposer is no one's namesake.
                    .filter(|p| !p.proposer_id.is_empty())
                    .map(|p| (p.proposer_id.as_str(), p.proposer.as_str())),
            )
            .collect();
        let names = Names::of(pairs.iter());
        let mut labels: HashMap<(String, String), String> = pairs
            .iter()
            .map(|&(id, name)| ((id.to_owned(), name.to_owned()), label(&names, id, name)))
            .collect();
        // What could still coincide (a name that happens to read like
        // another's label) is told apart by the full id.
        let mut holders: HashMap<String, BTreeSet<String>> = HashMap::new();
        for ((id, _), l) in &labels {
            holders.entry(name_key(l)).or_default().insert(identity(id));
        }
        for ((id, name), l) in &mut labels {
            if holders.get(&name_key(l)).is_some_and(|h| h.len() > 1) {
                *l = format!("{name} ({id})");
            }
        }
        let each = self
            .unattributed
            .iter_mut()
            .chain(self.questions.iter_mut().flat_map(|q| q.replies.iter_mut()));
        let by_pair: HashMap<(&str, &str), &str> = labels
            .iter()
            .map(|((id, name), l)| ((id.as_str(), name.as_str()), l.as_str()))
            .collect();
        for r in each {
            if let Some(l) = by_pair.get(&(r.author_id.as_str(), r.author.as_str())) {
                r.label = (*l).to_owned();
            }
        }
        for p in &mut self.proposals {
            if let Some(l) = by_pair.get(&(p.proposer_id.as_str(), p.proposer.as_str())) {
                p.label = (*l).to_owned();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::QuestionEntry;

    fn reply(id: &str, name: &str, network: &str) -> ReplyEntry {
        ReplyEntry {
            id: format!("${id}{name}"),
            in_reply_to: None,
            author: name.into(),
            author_id: id.into(),
            label: String::new(),
            body: "A1: yes".into(),
            sent_at: "2011-11-01T20:02:00Z".into(),
            network: network.into(),
            room: "#d".into(),
            edited: false,
            action: false,
            attributed_by: "tag".into(),
        }
    }

    fn transcript(replies: Vec<ReplyEntry>) -> Transcript {
        let mut t = Transcript {
            debate: "d".into(),
            title: "D".into(),
            starts_at: "2011-11-01T20:00:00Z".into(),
            timezone: "Europe/London".into(),
            rehearsal: false,
            adhoc: false,
            registered: 0,
            zones: vec!["Europe/London".into()],
            networks: vec!["matrix".into()],
            intro: None,
            questions: vec![QuestionEntry {
                number: 1,
                text: "Q".into(),
                posted_at: Some("2011-11-01T20:00:00Z".into()),
                asked: true,
                replies,
                withdrawn: 0,
            }],
            unattributed: Vec::new(),
            closed_at: None,
            purged_at: None,
            gaps: Vec::new(),
            proposals: Vec::new(),
        };
        t.label_authors();
        t
    }

    fn labels(t: &Transcript) -> Vec<&str> {
        t.all_replies().map(|r| r.label.as_str()).collect()
    }

    #[test]
    fn a_name_nobody_else_uses_is_shown_alone() {
        let t = transcript(vec![
            reply("@alice:example.org", "Alice Smith", "matrix"),
            reply("@bob:example.org", "bob", "matrix"),
            reply("irc:carol", "carol", "irc"),
        ]);
        assert_eq!(labels(&t), ["Alice Smith", "bob", "carol"]);
        assert_eq!(t.participants(), 3);
    }

    #[test]
    fn a_borrowed_name_is_shown_with_who_it_is() {
        // mallory calls herself alice; alice's own display name differs.
        let t = transcript(vec![
            reply("@alice:example.org", "Alice Smith", "matrix"),
            reply("@mallory:example.org", "alice", "matrix"),
        ]);
        assert_eq!(labels(&t), ["Alice Smith", "alice (@mallory:example.org)"]);
        // Both called alice: both shown with their ids, case and invisible
        // characters making no difference.
        let t = transcript(vec![
            reply("@alice:example.org", "alice", "matrix"),
            reply("@mallory:example.org", "Al\u{200b}ice ", "matrix"),
        ]);
        assert_eq!(
            labels(&t),
            [
                "alice (@alice:example.org)",
                "Al\u{200b}ice  (@mallory:example.org)"
            ]
        );
    }

    #[test]
    fn namesakes_on_two_networks_are_told_apart_and_counted_apart() {
        let t = transcript(vec![
            reply("@alice:localhost", "alice", "matrix"),
            reply("irc:alice", "alice", "irc"),
            reply("irc:bob", "alice", "irc"),
            reply("irc:Alice", "Alice", "irc"),
            reply("@dave:localhost", "dave", "matrix"),
        ]);
        assert_eq!(
            labels(&t),
            [
                "alice (@alice:localhost)",
                "alice (irc)",
                "alice (irc account bob)",
                "Alice (irc)",
                "dave"
            ]
        );
        // irc:alice and irc:Alice are one nick.
        assert_eq!(t.participants(), 4);
    }

    #[test]
    fn a_nick_without_an_account_never_passes_for_the_account() {
        // carol is logged in to her account; mallory took the nick carol
        // without one, on a server that has accounts.
        let t = transcript(vec![
            reply("irc:carol", "carol_", "irc"),
            reply("irc:~carol", "carol", "irc"),
        ]);
        assert_eq!(labels(&t), ["carol_", "carol (irc, no account)"]);
        assert_eq!(t.participants(), 2);
    }

    #[test]
    fn a_name_dressed_as_a_label_or_an_id_cannot_pass_for_one() {
        let t = transcript(vec![
            reply("irc:alice", "alice", "irc"),
            reply("@mallory:example.org", "alice (irc)", "matrix"),
            reply("@eve:example.org", "@alice:example.org", "matrix"),
            reply("@blank:example.org", " ", "matrix"),
        ]);
        assert_eq!(
            labels(&t),
            [
                "alice",
                "alice (irc) (@mallory:example.org)",
                "@alice:example.org (@eve:example.org)",
                "@blank:example.org"
            ]
        );
    }

    #[test]
    fn labels_are_unique_whatever_the_names() {
        let names = [
            "a",
            "A",
            "a (irc)",
            "a (@x:y)",
            "x",
            "@x:y",
            "",
            "a\u{202e}",
        ];
        let ids = ["@x:y", "@a:y", "irc:a", "irc:x", "irc:b", "console:a"];
        let mut replies = Vec::new();
        for id in ids {
            for name in names {
                replies.push(reply(id, name, "matrix"));
            }
        }
        let t = transcript(replies);
        let mut by_label: HashMap<&str, BTreeSet<String>> = HashMap::new();
        for r in t.all_replies() {
            by_label
                .entry(r.label.as_str())
                .or_default()
                .insert(identity(&r.author_id));
        }
        for (label, who) in by_label {
            assert_eq!(who.len(), 1, "{label:?} is shared by {who:?}");
        }
    }
}
