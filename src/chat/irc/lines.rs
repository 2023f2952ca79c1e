//! Posts as IRC lines. A line on the wire is at most 512 bytes, including
//! the prefix the server adds when it relays it (`:nick!user@host `), the
//! command, the channel and the final CRLF; anything longer is cut by the
//! server, mid-character if need be. So a post is split beforehand, on
//! word boundaries where it can be and on character boundaries where a
//! single word is too long, into lines that fit.

use crate::chat::PostKind;

/// IRC's bold toggle.
const BOLD: char = '\x02';

/// The most lines one post may take: a flood of hundreds of lines (a
/// 100 KB `!ask`) would hold up every other post for minutes.
pub const MAX_LINES: usize = 30;
/// The most lines of an announcement (reminder, intro, closing, link):
/// two channels' intros must not hold up the questions that follow.
pub const ANNOUNCEMENT_LINES: usize = 4;
/// The most lines of an answer to a command (`!help` takes 7).
pub const ANSWER_LINES: usize = 10;

/// Bytes a line may have on the wire, CRLF included (RFC 1459 and every
/// server since).
const LINE_BYTES: usize = 512;

/// What the server adds in front of a relayed line when Podium does not
/// know its own user and host yet: the longest user (10, plus `~`) and
/// host (63) that servers allow.
pub const UNKNOWN_MASK: usize = 11 + 63;

/// The post as IRC shows it: a question's number in bold. The stored
/// text stays plain; only what is sent carries control codes.
pub fn format(body: &str, kind: Option<PostKind>) -> String {
    if kind == Some(PostKind::Question)
        && let Some((number, rest)) = body.split_once(": ")
        && number.len() > 1
        && number.starts_with('Q')
        && number[1..].bytes().all(|b| b.is_ascii_digit())
    {
        return format!("{BOLD}{number}:{BOLD} {rest}");
    }
    body.to_owned()
}

/// Bytes left for the text of a `command` to `target` sent by `nick`,
/// whose user and host together take `mask` bytes.
pub fn budget(nick: &str, mask: usize, command: &str, target: &str) -> usize {
    // `:nick!user@host COMMAND #target :text\r\n`
    let overhead = 1 + nick.len() + 2 + mask + 1 + command.len() + 1 + target.len() + 2 + 2;
    LINE_BYTES.saturating_sub(overhead).max(16)
}

/// Bytes left for the parameters of a `command` sent by `nick`, whose
/// user and host together take `mask` bytes: what follows the command on
/// a line the server passes on as `:nick!user@host COMMAND params`.
pub fn params_budget(nick: &str, mask: usize, command: &str) -> usize {
    let overhead = 1 + nick.len() + 2 + mask + 1 + command.len() + 1 + 2;
    LINE_BYTES.saturating_sub(overhead)
}

/// The most lines a post of `kind` may take (`None`: an answer to a
/// command).
pub fn most_lines(kind: Option<PostKind>) -> usize {
    match kind {
        Some(PostKind::Question) => MAX_LINES,
        Some(_) => ANNOUNCEMENT_LINES,
        None => ANSWER_LINES,
    }
}

/// The longest text, in characters, that fits [`most_lines`] lines of
/// `budget` bytes: a question's characters are counted at 4 bytes (any
/// character fits), an announcement's and an answer's at 2 (Latin,
/// Greek, Cyrillic, Arabic, Hebrew... fit; Chinese or Japanese at the
/// limit takes half as many lines again and is cut), so plain English
/// takes half the lines or less. The engine shortens a longer
/// announcement and refuses a longer `!ask`; [`split`] cuts whatever still
/// does not fit.
pub fn max_chars(budget: usize, kind: Option<PostKind>) -> usize {
    let bytes_per_char = if kind == Some(PostKind::Question) {
        4
    } else {
        2
    };
    // A line broken between words loses up to a word's length at its end.
    most_lines(kind) * budget * 9 / 10 / bytes_per_char
}

/// Splits `text` into lines of at most `budget` bytes: on its own line
/// breaks, then between words, and inside a word only when the word alone
/// is too long, never inside a UTF-8 character. Blank lines are dropped
/// (IRC cannot send them), as are characters no IRC line may carry. At
/// most `most` lines; a longer text ends with a note that it was cut.
pub fn split(text: &str, budget: usize, most: usize) -> Vec<String> {
    let mut out = Vec::new();
    for paragraph in text.split('\n') {
        let clean: String = paragraph
            .chars()
            .filter(|c| !matches!(c, '\r' | '\0'))
            .collect();
        let mut line = String::new();
        for word in clean.split(' ') {
            let needed = if line.is_empty() {
                word.len()
            } else {
                line.len() + 1 + word.len()
            };
            if needed <= budget {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(word);
                continue;
            }
            if !line.trim().is_empty() {
                out.push(std::mem::take(&mut line));
            }
            line.clear();
            let mut rest = word;
            while rest.len() > budget {
                let cut = floor_char_boundary(rest, budget);
                out.push(rest[..cut].to_owned());
                rest = &rest[cut..];
            }
            line.push_str(rest);
        }
        if !line.trim().is_empty() {
            out.push(line);
        }
    }
    let most = most.max(1);
    if out.len() > most {
        out.truncate(most);
        let note = " […]";
        let last = &mut out[most - 1];
        let keep = floor_char_boundary(last, budget.saturating_sub(note.len()));
        last.truncate(keep);
        last.push_str(note);
    }
    out
}

/// The largest index at most `at` that falls between characters.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    let mut i = at.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// What people write, without IRC's formatting codes (bold, colours,
/// italics...): the transcript stores the text, not its looks.
pub fn strip_formatting(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // Colour: up to two digits, optionally a comma and two more.
            '\x03' => {
                if skip_digits(&mut chars, 2) > 0 && chars.peek() == Some(&',') {
                    let mut ahead = chars.clone();
                    ahead.next();
                    if ahead.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                        skip_digits(&mut chars, 2);
                    }
                }
            }
            // Hex colour: six hex digits, optionally a comma and six more.
            '\x04' => {
                skip_hex(&mut chars);
                if chars.peek() == Some(&',') {
                    chars.next();
                    skip_hex(&mut chars);
                }
            }
            '\x02' | '\x0f' | '\x11' | '\x16' | '\x1d' | '\x1e' | '\x1f' => {}
            c => out.push(c),
        }
    }
    out
}

fn skip_digits(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, most: usize) -> usize {
    let mut n = 0;
    while n < most && chars.peek().is_some_and(char::is_ascii_digit) {
        chars.next();
        n += 1;
    }
    n
}

fn skip_hex(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for _ in 0..6 {
        if !chars.peek().is_some_and(char::is_ascii_hexdigit) {
            break;
        }
        chars.next();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_numbers_are_bold_and_nothing_else_is() {
        assert_eq!(
            format("Q12: Who leads?", Some(PostKind::Question)),
            "\x02Q12:\x02 Who leads?"
        );
        assert_eq!(
            format("Q12: Who leads?", Some(PostKind::Intro)),
            "Q12: Who leads?"
        );
        assert_eq!(format("Quite: so", Some(PostKind::Question)), "Quite: so");
        assert_eq!(format("Q: so", Some(PostKind::Question)), "Q: so");
        assert_eq!(
            format("Q2: last call", Some(PostKind::LastCall)),
            "Q2: last call"
        );
    }

    #[test]
    fn a_long_text_is_split_between_words_into_lines_that_fit() {
        let words: Vec<String> = (0..150).map(|i| format!("wörd{i}")).collect();
        let text = words.join(" ");
        let lines = split(&text, 100, MAX_LINES);
        assert!(lines.len() > 1);
        for l in &lines {
            assert!(l.len() <= 100, "{} bytes: {l}", l.len());
            assert!(!l.starts_with(' ') && !l.ends_with(' '), "{l:?}");
        }
        assert_eq!(lines.join(" "), text);
    }

    #[test]
    fn a_word_longer_than_a_line_is_cut_between_characters() {
        // Four-byte characters: a cut anywhere but between them breaks one.
        let word = "😀".repeat(100);
        let lines = split(&word, 50, MAX_LINES);
        for l in &lines {
            assert!(l.len() <= 50);
        }
        assert_eq!(lines.concat(), word);
        assert_eq!(lines[0].len(), 48);
    }

    #[test]
    fn line_breaks_start_new_lines_and_blank_lines_are_dropped() {
        assert_eq!(
            split("one\r\n\ntwo three\n \nfour\0", 400, MAX_LINES),
            ["one", "two three", "four"]
        );
        assert!(split("", 400, MAX_LINES).is_empty());
    }

    #[test]
    fn a_flood_of_lines_is_cut_with_a_note() {
        let text = "line\n".repeat(100);
        let lines = split(&text, 400, MAX_LINES);
        assert_eq!(lines.len(), MAX_LINES);
        assert!(lines[MAX_LINES - 1].ends_with("[…]"));
        let lines = split(&text, 400, ANNOUNCEMENT_LINES);
        assert_eq!(lines.len(), ANNOUNCEMENT_LINES);
    }

    #[test]
    fn a_text_of_max_chars_fits_its_lines_in_any_script() {
        let budget = budget("podium", UNKNOWN_MASK, "PRIVMSG", "#debates");
        for kind in [Some(PostKind::Question), Some(PostKind::Intro), None] {
            let n = max_chars(budget, kind);
            let words: &[&str] = if kind == Some(PostKind::Question) {
                &["leadership", "日本語の文章", "Ελληνικά", "x", "🙂🙂"]
            } else {
                &["leadership", "Ελληνικά", "русский", "x"]
            };
            for word in words {
                let mut text = String::new();
                while text.chars().count() < n {
                    text.push_str(word);
                    text.push(' ');
                }
                let text: String = text.chars().take(n).collect();
                let lines = split(&text, budget, most_lines(kind));
                assert!(
                    !lines.last().unwrap().ends_with("[…]"),
                    "{kind:?} {word}: cut"
                );
            }
        }
        // Plain English takes a few lines only.
        let intro = "word ".repeat(max_chars(budget, Some(PostKind::Intro)) / 5);
        assert!(split(&intro, budget, MAX_LINES).len() <= 3);
    }

    #[test]
    fn the_budget_leaves_room_for_what_the_server_adds() {
        let b = budget("podium", UNKNOWN_MASK, "PRIVMSG", "#debates");
        let wire = format!(
            ":podium!{}@{} PRIVMSG #debates :{}\r\n",
            "u".repeat(11),
            "h".repeat(63),
            "x".repeat(b)
        );
        assert!(wire.len() <= 512, "{}", wire.len());
        assert!(wire.len() >= 505, "{}", wire.len());
    }

    #[test]
    fn formatting_codes_are_stripped() {
        assert_eq!(
            strip_formatting("\x02A1:\x02 \x0304,12red\x03 and \x1ditalic\x1d\x0f"),
            "A1: red and italic"
        );
        assert_eq!(strip_formatting("\x0399 bottles"), " bottles");
        assert_eq!(strip_formatting("\x03,5 comma"), ",5 comma");
        assert_eq!(strip_formatting("\x04ff00aa,00ff00hex"), "hex");
        assert_eq!(strip_formatting("plain, text"), "plain, text");
    }
}

/// The splitter under any text: lines that fit the wire, whole characters,
/// nothing lost but the spaces and line breaks it splits at. A quick run in
/// `cargo test`, a long `#[ignore]`d one for the long property run (see
/// README, "Property tests"); `PROPTEST_CASES` overrides both. Failures
/// found are replayed from `proptest-regressions/chat/irc/lines.txt`. The
/// other properties are in `tests/properties/`.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use proptest::sample::select;

    use super::*;

    fn config(cases: u32) -> ProptestConfig {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(cases);
        ProptestConfig::with_cases(cases)
    }

    /// Text made of what is hard to split: multibyte characters, words
    /// longer than a line, runs of spaces, line breaks, control characters
    /// and IRC's formatting codes.
    fn post() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            select(vec![
                " ",
                "  ",
                "\n",
                "\r\n",
                "\r",
                "\0",
                "\t",
                "\x02",
                "\x03",
                "\x0304,12",
                "\x0f",
                "\x16",
                "\x1d",
                "\x1f",
                "\x01ACTION",
                "é",
                "日本語",
                "😀",
                "👩‍👩‍👧",
                "\u{301}",
                "[…]",
            ])
            .prop_map(str::to_owned),
            "[a-z]{1,12}",
            "\\PC{1,8}",
            any::<String>(),
            // A word longer than any line.
            ("[a-zé日😀]", 100usize..700).prop_map(|(c, n)| c.repeat(n)),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|p| p.concat())
    }

    /// Who sends to where: nicks, masks and channels of the sizes servers
    /// allow (NICKLEN and CHANNELLEN are 30 and 64 on common servers).
    fn sender() -> impl Strategy<Value = (String, usize, String)> {
        (
            "[a-z][a-z0-9_]{0,29}",
            0..=UNKNOWN_MASK,
            "#[a-z0-9\\-]{1,63}",
        )
    }

    /// What splitting may drop: the spaces and breaks it splits at, and
    /// the characters no IRC line carries.
    fn kept(text: &str) -> String {
        text.chars()
            .filter(|c| !(c.is_whitespace() || *c == '\0'))
            .collect()
    }

    fn check(
        text: &str,
        (nick, mask, channel): &(String, usize, String),
        most: usize,
    ) -> Result<(), TestCaseError> {
        let budget = budget(nick, *mask, "PRIVMSG", channel);
        let lines = split(text, budget, most);
        prop_assert!(lines.len() <= most.max(1));
        for line in &lines {
            // As the server relays it, with a user and host as long as
            // the budget allowed for.
            let wire = format!(
                ":{nick}!{}@ PRIVMSG {channel} :{line}\r\n",
                "u".repeat(*mask)
            );
            prop_assert!(wire.len() <= LINE_BYTES, "{} bytes: {:?}", wire.len(), wire);
            prop_assert!(!line.trim().is_empty(), "a blank line");
            prop_assert!(!line.contains(['\r', '\n', '\0']), "{:?}", line);
        }
        let joined = kept(&lines.concat());
        let input = kept(text);
        if lines.len() < most {
            prop_assert_eq!(joined, input);
        } else {
            // Cut with a note: what is kept is the start of the text.
            let last = lines.last().unwrap();
            let before = kept(&lines[..lines.len() - 1].concat());
            let last = kept(last.strip_suffix(" […]").unwrap_or(last));
            let start = before + last.as_str();
            prop_assert!(
                input.starts_with(&start),
                "{:?} does not start with {:?}",
                input,
                start
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(config(256))]
        #[test]
        fn every_line_fits_and_nothing_but_spacing_is_lost(
            text in post(), sender in sender(), most in 1usize..=MAX_LINES
        ) {
            check(&text, &sender, most)?;
        }
    }

    proptest! {
        #![proptest_config(config(25_000))]
        #[test]
        #[ignore = "long property run: cargo test --release --lib --test properties -- --ignored"]
        fn every_line_fits_and_nothing_but_spacing_is_lost_long(
            text in post(), sender in sender(), most in 1usize..=MAX_LINES
        ) {
            check(&text, &sender, most)?;
        }
    }
}
