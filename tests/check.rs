//! `podium check`: every validation error, located, in one run.

mod support;

use support::cli::{check, errors, run, setup};

const HEAD: &str = "timezone: Europe/London\nzones: [Europe/London, America/New_York]\nrooms: [\"#d:example.org\"]\ndebates:\n";

fn one_question(id: &str, starts: &str) -> String {
    format!("  - id: {id}\n    title: T\n    starts: {starts}\n    questions: [Q?]\n")
}

#[test]
fn the_example_schedule_is_valid_and_notes_the_2011_clock_mismatch() {
    let out = run(&[
        "check",
        concat!(env!("CARGO_MANIFEST_DIR"), "/debates.yaml"),
    ]);
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert_eq!(out.code, Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "note: `leadership-2011`: on Tue 1 Nov 2011 New York is 4 hours behind London, not the usual 5"
        ),
        "{stderr}"
    );
    assert!(stdout.contains("ok, 2 debates (1 repeating)"), "{stdout}");
    assert!(!stderr.contains("error"), "{stderr}");
}

#[test]
fn every_error_is_reported_with_its_line_and_column_in_one_run() {
    let yaml = format!(
        "{HEAD}  - id: a\n    title: A\n    starts: 2026-12-01 20:00\n    durration: 1h\n    questions: [Q?]\n  - id: b\n    title: B\n    timezone: Europe/Londn\n    starts: 2026-12-01 20:00\n    questions: [Q?]\n  - id: a\n    title: C\n    starts: 2011-02-30 20:00\n    questions: [Q?]\n"
    );
    let out = check(&yaml);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert_eq!(
        errors(&out),
        vec![
            "8:5: error: unknown field `durration` in debate 1",
            "12:15: error: unknown time zone `Europe/Londn`",
            "15:9: error: duplicate id `a`: already used at line 5",
            "17:13: error: `2011-02-30` is not a date: February 2011 has 28 days",
        ],
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("hint: did you mean `duration`?"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("hint: did you mean `Europe/London`?"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("debates.yaml: 4 errors found"),
        "{}",
        out.stderr
    );
}

#[test]
fn yaml_syntax_errors_are_located() {
    let out = check("timezone: Europe/London\ndebates:\n  - id: [a, b\n    title: x\n");
    assert_eq!(out.code, Some(2));
    let errs = errors(&out);
    assert_eq!(errs.len(), 1, "{}", out.stderr);
    assert!(errs[0].starts_with("4:"), "{}", out.stderr);
    assert!(errs[0].contains("error: invalid YAML"), "{}", out.stderr);
}

#[test]
fn a_start_in_the_spring_gap_does_not_exist() {
    let out = check(&format!("{HEAD}{}", one_question("g", "2026-03-29 01:30")));
    assert_eq!(
        errors(&out),
        vec![
            "7:13: error: Sun 29 Mar 2026 01:30 does not exist in Europe/London: the clocks go forward 1 hour that night"
        ]
    );
    assert!(
        out.stderr
            .contains("hint: choose a time outside the gap, such as 02:30"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_start_in_the_autumn_fold_needs_an_offset() {
    let out = check(&format!("{HEAD}{}", one_question("f", "2026-10-25 01:30")));
    assert_eq!(
        errors(&out),
        vec![
            "7:13: error: Sun 25 Oct 2026 01:30 happens twice in Europe/London: the clocks go back 1 hour that night"
        ]
    );
    assert!(
        out.stderr.contains("`2026-10-25 01:30 +01:00` for the first (BST) or `2026-10-25 01:30 +00:00` for the second (GMT)"),
        "{}",
        out.stderr
    );
    for offset in ["+01:00", "+00:00"] {
        let out = check(&format!(
            "{HEAD}{}",
            one_question("f", &format!("2026-10-25 01:30{offset}"))
        ));
        assert_eq!(out.code, Some(0), "{offset}: {}", out.stderr);
    }
    let out = check(&format!(
        "{HEAD}{}",
        one_question("f", "2026-10-25 01:30+02:00")
    ));
    assert_eq!(
        errors(&out),
        vec![
            "7:13: error: offset +02:00 does not match Europe/London at Sun 25 Oct 2026 01:30: it is either BST +01:00 or GMT +00:00"
        ]
    );
}

#[test]
fn an_offset_that_disagrees_with_the_zone_is_an_error() {
    let out = check(&format!(
        "{HEAD}{}",
        one_question("o", "2011-11-01 20:00-05:00")
    ));
    assert_eq!(
        errors(&out),
        vec![
            "7:13: error: offset -05:00 does not match Europe/London: at Tue 1 Nov 2011 20:00 it is GMT +00:00"
        ]
    );
}

#[test]
fn bad_durations_are_explained() {
    let yaml = format!(
        "{HEAD}  - id: a\n    title: A\n    starts: 2026-12-01 20:00\n    duration: 1 hour and a bit\n    questions: [Q?]\n  - id: b\n    title: B\n    starts: 2026-12-02 20:00\n    duration: 90\n    questions: [Q?]\n  - id: c\n    title: C\n    starts: 2026-12-03 20:00\n    duration: 2d\n    questions: [Q?]\n"
    );
    let out = check(&yaml);
    let errs = errors(&out);
    assert_eq!(errs.len(), 3, "{}", out.stderr);
    assert_eq!(
        errs[0],
        "8:15: error: `1 hour and a bit` is not a duration: `and a bit` should be a number and a unit"
    );
    assert_eq!(errs[1], "13:15: error: duration `90` has no unit");
    assert_eq!(
        errs[2],
        "18:15: error: duration `2d` is out of range: a debate lasts from 1 minute to 24 hours"
    );
    assert!(
        out.stderr
            .contains("hint: write e.g. `90m` for minutes or `90h` for hours")
    );
}

#[test]
fn question_offsets_must_fall_inside_the_debate_and_in_order() {
    let yaml = format!(
        "{HEAD}  - id: q\n    title: Q\n    starts: 2026-12-01 20:00\n    duration: 1h\n    questions:\n      - text: First\n        at: 30m\n      - text: Second\n        at: 10m\n      - text: Third\n        at: 70m\n"
    );
    let out = check(&yaml);
    assert_eq!(
        errors(&out),
        vec![
            "13:13: error: question 2 is at 10m, before question 1 at 30m: list questions in the order they are asked",
            "15:13: error: question 3 is at 1h 10m, but the debate is over after 1h",
        ],
        "{}",
        out.stderr
    );
}

#[test]
fn until_before_the_start_and_repeat_fields_without_repeat_are_errors() {
    let yaml = format!(
        "{HEAD}  - id: u\n    title: U\n    starts: 2026-12-01 20:00\n    repeat: weekly\n    until: 2026-11-01\n    questions: [Q?]\n  - id: v\n    title: V\n    starts: 2026-12-02 20:00\n    count: 3\n    questions: [Q?]\n  - id: w\n    title: W\n    starts: 2026-12-03 20:00\n    repeat: weekley\n    questions: [Q?]\n"
    );
    let out = check(&yaml);
    assert_eq!(
        errors(&out),
        vec![
            "9:12: error: `until` 2026-11-01 is before the first start on 2026-12-01",
            "14:5: error: `count` only applies to a repeating debate",
            "19:13: error: unknown repeat `weekley`",
        ],
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("did you mean `weekly`?"));
}

#[test]
fn two_debates_in_the_same_room_at_the_same_time_overlap() {
    let yaml = format!(
        "{HEAD}  - id: weekly\n    title: W\n    starts: 2026-12-01 20:00\n    repeat: weekly\n    questions: [Q?]\n  - id: special\n    title: S\n    starts: 2027-01-05 20:30\n    questions: [Q?]\n  - id: elsewhere\n    title: E\n    starts: 2027-01-05 20:30\n    rooms: [\"#other:example.org\"]\n    questions: [Q?]\n"
    );
    let out = check(&yaml);
    assert_eq!(
        errors(&out),
        vec![
            "12:13: error: `special` on Tue 5 Jan 2027 20:30 overlaps `weekly` (Tue 5 Jan 2027 20:00–21:00 GMT) in room #d:example.org"
        ],
        "{}",
        out.stderr
    );
}

#[test]
fn missing_fields_types_and_bad_rooms_are_each_reported() {
    let yaml = "timezone: Europe/London\ndebates:\n  - title: No id\n    starts: 2026-12-01 20:00\n    questions: Q?\n    rooms: [\"not a room\"]\n    organisers: [alice]\n";
    let out = check(yaml);
    let errs = errors(&out);
    assert!(
        errs.contains(&"3:5: error: debate 1 has no `id`".to_owned()),
        "{errs:?}"
    );
    assert!(
        errs.contains(&"5:16: error: `questions` should be a list, found a string".to_owned()),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|e| e.starts_with("6:13: error: a room is")),
        "{errs:?}"
    );
    assert!(
        errs.contains(
            &"7:18: error: organiser `alice` is neither a Matrix user nor an IRC nick".to_owned()
        ),
        "{errs:?}"
    );
}

#[test]
fn a_schedule_without_a_zone_or_rooms_says_where_to_put_them() {
    let out = check(
        "debates:\n  - id: a\n    title: A\n    starts: 2026-12-01 20:00\n    questions: [Q?]\n",
    );
    assert_eq!(
        errors(&out),
        vec![
            "2:5: error: debate 1 has no time zone",
            "2:5: error: debate 1 has no rooms",
        ],
        "{}",
        out.stderr
    );
}

#[test]
fn an_alias_bomb_is_rejected_with_a_clear_error() {
    let mut yaml = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 1..12u8 {
        let (prev, cur) = ((b'a' + i - 1) as char, (b'a' + i) as char);
        let refs = vec![format!("*{prev}"); 9].join(",");
        yaml.push_str(&format!("{cur}: &{cur} [{refs}]\n"));
    }
    let out = check(&yaml);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("too many aliases"), "{}", out.stderr);
}

#[test]
fn deep_nesting_is_rejected_with_a_clear_error() {
    let yaml = format!("debates: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let out = check(&yaml);
    assert_eq!(out.code, Some(2));
    assert_eq!(errors(&out).len(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("invalid YAML"), "{}", out.stderr);
}

#[test]
fn bytes_that_are_not_utf8_get_a_located_error() {
    let s = setup("");
    std::fs::write(&s.schedule, b"timezone: Europe/London\ndebates: \xff\xfe\n").unwrap();
    let out = run(&["check", s.schedule.to_str().unwrap()]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr
            .contains(":2:10: error: the file is not valid UTF-8"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_missing_file_is_a_failure_not_a_validation_error() {
    let out = run(&["check", "/nonexistent/debates.yaml"]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("cannot read /nonexistent/debates.yaml"),
        "{}",
        out.stderr
    );
}

#[test]
fn skipping_a_date_that_is_not_in_the_series_is_a_warning() {
    let yaml = format!(
        "{HEAD}  - id: w\n    title: W\n    starts: 2026-12-01 20:00\n    repeat: weekly\n    count: 4\n    skip: [2026-12-08, 2026-12-09]\n    questions: [Q?]\n"
    );
    let out = check(&yaml);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("7:13: warning: `w` skips 2026-12-09 (Wed), which is not one of its dates (weekly from Tue 1 Dec 2026)"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("2026-12-08 ("), "{}", out.stderr);
}

#[test]
fn a_bad_repeat_does_not_hide_the_other_repeat_errors() {
    let yaml = format!(
        "{HEAD}  - id: r\n    title: R\n    starts: 2026-12-01 20:00\n    repeat: weeklyy\n    until: 2026\n    count: \"3\"\n    skip: [2026-13-01]\n    questions: [Q?]\n"
    );
    let errs = errors(&check(&yaml));
    assert_eq!(errs.len(), 4, "{errs:?}");
    assert!(
        errs[0].starts_with("8:13: error: unknown repeat `weeklyy`"),
        "{errs:?}"
    );
    assert!(
        errs[1].starts_with("9:12: error: `2026` is not a date"),
        "{errs:?}"
    );
    assert!(
        errs[2].starts_with("10:12: error: `count` should be a whole number"),
        "{errs:?}"
    );
    assert!(
        errs[3].starts_with("11:12: error: `2026-13-01` is not a date"),
        "{errs:?}"
    );
}

#[test]
fn ids_are_compared_as_they_are_read() {
    let yaml = format!(
        "{HEAD}{}{}{}{}",
        one_question("1", "2026-12-01 20:00"),
        one_question("1", "2026-12-02 20:00"),
        one_question("x", "2026-12-03 20:00"),
        one_question("\"x \"", "2026-12-04 20:00"),
    );
    let errs = errors(&check(&yaml));
    assert_eq!(
        errs,
        vec![
            "9:9: error: duplicate id `1`: already used at line 5",
            "17:9: error: duplicate id `x`: already used at line 13",
        ]
    );
}

#[test]
fn series_longer_than_ten_years_and_starts_after_2099_are_refused() {
    let yaml = format!(
        "{HEAD}  - id: u\n    title: U\n    starts: 2026-12-01 20:00\n    repeat: weekly\n    until: 9999-12-31\n    questions: [Q?]\n  - id: c\n    title: C\n    starts: 2026-12-02 20:00\n    repeat: monthly\n    count: 200\n    questions: [Q?]\n  - id: f\n    title: F\n    starts: 2150-01-01 20:00\n    questions: [Q?]\n"
    );
    let errs = errors(&check(&yaml));
    assert_eq!(
        errs,
        vec![
            "9:12: error: `until` 9999-12-31 is more than 10 years after the first start",
            "15:12: error: `count: 200` makes the series last more than 10 years",
            "19:13: error: `2150-01-01 20:00` is out of range: starts must fall between 1970 and 2099, the years the time zone rules cover",
        ]
    );
}

#[test]
fn overlaps_are_found_anywhere_in_a_finite_series() {
    // `b` skips every Tuesday until 2028, then collides with `a` in 2029.
    let skips: Vec<String> = (0..)
        .map(|w| chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap() + chrono::Duration::weeks(w))
        .take_while(|d| d.to_string().as_str() < "2029-01-01")
        .map(|d| d.to_string())
        .collect();
    let yaml = format!(
        "{HEAD}  - id: a\n    title: A\n    starts: 2026-12-01 20:00\n    repeat: weekly\n    until: 2029-06-30\n    questions: [Q?]\n  - id: b\n    title: B\n    starts: 2026-12-01 20:30\n    repeat: weekly\n    until: 2029-06-30\n    skip: [{}]\n    questions: [Q?]\n",
        skips.join(", ")
    );
    let errs = errors(&check(&yaml));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("`b` on Tue 2 Jan 2029 20:30 overlaps `a`"),
        "{errs:?}"
    );
}

#[test]
fn an_extra_yaml_document_is_named_as_such() {
    let out = check("timezone: UTC\ndebates: []\n---\nmore: 1\n");
    assert_eq!(
        errors(&out),
        vec![
            "3:1: error: invalid YAML: a schedule is one YAML document: remove the extra `---` line"
        ]
    );
}

#[test]
fn a_file_with_a_million_errors_prints_the_first_hundred() {
    let yaml = format!(
        "timezone: UTC\nrooms: [\"#d:x.org\"]\ndebates: [{}]\n",
        vec!["{}"; 5000].join(",")
    );
    let out = check(&yaml);
    assert_eq!(out.code, Some(2));
    assert_eq!(errors(&out).len(), 100);
    assert!(
        out.stderr.contains("debates.yaml: ... and "),
        "{}",
        &out.stderr[out.stderr.len() - 200..]
    );
}

#[test]
fn help_explains_the_check_command_and_its_exit_status() {
    let out = run(&["help", "check"]);
    assert_eq!(out.code, Some(0));
    assert!(
        out.stdout.contains("FILE:LINE:COLUMN: error: MESSAGE"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("0 valid, 2 invalid, 1 unreadable"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_duplicate_field_is_one_located_error_among_the_others() {
    let yaml = "timezone: Europe/London\nzones: [Europe/London]\nrooms: [\"#d:example.org\"]\ndebates:\n  - id: a\n    title: A\n    title: Again\n    timezone: Europe/Londn\n    starts: 2026-12-01 20:00\n    duration: abc\n    colour: red\n    questions:\n      - text: First?\n        at: 10m\n        text: Again?\nzones: [UTC]\n";
    let out = check(yaml);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert_eq!(
        errors(&out),
        vec![
            "7:5: error: duplicate field `title` (first given at line 6)",
            "8:15: error: unknown time zone `Europe/Londn`",
            "10:15: error: `abc` is not a duration: it should start with a number",
            "11:5: error: unknown field `colour` in debate 1",
            "15:9: error: duplicate field `text` (first given at line 13)",
            "16:1: error: duplicate field `zones` (first given at line 2)",
        ],
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("debates.yaml: 6 errors found"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("YAML") && !out.stderr.contains("DuplicateKeyPolicy"),
        "{}",
        out.stderr
    );
}

#[test]
fn duration_errors_are_in_our_words_and_echo_what_was_written() {
    let yaml = format!(
        "{HEAD}  - id: a\n    title: A\n    starts: 2026-12-01 20:00\n    duration: abc\n    remind: [1d, 5x]\n    questions: [Q?]\n  - id: b\n    title: B\n    starts: 2026-12-02 20:00\n    duration: 24h 1s\n    questions: [Q?]\n"
    );
    let out = check(&yaml);
    assert_eq!(
        errors(&out),
        vec![
            "8:15: error: `abc` is not a duration: it should start with a number",
            "9:18: error: `5x` is not a duration: `x` is not a unit (use d, h, m or s)",
            "14:15: error: duration `24h 1s` is out of range: a debate lasts from 1 minute to 24 hours",
        ],
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("hint: use forms such as 1h, 90m or 1h 30m"),
        "{}",
        out.stderr
    );
    for leak in ["expected number", "at 0", "unknown time unit", "1day"] {
        assert!(!out.stderr.contains(leak), "{leak}: {}", out.stderr);
    }
}

#[test]
fn zones_with_numbers_for_abbreviations_name_each_offset_once() {
    // Lord Howe Island goes from +11:00 back to +10:30 at 02:00 on 5 April 2026.
    let lord_howe = |starts: &str| {
        check(&format!(
            "{HEAD}  - id: l\n    title: L\n    timezone: Australia/Lord_Howe\n    starts: {starts}\n    questions: [Q?]\n"
        ))
    };
    let out = lord_howe("2026-04-05 01:45+02:00");
    assert_eq!(
        errors(&out),
        vec![
            "8:13: error: offset +02:00 does not match Australia/Lord_Howe at Sun 5 Apr 2026 01:45: it is either +11:00 or +10:30"
        ],
        "{}",
        out.stderr
    );
    let out = lord_howe("2026-04-05 01:45");
    assert!(
        out.stderr.contains(
            "hint: say which with an offset: `2026-04-05 01:45 +11:00` for the first or `2026-04-05 01:45 +10:30` for the second\n"
        ),
        "{}",
        out.stderr
    );
    let out = lord_howe("2026-07-01 20:00-05:00");
    assert!(
        out.stderr
            .contains("at Wed 1 Jul 2026 20:00 it is +10:30\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_series_that_would_run_past_2099_is_cut_with_a_note() {
    let yaml = format!(
        "{HEAD}  - id: endless\n    title: E\n    starts: 2095-01-03 20:00\n    repeat: weekly\n    questions: [Q?]\n  - id: ten-years\n    title: T\n    starts: 2095-01-04 20:00\n    repeat: weekly\n    until: 2104-12-31\n    questions: [Q?]\n  - id: counted\n    title: C\n    starts: 2095-01-05 10:00\n    repeat: monthly\n    count: 100\n    questions: [Q?]\n  - id: short\n    title: S\n    starts: 2095-01-06 12:00\n    repeat: weekly\n    count: 10\n    questions: [Q?]\n"
    );
    let out = check(&yaml);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for note in [
        "8:5: note: `endless`: the series is cut at 31 Dec 2099, where the time zone rules Podium uses end; its last debate is on Mon 28 Dec 2099",
        "14:5: note: `ten-years`: the series is cut at 31 Dec 2099, where the time zone rules Podium uses end; its last debate is on Tue 29 Dec 2099",
        "20:5: note: `counted`: the series is cut at 31 Dec 2099, where the time zone rules Podium uses end; its last debate is on Sat 5 Dec 2099",
    ] {
        assert!(out.stderr.contains(note), "{note}\n{}", out.stderr);
    }
    assert!(!out.stderr.contains("`short`"), "{}", out.stderr);
    assert_eq!(out.stderr.matches("is cut at").count(), 3, "{}", out.stderr);
}

/// IRC channel names with control characters (a colour code, a NUL, DEL)
/// used to pass `check` and fail only when Podium tried to join; they are
/// located errors, shown escaped so the terminal shows what is there.
#[test]
fn control_characters_in_a_room_are_located_errors() {
    let yaml = "timezone: Europe/London\ndebates:\n  - id: a\n    title: A\n    starts: 2026-12-01 20:00\n    questions: [Q?]\n    rooms:\n      - \"#deb\\x01ate\"\n      - \"irc:#col\\x03ours\"\n      - \"#del\\x7f\"\n      - \"#next\\u0085line\"\n      - \"#fine\"\n";
    let out = check(yaml);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert_eq!(
        errors(&out),
        vec![
            "8:9: error: a room name cannot contain control characters: `#deb\\u{1}ate`",
            "9:9: error: a room name cannot contain control characters: `irc:#col\\u{3}ours`",
            "10:9: error: a room name cannot contain control characters: `#del\\u{7f}`",
            "11:9: error: a room name cannot contain control characters: `#next\\u{85}line`",
        ],
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.chars().any(|c| c.is_control() && c != '\n'),
        "{:?}",
        out.stderr
    );
}

/// `podium CMD FILE` with a short hang guard: a command that reads a
/// device or waits on a FIFO is killed (and the test fails) after 20 s.
fn refuses_quickly(args: &[&str], file: &std::path::Path) -> support::cli::Output {
    let mut cmd = support::cli::podium_now();
    cmd.args(args).arg(file);
    let out = assert_cmd::Command::from_std(cmd)
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .expect("podium runs");
    support::cli::Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `podium check /dev/zero` used to read until memory ran out: the size
/// limit applied only after the whole file was read. A device is refused
/// before reading anything.
#[test]
fn a_device_is_refused_at_once() {
    let out = refuses_quickly(&["check"], std::path::Path::new("/dev/zero"));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert_eq!(
        out.stderr.trim_end(),
        "podium: cannot read /dev/zero: it is a device, not a file (a schedule is a text file)"
    );
}

/// A FIFO with nobody writing to it: opening it to read would wait for a
/// writer for ever. Refused at once, by every command that reads a schedule.
#[test]
fn a_fifo_without_a_writer_is_refused_without_waiting() {
    let s = setup("");
    let fifo = s.dir.path().join("debates.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    for args in [&["check"][..], &["schedule"], &["ics"]] {
        let out = refuses_quickly(args, &fifo);
        assert_eq!(out.code, Some(1), "{args:?}: {}", out.stderr);
        assert_eq!(
            out.stderr.trim_end(),
            format!(
                "podium: cannot read {}: it is a FIFO, not a file (a schedule is a text file)",
                fifo.display()
            ),
            "{args:?}"
        );
    }
}

/// A 60 MB file (sparse: it takes no disk) is over the documented 50 MB
/// limit and is refused from its size, without being read.
#[test]
fn a_file_over_the_size_limit_is_refused_without_reading_it() {
    let s = setup("");
    let huge = s.dir.path().join("huge.yaml");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(60 * 1024 * 1024)
        .unwrap();
    let out = refuses_quickly(&["check"], &huge);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert_eq!(
        out.stderr.trim_end(),
        format!(
            "podium: cannot read {}: it is 60 MiB, over the 50 MiB limit for a schedule",
            huge.display()
        )
    );
    // At the limit itself it is read (and found wanting as YAML, not refused).
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(50 * 1024 * 1024)
        .unwrap();
    let out = refuses_quickly(&["check"], &huge);
    assert!(
        !out.stderr.contains("limit for a schedule"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_last_call_must_be_some_time_and_shorter_than_the_debate() {
    let yaml = format!(
        "{HEAD}  - id: a\n    title: A\n    starts: 2026-12-01 20:00\n    duration: 1h\n    last_call: 2h\n    questions: [Q?]\n  - id: b\n    title: B\n    starts: 2026-12-02 20:00\n    last_call: 0m\n    questions: [Q?]\n  - id: c\n    title: C\n    starts: 2026-12-03 20:00\n    last_call: 2\n    questions: [Q?]\n  - id: d\n    title: D\n    starts: 2026-12-04 20:00\n    last_call: 1h\n    questions: [Q?]\n  - id: e\n    title: E\n    starts: 2026-12-05 20:00\n    last_call: off\n    questions: [Q?]\n  - id: f\n    title: F\n    starts: 2026-12-06 20:00\n    last_call: 59m 59s\n    questions: [Q?]\n"
    );
    let out = check(&yaml);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert_eq!(
        errors(&out),
        vec![
            "9:16: error: last call `2h` is not shorter than debate 1, which lasts 1h",
            "14:16: error: last call `0m` is no time at all",
            "19:16: error: last call `2` has no unit",
            "24:16: error: last call `1h` is not shorter than debate 4, which lasts 1h",
        ],
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("debates.yaml:9:16: error: last call `2h`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "hint: a last call comes that long before each next question and the closing"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn a_top_level_last_call_is_checked_once_there_and_against_each_debate_s_own_duration() {
    // As long as the default hour: one error, at the top, not one per debate.
    let yaml = format!(
        "timezone: Europe/London\nrooms: [\"#d:example.org\"]\nlast_call: 1h\ndebates:\n{}{}",
        one_question("a", "2026-12-01 20:00"),
        one_question("b", "2026-12-02 20:00")
    );
    let out = check(&yaml);
    assert_eq!(
        errors(&out),
        vec![
            "3:12: error: last call `1h` is not shorter than a debate, which lasts 1h unless it says otherwise"
        ],
        "{}",
        out.stderr
    );
    // Fine for the default hour, too long for a debate of its own 5
    // minutes (said at its `duration`), and `off` where a debate opts out.
    let yaml = "timezone: Europe/London\nrooms: [\"#d:example.org\"]\nlast_call: 10m\ndebates:\n  - id: a\n    title: A\n    starts: 2026-12-01 20:00\n    questions: [Q?]\n  - id: b\n    title: B\n    starts: 2026-12-02 20:00\n    duration: 5m\n    questions: [Q?]\n  - id: c\n    title: C\n    starts: 2026-12-03 20:00\n    duration: 5m\n    last_call: off\n    questions: [Q?]\n";
    let out = check(yaml);
    assert_eq!(
        errors(&out),
        vec![
            "12:15: error: last call `10m` (from the top of the file) is not shorter than debate 2, which lasts 5m"
        ],
        "{}",
        out.stderr
    );
    // A valid last call changes nothing `check` says.
    let plain = format!("{HEAD}{}", one_question("a", "2026-12-01 20:00"));
    let with = plain.replace("debates:\n", "last_call: 2m\ndebates:\n");
    let (a, b) = (check(&plain), check(&with));
    assert_eq!(b.code, Some(0), "{}", b.stderr);
    assert_eq!((a.stdout, a.stderr), (b.stdout, b.stderr));
}
