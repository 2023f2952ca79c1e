//! Values set at the top of the file for every debate, and how a debate
//! inherits them: its own value first, then the top-level one, then the
//! built-in default. A broken top-level value is reported once, at the top;
//! the debates relying on it fail quietly instead of repeating it.

use std::collections::BTreeSet;

use chrono::Duration;
use chrono_tz::Tz;

use super::diag::Diagnostic;
use super::read::{Ctx, Fields, written};
use super::time::format_duration;
use super::yaml::Node;
use crate::domain::Room;

const DEFAULT_DURATION: Duration = Duration::hours(1);

fn default_remind() -> Vec<Duration> {
    vec![Duration::days(1), Duration::hours(1), Duration::minutes(10)]
}

/// Values a debate inherits from the top of the file.
#[derive(Default)]
pub(super) struct Defaults {
    pub(super) timezone: Option<Tz>,
    /// True when the top-level zone was given but invalid: debates relying
    /// on it are not reported again.
    pub(super) timezone_broken: bool,
    zones: Option<Vec<Tz>>,
    duration: Option<Duration>,
    remind: Option<Vec<Duration>>,
    rooms: Option<Vec<Room>>,
    organisers: Option<Vec<String>>,
    ignore: Option<Vec<String>>,
    hashtag: Option<String>,
    intro: Option<String>,
    closing: Option<String>,
    public: Option<bool>,
    /// `Some(None)`: given as `off`.
    last_call: Option<Option<Duration>>,
    /// The top-level fields given but invalid.
    broken: BTreeSet<&'static str>,
}

/// A debate's settings after inheritance; each `None` when the debate's own
/// value, or the top-level one it would take, is broken.
pub(super) struct Inherited {
    pub(super) zones: Option<Vec<Tz>>,
    pub(super) duration: Option<Duration>,
    pub(super) remind: Option<Vec<Duration>>,
    pub(super) rooms: Option<Vec<Room>>,
    pub(super) organisers: Option<Vec<String>>,
    pub(super) ignore: Option<Vec<String>>,
    pub(super) hashtag: Option<Option<String>>,
    pub(super) intro: Option<Option<String>>,
    pub(super) closing: Option<Option<String>>,
    pub(super) public: Option<bool>,
    /// `Some(None)`: no last calls.
    pub(super) last_call: Option<Option<Duration>>,
}

/// Reads the top-level defaults, reporting each broken one.
pub(super) fn read_defaults(ctx: &mut Ctx, top: &Fields<'_>) -> Defaults {
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
    field!("ignore", ignore, |c: &mut Ctx, n| c.ignore(n));
    field!("hashtag", hashtag, |c: &mut Ctx, n| c.text(n, "`hashtag`"));
    field!("intro", intro, |c: &mut Ctx, n| c.text(n, "`intro`"));
    field!("closing", closing, |c: &mut Ctx, n| c.text(n, "`closing`"));
    field!("public", public, |c: &mut Ctx, n| c.boolean(n, "`public`"));
    field!("last_call", last_call, |c: &mut Ctx, n| c.last_call(n));
    default_last_call_fits(ctx, top, &mut d);
    d
}

/// A top-level last call as long as the debates' default duration is
/// reported once, here, rather than at every debate that takes both.
fn default_last_call_fits(ctx: &mut Ctx, top: &Fields<'_>, d: &mut Defaults) {
    let (Some(Some(lc)), Some(node)) = (d.last_call, top.get("last_call")) else {
        return;
    };
    if d.broken.contains("duration") {
        return;
    }
    let duration = d.duration.unwrap_or(DEFAULT_DURATION);
    if lc < duration {
        return;
    }
    ctx.diags.push(
        Diagnostic::error(
            node.pos,
            format!(
                "last call `{}` is not shorter than a debate, which lasts {} unless it says otherwise",
                written(node, lc),
                format_duration(duration)
            ),
        )
        .with_hint("a last call comes that long before each next question and the closing; make it shorter"),
    );
    d.last_call = None;
    d.broken.insert("last_call");
}

impl Defaults {
    /// True when every top-level value that was given could be read.
    /// What debates started with `!debate` take from the top.
    pub(super) fn adhoc(&self) -> super::model::AdHocDefaults {
        let timezone = self.timezone.unwrap_or(chrono_tz::UTC);
        let mut zones = self.zones.clone().unwrap_or_default();
        if !zones.contains(&timezone) {
            zones.insert(0, timezone);
        }
        super::model::AdHocDefaults {
            timezone,
            zones,
            organisers: self.organisers.clone().unwrap_or_default(),
            ignore: self.ignore.clone().unwrap_or_default(),
            hashtag: self.hashtag.clone(),
        }
    }

    pub(super) fn are_sound(&self) -> bool {
        self.broken.is_empty() && !self.timezone_broken
    }

    /// Reads a debate's settings from its fields `f`, taking the ones it
    /// leaves out from these defaults.
    pub(super) fn apply(&self, ctx: &mut Ctx, f: &Fields<'_>) -> Inherited {
        Inherited {
            zones: self.inherit(ctx, f, "zones", Ctx::zones, || {
                self.zones.clone().unwrap_or_default()
            }),
            duration: self.inherit(ctx, f, "duration", Ctx::debate_duration, || {
                self.duration.unwrap_or(DEFAULT_DURATION)
            }),
            remind: self.inherit(ctx, f, "remind", Ctx::remind, || {
                self.remind.clone().unwrap_or_else(default_remind)
            }),
            rooms: self.inherit(ctx, f, "rooms", Ctx::rooms, || {
                self.rooms.clone().unwrap_or_default()
            }),
            organisers: self.inherit(ctx, f, "organisers", Ctx::organisers, || {
                self.organisers.clone().unwrap_or_default()
            }),
            ignore: self.ignore_list(ctx, f),
            hashtag: optional_text(ctx, f, "hashtag", &self.hashtag),
            intro: optional_text(ctx, f, "intro", &self.intro),
            closing: optional_text(ctx, f, "closing", &self.closing),
            public: self.inherit(
                ctx,
                f,
                "public",
                |c: &mut Ctx, n| c.boolean(n, "`public`"),
                || self.public.unwrap_or(false),
            ),
            // Off unless the top of the file asks for it.
            last_call: self.inherit(ctx, f, "last_call", Ctx::last_call, || {
                self.last_call.flatten()
            }),
        }
    }

    /// The top-level `ignore` list and the debate's own: this one list
    /// adds up rather than being replaced, so a debate cannot undo a block
    /// meant for all of them.
    fn ignore_list(&self, ctx: &mut Ctx, f: &Fields<'_>) -> Option<Vec<String>> {
        // The debate's own list is checked even when the top-level one is
        // broken: both are reported.
        let own = match f.get("ignore") {
            Some(n) => ctx.ignore(n),
            None => Some(Vec::new()),
        };
        if self.broken.contains("ignore") {
            return None;
        }
        let mut list = self.ignore.clone().unwrap_or_default();
        for entry in own? {
            if !list.contains(&entry) {
                list.push(entry);
            }
        }
        Some(list)
    }

    /// The debate's own `name` read by `read`, else `inherited()`, unless
    /// the top-level value is broken.
    fn inherit<T>(
        &self,
        ctx: &mut Ctx,
        f: &Fields<'_>,
        name: &str,
        read: impl FnOnce(&mut Ctx, &Node) -> Option<T>,
        inherited: impl FnOnce() -> T,
    ) -> Option<T> {
        match f.get(name) {
            Some(n) => read(ctx, n),
            None if self.broken.contains(name) => None,
            None => Some(inherited()),
        }
    }
}

/// A text a debate may leave out (`hashtag`, `intro`, `closing`): its own,
/// else the top-level one, else none. A broken top-level text is not
/// inherited, and is reported only at the top.
fn optional_text(
    ctx: &mut Ctx,
    f: &Fields<'_>,
    name: &str,
    inherited: &Option<String>,
) -> Option<Option<String>> {
    match f.get(name) {
        Some(n) => ctx.text(n, &format!("`{name}`")).map(Some),
        None => Some(inherited.clone()),
    }
}
