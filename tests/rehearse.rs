//! `podium rehearse` driven through a pipe, as a person at the terminal
//! would: typed answers are acknowledged once stored, attributed to the
//! right question, and end up in the transcript.
//!
//! Every wait has a timeout after which the test fails with the output so
//! far; nothing asserts on elapsed time, only on what was printed and stored.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use support::WAIT;
use support::cli::{Setup, run_in, setup};
use support::rehearsal::{
    Rehearsal, drill, hinted_date, is_closing, is_link, not_collected, post_body, question_number,
    transcript_json,
};

/// The example drill: a 10-minute reminder, then four questions spread
/// evenly over an hour (0, 15, 30 and 45 minutes).
fn the_drill() -> String {
    drill("1h", "[First?, Second?, Third?, Fourth?]")
        + r##"  - id: other
    title: Another debate
    starts: 2030-01-02 20:00
    duration: 1h
    questions: [Only?]
"##
}

/// A short debate for the tests that only need a rehearsal to finish.
fn short() -> String {
    drill("20m", "[One?, Two?]")
}

/// Two questions two hours apart, so a `!skip` is clearly early.
fn sparse() -> String {
    drill("3h", "[First?, {text: Second?, at: 2h}]")
}

/// One run per test, so its stderr file needs no distinct name.
fn rehearse(s: &Setup, args: &[&str]) -> Rehearsal {
    let stderr = s.dir.path().join("rehearse.stderr");
    Rehearsal::start(&s.data, &s.schedule, args, stderr)
}

/// The virtual time stamp of a post line, in minutes since midnight.
fn post_minutes(line: &str) -> Option<u32> {
    let stamp = line.strip_prefix('[')?.get(..5)?;
    let (h, m) = stamp.split_once(':')?;
    Some(h.parse::<u32>().ok()? * 60 + m.parse::<u32>().ok()?)
}

fn is_question(line: &str, n: u32) -> bool {
    post_body(line).and_then(question_number) == Some(n)
}

/// (author, body, attributed_by) of each reply in a transcript list.
fn replies(list: &Value) -> Vec<(String, String, String)> {
    list.as_array()
        .expect("replies array")
        .iter()
        .map(|r| {
            (
                r["author"].as_str().expect("author").to_owned(),
                r["body"].as_str().expect("body").to_owned(),
                r["attributed_by"]
                    .as_str()
                    .expect("attributed_by")
                    .to_owned(),
            )
        })
        .collect()
}

fn owned(v: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    v.iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect()
}

#[test]
fn typed_answers_land_under_the_right_questions() {
    let s = setup(&the_drill());
    let mut r = rehearse(&s, &["drill", "--speed", "300"]);
    let first = r.wait_for("the first line", |_| true);
    assert!(
        first.starts_with("Starting a rehearsal of “Fire drill” at 300× speed."),
        "unexpected first line {first:?}\n{}",
        r.dump()
    );

    // Before the intro nothing is collected, and the console says so.
    r.wait_for("the reminder", |l| {
        post_body(l).is_some_and(|b| b.starts_with("Reminder: “Fire drill” starts in 10 minutes"))
    });
    r.send("too early to count");
    r.wait_for("the not-collected notice", not_collected);

    r.wait_for("Q1", |l| is_question(l, 1));
    r.send("A1: the first answer");
    r.send("alice: A2: answering two ahead");
    r.wait_for("the ack of you → Q1", |l| l == "  ✓ saved: you → Q1");
    r.wait_for("the ack of alice → Q2", |l| l == "  ✓ saved: alice → Q2");

    r.wait_for("Q2", |l| is_question(l, 2));
    r.send("bob: an untagged thought");
    r.wait_for("the ack of bob → Q2", |l| l == "  ✓ saved: bob → Q2");

    r.wait_for("Q3", |l| is_question(l, 3));
    r.send("carol: A1: back to the first question");
    r.wait_for("the ack of carol → Q1", |l| l == "  ✓ saved: carol → Q1");

    let path_line = r.wait_for("the transcript path", |l| l.starts_with("Transcript: "));
    let hint = r.wait_for("the transcript command hint", |l| {
        l.starts_with("(or: podium transcript drill --date ")
    });
    assert!(
        hint.ends_with("--format md|txt|json)"),
        "unexpected hint {hint:?}"
    );
    // Exiting while stdin stays open is checked on its own below.
    r.finish();

    // Each post was shown once, in order.
    let bodies: Vec<&str> = r.lines().filter_map(post_body).collect();
    let questions: Vec<u32> = bodies.iter().filter_map(|b| question_number(b)).collect();
    assert_eq!(questions, [1, 2, 3, 4], "\n{}", r.dump());
    assert_eq!(
        bodies.iter().filter(|b| is_closing(b)).count(),
        1,
        "\n{}",
        r.dump()
    );
    assert_eq!(
        bodies.iter().filter(|b| is_link(b)).count(),
        1,
        "\n{}",
        r.dump()
    );

    let date = hinted_date(&hint);
    let t = transcript_json(&s.data, Some(&date));
    assert_eq!(t["debate"], "drill");
    assert_eq!(t["title"], "Fire drill");
    assert_eq!(t["timezone"], "Europe/London");
    assert_eq!(t["rehearsal"], true, "{t:#}");
    let qs = t["questions"].as_array().expect("questions");
    let numbers: Vec<u64> = qs.iter().map(|q| q["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [1, 2, 3, 4], "{t:#}");
    let texts: Vec<&str> = qs.iter().map(|q| q["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["First?", "Second?", "Third?", "Fourth?"], "{t:#}");
    assert!(
        qs.iter().all(|q| q["posted_at"].is_string()),
        "every question has its posting time: {t:#}"
    );

    assert_eq!(
        replies(&qs[0]["replies"]),
        owned(&[
            ("you", "A1: the first answer", "tag"),
            ("carol", "A1: back to the first question", "tag"),
        ]),
        "{t:#}"
    );
    assert_eq!(
        replies(&qs[1]["replies"]),
        owned(&[
            ("alice", "A2: answering two ahead", "tag"),
            ("bob", "an untagged thought", "latest"),
        ]),
        "{t:#}"
    );
    assert!(replies(&qs[2]["replies"]).is_empty(), "{t:#}");
    assert!(replies(&qs[3]["replies"]).is_empty(), "{t:#}");
    assert!(
        replies(&t["unattributed"]).is_empty(),
        "the line typed before the intro was not collected: {t:#}"
    );
    let you = &qs[0]["replies"][0];
    assert_eq!(you["author_id"], "console:you");
    assert_eq!(you["network"], "console");
    assert_eq!(you["edited"], false);
    assert_eq!(qs[1]["replies"][0]["author_id"], "console:alice");

    // The Markdown transcript at the printed path holds the same answers.
    let path = PathBuf::from(path_line.trim_start_matches("Transcript: "));
    assert!(
        path.starts_with(s.data.join("rehearsals")),
        "the transcript is kept with the rehearsal logs: {}",
        path.display()
    );
    let md = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    for needle in [
        "# Fire drill",
        "(rehearsal)",
        "## Q1: First?",
        "## Q2: Second?",
        "## Q3: Third?",
        "## Q4: Fourth?",
        "**you**",
        "A1: the first answer",
        "**alice**",
        "A2: answering two ahead",
        "**bob**",
        "an untagged thought",
        "**carol**",
        "A1: back to the first question",
    ] {
        assert!(
            md.contains(needle),
            "{needle:?} missing from {}:\n{md}",
            path.display()
        );
    }
    assert!(!md.contains("too early to count"), "{md}");
}

#[test]
fn an_unknown_debate_exits_1_listing_the_debates() {
    let s = setup(&the_drill());
    let schedule = s.schedule.to_str().expect("utf-8 path");
    let out = run_in(&s.data, &["rehearse", "nosuch", "--file", schedule]);
    assert_eq!(
        out.code,
        Some(1),
        "stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    assert!(out.stderr.contains("nosuch"), "{}", out.stderr);
    assert!(out.stderr.contains("drill"), "{}", out.stderr);
    assert!(out.stderr.contains("other"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

#[test]
fn skip_by_the_organiser_posts_the_next_question_early() {
    let s = setup(&sparse());
    let mut r = rehearse(&s, &["drill", "--speed", "300"]);
    let q1 = r.wait_for("Q1", |l| is_question(l, 1));

    // Someone else may not skip.
    r.send("alice: !skip");
    r.wait_for("the refusal", |l| {
        post_body(l).is_some_and(|b| b.starts_with("Sorry alice, only the organisers"))
    });
    let refusal = r
        .lines()
        .position(|l| post_body(l).is_some_and(|b| b.starts_with("Sorry alice")))
        .expect("refusal seen");
    assert!(
        !r.lines().take(refusal).any(|l| is_question(l, 2)),
        "Q2 was posted before alice's !skip was refused\n{}",
        r.dump()
    );

    // You (the organiser at the keyboard) may.
    r.send("!skip");
    let q2 = r.wait_for("Q2", |l| is_question(l, 2));
    r.wait_for("the skip answer", |l| {
        post_body(l) == Some("Q2 posted early.")
    });
    let (t1, t2) = (post_minutes(&q1).unwrap(), post_minutes(&q2).unwrap());
    let gap = (t2 + 24 * 60 - t1) % (24 * 60);
    assert!(
        gap < 120,
        "Q2 is scheduled 2h after Q1 but was posted {gap} virtual minutes after it\n{}",
        r.dump()
    );

    r.send("!end");
    r.wait_for("the closing", |l| post_body(l).is_some_and(is_closing));
    let hint = r.wait_for("the transcript command hint", |l| {
        l.starts_with("(or: podium transcript drill --date ")
    });
    r.finish();

    let t = transcript_json(&s.data, Some(&hinted_date(&hint)));
    let start = chrono::DateTime::parse_from_rfc3339(t["starts_at"].as_str().unwrap()).unwrap();
    let posted = chrono::DateTime::parse_from_rfc3339(
        t["questions"][1]["posted_at"].as_str().expect("Q2 posted"),
    )
    .unwrap();
    assert_eq!(t["questions"][1]["number"], 2);
    assert!(
        posted < start + chrono::Duration::hours(2),
        "Q2 posted at {posted}, not before its time {}: {t:#}",
        start + chrono::Duration::hours(2)
    );
}

/// The rehearsal says it is over, so it must exit, even though the person
/// at the terminal has not closed its input (nobody presses Ctrl-D).
#[test]
fn a_finished_rehearsal_exits_while_stdin_is_still_open() {
    let s = setup(&short());
    let mut r = rehearse(&s, &["drill", "--speed", "600"]);
    r.wait_for("the transcript command hint", |l| {
        l.starts_with("(or: podium transcript drill --date ")
    });
    let grace = Duration::from_secs(20);
    match r.wait_exit(grace) {
        Some(status) => {
            r.drain();
            assert!(status.success(), "exited with {status}\n{}", r.dump());
        }
        None => {
            r.close_stdin();
            let after = r.wait_exit(WAIT);
            panic!(
                "podium rehearse printed the transcript location but was still running {grace:?} \
                 later with its stdin open (it exited with {after:?} only once stdin was closed)\n{}",
                r.dump()
            );
        }
    }
}

/// `podium transcript DEBATE` without --date shows the most recent
/// occurrence that has started, rehearsals included: right after a
/// rehearsal, that is the rehearsal.
#[test]
fn transcript_without_date_shows_the_rehearsal_just_finished() {
    let s = setup(&short());
    let mut r = rehearse(&s, &["drill", "--speed", "600"]);
    r.wait_for("Q1", |l| is_question(l, 1));
    r.send("dora: A1: an answer");
    r.wait_for("the ack", |l| l == "  ✓ saved: dora → Q1");
    r.wait_for("the transcript command hint", |l| {
        l.starts_with("(or: podium transcript drill --date ")
    });
    r.finish();

    let t = transcript_json(&s.data, None);
    assert_eq!(t["debate"], "drill");
    assert_eq!(t["rehearsal"], true);
    assert_eq!(
        replies(&t["questions"][0]["replies"]),
        owned(&[("dora", "A1: an answer", "tag")]),
        "{t:#}"
    );
}
