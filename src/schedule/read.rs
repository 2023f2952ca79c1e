//! Reading values out of the located YAML tree, one reader per kind of
//! field. Each reader reports its own problems into the context and returns
//! `None`, so the caller can go on to the next field.

use std::collections::HashMap;

use chrono::Duration;
use chrono_tz::Tz;

use super::diag::{Diagnostic, Diagnostics};
use super::time::{format_duration, parse_duration};
use super::yaml::{Key, Node, Pos, Value};
use super::zones::parse_zone;
use crate::domain::Room;

/// The longest debate Podium accepts; longer is almost surely a typo (`1d` for `1h`).
pub(super) const MAX_DURATION: Duration = Duration::hours(24);

pub(super) struct Ctx {
    pub(super) diags: Diagnostics,
}

/// A mapping's entries, looked up by name, after unknown and duplicate keys
/// were reported.
pub(super) struct Fields<'a> {
    entries: HashMap<&'a str, (&'a Key, &'a Node)>,
}

impl<'a> Fields<'a> {
    pub(super) fn get(&self, name: &str) -> Option<&'a Node> {
        self.entries.get(name).map(|(_, n)| *n)
    }
    pub(super) fn key_pos(&self, name: &str) -> Option<Pos> {
        self.entries.get(name).map(|(k, _)| k.pos)
    }
}

pub(super) fn closest<'k>(word: &str, candidates: &[&'k str]) -> Option<&'k str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

impl Ctx {
    pub(super) fn error(&mut self, pos: Pos, msg: impl Into<String>) {
        self.diags.error(pos, msg);
    }

    pub(super) fn fields<'a>(
        &mut self,
        node: &'a Node,
        what: &str,
        known: &[&str],
    ) -> Option<Fields<'a>> {
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
    pub(super) fn text(&mut self, node: &Node, what: &str) -> Option<String> {
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

    /// `true` or `false` (YAML 1.2 booleans only: `yes` is text).
    pub(super) fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            other => {
                self.error(
                    node.pos,
                    format!("{what} should be true or false, found {}", other.kind()),
                );
                None
            }
        }
    }

    /// A list, or a single item standing for a list of one.
    pub(super) fn list<'a>(&mut self, node: &'a Node) -> Vec<&'a Node> {
        match &node.value {
            Value::Seq(items) => items.iter().collect(),
            Value::Null => Vec::new(),
            _ => vec![node],
        }
    }

    pub(super) fn zone(&mut self, node: &Node) -> Option<Tz> {
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

    pub(super) fn zones(&mut self, node: &Node) -> Option<Vec<Tz>> {
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

    pub(super) fn duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
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
            Err(why) => {
                self.diags.push(
                    Diagnostic::error(
                        node.pos,
                        format!("`{}` is not a duration: {why}", text.trim()),
                    )
                    .with_hint("use forms such as 1h, 90m or 1h 30m"),
                );
                None
            }
        }
    }

    pub(super) fn debate_duration(&mut self, node: &Node) -> Option<Duration> {
        let d = self.duration(node, "duration")?;
        if d < Duration::minutes(1) || d > MAX_DURATION {
            self.error(
                node.pos,
                format!(
                    "duration `{}` is out of range: a debate lasts from 1 minute to 24 hours",
                    written(node, d)
                ),
            );
            return None;
        }
        Some(d)
    }

    /// `last_call`: how long before each next question (and the closing)
    /// the room is told time is nearly up; `off` (or `false`) for none, so
    /// that one debate can opt out of a top-level default. `Some(None)` is
    /// off, `None` broken.
    pub(super) fn last_call(&mut self, node: &Node) -> Option<Option<Duration>> {
        match &node.value {
            Value::Bool(false) => return Some(None),
            Value::Str(s) if s.trim() == "off" => return Some(None),
            _ => {}
        }
        let d = self.duration(node, "last call")?;
        if d <= Duration::zero() {
            self.diags.push(
                Diagnostic::error(
                    node.pos,
                    format!("last call `{}` is no time at all", written(node, d)),
                )
                .with_hint("give how long before each next question it comes, such as `2m`, or `off` for none"),
            );
            return None;
        }
        Some(Some(d))
    }

    pub(super) fn remind(&mut self, node: &Node) -> Option<Vec<Duration>> {
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

    pub(super) fn rooms(&mut self, node: &Node) -> Option<Vec<Room>> {
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

    pub(super) fn organisers(&mut self, node: &Node) -> Option<Vec<String>> {
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

/// A duration as the organiser wrote it (`24h 1s`, not a reformatting of
/// it), for messages that echo it.
pub(super) fn written(node: &Node, d: Duration) -> String {
    match &node.value {
        Value::Str(s) => s.trim().to_owned(),
        _ => format_duration(d),
    }
}
