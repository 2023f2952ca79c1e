//! Time zones as people read them: names with hints, the multi-zone time
//! line used in announcements, and the daylight-saving mismatch note.
//!
//! The mismatch note exists because of a real mistake: the announcement that
//! inspired Podium printed 15:00 New York for 20:00 London on 1 November 2011,
//! when New York, still on summer time, was at 16:00.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, NaiveDate, Offset, TimeZone, Timelike, Utc};
use chrono_tz::{TZ_VARIANTS, Tz};

/// Looks up an IANA zone name.
///
/// # Errors
/// When the name is unknown, the error carries the nearest valid name.
pub fn parse_zone(name: &str) -> Result<Tz, Option<&'static str>> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| nearest_zone(name.trim()))
}

/// The valid zone name a person most likely meant: a different spelling of
/// case, a bare city ("London"), or the closest name by edit distance.
pub fn nearest_zone(name: &str) -> Option<&'static str> {
    let wanted = name.to_ascii_lowercase().replace(' ', "_");
    // No zone name is this long; a hint would cost time for nothing.
    if wanted.is_empty() || wanted.len() > 64 {
        return None;
    }
    let names = TZ_VARIANTS.iter().map(|tz| tz.name());
    if let Some(exact) = names.clone().find(|n| n.eq_ignore_ascii_case(&wanted)) {
        return Some(exact);
    }
    if let Some(city) = names.clone().find(|n| {
        n.contains('/')
            && n.rsplit('/')
                .next()
                .is_some_and(|c| c.eq_ignore_ascii_case(&wanted))
    }) {
        return Some(city);
    }
    names
        .map(|n| {
            let lower = n.to_ascii_lowercase();
            let whole = strsim::levenshtein(&lower, &wanted);
            let city = lower
                .rsplit('/')
                .next()
                .map_or(usize::MAX, |c| strsim::levenshtein(c, &wanted));
            (whole.min(city), n)
        })
        .filter(|(d, _)| *d <= wanted.len().max(3) / 2)
        .min_by_key(|(d, n)| (*d, n.len()))
        .map(|(_, n)| n)
}

/// The name people use for a zone: the city of an IANA name, or for the
/// fixed-offset zones its offset. POSIX gave `Etc/GMT+5` the inverted sign
/// (it is five hours *behind* UTC), so its own name would mislead exactly
/// the readers it is shown to: it reads `UTC−5`.
pub fn label(tz: Tz) -> String {
    let name = tz.name();
    match name {
        "UTC" | "Etc/UTC" | "Etc/Universal" | "Etc/Zulu" | "Universal" | "Zulu" | "UCT"
        | "Etc/UCT" => "UTC".to_owned(),
        "GMT" | "Etc/GMT" | "GMT0" | "Etc/GMT0" | "GMT+0" | "Etc/GMT+0" | "GMT-0" | "Etc/GMT-0"
        | "Greenwich" | "Etc/Greenwich" => "GMT".to_owned(),
        _ if name.starts_with("Etc/") => {
            let at = Utc.from_utc_datetime(&NaiveDate::default().and_time(chrono::NaiveTime::MIN));
            format!("UTC{}", signed_hours(offset_seconds(tz, at)))
        }
        _ => name.rsplit('/').next().unwrap_or(name).replace('_', " "),
    }
}

/// `+5`, `−3:30`: an offset as hours, with a real minus sign.
fn signed_hours(seconds: i32) -> String {
    let sign = if seconds < 0 { '−' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    match minutes % 60 {
        0 => format!("{sign}{}", minutes / 60),
        m => format!("{sign}{}:{m:02}", minutes / 60),
    }
}

/// The zone's abbreviation at `t` (`BST`, `EDT`) or, where the zone has
/// only a number for one (`+11`, `+1030` in Lord Howe), the offset as it
/// is written in `starts` (`+10:30`), so it is never shown twice.
pub fn abbreviation(t: &DateTime<Tz>) -> String {
    let abbrev = t.offset().to_string();
    if abbrev.starts_with(['+', '-']) {
        t.offset().fix().to_string()
    } else {
        abbrev
    }
}

/// Seconds east of UTC for `tz` at `at`.
pub fn offset_seconds(tz: Tz, at: DateTime<Utc>) -> i32 {
    at.with_timezone(&tz).offset().fix().local_minus_utc()
}

/// "5 hours", "4 hours 30 minutes", "45 minutes", "1 hour".
pub fn describe_span(seconds: i32) -> String {
    let minutes = seconds.unsigned_abs() / 60;
    let (h, m) = (minutes / 60, minutes % 60);
    let hours = match h {
        0 => String::new(),
        1 => "1 hour".to_owned(),
        _ => format!("{h} hours"),
    };
    match (h, m) {
        (_, 0) if h > 0 => hours,
        (0, _) => format!("{m} minutes"),
        _ => format!("{hours} {m} minutes"),
    }
}

/// A shown zone whose distance from the debate's zone differs from both its
/// winter and its summer value that year: the weeks when regions change
/// their clocks on different dates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub zone: Tz,
    pub reference: Tz,
    /// Offset of `zone` minus offset of `reference`, in seconds, at the instant.
    pub difference: i32,
    /// The usual differences (mid-January and mid-July), one if they agree.
    pub usual: Vec<i32>,
}

impl Mismatch {
    fn relation(&self, diff: i32) -> String {
        let dir = if diff >= 0 { "ahead of" } else { "behind" };
        format!("{} {dir} {}", describe_span(diff), label(self.reference))
    }

    fn usual_text(&self) -> String {
        let usual: Vec<String> = self
            .usual
            .iter()
            .map(|u| {
                if u.signum() == self.difference.signum() || *u == 0 {
                    number_only(*u)
                } else {
                    self.relation(*u)
                }
            })
            .collect();
        usual.join(" or ")
    }

    /// "on Tue 1 Nov 2011 New York is 4 hours behind London, not the usual 5"
    pub fn sentence(&self, at: DateTime<Utc>) -> String {
        let local = at.with_timezone(&self.reference);
        format!(
            "on {} {} is {}, not the usual {}",
            local.format("%a %-d %b %Y"),
            label(self.zone),
            self.relation(self.difference),
            self.usual_text()
        )
    }

    /// The short form carried by a time line.
    pub fn short(&self) -> String {
        format!(
            "clocks change on different dates: {} is {} this week, not the usual {}",
            label(self.zone),
            self.relation(self.difference),
            self.usual_text()
        )
    }
}

/// "5" for 5 hours, "4:30" for 4 hours 30 minutes: the number a reader
/// compares with the sentence's first span.
fn number_only(seconds: i32) -> String {
    let minutes = seconds.unsigned_abs() / 60;
    if minutes.is_multiple_of(60) {
        (minutes / 60).to_string()
    } else {
        describe_span(seconds)
    }
}

/// Checks one shown zone against the reference zone at `at`.
pub fn mismatch(at: DateTime<Utc>, reference: Tz, zone: Tz) -> Option<Mismatch> {
    mismatch_in(at, reference, zone, &mut Spreads::default())
}

/// The usual spreads between two zones in a year, remembered: checking a
/// large schedule asks for the same few years and zone pairs many times.
#[derive(Default)]
pub struct Spreads(std::collections::HashMap<(i32, Tz, Tz), [i32; 3]>);

impl Spreads {
    /// Mid-January, mid-July and next mid-January. Next January too: a zone
    /// that changed its rules during the year (Samoa dropped summer time in
    /// 2021) has a new usual spread, not a passing mismatch.
    fn usual(&mut self, year: i32, reference: Tz, zone: Tz) -> [i32; 3] {
        *self.0.entry((year, reference, zone)).or_insert_with(|| {
            let at = |y: i32, month: u32| {
                NaiveDate::from_ymd_opt(y, month, 15)
                    .and_then(|d| d.and_hms_opt(12, 0, 0))
                    .map_or(0, |n| {
                        let t = Utc.from_utc_datetime(&n);
                        offset_seconds(zone, t) - offset_seconds(reference, t)
                    })
            };
            [at(year, 1), at(year, 7), at(year + 1, 1)]
        })
    }
}

fn mismatch_in(
    at: DateTime<Utc>,
    reference: Tz,
    zone: Tz,
    spreads: &mut Spreads,
) -> Option<Mismatch> {
    if zone == reference {
        return None;
    }
    let difference = offset_seconds(zone, at) - offset_seconds(reference, at);
    spread_mismatch(at.year(), reference, zone, difference, spreads)
}

/// Whether `difference` (zone minus reference, in seconds) is unusual that year.
fn spread_mismatch(
    year: i32,
    reference: Tz,
    zone: Tz,
    difference: i32,
    spreads: &mut Spreads,
) -> Option<Mismatch> {
    let [winter, summer, next_winter] = spreads.usual(year, reference, zone);
    if [winter, summer, next_winter].contains(&difference) {
        return None;
    }
    let mut usual = vec![winter];
    if summer != winter {
        usual.push(summer);
    }
    Some(Mismatch {
        zone,
        reference,
        difference,
        usual,
    })
}

/// The shown zones out of step at `at`. Every pair counts (London and New
/// York can be out of step in a debate held in UTC), but each zone is noted
/// once: against `reference` (the debate's zone) if it is out of step with
/// it, else against the first zone listed before it that is.
pub fn mismatches(at: DateTime<Utc>, reference: Tz, zones: &[Tz]) -> Vec<Mismatch> {
    mismatches_in(at, reference, zones, &mut Spreads::default())
}

/// [`mismatches`] with remembered spreads, for checking many occurrences.
pub fn mismatches_in(
    at: DateTime<Utc>,
    reference: Tz,
    zones: &[Tz],
    spreads: &mut Spreads,
) -> Vec<Mismatch> {
    // Each zone's offset once; the reference first, then the shown zones
    // (the reference usually among them: compared once).
    let mut bases: Vec<(Tz, i32)> = vec![(reference, offset_seconds(reference, at))];
    let mut found = Vec::new();
    for zone in zones {
        let own = offset_seconds(*zone, at);
        if let Some(m) = bases
            .iter()
            .filter(|(r, _)| r != zone)
            .find_map(|(r, off)| spread_mismatch(at.year(), *r, *zone, own - off, spreads))
        {
            found.push(m);
        }
        if !bases.iter().any(|(r, _)| r == zone) {
            bases.push((*zone, own));
        }
    }
    found
}

/// An instant written in several zones, for announcements and listings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeLine {
    /// "Tue 1 Nov 2011 20:00 London · 16:00 New York"
    pub text: String,
    pub mismatches: Vec<Mismatch>,
}

impl TimeLine {
    /// The text followed by any short mismatch notes, in brackets.
    pub fn render(&self) -> String {
        if self.mismatches.is_empty() {
            return self.text.clone();
        }
        let notes: Vec<String> = self.mismatches.iter().map(Mismatch::short).collect();
        format!("{} (note: {})", self.text, notes.join("; "))
    }
}

impl std::fmt::Display for TimeLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

/// Writes `at` in each of `zones`, the first in full and the rest as a time,
/// with the weekday where their date differs from the first zone's.
/// `reference` (the debate's zone) is the first base for mismatch notes.
pub fn time_line(at: DateTime<Utc>, reference: Tz, zones: &[Tz]) -> TimeLine {
    time_line_in(at, reference, zones, &mut Spreads::default())
}

/// [`time_line`] with remembered spreads: a listing of many occurrences
/// would otherwise recompute each zone pair's usual spreads (six offset
/// lookups a pair) for every one of them.
pub fn time_line_in(
    at: DateTime<Utc>,
    reference: Tz,
    zones: &[Tz],
    spreads: &mut Spreads,
) -> TimeLine {
    let mut text = String::with_capacity(16 * zones.len() + 16);
    let first_date = zones.first().map(|z| at.with_timezone(z).date_naive());
    // Written field by field: parsing a strftime pattern for every zone of
    // every occurrence was a tenth of a long listing's time.
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    for (i, zone) in zones.iter().enumerate() {
        let local = at.with_timezone(zone);
        if i > 0 {
            text.push_str(" · ");
        }
        if i == 0 {
            let month = MONTHS[local.month0() as usize];
            let _ = write!(
                text,
                "{} {} {month} {} ",
                local.weekday(),
                local.day(),
                local.year()
            );
        } else if Some(local.date_naive()) != first_date {
            let _ = write!(text, "{} ", local.weekday());
        }
        let _ = write!(
            text,
            "{:02}:{:02} {}",
            local.hour(),
            local.minute(),
            label(*zone)
        );
    }
    let mismatches = mismatches_in(at, reference, zones, spreads);
    TimeLine { text, mismatches }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_inspiring_announcement_gets_new_york_right() {
        let line = time_line(
            utc("2011-11-01T20:00:00Z"),
            chrono_tz::Europe::London,
            &[chrono_tz::Europe::London, chrono_tz::America::New_York],
        );
        assert_eq!(line.text, "Tue 1 Nov 2011 20:00 London · 16:00 New York");
        assert_eq!(line.mismatches.len(), 1);
        assert_eq!(
            line.mismatches[0].sentence(utc("2011-11-01T20:00:00Z")),
            "on Tue 1 Nov 2011 New York is 4 hours behind London, not the usual 5"
        );
    }

    #[test]
    fn a_week_later_the_usual_spread_is_back_and_no_note_is_given() {
        let line = time_line(
            utc("2011-11-08T20:00:00Z"),
            chrono_tz::Europe::London,
            &[chrono_tz::Europe::London, chrono_tz::America::New_York],
        );
        assert_eq!(line.text, "Tue 8 Nov 2011 20:00 London · 15:00 New York");
        assert!(line.mismatches.is_empty());
    }

    #[test]
    fn the_weekday_is_shown_where_the_date_differs() {
        let line = time_line(
            utc("2026-06-02T19:00:00Z"),
            chrono_tz::Europe::London,
            &[
                chrono_tz::Europe::London,
                chrono_tz::Asia::Kolkata,
                chrono_tz::Asia::Kathmandu,
                chrono_tz::Australia::Sydney,
            ],
        );
        assert_eq!(
            line.text,
            "Tue 2 Jun 2026 20:00 London · Wed 00:30 Kolkata · Wed 00:45 Kathmandu · Wed 05:00 Sydney"
        );
    }

    #[test]
    fn zones_without_daylight_saving_are_not_a_mismatch() {
        // London moves, Kolkata does not: two usual spreads, neither noted.
        for at in ["2026-01-10T12:00:00Z", "2026-07-10T12:00:00Z"] {
            assert_eq!(
                mismatch(utc(at), chrono_tz::Europe::London, chrono_tz::Asia::Kolkata),
                None
            );
        }
    }

    #[test]
    fn southern_and_northern_changes_in_april_are_noted() {
        // Sydney left summer time on 5 April 2026, London started it on 29 March.
        let m = mismatch(
            utc("2026-04-01T19:00:00Z"),
            chrono_tz::Europe::London,
            chrono_tz::Australia::Sydney,
        )
        .unwrap();
        assert_eq!(m.difference, 10 * 3600);
        assert_eq!(m.usual, vec![11 * 3600, 9 * 3600]);
        assert_eq!(
            m.sentence(utc("2026-04-01T19:00:00Z")),
            "on Wed 1 Apr 2026 Sydney is 10 hours ahead of London, not the usual 11 or 9"
        );
    }

    #[test]
    fn shown_zones_out_of_step_with_each_other_are_noted_even_in_a_utc_debate() {
        let line = time_line(
            utc("2026-03-10T20:00:00Z"),
            chrono_tz::UTC,
            &[
                chrono_tz::UTC,
                chrono_tz::Europe::London,
                chrono_tz::America::New_York,
            ],
        );
        assert_eq!(line.mismatches.len(), 1, "{line:?}");
        assert_eq!(
            line.mismatches[0].sentence(utc("2026-03-10T20:00:00Z")),
            "on Tue 10 Mar 2026 New York is 4 hours behind London, not the usual 5"
        );
        // Paris changes with London: New York is noted once, not twice.
        let line = time_line(
            utc("2026-03-10T20:00:00Z"),
            chrono_tz::Europe::London,
            &[
                chrono_tz::Europe::London,
                chrono_tz::Europe::Paris,
                chrono_tz::America::New_York,
            ],
        );
        assert_eq!(line.mismatches.len(), 1, "{line:?}");
    }

    #[test]
    fn a_zone_that_changes_its_rules_is_not_a_passing_mismatch() {
        // Samoa kept standard time from September 2021 on.
        assert_eq!(
            mismatch(
                utc("2021-12-01T12:00:00Z"),
                chrono_tz::Europe::London,
                chrono_tz::Pacific::Apia
            ),
            None
        );
    }

    #[test]
    fn half_hour_zones_are_described_in_hours_and_minutes() {
        assert_eq!(describe_span(5 * 3600 + 1800), "5 hours 30 minutes");
        assert_eq!(describe_span(-(45 * 60)), "45 minutes");
        assert_eq!(describe_span(3600), "1 hour");
    }

    #[test]
    fn unknown_zones_get_the_nearest_name() {
        assert_eq!(parse_zone("Europe/Londn"), Err(Some("Europe/London")));
        assert_eq!(parse_zone("europe/london"), Err(Some("Europe/London")));
        assert_eq!(parse_zone("New York"), Err(Some("America/New_York")));
        assert_eq!(
            parse_zone("America/Sao Paolo"),
            Err(Some("America/Sao_Paulo"))
        );
        assert_eq!(parse_zone("Xyzzy/Nowhere/At/All"), Err(None));
        assert!(parse_zone("Asia/Kathmandu").is_ok());
    }

    #[test]
    fn fixed_offset_zones_are_labelled_with_their_real_offset() {
        let label_of = |name: &str| label(name.parse().unwrap());
        // POSIX signs: Etc/GMT+5 is five hours behind UTC.
        assert_eq!(label_of("Etc/GMT+5"), "UTC−5");
        assert_eq!(label_of("Etc/GMT-14"), "UTC+14");
        assert_eq!(label_of("Etc/UTC"), "UTC");
        assert_eq!(label_of("Etc/GMT"), "GMT");
        assert_eq!(label_of("Etc/GMT-0"), "GMT");
        assert_eq!(label_of("GMT+0"), "GMT");
        let line = time_line(
            utc("2026-06-02T14:00:00Z"),
            "Etc/GMT+5".parse().unwrap(),
            &[
                "Etc/GMT+5".parse().unwrap(),
                "Etc/GMT-14".parse().unwrap(),
                "Etc/UTC".parse().unwrap(),
                "Etc/GMT".parse().unwrap(),
            ],
        );
        assert_eq!(
            line.text,
            "Tue 2 Jun 2026 09:00 UTC−5 · Wed 04:00 UTC+14 · 14:00 UTC · 14:00 GMT"
        );
        assert!(line.mismatches.is_empty());
    }

    #[test]
    fn numeric_abbreviations_are_shown_once_as_offsets() {
        let lord_howe: Tz = "Australia/Lord_Howe".parse().unwrap();
        let summer = utc("2026-01-10T12:00:00Z").with_timezone(&lord_howe);
        let winter = utc("2026-07-10T12:00:00Z").with_timezone(&lord_howe);
        assert_eq!(abbreviation(&summer), "+11:00");
        assert_eq!(abbreviation(&winter), "+10:30");
        let london = utc("2026-07-10T12:00:00Z").with_timezone(&chrono_tz::Europe::London);
        assert_eq!(abbreviation(&london), "BST");
    }

    #[test]
    fn labels_are_city_names() {
        assert_eq!(label(chrono_tz::America::New_York), "New York");
        assert_eq!(label(chrono_tz::UTC), "UTC");
        assert_eq!(
            label(chrono_tz::America::Argentina::Buenos_Aires),
            "Buenos Aires"
        );
    }
}
