//! The schedule loader: whatever an organiser saves as `debates.yaml`, the
//! loader answers with a schedule or with located diagnostics, and every
//! location points into the file, since `podium check` prints them for an
//! editor to jump to.

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use proptest::sample::select;

use podium::schedule::{self, Diagnostics};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

/// The lines of `text` as YAML counts them: a line break is CRLF, LF or a
/// lone CR.
fn yaml_lines(text: &str) -> Vec<&str> {
    text.split("\r\n")
        .flat_map(|l| l.split(['\r', '\n']))
        .collect()
}

/// Every diagnostic is on a line of `text`, at a column of that line or
/// just after its end (where a missing value would go). Columns count
/// characters, as editors do.
fn located_inside(text: &str, diags: &Diagnostics) -> Result<(), TestCaseError> {
    let lines = yaml_lines(text);
    for d in &diags.0 {
        let (line, column) = (d.pos.line as usize, d.pos.column as usize);
        prop_assert!(
            (1..=lines.len()).contains(&line),
            "{}:{}: {} (the text has {} lines)",
            d.pos.line,
            d.pos.column,
            d.message,
            lines.len()
        );
        let width = lines[line - 1].chars().count();
        prop_assert!(
            (1..=width + 1).contains(&column),
            "{}:{}: {} (line {} has {} characters: {:?})",
            d.pos.line,
            d.pos.column,
            d.message,
            line,
            width,
            lines[line - 1]
        );
    }
    Ok(())
}

fn check(text: &str) -> Result<(), TestCaseError> {
    match schedule::parse(text, now()) {
        Ok((_, diags)) => {
            prop_assert!(!diags.has_errors());
            located_inside(text, &diags)
        }
        Err(diags) => {
            prop_assert!(diags.has_errors(), "refused without an error");
            located_inside(text, &diags)
        }
    }
}

/// Characters YAML gives meaning to, and some it trips on.
fn yaml_soup() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z0-9:\\-\\[\\]{}#&*!|>'\"%@`,?. \t\n\r]{0,200}",
        "([a-z]{1,8}: [a-z0-9\\[\\]{}'\" ]{0,10}\n {0,4}(- )?){0,12}",
    ]
}

/// How a field of the generated schedule is written.
#[derive(Clone, Debug)]
enum Field {
    /// As in a valid schedule.
    Valid,
    Missing,
    /// A value of another kind, or a value of the right kind that is wrong.
    Value(String),
    /// Free text, quoted or not.
    Text(String),
    Quoted(String),
}

fn wrong_kind() -> impl Strategy<Value = String> {
    select(vec![
        "[]",
        "{}",
        "42",
        "-1",
        "3.5",
        ".nan",
        "true",
        "false",
        "null",
        "~",
        "\"\"",
        "[a, b]",
        "[[1]]",
        "{x: 1}",
        "99999999999999999999999",
        "0x1F",
        "&a [1]",
        "*a",
        "!!binary aGk=",
        "|\n      multi\n      line",
    ])
    .prop_map(str::to_owned)
}

fn bad_value() -> impl Strategy<Value = String> {
    select(vec![
        // Times: impossible, in London's spring gap, in its autumn fold,
        // with offsets it does not have, past 2099, far in the past.
        "2026-02-30 20:00",
        "2026-13-01 20:00",
        "2026-06-01 25:61",
        "2026-03-29 01:30",
        "2026-10-25 01:30",
        "2026-10-25 01:30+05:00",
        "2026-06-01 20:00Z",
        "2026-06-01T20:00:99",
        "2100-01-01 20:00",
        "0001-01-01 00:00",
        "9999-12-31 23:59",
        "-2026-06-01 20:00",
        "2026-06-01",
        "20:00",
        // Zones.
        "Europe/Lndon",
        "Mars/Olympus",
        "+05:00",
        "UTC+25",
        "Etc/GMT+15",
        "london",
        "EUROPE/LONDON",
        // Durations.
        "0m",
        "0s",
        "25h",
        "1x",
        "90",
        "-5m",
        "1h 1h 1h 1h 1h",
        "18446744073709551615s",
        "1e9h",
        "off",
        // Repeats and ends.
        "daily",
        "weekly",
        "monthly",
        "0",
        "10001",
        // Rooms and people.
        "\"#\"",
        "\"!:\"",
        "\"@:\"",
        "irc:",
        "\"irc:#chan\"",
        "\"matrix:#a:b\"",
        "[\"#a:b\", \"#a:b\"]",
    ])
    .prop_map(str::to_owned)
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        6 => Just(Field::Valid),
        2 => Just(Field::Missing),
        2 => wrong_kind().prop_map(Field::Value),
        3 => bad_value().prop_map(Field::Value),
        1 => any::<String>().prop_map(Field::Text),
        1 => "\\PC{0,20}".prop_map(Field::Quoted),
    ]
}

const TOP: [(&str, &str); 6] = [
    ("timezone", "Europe/London"),
    ("zones", "[Europe/London, America/New_York]"),
    ("remind", "[1d, 1h, 10m]"),
    ("rooms", "[\"#socialcare:example.org\"]"),
    ("organisers", "[\"@host:example.org\"]"),
    ("last_call", "2m"),
];

const DEBATE: [(&str, &str); 18] = [
    ("id", "leadership-2011"),
    ("title", "Developing Leadership"),
    ("starts", "2026-11-03 20:00"),
    ("timezone", "Europe/London"),
    ("zones", "[America/New_York]"),
    ("duration", "1h"),
    ("hashtag", "\"#SWSCmedia\""),
    ("intro", "Welcome!"),
    ("closing", "Thank you all!"),
    ("remind", "[1h, 10m]"),
    ("last_call", "2m"),
    ("public", "true"),
    ("repeat", "weekly"),
    ("until", "2027-06-29"),
    ("skip", "[2026-12-22]"),
    ("rooms", "[\"#socialcare:example.org\", \"#socialcare\"]"),
    ("organisers", "[\"irc:host\"]"),
    ("ignore", "[\"@spam:example.org\"]"),
];

/// Writes `key: value` at `indent` as the field says.
fn write_field(out: &mut String, indent: &str, key: &str, valid: &str, field: &Field) {
    let value = match field {
        Field::Valid => valid.to_owned(),
        Field::Missing => return,
        Field::Value(v) | Field::Text(v) => v.clone(),
        Field::Quoted(v) => format!("{v:?}"),
    };
    out.push_str(&format!("{indent}{key}: {value}\n"));
}

/// A schedule near a valid one: every field written validly, left out,
/// of the wrong kind, wrong, or free text; questions likewise; then
/// perhaps an unknown or repeated key, and perhaps one stray piece of text
/// somewhere.
fn near_valid() -> impl Strategy<Value = String> {
    let top = proptest::collection::vec(field(), TOP.len());
    let debates = proptest::collection::vec(
        (
            proptest::collection::vec(field(), DEBATE.len()),
            proptest::collection::vec((field(), field()), 0..5),
        ),
        0..3,
    );
    let extra = proptest::option::of((
        select(vec!["titel", "id", "starts", "debates", "zones"]),
        field(),
    ));
    let stray = proptest::option::of((
        any::<prop::sample::Index>(),
        "\\PC{1,4}|[\t\n\r:#\\-\\[\\]{}]",
    ));
    (top, debates, extra, stray).prop_map(|(top, debates, extra, stray)| {
        let mut out = String::from("# generated\n");
        for ((key, valid), f) in TOP.iter().zip(&top) {
            write_field(&mut out, "", key, valid, f);
        }
        out.push_str("debates:\n");
        for (fields, questions) in &debates {
            let mut first = true;
            for ((key, valid), f) in DEBATE.iter().zip(fields) {
                if matches!(f, Field::Missing) {
                    continue;
                }
                let indent = if first { "  - " } else { "    " };
                first = false;
                write_field(&mut out, indent, key, valid, f);
            }
            if first {
                out.push_str("  -\n");
            }
            if !questions.is_empty() {
                out.push_str("    questions:\n");
            }
            for (i, (text, at)) in questions.iter().enumerate() {
                let valid_text = format!("Question {i}?");
                if matches!(at, Field::Missing) {
                    write_field(&mut out, "      - ", "text", &valid_text, text);
                    if matches!(text, Field::Missing) {
                        out.push_str("      - What now?\n");
                    }
                } else {
                    out.push_str("      -\n");
                    write_field(&mut out, "        ", "text", &valid_text, text);
                    write_field(&mut out, "        ", "at", &format!("{}m", i * 10), at);
                }
            }
        }
        if let Some((key, f)) = extra {
            write_field(&mut out, "", key, "x", &f);
        }
        if let Some((at, piece)) = stray {
            let mut i = at.index(out.len() + 1);
            while !out.is_char_boundary(i) {
                i -= 1;
            }
            out.insert_str(i, &piece);
        }
        out
    })
}

property! {
    /// Any text at all: a schedule or errors, located inside the text.
    fn any_text_is_loaded_or_refused_with_located_errors
        / any_text_is_loaded_or_refused_with_located_errors_long / crate::QUICK;
    (text in yaml_soup()) {
        check(&text)?;
    }
}

property! {
    /// Schedules near valid ones, where the interesting errors are.
    fn near_valid_schedules_are_loaded_or_refused_with_located_errors
        / near_valid_schedules_are_loaded_or_refused_with_located_errors_long / 64;
    (text in near_valid()) {
        check(&text)?;
    }
}

property! {
    /// Bytes that are not all UTF-8 get one located error, never a panic.
    fn any_bytes_are_loaded_or_refused_with_located_errors
        / any_bytes_are_loaded_or_refused_with_located_errors_long / crate::QUICK;
    (bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        match std::str::from_utf8(&bytes) {
            Ok(text) => check(text)?,
            Err(e) => {
                let diags = schedule::parse_bytes(&bytes, now()).expect_err("not UTF-8");
                prop_assert_eq!(diags.0.len(), 1);
                // Located in the part that is text.
                let text = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap();
                located_inside(text, &diags)?;
            }
        }
    }
}

#[test]
fn the_generated_schedule_with_every_field_valid_is_valid() {
    // The generator's baseline must load, or the near-valid cases would all
    // fail early on the same mistake and test little.
    let mut out = String::new();
    for (key, valid) in TOP {
        write_field(&mut out, "", key, valid, &Field::Valid);
    }
    out.push_str("debates:\n");
    for (i, (key, valid)) in DEBATE.iter().enumerate() {
        let indent = if i == 0 { "  - " } else { "    " };
        write_field(&mut out, indent, key, valid, &Field::Valid);
    }
    out.push_str("    questions:\n      - One?\n      - text: Two?\n        at: 30m\n");
    let loaded = schedule::parse(&out, now());
    assert!(loaded.is_ok(), "{out}\n{}", loaded.unwrap_err().render("x"));
}
