//! Driving the `podium` binary: one command builder isolated from the
//! caller's environment, one [`Output`], schedule files in temporary
//! directories, and `podium check` with its located errors.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::WAIT;

/// The instant the tests pretend it is (`--now`), so results never depend
/// on the day.
pub const NOW: &str = "2026-11-27T12:00:00Z";

/// `podium`, isolated from the caller's environment: none of the caller's
/// `PODIUM_*` variables, nor `RUST_LOG`, reach the child. Nothing else is
/// added: say `--now` or `--data-dir` explicitly, or start from
/// [`podium_now`] or [`podium_in`].
pub fn podium() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_podium"));
    for (key, _) in std::env::vars_os() {
        if key.as_encoded_bytes().starts_with(b"PODIUM_") {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("RUST_LOG");
    cmd
}

/// `podium --now NOW`.
pub fn podium_now() -> Command {
    let mut cmd = podium();
    cmd.arg("--now").arg(NOW);
    cmd
}

/// `podium --data-dir DATA`.
pub fn podium_in(data: &Path) -> Command {
    let mut cmd = podium();
    cmd.arg("--data-dir").arg(data);
    cmd
}

/// What a finished command left: its exit code (`None` if a signal ended
/// it) and its output as text.
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` to completion; it is killed, and the test fails, after
/// [`WAIT`].
pub fn output(cmd: Command) -> Output {
    let out = assert_cmd::Command::from_std(cmd)
        .timeout(WAIT)
        .output()
        .expect("podium runs");
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `podium --now NOW ARGS...`, run to completion.
pub fn run(args: &[&str]) -> Output {
    let mut cmd = podium_now();
    cmd.args(args);
    output(cmd)
}

/// `podium --data-dir DATA ARGS...`, run to completion.
pub fn run_in(data: &Path, args: &[&str]) -> Output {
    let mut cmd = podium_in(data);
    cmd.args(args);
    output(cmd)
}

/// A schedule file and a data directory in a fresh temporary directory.
pub struct Setup {
    pub dir: tempfile::TempDir,
    /// `DIR/debates.yaml`, holding the YAML given to [`setup`].
    pub schedule: PathBuf,
    /// `DIR/data`, not created: the commands that need it create it.
    pub data: PathBuf,
}

/// Writes `yaml` to `debates.yaml` in a fresh temporary directory.
pub fn setup(yaml: &str) -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let schedule = dir.path().join("debates.yaml");
    std::fs::write(&schedule, yaml).expect("write schedule");
    let data = dir.path().join("data");
    Setup {
        dir,
        schedule,
        data,
    }
}

/// `podium --now NOW check` on `yaml`; the file is named `debates.yaml` in
/// messages because the command runs in its directory.
pub fn check(yaml: &str) -> Output {
    let s = setup(yaml);
    let mut cmd = podium_now();
    cmd.arg("check").current_dir(s.dir.path());
    output(cmd)
}

/// The `LINE:COLUMN: error: MESSAGE` lines of stderr, without the file name.
pub fn errors(out: &Output) -> Vec<String> {
    out.stderr
        .lines()
        .filter(|l| l.contains(": error: "))
        .map(|l| l.trim_start_matches("debates.yaml:").to_owned())
        .collect()
}
