#![recursion_limit = "256"]
//! Lateness of scheduled posts on IRC: the instant a participant's client
//! receives each question minus the question's due instant, against a
//! local InspIRCd (scripts/ircd-up.sh, relaxed flood limits, loopback),
//! with `podium run` built by the bench profile (release) and its default
//! send queue (4 lines at once, then one every 1.5 s):
//!
//! - spaced: 10 questions 3 s apart (each the only line due then), which
//!   is how debates are written;
//! - burst: the intro and 10 questions due at the same instant, which
//!   shows what the flood queue costs: the 5th line onwards waits for its
//!   turn, 1.5 s each.
//!
//! And joining: a schedule of 1,000 channels, the time from registering
//! to being in every one (as `/healthz` says), again after the server
//! restarts, and the bot's resident memory once in all of them.
//!
//! `cargo bench --bench irc [-- --runs N] [lateness|joins]` (two runs by
//! default; both parts unless one is named). Results are recorded in
//! docs/benchmarks.md.

#[path = "../tests/support/irc.rs"]
mod irc_support;
#[path = "../tests/support/matrix.rs"]
mod matrix_support;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use irc_support::{Client, Ircd, start_ircd, unique_nick};
use matrix_support::Podium;

/// Podium's own default log filter (what `podium run` uses when RUST_LOG
/// is not set), instead of the tests' debug logging.
const PRODUCTION_LOG: &str = "podium=info,warn";

/// Hosts one debate in a fresh channel, starting 10 s from now, with
/// questions at `offsets` (seconds); returns each question's lateness in
/// milliseconds as the participant's client received its line.
async fn lateness(server: &Ircd, offsets: &[u32]) -> Vec<f64> {
    let chan = format!("#{}", unique_nick("bench"));
    let bot = unique_nick("podium");
    let mut alice = Client::connect(&server.addr, &unique_nick("alice")).await;
    alice.join(&chan).await;
    // Whole seconds: the schedule is written to the second.
    let start = (Utc::now() + chrono::Duration::seconds(10)).trunc_subsecs(0);
    let local = start.with_timezone(&chrono_tz::Europe::London);
    let mut yaml = format!(
        "timezone: Europe/London\ndebates:\n  - id: bench\n    title: Bench\n    \
         starts: {}\n    duration: 10m\n    remind: []\n    rooms: [\"{chan}\"]\n    questions:\n",
        local.format("%Y-%m-%d %H:%M:%S")
    );
    for (i, at) in offsets.iter().enumerate() {
        yaml.push_str(&format!(
            "      - {{text: Question {}?, at: {at}s}}\n",
            i + 1
        ));
    }
    let mut podium = Podium::bare(&yaml);
    podium.env("PODIUM_IRC_SERVER", &server.addr);
    podium.env("PODIUM_IRC_TLS", "false");
    podium.env("PODIUM_IRC_NICK", &bot);
    podium.env("RUST_LOG", PRODUCTION_LOG);
    podium.start();
    let mut late = Vec::new();
    for (i, at) in offsets.iter().enumerate() {
        let label = format!("\x02Q{}:\x02", i + 1);
        let (b, c) = (bot.clone(), chan.clone());
        let m = alice
            .wait_for_within(Duration::from_secs(120), &label.clone(), move |m| {
                m.is_privmsg(&b, &c) && m.text().starts_with(&label)
            })
            .await;
        // The client notes the monotonic instant it read the line; turn
        // it into wall-clock time by its distance from now.
        let received: DateTime<Utc> =
            Utc::now() - chrono::Duration::from_std(m.at.elapsed()).expect("short");
        let due = start + chrono::Duration::seconds(i64::from(*at));
        late.push((received - due).num_microseconds().expect("short") as f64 / 1000.0);
    }
    assert_eq!(podium.terminate().code(), Some(0));
    late
}

/// Channels in the joining bench.
const CHANNELS: usize = 1000;

/// `/healthz`'s IRC detail (empty while it does not answer).
async fn irc_detail(podium: &Podium) -> String {
    let Ok(r) = reqwest::get(format!("{}/healthz", podium.web)).await else {
        return String::new();
    };
    let text = r.text().await.unwrap_or_default();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    body["networks"]["irc"]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Polls `/healthz` until the bot is registered (`connected as`), then
/// until it is in every channel; returns the seconds in between.
async fn connected_to_joined(podium: &Podium) -> f64 {
    let all = format!("in {CHANNELS} of {CHANNELS} channels");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1800);
    let mut connected = None;
    loop {
        let detail = irc_detail(podium).await;
        let now = tokio::time::Instant::now();
        if connected.is_none() && detail.starts_with("connected as") {
            connected = Some(now);
        }
        if let Some(at) = connected
            && detail.contains(&all)
        {
            return (now - at).as_secs_f64();
        }
        assert!(now < deadline, "not in every channel: {detail}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Resident memory of `pid`, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib / 1024.0
}

/// One debate an hour away in [`CHANNELS`] channels (`#benchN-debate-0001`
/// and so on, 19 bytes each): the time from registering to being in every
/// channel, then again after the server restarts; the JOIN lines it took;
/// the bot's resident memory once in every channel.
async fn joins(server: &Ircd, run: u32) {
    let base = unique_nick("bench");
    let rooms: Vec<String> = (1..=CHANNELS)
        .map(|i| format!("\"#{base}-debate-{i:04}\""))
        .collect();
    let start = (Utc::now() + chrono::Duration::hours(1)).trunc_subsecs(0);
    let local = start.with_timezone(&chrono_tz::Europe::London);
    let yaml = format!(
        "timezone: Europe/London\ndebates:\n  - id: joins\n    title: Joins\n    \
         starts: {}\n    duration: 10m\n    remind: []\n    rooms: [{}]\n    questions:\n      \
         - {{text: One?, at: 0s}}\n",
        local.format("%Y-%m-%d %H:%M:%S"),
        rooms.join(", ")
    );
    let mut podium = Podium::bare(&yaml);
    podium.env("PODIUM_IRC_SERVER", &server.addr);
    podium.env("PODIUM_IRC_TLS", "false");
    podium.env("PODIUM_IRC_NICK", &unique_nick("podium"));
    podium.env("RUST_LOG", "podium=debug,warn");
    podium.start();
    let first = connected_to_joined(&podium).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = rss_mib(podium.pid().expect("running"));
    server.stop();
    while irc_detail(&podium).await.starts_with("connected as") {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.start_again();
    let again = connected_to_joined(&podium).await;
    let log = podium.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("asking to join"))
        .filter_map(|l| l.split(" lines=").nth(1))
        .collect();
    println!(
        "run {run} joins ({CHANNELS} channels): registered to in every channel {first:.1} s; \
         after the server restarted {again:.1} s; JOIN lines each time {lines:?}; \
         resident memory in every channel {rss:.1} MiB"
    );
    assert_eq!(podium.terminate().code(), Some(0));
}

fn main() {
    let mut runs = 2;
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--runs") {
        runs = args[i + 1].parse().expect("--runs N");
    }
    let only = |part: &str| {
        let named = ["lateness", "joins"];
        !args.iter().any(|a| named.contains(&a.as_str())) || args.iter().any(|a| a == part)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = start_ircd("relaxed");
    println!("InspIRCd: {}", server.addr);
    rt.block_on(async {
        for run in 1..=runs {
            if only("joins") {
                joins(&server, run).await;
            }
            if !only("lateness") {
                continue;
            }
            let spaced: Vec<u32> = (0..10).map(|i| i * 3).collect();
            let late = lateness(&server, &spaced).await;
            let (median, worst) = support::median_worst(&late);
            println!(
                "run {run} spaced (10 questions 3 s apart): median {median:.1} ms, worst {worst:.1} ms; every one: {late:.1?}"
            );
            let late = lateness(&server, &[0; 10]).await;
            let (median, worst) = support::median_worst(&late);
            println!(
                "run {run} burst (intro and 10 questions at once): median {median:.1} ms, worst {worst:.1} ms; every one: {late:.0?}"
            );
        }
    });
    server.stop();
}
