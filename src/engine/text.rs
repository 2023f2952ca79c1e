//! What the bot says. Kept apart from the engine so wording can change
//! without touching timing, and so every network gets the same words.

use chrono::{DateTime, Duration, Utc};

use crate::schedule::time::format_duration;
use crate::schedule::{Debate, zones};

fn tag(debate: &Debate) -> String {
    debate
        .hashtag
        .as_ref()
        .map(|h| format!(" {h}"))
        .unwrap_or_default()
}

/// "1 day", "1 hour", "10 minutes": how far ahead a reminder is.
pub(super) fn lead_words(lead: Duration) -> String {
    let secs = lead.num_seconds();
    let (n, unit) = if secs % 86_400 == 0 {
        (secs / 86_400, "day")
    } else if secs % 3600 == 0 {
        (secs / 3600, "hour")
    } else if secs % 60 == 0 {
        (secs / 60, "minute")
    } else {
        return format_duration(lead);
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// A reminder `left` before `starts_at`. A reminder sent late passes what
/// is really left, which is said in whole minutes, never more than the
/// truth ("starts in 10 minutes" 25 seconds before the start would lie).
pub fn reminder(debate: &Debate, starts_at: DateTime<Utc>, left: Duration) -> String {
    let line = zones::time_line(starts_at, debate.timezone, &debate.zones);
    format!(
        "Reminder: “{}” starts in {}: {}.{}",
        debate.title,
        time_left(left),
        line.render(),
        tag(debate)
    )
}

/// `left` in words, in whole minutes, never more than the truth.
pub(super) fn time_left(left: Duration) -> String {
    if left < Duration::minutes(1) {
        "less than a minute".to_owned()
    } else if left.num_seconds() % 60 == 0 {
        lead_words(left)
    } else {
        lead_words(Duration::minutes(left.num_minutes()))
    }
}

/// `at` as the person who chose `zone` reads it: `Tue 31 Mar 20:00 CEST
/// (Berlin)`. Computed at the instant itself, so daylight saving is right
/// whatever the week.
pub fn personal_time(at: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    let local = at.with_timezone(&zone);
    format!(
        "{} {} ({})",
        local.format("%a %-d %b %H:%M"),
        zones::abbreviation(&local),
        zones::label(zone)
    )
}

/// What a last call announces: the next question, or the closing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Question,
    Closing,
}

/// A last call, `left` before the next question or the closing, for the
/// question being answered (`current`, the latest asked in the room;
/// `None` when none has been, and then no number is named). Like a
/// reminder, one sent late says what is really left.
pub fn last_call(debate: &Debate, current: Option<u32>, next: Next, left: Duration) -> String {
    let call = match current {
        Some(n) => format!("Last call for Q{n}"),
        None => "Last call".to_owned(),
    };
    let what = match next {
        Next::Question => "the next question is",
        Next::Closing => "the debate closes",
    };
    format!("{call}: {what} in {}{}", time_left(left), tag(debate))
}

/// The intro, with the start in every shown zone. How to answer is said
/// once: by the built-in sentence, worded for what the room allows
/// (`replies`: people can reply to a message there; on IRC they mostly
/// cannot, so only tags), unless the debate's own intro already says it.
pub fn intro(debate: &Debate, starts_at: DateTime<Utc>, questions: usize, replies: bool) -> String {
    let custom = debate.intro.as_deref().map(str::trim).unwrap_or_default();
    let line = zones::time_line(starts_at, debate.timezone, &debate.zones);
    // No scheduled question: an ad-hoc debate (`!debate`), whose
    // organisers ask as it goes and close it with `!end`.
    let runs = if questions == 0 {
        format!(
            "It runs until !end, {} at most",
            format_duration(debate.duration)
        )
    } else {
        format!("It runs for {}", format_duration(debate.duration))
    };
    let opening = format!("“{}” starts now: {}. {runs}.", debate.title, line.render());
    let follow = match questions {
        0 => "Questions will follow as Q1, Q2…".to_owned(),
        1 => "One question will follow, as Q1".to_owned(),
        n => format!("{n} questions will follow as Q1, Q2…"),
    };
    let body = if mentions_answering(custom) {
        let stop = if questions == 1 { "." } else { "" };
        format!("{opening} {follow}{stop} {custom}")
    } else {
        let how = if replies {
            "answer by replying to a question, or start your message with A1:, A2:…"
        } else {
            "answer by starting your message with A1:, A2:…"
        };
        let custom = if custom.is_empty() {
            String::new()
        } else {
            format!(" {custom}")
        };
        format!("{opening}{custom} {follow}: {how}")
    };
    format!("{body}{}", tag(debate))
}

/// Whether an intro already tells people how to answer: it mentions
/// replying, or gives an answer tag (`A1`, `A 1`).
fn mentions_answering(intro: &str) -> bool {
    let lower = intro.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    words.iter().any(|w| w.starts_with("repl") || *w == "a1")
        || words.windows(2).any(|p| p == ["a", "1"])
}

pub fn question(debate: &Debate, number: i64, text: &str) -> String {
    format!("Q{number}: {text}{}", tag(debate))
}

pub fn closing(debate: &Debate) -> String {
    match &debate.closing {
        Some(c) => format!("{}{}", c.trim(), tag(debate)),
        None => format!(
            "That is the end of “{}”. Thank you all for taking part!{}",
            debate.title,
            tag(debate)
        ),
    }
}

/// The transcript link; the address is the last word.
pub fn transcript(title: &str, url: &str) -> String {
    format!("The transcript of “{title}” is at {url}")
}

/// The suffix of a post sent after its time, so readers are not misled:
/// the time it was due in every shown zone, as announcements give it.
pub fn late_note(due: DateTime<Utc>, debate: &Debate) -> String {
    format!(
        " (posted late: this was due at {})",
        due_times(due, &debate.zones)
    )
}

/// "20:15 London · 16:15 New York": a time of the debate's day in every
/// zone, with the weekday where a zone's date differs from the first's.
fn due_times(at: DateTime<Utc>, zones: &[chrono_tz::Tz]) -> String {
    let first = zones.first().map(|z| at.with_timezone(z).date_naive());
    zones
        .iter()
        .map(|zone| {
            let local = at.with_timezone(zone);
            let day = if Some(local.date_naive()) == first {
                String::new()
            } else {
                format!("{} ", local.format("%a"))
            };
            format!("{day}{} {}", local.format("%H:%M"), zones::label(*zone))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// `text` cut to at most `max` characters, ending with "…" when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `make(title)`, with the title shortened (ending with "…") when the
/// whole would be longer than `max` characters: what surrounds the title
/// (a link) is never cut.
pub fn titled(max: Option<usize>, title: &str, make: impl Fn(&str) -> String) -> String {
    let whole = make(title);
    let length = whole.chars().count();
    match max {
        Some(max) if length > max => {
            let room = title.chars().count().saturating_sub(length - max);
            make(&shorten(title, room.max(1)))
        }
        _ => whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_intro_mentions_answering_when_it_speaks_of_replies_or_tags() {
        for yes in [
            "Reply to a question, or start your answer with A1:, A2:...",
            "Replies welcome.",
            "Start with a1) please",
            "Tag your answers (A 1: ...)",
            "replying works too",
        ] {
            assert!(mentions_answering(yes), "{yes}");
        }
        for no in [
            "",
            "Welcome, everyone.",
            "Answer the questions below.",
            "Room A12 is open; bring paper A4",
            "A1b vitamins",
        ] {
            assert!(!mentions_answering(no), "{no}");
        }
    }

    #[test]
    fn a_last_call_names_the_question_and_what_comes_next() {
        let mut debate = crate::schedule::parse(
            "timezone: UTC\nrooms: [\"#d:example.org\"]\ndebates:\n  - id: d\n    title: D\n    starts: 2011-11-01 20:00\n    hashtag: \"#SWSC\"\n    questions: [A?, B?]\n",
            DateTime::parse_from_rfc3339("2011-10-01T00:00:00Z").unwrap().to_utc(),
        )
        .unwrap()
        .0
        .debates
        .remove(0);
        let two = Duration::minutes(2);
        assert_eq!(
            last_call(&debate, Some(2), Next::Question, two),
            "Last call for Q2: the next question is in 2 minutes #SWSC"
        );
        assert_eq!(
            last_call(&debate, Some(4), Next::Closing, Duration::minutes(1)),
            "Last call for Q4: the debate closes in 1 minute #SWSC"
        );
        // Late: what is left, in whole minutes, never more.
        assert_eq!(
            last_call(&debate, Some(1), Next::Question, Duration::seconds(119)),
            "Last call for Q1: the next question is in 1 minute #SWSC"
        );
        debate.hashtag = None;
        assert_eq!(
            last_call(&debate, None, Next::Closing, Duration::seconds(30)),
            "Last call: the debate closes in less than a minute"
        );
    }

    #[test]
    fn shortening_counts_characters_and_ends_with_an_ellipsis() {
        assert_eq!(shorten("short", 10), "short");
        assert_eq!(shorten("éééééé", 4), "ééé…");
        assert_eq!(shorten("abc", 1), "…");
    }

    #[test]
    fn a_titled_text_cuts_the_title_and_never_the_rest() {
        let make = |t: &str| format!("Transcript of “{t}”: https://x/y");
        let whole = make("A long title");
        assert_eq!(titled(None, "A long title", make), whole);
        let n = whole.chars().count();
        assert_eq!(titled(Some(n), "A long title", make), whole);
        let cut = titled(Some(n - 5), "A long title", make);
        assert_eq!(cut, "Transcript of “A long…”: https://x/y");
        assert_eq!(cut.chars().count(), n - 5);
    }
}
