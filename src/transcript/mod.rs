//! Transcripts: one model built from the store; the web page (HTML),
//! Markdown, plain text and JSON are views of it.

mod address;
mod authors;
mod charts;
mod gaps;
pub mod html;
pub mod log;
mod text;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::Serialize;

pub use self::address::{
    find, find_rehearsal, keyed_url, public_now, rehearsal_stamp, url, url_now, url_of,
};
pub use self::gaps::{Gap, State, collecting, fingerprint, state};
use crate::store::{
    self, OccurrenceRow, PostKind, PostRow, PostStatus, ProposalRow, ReplyRow, Store,
};

/// The JSON shape is a contract (see README): `debate`, `title`,
/// `starts_at`, `questions` (with `number`, `text`, `posted_at`, `replies`)
/// and `unattributed`; the other keys are extras. `proposals` is left out
/// of a debate without any, so it looks as it did before there were.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Transcript {
    pub debate: String,
    pub title: String,
    pub starts_at: String,
    pub timezone: String,
    pub rehearsal: bool,
    /// Started in its room with `!debate`, not from the schedule.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub adhoc: bool,
    /// How many registered for it (`!rsvp`); never who.
    #[serde(skip_serializing_if = "is_zero")]
    pub registered: u32,
    /// The zones the start is shown in (the debate's own first).
    pub zones: Vec<String>,
    /// The networks the debate was held on (`irc`, `matrix`): with more
    /// than one, every view marks each answer's.
    pub networks: Vec<String>,
    /// The intro as it was posted, if it was.
    pub intro: Option<String>,
    pub questions: Vec<QuestionEntry>,
    /// Replies before Q1 (answers to the intro).
    pub unattributed: Vec<ReplyEntry>,
    /// When the closing was posted (or `!end` ended the debate), if it was.
    pub closed_at: Option<String>,
    /// When the retention period removed the answers, if it did.
    pub purged_at: Option<String>,
    /// When Podium was disconnected from a network the debate was held on
    /// that keeps no history (IRC): answers sent then are missing.
    pub gaps: Vec<Gap>,
    /// Questions from the floor (`!propose`), in number order (P1, P2...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub proposals: Vec<ProposalEntry>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct QuestionEntry {
    pub number: u32,
    pub text: String,
    pub posted_at: Option<String>,
    /// False for a question that was never posted (the debate ended first,
    /// or it fell due while Podium was down) but was answered by number.
    pub asked: bool,
    pub replies: Vec<ReplyEntry>,
    /// Answers removed since (deleted, or erased by `!forget`): counted,
    /// never shown.
    #[serde(skip_serializing_if = "is_zero")]
    pub withdrawn: u32,
}

// serde's `skip_serializing_if` takes a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// "1 answer was withdrawn", for a question whose answers were removed.
pub(crate) fn withdrawn_note(n: u32) -> Option<String> {
    match n {
        0 => None,
        1 => Some("1 answer was withdrawn".to_owned()),
        n => Some(format!("{n} answers were withdrawn")),
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ReplyEntry {
    /// The network's id for the message.
    pub id: String,
    /// The network id of the message this one replies to.
    pub in_reply_to: Option<String>,
    /// The display name the author had.
    pub author: String,
    pub author_id: String,
    /// How every view names the author: unique within the transcript (see
    /// `authors`), the display name alone where it cannot be taken for
    /// someone else's.
    pub label: String,
    pub body: String,
    pub sent_at: String,
    pub network: String,
    pub room: String,
    pub edited: bool,
    /// An action (`/me waves`).
    pub action: bool,
    /// tag, reply, latest or intro: how the question was decided.
    pub attributed_by: String,
}

/// A question proposed from the floor during the debate (`!propose`), with
/// the votes it had and, if an organiser asked it, the question it became.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ProposalEntry {
    /// `2` for P2: numbered across the debate's rooms and networks.
    pub number: u32,
    pub text: String,
    /// The display name the proposer had.
    pub proposer: String,
    pub proposer_id: String,
    /// How every view names the proposer: the same label as their answers
    /// have (see `authors`), unique within the transcript.
    pub label: String,
    /// The network it was proposed on (`irc`, `matrix`).
    pub network: String,
    pub proposed_at: String,
    pub votes: u32,
    /// The number of the question it was asked as (`4` for Q4), if it was.
    pub asked_as: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The web page, self-contained: publishable as a static file.
    Html,
    Md,
    Txt,
    Json,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Builds the transcript of one stored occurrence as it stands at `now`
/// (which bounds the gaps of a debate still running). Deleted replies are
/// left out; edited ones show their latest text.
///
/// # Errors
/// Store failures.
pub async fn build(
    store: &Store,
    occ: &OccurrenceRow,
    now: DateTime<Utc>,
) -> store::Result<Transcript> {
    let posts = store.posts(occ.id).await?;
    let gaps = gaps::gaps(store, occ, &posts, now).await?;
    let mut questions = asked_questions(&posts);
    let mut replies = store.replies(occ.id).await?;
    let withdrawn: Vec<u32> = replies
        .iter()
        .filter(|r| r.deleted_at.is_some())
        .filter_map(|r| r.question)
        .collect();
    replies.retain(|r| r.deleted_at.is_none());
    // An answer tagged with the number of a question that was never posted
    // (A3: after an early `!end`) belongs under that question, shown as not
    // asked, not among the replies before Q1.
    for n in replies.iter().filter_map(|r| r.question) {
        if n > 0 && !questions.iter().any(|q| q.number == n) {
            questions.push(QuestionEntry {
                number: n,
                text: usize::try_from(n - 1)
                    .ok()
                    .and_then(|i| occ.questions.get(i))
                    .cloned()
                    .unwrap_or_default(),
                posted_at: None,
                asked: false,
                replies: Vec::new(),
                withdrawn: 0,
            });
        }
    }
    for n in withdrawn {
        if let Some(q) = questions.iter_mut().find(|q| q.number == n) {
            q.withdrawn += 1;
        }
    }
    questions.sort_by_key(|q| q.number);
    let mut unattributed = Vec::new();
    replies.sort_by_key(|r| (r.server_ts.unwrap_or(r.received_at), r.id));
    for r in replies {
        let question = r.question;
        let entry = ReplyEntry::from(r);
        match question.and_then(|n| questions.iter_mut().find(|q| q.number == n)) {
            Some(q) => q.replies.push(entry),
            None => unattributed.push(entry),
        }
    }
    questions.retain(|q| q.posted_at.is_some() || !q.replies.is_empty());
    let mut proposals: Vec<ProposalEntry> = store
        .proposals(occ.id)
        .await?
        .into_iter()
        // Withdrawn by its proposer: erased, like a deleted answer.
        .filter(|p| p.withdrawn_at.is_none())
        .map(ProposalEntry::from)
        .collect();
    proposals.sort_by_key(|p| p.number);
    let intro = posts
        .iter()
        .find(|p| p.kind == PostKind::Intro && p.status == PostStatus::Sent)
        .map(|p| p.body.clone());
    let mut zones = occ.zones.clone();
    if zones.is_empty() {
        zones.push(occ.timezone.clone());
    }
    let closed_at = posts
        .iter()
        .filter(|p| p.kind == PostKind::Closing && p.status == PostStatus::Sent)
        .filter_map(|p| p.sent_at)
        .min()
        .or(occ.ended_at)
        .map(rfc3339);
    let networks = networks(&posts, &questions, &unattributed, &proposals);
    let mut t = Transcript {
        debate: occ.debate.clone(),
        title: occ.title.clone(),
        starts_at: rfc3339(occ.scheduled_start),
        timezone: occ.timezone.clone(),
        rehearsal: occ.rehearsal,
        adhoc: store.is_adhoc(&occ.debate).await?,
        registered: u32::try_from(store.registered(occ.id).await?).unwrap_or(u32::MAX),
        zones,
        networks,
        intro,
        questions,
        unattributed,
        closed_at,
        purged_at: occ.purged_at.map(rfc3339),
        gaps,
        proposals,
    };
    t.label_authors();
    Ok(t)
}

/// The networks of the rooms the debate was posted in, of the replies and
/// of the proposals.
fn networks(
    posts: &[PostRow],
    questions: &[QuestionEntry],
    unattributed: &[ReplyEntry],
    proposals: &[ProposalEntry],
) -> Vec<String> {
    let posted = posts
        .iter()
        .filter_map(|p| p.room.parse::<crate::domain::Room>().ok())
        .map(|r| r.network().as_str().to_owned());
    let replied = unattributed
        .iter()
        .chain(questions.iter().flat_map(|q| q.replies.iter()))
        .map(|r| r.network.clone());
    let proposed = proposals.iter().map(|p| p.network.clone());
    let all: std::collections::BTreeSet<String> = posted.chain(replied).chain(proposed).collect();
    all.into_iter().collect()
}

/// Every question that was, or may have been, asked, once each, with the
/// first time it was posted in any room: one that was skipped after a
/// restart can still have answers (tagged A3: ...).
fn asked_questions(posts: &[PostRow]) -> Vec<QuestionEntry> {
    let mut questions: Vec<QuestionEntry> = Vec::new();
    for p in posts
        .iter()
        .filter(|p| p.kind == PostKind::Question && p.status != PostStatus::Failed)
    {
        let number = u32::try_from(p.seq).unwrap_or(0);
        let posted = p
            .sent_at
            .filter(|_| p.status == PostStatus::Sent)
            .map(rfc3339);
        match questions.iter_mut().find(|q| q.number == number) {
            Some(q) => {
                if posted.is_some() && (q.posted_at.is_none() || posted < q.posted_at) {
                    q.posted_at = posted;
                    q.asked = true;
                }
            }
            None => questions.push(QuestionEntry {
                number,
                text: p.question_text.clone().unwrap_or_default(),
                asked: posted.is_some(),
                posted_at: posted,
                replies: Vec::new(),
                withdrawn: 0,
            }),
        }
    }
    questions
}

impl From<ReplyRow> for ReplyEntry {
    fn from(r: ReplyRow) -> Self {
        ReplyEntry {
            id: r.network_id,
            in_reply_to: r.in_reply_to,
            label: r.sender_name.clone(),
            author: r.sender_name,
            author_id: r.sender_id,
            body: r.body,
            sent_at: rfc3339(r.server_ts.unwrap_or(r.received_at)),
            network: r.network,
            room: r.room,
            edited: r.edited_at.is_some(),
            action: r.action,
            attributed_by: r.attributed_by,
        }
    }
}

/// Who proposed a question, once they asked to be forgotten.
pub(crate) const FORGOTTEN: &str = "a participant who has since been forgotten";

impl From<ProposalRow> for ProposalEntry {
    fn from(p: ProposalRow) -> Self {
        let count = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
        // Its proposer asked to be forgotten (`!forget`) after it was asked.
        let proposer = if p.proposer_id.is_empty() {
            FORGOTTEN.to_owned()
        } else {
            p.proposer_name
        };
        ProposalEntry {
            number: count(p.number),
            text: p.text,
            label: proposer.clone(),
            proposer,
            proposer_id: p.proposer_id,
            network: p.network,
            proposed_at: rfc3339(p.proposed_at),
            votes: count(p.votes),
            asked_as: p.asked_as.and_then(|n| u32::try_from(n).ok()),
        }
    }
}

impl ProposalEntry {
    /// "P2 · 3 votes · asked as Q4" (or "not asked"), as every view begins
    /// its line.
    pub(crate) fn status(&self) -> String {
        format!(
            "P{} · {} · {}",
            self.number,
            self.votes_text(),
            self.asked_text()
        )
    }

    /// "1 vote", "3 votes".
    pub(crate) fn votes_text(&self) -> String {
        match self.votes {
            1 => "1 vote".to_owned(),
            n => format!("{n} votes"),
        }
    }

    /// "asked as Q4", or "not asked".
    pub(crate) fn asked_text(&self) -> String {
        match self.asked_as {
            Some(q) => format!("asked as Q{q}"),
            None => "not asked".to_owned(),
        }
    }
}

/// An RFC 3339 instant as local `HH:MM` in `zone` (the instant itself if
/// it is not one). Called for every answer of a page, so without a
/// strftime pattern to parse each time.
pub(crate) fn local_time(zone: Tz, rfc: &str) -> String {
    use chrono::Timelike as _;
    DateTime::parse_from_rfc3339(rfc)
        .map(|t| {
            let t = t.with_timezone(&zone);
            format!("{:02}:{:02}", t.hour(), t.minute())
        })
        .unwrap_or_else(|_| rfc.to_owned())
}

impl Transcript {
    pub(crate) fn tz(&self) -> Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// An RFC 3339 instant as local `HH:MM` in the debate's zone.
    pub(crate) fn local(&self, rfc: &str) -> String {
        local_time(self.tz(), rfc)
    }

    /// The start in every shown zone, as announcements give it.
    pub(crate) fn when(&self) -> String {
        let start = DateTime::parse_from_rfc3339(&self.starts_at)
            .map(|s| s.with_timezone(&Utc))
            .unwrap_or_default();
        let shown: Vec<Tz> = self.zones.iter().filter_map(|z| z.parse().ok()).collect();
        crate::schedule::zones::time_line(start, self.tz(), &shown).render()
    }

    /// Held on more than one network: then every answer says where it was
    /// sent.
    pub(crate) fn cross_network(&self) -> bool {
        self.networks.len() > 1
    }

    /// The network an answer is marked with (`IRC`), in a debate held on
    /// more than one.
    pub(crate) fn network_mark(&self, r: &ReplyEntry) -> Option<&'static str> {
        self.mark_of(&r.network)
    }

    /// The network a proposal is marked with, as answers are.
    pub(crate) fn proposal_mark(&self, p: &ProposalEntry) -> Option<&'static str> {
        self.mark_of(&p.network)
    }

    fn mark_of(&self, network: &str) -> Option<&'static str> {
        self.cross_network().then(|| gaps::network_title(network))
    }

    /// "12 answers from 5 participants", and where for a debate held on
    /// more than one network ("on Matrix and IRC").
    pub(crate) fn summary(&self) -> String {
        let answers = self.all_replies().count();
        let people = self.participants();
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let mut out = format!(
            "{answers} answer{} from {people} participant{}",
            plural(answers),
            plural(people)
        );
        if self.cross_network() {
            let names: Vec<&str> = self
                .networks
                .iter()
                .map(|n| gaps::network_title(n))
                .collect();
            let (last, rest) = names.split_last().unwrap_or((&"", &[]));
            out.push_str(&format!(", on {} and {last}", rest.join(", ")));
        }
        if self.registered > 0 {
            out.push_str(&format!("; {} registered beforehand", self.registered));
        }
        out
    }

    /// An RFC 3339 instant in the debate's zone, formatted with `format`.
    pub(crate) fn local_with(&self, rfc: &str, format: &str) -> String {
        DateTime::parse_from_rfc3339(rfc)
            .map(|t| t.with_timezone(&self.tz()).format(format).to_string())
            .unwrap_or_else(|_| rfc.to_owned())
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => serde_json::to_string_pretty(self).unwrap_or_default() + "\n",
            Format::Md => text::markdown(self),
            Format::Txt => text::plain(self),
            Format::Html => html::page(self, html::View::ByQuestion, &html::Links::standalone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Transcript {
        let reply = |author: &str, body: &str, at: &str| ReplyEntry {
            id: format!("${author}"),
            in_reply_to: None,
            author: author.into(),
            author_id: format!("@{author}:example.org"),
            label: String::new(),
            body: body.into(),
            sent_at: at.into(),
            network: "matrix".into(),
            room: "#d:example.org".into(),
            edited: author == "bob",
            action: author == "cat",
            attributed_by: "tag".into(),
        };
        let mut t = Transcript {
            debate: "leadership-2011".into(),
            title: "Developing *Leadership*".into(),
            starts_at: "2011-11-01T20:00:00Z".into(),
            timezone: "Europe/London".into(),
            rehearsal: false,
            adhoc: false,
            registered: 0,
            zones: vec!["Europe/London".into(), "America/New_York".into()],
            networks: vec!["matrix".into()],
            intro: None,
            closed_at: None,
            purged_at: None,
            gaps: Vec::new(),
            questions: vec![
                QuestionEntry {
                    number: 1,
                    text: "What is leadership?".into(),
                    posted_at: Some("2011-11-01T20:00:00Z".into()),
                    asked: true,
                    replies: vec![
                        reply("ann", "A1: listening <b>first</b>", "2011-11-01T20:02:00Z"),
                        reply("bob", "A1: two\nlines", "2011-11-01T20:03:00Z"),
                    ],
                    withdrawn: 0,
                },
                QuestionEntry {
                    number: 2,
                    text: "Who leads?".into(),
                    posted_at: Some("2011-11-01T20:20:00Z".into()),
                    asked: true,
                    replies: vec![],
                    withdrawn: 0,
                },
            ],
            unattributed: vec![reply("cat", "waves from Leeds", "2011-11-01T19:59:00Z")],
            proposals: Vec::new(),
        };
        t.label_authors();
        t
    }

    const SCRIPT: &str = "<script>alert(1)</script> <img src=x onerror=alert(1)>";

    /// The sample held on IRC and Matrix, with three questions from the
    /// floor: one by ann (who also answered), asked as Q2; one from IRC
    /// full of Markdown; and a hostile one by someone calling herself bob.
    fn with_floor() -> Transcript {
        let mut t = sample();
        t.networks = vec!["irc".into(), "matrix".into()];
        let proposal =
            |number, text: &str, (id, name): (&str, &str), votes, asked_as| ProposalEntry {
                number,
                text: text.into(),
                proposer: name.into(),
                proposer_id: id.into(),
                label: String::new(),
                network: if id.starts_with("irc:") {
                    "irc"
                } else {
                    "matrix"
                }
                .into(),
                proposed_at: "2011-11-01T20:05:00Z".into(),
                votes,
                asked_as,
            };
        t.proposals = vec![
            proposal(1, "Who leads?", ("@ann:example.org", "ann"), 3, Some(2)),
            proposal(
                2,
                "Is *everyone* a leader? [yes](http://x) <b>",
                ("irc:dan", "dan"),
                1,
                None,
            ),
            proposal(3, SCRIPT, ("@mallory:example.org", "bob"), 0, None),
        ];
        t.label_authors();
        t
    }

    #[test]
    fn markdown_and_text_list_the_questions_from_the_floor_last() {
        let t = with_floor();
        let md = t.render(Format::Md);
        assert!(
            md.ends_with(
                "\n## Questions from the floor\n\n\
                 - P1 · 3 votes · asked as Q2 — “Who leads?” — proposed by ann · Matrix\n\
                 - P2 · 1 vote · not asked — “Is \\*everyone\\* a leader? \\[yes\\](http://x) \\<b\\>” \
                 — proposed by dan · IRC\n\
                 - P3 · 0 votes · not asked — \
                 “\\<script\\>alert(1)\\</script\\> \\<img src=x onerror=alert(1)\\>” \
                 — proposed by bob (@mallory:example.org) · Matrix\n"
            ),
            "{md}"
        );
        // The answers' bob is told apart from the proposal's.
        assert!(
            md.contains("- **bob (@bob:example.org)** · Matrix (20:03) (edited): A1: two\n"),
            "{md}"
        );
        let txt = t.render(Format::Txt);
        assert!(
            txt.ends_with(
                "\nQuestions from the floor\n\
                 \x20 P1 · 3 votes · asked as Q2 — “Who leads?” — proposed by ann · Matrix\n\
                 \x20 P2 · 1 vote · not asked — “Is *everyone* a leader? [yes](http://x) <b>” \
                 — proposed by dan · IRC\n\
                 \x20 P3 · 0 votes · not asked — “<script>alert(1)</script> <img src=x onerror=alert(1)>” \
                 — proposed by bob (@mallory:example.org) · Matrix\n"
            ),
            "{txt}"
        );
        // Without proposals, no such section.
        let t = sample();
        assert!(!t.render(Format::Md).contains("from the floor"));
        assert!(!t.render(Format::Txt).contains("from the floor"));
    }

    #[test]
    fn json_has_proposals_only_when_there_are_some() {
        let json: serde_json::Value =
            serde_json::from_str(&with_floor().render(Format::Json)).unwrap();
        let p = &json["proposals"];
        assert_eq!(p.as_array().map(Vec::len), Some(3));
        assert_eq!(p[0]["number"], 1);
        assert_eq!(p[0]["text"], "Who leads?");
        assert_eq!(p[0]["proposer"], "ann");
        assert_eq!(p[0]["proposer_id"], "@ann:example.org");
        assert_eq!(p[0]["label"], "ann");
        assert_eq!(p[0]["network"], "matrix");
        assert_eq!(p[0]["proposed_at"], "2011-11-01T20:05:00Z");
        assert_eq!(p[0]["votes"], 3);
        assert_eq!(p[0]["asked_as"], 2);
        assert_eq!(p[1]["network"], "irc");
        assert_eq!(p[1]["asked_as"], serde_json::Value::Null);
        assert_eq!(p[2]["text"], SCRIPT);
        assert_eq!(p[2]["proposer"], "bob");
        assert_eq!(p[2]["label"], "bob (@mallory:example.org)");
        let json: serde_json::Value = serde_json::from_str(&sample().render(Format::Json)).unwrap();
        assert!(json.get("proposals").is_none(), "{json}");
        assert!(json.get("questions").is_some());
    }

    #[test]
    fn the_page_lists_the_questions_from_the_floor_as_text() {
        let t = with_floor();
        let links = html::Links::served("2011-11-01", None);
        let by_question = html::page(&t, html::View::ByQuestion, &links);
        let in_time = html::page(&t, html::View::Chronological, &links);
        for page in [&by_question, &in_time] {
            assert!(page.contains("<section id=\"floor\">"), "{page}");
            assert!(page.contains("Questions from the floor</a></h2>"), "{page}");
            // Once each, in number order, after the questions.
            let at = |p: &str| page.find(&format!("<li class=\"proposal\" id=\"{p}\">"));
            let (p1, p2, p3) = (at("p1"), at("p2"), at("p3"));
            assert!(p1.is_some() && p1 < p2 && p2 < p3, "{page}");
            assert!(page.find("Questions from the floor") > page.find("Who leads?"));
            // The hostile proposal is text, never an element.
            assert!(!page.to_ascii_lowercase().contains("<script"), "{page}");
            assert!(!page.to_ascii_lowercase().contains("<img"), "{page}");
            assert!(
                page.contains(
                    "“<bdi>&#60;script&#62;alert(1)&#60;/script&#62; \
                     &#60;img src=x onerror=alert(1)&#62;</bdi>”"
                ),
                "{page}"
            );
            assert!(
                page.contains("<bdi>Is *everyone* a leader? [yes](http://x) &#60;b&#62;</bdi>")
            );
            assert!(page.contains(
                "<span class=\"pnum\">P2</span> · 1 vote · <span class=\"muted\">not asked</span>"
            ));
            // Proposers are named as answers' authors are, with the network.
            assert!(page.contains(
                "proposed by <span class=\"who\" title=\"irc:dan\"><bdi>dan</bdi></span> \
                 <small class=\"id\" title=\"irc:dan\"><bdi>irc:dan</bdi></small> \
                 <span class=\"net\">IRC</span></li>"
            ));
            assert!(page.contains("<bdi>bob (@mallory:example.org)</bdi>"));
        }
        // Asked as Q2: a link to it where the page has it.
        assert!(by_question.contains("· asked as <a href=\"#q2\">Q2</a> —"));
        assert!(in_time.contains("· asked as Q2 —"));
        // Without proposals, no such section.
        let t = sample();
        for view in [html::View::ByQuestion, html::View::Chronological] {
            let page = html::page(&t, view, &links);
            assert!(!page.contains("floor"), "{page}");
        }
    }

    #[test]
    fn only_a_live_served_page_has_a_script() {
        let t = with_floor();
        // Standing alone (`podium transcript --format html`): nothing to run.
        let alone = t.render(Format::Html);
        let mut served = html::Links::served("2011-11-01", Some("k3y"));
        for page in [&alone, &html::page(&t, html::View::ByQuestion, &served)] {
            assert!(
                !page.contains("<script") && !page.contains("<noscript"),
                "{page}"
            );
            assert!(!page.contains("data-events") && !page.contains("is live"));
            assert!(page.contains("<main id=\"transcript\">\n"), "{page}");
        }
        served.live = Some(html::Live {
            script: "../../assets/live.x.js".into(),
            events: "./2011-11-01.events?key=k3y".into(),
            version: "v1".into(),
        });
        let live = html::page(&t, html::View::Chronological, &served);
        for needle in [
            "<script src=\"../../assets/live.x.js\" defer></script>\n\
             <noscript><meta http-equiv=\"refresh\" content=\"30\"></noscript>\n</head>",
            "<main id=\"transcript\" data-events=\"./2011-11-01.events?key=k3y\" \
             data-version=\"v1\">\n<p class=\"live\" role=\"status\">",
            "</main>\n<footer>",
        ] {
            assert!(live.contains(needle), "no {needle}\n{live}");
        }
        // The questions from the floor are inside, updated with the rest.
        assert!(live.find("<section id=\"floor\">") < live.find("</main>"));
        // The hostile proposal is still text.
        assert_eq!(live.matches("<script").count(), 1, "{live}");
        assert!(!live.contains("<img"));
    }

    #[test]
    fn markdown_escapes_chat_text_and_shows_local_times() {
        let md = sample().render(Format::Md);
        assert!(
            md.starts_with(
                "# Developing \\*Leadership\\*\n\n\
                 leadership-2011 · Tue 1 Nov 2011 20:00 London · 16:00 New York (note: clocks change \
                 on different dates: New York is 4 hours behind London this week, not the usual 5)\n\n\
                 3 answers from 3 participants.\n"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "## Before the first question\n\n- **cat** (19:59) (action): waves from Leeds\n"
            ),
            "{md}"
        );
        assert!(
            md.contains("- **ann** (20:02): A1: listening \\<b\\>first\\</b\\>\n"),
            "{md}"
        );
        assert!(
            md.contains("- **bob** (20:03) (edited): A1: two\n  lines\n"),
            "{md}"
        );
        assert!(
            md.contains("## Q2: Who leads?\n\n_Asked at 20:20_\n\nNo answers.\n"),
            "{md}"
        );
    }

    #[test]
    fn text_and_json_views_carry_the_same_replies() {
        let t = sample();
        let txt = t.render(Format::Txt);
        assert!(
            txt.starts_with(
                "Developing *Leadership*\n\
                 leadership-2011 · Tue 1 Nov 2011 20:00 London · 16:00 New York (note: clocks change \
                 on different dates: New York is 4 hours behind London this week, not the usual 5)\n\
                 3 answers from 3 participants.\n"
            ),
            "{txt}"
        );
        assert!(
            txt.contains(
                "\nQ1: What is leadership?\n  [20:02] ann: A1: listening <b>first</b>\n\
                 \x20 [20:03] bob (edited): A1: two\nlines\n"
            ),
            "{txt}"
        );
        assert!(txt.contains("  [19:59] cat (action): waves from Leeds\n"));
        let json: serde_json::Value = serde_json::from_str(&t.render(Format::Json)).unwrap();
        assert_eq!(json["questions"][0]["replies"][1]["author"], "bob");
        assert_eq!(json["questions"][1]["posted_at"], "2011-11-01T20:20:00Z");
        assert_eq!(json["unattributed"][0]["body"], "waves from Leeds");
        assert_eq!(json["unattributed"][0]["action"], true);
        assert_eq!(json["questions"][0]["replies"][0]["action"], false);
        assert_eq!(json["questions"][0]["replies"][0]["label"], "ann");
        assert_eq!(json["starts_at"], "2011-11-01T20:00:00Z");
    }
}
