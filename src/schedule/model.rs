//! The validated schedule and the expansion of debates into occurrences.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use chrono::{
    DateTime, Datelike, Duration, LocalResult, Months, NaiveDate, NaiveDateTime, TimeZone, Utc,
};
use chrono_tz::Tz;

use super::yaml::Pos;
use super::zones::{self, Spreads, TimeLine};
use crate::domain::Room;

/// The last local date an occurrence may fall on. chrono-tz's tables hold
/// every zone's clock changes through 2099 and none after: measured for
/// every zone, each 2099 change repeats its 2098 rule, and the first
/// change they miss is America/Havana's and America/New_York's on
/// 14 March 2100 (the earliest change in any zone's year is in March).
/// Past that, a time would silently be an hour off; a series is cut here
/// instead, with a note from `check`.
pub const LAST_DATE: NaiveDate = NaiveDate::from_ymd_opt(2099, 12, 31).expect("a date");

/// A whole, valid `debates.yaml`.
#[derive(Clone, Debug, Default)]
pub struct Schedule {
    pub debates: Vec<Debate>,
    /// The top of the file, for debates started in a room with `!debate`.
    pub adhoc: AdHocDefaults,
}

/// What a debate started with `!debate` takes from the top of the file:
/// it has no entry of its own.
#[derive(Clone, Debug)]
pub struct AdHocDefaults {
    /// `timezone` at the top (UTC when there is none).
    pub timezone: Tz,
    pub zones: Vec<Tz>,
    /// Who may start one in any room (besides the room's moderators).
    pub organisers: Vec<String>,
    pub ignore: Vec<String>,
    pub hashtag: Option<String>,
}

impl Default for AdHocDefaults {
    fn default() -> Self {
        AdHocDefaults {
            timezone: chrono_tz::UTC,
            zones: vec![chrono_tz::UTC],
            organisers: Vec::new(),
            ignore: Vec::new(),
            hashtag: None,
        }
    }
}

/// How often a debate comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frequency {
    Weekly,
    Fortnightly,
    /// On the same day of the month; months without that day are left out,
    /// as RFC 5545 does.
    Monthly,
}

impl Frequency {
    pub fn name(self) -> &'static str {
        match self {
            Frequency::Weekly => "weekly",
            Frequency::Fortnightly => "fortnightly",
            Frequency::Monthly => "monthly",
        }
    }
}

/// When a repeating debate stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RepeatEnd {
    Never,
    /// The last local date that may hold an occurrence (inclusive).
    Until(NaiveDate),
    /// How many occurrences are generated, skipped dates included (RFC 5545 COUNT).
    Count(u32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repeat {
    pub every: Frequency,
    pub end: RepeatEnd,
    /// Local dates on which the debate does not take place.
    pub skip: BTreeSet<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub text: String,
    /// From the start of the debate.
    pub at: Duration,
}

/// One debate entry after defaults were applied and every value checked.
#[derive(Clone, Debug)]
pub struct Debate {
    pub id: String,
    pub title: String,
    pub timezone: Tz,
    /// Zones shown in announcements; the debate's own zone comes first if
    /// the file did not list it.
    pub zones: Vec<Tz>,
    /// Local wall-clock start of the first occurrence.
    pub starts: NaiveDateTime,
    /// The first start as an instant (an explicit offset in the file decides folds).
    pub first_start: DateTime<Utc>,
    pub duration: Duration,
    pub questions: Vec<Question>,
    pub rooms: Vec<Room>,
    pub organisers: Vec<String>,
    /// Senders whose messages are not collected, logged or answered (see
    /// `schedule::ignore`): the top-level list and the debate's own.
    pub ignore: Vec<String>,
    pub hashtag: Option<String>,
    /// Listed on the web pages and in the calendar feed; a private debate's
    /// transcript address carries a token instead.
    pub public: bool,
    pub intro: Option<String>,
    pub closing: Option<String>,
    /// Reminder lead times before the start, longest first.
    pub remind: Vec<Duration>,
    /// How long before each next question, and before the closing, a last
    /// call is posted; `None` for none. Shorter than `duration`.
    pub last_call: Option<Duration>,
    pub repeat: Option<Repeat>,
    /// Where the debate's entry and its `starts` are, for later diagnostics.
    pub pos: Pos,
    pub starts_pos: Pos,
}

/// How an occurrence's local start had to be adjusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adjustment {
    /// The wall time does not exist that day (spring forward); the start
    /// moved forward by the gap, as RFC 5545 prescribes.
    Gap,
    /// The wall time exists twice (fall back); the first is used.
    Fold,
}

/// One occurrence of a debate: identified by its debate and scheduled start.
#[derive(Clone, Debug)]
pub struct Occurrence<'a> {
    pub debate: &'a Debate,
    /// 0 for the first generated occurrence, counting skipped ones.
    pub index: u32,
    pub local_start: NaiveDateTime,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub adjustment: Option<Adjustment>,
}

impl Occurrence<'_> {
    /// The start in every shown zone, with mismatch notes.
    pub fn time_line(&self) -> TimeLine {
        zones::time_line(self.starts_at, self.debate.timezone, &self.debate.zones)
    }

    /// [`Occurrence::time_line`] with the usual spreads remembered, for
    /// listing many occurrences.
    pub fn time_line_in(&self, spreads: &mut Spreads) -> TimeLine {
        zones::time_line_in(
            self.starts_at,
            self.debate.timezone,
            &self.debate.zones,
            spreads,
        )
    }
}

/// The instant a local wall time names in `tz`, the RFC 5545 way: in a gap,
/// the offset from before the gap; in a fold, the earlier instant.
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> (DateTime<Utc>, Option<Adjustment>) {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => (t.with_timezone(&Utc), None),
        LocalResult::Ambiguous(a, _) => (a.with_timezone(&Utc), Some(Adjustment::Fold)),
        LocalResult::None => {
            let before = (1..=48)
                .filter_map(|h| local.checked_sub_signed(Duration::hours(h)))
                .find_map(|earlier| tz.from_local_datetime(&earlier).earliest());
            let offset = before.map_or(0, |t| zones::offset_seconds(tz, t.with_timezone(&Utc)));
            let utc = local - Duration::seconds(i64::from(offset));
            (Utc.from_utc_datetime(&utc), Some(Adjustment::Gap))
        }
    }
}

impl Debate {
    pub fn is_repeating(&self) -> bool {
        self.repeat.is_some()
    }

    /// The local start of generated instance `n` (0-based), or `None` where
    /// the calendar has no such day (the 31st in a 30-day month).
    fn nth_local(&self, n: u32) -> Option<NaiveDateTime> {
        let Some(repeat) = &self.repeat else {
            return (n == 0).then_some(self.starts);
        };
        match repeat.every {
            Frequency::Weekly => self
                .starts
                .checked_add_signed(Duration::weeks(i64::from(n))),
            Frequency::Fortnightly => self
                .starts
                .checked_add_signed(Duration::weeks(2 * i64::from(n))),
            Frequency::Monthly => {
                let date = self.starts.date();
                let first = date.with_day(1)?;
                let month = first.checked_add_months(Months::new(n))?;
                let day = month.with_day(date.day())?;
                Some(day.and_time(self.starts.time()))
            }
        }
    }

    /// Every occurrence, in order, skipped dates left out, none after
    /// [`LAST_DATE`]. Otherwise infinite for a repeating debate without
    /// `until` or `count`: bound it with `take_while`, or use
    /// [`Debate::occurrences_between`].
    pub fn occurrences(&self) -> impl Iterator<Item = Occurrence<'_>> + '_ {
        self.generated(false)
    }

    /// The local starts of the instances the file describes, numbered as
    /// RFC 5545 counts them (skipped dates included), without the
    /// [`LAST_DATE`] cut and without resolving them in the zone: cheap.
    fn local_starts(&self) -> impl Iterator<Item = (u32, NaiveDateTime)> + '_ {
        let end = self.repeat.as_ref().map_or(RepeatEnd::Count(1), |r| r.end);
        let mut generated = 0u32;
        let mut n = 0u32;
        std::iter::from_fn(move || {
            if let RepeatEnd::Count(c) = end
                && generated >= c
            {
                return None;
            }
            // Months without the day are not generated and not counted;
            // give up after 12 in a row (cannot happen for days <= 31).
            let mut local = None;
            for _ in 0..12 {
                local = self.nth_local(n);
                n = n.checked_add(1)?;
                if local.is_some() {
                    break;
                }
            }
            let local = local?;
            if let RepeatEnd::Until(until) = end
                && local.date() > until
            {
                return None;
            }
            let index = generated;
            generated += 1;
            Some((index, local))
        })
    }

    /// Every generated occurrence; `with_skipped` keeps the `skip` dates
    /// (validation checks that each skip date is one of them).
    pub(crate) fn generated(
        &self,
        with_skipped: bool,
    ) -> impl Iterator<Item = Occurrence<'_>> + '_ {
        self.local_starts()
            .take_while(|(_, local)| local.date() <= LAST_DATE)
            .filter(move |(_, local)| {
                with_skipped
                    || !self
                        .repeat
                        .as_ref()
                        .is_some_and(|r| r.skip.contains(&local.date()))
            })
            .map(|(index, local)| {
                let (starts_at, adjustment) = if index == 0 {
                    (self.first_start, None)
                } else {
                    resolve_local(self.timezone, local)
                };
                Occurrence {
                    debate: self,
                    index,
                    local_start: local,
                    starts_at,
                    ends_at: starts_at + self.duration,
                    adjustment,
                }
            })
    }

    /// Whether the series as written goes on past [`LAST_DATE`], where
    /// its occurrences are cut. Every series without an end does.
    pub fn is_cut(&self) -> bool {
        let Some(repeat) = &self.repeat else {
            return false;
        };
        match repeat.end {
            RepeatEnd::Never => true,
            RepeatEnd::Until(until) if until <= LAST_DATE => false,
            // At most 10,000 steps of date arithmetic, once per debate.
            _ => self
                .local_starts()
                .any(|(_, local)| local.date() > LAST_DATE),
        }
    }

    /// Occurrences that start in `[from, until)`.
    pub fn occurrences_between(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> impl Iterator<Item = Occurrence<'_>> + '_ {
        self.occurrences()
            .take_while(move |o| o.starts_at < until)
            .filter(move |o| o.starts_at >= from)
    }

    /// The date of the last occurrence, if the series ends (an `until`
    /// date, at most [`LAST_DATE`]); `None` for a series without an end,
    /// which stops only at [`LAST_DATE`].
    pub fn last_date(&self) -> Option<NaiveDate> {
        match self.repeat.as_ref().map(|r| r.end) {
            None => Some(self.starts.date()),
            Some(RepeatEnd::Until(d)) => Some(d.min(LAST_DATE)),
            Some(RepeatEnd::Count(_)) => self.occurrences().last().map(|o| o.local_start.date()),
            Some(RepeatEnd::Never) => None,
        }
    }
}

impl Schedule {
    pub fn debate(&self, id: &str) -> Option<&Debate> {
        self.debates.iter().find(|d| d.id == id)
    }

    /// All occurrences starting in `[from, until)`, by start time (then
    /// debate id), produced one by one: a k-way merge of the debates' own
    /// ordered series, so a long window over a large schedule is listed
    /// in memory that grows with the number of debates, not occurrences.
    pub fn occurrences_between(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> impl Iterator<Item = Occurrence<'_>> + '_ {
        // In id order, so that a series' place breaks ties between equal
        // starts without comparing ids on every step.
        let mut by_id: Vec<&Debate> = self.debates.iter().collect();
        by_id.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        let mut series: Vec<_> = by_id
            .into_iter()
            .map(|d| d.occurrences_between(from, until))
            .collect();
        let mut heads = BinaryHeap::with_capacity(series.len());
        let mut pending = Vec::with_capacity(series.len());
        for (i, s) in series.iter_mut().enumerate() {
            let head = s.next();
            if let Some(o) = &head {
                heads.push(Reverse((o.starts_at, i)));
            }
            pending.push(head);
        }
        std::iter::from_fn(move || {
            let Reverse((_, i)) = heads.pop()?;
            let o = pending[i].take()?;
            // Each debate's starts only move forward (a week or more apart,
            // daylight saving moves them by hours at most), so its next
            // occurrence goes back into the merge behind this one.
            if let Some(next) = series[i].next() {
                heads.push(Reverse((next.starts_at, i)));
                pending[i] = Some(next);
            }
            Some(o)
        })
    }
}

impl Schedule {
    /// The first occurrence starting at or after `now`, of any debate.
    pub fn occurrences_after(&self, now: DateTime<Utc>) -> Option<Occurrence<'_>> {
        self.debates
            .iter()
            .filter_map(|d| d.occurrences().find(|o| o.starts_at >= now))
            .min_by_key(|o| o.starts_at)
    }
}
