//! The transcript as a web page: server-rendered from a compile-time
//! checked template (askama) that escapes everything it is given, with
//! nothing loaded from elsewhere and no script (a live page served by
//! Podium loads Podium's own, see [`Live`]; one standing alone never
//! does). The content is in `<main id="transcript">`, what a live page
//! puts in place when it changes. Chat text is also passed
//! through `safe_text` (control characters and bidirectional overrides
//! shown, not obeyed) and set in `<bdi>`, so no answer can reorder the
//! page around it. Two views of one transcript: by question (answers that
//! reply to an answer under it) and in time order; both end with the
//! questions proposed from the floor, if there were any.

use std::borrow::Cow;
use std::collections::HashMap;

use askama::Template;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{ProposalEntry, ReplyEntry, Transcript, charts, local_time};
use crate::safe_text::neutralise;

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
    /// Set while the debate runs and the page is served: the page then
    /// keeps itself up to date (a same-origin script, or a refresh every
    /// 30 s without scripts). Never for a page that stands alone.
    pub live: Option<Live>,
}

/// What a live page needs to keep itself up to date.
#[derive(Clone, Debug)]
pub struct Live {
    /// The script (same origin, relative).
    pub script: String,
    /// The page's event stream (relative, with the key of a private page).
    pub events: String,
    /// The state of the transcript the page shows (see
    /// `transcript::State::version`): the stream announces newer ones.
    pub version: String,
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
            formats: ["json", "md", "txt", "log"]
                .into_iter()
                .map(|f| (f, format!("./{date}.{f}{q}")))
                .collect(),
            live: None,
        }
    }
}

/// One answer as the page shows it (borrowing the transcript's text
/// where nothing needs neutralising).
struct Answer<'a> {
    who: Who<'a>,
    time: String,
    body: Cow<'a, str>,
    edited: bool,
    action: bool,
    /// Answers replying to this one.
    replies: Vec<Answer<'a>>,
}

/// Who wrote an answer: their label (unique within the transcript), their
/// id (shown on hover, and in small text where the label does not hold
/// it), and the network in a debate held on more than one.
struct Who<'a> {
    label: Cow<'a, str>,
    id: Cow<'a, str>,
    show_id: bool,
    network: Option<&'static str>,
}

impl<'a> Who<'a> {
    fn of(t: &Transcript, r: &'a ReplyEntry) -> Who<'a> {
        Who {
            label: neutralise(&r.label),
            id: neutralise(&r.author_id),
            show_id: !r.label.contains(r.author_id.as_str()),
            network: t.network_mark(r),
        }
    }
}

impl<'a> Who<'a> {
    fn proposer(t: &Transcript, p: &'a ProposalEntry) -> Who<'a> {
        Who {
            label: neutralise(&p.label),
            id: neutralise(&p.proposer_id),
            show_id: !p.label.contains(p.proposer_id.as_str()),
            network: t.proposal_mark(p),
        }
    }
}

/// A question proposed from the floor, as the page lists it.
struct Proposal<'a> {
    number: u32,
    /// "3 votes".
    votes: String,
    /// The question it was asked as, if it was.
    asked_as: Option<u32>,
    /// Whether the page has that question's section to link to.
    linked: bool,
    text: Cow<'a, str>,
    who: Who<'a>,
}

struct Section<'a> {
    anchor: String,
    heading: String,
    text: Cow<'a, str>,
    note: String,
    answers: Vec<Answer<'a>>,
}

/// An entry of the time-ordered view.
struct Moment<'a> {
    time: String,
    kind: Kind<'a>,
    text: Cow<'a, str>,
}

enum Kind<'a> {
    /// `heading` is `Q2`.
    Question { heading: String },
    Answer {
        who: Who<'a>,
        /// The number of the question it was filed under.
        under: Option<u32>,
        edited: bool,
        action: bool,
    },
    /// Podium was disconnected from here on (the text says until when).
    Gap,
    /// The closing was posted: later answers came in the collect grace.
    Closing,
}

#[derive(Template)]
#[template(path = "transcript.html")]
struct Page<'a> {
    title: String,
    subtitle: String,
    when: String,
    intro: Option<String>,
    /// "12 answers from 5 participants" (and where, across networks).
    summary: String,
    purged: Option<String>,
    /// When Podium was disconnected (answers sent then are missing).
    gaps: Vec<String>,
    by_question: bool,
    /// Only the view's own list is filled: `sections` by question,
    /// `moments` in time order.
    sections: Vec<Section<'a>>,
    moments: Vec<Moment<'a>>,
    /// Questions from the floor, in number order.
    proposals: Vec<Proposal<'a>>,
    per_question: String,
    per_minute: String,
    links: &'a Links,
}

/// The page for `t` in `view`.
pub fn page<'a>(t: &'a Transcript, view: View, links: &'a Links) -> String {
    let zone = t.tz();
    let start = DateTime::parse_from_rfc3339(&t.starts_at)
        .map(|s| s.with_timezone(&Utc))
        .unwrap_or_default();
    let all: Vec<&ReplyEntry> = t.all_replies().collect();
    let page = Page {
        title: neutralise(&t.title).into_owned(),
        subtitle: format!(
            "{}{}{}",
            neutralise(&t.debate),
            if t.rehearsal { " · rehearsal" } else { "" },
            if t.adhoc { " · ad hoc" } else { "" }
        ),
        when: t.when(),
        intro: t.intro.as_deref().map(|i| neutralise(i).into_owned()),
        summary: t.summary(),
        purged: t.purged_at.as_ref().map(|at| {
            format!(
                "The answers were removed on {} (the retention period had passed).",
                at.get(..10).unwrap_or(at)
            )
        }),
        gaps: t.gaps.iter().map(|g| t.gap_sentence(g)).collect(),
        by_question: view == View::ByQuestion,
        sections: match view {
            View::ByQuestion => sections(t, zone),
            View::Chronological => Vec::new(),
        },
        moments: match view {
            View::ByQuestion => Vec::new(),
            View::Chronological => moments(t, zone, &all),
        },
        proposals: proposals(t, view),
        per_question: charts::per_question(
            &t.questions
                .iter()
                .map(|q| (format!("Q{}", q.number), q.replies.len()))
                .collect::<Vec<_>>(),
        ),
        per_minute: charts::per_minute(&per_minute(start, &all)),
        links,
    };
    // The answers' text and about 200 bytes of markup around each: the
    // page is written once, without growing (and copying) as it goes.
    let size = 32 * 1024
        + all
            .iter()
            .map(|r| r.body.len() + 2 * r.label.len() + r.author_id.len() + 200)
            .sum::<usize>()
        + t.proposals
            .iter()
            .map(|p| p.text.len() + 2 * p.label.len() + p.proposer_id.len() + 200)
            .sum::<usize>();
    let mut out = String::with_capacity(size);
    match page.render_into(&mut out) {
        Ok(()) => out,
        Err(e) => format!("<!doctype html><title>Transcript</title><p>{e}"),
    }
}

fn answer<'a>(t: &Transcript, zone: Tz, r: &'a ReplyEntry) -> Answer<'a> {
    Answer {
        who: Who::of(t, r),
        time: local_time(zone, &r.sent_at),
        body: neutralise(&r.body),
        edited: r.edited,
        action: r.action,
        replies: Vec::new(),
    }
}

/// A question's answers, each reply to an answer placed under the answer
/// it replies to (one level: a reply to a reply joins the same thread).
fn threaded<'a>(t: &Transcript, zone: Tz, replies: &'a [ReplyEntry]) -> Vec<Answer<'a>> {
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
    let mut top: Vec<Answer> = Vec::new();
    // Where in `top` each top-level answer is, by its index in `replies`.
    let mut placed: HashMap<usize, usize> = HashMap::new();
    for (i, r) in replies.iter().enumerate() {
        let a = answer(t, zone, r);
        let parent = root(i);
        match placed.get(&parent) {
            Some(&p) if parent != i => top[p].replies.push(a),
            _ => {
                placed.insert(i, top.len());
                top.push(a);
            }
        }
    }
    top
}

fn sections(t: &Transcript, zone: Tz) -> Vec<Section<'_>> {
    let mut out = Vec::new();
    if !t.unattributed.is_empty() {
        out.push(Section {
            anchor: "before".into(),
            heading: "Before the first question".into(),
            text: Cow::Borrowed(""),
            note: String::new(),
            answers: threaded(t, zone, &t.unattributed),
        });
    }
    for q in &t.questions {
        let mut note = match &q.posted_at {
            Some(at) => format!("Asked at {}", local_time(zone, at)),
            None if !q.asked => "Not asked during the debate".into(),
            None => String::new(),
        };
        if let Some(w) = super::withdrawn_note(q.withdrawn) {
            if !note.is_empty() {
                note.push_str(" · ");
            }
            note.push_str(&w);
        }
        out.push(Section {
            anchor: format!("q{}", q.number),
            heading: format!("Q{}", q.number),
            text: neutralise(&q.text),
            note,
            answers: threaded(t, zone, &q.replies),
        });
    }
    out
}

fn proposals(t: &Transcript, view: View) -> Vec<Proposal<'_>> {
    t.proposals
        .iter()
        .map(|p| Proposal {
            number: p.number,
            votes: p.votes_text(),
            asked_as: p.asked_as,
            linked: view == View::ByQuestion
                && p.asked_as
                    .is_some_and(|n| t.questions.iter().any(|q| q.number == n)),
            text: neutralise(&p.text),
            who: Who::proposer(t, p),
        })
        .collect()
}

fn moments<'a>(t: &'a Transcript, zone: Tz, all: &[&'a ReplyEntry]) -> Vec<Moment<'a>> {
    let mut list: Vec<(&str, Moment)> = Vec::with_capacity(t.questions.len() + all.len() + 1);
    let at = |rfc: &'a str, kind: Kind<'a>, text: Cow<'a, str>| {
        let time = local_time(zone, rfc);
        (rfc, Moment { time, kind, text })
    };
    for q in &t.questions {
        if let Some(posted) = &q.posted_at {
            let heading = format!("Q{}", q.number);
            list.push(at(posted, Kind::Question { heading }, neutralise(&q.text)));
        }
    }
    let under: HashMap<&str, u32> = t
        .questions
        .iter()
        .flat_map(|q| q.replies.iter().map(move |r| (r.id.as_str(), q.number)))
        .collect();
    for r in all {
        let kind = Kind::Answer {
            who: Who::of(t, r),
            under: under.get(r.id.as_str()).copied(),
            edited: r.edited,
            action: r.action,
        };
        list.push(at(&r.sent_at, kind, neutralise(&r.body)));
    }
    // After what was sent in the second a gap began: that still arrived.
    for g in &t.gaps {
        list.push(at(&g.from, Kind::Gap, Cow::Owned(t.gap_sentence(g))));
    }
    if let Some(closed) = &t.closed_at {
        let text = Cow::Borrowed("The debate closed.");
        list.push(at(closed, Kind::Closing, text));
    }
    // Stable: a question comes before answers sent in the same second,
    // answers before the closing sent in it.
    list.sort_by(|a, b| a.0.cmp(b.0));
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
