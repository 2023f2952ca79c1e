//! `podium rehearse` as a child process, driven through its terminal as a
//! person would (tests/crash.rs, tests/rehearse.rs, tests/hostile.rs), and
//! the helpers that read its console output, kept in one place so every
//! test reads the output the same way and fails with the same kind of
//! report.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::WAIT;
use super::cli::podium_in;

/// A running `podium rehearse`: its stdout lines arrive over a channel from
/// a reader thread, so no read can block the test.
pub struct Rehearsal {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<(Instant, String)>,
    /// Every stdout line so far, with when it arrived (for failure reports).
    seen: Vec<(Instant, String)>,
    started: Instant,
    stderr: PathBuf,
    eof: bool,
}

impl Rehearsal {
    /// Runs `podium rehearse ARGS --file SCHEDULE`. Stderr goes to a file
    /// rather than a pipe so that nobody has to keep reading it for the
    /// process to make progress.
    pub fn start(data: &Path, schedule: &Path, args: &[&str], stderr: PathBuf) -> Self {
        Self::start_with_env(data, schedule, args, stderr, &[])
    }

    /// As [`Rehearsal::start`], with these environment variables set.
    pub fn start_with_env(
        data: &Path,
        schedule: &Path,
        args: &[&str],
        stderr: PathBuf,
        env: &[(&str, &str)],
    ) -> Self {
        let mut cmd = podium_in(data);
        cmd.envs(env.iter().copied())
            .arg("rehearse")
            .args(args)
            .arg("--file")
            .arg(schedule);
        Self::spawn(cmd, stderr)
    }

    /// Runs `cmd` (a `podium rehearse` however started: under another
    /// umask, say) with its terminal driven by the test.
    pub fn spawn(mut cmd: std::process::Command, stderr: PathBuf) -> Self {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("podium rehearse starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        Rehearsal {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
            started: Instant::now(),
            stderr,
            eof: false,
        }
    }

    /// The output so far, for failure messages.
    pub fn dump(&self) -> String {
        let mut s = String::from("--- stdout of this run (seconds since start) ---\n");
        for (at, line) in &self.seen {
            let t = at.duration_since(self.started).as_secs_f64();
            s.push_str(&format!("{t:7.3} {line}\n"));
        }
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        s.push_str("--- stderr of this run ---\n");
        s.push_str(&stderr);
        s
    }

    /// The next stdout line, or `None` once the output has ended; fails the
    /// test if nothing comes by `deadline`, so a hung process cannot hang
    /// the test.
    pub fn recv(&mut self, deadline: Instant, what: &str) -> Option<String> {
        if self.eof {
            return None;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok((at, line)) => {
                self.seen.push((at, line.clone()));
                Some(line)
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.eof = true;
                None
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!(
                    "timed out after {WAIT:?} waiting for {what}\n{}",
                    self.dump()
                )
            }
        }
    }

    /// [`recv`](Self::recv) with a fresh `WAIT` for this one line.
    pub fn next_line(&mut self, what: &str) -> Option<String> {
        self.recv(Instant::now() + WAIT, what)
    }

    /// Waits for a line matching `pred`, looking first at the lines already
    /// seen (acknowledgements and posts may arrive in either order).
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        if let Some((_, line)) = self.seen.iter().find(|(_, l)| pred(l)) {
            return line.clone();
        }
        let deadline = Instant::now() + WAIT;
        loop {
            match self.recv(deadline, what) {
                Some(line) if pred(&line) => return line,
                Some(_) => {}
                None => panic!("the output ended before {what}\n{}", self.dump()),
            }
        }
    }

    fn write_line(&mut self, line: &str) -> io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "stdin already closed"))?;
        writeln!(stdin, "{line}")?;
        stdin.flush()
    }

    /// Types one line; the test fails if the process no longer reads.
    pub fn send(&mut self, line: &str) {
        if let Err(e) = self.write_line(line) {
            panic!("cannot type {line:?}: {e}\n{}", self.dump());
        }
    }

    /// Types one line; false if the process no longer reads, which is
    /// expected when it may have just been killed.
    pub fn try_send(&mut self, line: &str) -> bool {
        self.write_line(line).is_ok()
    }

    /// Types raw bytes (which need not be UTF-8); false if the process no
    /// longer reads.
    pub fn try_send_bytes(&mut self, bytes: &[u8]) -> bool {
        let Some(stdin) = self.stdin.as_mut() else {
            return false;
        };
        stdin.write_all(bytes).and_then(|()| stdin.flush()).is_ok()
    }

    /// Closing stdin is how the person at the terminal says they are done
    /// (Ctrl-D).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// SIGTERM, as `docker stop` or systemd sends it.
    pub fn terminate(&mut self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
    }

    /// SIGKILL, so the process gets no chance to tidy up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stdin = None;
    }

    /// Waits up to `within` for the process to exit; `None` if it did not.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Reads the output left once the process is gone, returning the lines
    /// not read before.
    pub fn drain(&mut self) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut rest = Vec::new();
        while let Some(line) = self.recv(deadline, "the end of the output") {
            rest.push(line);
        }
        rest
    }

    /// Closes stdin and expects a clean exit; returns the lines not read
    /// before.
    pub fn finish(&mut self) -> Vec<String> {
        self.close_stdin();
        match self.wait_exit(WAIT) {
            Some(status) if status.success() => self.drain(),
            Some(status) => {
                self.drain();
                panic!("podium rehearse exited with {status}\n{}", self.dump());
            }
            None => panic!(
                "podium rehearse did not exit within {WAIT:?} after its stdin closed\n{}",
                self.dump()
            ),
        }
    }

    /// Every stdout line so far, read or not by the test.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.seen.iter().map(|(_, l)| l.as_str())
    }
}

/// A test that fails or panics must not leave a rehearsal running.
impl Drop for Rehearsal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The "Fire drill" schedule the rehearsal tests share: one debate, `drill`,
/// starting 2030-01-01 20:00 London, with a 10-minute reminder, lasting
/// `duration` (`40m`) with `questions` (a YAML list).
pub fn drill(duration: &str, questions: &str) -> String {
    format!(
        r##"timezone: Europe/London
rooms: ["#d:example.org"]
debates:
  - id: drill
    title: Fire drill
    starts: 2030-01-01 20:00
    duration: {duration}
    remind: [10m]
    questions: {questions}
"##
    )
}

/// The body of a post line, `[HH:MM] podium: BODY`.
pub fn post_body(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('[')?;
    let (_, body) = rest.split_once("] podium: ")?;
    Some(body)
}

/// `Q<n>` when the body is a question (`Q<n>: text`).
pub fn question_number(body: &str) -> Option<u32> {
    let (q, _) = body.strip_prefix('Q')?.split_once(':')?;
    q.parse().ok()
}

pub fn is_intro(body: &str) -> bool {
    body.starts_with("“Fire drill” starts now: ")
}
pub fn is_closing(body: &str) -> bool {
    body.starts_with("That is the end of “Fire drill”")
}
pub fn is_link(body: &str) -> bool {
    body.starts_with("The transcript of “Fire drill” is at ")
}
pub fn is_reminder(body: &str) -> bool {
    body.starts_with("Reminder: “Fire drill”")
}

/// What a typed line gets instead of `✓ saved` when nothing is being
/// collected (before the intro, say), so the person knows it was dropped.
pub fn not_collected(line: &str) -> bool {
    line.trim_start().starts_with("(not collected: ")
}

/// The date of the `(or: podium transcript DEBATE --date D ...)` hint.
pub fn hinted_date(hint: &str) -> String {
    let (_, rest) = hint
        .split_once("--date ")
        .unwrap_or_else(|| panic!("no --date in {hint:?}"));
    rest.split_whitespace()
        .next()
        .unwrap_or_else(|| panic!("no date after --date in {hint:?}"))
        .to_owned()
}

/// The `drill` transcript as JSON; without a date, `podium transcript`
/// picks the most recent occurrence itself.
pub fn transcript_json(data: &Path, date: Option<&str>) -> Value {
    transcript_json_with_env(data, date, &[])
}

/// As [`transcript_json`], with these environment variables set (the
/// database's URL, say).
pub fn transcript_json_with_env(data: &Path, date: Option<&str>, env: &[(&str, &str)]) -> Value {
    let mut args = vec!["transcript", "drill", "--format", "json"];
    if let Some(d) = date {
        args.extend(["--date", d]);
    }
    let mut cmd = super::cli::podium_in(data);
    cmd.envs(env.iter().copied()).args(&args);
    let out = super::cli::output(cmd);
    assert_eq!(
        out.code,
        Some(0),
        "podium transcript {args:?} failed\nstdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("transcript is not JSON ({e}):\n{}", out.stdout))
}
