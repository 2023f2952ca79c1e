#![recursion_limit = "256"]
//! Replicas on real servers (PostgreSQL, Synapse and InspIRCd on loopback,
//! each started for this run; `podium run` built by the bench profile):
//!
//! - **takeover**: three replicas host one long debate (a question every
//!   3 s, in a Matrix room and an IRC channel); its holder is SIGKILLed,
//!   then started again once another replica has taken over, N times (10
//!   by default). For each kill: from the SIGKILL to another replica's
//!   `took lease` log line, and to the first post of the debate after the
//!   kill (on IRC, as the server dated it); and how long the channel went
//!   without a post across the kill. At the end, every question must be in
//!   the channel at most once (a double would fail the run); how many are
//!   missing is printed.
//! - **spread**: 100 debates starting the same second, each in a Matrix room
//!   of its own, hosted by one replica, then by three sharing the leases
//!   (the same rooms, a new database each time): each room's Q1 as Synapse
//!   dated it, minus the due instant.
//!
//! `cargo bench --bench takeover [-- [takeover] [spread] [--kills N]
//! [--renew D --ttl D]]` (both parts, 10 kills, the defaults renew 2 s and
//! ttl 10 s, by default). Results are recorded in docs/benchmarks.md.

#[path = "../tests/support/irc.rs"]
mod irc_support;
#[path = "../tests/support/matrix.rs"]
mod matrix_support;
#[path = "../tests/support/replicas.rs"]
mod replicas_support;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use matrix_support::{Person, synapse, unique};
use replicas_support::{
    Cast, Planned, Replicas, Timing, question_counts, schedule, secs_between, start_in,
};
use sqlx::{ConnectOptions, Row};

/// Podium's own default log filter, for the spread (the takeover part reads
/// `took lease`, which it logs at info too).
const PRODUCTION_LOG: &str = "podium=info,warn,matrix_sdk=error,matrix_sdk_base=error,\
matrix_sdk_crypto=error,matrix_sdk::http_client=off";

/// One SIGKILL's figures, in seconds from the kill.
struct Takeover {
    took: f64,
    first_post: f64,
    /// From the channel's last post before the kill to its first after.
    silence: f64,
}

/// The debate's IRC posts after `after`, oldest first.
fn irc_after(
    cast: &mut Cast,
    reps: &Replicas,
    after: DateTime<Utc>,
) -> Vec<replicas_support::Seen> {
    cast.irc_posts(reps, "t")
        .into_iter()
        .filter(|s| s.at > after)
        .collect()
}

async fn takeover(timing: Timing, kills: usize) -> Vec<Takeover> {
    let mut cast = Cast::new(&["t"]).await;
    let every = 3;
    let per_kill = timing.ttl.as_secs() as i64 + 25;
    let seconds = kills as i64 * per_kill + 60;
    let offsets: Vec<i64> = (0..seconds / every - 1).map(|k| k * every).collect();
    let start = start_in(40);
    let yaml = schedule(
        &cast,
        &[Planned {
            id: "t",
            start,
            seconds,
            questions: &offsets,
        }],
    );
    let database = support::postgres::database().await;
    let mut reps = Replicas::new(&database, &cast.bot, &yaml, 3, timing);
    for r in &mut reps.list {
        r.podium.env("RUST_LOG", PRODUCTION_LOG);
    }
    reps.start_ready().await;
    cast.wait_joined(&reps, &[0, 1, 2]).await;
    cast.wait_irc_question(&reps, "t", 2, Duration::from_secs(120))
        .await
        .unwrap_or_else(|| panic!("no Q2\n{}", reps.logs()));

    let mut out = Vec::new();
    for k in 1..=kills {
        let (holder, _) = reps.wait_holder("t", None, Duration::from_secs(60)).await;
        let killed = reps.kill(holder);
        let limit = Instant::now() + timing.ttl * 3 + Duration::from_secs(20);
        let mut took = None;
        let mut first = None;
        while took.is_none() || first.is_none() {
            assert!(
                Instant::now() < limit,
                "kill {k}: no takeover (took {took:?}, first post {first:?})\n{}",
                reps.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
            if took.is_none() {
                took = (0..reps.len())
                    .filter(|&i| i != holder)
                    .flat_map(|i| reps.took(i, Some("t")))
                    .map(|l| l.at)
                    .filter(|at| *at > killed)
                    .min();
            }
            if first.is_none() {
                cast.carol.sync().await;
                first = irc_after(&mut cast, &reps, killed).first().map(|s| s.at);
            }
        }
        let (took, first) = (took.expect("took"), first.expect("first"));
        let before = cast
            .irc_posts(&reps, "t")
            .into_iter()
            .filter(|s| s.at <= killed)
            .map(|s| s.at)
            .max()
            .unwrap_or(killed);
        let t = Takeover {
            took: secs_between(killed, took),
            first_post: secs_between(killed, first),
            silence: secs_between(before, first),
        };
        println!(
            "kill {k}: {} SIGKILLed; another took the lease after {:.2} s, first post after {:.2} s; \
             channel silent {:.2} s",
            reps.list[holder].name, t.took, t.first_post, t.silence
        );
        out.push(t);
        reps.start(holder);
        reps.wait_ready(holder).await;
        tokio::time::sleep(timing.renew * 2).await;
    }

    // The debate goes on to its end; nothing may be posted twice.
    let q_last = u32::try_from(offsets.len()).expect("a count");
    let at_end = cast
        .wait_irc_question(
            &reps,
            "t",
            q_last,
            Duration::from_secs(u64::try_from(seconds).unwrap_or(600) + 60),
        )
        .await;
    cast.carol.sync().await;
    let irc = cast.irc_posts(&reps, "t");
    let counts = question_counts(&irc);
    let doubled: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).collect();
    assert!(
        doubled.is_empty(),
        "questions posted twice: {doubled:?}\n{}",
        reps.logs()
    );
    let missing: Vec<u32> = (1..=q_last).filter(|q| !counts.contains_key(q)).collect();
    println!(
        "takeover: {} questions, none twice; missing on IRC {missing:?}{}",
        q_last,
        if at_end.is_none() {
            " (the last question never came)"
        } else {
            ""
        }
    );
    for i in 0..reps.len() {
        reps.terminate(i);
    }
    out
}

/// Each room's Q1 lateness (ms, by `origin_server_ts`) for 100 debates
/// starting together in `rooms`, hosted by `count` replicas.
async fn spread(bot: &Person, host: &Person, rooms: &[matrix_sdk::Room], count: usize) -> Vec<f64> {
    let timing = Timing {
        renew: Duration::from_secs(2),
        ttl: Duration::from_secs(10),
    };
    let debates = |start: DateTime<Utc>| -> String {
        let mut y = "timezone: Europe/London\ndebates:\n".to_owned();
        let local = start.with_timezone(&chrono_tz::Europe::London);
        for (i, room) in rooms.iter().enumerate() {
            y.push_str(&format!(
                "  - id: s{i:03}\n    title: Spread {i}\n    starts: {}\n    duration: 30m\n\
                 \x20   remind: []\n    rooms: [\"{}\"]\n    questions:\n      - Question 1 of s{i:03}?\n      - {{text: Later?, at: 20m}}\n",
                local.format("%Y-%m-%d %H:%M:%S"),
                room.room_id()
            ));
        }
        y
    };
    let ids: Vec<String> = (0..rooms.len()).map(|i| format!("s{i:03}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let database = support::postgres::database().await;
    let tomorrow = start_in(86_400);
    let mut reps = Replicas::new(&database, bot, &debates(tomorrow), count, timing);
    for r in &mut reps.list {
        r.podium.env("RUST_LOG", PRODUCTION_LOG);
    }
    let t0 = Instant::now();
    reps.start_ready().await;
    reps.wait_balanced(&ids, Duration::from_secs(120)).await;
    println!(
        "spread, {count} replica(s): ready and leases balanced in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    // Every replica synced and idle, the debates now start in 20 s.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let start = start_in(20);
    let yaml = debates(start);
    for i in 0..reps.len() {
        std::fs::write(&reps.list[i].podium.schedule, &yaml).expect("schedule");
        reps.signal(i, "-HUP");
    }
    let mut conn = sqlx::postgres::PgConnectOptions::from_url(&database.parse().expect("a URL"))
        .expect("a database URL")
        .connect()
        .await
        .expect("the database");
    let t0 = Instant::now();
    loop {
        let sent: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM posts WHERE kind = 'question' AND status = 'sent'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap_or(0);
        if sent as usize == rooms.len() {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(180),
            "{sent} of {} Q1s\n{}",
            rooms.len(),
            reps.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rows = sqlx::query(
        "SELECT room, network_id FROM posts WHERE kind = 'question' AND status = 'sent'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("posts");
    let by_id: HashMap<String, &matrix_sdk::Room> =
        rooms.iter().map(|r| (r.room_id().to_string(), r)).collect();
    let mut late = Vec::new();
    for r in &rows {
        let room: String = r.get("room");
        let event: String = r.get("network_id");
        let messages = host.messages(by_id[&room]).await;
        let ts = messages
            .iter()
            .find(|m| m["event_id"] == event.as_str())
            .and_then(|m| m["origin_server_ts"].as_i64())
            .unwrap_or_else(|| panic!("{event} not in {room}"));
        late.push((ts - start.timestamp_millis()) as f64);
    }
    let posters: Vec<usize> = (0..reps.len())
        .map(|i| reps.log_lines(i, " posted").len())
        .collect();
    println!("spread, {count} replica(s): posts (intro and Q1) by replica {posters:?}");
    for i in 0..reps.len() {
        reps.terminate(i);
    }
    late
}

/// `2s`, `500ms`.
fn duration(s: &str) -> Duration {
    if let Some(ms) = s.strip_suffix("ms") {
        Duration::from_millis(ms.parse().expect("milliseconds"))
    } else {
        Duration::from_secs(
            s.trim_end_matches('s')
                .parse()
                .expect("a duration such as 2s or 500ms"),
        )
    }
}

fn main() {
    let mut parts = Vec::new();
    let mut kills = 10;
    let mut timing = Timing {
        renew: Duration::from_secs(2),
        ttl: Duration::from_secs(10),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bench" => {}
            "--kills" => kills = args.next().and_then(|n| n.parse().ok()).expect("--kills N"),
            "--renew" => timing.renew = duration(&args.next().expect("--renew D")),
            "--ttl" => timing.ttl = duration(&args.next().expect("--ttl D")),
            "takeover" | "spread" => parts.push(a),
            other => panic!(
                "unknown argument {other}: say takeover, spread, --kills N, --renew D or --ttl D"
            ),
        }
    }
    if parts.is_empty() {
        parts = vec!["takeover".into(), "spread".into()];
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        println!("Synapse: {}", synapse().url);
        if parts.iter().any(|p| p == "takeover") {
            let t = takeover(timing, kills).await;
            let took: Vec<f64> = t.iter().map(|t| t.took).collect();
            let first: Vec<f64> = t.iter().map(|t| t.first_post).collect();
            let silence: Vec<f64> = t.iter().map(|t| t.silence).collect();
            let (tm, tw) = support::median_worst(&took);
            let (fm, fw) = support::median_worst(&first);
            let (sm, sw) = support::median_worst(&silence);
            println!(
                "takeover, {} SIGKILLs (renew {:?}, ttl {:?}): took lease median {tm:.2} s, worst \
                 {tw:.2} s; first post median {fm:.2} s, worst {fw:.2} s; channel silent median \
                 {sm:.2} s, worst {sw:.2} s",
                t.len(),
                timing.renew,
                timing.ttl
            );
        }
        if parts.iter().any(|p| p == "spread") {
            let url = &synapse().url;
            let (bot, host) = tokio::join!(
                Person::register(url, "podium"),
                Person::register(url, "hosts")
            );
            let t0 = Instant::now();
            let rooms: Vec<matrix_sdk::Room> =
                futures_util::StreamExt::collect(futures_util::StreamExt::buffered(
                    futures_util::stream::iter((0..100).map(|i| {
                        let (host, bot) = (&host, &bot);
                        async move {
                            host.create_room(&unique(&format!("spread{i}-")), &[&bot.user], false)
                                .await
                        }
                    })),
                    4,
                ))
                .await;
            println!(
                "spread: 100 rooms created in {:.1} s",
                t0.elapsed().as_secs_f64()
            );
            for count in [1, 3] {
                let late = spread(&bot, &host, &rooms, count).await;
                let (m, w) = support::median_worst(&late);
                let first = late.iter().copied().fold(f64::INFINITY, f64::min);
                println!(
                    "spread, {count} replica(s): 100 rooms' Q1, origin_server_ts - due: first \
                     +{first:.0} ms, median +{m:.0} ms, last +{w:.0} ms"
                );
            }
        }
    });
}
