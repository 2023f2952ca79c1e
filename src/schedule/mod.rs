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
            let valid = &bytes[..e.valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
            let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
            let column = String::from_utf8_lossy(&valid[line_start..])
                .chars()
                .count()
                + 1;
            let mut d = Diagnostics::default();
            d.error(
                Pos {
                    line: u32::try_from(line).unwrap_or(u32::MAX),
                    column: u32::try_from(column).unwrap_or(u32::MAX),
                },
                "the file is not valid UTF-8 text (save it as UTF-8)",
            );
            Err(d)
        }
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
