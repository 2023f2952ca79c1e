//! The crash test: a rehearsal is killed with SIGKILL at many points (just
//! after it starts, after a post, right after a question, right after a
//! reply was typed but before it was acknowledged...) and started again
//! with the same command each time, until a run finishes by itself.
//!
//! Afterwards: the console room's log shows every post exactly once, the
//! terminal never showed a question twice, and every reply that was
//! acknowledged as saved is in the transcript exactly once, under the
//! question it was tagged for.
//!
//! Every wait has a timeout after which the test fails with the output so
//! far; nothing asserts on elapsed time, only on what was printed and stored.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use support::WAIT;
use support::cli::setup;
use support::rehearsal::{
    Rehearsal, drill, hinted_date, is_closing, is_intro, is_link, is_reminder, not_collected,
    post_body, question_number, transcript_json_with_env,
};

/// A 10-minute reminder and four questions 10 minutes apart: at 200× speed
/// the whole drill takes about 15 seconds, and a restart (well under a
/// second) stays far inside the 15-minute late-post grace window (4.5 s).
fn the_drill() -> String {
    drill("40m", "[First?, Second?, Third?, Fourth?]")
}
const QUESTIONS: [&str; 4] = ["First?", "Second?", "Third?", "Fourth?"];
const SPEED: &str = "200";

/// A debate that is over half a second after it starts.
const QUICK: &str = r##"timezone: Europe/London
rooms: ["#d:example.org"]
debates:
  - id: drill
    title: Fire drill
    starts: 2030-01-01 20:00
    duration: 4m
    remind: [1m]
    questions: [Only?]
"##;

/// `  ✓ saved: NAME → Q<n>`: (NAME, Some(n)); `→ before Q1`: (NAME, None).
fn ack(line: &str) -> Option<(&str, Option<u32>)> {
    let rest = line.trim_start().strip_prefix("✓ saved: ")?;
    let (name, target) = rest.split_once(" → ")?;
    let q = target.strip_prefix('Q').and_then(|n| n.parse().ok());
    Some((name, q))
}

/// Every `*.log` file under `DATA/rehearsals`, as (file name, lines).
fn console_logs(data: &Path) -> Vec<(String, Vec<String>)> {
    let dir = data.join("rehearsals");
    let mut logs: Vec<(String, Vec<String>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read console log");
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, text.lines().map(str::to_owned).collect())
        })
        .collect();
    logs.sort();
    logs
}

/// When a run is killed: once `trigger` happens in it, after `delay_ms`.
#[derive(Clone, Copy, Debug)]
enum Trigger {
    /// The first line (`Starting...`/`Resuming...`), just after a reply was
    /// typed in answer to it.
    FirstLine,
    /// The next post of any kind.
    Post,
    /// The next question, just after a reply was typed in answer to it.
    Question,
    /// The next acknowledgement (`✓ saved` or `not collected`).
    Ack,
    /// The run's n-th stdout line.
    NthLine(usize),
}

/// One kill per run, in order: once `.0` happens, wait `.1` ms, kill, stay
/// down `.2` ms and start again. When they are used up, the run goes on to
/// the end. Posts from the closing on are never a trigger here: killing
/// around the end has its own test below. The timeline, at 200×: reminder
/// at 0 s, intro and Q1 at 3 s, Q2 at 6 s, Q3 at 9 s, Q4 at 12 s, closing
/// at 15 s; a restart takes a small fraction of a second.
const KILLS: &[(Trigger, u64, u64)] = &[
    (Trigger::FirstLine, 0, 0),
    (Trigger::FirstLine, 30, 0),
    (Trigger::FirstLine, 5, 0),
    (Trigger::Post, 0, 0),
    (Trigger::Question, 0, 0),
    (Trigger::Ack, 0, 0),
    (Trigger::NthLine(2), 0, 0),
    (Trigger::FirstLine, 150, 0),
    (Trigger::Question, 30, 0),
    (Trigger::Ack, 30, 0),
    // Down while the next question falls due: it is posted late (within
    // the 15-minute grace, which is 4.5 s here), once.
    (Trigger::FirstLine, 2500, 1000),
    (Trigger::NthLine(3), 0, 0),
    (Trigger::Question, 400, 0),
    (Trigger::FirstLine, 0, 0),
    (Trigger::Ack, 0, 0),
];

struct Reply {
    name: String,
    question: u32,
    body: String,
}

#[derive(Default)]
struct Record {
    replies: Vec<Reply>,
    /// Name → question number of each `✓ saved` acknowledgement.
    acked: BTreeMap<String, Option<u32>>,
    not_collected: usize,
    /// Highest question number seen on the terminal so far.
    latest: u32,
    /// Every stdout line of every run.
    stdout: Vec<String>,
}

impl Record {
    /// Types `p<k>: A<q>: reply <k>` with q the latest question seen (at least 1).
    fn reply(&mut self, run: &mut Rehearsal) {
        let k = self.replies.len() + 1;
        let q = self.latest.max(1);
        let reply = Reply {
            name: format!("p{k}"),
            question: q,
            body: format!("A{q}: reply {k}"),
        };
        // A reply the process did not read is simply never acknowledged.
        let _ = run.try_send(&format!("{}: {}", reply.name, reply.body));
        self.replies.push(reply);
    }

    /// Notes what a line says; returns the question number if it is one.
    fn note(&mut self, line: &str, dump: &dyn Fn() -> String) -> Option<u32> {
        self.stdout.push(line.to_owned());
        if let Some((name, q)) = ack(line) {
            let previous = self.acked.insert(name.to_owned(), q);
            assert!(
                previous.is_none(),
                "{name} was acknowledged twice: {line:?}\n{}",
                dump()
            );
        }
        if not_collected(line) {
            self.not_collected += 1;
        }
        let q = post_body(line).and_then(question_number)?;
        self.latest = self.latest.max(q);
        Some(q)
    }
}

#[test]
fn killed_and_restarted_many_times_nothing_is_doubled_or_lost() {
    killed_and_restarted(&[]);
}

/// The same on PostgreSQL: the store is there, the data directory keeps
/// only the console logs.
#[test]
fn killed_and_restarted_many_times_on_postgres_nothing_is_doubled_or_lost() {
    let url = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(support::postgres::database());
    killed_and_restarted(&[("PODIUM_DATABASE_URL", &url)]);
}

fn killed_and_restarted(env: &[(&str, &str)]) {
    let s = setup(&the_drill());
    let data = &s.data;
    let mut rec = Record::default();
    let mut kills: Vec<String> = Vec::new();
    let mut runs = 0usize;
    let hint = loop {
        assert!(
            runs <= KILLS.len(),
            "still no finished run after {runs} starts"
        );
        let stderr = s.dir.path().join(format!("run{runs}.stderr"));
        let args = ["drill", "--speed", SPEED];
        let mut run = Rehearsal::start_with_env(data, &s.schedule, &args, stderr, env);
        let plan = KILLS.get(runs).copied();
        runs += 1;

        let first = run
            .next_line("the first line")
            .unwrap_or_else(|| panic!("run {runs} printed nothing\n{}", run.dump()));
        let expected = if runs == 1 {
            "Starting a rehearsal of “Fire drill”"
        } else {
            "Resuming the rehearsal of “Fire drill”"
        };
        assert!(
            first.starts_with(expected),
            "run {runs} (after {} kills: {kills:?}) began with {first:?}, not {expected:?}\n{}",
            kills.len(),
            run.dump()
        );
        rec.note(&first, &|| run.dump());
        rec.reply(&mut run);

        let mut fire = matches!(plan, Some((Trigger::FirstLine, ..)));
        let mut lines = 1usize;
        let mut hint = None;
        while !fire {
            let Some(line) = run.next_line("the next line") else {
                break;
            };
            lines += 1;
            let q = rec.note(&line, &|| run.dump());
            if q.is_some() {
                rec.reply(&mut run);
            }
            if line.starts_with("(or: podium transcript ") {
                hint = Some(line);
                break;
            }
            let body = post_body(&line);
            let near_the_end = body.is_some_and(|b| is_closing(b) || is_link(b))
                || line.starts_with("Transcript: ");
            fire = !near_the_end
                && match plan {
                    Some((Trigger::Post, ..)) => body.is_some(),
                    Some((Trigger::Question, ..)) => q.is_some(),
                    Some((Trigger::Ack, ..)) => ack(&line).is_some() || not_collected(&line),
                    Some((Trigger::NthLine(n), ..)) => lines >= n,
                    Some((Trigger::FirstLine, ..)) | None => false,
                };
        }

        if fire {
            let (trigger, delay, down) = plan.expect("a kill was planned");
            std::thread::sleep(Duration::from_millis(delay));
            run.kill();
            let last = run.lines().last().unwrap_or_default().to_owned();
            for line in run.drain() {
                rec.note(&line, &|| run.dump());
            }
            kills.push(format!(
                "{trigger:?}+{delay}ms, down {down}ms (at line {lines}: {last:?})"
            ));
            std::thread::sleep(Duration::from_millis(down));
            continue;
        }

        // The run went to the end by itself. (Exiting while stdin stays
        // open is checked in tests/rehearse.rs; here stdin is closed.)
        let Some(hint) = hint else {
            let status = run.wait_exit(WAIT);
            panic!(
                "run {runs} ended ({status:?}) without printing the transcript hint\n{}",
                run.dump()
            );
        };
        for line in run.finish() {
            rec.note(&line, &|| run.dump());
        }
        assert!(
            run.lines().any(|l| l.starts_with("Transcript: ")),
            "the last run did not print where the transcript is\n{}",
            run.dump()
        );
        break hint;
    };

    let acked = rec.acked.len();
    let late = rec
        .stdout
        .iter()
        .filter(|l| post_body(l).is_some_and(|b| b.contains(" (posted late: ")))
        .count();
    eprintln!(
        "crash test: {runs} runs, {} kills, {} replies typed, {acked} acknowledged as saved, \
         {} not collected, {late} posts shown late",
        kills.len(),
        rec.replies.len(),
        rec.not_collected
    );
    for k in &kills {
        eprintln!("  killed at {k}");
    }
    let all_stdout = rec.stdout.join("\n");
    assert!(
        kills.len() >= 6,
        "only {} kills happened: {kills:?}\n{all_stdout}",
        kills.len()
    );
    assert!(acked > 0, "no reply was ever acknowledged\n{all_stdout}");

    // (a) The console room's log: one rehearsal, every post exactly once.
    let logs = console_logs(data);
    assert_eq!(
        logs.len(),
        1,
        "the restarts should all continue one rehearsal (one log): {:?}",
        logs.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    let mut keys: HashMap<String, usize> = HashMap::new();
    let mut bodies: Vec<String> = Vec::new();
    for (name, lines) in &logs {
        for line in lines {
            let entry: Value = serde_json::from_str(line).unwrap_or_else(|e| {
                panic!("{name}: a line that is not one JSON object ({e}): {line:?}")
            });
            let key = entry["key"].as_str().expect("key").to_owned();
            *keys.entry(key).or_default() += 1;
            assert_eq!(entry["room"], "console:rehearsal", "{line}");
            assert!(entry["id"].is_string(), "{line}");
            bodies.push(entry["body"].as_str().expect("body").to_owned());
        }
    }
    let log_text = bodies.join("\n");
    let doubled: Vec<_> = keys.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        doubled.is_empty(),
        "keys logged twice: {doubled:?}\n{log_text}"
    );
    for n in 1..=4 {
        let count = bodies
            .iter()
            .filter(|b| question_number(b) == Some(n))
            .count();
        assert_eq!(
            count, 1,
            "Q{n} is in the console log {count} times:\n{log_text}"
        );
    }
    for (what, pred) in [
        ("intro", is_intro as fn(&str) -> bool),
        ("closing", is_closing),
        ("transcript link", is_link),
    ] {
        let count = bodies.iter().filter(|b| pred(b)).count();
        assert_eq!(
            count, 1,
            "the {what} is in the console log {count} times:\n{log_text}"
        );
    }
    let reminders = bodies.iter().filter(|b| is_reminder(b)).count();
    assert!(reminders <= 1, "{reminders} reminders:\n{log_text}");
    let bodies_of_questions: BTreeMap<u32, &str> = bodies
        .iter()
        .filter_map(|b| Some((question_number(b)?, b.as_str())))
        .collect();
    for (n, text) in (1..).zip(QUESTIONS) {
        let body = bodies_of_questions[&n];
        assert!(
            body.starts_with(&format!("Q{n}: {text}")),
            "Q{n} reads {body:?}"
        );
    }

    // (b) The terminal, across all runs, never showed a post twice, and
    // showed nothing that is not in the log.
    let shown: Vec<&str> = rec.stdout.iter().filter_map(|l| post_body(l)).collect();
    for n in 1..=4 {
        let count = shown
            .iter()
            .filter(|b| question_number(b) == Some(n))
            .count();
        assert!(count <= 1, "Q{n} was shown {count} times:\n{all_stdout}");
    }
    for (what, pred) in [
        ("intro", is_intro as fn(&str) -> bool),
        ("closing", is_closing),
        ("transcript link", is_link),
        ("reminder", is_reminder),
    ] {
        let count = shown.iter().filter(|b| pred(b)).count();
        assert!(
            count <= 1,
            "the {what} was shown {count} times:\n{all_stdout}"
        );
    }
    for body in &shown {
        assert!(
            bodies.iter().any(|b| b == body),
            "shown but not in the console log: {body:?}\n{log_text}"
        );
    }

    // (c) Every acknowledged reply is in the transcript exactly once, under
    // the question it was tagged for; nothing is there twice.
    let t = transcript_json_with_env(data, Some(&hinted_date(&hint)), env);
    assert_eq!(t["rehearsal"], true);
    let questions = t["questions"].as_array().expect("questions");
    let numbers: Vec<u64> = questions
        .iter()
        .map(|q| q["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3, 4], "{t:#}");
    let texts: Vec<&str> = questions
        .iter()
        .map(|q| q["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, QUESTIONS, "{t:#}");
    // author → [(question, body)] over the whole transcript.
    let mut stored: HashMap<String, Vec<(Option<u64>, String)>> = HashMap::new();
    let all_replies = questions
        .iter()
        .flat_map(|q| {
            let n = q["number"].as_u64();
            q["replies"]
                .as_array()
                .expect("replies")
                .iter()
                .map(move |r| (n, r))
        })
        .chain(
            t["unattributed"]
                .as_array()
                .expect("unattributed")
                .iter()
                .map(|r| (None, r)),
        );
    for (n, r) in all_replies {
        stored
            .entry(r["author"].as_str().expect("author").to_owned())
            .or_default()
            .push((n, r["body"].as_str().expect("body").to_owned()));
    }
    for (author, found) in &stored {
        assert_eq!(
            found.len(),
            1,
            "{author}'s reply is stored {} times: {found:?}",
            found.len()
        );
        assert!(
            rec.replies.iter().any(|r| r.name == *author),
            "a reply by {author} that was never typed: {found:?}"
        );
    }
    for reply in &rec.replies {
        let Some(acked_as) = rec.acked.get(&reply.name) else {
            continue;
        };
        assert_eq!(
            *acked_as,
            Some(reply.question),
            "{} typed {:?} but the ack says {acked_as:?}",
            reply.name,
            reply.body
        );
        let found = stored.get(&reply.name).unwrap_or_else(|| {
            panic!(
                "{} was acknowledged as saved but is not in the transcript: {t:#}",
                reply.name
            )
        });
        assert_eq!(
            found.as_slice(),
            [(Some(u64::from(reply.question)), reply.body.clone())],
            "{}'s reply",
            reply.name
        );
    }
}

/// Killed just after the transcript link was posted (before it printed
/// where the transcript file is), the same command must resume that
/// rehearsal and finish it, not start a new one.
#[test]
fn killed_right_after_the_transcript_link_the_same_command_resumes() {
    let s = setup(QUICK);
    let mut hits = 0;
    for attempt in 0..6 {
        let data = s.dir.path().join(format!("data{attempt}"));
        let stderr = |n: u32| s.dir.path().join(format!("attempt{attempt}-{n}.stderr"));
        let args = ["drill", "--speed", "600"];
        let mut run = Rehearsal::start(&data, &s.schedule, &args, stderr(1));
        loop {
            let line = run
                .next_line("the transcript link")
                .unwrap_or_else(|| panic!("the output ended early\n{}", run.dump()));
            if post_body(&line).is_some_and(is_link) {
                break;
            }
        }
        run.kill();
        run.drain();
        if run.lines().any(|l| l.starts_with("Transcript: ")) {
            // Killed too late to matter: the rehearsal was complete.
            continue;
        }
        hits += 1;
        let before = run.dump();
        let mut again = Rehearsal::start(&data, &s.schedule, &args, stderr(2));
        let first = again
            .next_line("the first line")
            .unwrap_or_else(|| panic!("the restart printed nothing\n{}", again.dump()));
        let logs: Vec<String> = console_logs(&data).into_iter().map(|(n, _)| n).collect();
        assert!(
            first.starts_with("Resuming the rehearsal of “Fire drill”"),
            "attempt {attempt}: killed after the transcript link was posted but before \
             `Transcript:` was printed, the same command started over instead of resuming \
             (console logs now: {logs:?}; the first rehearsal's .md transcript was never \
             written)\nkilled run:\n{before}\nrestart:\n{}",
            again.dump()
        );
        loop {
            let line = again
                .next_line("the transcript hint after resuming")
                .unwrap_or_else(|| panic!("the resumed run ended early\n{}", again.dump()));
            if line.starts_with("(or: podium transcript ") {
                break;
            }
        }
        again.finish();
        let path = again
            .lines()
            .find_map(|l| l.strip_prefix("Transcript: "))
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("no transcript path\n{}", again.dump()));
        assert!(path.exists(), "{} does not exist", path.display());
        assert_eq!(logs.len(), 1, "{logs:?}");
    }
    eprintln!("killed between the transcript link and the transcript file {hits} times of 6");
}
