//! Loading what a command needs, printing what is wrong with it: the
//! schedule (located diagnostics, exit 2) and the configuration (located
//! errors, exit 78).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use super::{EXIT_CONFIG, EXIT_FAILURE, EXIT_INVALID};
use crate::config::{Config, ConfigError};
use crate::schedule::{self, Diagnostics, LoadError, Schedule, Severity};

/// Diagnostics printed at most, per run.
const MAX_SHOWN: usize = 100;

/// Loads the schedule, printing diagnostics to stderr. `Err(code)` when the
/// command cannot go on.
pub fn load(file: &Path, now: DateTime<Utc>, show: &[Severity]) -> Result<Schedule, ExitCode> {
    let name = file.display().to_string();
    let print = |diags: &Diagnostics| {
        let mut err = std::io::BufWriter::new(std::io::stderr().lock());
        let shown: Vec<_> = diags
            .0
            .iter()
            .filter(|d| show.contains(&d.severity))
            .collect();
        // A broken generated file can hold a million errors; the first
        // hundred say what is wrong.
        for d in shown.iter().take(MAX_SHOWN) {
            let _ = writeln!(err, "{}", d.render(&name));
        }
        if shown.len() > MAX_SHOWN {
            let _ = writeln!(err, "{name}: ... and {} more", shown.len() - MAX_SHOWN);
        }
    };
    match schedule::load(file, now) {
        Ok((schedule, diags)) => {
            print(&diags);
            Ok(schedule)
        }
        Err(LoadError::Invalid { diagnostics, .. }) => {
            print(&diagnostics);
            let errors = diagnostics.errors().count();
            eprintln!(
                "{name}: {errors} error{} found",
                if errors == 1 { "" } else { "s" }
            );
            Err(ExitCode::from(EXIT_INVALID))
        }
        Err(e @ LoadError::Read { .. }) => {
            eprintln!("podium: {e}");
            Err(ExitCode::from(EXIT_FAILURE))
        }
    }
}

/// Prints configuration errors as `podium check` prints schedule errors;
/// the exit status is 78 (EX_CONFIG).
pub fn config_failed(errors: &[ConfigError]) -> ExitCode {
    let mut err = std::io::stderr().lock();
    for e in errors.iter().take(MAX_SHOWN) {
        let _ = writeln!(err, "{e}");
    }
    let n = errors.len();
    let _ = writeln!(
        err,
        "podium: {n} configuration error{} found",
        if n == 1 { "" } else { "s" }
    );
    ExitCode::from(EXIT_CONFIG)
}

/// The configuration, or its errors printed and the exit status.
pub fn config(
    file: Option<&Path>,
    overrides: &crate::config::Overrides,
) -> Result<Config, ExitCode> {
    Config::from_env(file, overrides).map_err(|e| config_failed(&e))
}
