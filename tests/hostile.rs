//! `podium rehearse` and `podium transcript` under the conditions a hostile
//! (or merely unlucky) user creates: a rehearsal resumed long after its time
//! line passed, bytes that are not UTF-8, terminal escape sequences in
//! answers, answers to questions never asked, two processes on one data
//! directory, a read-only copy of the data.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::WAIT;
use support::cli::{Setup, run_in, setup};
use support::rehearsal::{
    Rehearsal, drill, hinted_date, is_link, post_body, question_number, transcript_json,
};

/// Twenty minutes with a 10-minute reminder: at 600× the whole time line
/// takes three seconds.
fn short() -> String {
    drill("20m", "[One?, Two?]")
}

/// Two questions an hour apart, so a test has time to type between them.
fn slow() -> String {
    drill("2h", "[One?, {text: Two?, at: 1h}]")
}

fn rehearse(s: &Setup, name: &str, args: &[&str]) -> Rehearsal {
    Rehearsal::start(
        &s.data,
        &s.schedule,
        args,
        s.dir.path().join(format!("{name}.stderr")),
    )
}

fn is_question(line: &str, n: u32) -> bool {
    post_body(line).and_then(question_number) == Some(n)
}

/// Characters a terminal acts on rather than shows.
fn has_controls(s: &str) -> bool {
    s.chars().any(|c| {
        (c.is_control() && c != '\n' && c != '\t')
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    })
}

/// Stopped after two seconds and started again once the whole time line
/// (and the grace after it) had passed, the rehearsal used to print
/// "Resuming…" and then nothing, for ever.
#[test]
fn a_rehearsal_resumed_after_its_whole_time_line_passed_finishes() {
    let s = setup(&short());
    let args = ["drill", "--speed", "600"];
    let mut first = rehearse(&s, "first", &args);
    first.wait_for("the reminder", |l| post_body(l).is_some());
    first.kill();
    // 10 minutes before, 20 during, and the 26 minutes of grace after the
    // end are 56 virtual minutes: 5.6 s at 600×. Wait well past them.
    std::thread::sleep(Duration::from_secs(8));

    let mut again = rehearse(&s, "again", &args);
    let line = again.wait_for("the first line", |_| true);
    assert!(line.starts_with("Resuming the rehearsal"), "{line}");
    let hint = again.wait_for("the transcript hint", |l| {
        l.starts_with("(or: podium transcript drill --date ")
    });
    match again.wait_exit(WAIT) {
        Some(status) => assert!(status.success(), "{status}\n{}", again.dump()),
        None => panic!("still running after the transcript\n{}", again.dump()),
    }
    again.drain();
    // Nothing was posted this late: every item was skipped, and the log
    // says so.
    assert!(
        !again.lines().any(|l| post_body(l).is_some()),
        "nothing is posted hours late\n{}",
        again.dump()
    );
    let stderr = std::fs::read_to_string(s.dir.path().join("again.stderr")).unwrap();
    assert!(stderr.contains("skipped a post"), "{stderr}");
    let t = transcript_json(&s.data, Some(&hinted_date(&hint)));
    assert_eq!(t["debate"], "drill");
}

/// Resumed a little late, what is still within the grace window is posted
/// marked late and the rehearsal finishes.
#[test]
fn a_rehearsal_resumed_just_after_its_end_posts_the_closing_late_and_finishes() {
    let s = setup(&short());
    let args = ["drill", "--speed", "600"];
    let mut first = rehearse(&s, "first", &args);
    first.wait_for("the reminder", |l| post_body(l).is_some());
    first.kill();
    // The end is 30 virtual minutes (3 s) after the start of the run; the
    // closing may go out up to 15 minutes (1.5 s) late.
    std::thread::sleep(Duration::from_millis(3500));
    let mut again = rehearse(&s, "again", &args);
    again.wait_for("the transcript hint", |l| {
        l.starts_with("(or: podium transcript drill --date ")
    });
    again.finish();
    let link = again
        .lines()
        .filter_map(post_body)
        .find(|b| is_link(b))
        .map(str::to_owned);
    assert!(
        link.is_some_and(|b| b.contains("(posted late: this was due at")),
        "the link goes out marked late\n{}",
        again.dump()
    );
}

/// Writes raw bytes to the rehearsal's stdin.
fn type_bytes(r: &mut Rehearsal, bytes: &[u8]) {
    assert!(r.try_send_bytes(bytes), "cannot type\n{}", r.dump());
}

#[test]
fn a_line_that_is_not_utf8_is_kept_and_later_lines_still_count() {
    let s = setup(&slow());
    let mut r = rehearse(&s, "r", &["drill", "--speed", "300"]);
    r.wait_for("Q1", |l| is_question(l, 1));
    type_bytes(&mut r, b"ann: A1: caf\xe9 au lait \xff\xfe\n");
    r.send("bob: A1: after the bad bytes");
    r.wait_for("ann's ack", |l| l == "  ✓ saved: ann → Q1");
    r.wait_for("bob's ack", |l| l == "  ✓ saved: bob → Q1");
    r.send("!end");
    r.wait_for("the transcript hint", |l| {
        l.starts_with("(or: podium transcript drill --date ")
    });
    r.finish();
    let t = transcript_json(&s.data, None);
    let bodies: Vec<&str> = t["questions"][0]["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            "A1: caf\u{fffd} au lait \u{fffd}\u{fffd}",
            "A1: after the bad bytes"
        ],
        "{t:#}"
    );
}

#[test]
fn escape_sequences_never_reach_a_terminal_or_a_text_transcript() {
    let s = setup(&slow());
    let mut r = rehearse(&s, "r", &["drill", "--speed", "300"]);
    r.wait_for("Q1", |l| is_question(l, 1));
    let hostile = "A1: \u{1b}]0;PWNED\u{7}\u{1b}[2J\u{1b}[31mRED \u{202e}txt.exe";
    r.send(&format!("eve: {hostile}"));
    r.wait_for("eve's ack", |l| l == "  ✓ saved: eve → Q1");
    r.send("!ask Why \u{1b}[2Jnot?");
    r.wait_for("the asked question", |l| is_question(l, 3));
    r.send("!end");
    r.wait_for("the transcript hint", |l| {
        l.starts_with("(or: podium transcript drill --date ")
    });
    r.finish();
    for line in r.lines() {
        assert!(!has_controls(line), "raw control characters in {line:?}");
    }
    let asked = r.lines().find(|l| is_question(l, 3)).unwrap();
    assert!(asked.ends_with("Q3: Why ␛[2Jnot?"), "{asked}");

    // The store keeps what was sent; JSON escapes it.
    let t = transcript_json(&s.data, None);
    assert_eq!(t["questions"][0]["replies"][0]["body"], hostile);
    for format in ["txt", "md"] {
        let out = run_in(&s.data, &["transcript", "drill", "--format", format]);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        assert!(!has_controls(&out.stdout), "{format}: {:?}", out.stdout);
        let shown = match format {
            "md" => r"␛\]0;PWNED␇␛\[2J␛\[31mRED \<U+202E\>txt.exe",
            _ => "␛]0;PWNED␇␛[2J␛[31mRED <U+202E>txt.exe",
        };
        assert!(
            out.stdout.contains(shown),
            "{format} shows the answer harmlessly: {}",
            out.stdout
        );
    }
}

/// `frank: **A2:** ...` before Q2 is posted, then `!end`: Q2 is never asked,
/// but the answer is Q2's, not one of the replies before Q1.
#[test]
fn an_answer_to_a_question_never_asked_is_listed_under_it() {
    let s = setup(&slow());
    let mut r = rehearse(&s, "r", &["drill", "--speed", "300"]);
    r.send("early bird");
    r.wait_for("Q1", |l| is_question(l, 1));
    r.send("frank: **A2:** answering ahead");
    r.wait_for("frank's ack", |l| l == "  ✓ saved: frank → Q2");
    r.send("!end");
    r.wait_for("the transcript hint", |l| {
        l.starts_with("(or: podium transcript drill --date ")
    });
    r.finish();
    assert!(!r.lines().any(|l| is_question(l, 2)), "{}", r.dump());

    let t = transcript_json(&s.data, None);
    assert_eq!(t["unattributed"], serde_json::json!([]), "{t:#}");
    let q2 = &t["questions"][1];
    assert_eq!(q2["number"], 2, "{t:#}");
    assert_eq!(q2["text"], "Two?");
    assert_eq!(q2["asked"], false);
    assert_eq!(q2["posted_at"], serde_json::Value::Null);
    assert_eq!(q2["replies"][0]["author"], "frank");
    assert_eq!(t["questions"][0]["asked"], true);

    let md = run_in(&s.data, &["transcript", "drill"]).stdout;
    assert!(
        md.contains("## Q2: Two?\n\n_Not asked during the debate_\n\n- **frank**"),
        "{md}"
    );
    assert!(!md.contains("Before the first question"), "{md}");
    let txt = run_in(&s.data, &["transcript", "drill", "--format", "txt"]).stdout;
    assert!(txt.contains("\nQ2 (not asked): Two?\n  ["), "{txt}");
}

/// `http://...` is text, not a speaker called `http`; a line typed after
/// `!end` is answered like any other.
#[test]
fn urls_are_text_and_every_line_gets_an_answer() {
    let s = setup(&slow());
    let mut r = rehearse(&s, "r", &["drill", "--speed", "300"]);
    r.wait_for("Q1", |l| is_question(l, 1));
    r.send("http://example.org has the background");
    r.wait_for("the ack", |l| l == "  ✓ saved: you → Q1");
    r.send("!end");
    r.send("one more thing");
    r.wait_for("the transcript hint", |l| {
        l.starts_with("(or: podium transcript drill --date ")
    });
    r.finish();
    let after_end: Vec<&str> = r
        .lines()
        .skip_while(|l| !l.contains("Closing “Fire drill” now."))
        .filter(|l| l.starts_with("  ✓ saved: you") || l.starts_with("  (not collected: "))
        .collect();
    assert_eq!(
        after_end.len(),
        1,
        "one answer for the late line\n{}",
        r.dump()
    );
    let t = transcript_json(&s.data, None);
    assert_eq!(
        t["questions"][0]["replies"][0]["author"], "you",
        "not a speaker named http: {t:#}"
    );
}

#[test]
fn a_second_process_on_the_same_data_dir_is_refused_and_transcript_still_reads() {
    let s = setup(&slow());
    let mut r = rehearse(&s, "r", &["drill", "--speed", "300"]);
    r.wait_for("Q1", |l| is_question(l, 1));
    r.send("ann: A1: held while another process looks");
    r.wait_for("ann's ack", |l| l == "  ✓ saved: ann → Q1");

    let started = Instant::now();
    let second = run_in(
        &s.data,
        &["rehearse", "drill", "--file", s.schedule.to_str().unwrap()],
    );
    assert_eq!(second.code, Some(1), "{}", second.stderr);
    assert!(started.elapsed() < WAIT);
    assert!(
        second
            .stderr
            .contains("is in use by another Podium (process ")
            && second.stderr.contains("rehearse drill"),
        "the error names the other process: {}",
        second.stderr
    );
    assert!(
        !second.stdout.contains("rehearsal"),
        "the second one did not start: {}",
        second.stdout
    );

    // Reading works beside the running rehearsal.
    let t = transcript_json(&s.data, None);
    assert_eq!(t["questions"][0]["replies"][0]["author"], "ann", "{t:#}");

    r.send("!end");
    r.wait_for("the transcript hint", |l| {
        l.starts_with("(or: podium transcript drill --date ")
    });
    r.finish();
    read_only_copy(&s.data, s.dir.path());
}

/// A copy of the data directory that cannot be written: by permissions,
/// and (as root, who ignores permissions) on a read-only bind mount.
fn read_only_copy(data: &Path, scratch: &Path) {
    let copy = scratch.join("copy");
    std::fs::create_dir(&copy).unwrap();
    for f in std::fs::read_dir(data).unwrap() {
        let f = f.unwrap();
        if f.file_type().unwrap().is_file() {
            std::fs::copy(f.path(), copy.join(f.file_name())).unwrap();
        }
    }
    let check = |dir: &Path, how: &str| {
        let out = run_in(dir, &["transcript", "drill", "--format", "json"]);
        assert_eq!(out.code, Some(0), "{how}: {}", out.stderr);
        let t: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(
            t["questions"][0]["replies"][0]["author"], "ann",
            "{how}: {t:#}"
        );
    };
    set_read_only(&copy, true);
    check(&copy, "read-only by permissions");
    let mount = scratch.join("ro");
    std::fs::create_dir(&mount).unwrap();
    let bound = std::process::Command::new("mount")
        .args(["--bind", "-o", "ro"])
        .arg(&copy)
        .arg(&mount)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if bound {
        // Older kernels ignore `ro` on the first bind; remount to be sure.
        let _ = std::process::Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(&mount)
            .status();
        let writable = std::fs::write(mount.join("probe"), "x").is_ok();
        if !writable {
            check(&mount, "on a read-only mount");
        }
        let _ = std::process::Command::new("umount").arg(&mount).status();
        assert!(!writable, "the bind mount is read-only");
    } else {
        eprintln!("read-only mount skipped: needs root (CI runs as root)");
    }
    set_read_only(&copy, false);
}

fn set_read_only(dir: &Path, ro: bool) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |m: u32| std::fs::Permissions::from_mode(m);
    for f in std::fs::read_dir(dir).unwrap() {
        let f = f.unwrap().path();
        std::fs::set_permissions(&f, mode(if ro { 0o444 } else { 0o644 })).unwrap();
    }
    std::fs::set_permissions(dir, mode(if ro { 0o555 } else { 0o755 })).unwrap();
}

#[test]
fn an_unusable_data_dir_is_a_clear_error_said_once() {
    let s = setup(&short());
    let file = s.dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let out = run_in(
        &file,
        &["rehearse", "drill", "--file", s.schedule.to_str().unwrap()],
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let stderr = out.stderr.trim_end();
    assert!(
        stderr.starts_with("podium: cannot create the data directory ")
            && stderr.ends_with("not-a-dir: File exists (os error 17)"),
        "{stderr}"
    );
}

/// `podium transcript --format html` prints the web page, self-contained,
/// for publishing as a static file.
#[test]
fn a_transcript_prints_as_a_static_web_page() {
    let s = setup(&short());
    let mut r = rehearse(&s, "r", &["drill", "--speed", "600"]);
    r.wait_for("Q1", |l| is_question(l, 1));
    r.send("zoe: A1: <b>not bold</b>");
    r.wait_for("the ack", |l| l == "  ✓ saved: zoe → Q1");
    r.wait_for("the transcript hint", |l| {
        l.starts_with("(or: podium transcript drill --date ")
    });
    r.finish();
    let out = run_in(&s.data, &["transcript", "drill", "--format", "html"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.starts_with("<!doctype html>"), "{}", out.stdout);
    assert!(
        out.stdout.contains("A1: &#60;b&#62;not bold&#60;/b&#62;"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("<b>not bold"), "{}", out.stdout);
    assert!(
        !out.stdout.contains("href=\"./"),
        "a static page links nowhere"
    );
    // Nor does it run anything, even made while a debate runs.
    assert!(!out.stdout.contains("<script") && !out.stdout.contains("<noscript"));
    assert!(!out.stdout.contains("data-events"));
}

/// The permission bits of `path`.
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    meta.permissions().mode() & 0o777
}

/// `podium rehearse drill ARGS` started under umask 022, the usual
/// default, which leaves new files readable by everyone.
fn rehearse_under_umask_022(s: &Setup, name: &str, args: &[&str]) -> Rehearsal {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("umask 022 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_podium"))
        .arg("--data-dir")
        .arg(&s.data)
        .args(["rehearse", "drill"])
        .args(args)
        .arg("--file")
        .arg(&s.schedule);
    for (key, _) in std::env::vars_os() {
        if key.as_encoded_bytes().starts_with(b"PODIUM_") {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("RUST_LOG");
    Rehearsal::spawn(cmd, s.dir.path().join(format!("{name}.stderr")))
}

/// The data directory holds every answer and every private transcript's
/// key. Under umask 022 it used to be 0755 and the database 0644: readable
/// by every account on the machine. Now the directory is made 0700 and
/// every file Podium keeps there 0600, whatever the umask.
#[test]
fn private_data_is_readable_by_its_owner_only_whatever_the_umask() {
    let s = setup(&short());
    let mut r = rehearse_under_umask_022(&s, "first", &["--speed", "600"]);
    r.wait_for("the reminder", |l| post_body(l).is_some());
    // While it runs: the database with its write-ahead log and index.
    let mut seen = vec![(s.data.clone(), mode(&s.data))];
    for name in ["podium.db", "podium.db-wal", "podium.db-shm", "podium.lock"] {
        let path = s.data.join(name);
        seen.push((path.clone(), mode(&path)));
    }
    r.wait_for("the transcript hint", |l| {
        l.starts_with("(or: podium transcript drill --date ")
    });
    r.finish();
    let rehearsals = s.data.join("rehearsals");
    seen.push((rehearsals.clone(), mode(&rehearsals)));
    let mut files = 0;
    for f in std::fs::read_dir(&rehearsals).unwrap() {
        let path = f.unwrap().path();
        seen.push((path.clone(), mode(&path)));
        files += 1;
    }
    assert_eq!(files, 2, "a console log and a transcript: {seen:?}");
    for (path, m) in &seen {
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(*m, want, "{} is {m:o}; all: {seen:?}", path.display());
    }
    let stderr = std::fs::read_to_string(s.dir.path().join("first.stderr")).unwrap();
    assert!(
        !stderr.contains("chmod"),
        "no warning for a private directory: {stderr}"
    );
}

/// A data directory made earlier (by hand, or by an older Podium) that
/// others can read is left as the operator made it, with one warning at
/// start that names it, its mode and the command that fixes it; the
/// database in it is made private all the same.
#[test]
fn a_data_dir_others_can_read_is_warned_about_once() {
    use std::os::unix::fs::PermissionsExt;
    let s = setup(&short());
    std::fs::create_dir(&s.data).unwrap();
    std::fs::set_permissions(&s.data, std::fs::Permissions::from_mode(0o755)).unwrap();
    // An empty file is an empty SQLite database, as an older Podium left it.
    std::fs::write(s.data.join("podium.db"), "").unwrap();
    std::fs::set_permissions(
        s.data.join("podium.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let mut r = rehearse_under_umask_022(&s, "loose", &["--speed", "600"]);
    r.wait_for("the transcript hint", |l| {
        l.starts_with("(or: podium transcript drill --date ")
    });
    r.finish();
    let stderr = std::fs::read_to_string(s.dir.path().join("loose.stderr")).unwrap();
    let warning = format!(
        "the data directory {} can be read by other users (mode 0755), and it holds every \
         answer and private transcript key; `chmod 700 {}` makes it private",
        s.data.display(),
        s.data.display()
    );
    assert_eq!(stderr.matches(&warning).count(), 1, "{stderr}");
    assert_eq!(
        mode(&s.data),
        0o755,
        "the operator's directory is left alone"
    );
    assert_eq!(mode(&s.data.join("podium.db")), 0o600);
}
