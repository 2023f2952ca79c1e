//! The transcript as a web page: server-rendered from a compile-time
//! checked template (askama) that escapes everything it is given, with no
//! script and nothing loaded from elsewhere. Chat text is also passed
//! through `safe_text` (control characters and bidirectional overrides
//! shown, not obeyed) and set in `<bdi>`, so no answer can reorder the
//! page around it. Two views of one transcript: by question (answers that
//! reply to an answer under it) and in time order.

use std::collections::HashMap;

use askama::Template;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{ReplyEntry, Transcript, charts};
use crate::safe_text::neutralise;
use crate::schedule::zones;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    ByQuestion,
    Chronological,
}

/// Where the page's other views are (relative links); empty when the page
/// stands alone (`podium transcript --format html`).
#[derive(Clone, Debug, Default)]
pub struct Links {
    pub by_question: String,
    pub chronological: String,
    pub formats: Vec<(&'static str, String)>,
}

impl Links {
    pub fn standalone() -> Links {
        Links::default()
    }

    /// Links for the page of `date`, keeping `?key=` for a private one.
    pub fn served(date: &str, key: Option<&str>) -> Links {
        let q = key.map(|k| format!("?key={k}")).unwrap_or_default();
        Links {
            by_question: format!("./{date}{q}"),
            chronological: format!("./{date}/time{q}"),
            formats: ["json", "md", "txt"]
                .into_iter()
                .map(|f| (f, format!("./{date}.{f}{q}")))
                .collect(),
        }
    }
}

/// One answer as the page shows it.
struct Answer {
    author: String,
    time: String,
    body: String,
    edited: bool,
    /// Answers replying to this one.
    replies: Vec<Answer>,
}

struct Section {
    anchor: String,
    heading: String,
    text: String,
    note: String,
    answers: Vec<Answer>,
}

/// An entry of the time-ordered view.
struct Moment {
    time: String,
    /// `Q2`, or the author of an answer.
    who: String,
    text: String,
    question: bool,
    /// Podium was disconnected from here on (`text` says until when).
    gap: bool,
    /// For an answer: the question it was filed under.
    under: String,
    edited: bool,
}

#[derive(Template)]
#[template(path = "transcript.html")]
struct Page<'a> {
    title: String,
    subtitle: String,
    when: String,
    intro: Option<String>,
    purged: Option<String>,
    /// When Podium was disconnected (answers sent then are missing).
    gaps: Vec<String>,
    by_question: bool,
    sections: Vec<Section>,
    moments: Vec<Moment>,
    participants: usize,
    answers: usize,
    per_question: String,
    per_minute: String,
    links: &'a Links,
}

/// The page for `t` in `view`.
pub fn page(t: &Transcript, view: View, links: &Links) -> String {
    let zone = t.tz();
    let start = DateTime::parse_from_rfc3339(&t.starts_at)
        .map(|s| s.with_timezone(&Utc))
        .unwrap_or_default();
    let shown: Vec<Tz> = t.zones.iter().filter_map(|z| z.parse().ok()).collect();
    let all: Vec<&ReplyEntry> = t
        .unattributed
        .iter()
        .chain(t.questions.iter().flat_map(|q| q.replies.iter()))
        .collect();
    let participants = {
        let mut ids: Vec<&str> = all.iter().map(|r| r.author_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    };
    let page = Page {
        title: neutralise(&t.title).into_owned(),
        subtitle: format!(
            "{}{}",
            neutralise(&t.debate),
            if t.rehearsal { " · rehearsal" } else { "" }
        ),
        when: zones::time_line(start, zone, &shown).render(),
        intro: t.intro.as_deref().map(|i| neutralise(i).into_owned()),
        purged: t.purged_at.as_ref().map(|at| {
            format!(
                "The answers were removed on {} (the retention period had passed).",
                at.get(..10).unwrap_or(at)
            )
        }),
        gaps: t.gaps.iter().map(|g| t.gap_sentence(g)).collect(),
        by_question: view == View::ByQuestion,
        sections: sections(t),
        moments: moments(t, &all),
        participants,
        answers: all.len(),
        per_question: charts::per_question(
            &t.questions
                .iter()
                .map(|q| (format!("Q{}", q.number), q.replies.len()))
                .collect::<Vec<_>>(),
        ),
        per_minute: charts::per_minute(&per_minute(start, &all)),
        links,
    };
    page.render()
        .unwrap_or_else(|e| format!("<!doctype html><title>Transcript</title><p>{e}"))
}

fn answer(t: &Transcript, r: &ReplyEntry) -> Answer {
    Answer {
        author: neutralise(&r.author).into_owned(),
        time: t.local(&r.sent_at),
        body: neutralise(&r.body).into_owned(),
        edited: r.edited,
        replies: Vec::new(),
    }
}

/// A question's answers, each reply to an answer placed under the answer
/// it replies to (one level: a reply to a reply joins the same thread).
fn threaded(t: &Transcript, replies: &[ReplyEntry]) -> Vec<Answer> {
    let index: HashMap<&str, usize> = replies
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    // The top-level answer each reply belongs under, if any.
    let root = |mut i: usize| {
        for _ in 0..replies.len() {
            match replies[i].in_reply_to.as_deref().and_then(|p| index.get(p)) {
                Some(&p) if p != i => i = p,
                _ => break,
            }
        }
        i
    };
    let mut top: Vec<(usize, Answer)> = Vec::new();
    for (i, r) in replies.iter().enumerate() {
        let a = answer(t, r);
        let parent = root(i);
        match top.iter_mut().find(|(j, _)| *j == parent) {
            Some((_, p)) if parent != i => p.replies.push(a),
            _ => top.push((i, a)),
        }
    }
    top.into_iter().map(|(_, a)| a).collect()
}

fn sections(t: &Transcript) -> Vec<Section> {
    let mut out = Vec::new();
    if !t.unattributed.is_empty() {
        out.push(Section {
            anchor: "before".into(),
            heading: "Before the first question".into(),
            text: String::new(),
            note: String::new(),
            answers: threaded(t, &t.unattributed),
        });
    }
    for q in &t.questions {
        let note = match &q.posted_at {
            Some(at) => format!("Asked at {}", t.local(at)),
            None if !q.asked => "Not asked during the debate".into(),
            None => String::new(),
        };
        out.push(Section {
            anchor: format!("q{}", q.number),
            heading: format!("Q{}", q.number),
            text: neutralise(&q.text).into_owned(),
            note,
            answers: threaded(t, &q.replies),
        });
    }
    out
}

fn moments(t: &Transcript, all: &[&ReplyEntry]) -> Vec<Moment> {
    let mut list: Vec<(String, Moment)> = Vec::new();
    for q in &t.questions {
        if let Some(at) = &q.posted_at {
            list.push((
                at.clone(),
                Moment {
                    time: t.local(at),
                    who: format!("Q{}", q.number),
                    text: neutralise(&q.text).into_owned(),
                    question: true,
                    gap: false,
                    under: String::new(),
                    edited: false,
                },
            ));
        }
    }
    let under: HashMap<&str, String> = t
        .questions
        .iter()
        .flat_map(|q| {
            q.replies
                .iter()
                .map(move |r| (r.id.as_str(), format!("Q{}", q.number)))
        })
        .collect();
    for r in all {
        list.push((
            r.sent_at.clone(),
            Moment {
                time: t.local(&r.sent_at),
                who: neutralise(&r.author).into_owned(),
                text: neutralise(&r.body).into_owned(),
                question: false,
                gap: false,
                under: under.get(r.id.as_str()).cloned().unwrap_or_default(),
                edited: r.edited,
            },
        ));
    }
    // After what was sent in the second a gap began: that still arrived.
    for g in &t.gaps {
        list.push((
            g.from.clone(),
            Moment {
                time: t.local(&g.from),
                who: String::new(),
                text: t.gap_sentence(g),
                question: false,
                gap: true,
                under: String::new(),
                edited: false,
            },
        ));
    }
    // Stable: a question comes before answers sent in the same second.
    list.sort_by(|a, b| a.0.cmp(&b.0));
    list.into_iter().map(|(_, m)| m).collect()
}

/// Answers per minute from `start`, over the span that has answers.
fn per_minute(start: DateTime<Utc>, all: &[&ReplyEntry]) -> Vec<usize> {
    let minutes: Vec<usize> = all
        .iter()
        .filter_map(|r| DateTime::parse_from_rfc3339(&r.sent_at).ok())
        .map(|at| usize::try_from((at.with_timezone(&Utc) - start).num_minutes()).unwrap_or(0))
        .collect();
    let span = minutes
        .iter()
        .copied()
        .max()
        .map_or(0, |m| m + 1)
        .min(24 * 60);
    let mut counts = vec![0; span];
    for m in minutes {
        if let Some(c) = counts.get_mut(m) {
            *c += 1;
        }
    }
    counts
}
