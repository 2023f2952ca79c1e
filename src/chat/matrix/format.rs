//! Podium's posts as Matrix shows them: every post is an `m.notice` with a
//! plain `body` (what the engine wrote, unchanged) and an HTML
//! `formatted_body` where a question's number is bold and links are links.

use crate::chat::PostKind;

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
        let url_len = rest[start..]
            .find(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"')
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
        // Only a question's own number is bold.
        assert_eq!(
            html("Q1: not a question post", None),
            "Q1: not a question post"
        );
        assert_eq!(html("two\nlines", None), "two<br>lines");
    }
}
