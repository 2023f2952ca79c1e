//! The one test harness, shared by every test binary (and the `replies`
//! benchmark, which includes it by path):
//!
//! - [`cli`]: the `podium` binary as a one-shot command: one builder with a
//!   clean environment, one [`cli::Output`], schedule files in temporary
//!   directories, `check` and its located errors;
//! - [`rehearsal`]: `podium rehearse` as a child process driven line by line
//!   through its terminal, and the helpers that read its console output;
//! - [`browser`]: headless Chromium, driven over WebDriver;
//! - [`bot`]: the engine over the in-memory chat network, with a schedule
//!   and a clock of the test's choosing;
//! - [`store`]: stores and stored rows the store and engine tests start from;
//! - [`cpu`]: CPU time from `/proc`, for the benchmarks;
//! - [`postgres`]: a real PostgreSQL server per test binary
//!   (`scripts/postgres-up.sh`), and a fresh database on it per test.
//!
//! Each test binary uses part of it, hence `dead_code` is allowed here.
#![allow(dead_code)]

pub mod bot;
pub mod browser;
pub mod cli;
pub mod cpu;
pub mod postgres;
pub mod rehearsal;
pub mod store;

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The longest any single wait on a child process may take before the test
/// fails (a hang guard, never a measure of speed).
pub const WAIT: Duration = Duration::from_secs(60);

/// An RFC 3339 instant, such as `2011-11-01T20:00:00Z`.
pub fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The median and the largest of a sample (NaN for none), for the
/// benchmarks' reports.
pub fn median_worst(v: &[f64]) -> (f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let Some(&worst) = s.last() else {
        return (f64::NAN, f64::NAN);
    };
    let mid = s.len() / 2;
    let median = if s.len().is_multiple_of(2) {
        f64::midpoint(s[mid - 1], s[mid])
    } else {
        s[mid]
    };
    (median, worst)
}
