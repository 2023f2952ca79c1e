//! Reading dates, times and durations as organisers write them, with
//! messages that say exactly what is wrong.

use chrono::{Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn days_in_month(year: i32, month: u32) -> u32 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    next.and_then(|n| n.pred_opt()).map_or(31, |d| d.day())
}

fn number(s: &str, digits: usize) -> Option<u32> {
    (s.len() == digits && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `YYYY-MM-DD`.
///
/// # Errors
/// Says which part is wrong: "no month 13", "February 2011 has 28 days".
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let s = s.trim();
    let mut parts = s.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!(
            "`{s}` is not a date: write YYYY-MM-DD, e.g. 2011-11-01"
        ));
    };
    let (Some(year), Some(month), Some(day)) = (number(y, 4), number(m, 2), number(d, 2)) else {
        return Err(format!(
            "`{s}` is not a date: write YYYY-MM-DD, e.g. 2011-11-01"
        ));
    };
    let year = i32::try_from(year).map_err(|_| format!("`{s}`: year out of range"))?;
    if !(1..=12).contains(&month) {
        return Err(format!("`{s}` is not a date: there is no month {month}"));
    }
    NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| {
        format!(
            "`{s}` is not a date: {} {year} has {} days",
            MONTHS[month as usize - 1],
            days_in_month(year, month)
        )
    })
}

/// `HH:MM` or `HH:MM:SS`, 24-hour clock.
fn parse_clock(s: &str) -> Result<NaiveTime, String> {
    let mut parts = s.split(':');
    let (Some(h), Some(m), sec, None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!(
            "`{s}` is not a time: write HH:MM on the 24-hour clock"
        ));
    };
    let (Some(h), Some(m)) = (number(h, 2).or_else(|| number(h, 1)), number(m, 2)) else {
        return Err(format!(
            "`{s}` is not a time: write HH:MM on the 24-hour clock"
        ));
    };
    let sec = match sec {
        None => 0,
        Some(x) => number(x, 2).ok_or_else(|| format!("`{s}` is not a time"))?,
    };
    NaiveTime::from_hms_opt(h, m, sec).ok_or_else(|| {
        format!("`{s}` is not a time: hours go from 00 to 23 and minutes from 00 to 59")
    })
}

fn parse_offset(s: &str) -> Result<FixedOffset, String> {
    let bad = || format!("`{s}` is not a UTC offset: write +HH:MM, -HH:MM or Z");
    if s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("utc") {
        return FixedOffset::east_opt(0).ok_or_else(bad);
    }
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 => rest.split_at(2),
        None => (rest, "00"),
    };
    let (Some(h), Some(m)) = (number(h, 2), number(m, 2)) else {
        return Err(bad());
    };
    if h > 18 || m > 59 {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * i32::try_from(h * 3600 + m * 60).map_err(|_| bad())?)
        .ok_or_else(bad)
}

/// A debate start: local wall time, optionally with an explicit UTC offset.
///
/// Accepts `2011-11-01 20:00`, `2011-11-01T20:00`, seconds, and an offset
/// suffix (`+01:00`, `-0500`, `Z`), with or without a space before it.
///
/// # Errors
/// A message naming the part that is wrong.
pub fn parse_start(s: &str) -> Result<(NaiveDateTime, Option<FixedOffset>), String> {
    let s = s.trim();
    let (date, rest) = match s.find([' ', 'T', 't']) {
        Some(i) => (&s[..i], s[i + 1..].trim_start()),
        None => {
            parse_date(s)?;
            return Err(format!(
                "`{s}` has no time of day: write `{s} 20:00` (local time in the debate's zone)"
            ));
        }
    };
    let date = parse_date(date)?;
    let split = rest.find(['+', '-', 'Z', 'z', ' ']).unwrap_or(rest.len());
    let (clock, offset) = rest.split_at(split);
    let time = parse_clock(clock)?;
    let offset = offset.trim();
    let offset = if offset.is_empty() {
        None
    } else {
        Some(parse_offset(offset)?)
    };
    Ok((date.and_time(time), offset))
}

/// A duration such as `1h`, `90m`, `1h 30m` or `1d`.
///
/// # Errors
/// Why the text is not one, in our words (humantime's, such as "expected
/// number at 0", would mean nothing to an organiser); the caller names the
/// text and the field.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let std = humantime::parse_duration(s).map_err(|e| match e {
        humantime::DurationError::Empty => "it is empty".to_owned(),
        humantime::DurationError::NumberExpected(at) => match s.get(at..) {
            Some(rest) if at > 0 => format!("`{rest}` should be a number and a unit"),
            _ => "it should start with a number".to_owned(),
        },
        humantime::DurationError::InvalidCharacter(at) => {
            match s.get(at..).and_then(|r| r.chars().next()) {
                Some(c) => format!("`{c}` has no place in it"),
                None => "it has a character that has no place in it".to_owned(),
            }
        }
        humantime::DurationError::UnknownUnit { unit, .. } if unit.is_empty() => {
            "a number needs a unit, such as m or h".to_owned()
        }
        humantime::DurationError::UnknownUnit { unit, .. } => {
            format!("`{unit}` is not a unit (use d, h, m or s)")
        }
        humantime::DurationError::NumberOverflow => "it is far too long".to_owned(),
    })?;
    Duration::from_std(std).map_err(|_| "it is far too long".to_owned())
}

/// `1h`, `1h 30m`, `10m`, `24h 1s`: hours, minutes and seconds, for
/// messages and announcements. Our own form: humantime's (`1day 1s`) is
/// neither what organisers write nor what they read.
pub fn format_duration(d: Duration) -> String {
    let total = d.num_seconds();
    let (sign, s) = if total < 0 {
        ("-", -total)
    } else {
        ("", total)
    };
    let parts: Vec<String> = [(s / 3600, 'h'), (s / 60 % 60, 'm'), (s % 60, 's')]
        .into_iter()
        .filter(|(n, _)| *n != 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if parts.is_empty() {
        "0s".to_owned()
    } else {
        format!("{sign}{}", parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_dates_say_why() {
        assert_eq!(
            parse_date("2011-02-30").unwrap_err(),
            "`2011-02-30` is not a date: February 2011 has 28 days"
        );
        assert_eq!(
            parse_date("2012-02-30").unwrap_err(),
            "`2012-02-30` is not a date: February 2012 has 29 days"
        );
        assert!(
            parse_date("2011-13-01")
                .unwrap_err()
                .contains("no month 13")
        );
        assert!(parse_date("1 Nov 2011").unwrap_err().contains("YYYY-MM-DD"));
    }

    #[test]
    fn starts_accept_local_and_offset_forms() {
        let (local, off) = parse_start("2011-11-01 20:00").unwrap();
        assert_eq!(local.to_string(), "2011-11-01 20:00:00");
        assert_eq!(off, None);
        let (_, off) = parse_start("2026-10-25T01:30+01:00").unwrap();
        assert_eq!(off.unwrap().local_minus_utc(), 3600);
        let (_, off) = parse_start("2026-10-25 01:30 -0430").unwrap();
        assert_eq!(off.unwrap().local_minus_utc(), -(4 * 3600 + 1800));
        let (_, off) = parse_start("2026-10-25 01:30Z").unwrap();
        assert_eq!(off.unwrap().local_minus_utc(), 0);
    }

    #[test]
    fn bad_starts_are_explained() {
        assert!(
            parse_start("2011-11-01")
                .unwrap_err()
                .contains("no time of day")
        );
        assert!(
            parse_start("2011-11-01 25:00")
                .unwrap_err()
                .contains("hours go from 00 to 23")
        );
        assert!(
            parse_start("2011-11-01 20:00+25:00")
                .unwrap_err()
                .contains("UTC offset")
        );
    }

    #[test]
    fn durations_use_humantime() {
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::minutes(90));
        assert!(parse_duration("1 hour and a bit").is_err());
        assert_eq!(format_duration(Duration::minutes(90)), "1h 30m");
    }

    #[test]
    fn duration_errors_and_formats_are_in_our_words() {
        assert_eq!(
            parse_duration("abc").unwrap_err(),
            "it should start with a number"
        );
        assert_eq!(
            parse_duration("1 hour and a bit").unwrap_err(),
            "`and a bit` should be a number and a unit"
        );
        assert_eq!(
            parse_duration("5x").unwrap_err(),
            "`x` is not a unit (use d, h, m or s)"
        );
        assert_eq!(parse_duration("").unwrap_err(), "it is empty");
        for (d, text) in [
            (Duration::hours(24) + Duration::seconds(1), "24h 1s"),
            (Duration::hours(24), "24h"),
            (Duration::days(2), "48h"),
            (Duration::minutes(70), "1h 10m"),
            (Duration::zero(), "0s"),
        ] {
            assert_eq!(format_duration(d), text);
        }
    }
}
