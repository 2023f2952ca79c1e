#![recursion_limit = "256"]
//! Podium's promises under crashes and outages, on a real Synapse (see
//! tests/support/matrix.rs), in real time:
//!
//! - `podium run` is SIGKILLed at many points of a 75-second debate and
//!   started again at once each time (same data dir): around the due times
//!   of the intro, every question and the closing (between claiming a post
//!   and sending it is a window of milliseconds, so the kills land at
//!   random offsets around the due times and the test reports which window
//!   each one hit), while the restarted bot catches up, in the middle of a
//!   burst of answers, and just after a burst (a sync response received but
//!   not yet committed). Participants keep answering throughout, also while
//!   the bot is down (once with more messages than one sync carries).
//!   Afterwards every question is in the room exactly once, and the intro,
//!   the closing and the transcript link once each; every answer sent is in
//!   the transcript exactly once, under the right question.
//! - The homeserver is stopped for 30 seconds mid-debate (a Synapse of its
//!   own, so no other test sees the outage): the bot keeps running, posts
//!   what fell due during the outage once Synapse is back, and collects
//!   every answer, also those sent (and retried) while it was down.
//!
//! The offsets of the kills are random: the seed is printed, and
//! `PODIUM_CRASH_SEED=N` repeats a run's offsets.

#[path = "support/matrix.rs"]
mod matrix_support;
mod support;

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use matrix_sdk::config::RequestConfig;
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use matrix_sdk::ruma::{OwnedEventId, OwnedTransactionId};
use podium::store::{PostKind, PostRow, PostStatus, Store};
use serde_json::Value;

use matrix_support::{
    Person, Podium, bodies, posts_of, question_counts, start_named_synapse, synapse, unique,
};
use support::WAIT;

type Room = matrix_sdk::Room;

/// The closing every debate here ends with.
const CLOSING: &str = "That is all for today, thank you!";

/// A schedule of one debate `id` in `room` starting at `start` (a whole
/// second), lasting `seconds`, with a reminder 5 s before and questions
/// "Question N?" at the offsets `at` (seconds).
fn debate_yaml(
    id: &str,
    title: &str,
    room: &str,
    organiser: &str,
    start: DateTime<Utc>,
    seconds: i64,
    at: &[i64],
) -> String {
    let local = start.with_timezone(&chrono_tz::Europe::London);
    let mut yaml = format!(
        "timezone: Europe/London\nzones: [Europe/London, America/New_York]\n\
         debates:\n  - id: {id}\n    title: {title}\n    starts: {}\n    duration: {seconds}s\n\
         \x20   remind: [5s]\n    rooms: [\"{room}\"]\n    organisers: [\"{organiser}\"]\n\
         \x20   closing: {CLOSING}\n    questions:\n",
        local.format("%Y-%m-%d %H:%M:%S")
    );
    for (i, s) in at.iter().enumerate() {
        writeln!(yaml, "      - {{text: Question {}?, at: {s}s}}", i + 1).unwrap();
    }
    yaml
}

/// The whole second `secs` seconds from now (schedules start on a second).
fn start_in(secs: i64) -> DateTime<Utc> {
    (Utc::now() + chrono::Duration::seconds(secs)).trunc_subsecs(0)
}

fn ms(n: i64) -> chrono::Duration {
    chrono::Duration::milliseconds(n)
}

async fn sleep_until(at: DateTime<Utc>) {
    if let Ok(d) = (at - Utc::now()).to_std() {
        tokio::time::sleep(d).await;
    }
}

/// Kill offsets: splitmix64, seeded from the clock or `PODIUM_CRASH_SEED`.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("PODIUM_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        eprintln!("crash test: seed {seed} (PODIUM_CRASH_SEED={seed} repeats these offsets)");
        Rng(seed)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        lo + (z % (hi - lo + 1) as u64) as i64
    }
}

/// The bot, an organiser (who made the room) and two participants.
struct Debaters {
    bot: Person,
    host: Person,
    bob: Person,
    carol: Person,
    bob_room: Room,
    carol_room: Room,
    alias: String,
}

async fn debaters(url: &str) -> Debaters {
    let (bot, host, bob, carol) = tokio::join!(
        Person::register(url, "podium"),
        Person::register(url, "host"),
        Person::register(url, "bob"),
        Person::register(url, "carol"),
    );
    let local = unique("crash");
    let room = host
        .create_room(&local, &[&bot.user, &bob.user, &carol.user], false)
        .await;
    let alias = format!("#{local}:localhost");
    let bob_room = bob.join(&alias).await;
    let carol_room = carol.join(&alias).await;
    assert_eq!(bob_room.room_id(), room.room_id());
    Debaters {
        bot,
        host,
        bob,
        carol,
        bob_room,
        carol_room,
        alias,
    }
}

fn body(m: &Value) -> &str {
    m["content"]["body"].as_str().unwrap_or("")
}

fn event_id(m: &Value) -> OwnedEventId {
    m["event_id"].as_str().unwrap().try_into().unwrap()
}

fn server_ts(m: &Value) -> i64 {
    m["origin_server_ts"].as_i64().unwrap_or(0)
}

/// A post of the time line that a kill may interrupt.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Post {
    Intro,
    Q(u32),
    Closing,
    Link,
}

impl Post {
    fn kind_seq(self) -> (PostKind, i64) {
        match self {
            Post::Intro => (PostKind::Intro, 0),
            Post::Q(n) => (PostKind::Question, i64::from(n)),
            Post::Closing => (PostKind::Closing, 0),
            Post::Link => (PostKind::Transcript, 0),
        }
    }

    /// Whether a bot post's body is this post.
    fn is(self, body: &str) -> bool {
        match self {
            Post::Intro => body.contains("” starts now: "),
            Post::Q(n) => body.starts_with(&format!("Q{n}:")),
            Post::Closing => body.starts_with(CLOSING),
            Post::Link => body.starts_with("The transcript of "),
        }
    }

    fn name(self) -> String {
        match self {
            Post::Intro => "intro".into(),
            Post::Q(n) => format!("Q{n}"),
            Post::Closing => "closing".into(),
            Post::Link => "link".into(),
        }
    }
}

/// What the database held when a run was killed.
#[derive(Default)]
struct Snapshot {
    posts: Vec<PostRow>,
    replies: usize,
    error: Option<String>,
}

impl Snapshot {
    fn status(&self, p: Post) -> Option<PostStatus> {
        let (kind, seq) = p.kind_seq();
        self.posts
            .iter()
            .find(|r| r.kind == kind && r.seq == seq)
            .map(|r| r.status)
    }
}

/// The store of `data`, read as `podium transcript` reads it (read-only,
/// beside a running bot or after a crash).
async fn snapshot(data: &Path, debate: &str) -> Snapshot {
    let read = async {
        let store = Store::open_read_only(data).await?;
        let Some(occ) = store.occurrences_of(debate).await?.into_iter().next() else {
            return Ok::<_, podium::store::StoreError>(Snapshot::default());
        };
        Ok(Snapshot {
            posts: store.posts(occ.id).await?,
            replies: store.replies(occ.id).await?.len(),
            error: None,
        })
    };
    read.await.unwrap_or_else(|e| Snapshot {
        error: Some(e.to_string()),
        ..Snapshot::default()
    })
}

/// An answer a participant sent, and the question it must be filed under.
struct Answer {
    author: String,
    body: String,
    question: u32,
    /// When the homeserver had taken it (its send returned).
    accepted: DateTime<Utc>,
}

/// Everything wrong with transcript `t`, given the answers sent: each must
/// be there exactly once, under its question, and nothing else may be.
fn transcript_problems(t: &Value, sent: &[Answer]) -> Vec<String> {
    let mut found: Vec<(u64, String, String)> = Vec::new();
    let mut add = |n: u64, list: &Value| {
        for r in list.as_array().into_iter().flatten() {
            found.push((
                n,
                r["author_id"].as_str().unwrap_or("").to_owned(),
                r["body"].as_str().unwrap_or("").to_owned(),
            ));
        }
    };
    for q in t["questions"].as_array().into_iter().flatten() {
        add(q["number"].as_u64().unwrap_or(0), &q["replies"]);
    }
    add(0, &t["unattributed"]);
    let mut problems = Vec::new();
    for a in sent {
        let hits: Vec<u64> = found
            .iter()
            .filter(|(_, author, body)| *author == a.author && *body == a.body)
            .map(|(n, _, _)| *n)
            .collect();
        match hits.as_slice() {
            [n] if *n == u64::from(a.question) => {}
            [] => problems.push(format!("missing: {} {:?}", a.author, a.body)),
            [n] => problems.push(format!(
                "under Q{n} instead of Q{}: {:?}",
                a.question, a.body
            )),
            many => problems.push(format!("{} times: {:?}", many.len(), a.body)),
        }
    }
    for (n, author, body) in &found {
        if !sent.iter().any(|a| a.author == *author && a.body == *body) {
            problems.push(format!("never sent, but under Q{n}: {author} {body:?}"));
        }
    }
    problems
}

/// Waits (up to `WAIT`) until every answer sent is in the transcript;
/// returns what is still wrong then.
async fn wait_for_transcript(podium: &Podium, debate: &str, sent: &[Answer]) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let problems = transcript_problems(&podium.transcript(debate), sent);
        if problems.is_empty() || Instant::now() > deadline {
            return problems;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Waits for the bot's post starting with `prefix`; returns it and all the
/// room's messages.
async fn wait_post(who: &Person, room: &Room, bot: &str, prefix: &str) -> (Value, Vec<Value>) {
    let messages = who
        .wait_for_messages(room, prefix, |ms| {
            posts_of(ms, bot)
                .iter()
                .any(|m| body(m).starts_with(prefix))
        })
        .await;
    let post = posts_of(&messages, bot)
        .into_iter()
        .find(|m| body(m).starts_with(prefix))
        .cloned()
        .unwrap();
    (post, messages)
}

/// How often each kind of bot post is in the room.
fn count_posts(posts: &[&Value], p: impl Fn(&str) -> bool) -> usize {
    posts.iter().filter(|m| p(body(m))).count()
}

/// One SIGKILL and what the database held at that moment.
struct Kill {
    what: String,
    run: u32,
    /// The killed run's log, without colours.
    log: String,
    at: DateTime<Utc>,
    /// The due time it aimed at, if any.
    due: Option<DateTime<Utc>>,
    /// Posts due around then.
    targets: Vec<Post>,
    snap: Snapshot,
    answers_sent: usize,
    restarted: Option<DateTime<Utc>>,
}

/// The log of the bot's run `run` (counted from 1) so far.
fn run_log(podium: &Podium, run: u32) -> String {
    std::fs::read_to_string(podium.dir.path().join(format!("run-{run}.log"))).unwrap_or_default()
}

/// The bot under test, its kills, and the answers sent to it.
struct Driver {
    podium: Podium,
    debate: &'static str,
    kills: Vec<Kill>,
    sent: Vec<Answer>,
}

impl Driver {
    /// SIGKILL now; records what the database held.
    async fn kill(&mut self, what: &str, due: Option<DateTime<Utc>>, targets: &[Post]) {
        assert!(
            self.podium.is_running(),
            "podium run exited by itself before {what}\n{}",
            self.podium.logs()
        );
        let run = self.podium.runs();
        let at = Utc::now();
        self.podium.kill();
        let snap = snapshot(&self.podium.data, self.debate).await;
        self.kills.push(Kill {
            what: what.to_owned(),
            run,
            log: without_colours(&run_log(&self.podium, run)),
            at,
            due,
            targets: targets.to_vec(),
            snap,
            answers_sent: self.sent.len(),
            restarted: None,
        });
    }

    /// SIGKILL at `due + offset`.
    async fn kill_at(&mut self, what: &str, due: DateTime<Utc>, offset: i64, targets: &[Post]) {
        sleep_until(due + ms(offset)).await;
        self.kill(what, Some(due), targets).await;
    }

    /// SIGKILL `delay` ms after the current run says it is running (its
    /// engine then catches up at once with what fell due).
    async fn kill_when_running(&mut self, what: &str, delay: i64, targets: &[Post]) {
        let run = self.podium.runs();
        let deadline = Instant::now() + WAIT;
        while !run_log(&self.podium, run).contains("podium is running") {
            assert!(
                Instant::now() < deadline,
                "run #{run} never got going\n{}",
                self.podium.logs()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(delay.unsigned_abs())).await;
        self.kill(what, None, targets).await;
    }

    fn restart(&mut self) {
        if let Some(k) = self.kills.last_mut() {
            k.restarted.get_or_insert_with(Utc::now);
        }
        self.podium.start();
    }

    /// An answer `who` sent (accepted now), due under `question`.
    fn expect(&mut self, who: &Person, body: &str, question: u32) {
        self.expect_at(who, body, question, Utc::now());
    }

    fn expect_at(&mut self, who: &Person, body: &str, question: u32, accepted: DateTime<Utc>) {
        self.sent.push(Answer {
            author: who.user.to_string(),
            body: body.to_owned(),
            question,
            accepted,
        });
    }

    async fn say(&mut self, who: &Person, room: &Room, body: &str, question: u32) {
        who.say(room, body).await;
        self.expect(who, body, question);
    }

    async fn reply(&mut self, who: &Person, room: &Room, to: &Value, body: &str, question: u32) {
        who.reply(room, &event_id(to), body).await;
        self.expect(who, body, question);
    }

    async fn in_thread(&mut self, who: &Person, room: &Room, root: &Value, body: &str, q: u32) {
        who.in_thread(room, &event_id(root), body).await;
        self.expect(who, body, q);
    }

    /// Waits until the store has `p` as sent (so an untagged answer sent
    /// from now on has it as the latest question).
    async fn wait_sent(&self, p: Post) {
        let deadline = Instant::now() + WAIT;
        while snapshot(&self.podium.data, self.debate).await.status(p) != Some(PostStatus::Sent) {
            assert!(Instant::now() < deadline, "{p:?} never marked sent");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `text` without ANSI colour sequences (the log is coloured).
fn without_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
        } else if chars.next() == Some('[') {
            for d in chars.by_ref() {
                if ('@'..='~').contains(&d) {
                    break;
                }
            }
        }
    }
    out
}

/// The instants of the log lines that contain every one of `needles`.
fn log_times(log: &str, needles: &[&str]) -> Vec<DateTime<Utc>> {
    log.lines()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .filter_map(|l| l.split(' ').next()?.parse::<DateTime<Utc>>().ok())
        .collect()
}

/// Which window a kill hit for post `p`: told by the database at the kill,
/// the killed run's log (matrix-sdk logs each request) and whether the
/// post reached the room before the restart.
fn window(kill: &Kill, p: Post, messages: &[Value], bot: &str) -> String {
    let (kind, seq) = p.kind_seq();
    let row = kill
        .snap
        .posts
        .iter()
        .find(|r| r.kind == kind && r.seq == seq);
    match row.map(|r| (r.id, r.status)) {
        None if kill.snap.error.is_some() => format!(
            "unknown (database unreadable: {})",
            kill.snap.error.as_deref().unwrap_or("")
        ),
        None => "not yet claimed".into(),
        Some((_, PostStatus::Sent)) => "sent and confirmed".into(),
        Some((id, PostStatus::Sending)) => {
            let txn = format!("/send/m.room.message/podium-{id}\"");
            let requested = !log_times(&kill.log, &[&txn, "Sending request"]).is_empty();
            let reached = posts_of(messages, bot)
                .iter()
                .find(|m| p.is(body(m)))
                .map(|m| server_ts(m));
            let restarted = kill.restarted.map_or(i64::MAX, |t| t.timestamp_millis());
            match (requested, reached) {
                (_, Some(ts)) if ts < restarted => {
                    "sent, reached Synapse, not yet confirmed (claim then sent again: deduplicated)"
                        .into()
                }
                (true, _) => "sent, not in the room before the restart (sent again by it)".into(),
                (false, _) => "claimed, not yet sent (sent by the restart)".into(),
            }
        }
        Some((_, other)) => format!("left as {other:?}"),
    }
}

/// Where a kill left the answers: how many were committed, and whether the
/// first uncommitted one had been received (a sync response came after
/// the homeserver took it).
fn answers_window(kill: &Kill, sent: &[Answer]) -> String {
    let (committed, n) = (kill.snap.replies, kill.answers_sent);
    let Some(first) = sent.get(committed).filter(|_| committed < n) else {
        return format!("all {n} answers committed");
    };
    let responses = log_times(&kill.log, &["/_matrix/client/v3/sync", "Got response"]);
    match responses.iter().find(|t| **t > first.accepted) {
        Some(t) => format!(
            "{committed}/{n} answers committed; a sync response came {} ms after the first \
             uncommitted one was sent: received, not committed",
            (*t - first.accepted).num_milliseconds()
        ),
        None => format!("{committed}/{n} answers committed; the rest not yet received"),
    }
}

/// Kills around every due time, during and just after bursts of answers,
/// and while the restarted bot catches up; participants answer all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_at_any_moment_podium_posts_once_and_loses_no_answer() {
    let test_began = Instant::now();
    let d = debaters(&synapse().url).await;
    let (bob, carol) = (&d.bob, &d.carol);
    let (bob_room, carol_room) = (&d.bob_room, &d.carol_room);
    let bot = d.bot.user.to_string();
    let start = start_in(20);
    let due = |s: i64| start + chrono::Duration::seconds(s);
    let yaml = debate_yaml(
        "crash",
        "Crash test",
        &d.alias,
        d.host.user.as_str(),
        start,
        75,
        &[0, 15, 30, 45, 60],
    );
    let mut podium = Podium::new(&d.bot, &yaml);
    podium.env("PODIUM_ENGINE_LATE_GRACE", "15m");
    // matrix-sdk's request log tells which window a kill hit.
    podium.env(
        "RUST_LOG",
        "podium=debug,matrix_sdk::http_client=debug,warn",
    );
    podium.start();
    let mut rng = Rng::new();
    let mut t = Driver {
        podium,
        debate: "crash",
        kills: Vec::new(),
        sent: Vec::new(),
    };

    // The reminder: the bot is up.
    wait_post(bob, bob_room, &bot, "Reminder:").await;

    // The intro and Q1 fall due together.
    let off = rng.range(0, 20);
    let targets = [Post::Intro, Post::Q(1)];
    t.kill_at("at the start", due(0), off, &targets).await;
    t.restart();
    let (q1, _) = wait_post(bob, bob_room, &bot, "Q1:").await;
    t.say(bob, bob_room, "A1: listening comes first (bob)", 1)
        .await;
    t.reply(carol, carol_room, &q1, "carol, replying to Q1", 1)
        .await;
    t.wait_sent(Post::Q(1)).await;
    let body = "carol says something untagged while Q1 is the latest";
    t.say(carol, carol_room, body, 1).await;

    // In the middle of a burst of answers; the rest of it, and an untagged
    // answer, arrive while the bot is down.
    sleep_until(due(6)).await;
    for i in 1..=16 {
        t.say(bob, bob_room, &format!("A1: bob's burst {i}"), 1)
            .await;
        if i == 8 {
            t.kill("in a burst of answers", None, &[]).await;
        }
    }
    let body = "carol, untagged while the bot is down, Q1 still the latest";
    t.say(carol, carol_room, body, 1).await;
    t.restart();

    // At Q2's due time to the millisecond, then again as the restarted bot
    // catches up with it.
    t.kill_at("at Q2's due time", due(15), 0, &[Post::Q(2)])
        .await;
    t.restart();
    let delay = rng.range(0, 8);
    t.kill_when_running(&format!("{delay} ms into a restart"), delay, &[Post::Q(2)])
        .await;
    t.restart();
    let (q2, _) = wait_post(carol, carol_room, &bot, "Q2:").await;
    t.reply(carol, carol_room, &q2, "carol, replying to Q2", 2)
        .await;
    t.say(bob, bob_room, "A2: bob on the second question", 2)
        .await;

    // Just after a burst: its sync response received, perhaps not yet
    // committed. Then answers while the bot is down.
    sleep_until(due(21)).await;
    for i in 1..=10 {
        t.say(carol, carol_room, &format!("A2: carol's burst {i}"), 2)
            .await;
    }
    let delay = rng.range(0, 40);
    tokio::time::sleep(Duration::from_millis(delay.unsigned_abs())).await;
    t.kill(&format!("{delay} ms after a burst"), None, &[])
        .await;
    assert_eq!(
        t.kills.last().unwrap().snap.status(Post::Q(2)),
        Some(PostStatus::Sent)
    );
    t.say(bob, bob_room, "A2: bob, tagged, while the bot is down", 2)
        .await;
    let body = "bob, untagged while the bot is down, Q2 the latest";
    t.say(bob, bob_room, body, 2).await;
    t.restart();

    // Around Q3's due time.
    let off = rng.range(-5, 40);
    t.kill_at("around Q3", due(30), off, &[Post::Q(3)]).await;
    t.restart();
    wait_post(bob, bob_room, &bot, "Q3:").await;
    t.say(bob, bob_room, "A3: bob on the third", 3).await;
    t.wait_sent(Post::Q(3)).await;
    let body = "carol, untagged while Q3 is the latest";
    t.say(carol, carol_room, body, 3).await;

    // Just after another burst.
    sleep_until(due(37)).await;
    for i in 1..=6 {
        t.say(bob, bob_room, &format!("A3: bob's second burst {i}"), 3)
            .await;
    }
    let delay = rng.range(0, 25);
    tokio::time::sleep(Duration::from_millis(delay.unsigned_abs())).await;
    t.kill(&format!("{delay} ms after a burst"), None, &[])
        .await;
    t.restart();

    // Around Q4's due time; while the bot is down, more answers than one
    // sync response carries (the restarted bot fills the gap).
    let off = rng.range(-5, 40);
    t.kill_at("around Q4", due(45), off, &[Post::Q(4)]).await;
    let mut flood = Vec::new();
    for w in 0..5 {
        let (bob, room) = (bob.clone(), bob_room.clone());
        flood.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for i in 0..21 {
                let body = format!("A4: flood {w}-{i}");
                bob.say(&room, &body).await;
                sent.push((body, Utc::now()));
            }
            sent
        }));
    }
    let mut flooded = Vec::new();
    for f in flood {
        flooded.extend(f.await.expect("flood"));
    }
    flooded.sort_by_key(|(_, at)| *at);
    for (body, at) in flooded {
        t.expect_at(bob, &body, 4, at);
    }
    let body = "A3: carol, tagged for Q3 while the bot is down";
    t.say(carol, carol_room, body, 3).await;
    t.restart();
    // Again as the restarted bot takes in all that (its sync fills a gap
    // with /messages) and catches up with Q4.
    let delay = rng.range(5, 80);
    t.kill_when_running(&format!("{delay} ms into a restart"), delay, &[Post::Q(4)])
        .await;
    t.restart();
    let (q4, _) = wait_post(carol, carol_room, &bot, "Q4:").await;
    t.reply(carol, carol_room, &q4, "carol, replying to Q4", 4)
        .await;

    // Around Q5's due time.
    let off = rng.range(-5, 40);
    t.kill_at("around Q5", due(60), off, &[Post::Q(5)]).await;
    t.restart();
    let (q5, _) = wait_post(bob, bob_room, &bot, "Q5:").await;
    t.say(bob, bob_room, "A5: bob on the last question", 5)
        .await;
    t.in_thread(carol, carol_room, &q5, "carol, in the thread of Q5", 5)
        .await;

    // Around the closing and the transcript link (due together); an answer
    // sent as the debate closes, while the bot is down.
    let off = rng.range(-5, 40);
    let targets = [Post::Closing, Post::Link];
    t.kill_at("around the closing", due(75), off, &targets)
        .await;
    let body = "A5: carol, as the debate closes, while the bot is down";
    t.say(carol, carol_room, body, 5).await;
    t.restart();

    wait_post(bob, bob_room, &bot, "The transcript of ").await;
    let waited = wait_for_transcript(&t.podium, "crash", &t.sent).await;
    let status = t.podium.terminate();
    assert!(status.success(), "{status}\n{}", t.podium.logs());
    let messages = bob.messages(bob_room).await;
    let report = || {
        format!(
            "room:\n{}\n{}",
            bodies(&messages).join("\n"),
            t.podium.logs()
        )
    };

    // Which window each kill hit.
    let mut summary = String::new();
    let mut tally: Vec<(String, usize)> = Vec::new();
    for (i, k) in t.kills.iter().enumerate() {
        let when = match k.due {
            Some(due) => format!("due{:+} ms", (k.at - due).num_milliseconds()),
            None => String::new(),
        };
        let restart_ms = k.restarted.map_or(0, |r| (r - k.at).num_milliseconds());
        write!(
            summary,
            "  kill {:>2} (run #{:>2}) {} {when}: {}",
            i + 1,
            k.run,
            k.what,
            answers_window(k, &t.sent),
        )
        .unwrap();
        for p in &k.targets {
            let w = window(k, *p, &messages, &bot);
            write!(summary, "; {}: {w}", p.name()).unwrap();
            match tally.iter_mut().find(|(name, _)| *name == w) {
                Some((_, n)) => *n += 1,
                None => tally.push((w, 1)),
            }
        }
        writeln!(summary, " (restarted {restart_ms} ms later)").unwrap();
    }
    eprintln!(
        "crash test: {} kills, {} answers, {:.0?} in all\n{summary}windows hit for the posts due around the kills:",
        t.kills.len(),
        t.sent.len(),
        test_began.elapsed()
    );
    for (w, n) in &tally {
        eprintln!("  {n} × {w}");
    }

    // Every post once.
    let posts = posts_of(&messages, &bot);
    assert_eq!(
        question_counts(&posts),
        [(1, 1), (2, 1), (3, 1), (4, 1), (5, 1)],
        "{}",
        report()
    );
    for (what, p) in [
        (
            "reminder",
            Box::new(|b: &str| b.starts_with("Reminder:")) as Box<dyn Fn(&str) -> bool>,
        ),
        ("intro", Box::new(|b: &str| Post::Intro.is(b))),
        ("closing", Box::new(|b: &str| Post::Closing.is(b))),
        ("transcript link", Box::new(|b: &str| Post::Link.is(b))),
    ] {
        assert_eq!(count_posts(&posts, p), 1, "the {what}:\n{}", report());
    }
    assert_eq!(posts.len(), 9, "nothing else is posted\n{}", report());
    // Every restart came within seconds: nothing was late enough to say so.
    assert_eq!(
        count_posts(&posts, |b| b.contains("(posted late")),
        0,
        "{}",
        report()
    );

    // Every answer once, under its question.
    let transcript = t.podium.transcript("crash");
    let problems = transcript_problems(&transcript, &t.sent);
    assert!(
        problems.is_empty(),
        "the transcript is wrong:\n{}\n(after waiting: {} problems)\n{transcript:#}\n{}",
        problems.join("\n"),
        waited.len(),
        report()
    );
}

/// `body` sent as `txn` until the homeserver takes it: the same transaction
/// id each time, so a try that reached it is never posted twice.
async fn send_until_accepted(room: Room, body: String, txn: String) -> OwnedEventId {
    let txn = OwnedTransactionId::from(txn.as_str());
    let config = RequestConfig::new()
        .disable_retry()
        .timeout(Duration::from_secs(5));
    let deadline = Instant::now() + WAIT * 2;
    loop {
        let content = RoomMessageEventContent::text_plain(&body);
        let sent = room
            .send(content)
            .with_transaction_id(txn.clone())
            .with_request_config(config)
            .await;
        match sent {
            Ok(r) => return r.response.event_id,
            Err(e) => assert!(
                Instant::now() < deadline,
                "{body:?} was never accepted: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Synapse stopped for 30 s mid-debate: the bot keeps running, posts what
/// fell due meanwhile once it is back, and collects every answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_synapse_outage_mid_debate_loses_nothing() {
    let test_began = Instant::now();
    let synapse = start_named_synapse("outage", "relaxed");
    let d = debaters(&synapse.url).await;
    let (bob, carol) = (&d.bob, &d.carol);
    let (bob_room, carol_room) = (&d.bob_room, &d.carol_room);
    let bot = d.bot.user.to_string();
    let start = start_in(15);
    let due = |s: i64| start + chrono::Duration::seconds(s);
    let yaml = debate_yaml(
        "outage",
        "Outage test",
        &d.alias,
        d.host.user.as_str(),
        start,
        90,
        &[0, 20, 65],
    );
    let mut podium = Podium::new(&d.bot, &yaml);
    podium.env("PODIUM_MATRIX_HOMESERVER", &synapse.url);
    podium.env("PODIUM_ENGINE_LATE_GRACE", "15m");
    podium.start();
    let mut t = Driver {
        podium,
        debate: "outage",
        kills: Vec::new(),
        sent: Vec::new(),
    };

    // Q1, answered before the outage.
    let (q1, _) = wait_post(bob, bob_room, &bot, "Q1:").await;
    t.say(bob, bob_room, "A1: bob, before the outage", 1).await;
    t.reply(
        carol,
        carol_room,
        &q1,
        "carol, replying to Q1 before the outage",
        1,
    )
    .await;

    // Synapse goes away for 30 s; Q2 falls due meanwhile.
    sleep_until(due(3)).await;
    synapse.stop();
    let stopped = Utc::now();
    eprintln!(
        "outage test: Synapse stopped at start{:+} ms",
        (stopped - start).num_milliseconds()
    );
    // Participants answer during the outage; their clients retry.
    let during = [
        (
            bob,
            bob_room,
            "A2: bob, sent while the homeserver was down",
            2,
        ),
        (
            carol,
            carol_room,
            "A1: carol, sent while the homeserver was down",
            1,
        ),
    ];
    let mut retrying = Vec::new();
    for (i, (who, room, body, q)) in during.iter().enumerate() {
        let send = send_until_accepted(
            (*room).clone(),
            (*body).to_owned(),
            format!("outage-{i}-{}", unique("txn")),
        );
        retrying.push((*who, *body, *q, tokio::spawn(send)));
    }
    while Utc::now() < stopped + chrono::Duration::seconds(30) {
        assert!(
            t.podium.is_running(),
            "podium run exited during the outage\n{}",
            t.podium.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    synapse.start_again("relaxed");
    let back = Utc::now();
    eprintln!(
        "outage test: Synapse back at start{:+} ms, after {} ms",
        (back - start).num_milliseconds(),
        (back - stopped).num_milliseconds()
    );
    assert!(t.podium.is_running(), "{}", t.podium.logs());
    for (who, body, q, sending) in retrying {
        sending.await.expect("a send during the outage");
        t.expect(who, body, q);
    }

    // What fell due during the outage is posted now.
    let (q2, _) = wait_post(carol, carol_room, &bot, "Q2:").await;
    t.reply(
        carol,
        carol_room,
        &q2,
        "carol, replying to Q2 after the outage",
        2,
    )
    .await;
    t.say(bob, bob_room, "A2: bob, after the homeserver came back", 2)
        .await;
    let (q3, _) = wait_post(bob, bob_room, &bot, "Q3:").await;
    t.say(bob, bob_room, "A3: bob on the last question", 3)
        .await;
    t.in_thread(carol, carol_room, &q3, "carol, in the thread of Q3", 3)
        .await;

    wait_post(bob, bob_room, &bot, "The transcript of ").await;
    let waited = wait_for_transcript(&t.podium, "outage", &t.sent).await;
    assert!(t.podium.is_running(), "{}", t.podium.logs());
    let status = t.podium.terminate();
    assert!(status.success(), "{status}\n{}", t.podium.logs());
    let messages = bob.messages(bob_room).await;
    let logs = t.podium.logs();
    let report = || format!("room:\n{}\n{logs}", bodies(&messages).join("\n"));

    let posts = posts_of(&messages, &bot);
    assert_eq!(
        question_counts(&posts),
        [(1, 1), (2, 1), (3, 1)],
        "{}",
        report()
    );
    for p in [Post::Intro, Post::Closing, Post::Link] {
        assert_eq!(count_posts(&posts, |b| p.is(b)), 1, "{p:?}\n{}", report());
    }
    // Q2 fell due during the outage and was posted after it.
    let q2_ts = server_ts(&q2);
    assert!(
        q2_ts >= back.timestamp_millis() - 1000 && due(20) < back,
        "Q2 at {q2_ts}, Synapse back at {back}\n{}",
        report()
    );
    eprintln!(
        "outage test: Q2 (due at start+20 s) posted at start{:+} ms: {:?}; {:.0?} in all",
        q2_ts - start.timestamp_millis(),
        body(&q2),
        test_began.elapsed()
    );
    let resumed = log_times(
        &without_colours(&logs),
        &["syncing with the homeserver again"],
    );
    eprintln!(
        "outage test: the bot synced again {:?} ms after Synapse was back",
        resumed
            .iter()
            .map(|t| (*t - back).num_milliseconds())
            .collect::<Vec<_>>()
    );
    for line in [
        "cannot sync with the homeserver",
        "syncing with the homeserver again",
        "sending failed; will retry",
    ] {
        assert!(logs.contains(line), "no `{line}` in the log\n{}", report());
    }

    let transcript = t.podium.transcript("outage");
    let problems = transcript_problems(&transcript, &t.sent);
    assert!(
        problems.is_empty(),
        "the transcript is wrong:\n{}\n(after waiting: {} problems)\n{transcript:#}\n{}",
        problems.join("\n"),
        waited.len(),
        report()
    );
    assert_eq!(t.podium.runs(), 1, "one run throughout");
}
