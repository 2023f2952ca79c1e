//! Podium's posts as Matrix shows them: every post is an `m.notice` with a
//! plain `body` (what the engine wrote, unchanged) and an HTML
//! `formatted_body` where a question's number is bold and links are links.

use crate::chat::PostKind;

/// The largest event a homeserver accepts: 65,536 bytes of the event as
/// canonical JSON (Synapse refuses more with `M_TOO_LARGE`), envelope
/// included.
const EVENT_BYTES: usize = 65_536;

/// What an event holds besides the post's own text, reserved generously:
/// room id, sender and server names (up to 255 bytes each), up to 10
/// `prev_events` and the `auth_events`, hashes, signatures, the content's
/// keys, a reply relation, and for an encrypted room the Megolm envelope.
const ENVELOPE_BYTES: usize = 4_096;

/// The most one character of a post can cost in the event, in bytes: in
/// the plain `body` as JSON, a control character is `\u00XX` (6); in the
/// HTML `formatted_body` it is 6 again, and `"` (`&quot;`) or `'`
/// (`&#39;`) cost at most as much. Inside a link a character appears three
/// times (body, `href`, link text), so an astral character there costs
/// 3 × 4 and `&` 1 + 5 + 5; control characters end a link (see
/// [`linkify_into`]), so nothing costs more than 12.
const WORST_BYTES_PER_CHAR: usize = 12;

/// The bytes a question's bold number adds (`<strong></strong>`).
const QUESTION_MARKUP: usize = 17;

/// The longest post, in characters, that makes an event the homeserver
/// takes whatever the characters are: 5,118 for a question (5,120 otherwise) in a room known not to be
/// encrypted (`(65,536 − 4,096 − 17) / 12`), 3,838 (3,840) in an
/// encrypted room (or one whose state is not known yet), where the event
/// carries the content as base64 ciphertext (4 bytes for every 3).
pub fn max_chars(kind: Option<PostKind>, encrypted: bool) -> usize {
    let markup = if kind == Some(PostKind::Question) {
        QUESTION_MARKUP
    } else {
        0
    };
    let content = EVENT_BYTES - ENVELOPE_BYTES - markup;
    let content = if encrypted { content / 4 * 3 } else { content };
    content / WORST_BYTES_PER_CHAR
}

/// The HTML form of a post's plain text.
pub fn html(plain: &str, kind: Option<PostKind>) -> String {
    let mut out = String::with_capacity(plain.len() + 32);
    let mut rest = plain;
    if kind == Some(PostKind::Question)
        && let Some((number, text)) = question_number(plain)
    {
        out.push_str("<strong>");
        escape_into(&mut out, number);
        out.push_str("</strong>");
        rest = text;
    }
    linkify_into(&mut out, rest);
    out.replace('\n', "<br>")
}

/// `("Q3:", " rest")` when the text starts with a question number.
fn question_number(text: &str) -> Option<(&str, &str)> {
    let digits = text.strip_prefix('Q')?;
    let n = digits.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 || digits.as_bytes().get(n) != Some(&b':') {
        return None;
    }
    Some(text.split_at(n + 2))
}

/// Escapes `text`, turning http(s) URLs into links.
fn linkify_into(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(start) = find_url(rest) {
        escape_into(out, &rest[..start]);
        // A control character ends a link: inside one it would be written
        // three times as `\u00XX` (see `WORST_BYTES_PER_CHAR`).
        let url_len = rest[start..]
            .find(|c: char| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == '"')
            .unwrap_or(rest.len() - start);
        let mut url = &rest[start..start + url_len];
        // A sentence's full stop or closing bracket is not part of the link.
        while url.ends_with(['.', ',', ')', ';', ':', '!', '?']) {
            url = &url[..url.len() - 1];
        }
        out.push_str("<a href=\"");
        escape_into(out, url);
        out.push_str("\">");
        escape_into(out, url);
        out.push_str("</a>");
        rest = &rest[start + url.len()..];
    }
    escape_into(out, rest);
}

fn find_url(text: &str) -> Option<usize> {
    let http = text.find("http://");
    let https = text.find("https://");
    match (http, https) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_bold_links_are_links_and_text_is_escaped() {
        assert_eq!(
            html("Q3: Who <leads>? #SWSC", Some(PostKind::Question)),
            "<strong>Q3:</strong> Who &lt;leads&gt;? #SWSC"
        );
        assert_eq!(
            html(
                "The transcript of “A & B” is at http://127.0.0.1:8080/transcripts/a/2011-11-01.",
                Some(PostKind::Transcript)
            ),
            "The transcript of “A &amp; B” is at \
             <a href=\"http://127.0.0.1:8080/transcripts/a/2011-11-01\">\
             http://127.0.0.1:8080/transcripts/a/2011-11-01</a>."
        );
        // Only a question's own number is bold: a last call names a
        // question but is not one.
        assert_eq!(
            html("Q1: not a question post", None),
            "Q1: not a question post"
        );
        assert_eq!(
            html(
                "Last call for Q2: the next question is in 2 minutes #SWSC",
                Some(PostKind::LastCall)
            ),
            "Last call for Q2: the next question is in 2 minutes #SWSC"
        );
        assert_eq!(
            html("Q2: shaped like a question", Some(PostKind::LastCall)),
            "Q2: shaped like a question"
        );
        assert_eq!(html("two\nlines", None), "two<br>lines");
        // A control character ends a link.
        assert_eq!(
            html("http://a.example/x\u{1}y", None),
            "<a href=\"http://a.example/x\">http://a.example/x</a>\u{1}y"
        );
    }

    #[test]
    fn the_limits_leave_room_for_the_worst_characters() {
        assert_eq!(max_chars(Some(PostKind::Question), false), 5_118);
        assert_eq!(max_chars(None, false), 5_120);
        assert_eq!(max_chars(Some(PostKind::Question), true), 3_838);
        assert_eq!(max_chars(Some(PostKind::LastCall), false), 5_120);
        // The plain body as JSON plus the HTML, for the costliest text
        // there is at the limit, within the event with its envelope.
        for kind in [None, Some(PostKind::Question), Some(PostKind::Intro)] {
            let n = max_chars(kind, false);
            let worst: String = "Q1: http://x.example/"
                .chars()
                .chain(std::iter::repeat('🎉'))
                .take(n / 2)
                .chain(std::iter::repeat('\u{1}'))
                .take(n)
                .collect();
            let json = serde_json::to_string(&(&worst, html(&worst, kind))).unwrap();
            assert!(json.len() + ENVELOPE_BYTES <= EVENT_BYTES, "{}", json.len());
        }
    }
}
