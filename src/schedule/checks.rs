//! Checks across whole debates, run once each debate has been read without
//! errors: skip dates that miss the series, occurrences moved by daylight
//! saving, zone mismatch notes, occurrences overlapping in a room, and
//! debates in a room closer than the collect grace.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};

use super::diag::Diagnostic;
use super::model::{Adjustment, Debate, RepeatEnd};
use super::read::Ctx;
use super::zones::abbreviation;
use crate::domain::Room;

/// How far past "now" (or past the last one-off debate) overlaps and notes
/// are looked for in series that never end.
const HORIZON: Duration = Duration::days(366);

/// Occurrences worth reporting on: all of a series that ends, and the
/// coming year of one that does not.
fn reported<'a>(
    d: &'a Debate,
    now: DateTime<Utc>,
) -> Box<dyn Iterator<Item = super::model::Occurrence<'a>> + 'a> {
    let ends = d.repeat.as_ref().is_none_or(|r| r.end != RepeatEnd::Never);
    if ends {
        Box::new(d.occurrences())
    } else {
        Box::new(d.occurrences_between(now, now.max(d.first_start) + HORIZON))
    }
}

pub(super) fn check_series(ctx: &mut Ctx, debates: &[Debate], now: DateTime<Utc>) {
    let mut spreads = super::zones::Spreads::default();
    for d in debates {
        if let Some(repeat) = &d.repeat {
            let last_skip = repeat.skip.iter().next_back().copied();
            let dates: BTreeSet<_> = d
                .generated(true)
                .map(|o| o.local_start.date())
                .take_while(|date| last_skip.is_some_and(|l| *date <= l))
                .collect();
            for date in &repeat.skip {
                if !dates.contains(date) {
                    ctx.diags.push(Diagnostic::warning(
                        d.starts_pos,
                        format!(
                            "`{}` skips {date} ({}), which is not one of its dates ({} from {})",
                            d.id,
                            date.format("%a"),
                            repeat.every.name(),
                            d.starts.format("%a %-d %b %Y")
                        ),
                    ));
                }
            }
        }
        for o in reported(d, now) {
            match o.adjustment {
                Some(Adjustment::Gap) => ctx.diags.push(Diagnostic::warning(
                    d.starts_pos,
                    format!(
                        "on {} {} does not exist in {} (clocks go forward); `{}` starts at {}",
                        o.local_start.format("%a %-d %b %Y"),
                        o.local_start.format("%H:%M"),
                        d.timezone.name(),
                        d.id,
                        {
                            let actual = o.starts_at.with_timezone(&d.timezone);
                            let zone = abbreviation(&actual);
                            if actual.date_naive() == o.local_start.date() {
                                format!("{} {zone} that day", actual.format("%H:%M"))
                            } else {
                                format!("{} {zone} on {}", actual.format("%H:%M"), actual.format("%a %-d %b"))
                            }
                        }
                    ),
                )),
                Some(Adjustment::Fold) => ctx.diags.push(Diagnostic::warning(
                    d.starts_pos,
                    format!(
                        "on {} {} happens twice in {} (clocks go back); `{}` starts at the first, {}",
                        o.local_start.format("%a %-d %b %Y"),
                        o.local_start.format("%H:%M"),
                        d.timezone.name(),
                        d.id,
                        {
                            let actual = o.starts_at.with_timezone(&d.timezone);
                            format!("{} {}", actual.format("%H:%M"), abbreviation(&actual))
                        }
                    ),
                )),
                None => {}
            }
            for m in super::zones::mismatches_in(o.starts_at, d.timezone, &d.zones, &mut spreads) {
                ctx.diags.push(Diagnostic::note(
                    d.starts_pos,
                    format!("`{}`: {}", d.id, m.sentence(o.starts_at)),
                ));
            }
        }
    }
}

/// Start, end and debate index of one occurrence in one room.
type Slot = (DateTime<Utc>, DateTime<Utc>, usize);

/// The default `engine.collect_grace`: answers are collected this long
/// after a closing. `check` does not read Podium's configuration, so it
/// judges by the default and says so.
const COLLECT_GRACE: Duration = Duration::minutes(10);

pub(super) fn check_overlaps(ctx: &mut Ctx, debates: &[Debate], now: DateTime<Utc>) {
    // Finite series are checked to their end (at most ten years, as
    // validation enforces); endless ones for a year past now or past the
    // last finite date, whichever is later.
    let latest_end = debates
        .iter()
        .filter_map(|d| {
            d.last_date()
                .and_then(|date| date.and_hms_opt(23, 59, 59))
                .map(|t| t.and_utc())
        })
        .max()
        .unwrap_or(now);
    let horizon = now.max(latest_end) + HORIZON;
    let mut by_room: HashMap<&Room, Vec<Slot>> = HashMap::new();
    for (i, d) in debates.iter().enumerate() {
        for o in d.occurrences().take_while(|o| o.starts_at < horizon) {
            for room in &d.rooms {
                by_room
                    .entry(room)
                    .or_default()
                    .push((o.starts_at, o.ends_at, i));
            }
        }
    }
    let mut reported = BTreeSet::new();
    let mut close = BTreeSet::new();
    let mut rooms: Vec<_> = by_room.into_iter().collect();
    rooms.sort_by(|a, b| a.0.cmp(b.0));
    for (room, mut slots) in rooms {
        slots.sort_unstable();
        note_close(ctx, debates, room, &slots, &mut close);
        // The slot that ends last so far: any later start before its end overlaps it.
        let mut open: Option<Slot> = None;
        for slot in slots {
            if let Some(prev) = open
                && slot.0 < prev.1
            {
                let (a, b) = (prev.2.min(slot.2), prev.2.max(slot.2));
                if reported.insert((a, b)) {
                    let (first, second) = (&debates[prev.2], &debates[slot.2]);
                    let zone = second.timezone;
                    ctx.diags.push(Diagnostic::error(
                        second.starts_pos,
                        format!(
                            "`{}` on {} overlaps `{}` ({}–{}) in room {room}",
                            second.id,
                            slot.0.with_timezone(&zone).format("%a %-d %b %Y %H:%M"),
                            first.id,
                            prev.0.with_timezone(&zone).format("%a %-d %b %Y %H:%M"),
                            {
                                let end = prev.1.with_timezone(&zone);
                                format!("{} {}", end.format("%H:%M"), abbreviation(&end))
                            },
                        ),
                    ));
                }
            }
            if open.is_none_or(|p| slot.1 > p.1) {
                open = Some(slot);
            }
        }
    }
}

/// Notes (once per pair of debates) a debate that starts in a room less
/// than the collect grace after another ends there: the earlier one's
/// collection then stops when the later one first posts, and after its
/// closing only clear answers (a tag, a reply) were collected anyway.
fn note_close(
    ctx: &mut Ctx,
    debates: &[Debate],
    room: &Room,
    slots: &[Slot],
    noted: &mut BTreeSet<(usize, usize)>,
) {
    for pair in slots.windows(2) {
        let (prev, next) = (pair[0], pair[1]);
        let gap = next.0 - prev.1;
        if gap < Duration::zero() || gap >= COLLECT_GRACE || !noted.insert((prev.2, next.2)) {
            continue;
        }
        let (first, second) = (&debates[prev.2], &debates[next.2]);
        let minutes = gap.num_minutes();
        ctx.diags.push(
            Diagnostic::note(
                second.starts_pos,
                format!(
                    "`{}` on {} starts {minutes} minute{} after `{}` ends in room {room}, \
                     within the collect grace (10 minutes unless `engine.collect_grace` says \
                     otherwise)",
                    second.id,
                    next.0
                        .with_timezone(&second.timezone)
                        .format("%a %-d %b %Y %H:%M"),
                    if minutes == 1 { "" } else { "s" },
                    first.id,
                ),
            )
            .with_hint(format!(
                "answers to `{}` are collected after its closing only when tagged or replying, \
                 and only until `{}` first posts in the room",
                first.id, second.id
            )),
        );
    }
}
