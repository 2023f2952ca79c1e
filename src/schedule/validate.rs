//! From the located YAML tree to a [`Schedule`], collecting every problem.
//!
//! Each reader reports what is wrong with its own value and returns `None`;
//! the caller carries on with the next field, so one typo never hides the
//! next. Checks that need whole debates (ids, overlaps, daylight saving)
//! run only on the debates that were read without errors, so a broken field
//! never causes a cascade of follow-on messages.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use super::diag::{Diagnostic, Diagnostics};
use super::model::{Adjustment, Debate, Frequency, Question, Repeat, RepeatEnd, Room, Schedule};
use super::time::{format_duration, parse_date, parse_duration, parse_start};
use super::yaml::{Key, Node, Pos, Value};
use super::zones::{self, describe_span, parse_zone};

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

/// The longest debate Podium accepts; longer is almost surely a typo (`1d` for `1h`).
const MAX_DURATION: Duration = Duration::hours(24);
const DEFAULT_DURATION: Duration = Duration::hours(1);

fn default_remind() -> Vec<Duration> {
    vec![Duration::days(1), Duration::hours(1), Duration::minutes(10)]
}

/// How far past "now" (or past the last one-off debate) overlaps and notes
/// are looked for in series that never end.
const HORIZON: Duration = Duration::days(366);

struct Ctx {
    diags: Diagnostics,
}

/// A mapping's entries, looked up by name, after unknown and duplicate keys
/// were reported.
struct Fields<'a> {
    entries: HashMap<&'a str, (&'a Key, &'a Node)>,
}

impl<'a> Fields<'a> {
    fn get(&self, name: &str) -> Option<&'a Node> {
        self.entries.get(name).map(|(_, n)| *n)
    }
    fn key_pos(&self, name: &str) -> Option<Pos> {
        self.entries.get(name).map(|(k, _)| k.pos)
    }
}

fn closest<'k>(word: &str, candidates: &[&'k str]) -> Option<&'k str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

impl Ctx {
    fn error(&mut self, pos: Pos, msg: impl Into<String>) {
        self.diags.error(pos, msg);
    }

    fn fields<'a>(&mut self, node: &'a Node, what: &str, known: &[&str]) -> Option<Fields<'a>> {
        let Value::Map(entries) = &node.value else {
            self.error(
                node.pos,
                format!(
                    "{what} should be a mapping of `key: value`, found {}",
                    node.value.kind()
                ),
            );
            return None;
        };
        let mut fields = Fields {
            entries: HashMap::new(),
        };
        for (key, value) in entries {
            if !known.contains(&key.name.as_str()) {
                let mut d =
                    Diagnostic::error(key.pos, format!("unknown field `{}` in {what}", key.name));
                d = match closest(&key.name, known) {
                    Some(c) => d.with_hint(format!("did you mean `{c}`?")),
                    None => d.with_hint(format!("known fields: {}", known.join(", "))),
                };
                self.diags.push(d);
                continue;
            }
            if let Some((first, _)) = fields.entries.get(key.name.as_str()) {
                self.error(
                    key.pos,
                    format!(
                        "duplicate field `{}` (first given at line {})",
                        key.name, first.pos.line
                    ),
                );
                continue;
            }
            fields.entries.insert(key.name.as_str(), (key, value));
        }
        Some(fields)
    }

    /// A scalar read as text; numbers are accepted for titles like `2024`.
    fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        let s = match &node.value {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            other => {
                self.error(
                    node.pos,
                    format!("{what} should be text, found {}", other.kind()),
                );
                return None;
            }
        };
        if s.trim().is_empty() {
            self.error(node.pos, format!("{what} is empty"));
            return None;
        }
        Some(s.trim().to_owned())
    }

    /// A list, or a single item standing for a list of one.
    fn list<'a>(&mut self, node: &'a Node) -> Vec<&'a Node> {
        match &node.value {
            Value::Seq(items) => items.iter().collect(),
            Value::Null => Vec::new(),
            _ => vec![node],
        }
    }

    fn zone(&mut self, node: &Node) -> Option<Tz> {
        let name = self.text(node, "a time zone")?;
        match parse_zone(&name) {
            Ok(tz) => Some(tz),
            Err(nearest) => {
                let d = Diagnostic::error(node.pos, format!("unknown time zone `{name}`"));
                self.diags.push(match nearest {
                    Some(n) => d.with_hint(format!(
                        "did you mean `{n}`? (zones are IANA names such as `Europe/London`)"
                    )),
                    None => d.with_hint(
                        "zones are IANA names such as `Europe/London` or `America/New_York`",
                    ),
                });
                None
            }
        }
    }

    fn zones(&mut self, node: &Node) -> Option<Vec<Tz>> {
        let items = self.list(node);
        let mut ok = true;
        let mut out = Vec::new();
        for item in items {
            match self.zone(item) {
                Some(tz) if !out.contains(&tz) => out.push(tz),
                Some(_) => {}
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        let text = match &node.value {
            Value::Str(s) => s.clone(),
            Value::Int(i) => {
                self.diags.push(
                    Diagnostic::error(node.pos, format!("{what} `{i}` has no unit"))
                        .with_hint(format!("write e.g. `{i}m` for minutes or `{i}h` for hours")),
                );
                return None;
            }
            other => {
                self.error(
                    node.pos,
                    format!(
                        "{what} should be a duration such as `1h`, found {}",
                        other.kind()
                    ),
                );
                return None;
            }
        };
        match parse_duration(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(node.pos, format!("bad {what}: {e}"));
                None
            }
        }
    }

    fn debate_duration(&mut self, node: &Node) -> Option<Duration> {
        let d = self.duration(node, "duration")?;
        if d < Duration::minutes(1) || d > MAX_DURATION {
            self.error(
                node.pos,
                format!(
                    "duration `{}` is out of range: a debate lasts from 1 minute to 24 hours",
                    format_duration(d)
                ),
            );
            return None;
        }
        Some(d)
    }

    fn remind(&mut self, node: &Node) -> Option<Vec<Duration>> {
        let mut out = Vec::new();
        let mut ok = true;
        for item in self.list(node) {
            match self.duration(item, "reminder") {
                Some(d) if d <= Duration::zero() || d > Duration::days(60) => {
                    self.error(
                        item.pos,
                        "a reminder comes between 1 second and 60 days before the start",
                    );
                    ok = false;
                }
                Some(d) => out.push(d),
                None => ok = false,
            }
        }
        out.sort_by(|a, b| b.cmp(a));
        out.dedup();
        ok.then_some(out)
    }

    fn rooms(&mut self, node: &Node) -> Option<Vec<Room>> {
        let mut out = Vec::new();
        let mut ok = true;
        for item in self.list(node) {
            let Some(text) = self.text(item, "a room") else {
                ok = false;
                continue;
            };
            match Room::parse(&text) {
                Ok(r) if !out.contains(&r) => out.push(r),
                Ok(_) => {}
                Err(e) => {
                    self.error(item.pos, e);
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    fn organisers(&mut self, node: &Node) -> Option<Vec<String>> {
        let mut out = Vec::new();
        let mut ok = true;
        for item in self.list(node) {
            let Some(text) = self.text(item, "an organiser") else {
                ok = false;
                continue;
            };
            let matrix = text.starts_with('@')
                && text[1..]
                    .split_once(':')
                    .is_some_and(|(u, s)| !u.is_empty() && !s.is_empty());
            let irc = text
                .strip_prefix("irc:")
                .is_some_and(|n| !n.is_empty() && !n.contains([' ', ',', '!', '@', '#']));
            if matrix || irc {
                if !out.contains(&text) {
                    out.push(text);
                }
            } else {
                self.diags.push(
                    Diagnostic::error(item.pos, format!("organiser `{text}` is neither a Matrix user nor an IRC nick"))
                        .with_hint("write a Matrix user id (`@alice:example.org`) or an IRC nick (`irc:alice`)"),
                );
                ok = false;
            }
        }
        ok.then_some(out)
    }
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
    let abbrev = |t: DateTime<Tz>| format!("{} {}", t.offset(), t.offset().fix());
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
                        describe_span(a.offset().fix().local_minus_utc() - b.offset().fix().local_minus_utc())
                    ),
                )
                .with_hint(format!(
                    "say which with an offset: `{} {}` for the first ({}) or `{} {}` for the second ({})",
                    local.format("%Y-%m-%d %H:%M"),
                    a.offset().fix(),
                    a.offset(),
                    local.format("%Y-%m-%d %H:%M"),
                    b.offset().fix(),
                    b.offset()
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
                    after.format("%H:%M")
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
    let every = match ctx.text(node, "`repeat`")?.to_ascii_lowercase().as_str() {
        "weekly" => Frequency::Weekly,
        "fortnightly" | "biweekly" => Frequency::Fortnightly,
        "monthly" => Frequency::Monthly,
        other => {
            let d = Diagnostic::error(node.pos, format!("unknown repeat `{other}`"));
            ctx.diags.push(match closest(other, REPEATS) {
                Some(c) => d.with_hint(format!(
                    "did you mean `{c}`? (weekly, fortnightly or monthly)"
                )),
                None => d.with_hint("repeat is weekly, fortnightly or monthly"),
            });
            return None;
        }
    };
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
        Value::Int(c) if (1..=10_000).contains(c) => u32::try_from(*c).ok(),
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
    Some(Debate {
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
    })
}

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

fn check_series(ctx: &mut Ctx, debates: &[Debate], now: DateTime<Utc>) {
    for d in debates {
        if let Some(repeat) = &d.repeat {
            let dates: BTreeSet<_> = {
                let mut plain = d.clone();
                if let Some(r) = plain.repeat.as_mut() {
                    r.skip.clear();
                }
                let last_skip = repeat.skip.iter().next_back().copied();
                plain
                    .occurrences()
                    .map(|o| o.local_start.date())
                    .take_while(|date| last_skip.is_some_and(|l| *date <= l))
                    .collect()
            };
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
                        "on {} {} does not exist in {} (clocks go forward); `{}` starts at {} that day",
                        o.local_start.format("%a %-d %b %Y"),
                        o.local_start.format("%H:%M"),
                        d.timezone.name(),
                        d.id,
                        o.starts_at.with_timezone(&d.timezone).format("%H:%M %Z")
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
                        o.starts_at.with_timezone(&d.timezone).format("%H:%M %Z")
                    ),
                )),
                None => {}
            }
            for zone in &d.zones {
                if let Some(m) = zones::mismatch(o.starts_at, d.timezone, *zone) {
                    ctx.diags.push(Diagnostic::note(
                        d.starts_pos,
                        format!("`{}`: {}", d.id, m.sentence(o.starts_at)),
                    ));
                }
            }
        }
    }
}

/// Start, end and debate index of one occurrence in one room.
type Slot = (DateTime<Utc>, DateTime<Utc>, usize);

fn check_overlaps(ctx: &mut Ctx, debates: &[Debate], now: DateTime<Utc>) {
    let latest_one_off = debates.iter().map(|d| d.first_start).max().unwrap_or(now);
    let horizon = now.max(latest_one_off) + HORIZON;
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
    let mut rooms: Vec<_> = by_room.into_iter().collect();
    rooms.sort_by(|a, b| a.0.cmp(b.0));
    for (room, mut slots) in rooms {
        slots.sort_unstable();
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
                            prev.1.with_timezone(&zone).format("%H:%M %Z"),
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
        let mut debates = Vec::new();
        let mut ids: HashMap<String, Pos> = HashMap::new();
        let mut all_ok = true;
        for (i, item) in items.iter().enumerate() {
            // Duplicate ids are reported even when the rest of the entry is broken.
            if let Value::Map(entries) = &item.value
                && let Some((_, idnode)) = entries.iter().find(|(k, _)| k.name == "id")
                && let Value::Str(id) = &idnode.value
            {
                if let Some(first) = ids.get(id) {
                    ctx.error(
                        idnode.pos,
                        format!("duplicate id `{id}`: already used at line {}", first.line),
                    );
                    all_ok = false;
                } else {
                    ids.insert(id.clone(), idnode.pos);
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
