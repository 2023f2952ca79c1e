//! A debate's `starts`: the wall time as written, then the one instant it
//! names in the debate's zone. A first start in a gap (clocks go forward) or
//! a fold (clocks go back) is an error with a hint, since guessing would move
//! a debate people have already been told about; an explicit UTC offset must
//! be one the zone really has at that moment.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDateTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;

use super::diag::Diagnostic;
use super::model::resolve_local;
use super::read::Ctx;
use super::time::parse_start;
use super::yaml::Node;
use super::zones::{abbreviation, describe_span};

/// Time zone rules (chrono-tz) stop at 2099; later times would be wrong.
/// The year of [`LAST_DATE`](super::model::LAST_DATE), where every series is cut.
const LAST_YEAR: i32 = 2099;

/// `starts` as written: a local wall time and, if given, a UTC offset.
pub(super) type WrittenStart = (NaiveDateTime, Option<FixedOffset>);

/// Reads the text of `starts`, within the years the zone rules cover.
pub(super) fn read_start(ctx: &mut Ctx, n: &Node) -> Option<WrittenStart> {
    let text = ctx.text(n, "`starts`")?;
    match parse_start(&text) {
        Ok(s) if !(1970..=LAST_YEAR).contains(&s.0.year()) => {
            ctx.error(
                n.pos,
                format!("`{text}` is out of range: starts must fall between 1970 and {LAST_YEAR}, the years the time zone rules cover"),
            );
            None
        }
        Ok(s) => Some(s),
        Err(e) => {
            ctx.error(n.pos, e);
            None
        }
    }
}

/// Reads `starts` in `tz`, reporting gaps, folds and offsets that disagree.
pub(super) fn resolve_start(
    ctx: &mut Ctx,
    node: &Node,
    tz: Tz,
    (local, offset): WrittenStart,
) -> Option<DateTime<Utc>> {
    match (tz.from_local_datetime(&local), offset) {
        (LocalResult::Single(t), None) => Some(t.with_timezone(&Utc)),
        (LocalResult::Single(t), Some(off)) => {
            if t.offset().fix() == off {
                return Some(t.with_timezone(&Utc));
            }
            ctx.error(
                node.pos,
                format!(
                    "offset {off} does not match {}: at {} it is {}",
                    tz.name(),
                    when(local),
                    abbrev(t)
                ),
            );
            None
        }
        (LocalResult::Ambiguous(a, b), None) => {
            report_fold(ctx, node, local, a, b);
            None
        }
        (LocalResult::Ambiguous(a, b), Some(off)) => pick_in_fold(ctx, node, local, (a, b), off),
        (LocalResult::None, _) => {
            report_gap(ctx, node, tz, local);
            None
        }
    }
}

/// The local time as messages show it: "Sun 25 Oct 2026 01:30".
fn when(local: NaiveDateTime) -> String {
    local.format("%a %-d %b %Y %H:%M").to_string()
}

/// "BST +01:00", or just "+10:30" where the zone's abbreviation is a number.
fn abbrev(t: DateTime<Tz>) -> String {
    let (name, fix) = (abbreviation(&t), t.offset().fix().to_string());
    if name == fix {
        fix
    } else {
        format!("{name} {fix}")
    }
}

/// " (BST)" after an offset, or nothing where the abbreviation is a number.
fn named(t: DateTime<Tz>) -> String {
    let (name, fix) = (abbreviation(&t), t.offset().fix().to_string());
    if name == fix {
        String::new()
    } else {
        format!(" ({name})")
    }
}

/// A time that happens twice, with an offset saying which: the offset must
/// be one of the two.
fn pick_in_fold(
    ctx: &mut Ctx,
    node: &Node,
    local: NaiveDateTime,
    (a, b): (DateTime<Tz>, DateTime<Tz>),
    off: FixedOffset,
) -> Option<DateTime<Utc>> {
    if a.offset().fix() == off {
        Some(a.with_timezone(&Utc))
    } else if b.offset().fix() == off {
        Some(b.with_timezone(&Utc))
    } else {
        ctx.error(
            node.pos,
            format!(
                "offset {off} does not match {} at {}: it is either {} or {}",
                a.timezone().name(),
                when(local),
                abbrev(a),
                abbrev(b)
            ),
        );
        None
    }
}

/// A time that happens twice and no offset: the hint writes both choices out.
fn report_fold(ctx: &mut Ctx, node: &Node, local: NaiveDateTime, a: DateTime<Tz>, b: DateTime<Tz>) {
    let back = a.offset().fix().local_minus_utc() - b.offset().fix().local_minus_utc();
    let written = local.format("%Y-%m-%d %H:%M");
    ctx.diags.push(
        Diagnostic::error(
            node.pos,
            format!(
                "{} happens twice in {}: the clocks go back {} that night",
                when(local),
                a.timezone().name(),
                describe_span(back)
            ),
        )
        .with_hint(format!(
            "say which with an offset: `{written} {}` for the first{} or `{written} {}` for the second{}",
            a.offset().fix(),
            named(a),
            b.offset().fix(),
            named(b)
        )),
    );
}

/// A time that does not exist: the hint gives the first time after the gap.
fn report_gap(ctx: &mut Ctx, node: &Node, tz: Tz, local: NaiveDateTime) {
    let (start, _) = resolve_local(tz, local);
    let after = start.with_timezone(&tz);
    let forward = after.offset().fix().local_minus_utc() - offset_before(tz, local);
    ctx.diags.push(
        Diagnostic::error(
            node.pos,
            format!(
                "{} does not exist in {}: the clocks go forward {} that night",
                when(local),
                tz.name(),
                describe_span(forward)
            ),
        )
        .with_hint(format!(
            "choose a time outside the gap, such as {}",
            // Samoa skipped a whole day (30 Dec 2011): then say which.
            if after.date_naive() == local.date() {
                after.format("%H:%M").to_string()
            } else {
                after.format("%H:%M on %a %-d %b %Y").to_string()
            }
        )),
    );
}

/// The zone's offset (seconds east of UTC) in the last hours before a gap
/// at `local`, to say how far the clocks jump.
fn offset_before(tz: Tz, local: NaiveDateTime) -> i32 {
    (1..=48)
        .filter_map(|h| local.checked_sub_signed(Duration::hours(h)))
        .find_map(|e| tz.from_local_datetime(&e).earliest())
        .map_or(0, |t| t.offset().fix().local_minus_utc())
}
