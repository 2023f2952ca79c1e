#![recursion_limit = "256"]
//! Podium on Matrix, against a local Synapse (scripts/synapse-up.sh,
//! relaxed rate limits, started for this run and stopped with it), with
//! `podium run` built by the bench profile (release):
//!
//! - (a) lateness of every scheduled post of a debate (the post's
//!   `origin_server_ts` minus its due instant), next to a plain matrix-sdk
//!   client that sends at scheduled instants half a second off Podium's,
//!   in the same seconds (its `origin_server_ts` minus its own due
//!   instant, and its request→response time);
//! - (b) 100 rooms whose debates start the same second: from the due
//!   instant to the last room's Q1 (each room posts its intro and Q1 then:
//!   200 posts), next to a plain client posting two messages in each of
//!   the 100 rooms at once;
//! - (c) a burst of 2,000 answers from 20 participants in one room: all
//!   stored (the transcript's count), and the delay from each answer's
//!   `origin_server_ts` to its `received_at` in the store;
//! - (d) resident memory of `podium run` idle in 100 rooms (VmRSS, once it
//!   has joined them all and gone idle).
//!
//! `cargo bench --bench matrix [-- [a] [b] [c] [d] [--runs N]]` (all parts,
//! two runs each, by default). Results are recorded in docs/benchmarks.md.

#[path = "../tests/support/matrix.rs"]
mod matrix_support;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use matrix_sdk::ruma::events::room::message::{
    OriginalSyncRoomMessageEvent, RoomMessageEventContent,
};
use matrix_support::{Person, Podium, strip_ansi, synapse, unique};
use serde_json::Value;
use sqlx::{ConnectOptions, Row};

/// Podium's own default log filter (what `podium run` uses when RUST_LOG
/// is not set), instead of the tests' debug logging.
const PRODUCTION_LOG: &str = "podium=info,warn,matrix_sdk=error,matrix_sdk_base=error,\
matrix_sdk_crypto=error,matrix_sdk::http_client=off";

/// `now + secs`, on a whole second.
fn whole_second_in(secs: i64) -> DateTime<Utc> {
    let now = Utc::now();
    now + chrono::Duration::seconds(secs)
        - chrono::Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos()))
}

fn london(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Europe::London)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A debate `id` in `room` at `start`: `remind` reminders, questions at the
/// given offsets (seconds), lasting `duration`.
fn debate(
    id: &str,
    room: &str,
    start: DateTime<Utc>,
    duration: &str,
    remind: &str,
    questions: &[i64],
) -> String {
    let mut y = format!(
        "  - id: {id}\n    title: Bench {id}\n    starts: {}\n    duration: {duration}\n\
         \x20   remind: {remind}\n    rooms: [\"{room}\"]\n    questions:\n",
        london(start)
    );
    for (i, at) in questions.iter().enumerate() {
        y.push_str(&format!(
            "      - {{text: Question {} of {id}?, at: {at}s}}\n",
            i + 1
        ));
    }
    y
}

fn schedule(debates: &[String]) -> String {
    format!("timezone: Europe/London\ndebates:\n{}", debates.concat())
}

/// `podium run` for `bot` on the benchmark's Synapse, logging as in
/// production.
fn podium_for(bot: &Person, yaml: &str) -> Podium {
    let mut p = Podium::new(bot, yaml);
    p.env("RUST_LOG", PRODUCTION_LOG);
    p
}

/// A read-only connection to the bot's database.
async fn db(data: &Path) -> sqlx::SqliteConnection {
    sqlx::sqlite::SqliteConnectOptions::new()
        .filename(data.join("podium.db"))
        .read_only(true)
        .connect()
        .await
        .expect("podium.db")
}

fn parse_ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("a stored time")
        .with_timezone(&Utc)
}

/// Waits until `pred` holds on the current run's log.
async fn wait_log(podium: &Podium, what: &str, limit: Duration, pred: impl Fn(&str) -> bool) {
    let t0 = Instant::now();
    loop {
        if pred(&strip_ansi(&podium.log())) {
            return;
        }
        assert!(
            t0.elapsed() < limit,
            "timed out waiting for {what}\n{}",
            podium.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// VmRSS and VmHWM of a process, in MiB.
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The `origin_server_ts` of each message event in `room`, by event id.
async fn server_times(who: &Person, room: &matrix_sdk::Room) -> HashMap<String, i64> {
    who.messages(room)
        .await
        .iter()
        .filter_map(|m| {
            Some((
                m["event_id"].as_str()?.to_owned(),
                m["origin_server_ts"].as_i64()?,
            ))
        })
        .collect()
}

// (a) ---------------------------------------------------------------------

struct Lateness {
    podium: Vec<f64>,
    /// The posts that were the first due at their instant.
    podium_first: Vec<f64>,
    plain: Vec<f64>,
    plain_rtt: Vec<f64>,
    /// VmRSS after the debate, in one room.
    rss: f64,
}

/// One debate of 25 posts (two reminders, the intro and Q1 at the start,
/// Q2..Q20 every three seconds, the closing and the transcript link a
/// minute after the start), and a plain client sending 70 messages at
/// x.500 s through the same seconds.
async fn lateness() -> Lateness {
    let url = &synapse().url;
    let (bot, host, plain) = tokio::join!(
        Person::register(url, "bota"),
        Person::register(url, "hosta"),
        Person::register(url, "plain"),
    );
    let local = unique("late");
    let room = host.create_room(&local, &[&bot.user], false).await;
    let plain_room = plain.create_room(&unique("plain"), &[], false).await;
    // The first send of a client asks about the room first; not measured.
    plain.say(&plain_room, "warm-up").await;

    let start = whole_second_in(20);
    let questions: Vec<i64> = (0..20).map(|i| i * 3).collect();
    let yaml = schedule(&[debate(
        "lateness",
        &format!("#{local}:localhost"),
        start,
        "1m",
        "[10s, 5s]",
        &questions,
    )]);
    let mut podium = podium_for(&bot, &yaml);
    podium.start();

    // The plain client: 70 sends due at start - 10 s + k s + 0.5 s.
    let mut sent = Vec::new();
    for k in 0..70 {
        let due = start + chrono::Duration::milliseconds(-10_000 + k * 1000 + 500);
        if let Ok(d) = (due - Utc::now()).to_std() {
            tokio::time::sleep(d).await;
        }
        let t0 = Instant::now();
        let r = plain_room
            .send(RoomMessageEventContent::text_plain(format!("plain {k}")))
            .await
            .expect("plain send");
        let rtt = t0.elapsed().as_secs_f64() * 1000.0;
        sent.push((r.response.event_id.to_string(), due, rtt));
    }
    // The transcript link is due at start + 60 s.
    wait_log(
        &podium,
        "the transcript link",
        Duration::from_secs(60),
        |l| {
            l.lines()
                .any(|x| x.contains(" posted ") && x.contains("kind=\"transcript\""))
        },
    )
    .await;
    let (rss, _) = memory(podium.pid().expect("running"));
    let status = podium.terminate();
    assert!(status.success(), "{}", podium.logs());

    let times = server_times(&host, &room).await;
    let mut conn = db(&podium.data).await;
    let rows =
        sqlx::query("SELECT due_at, network_id FROM posts WHERE status = 'sent' ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .expect("posts");
    assert_eq!(rows.len(), 25, "25 posts sent\n{}", podium.logs());
    // Each post's lateness, and whether it was the first of its instant
    // (Q1 waits for the intro's answer, the transcript link for the
    // closing's: a room's posts go out one at a time, in order).
    let mut podium_late = Vec::new();
    let mut podium_first = Vec::new();
    let mut previous_due = None;
    for r in &rows {
        let due = parse_ts(&r.get::<String, _>("due_at"));
        let ts = times[&r.get::<String, _>("network_id")];
        let late = (ts - due.timestamp_millis()) as f64;
        podium_late.push(late);
        if previous_due != Some(due) {
            podium_first.push(late);
        }
        previous_due = Some(due);
    }
    let plain_times = server_times(&plain, &plain_room).await;
    let plain_late = sent
        .iter()
        .map(|(id, due, _)| (plain_times[id] - due.timestamp_millis()) as f64)
        .collect();
    Lateness {
        podium: podium_late,
        podium_first,
        plain: plain_late,
        plain_rtt: sent.iter().map(|(_, _, rtt)| *rtt).collect(),
        rss,
    }
}

// (b) and (d) -------------------------------------------------------------

struct HundredRooms {
    created_s: f64,
    joined_s: f64,
    idle_rss: f64,
    idle_hwm: f64,
    last_q1_ms: f64,
    median_q1_ms: f64,
    first_post_ms: f64,
    last_post_ms: f64,
    plain_last_ms: f64,
    after_rss: f64,
}

/// 100 rooms: Podium joins them and idles (d), then their 100 debates
/// start the same second (b).
async fn hundred_rooms() -> HundredRooms {
    const N: usize = 100;
    let url = &synapse().url;
    let (bot, host) = tokio::join!(
        Person::register(url, "botb"),
        Person::register(url, "hostb")
    );
    let t0 = Instant::now();
    let created: Vec<(String, matrix_sdk::Room)> = futures_util::stream::iter((0..N).map(|i| {
        let host = &host;
        async move {
            let local = unique(&format!("hundred{i}-"));
            let room = host.create_room(&local, &[], false).await;
            (format!("#{local}:localhost"), room)
        }
    }))
    .buffered(4)
    .collect()
    .await;
    let created_s = t0.elapsed().as_secs_f64();

    // A plain client's reference: two messages in each room, all rooms at
    // once (before the bot is there, so Podium never sees them).
    let t_plain = Utc::now();
    let ids: Vec<(usize, String)> =
        futures_util::future::join_all(created.iter().enumerate().map(|(i, (_, room))| {
            let host = &host;
            async move {
                host.say(room, "plain one").await;
                (i, host.say(room, "plain two").await.to_string())
            }
        }))
        .await;
    let mut plain_last = 0;
    for (i, id) in &ids {
        let times = server_times(&host, &created[*i].1).await;
        plain_last = plain_last.max(times[id]);
    }
    let plain_last_ms = (plain_last - t_plain.timestamp_millis()) as f64;

    // (d): the debates are tomorrow; Podium joins the rooms and idles.
    let tomorrow = whole_second_in(86_400);
    let debates = |start| -> Vec<String> {
        created
            .iter()
            .enumerate()
            .map(|(i, (alias, _))| debate(&format!("h{i}"), alias, start, "30m", "[]", &[0, 600]))
            .collect()
    };
    let mut podium = podium_for(&bot, &schedule(&debates(tomorrow)));
    let t0 = Instant::now();
    podium.start();
    wait_log(&podium, "joins", Duration::from_secs(300), |l| {
        l.contains("podium is running") && l.contains("syncing with the homeserver")
    })
    .await;
    let joined_s = t0.elapsed().as_secs_f64();
    let log = strip_ansi(&podium.log());
    let joined = log.lines().filter(|l| l.contains(" joined room=")).count();
    assert_eq!(joined, N, "joined every room\n{log}");
    let pid = podium.pid().expect("running");
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (idle_rss, idle_hwm) = memory(pid);
    let status = podium.terminate();
    assert!(status.success(), "{}", podium.logs());

    // (b): the same 100 debates, now starting the same second.
    let start = whole_second_in(15);
    std::fs::write(&podium.schedule, schedule(&debates(start))).expect("schedule");
    podium.start();
    let mut conn = db(&podium.data).await;
    let t0 = Instant::now();
    loop {
        let sent: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM posts WHERE kind = 'question' AND status = 'sent'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap_or(0);
        if sent as usize == N {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "{sent} of {N} Q1s\n{}",
            podium.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (after_rss, _) = memory(podium.pid().expect("running"));
    let status = podium.terminate();
    assert!(status.success(), "{}", podium.logs());

    let rows = sqlx::query("SELECT room, kind, network_id FROM posts WHERE status = 'sent'")
        .fetch_all(&mut conn)
        .await
        .expect("posts");
    let rooms: HashMap<&str, &matrix_sdk::Room> =
        created.iter().map(|(a, r)| (a.as_str(), r)).collect();
    let mut q1 = Vec::new();
    let mut last_post = 0;
    let mut first_post = i64::MAX;
    let mut times_of: HashMap<String, HashMap<String, i64>> = HashMap::new();
    for r in &rows {
        let room: String = r.get("room");
        if !times_of.contains_key(&room) {
            let times = server_times(&host, rooms[room.as_str()]).await;
            times_of.insert(room.clone(), times);
        }
        let ts = times_of[&room][&r.get::<String, _>("network_id")];
        let late = ts - start.timestamp_millis();
        last_post = last_post.max(late);
        first_post = first_post.min(late);
        if r.get::<String, _>("kind") == "question" {
            q1.push(late as f64);
        }
    }
    assert_eq!(rows.len(), 2 * N, "intro and Q1 in every room");
    let (median_q1_ms, last_q1_ms) = support::median_worst(&q1);
    HundredRooms {
        created_s,
        joined_s,
        idle_rss,
        idle_hwm,
        last_q1_ms,
        median_q1_ms,
        first_post_ms: first_post as f64,
        last_post_ms: last_post as f64,
        plain_last_ms,
        after_rss,
    }
}

// (c) ---------------------------------------------------------------------

struct Burst {
    sent: usize,
    send_s: f64,
    stored: usize,
    all_stored_after_s: f64,
    transcript: usize,
    delays: Vec<f64>,
    /// The host's own sync: origin_server_ts to the event handler.
    plain: Vec<f64>,
}

/// 20 participants send 100 answers each, as fast as they can, at once.
async fn burst() -> Burst {
    const PEOPLE: usize = 20;
    const EACH: usize = 100;
    let url = &synapse().url;
    let (bot, host) = tokio::join!(
        Person::register(url, "botc"),
        Person::register(url, "hostc")
    );
    // The participants only send: 20 more syncing clients in this process
    // and on this Synapse would load the machine as real participants'
    // clients, elsewhere, would not. The host syncs, and is the plain
    // client's reference for how soon a message arrives by sync.
    let people: Vec<Person> = futures_util::stream::iter(
        (0..PEOPLE).map(|i| async move { Person::register_unsynced(url, &format!("p{i}-")).await }),
    )
    .buffered(4)
    .collect()
    .await;
    let local = unique("burst");
    let alias = format!("#{local}:localhost");
    let room = host.create_room(&local, &[&bot.user], false).await;
    let joined: Vec<matrix_sdk::Room> =
        futures_util::future::join_all(people.iter().map(|p| p.join(&alias))).await;

    let start = whole_second_in(15);
    let yaml = schedule(&[debate("burst", &alias, start, "30m", "[]", &[0, 600])]);
    let mut podium = podium_for(&bot, &yaml);
    podium.start();
    let bot_id = bot.user.to_string();
    host.wait_for_messages(&room, "Q1", |ms| {
        ms.iter().any(|m| {
            m["sender"] == bot_id.as_str()
                && m["content"]["body"]
                    .as_str()
                    .is_some_and(|b| b.starts_with("Q1:"))
        })
    })
    .await;

    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler = {
        let seen = seen.clone();
        host.client
            .add_event_handler(move |ev: OriginalSyncRoomMessageEvent| {
                let seen = seen.clone();
                async move {
                    let now = Utc::now().timestamp_millis();
                    if ev.content.body().starts_with("A1: answer") {
                        let ts = i64::try_from(u64::from(ev.origin_server_ts.0)).unwrap_or(0);
                        seen.lock().expect("lock").push((now - ts) as f64);
                    }
                }
            })
    };
    let t0 = Instant::now();
    futures_util::future::join_all(people.iter().zip(&joined).enumerate().map(
        |(i, (p, room))| async move {
            for k in 0..EACH {
                p.say(room, &format!("A1: answer {k} from participant {i}"))
                    .await;
            }
        },
    ))
    .await;
    let send_s = t0.elapsed().as_secs_f64();
    let sent = PEOPLE * EACH;

    let mut conn = db(&podium.data).await;
    let t1 = Instant::now();
    let stored = loop {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM replies")
            .fetch_one(&mut conn)
            .await
            .unwrap_or(0);
        if n as usize >= sent || t1.elapsed() > Duration::from_secs(120) {
            break n as usize;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let all_stored_after_s = t1.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    host.client.remove_event_handler(handler);
    let plain = std::mem::take(&mut *seen.lock().expect("lock"));
    let status = podium.terminate();
    assert!(status.success(), "{}", podium.logs());

    let t = podium.transcript("burst");
    let count = |v: &Value| v.as_array().map_or(0, Vec::len);
    let transcript = t["questions"].as_array().map_or(0, |qs| {
        qs.iter().map(|q| count(&q["replies"])).sum::<usize>()
    }) + count(&t["unattributed"]);
    let rows = sqlx::query("SELECT server_ts, received_at FROM replies")
        .fetch_all(&mut conn)
        .await
        .expect("replies");
    let delays = rows
        .iter()
        .map(|r| {
            let server = parse_ts(&r.get::<String, _>("server_ts"));
            let received = parse_ts(&r.get::<String, _>("received_at"));
            (received - server).num_milliseconds() as f64
        })
        .collect();
    Burst {
        sent,
        send_s,
        stored,
        all_stored_after_s,
        transcript,
        delays,
        plain,
    }
}

// -------------------------------------------------------------------------

fn main() {
    let mut parts = String::new();
    let mut runs = 2;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bench" => {}
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).expect("--runs N"),
            p if ["a", "b", "c", "d"].contains(&p) => parts.push_str(p),
            other => panic!("unknown argument {other}: say a, b, c, d or --runs N"),
        }
    }
    if parts.is_empty() {
        parts = "abcd".into();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        println!("Synapse: {}", synapse().url);
        for run in 1..=runs {
            if parts.contains('a') {
                let r = lateness().await;
                let (pm, pw) = support::median_worst(&r.podium);
                let (fm, fw) = support::median_worst(&r.podium_first);
                let (cm, cw) = support::median_worst(&r.plain);
                let (rm, rw) = support::median_worst(&r.plain_rtt);
                println!(
                    "run {run} (a) lateness, origin_server_ts - due (ms): podium median {pm:.0} \
                     worst {pw:.0} ({} posts); plain client median {cm:.0} worst {cw:.0} \
                     ({} sends; request->response median {rm:.1} worst {rw:.1}); \
                     podium - plain: median {:+.0}, worst {:+.0}; VmRSS in this one room \
                     {:.1} MiB",
                    r.podium.len(),
                    r.plain.len(),
                    pm - cm,
                    pw - cw,
                    r.rss
                );
                let mut sorted = r.podium.clone();
                sorted.sort_by(f64::total_cmp);
                println!(
                    "run {run} (a) podium, the {} posts first at their instant: median {fm:.0} \
                     worst {fw:.0}; every post (ms, sorted): {sorted:?}",
                    r.podium_first.len()
                );
            }
            if parts.contains('b') || parts.contains('d') {
                let r = hundred_rooms().await;
                if parts.contains('d') {
                    println!(
                        "run {run} (d) idle in 100 rooms: VmRSS {:.1} MiB (VmHWM {:.1} MiB); \
                         start to joined and syncing {:.1} s",
                        r.idle_rss, r.idle_hwm, r.joined_s
                    );
                }
                if parts.contains('b') {
                    println!(
                        "run {run} (b) 100 rooms, one due instant: last Q1 +{:.0} ms \
                         (median Q1 +{:.0} ms; of the 200 posts, first +{:.0} ms, last +{:.0} ms); plain client, \
                         2 messages in each of 100 rooms at once: last +{:.0} ms; VmRSS after \
                         {:.1} MiB; (100 rooms created in {:.1} s)",
                        r.last_q1_ms,
                        r.median_q1_ms,
                        r.first_post_ms,
                        r.last_post_ms,
                        r.plain_last_ms,
                        r.after_rss,
                        r.created_s
                    );
                }
            }
            if parts.contains('c') {
                let r = burst().await;
                let (m, w) = support::median_worst(&r.delays);
                let (pm, pw) = support::median_worst(&r.plain);
                println!(
                    "run {run} (c) burst: {} answers sent in {:.1} s ({:.0}/s); {} stored \
                     ({:.1} s after the last send), transcript {}; origin_server_ts -> \
                     received_at: median {m:.0} ms, worst {w:.0} ms; a plain client's sync \
                     (origin_server_ts -> its event handler, {} of them): median {pm:.0} ms, \
                     worst {pw:.0} ms",
                    r.sent,
                    r.send_s,
                    r.sent as f64 / r.send_s,
                    r.stored,
                    r.all_stored_after_s,
                    r.transcript,
                    r.plain.len()
                );
            }
        }
    });
}
