//! From the located YAML tree to a [`Schedule`], collecting every problem.
//!
//! Each reader reports what is wrong with its own value and returns `None`;
//! the caller carries on with the next field, so one typo never hides the
//! next. Checks that need whole debates (ids, overlaps, daylight saving)
//! run only on the debates that were read without errors, so a broken field
//! never causes a cascade of follow-on messages.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use super::checks::{check_overlaps, check_series};
use super::diag::{Diagnostic, Diagnostics};
use super::model::{Debate, Frequency, LAST_DATE, Question, Repeat, RepeatEnd, Schedule};
use super::read::{Ctx, Fields, closest};
use super::time::{format_duration, parse_date, parse_start};
use super::yaml::{Node, Pos, Value};
use super::zones::{abbreviation, describe_span};
use crate::domain::Room;

const TOP_KEYS: &[&str] = &[
    "timezone",
    "zones",
    "duration",
    "remind",
    "rooms",
    "organisers",
    "hashtag",
    "intro",
    "closing",
    "debates",
];
const DEBATE_KEYS: &[&str] = &[
    "id",
    "title",
    "starts",
    "timezone",
    "zones",
    "duration",
    "questions",
    "rooms",
    "organisers",
    "hashtag",
    "intro",
    "closing",
    "remind",
    "repeat",
    "until",
    "count",
    "skip",
];
const QUESTION_KEYS: &[&str] = &["text", "at"];
const REPEATS: &[&str] = &["weekly", "fortnightly", "monthly"];

const DEFAULT_DURATION: Duration = Duration::hours(1);
/// The longest finite series: beyond it, checks would expand thousands of
/// occurrences per debate for no real schedule's benefit.
const MAX_SERIES: Duration = Duration::days(3653);
/// Time zone rules (chrono-tz) stop at 2099; later times would be wrong.
/// The year of [`LAST_DATE`], where every series is cut.
const LAST_YEAR: i32 = 2099;
/// More debates than any community runs; the cap keeps hostile files cheap.
const MAX_DEBATES: usize = 10_000;

fn default_remind() -> Vec<Duration> {
    vec![Duration::days(1), Duration::hours(1), Duration::minutes(10)]
}

/// Values a debate inherits from the top of the file.
#[derive(Default)]
struct Defaults {
    timezone: Option<Tz>,
    /// True when the top-level zone was given but invalid: debates relying
    /// on it are not reported again.
    timezone_broken: bool,
    zones: Option<Vec<Tz>>,
    duration: Option<Duration>,
    remind: Option<Vec<Duration>>,
    rooms: Option<Vec<Room>>,
    organisers: Option<Vec<String>>,
    hashtag: Option<String>,
    intro: Option<String>,
    closing: Option<String>,
    broken: BTreeSet<&'static str>,
}

/// Reads `starts` in `tz`, reporting gaps, folds and offsets that disagree.
fn resolve_start(
    ctx: &mut Ctx,
    node: &Node,
    tz: Tz,
    local: NaiveDateTime,
    offset: Option<chrono::FixedOffset>,
) -> Option<DateTime<Utc>> {
    let when = local.format("%a %-d %b %Y %H:%M");
    // "BST +01:00", or just "+10:30" where the zone's abbreviation is a number.
    let abbrev = |t: DateTime<Tz>| {
        let (name, fix) = (abbreviation(&t), t.offset().fix().to_string());
        if name == fix {
            fix
        } else {
            format!("{name} {fix}")
        }
    };
    let named = |t: DateTime<Tz>| {
        let (name, fix) = (abbreviation(&t), t.offset().fix().to_string());
        if name == fix {
            String::new()
        } else {
            format!(" ({name})")
        }
    };
    match (tz.from_local_datetime(&local), offset) {
        (LocalResult::Single(t), None) => Some(t.with_timezone(&Utc)),
        (LocalResult::Single(t), Some(off)) => {
            if t.offset().fix() == off {
                Some(t.with_timezone(&Utc))
            } else {
                ctx.error(
                    node.pos,
                    format!(
                        "offset {off} does not match {}: at {when} it is {}",
                        tz.name(),
                        abbrev(t)
                    ),
                );
                None
            }
        }
        (LocalResult::Ambiguous(a, b), None) => {
            ctx.diags.push(
                Diagnostic::error(
                    node.pos,
                    format!(
                        "{when} happens twice in {}: the clocks go back {} that night",
                        tz.name(),
                        describe_span(
                            a.offset().fix().local_minus_utc() - b.offset().fix().local_minus_utc()
                        )
                    ),
                )
                .with_hint(format!(
                    "say which with an offset: `{} {}` for the first{} or `{} {}` for the second{}",
                    local.format("%Y-%m-%d %H:%M"),
                    a.offset().fix(),
                    named(a),
                    local.format("%Y-%m-%d %H:%M"),
                    b.offset().fix(),
                    named(b)
                )),
            );
            None
        }
        (LocalResult::Ambiguous(a, b), Some(off)) => {
            if a.offset().fix() == off {
                Some(a.with_timezone(&Utc))
            } else if b.offset().fix() == off {
                Some(b.with_timezone(&Utc))
            } else {
                ctx.error(
                    node.pos,
                    format!(
                        "offset {off} does not match {} at {when}: it is either {} or {}",
                        tz.name(),
                        abbrev(a),
                        abbrev(b)
                    ),
                );
                None
            }
        }
        (LocalResult::None, _) => {
            let (start, _) = super::model::resolve_local(tz, local);
            let after = start.with_timezone(&tz);
            let before_offset = (1..=48)
                .filter_map(|h| local.checked_sub_signed(Duration::hours(h)))
                .find_map(|e| tz.from_local_datetime(&e).earliest())
                .map_or(0, |t| t.offset().fix().local_minus_utc());
            ctx.diags.push(
                Diagnostic::error(
                    node.pos,
                    format!(
                        "{when} does not exist in {}: the clocks go forward {} that night",
                        tz.name(),
                        describe_span(after.offset().fix().local_minus_utc() - before_offset)
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
            None
        }
    }
}

/// Places the questions: an explicit `at` is kept; the others are spread
/// evenly between their explicit neighbours (or the start and the end).
fn place_questions(at: &[Option<Duration>], duration: Duration) -> Vec<Duration> {
    let mut out = vec![Duration::zero(); at.len()];
    let mut i = 0;
    while i < at.len() {
        if let Some(a) = at[i] {
            out[i] = a;
            i += 1;
            continue;
        }
        let run_start = i;
        while i < at.len() && at[i].is_none() {
            i += 1;
        }
        let run = i32::try_from(i - run_start).unwrap_or(i32::MAX);
        let next = at.get(i).copied().flatten().unwrap_or(duration);
        let (base, slots, first) = match run_start.checked_sub(1).and_then(|p| at[p]) {
            Some(prev) => (prev, run + 1, 1),
            None => (Duration::zero(), run, 0),
        };
        let step = (next - base) / slots;
        for (k, slot) in out[run_start..i].iter_mut().enumerate() {
            *slot = base + step * (i32::try_from(k).unwrap_or(0) + first);
        }
    }
    out
}

fn questions(ctx: &mut Ctx, node: &Node, duration: Option<Duration>) -> Option<Vec<Question>> {
    let Value::Seq(items) = &node.value else {
        ctx.error(
            node.pos,
            format!("`questions` should be a list, found {}", node.value.kind()),
        );
        return None;
    };
    if items.is_empty() {
        ctx.error(node.pos, "a debate needs at least one question");
        return None;
    }
    let mut ok = true;
    let mut texts = Vec::new();
    let mut ats: Vec<Option<Duration>> = Vec::new();
    let mut at_pos = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let n = i + 1;
        let (text, at) = match &item.value {
            Value::Map(_) => {
                let Some(f) = ctx.fields(item, &format!("question {n}"), QUESTION_KEYS) else {
                    ok = false;
                    continue;
                };
                let text = match f.get("text") {
                    Some(t) => ctx.text(t, &format!("the text of question {n}")),
                    None => {
                        ctx.error(item.pos, format!("question {n} has no `text`"));
                        None
                    }
                };
                let at = f
                    .get("at")
                    .map(|a| (ctx.duration(a, &format!("`at` of question {n}")), a.pos));
                (text, at)
            }
            _ => (ctx.text(item, &format!("question {n}")), None),
        };
        match (text, at) {
            (Some(t), None) => {
                texts.push(t);
                ats.push(None);
                at_pos.push(item.pos);
            }
            (Some(t), Some((Some(a), pos))) => {
                texts.push(t);
                ats.push(Some(a));
                at_pos.push(pos);
            }
            _ => ok = false,
        }
    }
    let duration = duration?;
    if !ok {
        return None;
    }
    let mut last: Option<(usize, Duration)> = None;
    for (i, at) in ats.iter().enumerate() {
        let Some(at) = *at else { continue };
        if at >= duration {
            ctx.error(
                at_pos[i],
                format!(
                    "question {} is at {}, but the debate is over after {}",
                    i + 1,
                    format_duration(at),
                    format_duration(duration)
                ),
            );
            ok = false;
        }
        if let Some((j, prev)) = last
            && at < prev
        {
            ctx.error(
                at_pos[i],
                format!(
                    "question {} is at {}, before question {} at {}: list questions in the order they are asked",
                    i + 1,
                    format_duration(at),
                    j + 1,
                    format_duration(prev)
                ),
            );
            ok = false;
        }
        last = Some((i, at));
    }
    if !ok {
        return None;
    }
    let placed = place_questions(&ats, duration);
    Some(
        texts
            .into_iter()
            .zip(placed)
            .map(|(text, at)| Question { text, at })
            .collect(),
    )
}

fn read_defaults(ctx: &mut Ctx, top: &Fields<'_>) -> Defaults {
    let mut d = Defaults::default();
    if let Some(n) = top.get("timezone") {
        d.timezone = ctx.zone(n);
        d.timezone_broken = d.timezone.is_none();
    }
    macro_rules! field {
        ($name:literal, $slot:ident, $read:expr) => {
            if let Some(n) = top.get($name) {
                d.$slot = $read(ctx, n);
                if d.$slot.is_none() {
                    d.broken.insert($name);
                }
            }
        };
    }
    field!("zones", zones, |c: &mut Ctx, n| c.zones(n));
    field!("duration", duration, |c: &mut Ctx, n| c.debate_duration(n));
    field!("remind", remind, |c: &mut Ctx, n| c.remind(n));
    field!("rooms", rooms, |c: &mut Ctx, n| c.rooms(n));
    field!("organisers", organisers, |c: &mut Ctx, n| c.organisers(n));
    field!("hashtag", hashtag, |c: &mut Ctx, n| c.text(n, "`hashtag`"));
    field!("intro", intro, |c: &mut Ctx, n| c.text(n, "`intro`"));
    field!("closing", closing, |c: &mut Ctx, n| c.text(n, "`closing`"));
    d
}

fn repeat(ctx: &mut Ctx, f: &Fields<'_>, first: Option<NaiveDateTime>) -> Option<Option<Repeat>> {
    let Some(node) = f.get("repeat") else {
        let mut ok = true;
        for key in ["until", "count", "skip"] {
            if let Some(pos) = f.key_pos(key) {
                ctx.diags.push(
                    Diagnostic::error(pos, format!("`{key}` only applies to a repeating debate"))
                        .with_hint(
                            "add `repeat: weekly`, `fortnightly` or `monthly`, or remove it",
                        ),
                );
                ok = false;
            }
        }
        return ok.then_some(None);
    };
    // A bad `repeat` does not stop the other repeat fields from being checked.
    let every =
        ctx.text(node, "`repeat`")
            .and_then(|text| match text.to_ascii_lowercase().as_str() {
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
            });
    let mut ok = true;
    let until = f.get("until").and_then(|n| {
        let date = ctx.text(n, "`until`").and_then(|t| match parse_date(&t) {
            Ok(d) => Some(d),
            Err(e) => {
                ctx.error(n.pos, e);
                None
            }
        });
        if date.is_none() {
            ok = false;
        }
        if let (Some(d), Some(first)) = (date, first)
            && d > first.date() + MAX_SERIES
        {
            ctx.diags.push(
                Diagnostic::error(
                    n.pos,
                    format!("`until` {d} is more than 10 years after the first start"),
                )
                .with_hint("leave `until` out for a series with no end"),
            );
            ok = false;
        }
        if let (Some(d), Some(first)) = (date, first)
            && d < first.date()
        {
            ctx.error(
                n.pos,
                format!("`until` {d} is before the first start on {}", first.date()),
            );
            ok = false;
        }
        date.map(|d| (d, n.pos))
    });
    let count = f.get("count").and_then(|n| match &n.value {
        Value::Int(c) if (1..=10_000).contains(c) => {
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
                ok = false;
                return None;
            }
            u32::try_from(*c).ok()
        }
        _ => {
            ctx.error(n.pos, "`count` should be a whole number from 1 to 10000");
            ok = false;
            None
        }
    });
    let end = match (until, count) {
        (Some((_, pos)), Some(_)) => {
            ctx.error(pos, "give either `until` or `count`, not both");
            return None;
        }
        (Some((d, _)), None) => RepeatEnd::Until(d),
        (None, Some(c)) => RepeatEnd::Count(c),
        (None, None) => RepeatEnd::Never,
    };
    let mut skip = BTreeSet::new();
    if let Some(n) = f.get("skip") {
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
    }
    let every = every?;
    ok.then_some(Some(Repeat { every, end, skip }))
}

/// Reads one debate; `None` when it has errors (all of them reported).
fn debate(ctx: &mut Ctx, node: &Node, index: usize, defaults: &Defaults) -> Option<Debate> {
    let f = ctx.fields(node, &format!("debate {}", index + 1), DEBATE_KEYS)?;
    let mut ok = true;
    macro_rules! required {
        ($name:literal, $read:expr) => {
            match f.get($name) {
                Some(n) => $read(n),
                None => {
                    ctx.error(node.pos, format!("debate {} has no `{}`", index + 1, $name));
                    None
                }
            }
        };
    }
    let id = required!("id", |n: &Node| {
        let id = ctx.text(n, "`id`")?;
        let valid = id.len() <= 64
            && id.starts_with(|c: char| c.is_ascii_alphanumeric())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid {
            ctx.diags.push(
                Diagnostic::error(n.pos, format!("`{id}` is not a usable id"))
                    .with_hint("ids are short words of letters, digits, `-`, `_` and `.`, such as `leadership-2011`: they are typed in chat commands and URLs"),
            );
            return None;
        }
        Some(id)
    });
    let title = required!("title", |n: &Node| ctx.text(n, "`title`"));

    let timezone = match f.get("timezone") {
        Some(n) => ctx.zone(n),
        None if defaults.timezone_broken => None,
        None => {
            if defaults.timezone.is_none() {
                ctx.diags.push(
                    Diagnostic::error(node.pos, format!("debate {} has no time zone", index + 1))
                        .with_hint("set `timezone` (an IANA name such as `Europe/London`) on the debate or at the top of the file"),
                );
            }
            defaults.timezone
        }
    };
    let shown = match f.get("zones") {
        Some(n) => ctx.zones(n),
        None if defaults.broken.contains("zones") => None,
        None => Some(defaults.zones.clone().unwrap_or_default()),
    };
    macro_rules! inherit {
        ($name:literal, $slot:ident, $read:expr, $default:expr) => {
            match f.get($name) {
                Some(n) => {
                    let v = $read(n);
                    if v.is_none() {
                        ok = false;
                    }
                    v
                }
                None if defaults.broken.contains($name) => {
                    ok = false;
                    None
                }
                None => Some(defaults.$slot.clone().unwrap_or_else(|| $default)),
            }
        };
    }
    let duration = inherit!(
        "duration",
        duration,
        |n| ctx.debate_duration(n),
        DEFAULT_DURATION
    );
    let remind = inherit!("remind", remind, |n| ctx.remind(n), default_remind());
    let rooms = inherit!("rooms", rooms, |n| ctx.rooms(n), Vec::new());
    let organisers = inherit!("organisers", organisers, |n| ctx.organisers(n), Vec::new());
    let hashtag = f
        .get("hashtag")
        .map_or(Some(defaults.hashtag.clone()), |n| {
            ctx.text(n, "`hashtag`").map(Some)
        });
    let intro = f.get("intro").map_or(Some(defaults.intro.clone()), |n| {
        ctx.text(n, "`intro`").map(Some)
    });
    let closing = f
        .get("closing")
        .map_or(Some(defaults.closing.clone()), |n| {
            ctx.text(n, "`closing`").map(Some)
        });

    let starts_node = f.get("starts");
    let start = required!("starts", |n: &Node| {
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
    });
    let first_start = match (start, timezone, starts_node) {
        (Some((local, offset)), Some(tz), Some(n)) => resolve_start(ctx, n, tz, local, offset),
        _ => None,
    };
    let questions = required!("questions", |n: &Node| questions(ctx, n, duration));
    let repeat = repeat(ctx, &f, start.map(|s| s.0));

    if let Some(rooms) = &rooms
        && rooms.is_empty()
        && f.get("rooms").is_none()
    {
        ctx.diags.push(
            Diagnostic::error(node.pos, format!("debate {} has no rooms", index + 1))
                .with_hint("list where it is held in `rooms` (on the debate or at the top of the file), e.g. `#debates:example.org` or `#debates` for IRC"),
        );
        ok = false;
    } else if rooms.as_ref().is_some_and(Vec::is_empty) {
        if let Some(n) = f.get("rooms") {
            ctx.error(
                n.pos,
                "`rooms` is empty: a debate needs somewhere to be held",
            );
        }
        ok = false;
    }

    let (Some(id), Some(title), Some(timezone), Some(shown), Some(duration), Some(remind)) =
        (id, title, timezone, shown, duration, remind)
    else {
        return None;
    };
    let (Some((starts, _)), Some(first_start), Some(questions), Some(repeat)) =
        (start, first_start, questions, repeat)
    else {
        return None;
    };
    let (Some(rooms), Some(organisers), Some(hashtag), Some(intro), Some(closing)) =
        (rooms, organisers, hashtag, intro, closing)
    else {
        return None;
    };
    if !ok {
        return None;
    }
    let mut zones = shown;
    if !zones.contains(&timezone) {
        zones.insert(0, timezone);
    }
    let debate = Debate {
        id,
        title,
        timezone,
        zones,
        starts,
        first_start,
        duration,
        questions,
        rooms,
        organisers,
        hashtag,
        intro,
        closing,
        remind,
        repeat,
        pos: node.pos,
        starts_pos: starts_node.map_or(node.pos, |n| n.pos),
    };
    note_cut(ctx, &f, &debate);
    Some(debate)
}

/// Says where a series stops short of what the file asks because the time
/// zone rules end ([`LAST_DATE`]). A series without an end is cut too, but
/// is noted only when the cut comes within ten years of its start (the
/// longest finite series): years ahead, a note on every run would be noise.
fn note_cut(ctx: &mut Ctx, f: &Fields<'_>, d: &Debate) {
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

/// Validates a whole file's tree. Returns the schedule (if there were no
/// errors) and every diagnostic, sorted by position.
pub fn validate(root: &Node, now: DateTime<Utc>) -> (Option<Schedule>, Diagnostics) {
    let mut ctx = Ctx {
        diags: Diagnostics::default(),
    };
    let schedule = (|| {
        if matches!(root.value, Value::Null) {
            ctx.error(root.pos, "the file is empty: it needs a `debates:` list");
            return None;
        }
        let top = ctx.fields(root, "the top level", TOP_KEYS)?;
        let defaults = read_defaults(&mut ctx, &top);
        let Some(list) = top.get("debates") else {
            ctx.error(root.pos, "there is no `debates:` list");
            return None;
        };
        let Value::Seq(items) = &list.value else {
            ctx.error(
                list.pos,
                format!("`debates` should be a list, found {}", list.value.kind()),
            );
            return None;
        };
        if items.len() > MAX_DEBATES {
            ctx.error(
                list.pos,
                format!(
                    "{} debates is more than Podium takes ({MAX_DEBATES}); split the file",
                    items.len()
                ),
            );
            return None;
        }
        let mut debates = Vec::new();
        let mut ids: HashMap<String, Pos> = HashMap::new();
        let mut all_ok = true;
        for (i, item) in items.iter().enumerate() {
            // Duplicate ids are reported even when the rest of the entry is broken.
            // Compared as `debate` reads them: trimmed text, numbers as written.
            if let Value::Map(entries) = &item.value
                && let Some((_, idnode)) = entries.iter().find(|(k, _)| k.name == "id")
                && let Some(id) = match &idnode.value {
                    Value::Str(s) => Some(s.trim().to_owned()),
                    Value::Int(i) => Some(i.to_string()),
                    _ => None,
                }
            {
                if let Some(first) = ids.get(&id) {
                    ctx.error(
                        idnode.pos,
                        format!("duplicate id `{id}`: already used at line {}", first.line),
                    );
                    all_ok = false;
                } else {
                    ids.insert(id, idnode.pos);
                }
            }
            match debate(&mut ctx, item, i, &defaults) {
                Some(d) => debates.push(d),
                None => all_ok = false,
            }
        }
        check_series(&mut ctx, &debates, now);
        check_overlaps(&mut ctx, &debates, now);
        (all_ok && defaults.broken.is_empty() && !defaults.timezone_broken)
            .then_some(Schedule { debates })
    })();
    ctx.diags.sort();
    let schedule = if ctx.diags.has_errors() {
        None
    } else {
        schedule
    };
    (schedule, ctx.diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_without_offsets_are_spread_evenly() {
        let placed = place_questions(&[None, None, None, None], Duration::hours(1));
        let minutes: Vec<i64> = placed.iter().map(|d| d.num_minutes()).collect();
        assert_eq!(minutes, vec![0, 15, 30, 45]);
    }

    #[test]
    fn questions_between_fixed_ones_share_the_gap() {
        let placed = place_questions(
            &[
                None,
                Some(Duration::minutes(20)),
                None,
                None,
                Some(Duration::minutes(50)),
            ],
            Duration::hours(1),
        );
        let minutes: Vec<i64> = placed.iter().map(|d| d.num_minutes()).collect();
        assert_eq!(minutes, vec![0, 20, 30, 40, 50]);
    }
}
