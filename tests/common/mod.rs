//! Helpers shared by the CLI tests: a schedule file in a temporary
//! directory and a `podium` command with a fixed "now".
#![allow(dead_code)]

use std::path::PathBuf;

use assert_cmd::Command;

/// The instant the tests pretend it is, so results never depend on the day.
pub const NOW: &str = "2026-11-27T12:00:00Z";

pub struct Schedule {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

/// Writes `yaml` to `debates.yaml` in a fresh temporary directory.
pub fn schedule(yaml: &str) -> Schedule {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("debates.yaml");
    std::fs::write(&path, yaml).expect("write schedule");
    Schedule { _dir: dir, path }
}

/// `podium --now NOW ARGS...`, with a generous hang guard.
pub fn podium(args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("podium").expect("binary built");
    cmd.arg("--now").arg(NOW).args(args);
    cmd.env_remove("PODIUM_SCHEDULE");
    cmd.timeout(std::time::Duration::from_secs(60));
    cmd
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(args: &[&str]) -> Output {
    let out = podium(args).output().expect("podium runs");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `podium check` on `yaml`; the file is named `debates.yaml` in messages
/// because the command runs in its directory.
pub fn check(yaml: &str) -> Output {
    let s = schedule(yaml);
    let dir = s.path.parent().expect("dir").to_owned();
    let out = podium(&["check"])
        .current_dir(&dir)
        .output()
        .expect("podium runs");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The `LINE:COLUMN: error: MESSAGE` lines of stderr, without the file name.
pub fn errors(out: &Output) -> Vec<String> {
    out.stderr
        .lines()
        .filter(|l| l.contains(": error: "))
        .map(|l| l.trim_start_matches("debates.yaml:").to_owned())
        .collect()
}
