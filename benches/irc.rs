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
//! `cargo bench --bench irc [-- --runs N]` (two runs by default). Results
//! are recorded in docs/benchmarks.md.

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

fn main() {
    let mut runs = 2;
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--runs") {
        runs = args[i + 1].parse().expect("--runs N");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = start_ircd("relaxed");
    println!("InspIRCd: {}", server.addr);
    rt.block_on(async {
        for run in 1..=runs {
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
