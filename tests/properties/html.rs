//! The transcript page: whatever participants wrote (answers, proposals,
//! display names, ids) and organisers titled, the page has exactly the
//! markup it has for plain text, and their text is in it only escaped.

use proptest::prelude::*;
use proptest::sample::select;

use podium::safe_text::neutralise;
use podium::transcript::html::{Links, View, page};
use podium::transcript::{ProposalEntry, QuestionEntry, ReplyEntry, Transcript};

/// Text written to get out of its place in the page, mixed with any text.
fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        select(vec![
            "<script>alert(1)</script>",
            "\"><img src=x onerror=alert(1)>",
            "'><svg onload=alert(1)>",
            "</bdi></div></li></ol></section>",
            "<b>",
            "</style>",
            "<!--",
            "-->",
            "<![CDATA[",
            "&",
            "&amp;",
            "&#60;",
            "&lt",
            "\"",
            "'",
            "<",
            ">",
            "=",
            "`",
            "{{ title }}",
            "{% endif %}",
            "\u{202e}",
            "\u{1b}[2J",
            "\0",
            "\r\n",
            "javascript:alert(1)",
            " ",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
        "[<>&\"'=/a-z ]{1,12}",
    ];
    proptest::collection::vec(piece, 1..6).prop_map(|pieces| pieces.concat())
}

/// The shape of a transcript, its texts aside.
#[derive(Clone, Debug)]
struct Shape {
    two_networks: bool,
    intro: bool,
    /// Per question, its answers; each perhaps a reply to an earlier one.
    questions: Vec<Vec<Option<prop::sample::Index>>>,
    unattributed: usize,
    proposals: Vec<Option<u32>>,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(
            proptest::collection::vec(proptest::option::of(any::<prop::sample::Index>()), 0..4),
            0..3,
        ),
        0usize..2,
        proptest::collection::vec(proptest::option::of(1u32..4), 0..3),
    )
        .prop_map(
            |(two_networks, intro, questions, unattributed, proposals)| Shape {
                two_networks,
                intro,
                questions,
                unattributed,
                proposals,
            },
        )
}

/// What people wrote, drawn in order as the transcript needs it.
struct Texts<'a> {
    texts: &'a [String],
    next: usize,
}

impl Texts<'_> {
    fn next(&mut self) -> String {
        let t = self.texts[self.next % self.texts.len()].clone();
        self.next += 1;
        t
    }

    /// A label and an id: whether the label holds the id decides whether
    /// the id is shown too, so a plain stand-in keeps that.
    fn person(&mut self, plain: bool) -> (String, String) {
        let (label, id) = (self.next(), self.next());
        if !plain {
            return (label, id);
        }
        let id_shown = !label.contains(id.as_str());
        let id = "@plain:example.org".to_owned();
        let label = if id_shown {
            "Plain".to_owned()
        } else {
            format!("Plain ({id})")
        };
        (label, id)
    }
}

fn transcript(shape: &Shape, texts: &[String], plain: bool) -> Transcript {
    let mut texts = Texts { texts, next: 0 };
    let text = |texts: &mut Texts| {
        let t = texts.next();
        // Empty text leaves its markup out (a question without text), so
        // the stand-in is empty too.
        if plain && !t.is_empty() {
            "plain".to_owned()
        } else {
            t
        }
    };
    let network = |i: usize| {
        if shape.two_networks && i % 2 == 1 {
            "irc"
        } else {
            "matrix"
        }
        .to_owned()
    };
    let mut count = 0;
    let mut reply = |texts: &mut Texts, at: u32, parent: Option<String>| {
        count += 1;
        let (label, author_id) = texts.person(plain);
        ReplyEntry {
            id: format!("$r{count}"),
            in_reply_to: parent,
            author: label.clone(),
            author_id,
            label,
            body: text(texts),
            sent_at: format!("2026-06-01T20:{at:02}:{:02}Z", count % 60),
            network: network(count),
            room: "#d:example.org".into(),
            edited: count % 3 == 0,
            action: count % 5 == 0,
            attributed_by: "tag".into(),
        }
    };
    let unattributed = (0..shape.unattributed)
        .map(|_| reply(&mut texts, 0, None))
        .collect();
    let mut questions = Vec::new();
    for (q, answers) in shape.questions.iter().enumerate() {
        let number = u32::try_from(q).unwrap() + 1;
        let mut replies: Vec<ReplyEntry> = Vec::new();
        for parent in answers {
            let parent = parent
                .filter(|_| !replies.is_empty())
                .map(|i| replies[i.index(replies.len())].id.clone());
            replies.push(reply(&mut texts, number * 10, parent));
        }
        questions.push(QuestionEntry {
            number,
            text: text(&mut texts),
            posted_at: Some(format!("2026-06-01T20:{:02}:00Z", number * 10)),
            asked: true,
            replies,
            withdrawn: number - 1,
        });
    }
    let proposals = shape
        .proposals
        .iter()
        .enumerate()
        .map(|(i, asked_as)| {
            let (label, proposer_id) = texts.person(plain);
            ProposalEntry {
                number: u32::try_from(i).unwrap() + 1,
                text: text(&mut texts),
                proposer: label.clone(),
                proposer_id,
                label,
                network: network(i),
                proposed_at: "2026-06-01T20:05:00Z".into(),
                votes: u32::try_from(i).unwrap(),
                asked_as: *asked_as,
            }
        })
        .collect();
    Transcript {
        debate: "leadership-2011".into(),
        title: text(&mut texts),
        starts_at: "2026-06-01T20:00:00Z".into(),
        timezone: "Europe/London".into(),
        rehearsal: false,
        adhoc: false,
        registered: 0,
        zones: vec!["Europe/London".into()],
        networks: if shape.two_networks {
            vec!["irc".into(), "matrix".into()]
        } else {
            vec!["matrix".into()]
        },
        intro: shape.intro.then(|| text(&mut texts)),
        questions,
        unattributed,
        closed_at: Some("2026-06-01T21:00:00Z".into()),
        purged_at: None,
        gaps: Vec::new(),
        proposals,
    }
}

/// A tag of the page: `<name attr attr>` (attribute names only, since
/// their values may carry people's text) or `</name>`.
type Tag = String;

/// Elements that have no end tag.
const VOID: [&str; 6] = ["meta", "link", "br", "img", "input", "hr"];

/// The page's tags in order, after checking that it is well formed: every
/// element closed in order, attribute values quoted, no `<` or `>` in text
/// or attribute values, and every `&` starting a character reference.
fn tags(html: &str) -> Result<Vec<Tag>, String> {
    let mut out = Vec::new();
    let mut open: Vec<String> = Vec::new();
    let mut rest = html;
    let at = |rest: &str| html.len() - rest.len();
    let context = |rest: &str| {
        let i = at(rest);
        let mut from = i.saturating_sub(80);
        while !html.is_char_boundary(from) {
            from -= 1;
        }
        let mut to = (i + 80).min(html.len());
        while !html.is_char_boundary(to) {
            to += 1;
        }
        format!("{:?}", &html[from..to])
    };
    while !rest.is_empty() {
        let text_end = rest.find('<').unwrap_or(rest.len());
        check_text(&rest[..text_end]).map_err(|e| format!("{e} near {}", context(rest)))?;
        rest = &rest[text_end..];
        if rest.is_empty() {
            break;
        }
        if let Some(after) = rest.strip_prefix("<!doctype html>") {
            rest = after;
            continue;
        }
        if let Some(after) = rest.strip_prefix("</") {
            let end = after
                .find('>')
                .ok_or_else(|| format!("unclosed end tag near {}", context(rest)))?;
            let name = &after[..end];
            match open.pop() {
                Some(top) if top == name => {}
                top => {
                    return Err(format!("</{name}> closes {top:?} near {}", context(rest)));
                }
            }
            out.push(format!("</{name}>"));
            rest = &after[end + 1..];
            continue;
        }
        let after = &rest[1..];
        let name_len = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        let name = &after[..name_len];
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(format!("a `<` in text near {}", context(rest)));
        }
        let mut attrs = &after[name_len..];
        let mut tag = format!("<{name}");
        let self_closing;
        loop {
            attrs = attrs.trim_start_matches(' ');
            if let Some(a) = attrs.strip_prefix("/>") {
                self_closing = true;
                attrs = a;
                break;
            }
            if let Some(a) = attrs.strip_prefix('>') {
                self_closing = false;
                attrs = a;
                break;
            }
            let attr_len = attrs
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .unwrap_or(attrs.len());
            if attr_len == 0 {
                return Err(format!(
                    "a stray character in <{name}> near {}",
                    context(attrs)
                ));
            }
            tag.push(' ');
            tag.push_str(&attrs[..attr_len]);
            attrs = &attrs[attr_len..];
            if let Some(value) = attrs.strip_prefix("=\"") {
                let end = value
                    .find('"')
                    .ok_or_else(|| format!("unclosed attribute near {}", context(attrs)))?;
                check_text(&value[..end])
                    .map_err(|e| format!("{e} in an attribute near {}", context(attrs)))?;
                attrs = &value[end + 1..];
            } else if attrs.starts_with('=') {
                return Err(format!("an unquoted attribute near {}", context(attrs)));
            }
        }
        tag.push('>');
        out.push(tag);
        rest = attrs;
        if name == "style" || name == "script" {
            // Raw text: only the end tag ends it.
            let end = rest
                .find(&format!("</{name}>"))
                .ok_or_else(|| format!("<{name}> not closed"))?;
            rest = &rest[end..];
        }
        if !self_closing && !VOID.contains(&name) {
            open.push(name.to_owned());
        }
    }
    if !open.is_empty() {
        return Err(format!("never closed: {open:?}"));
    }
    Ok(out)
}

/// Text as escaping leaves it: no markup characters, and every `&` the
/// start of a character reference.
fn check_text(text: &str) -> Result<(), String> {
    if let Some(c) = text.chars().find(|c| matches!(c, '<' | '>' | '"')) {
        return Err(format!("a raw `{c}`"));
    }
    for (i, _) in text.match_indices('&') {
        let after = &text[i + 1..];
        let end = after.find(';').unwrap_or(0);
        let name = &after[..end];
        let numeric = name
            .strip_prefix('#')
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
        let named = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric());
        if !(numeric || named) {
            return Err(format!(
                "a bare `&` before {:?}",
                after.chars().take(10).collect::<String>()
            ));
        }
    }
    Ok(())
}

/// `text` as the page's template escapes it.
fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&#60;"),
            '>' => out.push_str("&#62;"),
            '&' => out.push_str("&#38;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

property! {
    /// Hostile text changes no tag and no attribute of the page, and is
    /// in it only escaped.
    fn hostile_text_stays_text_in_the_transcript_page
        / hostile_text_stays_text_in_the_transcript_page_long / 64;
    (shape in shape(), texts in proptest::collection::vec(hostile(), 1..12),
     chronological in any::<bool>(), served in any::<bool>()) {
        let view = if chronological { View::Chronological } else { View::ByQuestion };
        let links = if served { Links::served("2026-06-01", None) } else { Links::standalone() };
        let plain = page(&transcript(&shape, &texts, true), view, &links);
        let expected = tags(&plain);
        prop_assert!(expected.is_ok(), "the plain page is malformed: {}", expected.unwrap_err());
        let hostile_page = page(&transcript(&shape, &texts, false), view, &links);
        let got = tags(&hostile_page);
        prop_assert!(got.is_ok(), "malformed: {}", got.unwrap_err());
        prop_assert_eq!(got.unwrap(), expected.unwrap());
        // Every answer, name and proposal is on the page, escaped.
        let t = transcript(&shape, &texts, false);
        let replies = t.unattributed.iter().chain(t.questions.iter().flat_map(|q| &q.replies));
        for r in replies {
            for text in [&r.body, &r.label, &r.author_id] {
                prop_assert!(
                    hostile_page.contains(&escaped(&neutralise(text))),
                    "{:?} is not on the page as escaped text", text
                );
            }
        }
        for p in &t.proposals {
            for text in [&p.text, &p.label, &p.proposer_id] {
                prop_assert!(
                    hostile_page.contains(&escaped(&neutralise(text))),
                    "{:?} is not on the page as escaped text", text
                );
            }
        }
    }
}

#[test]
fn the_well_formedness_check_catches_what_it_is_for() {
    assert!(tags("<p>a &#60; b</p>").is_ok());
    assert!(tags("<p>a < b</p>").is_err());
    assert!(tags("<p>a & b</p>").is_err());
    assert!(tags("<p><b>a</p></b>").is_err());
    assert!(tags("<p title=\"a\"b\">x</p>").is_err());
    assert!(tags("<p title=x>x</p>").is_err());
    assert!(tags("<p>x").is_err());
    assert_eq!(
        tags("<p class=\"x\"><img src=\"y\" onerror=\"z\"></p>").unwrap(),
        ["<p class>", "<img src onerror>", "</p>"]
    );
}
