//! Chat text made safe to show in a terminal or a text file. Answers are
//! stored exactly as sent, but an answer such as `ESC]0;PWNED BEL ESC[2J`
//! printed raw retitles the reader's terminal and clears it, and a
//! right-to-left override makes the rest of a line read backwards. Every
//! view meant for people (the console, text and Markdown transcripts)
//! passes chat text through [`neutralise`]; JSON escapes such characters
//! itself and keeps the original.

use std::borrow::Cow;
use std::fmt::Write as _;

/// What a character becomes, if it must change.
fn replacement(c: char) -> Option<Cow<'static, str>> {
    match c {
        // Line breaks and tabs are ordinary text in a multi-line answer.
        '\n' | '\t' => None,
        // C0 controls become their visible Control Pictures (ESC → ␛).
        '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + u32::from(c)).map(|p| p.to_string().into()),
        '\u{7f}' => Some("\u{2421}".into()),
        // C1 controls (a lone CSI, U+009B, starts an escape sequence in
        // some terminals) and the bidirectional formatting characters.
        '\u{80}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}' => Some(format!("<U+{:04X}>", u32::from(c)).into()),
        _ => None,
    }
}

/// `s` with control characters and bidirectional overrides replaced by
/// visible stand-ins; borrowed unchanged when there are none (the usual
/// case).
pub fn neutralise(s: &str) -> Cow<'_, str> {
    let Some(first) = s.char_indices().find(|(_, c)| replacement(*c).is_some()) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..first.0]);
    for c in s[first.0..].chars() {
        match replacement(c) {
            Some(r) => {
                let _ = write!(out, "{r}");
            }
            None => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_overrides_become_visible_and_harmless() {
        let hostile =
            "A1: \u{1b}]0;PWNED\u{7}\u{1b}[2J\u{1b}[31mRED \u{202e}gnp.exe\u{9b}31m\u{7f}";
        let safe = neutralise(hostile);
        assert_eq!(
            safe,
            "A1: ␛]0;PWNED␇␛[2J␛[31mRED <U+202E>gnp.exe<U+009B>31m␡"
        );
        assert!(
            !safe
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
        );
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        for s in [
            "A1: plain",
            "two\nlines\tand a tab",
            "Zürich, 東京, مرحبا, emoji 🎉",
        ] {
            assert!(matches!(neutralise(s), Cow::Borrowed(b) if b == s), "{s}");
        }
    }
}
