//! One entry of `debates:` read into a [`Debate`]: every field is read (so
//! each problem is reported, not just the first), then the debate is
//! assembled only if all of them were good.

use chrono::Duration;
use chrono_tz::Tz;

use super::defaults::Defaults;
use super::diag::Diagnostic;
use super::model::Debate;
use super::questions::read_questions;
use super::read::{Ctx, Fields, written};
use super::repeat::{note_cut, read_repeat};
use super::start::{read_start, resolve_start};
use super::time::format_duration;
use super::yaml::Node;
use crate::domain::Room;

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
    "ignore",
    "hashtag",
    "intro",
    "closing",
    "public",
    "remind",
    "last_call",
    "repeat",
    "until",
    "count",
    "skip",
];

/// Reads debate number `index + 1`; `None` when it has errors (all of them
/// reported). Fields are read in a fixed order, which is the order of their
/// diagnostics at the same place.
pub(super) fn read_debate(
    ctx: &mut Ctx,
    node: &Node,
    index: usize,
    defaults: &Defaults,
) -> Option<Debate> {
    let number = index + 1;
    let f = ctx.fields(node, &format!("debate {number}"), DEBATE_KEYS)?;
    let entry = Entry { node, number, f };
    let id = entry.required(ctx, "id", read_id);
    let title = entry.required(ctx, "title", |ctx, n| ctx.text(n, "`title`"));
    let timezone = entry.timezone(ctx, defaults);
    let settings = defaults.apply(ctx, &entry.f);
    let start = entry.required(ctx, "starts", read_start);
    let starts_node = entry.f.get("starts");
    let first_start = match (start, timezone, starts_node) {
        (Some(start), Some(tz), Some(n)) => resolve_start(ctx, n, tz, start),
        _ => None,
    };
    let duration = settings.duration;
    let questions = entry.required(ctx, "questions", |ctx, n| read_questions(ctx, n, duration));
    let repeat = read_repeat(ctx, &entry.f, start.map(|s| s.0));
    let rooms = entry.some_rooms(ctx, settings.rooms);
    let last_call = entry.last_call(ctx, settings.last_call, duration);

    let timezone = timezone?;
    let debate = Debate {
        id: id?,
        title: title?,
        timezone,
        zones: with_own_zone(settings.zones?, timezone),
        starts: start?.0,
        first_start: first_start?,
        duration: duration?,
        questions: questions?,
        rooms: rooms?,
        organisers: settings.organisers?,
        ignore: settings.ignore?,
        hashtag: settings.hashtag?,
        intro: settings.intro?,
        closing: settings.closing?,
        public: settings.public?,
        remind: settings.remind?,
        last_call: last_call?,
        repeat: repeat?,
        pos: node.pos,
        starts_pos: starts_node.map_or(node.pos, |n| n.pos),
    };
    note_cut(ctx, &entry.f, &debate);
    Some(debate)
}

/// A debate entry being read: its fields, and where to report what it lacks.
struct Entry<'a> {
    node: &'a Node,
    /// Counting from 1, as messages name it.
    number: usize,
    f: Fields<'a>,
}

impl<'a> Entry<'a> {
    /// The field `name` read by `read`, or an error at the entry if it is missing.
    fn required<T>(
        &self,
        ctx: &mut Ctx,
        name: &str,
        read: impl FnOnce(&mut Ctx, &'a Node) -> Option<T>,
    ) -> Option<T> {
        if let Some(n) = self.f.get(name) {
            return read(ctx, n);
        }
        ctx.error(
            self.node.pos,
            format!("debate {} has no `{name}`", self.number),
        );
        None
    }

    /// The debate's zone, else the top-level one. A missing zone is reported
    /// here; a broken top-level one was reported at the top.
    fn timezone(&self, ctx: &mut Ctx, defaults: &Defaults) -> Option<Tz> {
        match self.f.get("timezone") {
            Some(n) => ctx.zone(n),
            None if defaults.timezone_broken => None,
            None => {
                if defaults.timezone.is_none() {
                    ctx.diags.push(
                        Diagnostic::error(self.node.pos, format!("debate {} has no time zone", self.number))
                            .with_hint("set `timezone` (an IANA name such as `Europe/London`) on the debate or at the top of the file"),
                    );
                }
                defaults.timezone
            }
        }
    }

    /// The rooms, if there is at least one: an empty list, the debate's own
    /// or inherited, is reported where it comes from.
    fn some_rooms(&self, ctx: &mut Ctx, rooms: Option<Vec<Room>>) -> Option<Vec<Room>> {
        let rooms = rooms?;
        if !rooms.is_empty() {
            return Some(rooms);
        }
        match self.f.get("rooms") {
            None => ctx.diags.push(
                Diagnostic::error(self.node.pos, format!("debate {} has no rooms", self.number))
                    .with_hint("list where it is held in `rooms` (on the debate or at the top of the file), e.g. `#debates:example.org` or `#debates` for IRC"),
            ),
            Some(n) => ctx.error(
                n.pos,
                "`rooms` is empty: a debate needs somewhere to be held",
            ),
        }
        None
    }

    /// The last call, if it leaves the debate some time: one as long as
    /// the debate would come before it starts. Reported at the debate's own
    /// `last_call`, else at its own `duration`, else at the entry (both
    /// came from the top of the file, and only this debate is wrong).
    fn last_call(
        &self,
        ctx: &mut Ctx,
        last_call: Option<Option<Duration>>,
        duration: Option<Duration>,
    ) -> Option<Option<Duration>> {
        let (Some(lc), Some(duration)) = (last_call?, duration) else {
            return last_call;
        };
        if lc < duration {
            return last_call;
        }
        let (pos, what) = match self.f.get("last_call") {
            Some(n) => (n.pos, format!("last call `{}`", written(n, lc))),
            None => (
                self.f.get("duration").map_or(self.node.pos, |n| n.pos),
                format!(
                    "last call `{}` (from the top of the file)",
                    format_duration(lc)
                ),
            ),
        };
        ctx.diags.push(
            Diagnostic::error(
                pos,
                format!(
                    "{what} is not shorter than debate {}, which lasts {}",
                    self.number,
                    format_duration(duration)
                ),
            )
            .with_hint("a last call comes that long before each next question and the closing; make it shorter, or `off`"),
        );
        None
    }
}

/// An `id` is typed in chat commands and URLs: a short word of letters,
/// digits, `-`, `_` and `.`, starting with a letter or digit.
fn read_id(ctx: &mut Ctx, n: &Node) -> Option<String> {
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
}

/// The zones to show, with the debate's own first if the file left it out.
fn with_own_zone(mut zones: Vec<Tz>, own: Tz) -> Vec<Tz> {
    if !zones.contains(&own) {
        zones.insert(0, own);
    }
    zones
}
