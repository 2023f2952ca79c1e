//! The Markdown and plain-text views: for pasting into a blog post, and for
//! a terminal. Chat text in them is harmless: Markdown markup is escaped,
//! control characters and bidirectional overrides are shown as visible
//! stand-ins (see `safe_text`).

use std::fmt::Write as _;

use chrono::DateTime;

use super::{ReplyEntry, Transcript};
use crate::safe_text::neutralise;

/// "Tue 1 Nov 2011 20:00 GMT · DEBATE", and "(rehearsal)" for one.
fn heading(t: &Transcript) -> String {
    let when = DateTime::parse_from_rfc3339(&t.starts_at)
        .map(|at| {
            at.with_timezone(&t.tz())
                .format("%a %-d %b %Y %H:%M %Z")
                .to_string()
        })
        .unwrap_or_else(|_| t.starts_at.clone());
    let rehearsal = if t.rehearsal { " (rehearsal)" } else { "" };
    format!("{when} · {}{rehearsal}", neutralise(&t.debate))
}

fn purged(t: &Transcript) -> Option<String> {
    t.purged_at.as_ref().map(|at| {
        format!(
            "The answers were removed on {} (the retention period had passed).",
            at.get(..10).unwrap_or(at)
        )
    })
}

pub fn markdown(t: &Transcript) -> String {
    let mut out = format!("# {}\n\n{}\n", md_escape(&t.title), heading(t));
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
        let edited = if r.edited { " (edited)" } else { "" };
        let _ = writeln!(
            out,
            "- **{}** ({}){edited}: {}",
            md_escape(&r.author),
            t.local(&r.sent_at),
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
    }
    out
}

pub fn plain(t: &Transcript) -> String {
    let mut out = format!("{}\n{}\n", neutralise(&t.title), heading(t));
    if let Some(note) = purged(t) {
        let _ = writeln!(out, "{note}");
    }
    for g in &t.gaps {
        let _ = writeln!(out, "{}", t.gap_sentence(g));
    }
    let reply = |out: &mut String, r: &ReplyEntry| {
        let _ = writeln!(
            out,
            "  [{}] {}: {}",
            t.local(&r.sent_at),
            neutralise(&r.author),
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
