//! Reading `podium.toml` into located values: TOML parsed with spans (the
//! `toml` crate's `DeTable`), then walked here so that every unknown key,
//! misplaced section or wrong type is reported at its line and column,
//! all of them in one run.

use std::collections::HashMap;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::keys::{self, Kind, SECTIONS};
use crate::schedule::file::read_limited;

/// A podium.toml is a few hundred bytes; a megabyte is no configuration.
const MAX_BYTES: u64 = 1024 * 1024;
use super::{ConfigError, Origin};

#[derive(Clone, Debug)]
pub enum Scalar {
    Text(String),
    Bool(bool),
}

#[derive(Clone, Debug)]
pub struct FileValue {
    pub value: Scalar,
    pub origin: Origin,
}

/// The file's values by key path (`matrix.user`; `matrix.password_file`
/// for a secret kept in another file).
pub fn read(path: &Path) -> Result<HashMap<String, FileValue>, Vec<ConfigError>> {
    let cannot = |e: &dyn std::fmt::Display| {
        vec![ConfigError::new(
            Origin::Default,
            format!("cannot read the configuration file {}: {e}", path.display()),
        )]
    };
    let bytes = read_limited(path, MAX_BYTES, "a configuration file").map_err(|e| cannot(&e))?;
    let text = String::from_utf8(bytes).map_err(|_| cannot(&"it is not UTF-8 text"))?;
    let at = |offset: usize| {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before
            .rsplit_once('\n')
            .map_or(before, |(_, l)| l)
            .chars()
            .count()
            + 1;
        Origin::File {
            path: path.to_owned(),
            line,
            column,
        }
    };
    let table = DeTable::parse(&text).map_err(|e| {
        vec![ConfigError::new(
            at(e.span().map_or(0, |s| s.start)),
            format!("invalid TOML: {}", e.message().trim()),
        )]
    })?;
    let mut walk = Walk {
        at: &at,
        values: HashMap::new(),
        errors: Vec::new(),
    };
    for (k, v) in table.get_ref() {
        let name: &str = k.get_ref();
        match (v.get_ref(), SECTIONS.contains(&name)) {
            (DeValue::Table(t), true) => {
                for (k2, v2) in t {
                    walk.entry(Some(name), k2, v2);
                }
            }
            (DeValue::Table(_), false) => {
                let mut e =
                    ConfigError::new(at(k.span().start), format!("unknown section [{name}]"));
                if let Some(n) = keys::nearest(name, SECTIONS.iter().copied()) {
                    e = e.hint(format!("did you mean [{n}]?"));
                } else {
                    e = e.hint(format!("the sections are [{}]", SECTIONS.join("], [")));
                }
                walk.errors.push(e);
            }
            (_, true) => walk.errors.push(ConfigError::new(
                at(k.span().start),
                format!("`{name}` is a section: write its keys under [{name}]"),
            )),
            (_, false) => walk.entry(None, k, v),
        }
    }
    if walk.errors.is_empty() {
        Ok(walk.values)
    } else {
        // In file order, whatever order the table keeps its keys in.
        walk.errors.sort_by_key(|e| match &e.origin {
            Origin::File { line, column, .. } => (*line, *column),
            _ => (0, 0),
        });
        Err(walk.errors)
    }
}

struct Walk<'a> {
    at: &'a dyn Fn(usize) -> Origin,
    values: HashMap<String, FileValue>,
    errors: Vec<ConfigError>,
}

impl Walk<'_> {
    fn entry(
        &mut self,
        section: Option<&str>,
        k: &Spanned<std::borrow::Cow<'_, str>>,
        v: &Spanned<DeValue<'_>>,
    ) {
        let name: &str = k.get_ref();
        let path = section.map_or_else(|| name.to_owned(), |s| format!("{s}.{name}"));
        let origin = (self.at)(v.span().start);
        let kind = match keys::find(section, name) {
            Some(key) => key.kind,
            // A secret read from another file: `password_file = "/run/..."`.
            None if name
                .strip_suffix("_file")
                .and_then(|n| keys::find(section, n))
                .is_some_and(|key| key.kind.is_secret()) =>
            {
                Kind::Path
            }
            None => {
                let known = keys::KEYS
                    .iter()
                    .filter(|key| key.section == section)
                    .map(|key| key.name);
                let place =
                    section.map_or_else(|| "at the top level".to_owned(), |s| format!("in [{s}]"));
                let mut e = ConfigError::new(
                    (self.at)(k.span().start),
                    format!("unknown key `{name}` {place}"),
                );
                let candidates: Vec<&str> = if section.is_none() {
                    known.chain(SECTIONS.iter().copied()).collect()
                } else {
                    known.collect()
                };
                if let Some(n) = keys::nearest(name, candidates.iter().copied()) {
                    e = e.hint(format!("did you mean `{n}`?"));
                } else if section.is_none()
                    && let Some(key) = keys::KEYS.iter().find(|key| key.name == name)
                {
                    e = e.hint(format!(
                        "`{name}` belongs in [{}]",
                        key.section.unwrap_or("")
                    ));
                }
                self.errors.push(e);
                return;
            }
        };
        let value = match (v.get_ref(), kind.is_bool()) {
            (DeValue::Boolean(b), true) => Scalar::Bool(*b),
            (DeValue::String(s), false) => Scalar::Text(s.to_string()),
            // `send_burst = 4`: a count may be written as a number.
            (DeValue::Integer(i), false) if kind == Kind::Count => Scalar::Text(i.to_string()),
            (other, _) => {
                self.errors.push(ConfigError::new(
                    origin,
                    format!(
                        "`{path}` must be {}, not {}",
                        if kind.is_bool() {
                            "true or false"
                        } else if kind == Kind::Count {
                            "a whole number"
                        } else {
                            "text in quotes"
                        },
                        describe(other)
                    ),
                ));
                return;
            }
        };
        self.values.insert(path, FileValue { value, origin });
    }
}

fn describe(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "text",
        DeValue::Integer(_) => "a number",
        DeValue::Float(_) => "a number",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}
