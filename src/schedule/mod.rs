//! The schedule: `debates.yaml` read, validated and expanded into
//! occurrences. Pure: text in, schedule or located errors out; the only
//! clock is the `now` the caller passes.

mod checks;
mod debate;
mod defaults;
pub mod diag;
pub mod file;
mod ignore;
pub mod model;
mod questions;
mod read;
pub mod reload;
mod repeat;
mod start;
pub mod time;
pub mod validate;
pub mod yaml;
pub mod zones;

use std::path::Path;

use chrono::{DateTime, Utc};

pub use crate::domain::Room;
pub use diag::{Diagnostic, Diagnostics, Severity};
pub use model::{
    AdHocDefaults, Debate, Frequency, Occurrence, Question, Repeat, RepeatEnd, Schedule,
};
pub use yaml::Pos;

/// Parses and validates schedule text.
///
/// # Errors
/// Every error found, located, with the warnings and notes beside them.
pub fn parse(text: &str, now: DateTime<Utc>) -> Result<(Schedule, Diagnostics), Diagnostics> {
    let root = match yaml::parse(text) {
        Ok(root) => root,
        Err(e) => {
            let mut d = Diagnostics::default();
            d.error(e.pos, format!("invalid YAML: {}", e.message));
            return Err(d);
        }
    };
    match validate::validate(&root, now) {
        (Some(schedule), diags) => Ok((schedule, diags)),
        (None, diags) => Err(diags),
    }
}

/// Bytes that are not UTF-8 get a located error instead of a panic or a
/// lossy read that would hide the problem.
///
/// # Errors
/// As [`parse`], plus invalid UTF-8.
pub fn parse_bytes(
    bytes: &[u8],
    now: DateTime<Utc>,
) -> Result<(Schedule, Diagnostics), Diagnostics> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text, now),
        Err(e) => {
            // The bytes before the error are text, by definition.
            let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
            let mut d = Diagnostics::default();
            d.error(
                end_of(valid),
                "the file is not valid UTF-8 text (save it as UTF-8)",
            );
            Err(d)
        }
    }
}

/// Where `text` ends, counted as the YAML parser counts every other
/// position: a line break is CRLF, LF or a lone CR (old Mac files), so
/// this error and the others agree on which line is which.
fn end_of(text: &str) -> Pos {
    let mut line = 1usize;
    let mut line_start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = match c {
            '\r' if chars.peek().is_some_and(|(_, c)| *c == '\n') => {
                chars.next();
                i + 2
            }
            '\r' | '\n' => i + 1,
            _ => continue,
        };
        line += 1;
        line_start = end;
    }
    let column = text[line_start..].chars().count() + 1;
    Pos {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(column).unwrap_or(u32::MAX),
    }
}

/// Why a schedule file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", .diagnostics.render(.path).trim_end())]
    Invalid {
        path: String,
        diagnostics: Diagnostics,
    },
}

/// Reads and validates a schedule file.
///
/// # Errors
/// [`LoadError::Read`] if the file cannot be read or is refused unread (not
/// a regular file, over [`file::MAX_BYTES`]), [`LoadError::Invalid`] with
/// every located error otherwise.
pub fn load(path: &Path, now: DateTime<Utc>) -> Result<(Schedule, Diagnostics), LoadError> {
    let bytes = file::read(path).map_err(|source| LoadError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_bytes(&bytes, now).map_err(|diagnostics| LoadError::Invalid {
        path: path.display().to_string(),
        diagnostics,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_at(bytes: &[u8]) -> (u32, u32) {
        let now = DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
            .unwrap()
            .to_utc();
        let diags = parse_bytes(bytes, now).unwrap_err();
        (diags.0[0].pos.line, diags.0[0].pos.column)
    }

    #[test]
    fn invalid_utf8_is_located_on_the_lines_yaml_counts() {
        assert_eq!(invalid_at(b"a: 1\nb: \xff"), (2, 4));
        assert_eq!(invalid_at(b"a: 1\r\nb: \xff"), (2, 4));
        assert_eq!(invalid_at(b"\xc3\xa9\xff"), (1, 2));
        // A lone CR breaks the line for YAML, so it does here: the
        // property tests found this error one line up, past the line's end.
        assert_eq!(invalid_at(b"\r\x80"), (2, 1));
        assert_eq!(invalid_at(b"a\rb: \xff"), (2, 4));
    }
}
