#![recursion_limit = "256"]
//! `podium run` on a Synapse with Synapse's default rate limits (its own
//! Synapse, started by scripts/synapse-up.sh with
//! `SYNAPSE_RATE_LIMITS=default`): a burst of posts across 20 rooms is all
//! delivered, each room's in order, each question once, without an error
//! loop.
//!
//! Only the bot is rate limited. The test's own user is an admin that lifts
//! its own limits (the admin API's `override_ratelimit`), creates the rooms
//! and joins the bot to them through the admin API, which is not rate
//! limited either: with the defaults, creating 20 rooms (`rc_room_creation`,
//! 10 then one a minute) and the bot joining them (`rc_joins`, 10 then one
//! every 10 s, each join also taking an `rc_message` token) would take
//! minutes before the first post. Both users are registered by the script
//! with the shared secret, which `rc_registration` does not limit, and log
//! in once each (`rc_login` allows 5 at once).

#[path = "support/matrix.rs"]
mod matrix_support;
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use matrix_support::{
    Person, Podium, log_field, posts_of, question_counts, start_synapse_with_users, strip_ansi,
    unique,
};
use serde_json::Value;

/// Sizing. Synapse's default `rc_message` lets a user send 10 events at
/// once, then one every 5 s (0.2/s). Every room posts its intro and Q1 at
/// the start (40 posts at once); every other room also asks Q2 70 s later
/// (10 posts), when the first posts that waited out a minute of rate
/// limits have been handed back to the engine for a retry, so a room with
/// a post waiting for its retry gets a new post due. 50 posts need at
/// least 10 + 40 × 5 s = 200 s after the start; with the setup (about
/// 30 s) the test takes about four minutes. Every room posting Q2 would
/// make it 250 s, and the test over five minutes.
const ROOMS: usize = 20;
const Q2_AT_S: i64 = 70;
/// From starting `podium run` to the debates' start: its login, joining
/// (already joined: no rate limit) and first sync.
const LEAD_S: i64 = 15;
/// How long the posts may take to arrive before the test fails.
const DEADLINE: Duration = Duration::from_secs(330);
/// A post fails over to the engine after 60 s of rate limits and is tried
/// again 30 s later: at most one failure per 90 s. The backlog drains in
/// about 200 s, so a post should fail two or three times at most; more
/// than four is an error loop.
const MOST_FAILURES_PER_POST: usize = 4;

fn body(m: &Value) -> &str {
    m["content"]["body"].as_str().unwrap_or("")
}

/// What a bot post is: `intro`, `Q1`, `Q2`..., or its first words.
fn kind_of(m: &Value) -> String {
    let b = body(m);
    if b.contains("” starts now") {
        "intro".into()
    } else if let Some((q, _)) = b.split_once(':')
        && q.starts_with('Q')
    {
        q.to_owned()
    } else {
        b.chars().take(30).collect()
    }
}

fn schedule(rooms: &[String], start: chrono::DateTime<chrono::Utc>) -> String {
    let local = start.with_timezone(&chrono_tz::Europe::London);
    let mut yaml = String::from("timezone: Europe/London\ndebates:\n");
    for (i, room) in rooms.iter().enumerate() {
        yaml.push_str(&format!(
            "  - id: burst{i}\n    title: Burst {i}\n    starts: {}\n    duration: 30m\n\
             \x20   remind: []\n    rooms: [\"{room}\"]\n    questions:\n\
             \x20     - {{text: First question in room {i}?, at: 0s}}\n",
            local.format("%Y-%m-%d %H:%M:%S")
        ));
        if i.is_multiple_of(2) {
            yaml.push_str(&format!(
                "      - {{text: Second question in room {i}?, at: {Q2_AT_S}s}}\n"
            ));
        }
    }
    yaml
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_across_twenty_rooms_is_delivered_in_order_under_default_rate_limits() {
    let began = Instant::now();
    let synapse = start_synapse_with_users(
        "default",
        "admin:adminpass:admin ratebot:ratebot-password:user",
    );
    let url = synapse.url.as_str();
    let bot = "@ratebot:localhost";
    let admin = Person::login(url, "admin", "adminpass").await;
    admin.unlimit(url, admin.user.as_str()).await;

    let mut aliases = Vec::new();
    let mut rooms = Vec::new();
    for i in 0..ROOMS {
        let local = unique(&format!("burst{i}-"));
        let room = admin.create_room(&local, &[], false).await;
        admin.force_join(url, bot, room.room_id().as_str()).await;
        aliases.push(format!("#{local}:localhost"));
        rooms.push(room);
    }

    let now = chrono::Utc::now();
    let start = now + chrono::Duration::seconds(LEAD_S)
        - chrono::Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos()));
    let mut podium = Podium::on(url, bot, "ratebot-password", &schedule(&aliases, start));
    podium.start();
    eprintln!(
        "setup took {:.1} s; the debates start at {start}",
        began.elapsed().as_secs_f64()
    );

    // Wait until every room has all its posts (or the deadline).
    let expected = |i: usize| if i.is_multiple_of(2) { 3 } else { 2 };
    let waiting = Instant::now();
    let all: Vec<Vec<Value>> = loop {
        let mut all = Vec::new();
        for room in &rooms {
            all.push(admin.messages(room).await);
        }
        let done = all
            .iter()
            .enumerate()
            .all(|(i, ms)| posts_of(ms, bot).len() >= expected(i));
        if done || waiting.elapsed() > DEADLINE {
            break all;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    };
    let status = podium.terminate();
    let log = strip_ansi(&podium.log());
    let start_ms = start.timestamp_millis();

    // Each room: its posts, in the order the room has them, with when
    // they arrived (seconds after the start).
    let mut report = String::new();
    let mut last_ms = 0;
    for (i, ms) in all.iter().enumerate() {
        let line: Vec<String> = posts_of(ms, bot)
            .iter()
            .map(|m| {
                let ts = m["origin_server_ts"].as_i64().unwrap_or(0);
                last_ms = last_ms.max(ts);
                format!("{} +{:.1}s", kind_of(m), (ts - start_ms) as f64 / 1000.0)
            })
            .collect();
        report.push_str(&format!("room {i:2}: {}\n", line.join(", ")));
    }
    // How often each post failed over to the engine.
    let mut failures: HashMap<(String, String, String), usize> = HashMap::new();
    for line in log
        .lines()
        .filter(|l| l.contains("sending failed; will retry"))
    {
        let key = (
            log_field(line, "room").unwrap_or("").to_owned(),
            log_field(line, "kind").unwrap_or("").to_owned(),
            log_field(line, "seq").unwrap_or("").to_owned(),
        );
        *failures.entry(key).or_default() += 1;
    }
    let waits = log
        .lines()
        .filter(|l| l.contains("rate limited; waiting"))
        .count();
    let worst = failures.values().copied().max().unwrap_or(0);
    eprintln!(
        "{report}last post +{:.1} s after the start; {waits} rate-limit waits; \
         {} failovers to the engine over {} posts, at most {worst} for one post; \
         the test took {:.0} s",
        (last_ms - start_ms) as f64 / 1000.0,
        failures.values().sum::<usize>(),
        failures.len(),
        began.elapsed().as_secs_f64()
    );
    // Podium's own account of each post, without the rate-limit waits.
    let story: String = log
        .lines()
        .filter(|l| {
            l.contains(" posted ") || l.contains("sending failed") || l.contains("giving up")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    eprintln!("{story}");
    let context = || format!("{report}\n{story}");

    assert!(status.success(), "{status}\n{}", context());
    let mut wrong = Vec::new();
    for (i, ms) in all.iter().enumerate() {
        let posts = posts_of(ms, bot);
        let kinds: Vec<String> = posts.iter().map(|m| kind_of(m)).collect();
        let want: &[&str] = if i.is_multiple_of(2) {
            &["intro", "Q1", "Q2"]
        } else {
            &["intro", "Q1"]
        };
        if kinds != want || question_counts(&posts).iter().any(|(_, c)| *c != 1) {
            wrong.push(format!("room {i}: {kinds:?}, want {want:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "posts missing, repeated or out of order in {} rooms:\n{}\n\n{}",
        wrong.len(),
        wrong.join("\n"),
        context()
    );
    assert!(
        !log.contains("giving up"),
        "Podium gave up on a post\n{}",
        context()
    );
    assert!(
        worst <= MOST_FAILURES_PER_POST,
        "a post failed {worst} times (an error loop?): {failures:?}\n{}",
        context()
    );
}
