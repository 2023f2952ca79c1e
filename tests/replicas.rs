#![recursion_limit = "256"]
//! Replicas on real servers (issue 18, point 6): three `podium run`
//! processes sharing one PostgreSQL database, on the binary's Synapse and
//! InspIRCd, each debate in a Matrix room and an IRC channel of its own
//! (see tests/support/replicas.rs). Renew 1 s, ttl 4 s.
//!
//! - (a) the debates are split among the replicas, each posted by exactly
//!   one, every question once per room;
//! - (b) the holder of the seed debate (debates.yaml's, its texts as
//!   written, its questions seconds apart) SIGKILLed at Q2: another
//!   replica posts the next question within ttl + 5 s, the debate
//!   completes, every question at most once per room (at most one missing,
//!   around the kill), every answer stored once;
//! - (c) the holder SIGSTOPped for 2 x ttl, then SIGCONTed: it posts
//!   nothing after losing its lease and takes leases again only through
//!   the normal path (`took lease`);
//! - (d) PostgreSQL stopped and started again mid-debate: no answer lost,
//!   no question twice (a server of its own, so the other tests here do
//!   not see the outage);
//! - (e) a fourth replica started, then SIGTERMed, during the debates:
//!   leases move without a gap longer than renew + 2 s.
//!
//! Each prints its takeover times. One test runs at a time
//! ([`replicas_support::one_at_a_time`]): each measures seconds with four
//! to five processes of its own besides the servers.

#[path = "support/irc.rs"]
mod irc_support;
#[path = "support/matrix.rs"]
mod matrix_support;
#[path = "support/replicas.rs"]
mod replicas_support;
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use replicas_support::{
    Cast, Planned, Replicas, SEED, Seen, Sent, Timing, Watch, one_at_a_time, question_counts,
    question_number, schedule, secs_between, seed_schedule, show, sleep_until, start_in,
    wait_answers,
};
use support::WAIT;

/// Starts `count` replicas of `yaml` on `database` and waits until each is
/// ready and in every channel; with a watch on their `/healthz`.
async fn launch(cast: &mut Cast, yaml: &str, database: &str, count: usize) -> (Replicas, Watch) {
    let mut reps = Replicas::new(database, &cast.bot, yaml, count, Timing::default());
    let watch = reps.watch();
    reps.start_ready().await;
    let all: Vec<usize> = (0..count).collect();
    cast.wait_joined(&reps, &all).await;
    (reps, watch)
}

/// What each room shows of `debate`: its Matrix and IRC posts.
async fn posts(cast: &mut Cast, reps: &Replicas, debate: &str) -> (Vec<Seen>, Vec<Seen>) {
    let matrix = cast.matrix_posts(debate).await;
    cast.carol.sync().await;
    let irc = cast.irc_posts(reps, debate);
    (matrix, irc)
}

/// Questions 1..=n once each.
fn once_each(n: u32) -> BTreeMap<u32, usize> {
    (1..=n).map(|q| (q, 1)).collect()
}

/// Fails unless no question is in `seen` twice and at most one of 1..=n
/// is missing; returns the missing ones.
fn at_most_once(what: &str, seen: &[Seen], n: u32, reps: &Replicas) -> Vec<u32> {
    let counts = question_counts(seen);
    let doubled: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).collect();
    assert!(
        doubled.is_empty(),
        "{what}: questions posted more than once {doubled:?}:\n{}\n{}",
        show(seen),
        reps.logs()
    );
    let missing: Vec<u32> = (1..=n).filter(|q| !counts.contains_key(q)).collect();
    assert!(
        missing.len() <= 1,
        "{what}: more than one question missing {missing:?}:\n{}\n{}",
        show(seen),
        reps.logs()
    );
    missing
}

/// The replica an IRC post came from.
fn sender(reps: &Replicas, s: &Seen) -> usize {
    reps.of_nick(&s.by)
        .unwrap_or_else(|| panic!("a post from {} is no replica's: {}", s.by, s.body))
}

/// The replicas whose log says they posted `debate` in `room`.
fn matrix_posters(reps: &Replicas, debate: &str, room: &str) -> Vec<usize> {
    (0..reps.len())
        .filter(|&i| {
            reps.posted(i, debate)
                .iter()
                .any(|l| l.field("room") == Some(room))
        })
        .collect()
}

/// Prints `watch`'s holder changes of `debate` since `from`, and when two
/// replicas claimed it at once.
fn print_changes(test: &str, watch: &Watch, reps: &Replicas, debate: &str, from: DateTime<Utc>) {
    for at in watch.doubles(debate).iter().filter(|at| **at >= from) {
        eprintln!(
            "{test}: {debate}: claimed by two replicas at once at {}",
            at.format("%H:%M:%S%.3f")
        );
    }
    for g in watch.gaps(debate, from) {
        eprintln!(
            "{test}: {debate}: {} -> {} at {}: {:.2} s without a holder (by /healthz)",
            g.before
                .map_or("none".to_owned(), |i| reps.list[i].name.clone()),
            reps.list[g.after].name,
            g.to.format("%H:%M:%S%.3f"),
            g.seconds()
        );
        if g.before == Some(g.after) || !watch.doubles(debate).is_empty() {
            // A holder that stayed, yet was not seen as the only one.
            eprintln!("{}", watch.between(g.from, g.to));
        }
    }
}

/// Who leads what, by replica name.
fn named(reps: &Replicas, holders: &BTreeMap<String, usize>) -> String {
    holders
        .iter()
        .map(|(d, i)| format!("{d}={}", reps.list[*i].name))
        .collect::<Vec<_>>()
        .join(" ")
}

/// (a) Three debates over three replicas: each debate's posts come from
/// exactly one replica, every question is in every room once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn debates_are_split_among_replicas_and_each_is_posted_by_one() {
    let _one = one_at_a_time().await;
    let ids = ["a1", "a2", "a3"];
    let mut cast = Cast::new(&ids).await;
    let questions = [0, 6, 12, 18];
    let starts = [start_in(60), start_in(64), start_in(68)];
    let plan: Vec<Planned<'_>> = ids
        .iter()
        .zip(starts)
        .map(|(id, start)| Planned {
            id,
            start,
            seconds: 60,
            questions: &questions,
        })
        .collect();
    let yaml = schedule(&cast, &plan);
    let database = support::postgres::database().await;
    let (mut reps, watch) = launch(&mut cast, &yaml, &database, 3).await;
    let ready = Utc::now();
    let holders = reps.wait_balanced(&ids, Duration::from_secs(45)).await;
    let balanced = Utc::now();
    eprintln!(
        "split: ready {:.1} s before the first debate, balanced {:.1} s after ready: {}",
        secs_between(ready, starts[0]),
        secs_between(ready, balanced),
        named(&reps, &holders)
    );
    for id in ids {
        cast.wait_closing(&reps, id, WAIT * 2).await;
    }
    for id in ids {
        let (matrix, irc) = posts(&mut cast, &reps, id).await;
        let report = || {
            format!(
                "Matrix:\n{}\nIRC:\n{}\n{}",
                show(&matrix),
                show(&irc),
                reps.logs()
            )
        };
        assert_eq!(
            question_counts(&matrix),
            once_each(4),
            "{id} on Matrix\n{}",
            report()
        );
        assert_eq!(
            question_counts(&irc),
            once_each(4),
            "{id} on IRC\n{}",
            report()
        );
        let irc_senders: Vec<usize> = {
            let mut s: Vec<usize> = irc.iter().map(|s| sender(&reps, s)).collect();
            s.sort_unstable();
            s.dedup();
            s
        };
        assert_eq!(
            irc_senders.len(),
            1,
            "{id}: IRC posts from {irc_senders:?}\n{}",
            report()
        );
        let room = cast.place(id).room_id.clone();
        let matrix_senders = matrix_posters(&reps, id, &room);
        assert_eq!(
            matrix_senders,
            irc_senders,
            "{id}: Matrix posts (by the logs) from {matrix_senders:?}, IRC from {irc_senders:?}\n{}",
            report()
        );
        eprintln!(
            "split: {id} posted by {} (balanced holder {})",
            reps.list[irc_senders[0]].name, reps.list[holders[id]].name
        );
        print_changes("split", &watch, &reps, id, balanced);
        assert!(
            watch.doubles(id).is_empty(),
            "{id} claimed by two replicas at once at {:?}",
            watch.doubles(id)
        );
    }
    // Every replica posted something: the debates were split.
    let posters: std::collections::BTreeSet<usize> = ids
        .iter()
        .flat_map(|id| matrix_posters(&reps, id, &cast.place(id).room_id))
        .collect();
    assert_eq!(
        posters.len(),
        3,
        "posted by {posters:?} only\n{}",
        reps.logs()
    );
    for i in 0..3 {
        let (_, status) = reps.terminate(i);
        assert!(
            status.success(),
            "{}: {status}\n{}",
            reps.list[i].name,
            reps.log(i)
        );
    }
}

/// (b) The seed debate (debates.yaml's `leadership-2011`, its texts as
/// written, its four questions seconds apart instead of a quarter of an
/// hour) on Matrix and IRC, its holder SIGKILLed as Q2 is posted: another
/// replica posts Q3 within ttl + 5 s, the debate completes, and the killed
/// replica, started again, posts nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_holder_killed_at_q2_of_the_seed_debate_another_replica_posts_on() {
    let _one = one_at_a_time().await;
    let timing = Timing::default();
    let mut cast = Cast::new(&[SEED]).await;
    // Q3 falls due 2 s after Q2, while the holder is dead.
    let start = start_in(60);
    let (yaml, closing) = seed_schedule(&cast, start, 60, &[0, 8, 10, 20]);
    let database = support::postgres::database().await;
    let (mut reps, watch) = launch(&mut cast, &yaml, &database, 3).await;
    let mut sent: Vec<Sent> = Vec::new();

    let q1 = cast
        .wait_irc_question(&reps, SEED, 1, WAIT)
        .await
        .unwrap_or_else(|| panic!("no Q1\n{}", reps.logs()));
    sent.push(cast.answer_matrix(SEED, 1, "matrix before the kill").await);
    sent.push(cast.answer_irc(SEED, 1, "irc before the kill").await);
    let q2 = cast
        .wait_irc_question(&reps, SEED, 2, WAIT)
        .await
        .unwrap_or_else(|| panic!("no Q2\n{}", reps.logs()));
    let holder = sender(&reps, &q2);
    assert_eq!(
        holder,
        sender(&reps, &q1),
        "Q1 and Q2 from different replicas"
    );
    let killed = reps.kill(holder);
    eprintln!(
        "kill: {} SIGKILLed {:.3} s after Q2 reached IRC",
        reps.list[holder].name,
        secs_between(q2.at, killed)
    );
    sent.push(
        cast.answer_matrix(SEED, 2, "matrix right after the kill")
            .await,
    );
    sent.push(cast.answer_irc(SEED, 2, "irc right after the kill").await);

    let limit = timing.ttl + Duration::from_secs(5);
    let q3 = cast
        .wait_irc_question(&reps, SEED, 3, limit + Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("no Q3 on IRC after the kill\n{}", reps.logs()));
    let successor = sender(&reps, &q3);
    let took = reps.took(successor, Some(SEED));
    let took_at = took.iter().map(|l| l.at).find(|at| *at > killed);
    eprintln!(
        "kill: Q3 on IRC {:.3} s after the kill, from {}; its `took lease` {} s after the kill",
        secs_between(killed, q3.at),
        reps.list[successor].name,
        took_at.map_or("(none logged)".to_owned(), |t| format!(
            "{:.3}",
            secs_between(killed, t)
        ))
    );
    assert_ne!(successor, holder, "Q3 came from the killed replica");
    assert!(
        secs_between(killed, q3.at) <= limit.as_secs_f64(),
        "Q3 came {:.3} s after the kill (ttl + 5 s = {limit:?})\n{}",
        secs_between(killed, q3.at),
        reps.logs()
    );
    sent.push(
        cast.answer_matrix(SEED, 3, "matrix after the takeover")
            .await,
    );
    sent.push(cast.answer_irc(SEED, 3, "irc after the takeover").await);
    // The killed machine comes back: it must post nothing twice.
    reps.start(holder);
    reps.wait_ready(holder).await;
    cast.wait_irc_question(&reps, SEED, 4, WAIT)
        .await
        .unwrap_or_else(|| panic!("no Q4\n{}", reps.logs()));
    sent.push(
        cast.answer_matrix(SEED, 4, "matrix with the first back")
            .await,
    );
    sent.push(cast.answer_irc(SEED, 4, "irc with the first back").await);
    cast.wait_closing_of(&reps, SEED, &closing, WAIT).await;

    let (matrix, irc) = posts(&mut cast, &reps, SEED).await;
    if let Some(m3) = matrix.iter().find(|s| question_number(&s.body) == Some(3)) {
        eprintln!(
            "kill: Q3 on Matrix {:.3} s after the kill",
            secs_between(killed, m3.at)
        );
    }
    let missing_matrix = at_most_once("Matrix", &matrix, 4, &reps);
    let missing_irc = at_most_once("IRC", &irc, 4, &reps);
    eprintln!("kill: missing on Matrix {missing_matrix:?}, on IRC {missing_irc:?}");
    for m in missing_matrix.iter().chain(&missing_irc) {
        assert!(
            (2..=3).contains(m),
            "Q{m} missing, not around the kill (at Q2)\nMatrix:\n{}\nIRC:\n{}\n{}",
            show(&matrix),
            show(&irc),
            reps.logs()
        );
    }
    // The seed's own texts went out: its intro, and its questions as
    // debates.yaml words them.
    let intro = matrix
        .iter()
        .find(|s| s.body.contains("starts now"))
        .unwrap_or_else(|| panic!("no intro on Matrix:\n{}", show(&matrix)));
    assert!(
        intro
            .body
            .contains("Developing Leadership in Social Work and Social Care")
            && intro.body.contains("#SWSCmedia"),
        "the seed's intro: {}",
        intro.body
    );
    assert!(
        matrix.iter().chain(&irc).any(|s| s
            .body
            .starts_with("Q1: What does leadership mean in social work and social care today?")),
        "the seed's Q1:\n{}\n{}",
        show(&matrix),
        show(&irc)
    );
    assert!(
        matrix.iter().any(|s| s.body.starts_with(&closing))
            && irc.iter().any(|s| s.body.starts_with(&closing)),
        "the debate did not complete"
    );
    let problems = wait_answers(&reps, SEED, &sent).await;
    assert!(
        problems.is_empty(),
        "answers: {problems:#?}\n{:#}\n{}",
        reps.transcript(SEED),
        reps.logs()
    );
    print_changes("kill", &watch, &reps, SEED, killed);
}

/// (c) The holder SIGSTOPped for 2 x ttl, then SIGCONTed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_holder_posts_nothing_once_it_lost_the_lease() {
    let _one = one_at_a_time().await;
    let timing = Timing::default();
    let mut cast = Cast::new(&["c"]).await;
    // Q3 falls due during the pause, 1 s before the SIGCONT.
    let pause = timing.ttl * 2;
    let q3_after = pause.as_secs() as i64 - 1;
    let questions = [0, 8, 8 + q3_after, 25, 33, 41];
    let start = start_in(60);
    let yaml = schedule(
        &cast,
        &[Planned {
            id: "c",
            start,
            seconds: 60,
            questions: &questions,
        }],
    );
    let database = support::postgres::database().await;
    let (mut reps, watch) = launch(&mut cast, &yaml, &database, 3).await;
    let mut sent: Vec<Sent> = Vec::new();

    let q2 = cast
        .wait_irc_question(&reps, "c", 2, WAIT * 2)
        .await
        .unwrap_or_else(|| panic!("no Q2\n{}", reps.logs()));
    // Q2 in the Matrix room too, so nothing is in flight at the pause.
    cast.host
        .wait_for_messages_or(
            &cast.place("c").room,
            "Q2 on Matrix",
            |ms| {
                ms.iter().any(|m| {
                    question_number(m["content"]["body"].as_str().unwrap_or("")) == Some(2)
                })
            },
            || reps.logs(),
        )
        .await;
    let holder = sender(&reps, &q2);
    let paused = reps.pause(holder);
    sent.push(cast.answer_matrix("c", 2, "matrix while paused").await);
    sent.push(cast.answer_irc("c", 2, "irc while paused").await);
    sleep_until(paused + chrono::Duration::from_std(pause).unwrap()).await;
    let resumed = reps.resume(holder);
    eprintln!(
        "pause: {} SIGSTOPped {:.3} s after Q2 reached IRC, SIGCONTed {:.3} s later",
        reps.list[holder].name,
        secs_between(q2.at, paused),
        secs_between(paused, resumed)
    );
    cast.wait_irc_question(&reps, "c", 4, WAIT)
        .await
        .unwrap_or_else(|| panic!("no Q4\n{}", reps.logs()));
    sent.push(cast.answer_matrix("c", 4, "matrix after the pause").await);
    sent.push(cast.answer_irc("c", 4, "irc after the pause").await);
    cast.wait_closing(&reps, "c", WAIT).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let (matrix, irc) = posts(&mut cast, &reps, "c").await;
    let report = || {
        format!(
            "Matrix:\n{}\nIRC:\n{}\n{}",
            show(&matrix),
            show(&irc),
            reps.logs()
        )
    };
    let q3 = irc
        .iter()
        .find(|s| question_number(&s.body) == Some(3))
        .unwrap_or_else(|| panic!("no Q3 on IRC\n{}", report()));
    eprintln!(
        "pause: Q3 on IRC from {} {:.3} s after the SIGSTOP",
        q3.by,
        secs_between(paused, q3.at)
    );
    // When, if ever, it took the lease again after the SIGCONT.
    let retook = reps
        .took(holder, Some("c"))
        .into_iter()
        .map(|l| l.at)
        .find(|at| *at > resumed);
    let lost = reps
        .lost(holder, Some("c"))
        .into_iter()
        .map(|l| l.at)
        .find(|at| *at > paused);
    eprintln!(
        "pause: {} logged `lost lease` {}, took it again {}",
        reps.list[holder].name,
        lost.map_or("never".to_owned(), |t| format!(
            "{:.3} s after the SIGCONT",
            secs_between(resumed, t)
        )),
        retook.map_or("never".to_owned(), |t| format!(
            "{:.3} s after the SIGCONT",
            secs_between(resumed, t)
        )),
    );
    let until = retook.unwrap_or(DateTime::<Utc>::MAX_UTC);
    let stale_irc: Vec<&Seen> = irc
        .iter()
        .filter(|s| sender(&reps, s) == holder && s.at > paused && s.at < until)
        .collect();
    assert!(
        stale_irc.is_empty(),
        "the paused replica posted on IRC after losing its lease: {stale_irc:?}\n{}",
        report()
    );
    let stale_log: Vec<String> = reps
        .posted(holder, "c")
        .into_iter()
        .filter(|l| l.at > paused && l.at < until)
        .map(|l| l.line)
        .collect();
    assert!(
        stale_log.is_empty(),
        "the paused replica logged posts after losing its lease: {stale_log:#?}\n{}",
        report()
    );
    assert!(
        lost.is_some(),
        "the paused replica never logged `lost lease debate=c`\n{}",
        report()
    );
    assert_eq!(
        question_counts(&matrix),
        once_each(6),
        "Matrix\n{}",
        report()
    );
    assert_eq!(question_counts(&irc), once_each(6), "IRC\n{}", report());
    // Whatever it leads after the SIGCONT (a renewal's time to notice the
    // loss allowed) it took through `took lease`.
    let grace = chrono::Duration::from_std(timing.renew + Duration::from_secs(1)).unwrap();
    for sample in watch.samples() {
        if sample.at < resumed + grace {
            continue;
        }
        for d in sample
            .leads
            .get(holder)
            .cloned()
            .flatten()
            .unwrap_or_default()
        {
            let took = reps
                .took(holder, Some(&d))
                .into_iter()
                .any(|l| l.at > resumed && l.at <= sample.at + chrono::Duration::seconds(1));
            assert!(
                took,
                "{} claimed {d} at {} without a `took lease` since the SIGCONT\n{}",
                reps.list[holder].name,
                sample.at,
                report()
            );
        }
    }
    let problems = wait_answers(&reps, "c", &sent).await;
    assert!(problems.is_empty(), "answers: {problems:#?}\n{}", report());
    print_changes("pause", &watch, &reps, "c", paused);
}

/// (d) PostgreSQL stopped and started again mid-debate.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarted_mid_debate_loses_and_doubles_nothing() {
    let _one = one_at_a_time().await;
    let pg = support::postgres::start_named_postgres("replicas-outage");
    let mut cast = Cast::new(&["d"]).await;
    let questions = [0, 8, 16, 24, 32];
    let start = start_in(60);
    let yaml = schedule(
        &cast,
        &[Planned {
            id: "d",
            start,
            seconds: 60,
            questions: &questions,
        }],
    );
    let database = pg.database().await;
    let (reps, watch) = launch(&mut cast, &yaml, &database, 3).await;
    let mut sent: Vec<Sent> = Vec::new();

    cast.wait_irc_question(&reps, "d", 1, WAIT * 2)
        .await
        .unwrap_or_else(|| panic!("no Q1\n{}", reps.logs()));
    sent.push(cast.answer_matrix("d", 1, "matrix before the outage").await);
    sent.push(cast.answer_irc("d", 1, "irc before the outage").await);
    cast.wait_irc_question(&reps, "d", 2, WAIT)
        .await
        .unwrap_or_else(|| panic!("no Q2\n{}", reps.logs()));
    sent.push(
        cast.answer_matrix("d", 2, "matrix just before the outage")
            .await,
    );
    sent.push(cast.answer_irc("d", 2, "irc just before the outage").await);
    let down = Utc::now();
    pg.stop();
    sent.push(cast.answer_matrix("d", 2, "matrix during the outage").await);
    sent.push(cast.answer_irc("d", 2, "irc during the outage").await);
    tokio::time::sleep(Duration::from_secs(6)).await;
    pg.start_again();
    let up = Utc::now();
    eprintln!(
        "postgres: down {:.3} s (stop to back)",
        secs_between(down, up)
    );
    let q3 = cast
        .wait_irc_question(&reps, "d", 3, WAIT)
        .await
        .unwrap_or_else(|| panic!("no Q3 after the outage\n{}\n{}", reps.logs(), pg.log()));
    eprintln!(
        "postgres: Q3 (due {}) on IRC from {} {:.3} s after PostgreSQL was back",
        (start + chrono::Duration::seconds(questions[2])).format("%H:%M:%S"),
        q3.by,
        secs_between(up, q3.at)
    );
    sent.push(cast.answer_matrix("d", 3, "matrix after the outage").await);
    sent.push(cast.answer_irc("d", 3, "irc after the outage").await);
    cast.wait_closing(&reps, "d", WAIT).await;

    let (matrix, irc) = posts(&mut cast, &reps, "d").await;
    let missing_matrix = at_most_once("Matrix", &matrix, 5, &reps);
    let missing_irc = at_most_once("IRC", &irc, 5, &reps);
    eprintln!("postgres: missing on Matrix {missing_matrix:?}, on IRC {missing_irc:?}");
    let problems = wait_answers(&reps, "d", &sent).await;
    assert!(
        problems.is_empty(),
        "answers: {problems:#?}\n{:#}\n{}",
        reps.transcript("d"),
        reps.logs()
    );
    print_changes("postgres", &watch, &reps, "d", down);
}

/// (e) A fourth replica joins during a debate, then is SIGTERMed. A live
/// debate stays with its holder (a hand-over mid-send could cost a post:
/// only idle debates are given back to make room for a new replica), so
/// besides the live debate `e` the schedule has seven idle ones (tomorrow,
/// an hour apart in the same room): eight over three replicas is 3, 3, 2; over four, 2
/// each, so the new replica takes two, and hands them back at its SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_joining_and_leaving_moves_leases_without_a_gap() {
    let _one = one_at_a_time().await;
    let timing = Timing::default();
    let mut cast = Cast::new(&["e"]).await;
    let questions = [0, 10, 20, 30, 40, 50];
    let start = start_in(60);
    let tomorrow = start + chrono::Duration::days(1);
    let idle: Vec<String> = (1..=7).map(|n| format!("later{n}")).collect();
    let mut ids: Vec<&str> = vec!["e"];
    ids.extend(idle.iter().map(String::as_str));
    let plan: Vec<Planned<'_>> = ids
        .iter()
        .zip(0..)
        .map(|(id, n)| Planned {
            id,
            // The idle ones an hour apart: one room holds one at a time.
            start: if n == 0 {
                start
            } else {
                tomorrow + chrono::Duration::hours(n)
            },
            seconds: 60,
            questions: &questions,
        })
        .collect();
    let yaml = schedule(&cast, &plan);
    let database = support::postgres::database().await;
    let (mut reps, watch) = launch(&mut cast, &yaml, &database, 3).await;
    let before = reps.wait_balanced(&ids, Duration::from_secs(30)).await;
    let live_holder = before["e"];
    eprintln!("join-leave: three replicas: {}", named(&reps, &before));
    sleep_until(start + chrono::Duration::seconds(5)).await;

    let fourth = reps.add();
    let joined = Utc::now();
    reps.start(fourth);
    reps.wait_ready(fourth).await;
    cast.wait_joined(&reps, &[fourth]).await;
    let with_four = reps.wait_balanced(&ids, Duration::from_secs(30)).await;
    eprintln!(
        "join-leave: r4 started at {}, leases balanced over four {:.3} s later: {}",
        joined.format("%H:%M:%S%.3f"),
        secs_between(joined, Utc::now()),
        named(&reps, &with_four)
    );
    let taken: Vec<&String> = with_four
        .iter()
        .filter(|(_, i)| **i == fourth)
        .map(|(d, _)| d)
        .collect();
    assert!(
        !taken.is_empty(),
        "r4 took no lease: {with_four:?}\n{}",
        reps.logs()
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (terminated, status) = reps.terminate(fourth);
    assert!(status.success(), "r4: {status}\n{}", reps.log(fourth));
    let after = reps.wait_balanced(&ids, Duration::from_secs(15)).await;
    eprintln!(
        "join-leave: r4 SIGTERMed at {}, leases balanced over three {:.3} s later: {}",
        terminated.format("%H:%M:%S%.3f"),
        secs_between(terminated, Utc::now()),
        named(&reps, &after)
    );
    cast.wait_closing(&reps, "e", WAIT).await;

    // The gaps, by /healthz, and the moves, by the logs.
    let handed = reps.log_lines(fourth, "handed back leases");
    eprintln!(
        "join-leave: r4 logged {:?}",
        handed.iter().map(|l| l.line.clone()).collect::<Vec<_>>()
    );
    let handed_at = handed.first().map(|l| l.at);
    for id in &ids {
        print_changes("join-leave", &watch, &reps, id, joined);
        for i in 0..reps.len() {
            for l in reps.took(i, Some(id)).iter().filter(|l| l.at > joined) {
                eprintln!(
                    "join-leave: {id}: {} took it at {} ({:.3} s after r4 started, {:+.3} s from \
                     the SIGTERM{})",
                    reps.list[i].name,
                    l.at.format("%H:%M:%S%.3f"),
                    secs_between(joined, l.at),
                    secs_between(terminated, l.at),
                    handed_at.map_or(String::new(), |h| format!(
                        ", {:+.3} s from r4's hand-back",
                        secs_between(h, l.at)
                    )),
                );
            }
        }
    }
    let limit = (timing.renew + Duration::from_secs(2)).as_secs_f64();
    for id in &ids {
        for g in watch.gaps(id, joined) {
            assert!(
                g.seconds() <= limit,
                "{id}: no holder for {:.3} s (from {} to {}, {:?} -> {}), more than renew + 2 s\n{}",
                g.seconds(),
                g.from,
                g.to,
                g.before,
                reps.list[g.after].name,
                reps.logs()
            );
        }
        assert!(
            watch.doubles(id).is_empty(),
            "{id} claimed by two replicas at once at {:?}",
            watch.doubles(id)
        );
    }
    // The live debate never moved, and went out whole.
    assert!(
        watch.changes("e", joined).is_empty(),
        "the live debate moved: {:?}",
        watch.changes("e", joined)
    );
    let (matrix, irc) = posts(&mut cast, &reps, "e").await;
    let report = || {
        format!(
            "Matrix:\n{}\nIRC:\n{}\n{}",
            show(&matrix),
            show(&irc),
            reps.logs()
        )
    };
    assert_eq!(
        question_counts(&matrix),
        once_each(6),
        "Matrix\n{}",
        report()
    );
    assert_eq!(question_counts(&irc), once_each(6), "IRC\n{}", report());
    assert!(
        irc.iter().all(|s| sender(&reps, s) == live_holder),
        "the live debate was posted by another than {}\n{}",
        reps.list[live_holder].name,
        report()
    );
    for i in 0..3 {
        let (_, status) = reps.terminate(i);
        assert!(
            status.success(),
            "{}: {status}\n{}",
            reps.list[i].name,
            reps.log(i)
        );
    }
}
