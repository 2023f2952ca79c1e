//! The Markdown and plain-text views: for pasting into a blog post, and for
//! a terminal. Chat text in them is harmless: Markdown markup is escaped,
//! control characters and bidirectional overrides are shown as visible
//! stand-ins (see `safe_text`).

use std::fmt::Write as _;

use super::{ProposalEntry, ReplyEntry, Transcript, withdrawn_note};
use crate::safe_text::neutralise;

/// "DEBATE · Tue 1 Nov 2011 20:00 London · 16:00 New York" (the start in
/// every shown zone, as announcements give it), "(rehearsal)" for one,
/// "(ad hoc)" for one started with `!debate`.
fn heading(t: &Transcript) -> String {
    let rehearsal = if t.rehearsal { " (rehearsal)" } else { "" };
    let adhoc = if t.adhoc { " (ad hoc)" } else { "" };
    format!("{}{rehearsal}{adhoc} · {}", neutralise(&t.debate), t.when())
}

/// What follows an answer's time: ` (edited)`, and ` (action)` for `/me`.
fn marks(r: &ReplyEntry) -> String {
    let mut out = String::new();
    if r.edited {
        out.push_str(" (edited)");
    }
    if r.action {
        out.push_str(" (action)");
    }
    out
}

/// What follows an answer's author: ` · IRC`, the network, in a debate
/// held on more than one.
fn network(t: &Transcript, r: &ReplyEntry) -> String {
    t.network_mark(r)
        .map(|n| format!(" · {n}"))
        .unwrap_or_default()
}

/// What follows a proposer: ` · IRC`, as for an answer's author.
fn proposal_network(t: &Transcript, p: &ProposalEntry) -> String {
    t.proposal_mark(p)
        .map(|n| format!(" · {n}"))
        .unwrap_or_default()
}

/// The heading of the proposals, after the questions.
const FLOOR: &str = "Questions from the floor";

fn purged(t: &Transcript) -> Option<String> {
    t.purged_at.as_ref().map(|at| {
        format!(
            "The answers were removed on {} (the retention period had passed).",
            at.get(..10).unwrap_or(at)
        )
    })
}

pub fn markdown(t: &Transcript) -> String {
    let mut out = format!(
        "# {}\n\n{}\n\n{}.\n",
        md_escape(&t.title),
        md_escape(&heading(t)),
        t.summary()
    );
    if let Some(note) = purged(t) {
        let _ = write!(out, "\n_{note}_\n");
    }
    if !t.gaps.is_empty() {
        let notes: Vec<String> = t
            .gaps
            .iter()
            .map(|g| format!("> {}", md_escape(&t.gap_sentence(g))))
            .collect();
        let _ = write!(out, "\n{}\n", notes.join("\n>\n"));
    }
    let reply = |out: &mut String, r: &ReplyEntry| {
        let _ = writeln!(
            out,
            "- **{}**{} ({}){}: {}",
            md_escape(&r.label),
            network(t, r),
            t.local(&r.sent_at),
            marks(r),
            md_escape(&r.body).replace('\n', "\n  ")
        );
    };
    if !t.unattributed.is_empty() {
        out.push_str("\n## Before the first question\n\n");
        for r in &t.unattributed {
            reply(&mut out, r);
        }
    }
    for q in &t.questions {
        let _ = write!(out, "\n## Q{}: {}\n\n", q.number, md_escape(&q.text));
        match &q.posted_at {
            Some(at) => {
                let _ = writeln!(out, "_Asked at {}_\n", t.local(at));
            }
            None if !q.asked => out.push_str("_Not asked during the debate_\n\n"),
            None => {}
        }
        if q.replies.is_empty() {
            out.push_str("No answers.\n");
        }
        for r in &q.replies {
            reply(&mut out, r);
        }
        if let Some(note) = withdrawn_note(q.withdrawn) {
            let _ = writeln!(out, "\n_{note}._");
        }
    }
    if !t.proposals.is_empty() {
        let _ = write!(out, "\n## {FLOOR}\n\n");
        for p in &t.proposals {
            let _ = writeln!(
                out,
                "- {} — “{}” — proposed by {}{}",
                p.status(),
                md_escape(&p.text).replace('\n', "\n  "),
                md_escape(&p.label),
                proposal_network(t, p)
            );
        }
    }
    out
}

pub fn plain(t: &Transcript) -> String {
    let mut out = format!(
        "{}\n{}\n{}.\n",
        neutralise(&t.title),
        heading(t),
        t.summary()
    );
    if let Some(note) = purged(t) {
        let _ = writeln!(out, "{note}");
    }
    for g in &t.gaps {
        let _ = writeln!(out, "{}", t.gap_sentence(g));
    }
    let reply = |out: &mut String, r: &ReplyEntry| {
        let _ = writeln!(
            out,
            "  [{}] {}{}{}: {}",
            t.local(&r.sent_at),
            neutralise(&r.label),
            network(t, r),
            marks(r),
            neutralise(&r.body)
        );
    };
    if !t.unattributed.is_empty() {
        out.push_str("\nBefore the first question\n");
        for r in &t.unattributed {
            reply(&mut out, r);
        }
    }
    for q in &t.questions {
        let not_asked = if q.asked { "" } else { " (not asked)" };
        let _ = writeln!(out, "\nQ{}{not_asked}: {}", q.number, neutralise(&q.text));
        for r in &q.replies {
            reply(&mut out, r);
        }
        if let Some(note) = withdrawn_note(q.withdrawn) {
            let _ = writeln!(out, "  ({note})");
        }
    }
    if !t.proposals.is_empty() {
        let _ = writeln!(out, "\n{FLOOR}");
        for p in &t.proposals {
            let _ = writeln!(
                out,
                "  {} — “{}” — proposed by {}{}",
                p.status(),
                neutralise(&p.text),
                neutralise(&p.label),
                proposal_network(t, p)
            );
        }
    }
    out
}

/// Escapes the characters that would turn chat text into Markdown markup,
/// and neutralises control characters.
fn md_escape(s: &str) -> String {
    let s = neutralise(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\`*_[]<>#|".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
