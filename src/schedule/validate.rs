//! From the located YAML tree to a [`Schedule`], collecting every problem.
//!
//! Each reader reports what is wrong with its own value and returns `None`;
//! the caller carries on with the next field, so one typo never hides the
//! next. Checks that need whole debates (ids, overlaps, daylight saving)
//! run only on the debates that were read without errors, so a broken field
//! never causes a cascade of follow-on messages.
//!
//! This file walks the top level; the readers live beside it: `defaults.rs`
//! (top-level values and how debates inherit them), `debate.rs` (one entry),
//! `start.rs`, `questions.rs` and `repeat.rs` (its fields that need more
//! than a plain reader).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::checks::{check_overlaps, check_series};
use super::debate::read_debate;
use super::defaults::{Defaults, read_defaults};
use super::diag::Diagnostics;
use super::model::{Debate, Schedule};
use super::read::{Ctx, Fields};
use super::yaml::{Node, Pos, Value};

const TOP_KEYS: &[&str] = &[
    "timezone",
    "zones",
    "duration",
    "remind",
    "rooms",
    "organisers",
    "ignore",
    "hashtag",
    "intro",
    "closing",
    "public",
    "last_call",
    "debates",
];
/// More debates than any community runs; the cap keeps hostile files cheap.
const MAX_DEBATES: usize = 10_000;

/// Validates a whole file's tree. Returns the schedule (if there were no
/// errors) and every diagnostic, sorted by position.
pub fn validate(root: &Node, now: DateTime<Utc>) -> (Option<Schedule>, Diagnostics) {
    let mut ctx = Ctx {
        diags: Diagnostics::default(),
    };
    let schedule = read_schedule(&mut ctx, root, now);
    ctx.diags.sort();
    let schedule = if ctx.diags.has_errors() {
        None
    } else {
        schedule
    };
    (schedule, ctx.diags)
}

/// Reads the top level and every debate, then runs the checks across them.
fn read_schedule(ctx: &mut Ctx, root: &Node, now: DateTime<Utc>) -> Option<Schedule> {
    if matches!(root.value, Value::Null) {
        ctx.error(root.pos, "the file is empty: it needs a `debates:` list");
        return None;
    }
    let top = ctx.fields(root, "the top level", TOP_KEYS)?;
    let defaults = read_defaults(ctx, &top);
    let items = debate_list(ctx, root, &top)?;
    let (debates, all_ok) = read_debates(ctx, items, &defaults);
    check_series(ctx, &debates, now);
    check_overlaps(ctx, &debates, now);
    (all_ok && defaults.are_sound()).then(|| Schedule {
        debates,
        adhoc: defaults.adhoc(),
    })
}

/// The entries of `debates:`, which must be a list of at most [`MAX_DEBATES`].
fn debate_list<'a>(ctx: &mut Ctx, root: &Node, top: &Fields<'a>) -> Option<&'a [Node]> {
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
    Some(items)
}

/// Reads every entry: the debates read without errors, and whether all were.
fn read_debates(ctx: &mut Ctx, items: &[Node], defaults: &Defaults) -> (Vec<Debate>, bool) {
    let mut debates = Vec::new();
    let mut ids: HashMap<String, Pos> = HashMap::new();
    let mut all_ok = true;
    for (i, item) in items.iter().enumerate() {
        if !unique_id(ctx, item, &mut ids) {
            all_ok = false;
        }
        match read_debate(ctx, item, i, defaults) {
            Some(d) => debates.push(d),
            None => all_ok = false,
        }
    }
    (debates, all_ok)
}

/// Reports an entry whose id was already used, and remembers new ones in
/// `ids`. Duplicate ids are reported even when the rest of the entry is
/// broken; they are compared as [`read_debate`] reads them: trimmed text,
/// numbers as written. False for a duplicate.
fn unique_id(ctx: &mut Ctx, item: &Node, ids: &mut HashMap<String, Pos>) -> bool {
    let Value::Map(entries) = &item.value else {
        return true;
    };
    let Some((_, idnode)) = entries.iter().find(|(k, _)| k.name == "id") else {
        return true;
    };
    let id = match &idnode.value {
        Value::Str(s) => s.trim().to_owned(),
        Value::Int(i) => i.to_string(),
        _ => return true,
    };
    if let Some(first) = ids.get(&id) {
        ctx.error(
            idnode.pos,
            format!("duplicate id `{id}`: already used at line {}", first.line),
        );
        return false;
    }
    ids.insert(id, idnode.pos);
    true
}
