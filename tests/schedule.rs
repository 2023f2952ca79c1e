//! `podium schedule`: occurrences in every zone, across daylight-saving changes.

mod support;

use serde_json::Value;

use support::cli::{check, podium_now, run, setup};

fn occurrences(yaml: &str, from: &str, until: &str) -> Vec<Value> {
    let s = setup(yaml);
    let out = run(&[
        "schedule",
        s.schedule.to_str().unwrap(),
        "--from",
        from,
        "--until",
        until,
        "--json",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    serde_json::from_str::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn field<'a>(o: &'a Value, key: &str) -> &'a str {
    o[key].as_str().unwrap_or_else(|| panic!("{key} in {o}"))
}

#[test]
fn json_follows_the_contract_for_the_inspiring_debate() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/debates.yaml");
    let out = run(&[
        "schedule",
        path,
        "--from",
        "2011-10-01",
        "--until",
        "2011-12-01",
        "--json",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    let o = &list[0];
    assert_eq!(field(o, "debate"), "leadership-2011");
    assert_eq!(
        field(o, "title"),
        "Developing Leadership in Social Work and Social Care"
    );
    assert_eq!(field(o, "starts_at"), "2011-11-01T20:00:00Z");
    assert_eq!(field(o, "ends_at"), "2011-11-01T21:00:00Z");
    assert_eq!(field(o, "timezone"), "Europe/London");
    assert_eq!(o["local"]["Europe/London"], "2011-11-01T20:00:00+00:00");
    assert_eq!(o["local"]["America/New_York"], "2011-11-01T16:00:00-04:00");
    assert_eq!(
        o["notes"][0],
        "on Tue 1 Nov 2011 New York is 4 hours behind London, not the usual 5"
    );
}

#[test]
fn human_output_shows_every_zone_and_the_mismatch_note() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/debates.yaml");
    let out = run(&[
        "schedule",
        path,
        "--from",
        "2011-10-01",
        "--until",
        "2011-12-01",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "Tue 1 Nov 2011 20:00 London · 16:00 New York\n    leadership-2011: Developing Leadership in Social Work and Social Care (1h)\n    note: on Tue 1 Nov 2011 New York is 4 hours behind London, not the usual 5\n"
    );
}

#[test]
fn a_weekly_debate_keeps_london_wall_time_across_the_uk_and_us_spring_changes() {
    // US clocks go forward on 8 March 2026, UK clocks on 29 March.
    let yaml = "timezone: Europe/London\nzones: [Europe/London, America/New_York]\nrooms: [\"#d:x.org\"]\ndebates:\n  - id: w\n    title: W\n    starts: 2026-03-03 20:00\n    repeat: weekly\n    questions: [Q?]\n";
    let list = occurrences(yaml, "2026-03-01", "2026-04-08");
    let got: Vec<(&str, &str, &str, usize)> = list
        .iter()
        .map(|o| {
            (
                field(o, "starts_at"),
                o["local"]["Europe/London"].as_str().unwrap(),
                o["local"]["America/New_York"].as_str().unwrap(),
                o["notes"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "2026-03-03T20:00:00Z",
                "2026-03-03T20:00:00+00:00",
                "2026-03-03T15:00:00-05:00",
                0
            ),
            (
                "2026-03-10T20:00:00Z",
                "2026-03-10T20:00:00+00:00",
                "2026-03-10T16:00:00-04:00",
                1
            ),
            (
                "2026-03-17T20:00:00Z",
                "2026-03-17T20:00:00+00:00",
                "2026-03-17T16:00:00-04:00",
                1
            ),
            (
                "2026-03-24T20:00:00Z",
                "2026-03-24T20:00:00+00:00",
                "2026-03-24T16:00:00-04:00",
                1
            ),
            (
                "2026-03-31T19:00:00Z",
                "2026-03-31T20:00:00+01:00",
                "2026-03-31T15:00:00-04:00",
                0
            ),
            (
                "2026-04-07T19:00:00Z",
                "2026-04-07T20:00:00+01:00",
                "2026-04-07T15:00:00-04:00",
                0
            ),
        ]
    );
}

#[test]
fn a_weekly_debate_across_the_autumn_changes() {
    // UK clocks go back on 25 October 2026, US clocks on 1 November.
    let yaml = "timezone: America/New_York\nzones: [America/New_York, Europe/London]\nrooms: [\"#d:x.org\"]\ndebates:\n  - id: w\n    title: W\n    starts: 2026-10-20 15:00\n    repeat: weekly\n    count: 3\n    questions: [Q?]\n";
    let list = occurrences(yaml, "2026-10-01", "2026-12-01");
    let london: Vec<&str> = list
        .iter()
        .map(|o| o["local"]["Europe/London"].as_str().unwrap())
        .collect();
    assert_eq!(
        london,
        vec![
            "2026-10-20T20:00:00+01:00",
            "2026-10-27T19:00:00+00:00",
            "2026-11-03T20:00:00+00:00"
        ]
    );
    assert_eq!(
        list[1]["notes"][0],
        "on Tue 27 Oct 2026 London is 4 hours ahead of New York, not the usual 5"
    );
}

#[test]
fn half_and_three_quarter_hour_zones_are_shown_exactly() {
    let yaml = "timezone: Asia/Kathmandu\nzones: [Asia/Kathmandu, Asia/Kolkata, Australia/Adelaide, America/St_Johns, Europe/London]\nrooms: [\"#d:x.org\"]\ndebates:\n  - id: k\n    title: K\n    starts: 2026-01-06 07:00\n    repeat: monthly\n    count: 7\n    questions: [Q?]\n";
    let list = occurrences(yaml, "2026-01-01", "2026-08-01");
    let jan = &list[0];
    assert_eq!(field(jan, "starts_at"), "2026-01-06T01:15:00Z");
    assert_eq!(jan["local"]["Asia/Kolkata"], "2026-01-06T06:45:00+05:30");
    assert_eq!(
        jan["local"]["Australia/Adelaide"],
        "2026-01-06T11:45:00+10:30"
    );
    assert_eq!(
        jan["local"]["America/St_Johns"],
        "2026-01-05T21:45:00-03:30"
    );
    assert_eq!(
        field(jan, "time_line"),
        "Tue 6 Jan 2026 07:00 Kathmandu · 06:45 Kolkata · 11:45 Adelaide · Mon 21:45 St Johns · 01:15 London"
    );
    let july = list
        .iter()
        .find(|o| field(o, "starts_at").starts_with("2026-07"))
        .unwrap();
    assert_eq!(
        july["local"]["Australia/Adelaide"],
        "2026-07-06T10:45:00+09:30"
    );
    assert_eq!(
        july["local"]["America/St_Johns"],
        "2026-07-05T22:45:00-02:30"
    );
    // April: Adelaide has left summer time (5 April), St John's has started it (8 March),
    // neither is at its January or July distance from Kathmandu? Kathmandu has no DST,
    // so every difference is one of the two usual ones: no notes at all.
    assert!(
        list.iter()
            .all(|o| o["notes"].as_array().unwrap().is_empty())
    );
}

#[test]
fn skipped_dates_are_left_out_and_monthly_skips_short_months() {
    let yaml = "timezone: Europe/Paris\nrooms: [\"#d:x.org\"]\ndebates:\n  - id: m\n    title: M\n    starts: 2026-01-31 18:00\n    repeat: monthly\n    until: 2026-08-31\n    skip: [2026-05-31]\n    questions: [Q?]\n";
    let list = occurrences(yaml, "2026-01-01", "2027-01-01");
    let starts: Vec<&str> = list
        .iter()
        .map(|o| o["local"]["Europe/Paris"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        vec![
            "2026-01-31T18:00:00+01:00",
            "2026-03-31T18:00:00+02:00",
            "2026-07-31T18:00:00+02:00",
            "2026-08-31T18:00:00+02:00",
        ]
    );
}

#[test]
fn a_repeat_that_lands_in_a_gap_moves_forward_and_check_warns() {
    let yaml = "timezone: Europe/London\nrooms: [\"#d:x.org\"]\ndebates:\n  - id: late\n    title: L\n    starts: 2026-03-15 01:30\n    duration: 20m\n    repeat: weekly\n    count: 3\n    questions: [Q?]\n";
    let list = occurrences(yaml, "2026-03-01", "2026-04-08");
    assert_eq!(field(&list[2], "starts_at"), "2026-03-29T01:30:00Z");
    assert_eq!(
        list[2]["local"]["Europe/London"],
        "2026-03-29T02:30:00+01:00"
    );
    assert_eq!(field(&list[2], "adjusted"), "gap");
    let out = check(yaml);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("6:13: warning: on Sun 29 Mar 2026 01:30 does not exist in Europe/London (clocks go forward); `late` starts at 02:30 BST that day"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_explicit_offset_chooses_which_of_two_equal_wall_times() {
    let yaml = "timezone: Europe/London\nrooms: [\"#d:x.org\"]\ndebates:\n  - id: first\n    title: F\n    starts: 2026-10-25 01:30+01:00\n    duration: 20m\n    questions: [Q?]\n  - id: second\n    title: S\n    starts: 2026-10-25 01:30+00:00\n    duration: 20m\n    questions: [Q?]\n";
    let list = occurrences(yaml, "2026-10-24", "2026-10-26");
    let got: Vec<(&str, &str)> = list
        .iter()
        .map(|o| (field(o, "debate"), field(o, "starts_at")))
        .collect();
    assert_eq!(
        got,
        vec![
            ("first", "2026-10-25T00:30:00Z"),
            ("second", "2026-10-25T01:30:00Z")
        ]
    );
}

#[test]
fn a_debate_crossing_midnight_is_one_occurrence() {
    let yaml = "timezone: America/Los_Angeles\nzones: [America/Los_Angeles, Europe/Berlin]\nrooms: [\"#d:x.org\"]\ndebates:\n  - id: night\n    title: N\n    starts: 2026-12-01 23:30\n    duration: 1h\n    questions: [Q?]\n";
    let list = occurrences(yaml, "2026-12-01", "2026-12-03");
    assert_eq!(list.len(), 1);
    assert_eq!(field(&list[0], "ends_at"), "2026-12-02T08:30:00Z");
    assert_eq!(
        field(&list[0], "time_line"),
        "Tue 1 Dec 2026 23:30 Los Angeles · Wed 08:30 Berlin"
    );
}

#[test]
fn the_default_window_is_the_next_ninety_days_from_now() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/debates.yaml");
    let out = run(&["schedule", path, "--json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let list: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    // now = Fri 27 Nov 2026: Tuesdays 1, 8, 15 Dec, (22, 29 skipped), 5 Jan ... 23 Feb.
    let first = field(&list[0], "starts_at");
    assert_eq!(first, "2026-12-01T20:00:00Z");
    assert!(
        list.iter()
            .all(|o| !field(o, "starts_at").starts_with("2026-12-22"))
    );
    assert_eq!(list.len(), 11);
}

#[test]
fn an_invalid_schedule_is_not_listed() {
    let s = setup("debates: [}");
    let out = run(&["schedule", s.schedule.to_str().unwrap()]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("error: invalid YAML"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
}

#[test]
fn ics_writes_a_valid_calendar_file_for_the_example() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("debates.ics");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/debates.yaml");
    let out = run(&["ics", path, "-o", out_path.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let bytes = std::fs::read(&out_path).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with("BEGIN:VCALENDAR\r\n") && text.ends_with("END:VCALENDAR\r\n"));
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "bare LF in the output"
    );
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "line over 75 octets: {line}");
    }
    let unfolded = text.replace("\r\n ", "");
    let lines: Vec<&str> = unfolded.split("\r\n").collect();
    for kind in ["VCALENDAR", "VTIMEZONE", "VEVENT", "STANDARD", "DAYLIGHT"] {
        let begins = lines
            .iter()
            .filter(|l| **l == format!("BEGIN:{kind}"))
            .count();
        let ends = lines
            .iter()
            .filter(|l| **l == format!("END:{kind}"))
            .count();
        assert_eq!(begins, ends, "{kind}");
    }
    assert_eq!(lines.iter().filter(|l| **l == "BEGIN:VEVENT").count(), 2);
    assert!(lines.contains(&"UID:leadership-2011@podium"));
    assert!(lines.contains(&"DTSTART;TZID=Europe/London:20111101T200000"));
    assert!(
        lines.contains(&"RRULE:FREQ=WEEKLY;UNTIL=20270629T225959Z"),
        "{lines:?}"
    );
    assert!(lines.contains(&"TZID:Europe/London"));
    assert!(
        lines.contains(&"EXDATE;TZID=Europe/London:20261222T200000"),
        "{lines:?}"
    );
}

#[test]
fn a_wrong_command_line_is_a_usage_error_not_an_invalid_schedule() {
    let out = run(&["schedule", "--from", "yesterday"]);
    assert_eq!(out.code, Some(64), "{}", out.stderr);
    assert!(out.stderr.contains("neither a date"), "{}", out.stderr);
    let out = run(&["check", "a.yaml", "b.yaml"]);
    assert_eq!(out.code, Some(64), "{}", out.stderr);
    let out = run(&["--help"]);
    assert_eq!(out.code, Some(0));
}

/// An endless weekly debate on Mondays at 20:00 London, from 2095.
const PAST_2099: &str = "timezone: Europe/London\nzones: [Europe/London, America/New_York]\nrooms: [\"#d:x.org\"]\ndebates:\n  - id: late\n    title: L\n    starts: 2095-01-03 20:00\n    repeat: weekly\n    questions: [Q?]\n";

#[test]
fn no_occurrence_is_listed_past_2099_where_the_zone_rules_end() {
    let list = occurrences(PAST_2099, "2099-12-01", "2101-01-01");
    let starts: Vec<&str> = list.iter().map(|o| field(o, "starts_at")).collect();
    // Before the cut, 29 March 2100 came out as 20:00Z: the rules had no BST.
    assert_eq!(
        starts,
        vec![
            "2099-12-07T20:00:00Z",
            "2099-12-14T20:00:00Z",
            "2099-12-21T20:00:00Z",
            "2099-12-28T20:00:00Z",
        ]
    );
    let s = setup(PAST_2099);
    let path = s.schedule.to_str().unwrap();
    let out = run(&[
        "schedule",
        path,
        "--from",
        "2100-01-01",
        "--until",
        "2101-01-01",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("No debates between 2100-01-01T00:00:00Z"),
        "{}",
        out.stdout
    );
    let out = run(&["ics", path]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout
            .contains("RRULE:FREQ=WEEKLY;UNTIL=20991231T235959Z\r\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn fixed_offset_zones_are_shown_with_their_real_offset() {
    let yaml = "timezone: Etc/GMT+5\nzones: [Etc/GMT+5, Etc/GMT-14, Etc/UTC, Etc/GMT]\nrooms: [\"#d:x.org\"]\ndebates:\n  - id: fixed\n    title: F\n    starts: 2026-12-01 09:00\n    questions: [Q?]\n";
    let line = "Tue 1 Dec 2026 09:00 UTC−5 · Wed 04:00 UTC+14 · 14:00 UTC · 14:00 GMT";
    let list = occurrences(yaml, "2026-12-01", "2026-12-02");
    assert_eq!(field(&list[0], "time_line"), line);
    assert_eq!(field(&list[0], "starts_at"), "2026-12-01T14:00:00Z");
    let out = check(yaml);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!("next: fixed on {line}")),
        "{}",
        out.stdout
    );
}

#[test]
fn schedule_prints_the_warnings_that_check_prints() {
    let yaml = "timezone: Europe/London\nrooms: [\"#d:x.org\"]\ndebates:\n  - id: late\n    title: L\n    starts: 2026-03-15 01:30\n    duration: 20m\n    repeat: weekly\n    count: 3\n    questions: [Q?]\n";
    let s = setup(yaml);
    let warning = ":6:13: warning: on Sun 29 Mar 2026 01:30 does not exist in Europe/London (clocks go forward); `late` starts at 02:30 BST that day\n";
    for json in [false, true] {
        let mut args = vec![
            "schedule",
            s.schedule.to_str().unwrap(),
            "--from",
            "2026-03-01",
            "--until",
            "2026-04-08",
        ];
        if json {
            args.push("--json");
        }
        let out = run(&args);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        assert!(out.stderr.contains(warning), "json {json}: {}", out.stderr);
        assert!(!out.stderr.contains("note:"), "{}", out.stderr);
    }
}

#[test]
fn until_not_after_from_is_a_usage_error() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/debates.yaml");
    for window in [
        &["--from", "2026-12-01", "--until", "2026-11-01"][..],
        &["--from", "2026-12-01", "--until", "2026-12-01"],
        // --from defaults to now, 2026-11-27.
        &["--until", "2026-01-01"],
    ] {
        let mut args = vec!["schedule", path];
        args.extend_from_slice(window);
        let out = run(&args);
        assert_eq!(out.code, Some(64), "{window:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("--until") && out.stdout.is_empty(),
            "{}",
            out.stderr
        );
    }
}

/// Anonymous memory (kB) in use by process `pid` now.
#[cfg(target_os = "linux")]
fn anonymous_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn a_long_listing_is_written_as_it_is_produced() {
    use std::io::Read;
    use std::process::Stdio;
    // 400 weekly debates over ten years: 208,000 occurrences.
    let mut yaml = String::from(
        "timezone: Europe/London\nzones: [Europe/London, America/New_York, Asia/Kolkata]\ndebates:\n",
    );
    for i in 0..400 {
        yaml.push_str(&format!(
            "  - {{id: d{i}, title: D{i}, starts: 2026-12-0{} {:02}:00, repeat: weekly, rooms: [\"#r{i}:x.org\"], questions: [Q?]}}\n",
            1 + i % 7,
            i % 24
        ));
    }
    let s = setup(&yaml);
    for json in [true, false] {
        let mut cmd = podium_now();
        cmd.arg("schedule").arg(&s.schedule).args([
            "--from",
            "2027-01-01",
            "--until",
            "2037-01-01",
        ]);
        if json {
            cmd.arg("--json");
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The first bytes out: a program that lists everything before
        // writing has all of it in memory by now; one that streams holds a
        // few occurrences, then waits on the pipe nobody reads.
        let mut first = [0u8; 4096];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut first)
            .unwrap();
        let kb = anonymous_kb(child.id());
        child.kill().unwrap();
        child.wait().unwrap();
        // About 4 MB when streaming; listing first held 13 MB more for the text
        // form and hundreds for JSON.
        assert!(
            kb < 10_000,
            "json {json}: {kb} kB in use at the first output"
        );
    }
}
