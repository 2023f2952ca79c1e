//! A debate's series: `repeat` with its `until`, `count` and `skip`, and
//! the note when the time zone rules cut a series short.

use std::collections::BTreeSet;

use chrono::{Duration, NaiveDate, NaiveDateTime};

use super::diag::Diagnostic;
use super::model::{Debate, Frequency, LAST_DATE, Repeat, RepeatEnd};
use super::read::{Ctx, Fields, closest};
use super::time::parse_date;
use super::yaml::{Node, Pos, Value};

const REPEATS: &[&str] = &["weekly", "fortnightly", "monthly"];
/// The longest finite series: beyond it, checks would expand thousands of
/// occurrences per debate for no real schedule's benefit.
const MAX_SERIES: Duration = Duration::days(3653);

/// Reads the series fields given `first`, the first start as written (if it
/// was read). `Some(None)` for a debate that does not repeat; `None` when
/// something is wrong (all of it reported).
pub(super) fn read_repeat(
    ctx: &mut Ctx,
    f: &Fields<'_>,
    first: Option<NaiveDateTime>,
) -> Option<Option<Repeat>> {
    let Some(node) = f.get("repeat") else {
        return no_stray_fields(ctx, f).then_some(None);
    };
    // A bad `repeat` does not stop the other repeat fields from being checked.
    let every = frequency(ctx, node);
    let (until, until_ok) = f
        .get("until")
        .map_or((None, true), |n| until(ctx, n, first));
    let count = f.get("count").map(|n| count(ctx, n, every));
    let end = match (until, count.flatten()) {
        (Some((_, pos)), Some(_)) => {
            ctx.error(pos, "give either `until` or `count`, not both");
            return None;
        }
        (Some((d, _)), None) => RepeatEnd::Until(d),
        (None, Some(c)) => RepeatEnd::Count(c),
        (None, None) => RepeatEnd::Never,
    };
    let skip = f
        .get("skip")
        .map_or(Some(BTreeSet::new()), |n| skip(ctx, n));
    let (every, skip) = (every?, skip?);
    // `Some(None)`: a `count` was given but could not be used.
    let count_ok = count != Some(None);
    (until_ok && count_ok).then_some(Some(Repeat { every, end, skip }))
}

/// `until`, `count` and `skip` without `repeat`: each is reported. True
/// when there are none.
fn no_stray_fields(ctx: &mut Ctx, f: &Fields<'_>) -> bool {
    let mut ok = true;
    for key in ["until", "count", "skip"] {
        if let Some(pos) = f.key_pos(key) {
            ctx.diags.push(
                Diagnostic::error(pos, format!("`{key}` only applies to a repeating debate"))
                    .with_hint("add `repeat: weekly`, `fortnightly` or `monthly`, or remove it"),
            );
            ok = false;
        }
    }
    ok
}

/// The value of `repeat`; `biweekly` is taken as `fortnightly`.
fn frequency(ctx: &mut Ctx, node: &Node) -> Option<Frequency> {
    let text = ctx.text(node, "`repeat`")?;
    match text.to_ascii_lowercase().as_str() {
        "weekly" => Some(Frequency::Weekly),
        "fortnightly" | "biweekly" => Some(Frequency::Fortnightly),
        "monthly" => Some(Frequency::Monthly),
        other => {
            let d = Diagnostic::error(node.pos, format!("unknown repeat `{other}`"));
            ctx.diags.push(match closest(other, REPEATS) {
                Some(c) => d.with_hint(format!(
                    "did you mean `{c}`? (weekly, fortnightly or monthly)"
                )),
                None => d.with_hint("repeat is weekly, fortnightly or monthly"),
            });
            None
        }
    }
}

/// The date of `until` (with where it is written) and whether it is
/// acceptable. A date out of range is still returned, so that giving `count`
/// as well is reported too.
fn until(
    ctx: &mut Ctx,
    n: &Node,
    first: Option<NaiveDateTime>,
) -> (Option<(NaiveDate, Pos)>, bool) {
    let date = ctx.text(n, "`until`").and_then(|t| match parse_date(&t) {
        Ok(d) => Some(d),
        Err(e) => {
            ctx.error(n.pos, e);
            None
        }
    });
    let written = date.map(|d| (d, n.pos));
    let (Some(d), Some(first)) = (date, first) else {
        return (written, date.is_some());
    };
    let mut ok = true;
    if d > first.date() + MAX_SERIES {
        ctx.diags.push(
            Diagnostic::error(
                n.pos,
                format!("`until` {d} is more than 10 years after the first start"),
            )
            .with_hint("leave `until` out for a series with no end"),
        );
        ok = false;
    }
    if d < first.date() {
        ctx.error(
            n.pos,
            format!("`until` {d} is before the first start on {}", first.date()),
        );
        ok = false;
    }
    (written, ok)
}

/// The value of `count`, at most ten years' worth of occurrences at the
/// series' pace (weekly when `repeat` itself is broken).
fn count(ctx: &mut Ctx, n: &Node, every: Option<Frequency>) -> Option<u32> {
    let c = match &n.value {
        Value::Int(c) if (1..=10_000).contains(c) => *c,
        _ => {
            ctx.error(n.pos, "`count` should be a whole number from 1 to 10000");
            return None;
        }
    };
    let days_apart = match every {
        Some(Frequency::Weekly) | None => 7,
        Some(Frequency::Fortnightly) => 14,
        Some(Frequency::Monthly) => 31,
    };
    if Duration::days(days_apart * (c - 1)) > MAX_SERIES {
        ctx.diags.push(
            Diagnostic::error(
                n.pos,
                format!("`count: {c}` makes the series last more than 10 years"),
            )
            .with_hint("leave `count` out for a series with no end"),
        );
        return None;
    }
    u32::try_from(c).ok()
}

/// The dates in `skip`; every bad one is reported.
fn skip(ctx: &mut Ctx, n: &Node) -> Option<BTreeSet<NaiveDate>> {
    let mut ok = true;
    let mut skip = BTreeSet::new();
    for item in ctx.list(n) {
        match ctx.text(item, "a skipped date").map(|t| parse_date(&t)) {
            Some(Ok(d)) => {
                skip.insert(d);
            }
            Some(Err(e)) => {
                ctx.error(item.pos, e);
                ok = false;
            }
            None => ok = false,
        }
    }
    ok.then_some(skip)
}

/// Says where a series stops short of what the file asks because the time
/// zone rules end ([`LAST_DATE`]). A series without an end is cut too, but
/// is noted only when the cut comes within ten years of its start (the
/// longest finite series): years ahead, a note on every run would be noise.
pub(super) fn note_cut(ctx: &mut Ctx, f: &Fields<'_>, d: &Debate) {
    let endless = d.repeat.as_ref().is_some_and(|r| r.end == RepeatEnd::Never);
    if !d.is_cut() || (endless && d.starts.date() + MAX_SERIES <= LAST_DATE) {
        return;
    }
    let pos = ["until", "count", "repeat"]
        .iter()
        .find_map(|k| f.key_pos(k))
        .unwrap_or(d.starts_pos);
    let last = d.occurrences().last().map_or(String::new(), |o| {
        format!(
            "; its last debate is on {}",
            o.local_start.format("%a %-d %b %Y")
        )
    });
    ctx.diags.push(Diagnostic::note(
        pos,
        format!(
            "`{}`: the series is cut at {}, where the time zone rules Podium uses end{last}",
            d.id,
            LAST_DATE.format("%-d %b %Y")
        ),
    ));
}
