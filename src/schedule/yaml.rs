//! A located YAML tree.
//!
//! Serde's derive stops at the first problem, but organisers deserve every
//! problem in their file at once. So the file is first read into this small,
//! loosely typed tree in which every node and every mapping key knows its line
//! and column; [`super::validate`] then walks it and collects all errors.
//! serde-saphyr does the parsing, including its budgets against alias bombs
//! and deep nesting.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A 1-based position in the source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    fn from_location(loc: &serde_saphyr::Location) -> Self {
        Pos {
            line: u32::try_from(loc.line()).unwrap_or(u32::MAX).max(1),
            column: u32::try_from(loc.column()).unwrap_or(u32::MAX).max(1),
        }
    }
}

/// A YAML value with its position.
#[derive(Clone, Debug)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// The shapes a node can take. Scalars keep the kind YAML resolved them to,
/// so that `count: "3"` and `count: 3` can be told apart in messages.
#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in file order; duplicates are kept so validation can report them.
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its position.
#[derive(Clone, Debug)]
pub struct Key {
    pub pos: Pos,
    pub name: String,
}

impl Value {
    /// How the value reads in an error message ("a list", "a number", ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "true/false",
            Value::Int(_) => "a number",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// The value without position; serde-saphyr wraps it in [`Spanned`].
struct Bare(Value);

struct BareVisitor;

impl<'de> Visitor<'de> for BareVisitor {
    type Value = Bare;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Bare, E> {
        Ok(Bare(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Bare, E> {
        Ok(Bare(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Bare, D::Error> {
        Bare::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Bare, E> {
        Ok(Bare(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bare, E> {
        Ok(Bare(Value::Int(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bare, E> {
        Ok(Bare(match i64::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Str(v.to_string()),
        }))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Bare, E> {
        Ok(Bare(match i64::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Str(v.to_string()),
        }))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Bare, E> {
        Ok(Bare(match i64::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Str(v.to_string()),
        }))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Bare, E> {
        Ok(Bare(Value::Float(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Bare, E> {
        Ok(Bare(Value::Str(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Bare, E> {
        Ok(Bare(Value::Str(v)))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bare, E> {
        Ok(Bare(Value::Str(String::from_utf8_lossy(v).into_owned())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bare, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Bare(Value::Seq(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Bare, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            let name = match key.value {
                Value::Str(s) => s,
                Value::Int(i) => i.to_string(),
                Value::Float(f) => f.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => "null".to_owned(),
                Value::Seq(_) | Value::Map(_) => {
                    return Err(de::Error::custom(
                        "a mapping key must be a plain word, not a list or mapping",
                    ));
                }
            };
            entries.push((Key { pos: key.pos, name }, value));
        }
        Ok(Bare(Value::Map(entries)))
    }
}

impl<'de> Deserialize<'de> for Bare {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BareVisitor)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Bare>::deserialize(d)?;
        Ok(Node {
            // `referenced` is where the value is used (an alias, say), which is
            // where an organiser looks for the problem.
            pos: Pos::from_location(&spanned.referenced),
            value: spanned.value.0,
        })
    }
}

/// Why the text could not be read as YAML at all.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// Budgets sized for schedules: far above any real debates.yaml (thousands
/// of debates), far below what would let a hostile file eat memory or time.
fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = 32;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_recorded_anchor_events = 50_000;
    budget.max_nodes = 2_000_000;
    budget.max_events = 4_000_000;
    budget.max_total_scalar_bytes = 64 * 1024 * 1024;
    budget.max_documents = 1;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.with_snippet = false;
    options.alias_limits.max_total_replayed_events = 100_000;
    // YAML 1.2 booleans only: `no:` stays a key named "no", and `yes` a string.
    options.strict_booleans = true;
    // A repeated key reaches the tree, where validation reports it as one
    // located error among all the others; the parser's own refusal would
    // end the run with nothing else said.
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    options.leading_zero_numbers_as_strings = true;
    options
}

/// Parses one YAML document into a located tree.
///
/// # Errors
/// A [`SyntaxError`] for malformed YAML, exceeded budgets (alias bombs, deep
/// nesting) or more than one document.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    if text.trim().is_empty() {
        return Ok(Node {
            pos: Pos { line: 1, column: 1 },
            value: Value::Null,
        });
    }
    serde_saphyr::from_str_with_options::<Node>(text, options()).map_err(|err| {
        let pos = err
            .location()
            .map(|l| Pos::from_location(&l))
            .unwrap_or(Pos { line: 1, column: 1 });
        SyntaxError {
            pos,
            message: clean_message(&err.to_string()),
        }
    })
}

/// serde-saphyr's messages may end with their own "at line X column Y"; we
/// print the location in front, compiler style, so drop the duplicate.
fn clean_message(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message).trim();
    if first.contains("Documents") || first.contains("multiple documents") {
        return "a schedule is one YAML document: remove the extra `---` line".to_owned();
    }
    if first.starts_with("budget breached") || first.contains("alias replay") {
        return "the file is too large or uses too many aliases (a limit that protects \
                Podium from malicious YAML was reached)"
            .to_owned();
    }
    let trimmed = match first.rfind(" at line ") {
        Some(i) => &first[..i],
        None => first,
    };
    trimmed.trim_end_matches([',', ':']).to_owned()
}
