//! The schedule as an RFC 5545 iCalendar feed, for people who follow the
//! debates in their own calendar app.
//!
//! A series is one event whose RRULE is anchored to a DTSTART with a TZID,
//! never a list of UTC instants: that is the only form every app expands
//! at the same wall-clock time across daylight-saving changes, as our model
//! does. RFC 5545 requires a VTIMEZONE for every TZID used; building it
//! from the same chrono-tz data as the model makes apps and Podium agree on
//! every offset, whatever the app's own zone database says.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::{OffsetComponents, Tz};

use crate::schedule::model::{LAST_DATE, resolve_local};
use crate::schedule::zones::offset_seconds;
use crate::schedule::{Debate, Frequency, RepeatEnd, Schedule};

const LOCAL: &str = "%Y%m%dT%H%M%S";
const UTC: &str = "%Y%m%dT%H%M%SZ";

/// Whole calendar text with CRLF line endings.
pub fn calendar(schedule: &Schedule, now: DateTime<Utc>) -> String {
    let mut lines: Vec<String> = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Podium//Podium debates//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:Podium debates",
    ]
    .map(String::from)
    .into();
    // Per zone: the first and last year its observances must cover, and
    // whether a series goes on to the limit (then the rules must go on to
    // it too).
    let mut zones: BTreeMap<&str, (Tz, i32, i32, bool)> = BTreeMap::new();
    for d in schedule.debates.iter().filter(|d| uses_tzid(d)) {
        let last = d.last_date();
        let to = last
            .map_or(now.year().max(d.starts.year()) + 5, |l| l.year() + 1)
            .min(LAST_DATE.year());
        let span =
            zones
                .entry(d.timezone.name())
                .or_insert((d.timezone, i32::MAX, i32::MIN, false));
        span.1 = span.1.min(d.starts.year() - 1);
        span.2 = span.2.max(to);
        span.3 |= d.is_cut();
    }
    for (tz, from, to, endless) in zones.into_values() {
        vtimezone(&mut lines, tz, from, to, endless);
    }
    let stamp = now.format(UTC).to_string();
    for d in &schedule.debates {
        event(&mut lines, d, &stamp);
    }
    lines.push("END:VCALENDAR".into());
    let mut out = String::new();
    for line in &lines {
        fold(line, &mut out);
    }
    out
}

/// Whether the wall time alone names the first start: not when the file
/// chose the second of two equal wall times in a fold, which a reader
/// resolves to the first.
fn wall_time_is_exact(d: &Debate) -> bool {
    resolve_local(d.timezone, d.starts).0 == d.first_start
}

/// A one-off that starts in the second half of a fold is written in UTC;
/// everything else names its zone.
fn uses_tzid(d: &Debate) -> bool {
    d.is_repeating() || wall_time_is_exact(d)
}

fn event(lines: &mut Vec<String>, d: &Debate, stamp: &str) {
    let local = |t: NaiveDateTime| format!(";TZID={}:{}", d.timezone.name(), t.format(LOCAL));
    lines.push("BEGIN:VEVENT".into());
    lines.push(format!("UID:{}@podium", d.id));
    lines.push(format!("DTSTAMP:{stamp}"));
    if uses_tzid(d) {
        lines.push(format!("DTSTART{}", local(d.starts)));
    } else {
        lines.push(format!("DTSTART:{}", d.first_start.format(UTC)));
    }
    lines.push(format!("DURATION:{}", duration(d.duration)));
    if let Some(r) = &d.repeat {
        let mut rule = match r.every {
            Frequency::Weekly => "FREQ=WEEKLY",
            Frequency::Fortnightly => "FREQ=WEEKLY;INTERVAL=2",
            Frequency::Monthly => "FREQ=MONTHLY",
        }
        .to_owned();
        // A series cut at the limit ends there in the calendar too: an app
        // would otherwise go on past the zone rules the VTIMEZONE carries.
        let until = if d.is_cut() {
            Some(LAST_DATE)
        } else {
            match r.end {
                RepeatEnd::Until(day) => Some(day),
                RepeatEnd::Never => None,
                RepeatEnd::Count(n) => {
                    let _ = write!(rule, ";COUNT={n}");
                    None
                }
            }
        };
        if let Some(day) = until {
            let _ = write!(rule, ";UNTIL={}", end_of_day(d.timezone, day).format(UTC));
        }
        lines.push(format!("RRULE:{rule}"));
        let mut skipped: BTreeSet<NaiveDate> = r.skip.range(..=LAST_DATE).copied().collect();
        // The rule still anchors the wall time (so later dates follow the
        // zone), but its first instance is the earlier of the fold's two:
        // swap it for the instant the file chose. COUNT is not affected.
        if !wall_time_is_exact(d) && skipped.insert(d.starts.date()) {
            lines.push(format!("RDATE:{}", d.first_start.format(UTC)));
        }
        for day in skipped {
            lines.push(format!("EXDATE{}", local(day.and_time(d.starts.time()))));
        }
    }
    lines.push(format!("SUMMARY:{}", text(&d.title)));
    let rooms: Vec<String> = d.rooms.iter().map(ToString::to_string).collect();
    let mut about: Vec<String> = (d.questions.iter().enumerate())
        .map(|(i, q)| format!("Q{}: {}", i + 1, q.text))
        .collect();
    about.push(String::new());
    if let Some(tag) = &d.hashtag {
        about.push(format!("Hashtag: {tag}"));
    }
    about.push(format!("Rooms: {}", rooms.join(", ")));
    lines.push(format!("DESCRIPTION:{}", text(&about.join("\n"))));
    lines.push(format!("LOCATION:{}", text(&rooms.join(", "))));
    lines.push("END:VEVENT".into());
}

/// The last second of a local date: UNTIL must be UTC beside a TZID, and
/// our `until` keeps every start on that date.
fn end_of_day(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let next = day.succ_opt().unwrap_or(day).and_time(NaiveTime::MIN);
    resolve_local(tz, next).0 - Duration::seconds(1)
}

fn duration(d: Duration) -> String {
    let s = d.num_seconds();
    let mut out = "PT".to_owned();
    for (n, unit) in [(s / 3600, 'H'), (s / 60 % 60, 'M'), (s % 60, 'S')] {
        if n != 0 {
            let _ = write!(out, "{n}{unit}");
        }
    }
    if s == 0 { "PT0S".into() } else { out }
}

/// One change of offset: the instant, the local wall time it happens at
/// (in the old offset), and the offsets before and after.
#[derive(Clone, Copy, Debug)]
struct Transition {
    at: DateTime<Utc>,
    local: NaiveDateTime,
    from: i32,
    to: i32,
}

/// The offset transitions of `tz` in the years `from..=to`, found by probing
/// each day and bisecting to the second, because chrono-tz does not expose
/// its transition table.
fn transitions(tz: Tz, from: i32, to: i32) -> Vec<Transition> {
    let year =
        |y: i32| Utc.from_utc_datetime(&NaiveDate::from_yo_opt(y, 1).unwrap_or_default().into());
    let offset = |t: DateTime<Utc>| offset_seconds(tz, t);
    let (mut day, end) = (year(from), year(to + 1));
    let mut found = Vec::new();
    while day < end {
        let (mut lo, mut hi) = (day, day + Duration::days(1));
        if offset(lo) != offset(hi) {
            while hi - lo > Duration::seconds(1) {
                let mid = lo + Duration::seconds((hi - lo).num_seconds() / 2);
                *(if offset(mid) == offset(lo) {
                    &mut lo
                } else {
                    &mut hi
                }) = mid;
            }
            let (before, after) = (offset(lo), offset(hi));
            found.push(Transition {
                at: hi,
                local: hi.naive_utc() + Duration::seconds(before.into()),
                from: before,
                to: after,
            });
        }
        day += Duration::days(1);
    }
    found
}

/// The yearly rule a transition follows ("last Sunday of March", "second
/// Sunday of March"), as RRULE parts, if it is that kind of rule.
fn yearly_rule(local: NaiveDateTime) -> (u32, i32, chrono::Weekday) {
    let date = local.date();
    let next_month = if date.month() == 12 {
        NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
    };
    let last_day = next_month
        .and_then(|d| d.pred_opt())
        .map_or(31, |d| d.day());
    let nth = if date.day() + 7 > last_day {
        -1
    } else {
        i32::try_from((date.day() - 1) / 7 + 1).unwrap_or(1)
    };
    (date.month(), nth, date.weekday())
}

/// The date a yearly rule gives in `year`.
fn rule_date(year: i32, (month, nth, weekday): (u32, i32, chrono::Weekday)) -> Option<NaiveDate> {
    if nth > 0 {
        NaiveDate::from_weekday_of_month_opt(year, month, weekday, u8::try_from(nth).ok()?)
    } else {
        (22..=31)
            .rev()
            .filter_map(|d| NaiveDate::from_ymd_opt(year, month, d))
            .find(|d| d.weekday() == weekday)
    }
}

/// Writes the zone's observances for `from..=to`. For a calendar with
/// series that go on to the limit ([`LAST_DATE`]), the last year's changes
/// become yearly RRULEs when the zone follows such rules (checked against
/// the three years before and every year after, to the limit), so apps
/// that read the VTIMEZONE stay right to the last occurrence; a zone with
/// irregular changes is written out year by year to the limit.
fn vtimezone(lines: &mut Vec<String>, tz: Tz, from: i32, to: i32, endless: bool) {
    lines.push("BEGIN:VTIMEZONE".into());
    lines.push(format!("TZID:{}", tz.name()));
    let mut found = transitions(tz, from, to);
    let mut rules: Vec<(Transition, String)> = Vec::new();
    if endless {
        let last_year: Vec<Transition> = found
            .iter()
            .copied()
            .filter(|t| t.local.year() == to)
            .collect();
        let later = if to < LAST_DATE.year() {
            transitions(tz, to + 1, LAST_DATE.year())
        } else {
            Vec::new()
        };
        let same = |o: &Transition, t: &Transition, y: i32| {
            o.local.year() == y
                && o.from == t.from
                && o.to == t.to
                && Some(o.local.date()) == rule_date(y, yearly_rule(t.local))
                && o.local.time() == t.local.time()
        };
        let follows_rules = !last_year.is_empty()
            && last_year
                .iter()
                .all(|t| (to - 3..to).all(|y| found.iter().any(|o| same(o, t, y))))
            && (to + 1..=LAST_DATE.year()).all(|y| {
                let changes = later.iter().filter(|o| o.local.year() == y);
                changes.clone().count() == last_year.len()
                    && changes
                        .clone()
                        .all(|o| last_year.iter().any(|t| same(o, t, y)))
            });
        if follows_rules {
            found.retain(|t| t.local.year() < to);
            for t in last_year {
                let (month, nth, weekday) = yearly_rule(t.local);
                let day = match weekday {
                    chrono::Weekday::Mon => "MO",
                    chrono::Weekday::Tue => "TU",
                    chrono::Weekday::Wed => "WE",
                    chrono::Weekday::Thu => "TH",
                    chrono::Weekday::Fri => "FR",
                    chrono::Weekday::Sat => "SA",
                    chrono::Weekday::Sun => "SU",
                };
                rules.push((
                    t,
                    format!("RRULE:FREQ=YEARLY;BYMONTH={month};BYDAY={nth}{day}"),
                ));
            }
        } else {
            found.extend(later);
        }
    }
    if found.is_empty() && rules.is_empty() {
        let day =
            Utc.from_utc_datetime(&NaiveDate::from_yo_opt(from, 1).unwrap_or_default().into());
        let fixed = offset_seconds(tz, day);
        observance(lines, tz, day, NaiveDateTime::default(), fixed, fixed, None);
    }
    for t in found {
        observance(lines, tz, t.at, t.local, t.from, t.to, None);
    }
    for (t, rule) in rules {
        observance(lines, tz, t.at, t.local, t.from, t.to, Some(&rule));
    }
    lines.push("END:VTIMEZONE".into());
}

/// One onset; its DTSTART is local time in the offset being replaced, as
/// RFC 5545 reads it.
fn observance(
    lines: &mut Vec<String>,
    tz: Tz,
    at: DateTime<Utc>,
    start: NaiveDateTime,
    from: i32,
    to: i32,
    rule: Option<&str>,
) {
    let local = at.with_timezone(&tz);
    let daylight = from != to && !local.offset().dst_offset().is_zero();
    let kind = if daylight { "DAYLIGHT" } else { "STANDARD" };
    lines.push(format!("BEGIN:{kind}"));
    lines.push(format!("DTSTART:{}", start.format(LOCAL)));
    if let Some(rule) = rule {
        lines.push(rule.to_owned());
    }
    lines.push(format!("TZOFFSETFROM:{}", utc_offset(from)));
    lines.push(format!("TZOFFSETTO:{}", utc_offset(to)));
    lines.push(format!("TZNAME:{}", text(&local.format("%Z").to_string())));
    lines.push(format!("END:{kind}"));
}

fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    let seconds = if s.is_multiple_of(60) {
        String::new()
    } else {
        format!("{:02}", s % 60)
    };
    format!("{sign}{:02}{:02}{seconds}", s / 3600, s / 60 % 60)
}

/// RFC 5545 3.3.11 TEXT: these four characters would otherwise end or split
/// the value, and other control characters are not allowed at all.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.replace("\r\n", "\n").chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' | '\r' => out.push_str("\\n"),
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// RFC 5545 3.1: lines of at most 75 octets; a continuation starts with a
/// space. Cutting inside a UTF-8 character would corrupt it for readers
/// that decode each physical line.
fn fold(line: &str, out: &mut String) {
    let (mut rest, mut room) = (line, 75);
    while rest.len() > room {
        let mut cut = room;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        room = 74;
    }
    out.push_str(rest);
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
    }

    fn schedule(yaml: &str) -> Schedule {
        match crate::schedule::parse(yaml, now()) {
            Ok((s, _)) => s,
            Err(d) => panic!("{}", d.render("test.yaml")),
        }
    }

    fn debate(body: &str) -> Schedule {
        schedule(&format!(
            "rooms: [\"#debates:example.org\"]\ndebates:\n  - id: d\n    title: T\n    questions: [One?, Two?]\n{body}"
        ))
    }

    /// Undoes folding, checking the line rules on the way.
    fn unfold(ics: &str) -> Vec<String> {
        assert!(ics.ends_with("\r\n") && !ics.replace("\r\n", "").contains(['\r', '\n']));
        let mut lines: Vec<String> = Vec::new();
        for line in ics.trim_end_matches("\r\n").split("\r\n") {
            assert!(line.len() <= 75, "{line:?} is {} octets", line.len());
            match (line.strip_prefix(' '), lines.last_mut()) {
                (Some(more), Some(last)) => last.push_str(more),
                _ => lines.push(line.to_owned()),
            }
        }
        lines
    }

    /// The recurrence of the only event, expanded by the `rrule` crate.
    fn expanded(ics: &str, limit: u16) -> Vec<DateTime<Utc>> {
        let rule: Vec<String> = unfold(ics)
            .into_iter()
            .skip_while(|l| l != "BEGIN:VEVENT")
            .filter(|l| {
                ["DTSTART", "RRULE", "EXDATE", "RDATE"]
                    .iter()
                    .any(|p| l.starts_with(p))
            })
            .collect();
        let set: rrule::RRuleSet = rule.join("\n").parse().unwrap();
        set.all(limit)
            .dates
            .iter()
            .map(|t| t.with_timezone(&Utc))
            .collect()
    }

    fn modelled(s: &Schedule, limit: usize) -> Vec<DateTime<Utc>> {
        s.debates[0]
            .occurrences()
            .take(limit)
            .map(|o| o.starts_at)
            .collect()
    }

    /// The lines of the VTIMEZONE block for `tzid`.
    fn vtimezone_of(ics: &str, tzid: &str) -> Vec<String> {
        let lines = unfold(ics);
        let at = lines
            .iter()
            .position(|l| *l == format!("TZID:{tzid}"))
            .expect(tzid);
        lines[at..]
            .iter()
            .take_while(|l| *l != "END:VTIMEZONE")
            .cloned()
            .collect()
    }

    #[test]
    fn a_weekly_london_series_keeps_its_wall_time_across_both_clock_changes() {
        let s = debate(
            "    timezone: Europe/London\n    starts: 2026-03-03 20:00\n    duration: 1h30m\n    repeat: weekly\n    until: 2026-11-10\n    skip: [2026-03-17, 2026-10-27]\n",
        );
        let ics = calendar(&s, now());
        let got = expanded(&ics, 100);
        assert_eq!(got, modelled(&s, 100));
        assert_eq!(got.len(), 37 - 2);
        let hours: BTreeSet<u32> = got.iter().map(chrono::Timelike::hour).collect();
        assert_eq!(hours, BTreeSet::from([19, 20]));
        assert!(got.iter().all(|t| {
            t.with_timezone(&chrono_tz::Europe::London)
                .format("%H:%M")
                .to_string()
                == "20:00"
        }));
        assert_eq!(
            got.last().unwrap().date_naive(),
            NaiveDate::from_ymd_opt(2026, 11, 10).unwrap()
        );
        assert!(ics.contains("RRULE:FREQ=WEEKLY;UNTIL=20261110T235959Z\r\n"));
        assert!(ics.contains("DURATION:PT1H30M\r\n"));
    }

    #[test]
    fn a_monthly_debate_on_the_31st_skips_short_months_like_the_model() {
        let s = debate(
            "    timezone: America/New_York\n    starts: 2026-01-31 19:00\n    repeat: monthly\n    count: 7\n",
        );
        let got = expanded(&calendar(&s, now()), 100);
        assert_eq!(got, modelled(&s, 100));
        let months: Vec<u32> = got
            .iter()
            .map(|t| t.with_timezone(&chrono_tz::America::New_York).month())
            .collect();
        assert_eq!(months, [1, 3, 5, 7, 8, 10, 12]);
    }

    #[test]
    fn a_fortnightly_count_limited_series_counts_its_skipped_dates() {
        let s = debate(
            "    timezone: Asia/Kolkata\n    starts: 2026-02-02 18:30\n    repeat: fortnightly\n    count: 5\n    skip: [2026-03-02]\n",
        );
        let ics = calendar(&s, now());
        assert!(ics.contains("RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=5\r\n"));
        assert!(ics.contains("EXDATE;TZID=Asia/Kolkata:20260302T183000\r\n"));
        let got = expanded(&ics, 100);
        assert_eq!(got, modelled(&s, 100));
        assert_eq!(got.len(), 4);
    }

    #[test]
    fn an_endless_series_matches_the_model_for_years() {
        let s = debate(
            "    timezone: Australia/Sydney\n    starts: 2026-01-05 09:00\n    repeat: weekly\n",
        );
        let ics = calendar(&s, now());
        // Midnight at the end of 2099 in Sydney (+11:00), less a second.
        assert!(ics.contains("RRULE:FREQ=WEEKLY;UNTIL=20991231T125959Z\r\n"));
        assert_eq!(expanded(&ics, 300), modelled(&s, 300));
        assert!(
            vtimezone_of(&ics, "Australia/Sydney")
                .iter()
                .any(|l| l == "DTSTART:20310406T030000")
        );
    }

    #[test]
    fn a_start_in_the_second_half_of_a_fold_keeps_the_chosen_instant() {
        let one_off = debate("    timezone: Europe/London\n    starts: 2026-10-25 01:30 +00:00\n");
        let ics = calendar(&one_off, now());
        assert!(ics.contains("DTSTART:20261025T013000Z\r\n") && !ics.contains("TZID"));
        let series = debate(
            "    timezone: Europe/London\n    starts: 2026-10-25 01:30 +00:00\n    repeat: weekly\n    count: 3\n",
        );
        let ics = calendar(&series, now());
        for line in [
            "DTSTART;TZID=Europe/London:20261025T013000",
            "RDATE:20261025T013000Z",
        ] {
            assert!(ics.contains(&format!("{line}\r\n")), "{line}");
        }
        assert!(ics.contains("EXDATE;TZID=Europe/London:20261025T013000\r\n"));
    }

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_characters() {
        for line in [
            "é".repeat(100),
            format!("SUMMARY:x{}", "—é".repeat(60)),
            "a".repeat(75),
            "b".repeat(76),
        ] {
            let mut out = String::new();
            fold(&line, &mut out);
            assert_eq!(unfold(&out), [line]);
        }
        let title = "Débat — «liberté», égalité; fraternité".repeat(4);
        let ics = calendar(
            &schedule(&format!(
                "rooms: [\"#d\"]\ndebates:\n  - {{id: d, title: \"{title}\", questions: [Q?], timezone: UTC, starts: 2026-05-01 12:00}}\n"
            )),
            now(),
        );
        assert!(unfold(&ics).contains(&format!("SUMMARY:{}", text(&title))));
    }

    #[test]
    fn text_is_escaped_as_rfc_5545_says() {
        assert_eq!(text("a\\b;c,d\r\ne\nf"), "a\\\\b\\;c\\,d\\ne\\nf");
        let s = schedule(
            "timezone: Europe/London\nzones: [Europe/London, America/New_York]\nrooms: [\"#debates:example.org\", \"#debates\"]\ndebates:\n  - id: weekly\n    title: \"Weekly, with a comma; and semicolon\"\n    hashtag: \"#podium\"\n    starts: 2026-03-03 20:00\n    questions: [One?, \"Two, too?\"]\n",
        );
        let lines = unfold(&calendar(&s, now()));
        for want in [
            "UID:weekly@podium",
            "DTSTAMP:20260101T120000Z",
            "SUMMARY:Weekly\\, with a comma\\; and semicolon",
            "DESCRIPTION:Q1: One?\\nQ2: Two\\, too?\\n\\nHashtag: #podium\\nRooms: #debates:example.org\\, irc:#debates",
            "LOCATION:#debates:example.org\\, irc:#debates",
        ] {
            assert!(lines.iter().any(|l| l == want), "{want}");
        }
    }

    #[test]
    fn london_gets_a_daylight_observance_from_1am_on_29_march_2026() {
        let ics = calendar(
            &debate("    timezone: Europe/London\n    starts: 2026-06-01 20:00\n"),
            now(),
        );
        let tz = vtimezone_of(&ics, "Europe/London").join("\n");
        assert!(tz.contains("BEGIN:DAYLIGHT\nDTSTART:20260329T010000\nTZOFFSETFROM:+0000\nTZOFFSETTO:+0100\nTZNAME:BST\nEND:DAYLIGHT"));
        assert!(tz.contains("BEGIN:STANDARD\nDTSTART:20261025T020000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0000\nTZNAME:GMT\nEND:STANDARD"));
        // 2025 to 2027: one spring and one autumn change a year.
        assert_eq!(tz.matches("BEGIN:DAYLIGHT").count(), 3);
        assert_eq!(tz.matches("BEGIN:STANDARD").count(), 3);
    }

    /// Wall times of the transitions an observance's RRULE gives, expanded
    /// by the rrule crate (as floating times, read as UTC).
    fn rule_onsets(block: &[String], years: std::ops::RangeInclusive<i32>) -> Vec<NaiveDateTime> {
        let dtstart = block
            .iter()
            .find_map(|l| l.strip_prefix("DTSTART:"))
            .unwrap();
        let rule = block.iter().find(|l| l.starts_with("RRULE:")).unwrap();
        let set: rrule::RRuleSet = format!("DTSTART:{dtstart}Z\n{rule}").parse().unwrap();
        set.all(200)
            .dates
            .into_iter()
            .map(|d| d.naive_utc())
            .filter(|d| years.contains(&d.year()))
            .collect()
    }

    #[test]
    fn an_endless_series_gets_yearly_zone_rules_that_match_later_years() {
        let yaml = "timezone: Europe/London\nzones: [Europe/London]\nrooms: [\"#d:x.org\"]\ndebates:\n  - id: e\n    title: E\n    starts: 2026-01-06 20:00\n    repeat: weekly\n    questions: [Q?]\n  - id: n\n    title: N\n    timezone: America/New_York\n    starts: 2026-01-07 15:00\n    repeat: weekly\n    questions: [Q?]\n";
        let ics = calendar(&schedule(yaml), now());
        for tzid in ["Europe/London", "America/New_York"] {
            let tz: Tz = tzid.parse().unwrap();
            let lines = vtimezone_of(&ics, tzid);
            let rules: Vec<&String> = lines.iter().filter(|l| l.starts_with("RRULE:")).collect();
            assert_eq!(rules.len(), 2, "{tzid}: {lines:?}");
            // Every observance with a rule reproduces chrono-tz's changes in 2035-2045.
            let mut expected: Vec<NaiveDateTime> = transitions(tz, 2035, 2045)
                .iter()
                .map(|t| t.local)
                .collect();
            let mut got = Vec::new();
            for (i, _) in lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.starts_with("RRULE:"))
            {
                let begin = lines[..i]
                    .iter()
                    .rposition(|l| l.starts_with("BEGIN:"))
                    .unwrap();
                got.extend(rule_onsets(&lines[begin..=i], 2035..=2045));
            }
            got.sort();
            expected.sort();
            assert_eq!(got, expected, "{tzid}");
        }
        let london = vtimezone_of(&ics, "Europe/London").join("\n");
        assert!(
            london.contains("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"),
            "{london}"
        );
        let ny = vtimezone_of(&ics, "America/New_York").join("\n");
        assert!(ny.contains("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU"), "{ny}");
        assert!(
            ny.contains("RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU"),
            "{ny}"
        );
    }

    /// Every onset a VTIMEZONE gives in `years`: the DTSTART of each
    /// observance, and the later ones its RRULE makes.
    fn all_onsets(lines: &[String], years: std::ops::RangeInclusive<i32>) -> Vec<NaiveDateTime> {
        let mut got = Vec::new();
        for (begin, _) in lines
            .iter()
            .enumerate()
            .filter(|(_, l)| *l == "BEGIN:DAYLIGHT" || *l == "BEGIN:STANDARD")
        {
            let block: Vec<String> = lines[begin..]
                .iter()
                .take_while(|l| !l.starts_with("END:"))
                .cloned()
                .collect();
            if block.iter().any(|l| l.starts_with("RRULE:")) {
                got.extend(rule_onsets(&block, years.clone()));
            } else {
                let start = block
                    .iter()
                    .find_map(|l| l.strip_prefix("DTSTART:"))
                    .unwrap();
                let start = NaiveDateTime::parse_from_str(start, LOCAL).unwrap();
                if years.contains(&start.year()) {
                    got.push(start);
                }
            }
        }
        got.sort();
        got
    }

    #[test]
    fn a_series_that_would_run_past_2099_ends_there_with_zone_rules_right_to_the_end() {
        let late = debate(
            "    timezone: Europe/London\n    starts: 2095-01-03 20:00\n    repeat: weekly\n",
        );
        let ics = calendar(&late, now());
        assert!(
            ics.contains("RRULE:FREQ=WEEKLY;UNTIL=20991231T235959Z\r\n"),
            "{ics}"
        );
        let got = expanded(&ics, 1000);
        assert_eq!(got, modelled(&late, 1000));
        assert_eq!(
            got.last().unwrap().naive_utc().to_string(),
            "2099-12-28 20:00:00"
        );
        let counted = debate(
            "    timezone: America/New_York\n    starts: 2095-01-04 15:00\n    repeat: fortnightly\n    count: 200\n    skip: [2099-12-30, 2100-01-13]\n",
        );
        let ics = calendar(&counted, now());
        assert!(
            ics.contains("RRULE:FREQ=WEEKLY;INTERVAL=2;UNTIL=21000101T045959Z\r\n"),
            "{ics}"
        );
        assert!(
            !ics.contains("EXDATE;TZID=America/New_York:21000113"),
            "{ics}"
        );
        assert_eq!(expanded(&ics, 1000), modelled(&counted, 1000));
        // The zone's changes in the VTIMEZONE are chrono-tz's, to the limit,
        // for a series that starts late and for one that starts now.
        for (s, from) in [
            (&late, 2094),
            (
                &debate(
                    "    timezone: Europe/London\n    starts: 2026-01-06 20:00\n    repeat: weekly\n",
                ),
                2025,
            ),
        ] {
            let tz = s.debates[0].timezone;
            let lines = vtimezone_of(&calendar(s, now()), tz.name());
            let want: Vec<NaiveDateTime> = transitions(tz, from, 2099)
                .iter()
                .map(|t| t.local)
                .collect();
            assert_eq!(all_onsets(&lines, from..=2099), want, "{lines:?}");
        }
    }

    #[test]
    fn kolkata_gets_one_fixed_standard_observance() {
        let ics = calendar(
            &debate("    timezone: Asia/Kolkata\n    starts: 2026-06-01 20:00\n"),
            now(),
        );
        let tz = vtimezone_of(&ics, "Asia/Kolkata").join("\n");
        assert_eq!(
            tz,
            "TZID:Asia/Kolkata\nBEGIN:STANDARD\nDTSTART:19700101T000000\nTZOFFSETFROM:+0530\nTZOFFSETTO:+0530\nTZNAME:IST\nEND:STANDARD"
        );
        assert_eq!(utc_offset(-(4 * 3600 + 1800)), "-0430");
    }

    #[test]
    fn every_tzid_used_has_a_vtimezone() {
        let s = schedule(
            "rooms: [\"#d\"]\ndebates:\n  - {id: a, title: A, questions: [Q?], timezone: Europe/London, starts: 2026-03-03 20:00, repeat: weekly, count: 3, skip: [2026-03-10]}\n  - {id: b, title: B, questions: [Q?], timezone: America/New_York, starts: 2026-04-01 10:00}\n  - {id: c, title: C, questions: [Q?], timezone: Asia/Kolkata, starts: 2026-04-02 10:00}\n",
        );
        let lines = unfold(&calendar(&s, now()));
        assert_eq!(
            lines[..6].join("\n"),
            "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Podium//Podium debates//EN\nCALSCALE:GREGORIAN\nMETHOD:PUBLISH\nX-WR-CALNAME:Podium debates"
        );
        let used: BTreeSet<&str> = lines
            .iter()
            .filter_map(|l| l.split_once(";TZID=")?.1.split_once(':').map(|(z, _)| z))
            .collect();
        let defined: BTreeSet<&str> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("TZID:"))
            .collect();
        assert_eq!(
            used,
            BTreeSet::from(["America/New_York", "Asia/Kolkata", "Europe/London"])
        );
        assert_eq!(used, defined);
        assert_eq!(lines.iter().filter(|l| *l == "BEGIN:VEVENT").count(), 3);
    }
}
