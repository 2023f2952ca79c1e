#![recursion_limit = "256"]
//! A load test (issue 20, point 3): one compressed debate held at once in
//! one Matrix room (200 participants) and one IRC channel (50
//! connections), on a local Synapse (scripts/synapse-up.sh, relaxed rate
//! limits) and a local InspIRCd (scripts/ircd-up.sh, relaxed flood
//! limits), with `podium run` built by the bench profile (release) and
//! its metrics on (`PODIUM_METRICS_ADDR`).
//!
//! The participants answer "A<n>: ..." (n: the question last due), each
//! body unique, at a sustained rate (20 a second by default) with bursts
//! (200 a second for 2 s, straddling the due instant of every other
//! question from Q2 on); four answers in five go to Matrix, one in five to
//! IRC, spread round-robin over the participants and connections (a burst
//! is under two lines a connection, within even a strict server's flood
//! limits). Sends are open-loop: each starts at its instant, whether or
//! not the ones before it have been answered.
//!
//! Measured and printed:
//! - how long the setup took (servers, registering and joining the
//!   participants, connecting the IRC clients);
//! - answers sent and stored per network (`podium_replies_stored_total`
//!   from /metrics, the transcript's count, and each sent body found
//!   exactly once in the store): any difference fails the run (exit
//!   code 101);
//! - per answer, the delay to the store's `received_at` from the server's
//!   timestamp (`origin_server_ts`, IRC `server-time`) and from the
//!   client's send, median and 99th percentile, sustained and burst apart;
//! - Podium's CPU time (utime + stime of /proc/PID/stat) over the load,
//!   per 1,000 answers, next to Synapse's and InspIRCd's; its peak RSS
//!   (VmHWM) and the writer queue's deepest (/metrics, polled);
//! - the lateness of each question post: on Matrix its `origin_server_ts`
//!   minus its due instant, on IRC when an observer's connection received
//!   it, with the questions due during a burst marked; and the
//!   lateness histogram of /metrics.
//!
//! `cargo bench --bench load [-- [--matrix N] [--irc N] [--rate R]
//! [--burst R] [--questions N] [--spacing S] [--runs N]]` (defaults: 200,
//! 50, 20/s, 200/s, 6 questions 30 s apart, one run). Results are recorded
//! in docs/benchmarks.md.

#[path = "../tests/support/irc.rs"]
mod irc_support;
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
use irc_support::{Client, Ircd, start_ircd, unique_nick};
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use matrix_support::{Person, Podium, free_port, strip_ansi, synapse, unique};
use sqlx::{ConnectOptions, Row};

/// Podium's own default log filter (what `podium run` uses when RUST_LOG
/// is not set), instead of the tests' debug logging.
const PRODUCTION_LOG: &str = "podium=info,warn,matrix_sdk=error,matrix_sdk_base=error,\
matrix_sdk_crypto=error,matrix_sdk::http_client=off";

/// Registrations, joins and connections under way at once during setup.
const SETUP_AT_ONCE: usize = 8;

/// Length of a burst, in seconds (from 1 s before a question's due
/// instant to 1 s after).
const BURST_S: f64 = 2.0;

#[derive(Clone, Copy)]
struct Args {
    matrix: usize,
    irc: usize,
    rate: f64,
    burst: f64,
    questions: u32,
    spacing: i64,
    runs: u32,
}

/// A stored answer's network, server timestamp and receipt time.
type StoredTimes = (String, Option<DateTime<Utc>>, DateTime<Utc>);

fn args() -> Args {
    let mut a = Args {
        matrix: 200,
        irc: 50,
        rate: 20.0,
        burst: 200.0,
        questions: 6,
        spacing: 30,
        runs: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> f64 {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} takes a number"))
        };
        match arg.as_str() {
            "--bench" => {}
            "--matrix" => a.matrix = value("--matrix") as usize,
            "--irc" => a.irc = value("--irc") as usize,
            "--rate" => a.rate = value("--rate"),
            "--burst" => a.burst = value("--burst"),
            "--questions" => a.questions = value("--questions") as u32,
            "--spacing" => a.spacing = value("--spacing") as i64,
            "--runs" => a.runs = value("--runs") as u32,
            other => panic!(
                "unknown argument {other}: say --matrix N, --irc N, --rate R, --burst R, \
                 --questions N, --spacing S or --runs N"
            ),
        }
    }
    assert!(
        a.matrix > 0 && a.irc > 0 && a.questions > 0,
        "--matrix, --irc and --questions must be positive"
    );
    a
}

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

fn parse_ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("a stored time")
        .with_timezone(&Utc)
}

/// The `p`th percentile (nearest rank) of a sample; NaN for none.
fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    s[rank.clamp(1, s.len()) - 1]
}

fn ms(d: chrono::Duration) -> f64 {
    d.num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

/// VmHWM (peak resident set) of a process, in MiB.
fn peak_rss(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// CPU seconds (utime + stime) of a process so far.
fn cpu_s(pid: u32) -> f64 {
    support::cpu::process_cpu(&pid.to_string()).map_or(f64::NAN, |d| d.as_secs_f64())
}

fn pid_in(file: &Path) -> Option<u32> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// The value of one series in an OpenMetrics text (0 when absent).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

async fn get_metrics(url: &str) -> Option<String> {
    let r = reqwest::get(url).await.ok()?;
    r.text().await.ok()
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Net {
    Matrix,
    Irc,
}

impl Net {
    fn name(self) -> &'static str {
        match self {
            Net::Matrix => "matrix",
            Net::Irc => "irc",
        }
    }
}

/// One answer to send: when (seconds after the debate's start), where,
/// by whom (an index into that network's senders), tagged for which
/// question, and whether it is part of a burst.
struct Planned {
    at: f64,
    net: Net,
    who: usize,
    question: u32,
    burst: bool,
}

/// The bursts' windows, in seconds after the start: around the due
/// instant of Q2, Q4, Q6...
fn bursts(a: &Args) -> Vec<(f64, f64)> {
    (2..=a.questions)
        .step_by(2)
        .map(|q| {
            let due = (i64::from(q - 1) * a.spacing) as f64;
            (due - BURST_S / 2.0, due + BURST_S / 2.0)
        })
        .collect()
}

/// Every answer of the run, in time order: from 1 s after the start to
/// `spacing` after the last question, less 5 s.
fn plan(a: &Args) -> Vec<Planned> {
    let windows = bursts(a);
    let end = (i64::from(a.questions) * a.spacing - 5) as f64;
    let mut out = Vec::new();
    let mut t = 1.0;
    let (mut m, mut i) = (0usize, 0usize);
    let mut n = 0usize;
    while t < end {
        let burst = windows.iter().any(|(s, e)| t >= *s && t < *e);
        let net = if n % 5 == 4 { Net::Irc } else { Net::Matrix };
        let who = match net {
            Net::Matrix => {
                m += 1;
                (m - 1) % a.matrix
            }
            Net::Irc => {
                i += 1;
                (i - 1) % a.irc
            }
        };
        let question = ((t / a.spacing as f64).floor() as u32 + 1).min(a.questions);
        out.push(Planned {
            at: t,
            net,
            who,
            question,
            burst,
        });
        n += 1;
        t += 1.0 / if burst { a.burst } else { a.rate };
    }
    out
}

/// One answer as sent: its body, network, whether in a burst, when the
/// client started sending it, and whether the send succeeded.
struct Sent {
    body: String,
    net: Net,
    burst: bool,
    at: DateTime<Utc>,
    /// Request to response, in ms (Matrix).
    rtt: f64,
    ok: bool,
}

/// The participants: Matrix senders (each with the room as their client
/// knows it), IRC senders, and the observers (the Matrix host, who
/// created the room, and one more IRC connection), with what setup took.
struct Cast {
    bot: Person,
    host: Person,
    room: matrix_sdk::Room,
    alias: String,
    matrix: Vec<(Person, matrix_sdk::Room)>,
    irc: Vec<Arc<Client>>,
    observer: Client,
    chan: String,
    register_s: f64,
    join_s: f64,
    irc_s: f64,
}

async fn cast(a: &Args, server: &Ircd) -> Cast {
    let url = &synapse().url;
    let (bot, host) = tokio::join!(
        Person::register(url, "botl"),
        Person::register(url, "hostl")
    );
    let local = unique("load");
    let alias = format!("#{local}:localhost");
    let room = host.create_room(&local, &[&bot.user], false).await;

    // The participants only send (see benches/matrix.rs (c)): syncing 200
    // clients in this process would load the machine as real clients,
    // elsewhere, would not.
    let t0 = Instant::now();
    let people: Vec<Person> = futures_util::stream::iter(
        (0..a.matrix)
            .map(|i| async move { Person::register_unsynced(url, &format!("p{i}-")).await }),
    )
    .buffer_unordered(SETUP_AT_ONCE)
    .collect()
    .await;
    let register_s = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let matrix: Vec<(Person, matrix_sdk::Room)> =
        futures_util::stream::iter(people.into_iter().map(|p| {
            let alias = alias.clone();
            async move {
                let room = p.join(&alias).await;
                // A client's first send asks whether the room is
                // encrypted; asked here, it is not part of the load.
                room.latest_encryption_state()
                    .await
                    .expect("encryption state");
                (p, room)
            }
        }))
        .buffer_unordered(SETUP_AT_ONCE)
        .collect()
        .await;
    let join_s = t0.elapsed().as_secs_f64();

    // InspIRCd completes a registration at its once-a-second tick:
    // connections in parallel.
    let chan = format!("#{}", unique_nick("load"));
    let t0 = Instant::now();
    let irc: Vec<Arc<Client>> = futures_util::stream::iter((0..a.irc).map(|i| {
        let (addr, chan) = (server.addr.clone(), chan.clone());
        async move {
            let mut c = Client::connect(&addr, &unique_nick(&format!("i{i}-"))).await;
            c.join(&chan).await;
            Arc::new(c)
        }
    }))
    .buffer_unordered(25)
    .collect()
    .await;
    let mut observer =
        Client::connect_caps(&server.addr, &unique_nick("watch"), &["server-time"]).await;
    observer.join(&chan).await;
    let irc_s = t0.elapsed().as_secs_f64();
    Cast {
        bot,
        host,
        room,
        alias,
        matrix,
        irc,
        observer,
        chan,
        register_s,
        join_s,
        irc_s,
    }
}

/// A schedule of one debate in the room and the channel: questions every
/// `spacing` seconds, lasting until `spacing` after the last one (a
/// minute at least).
fn schedule(a: &Args, id: &str, alias: &str, chan: &str, start: DateTime<Utc>) -> String {
    let mut y = format!(
        "timezone: Europe/London\ndebates:\n  - id: {id}\n    title: Load {id}\n    \
         starts: {}\n    duration: {}s\n    remind: []\n    rooms: [\"{alias}\", \"irc:{chan}\"]\n\
         \x20   questions:\n",
        london(start),
        // A debate lasts a minute at least.
        (i64::from(a.questions) * a.spacing).max(60)
    );
    for q in 0..a.questions {
        y.push_str(&format!(
            "      - {{text: Question {} of the load test?, at: {}s}}\n",
            q + 1,
            i64::from(q) * a.spacing
        ));
    }
    y
}

/// /metrics polled every 100 ms until told to stop: the deepest writer
/// queue seen, and the last text.
struct Poll {
    deepest: f64,
    last: String,
}

async fn poll_metrics(url: String, stop: Arc<Mutex<bool>>) -> Poll {
    let mut p = Poll {
        deepest: 0.0,
        last: String::new(),
    };
    while !*stop.lock().expect("lock") {
        if let Some(text) = get_metrics(&url).await {
            p.deepest = p.deepest.max(metric(&text, "podium_writer_queue_depth"));
            p.last = text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    p
}

/// One run: the debate under load, and its figures printed.
async fn run(a: &Args, n: u32, server: &Ircd) -> bool {
    let t_setup = Instant::now();
    let mut c = cast(a, server).await;
    let setup_s = t_setup.elapsed().as_secs_f64();
    println!(
        "run {n} setup: {setup_s:.1} s: {} Matrix participants registered in {:.1} s \
         ({:.0} ms each, {SETUP_AT_ONCE} at once) and joined in {:.1} s; {} IRC connections \
         (and an observer) connected and joined in {:.1} s",
        a.matrix,
        c.register_s,
        c.register_s * 1000.0 / a.matrix as f64,
        c.join_s,
        a.irc,
        c.irc_s
    );

    // Podium: the debate starts 30 s after it does.
    let id = "load";
    let start = whole_second_in(30);
    let yaml = schedule(a, id, &c.alias, &c.chan, start);
    let nick = unique_nick("podium");
    let mut podium = Podium::new(&c.bot, &yaml);
    let port = loop {
        let port = free_port();
        if !podium.web.ends_with(&format!(":{port}")) {
            break port;
        }
    };
    let metrics_url = format!("http://127.0.0.1:{port}/metrics");
    podium.env("PODIUM_IRC_SERVER", &server.addr);
    podium.env("PODIUM_IRC_TLS", "false");
    podium.env("PODIUM_IRC_NICK", &nick);
    podium.env("PODIUM_METRICS_ADDR", &format!("127.0.0.1:{port}"));
    podium.env("RUST_LOG", PRODUCTION_LOG);
    podium.start();
    let pid = podium.pid().expect("running");
    {
        let (b, ch) = (nick.clone(), c.chan.clone());
        let joined = c
            .observer
            .try_wait_for(Duration::from_secs(25), move |m| {
                m.is("JOIN") && m.is_from(&b) && m.target().eq_ignore_ascii_case(&ch)
            })
            .await;
        assert!(joined.is_some(), "{nick} did not join\n{}", podium.logs());
        let t0 = Instant::now();
        while !strip_ansi(&podium.log()).contains(" joined room=") {
            assert!(
                t0.elapsed() < Duration::from_secs(25),
                "not in the Matrix room\n{}",
                podium.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(
        Utc::now() < start - chrono::Duration::seconds(2),
        "Podium was not ready 2 s before the start\n{}",
        podium.logs()
    );

    // The load, open-loop.
    let plan = plan(a);
    let planned = plan.len();
    let stop = Arc::new(Mutex::new(false));
    let poller = tokio::spawn(poll_metrics(metrics_url.clone(), stop.clone()));
    let sent = Arc::new(Mutex::new(Vec::with_capacity(planned)));
    let mut tasks = tokio::task::JoinSet::new();
    let (tokio_start, wall_start) = (tokio::time::Instant::now(), Utc::now());
    let to_start = (start - wall_start).to_std().expect("the start is ahead");
    let cpu = |pid: u32| (cpu_s(pid), Instant::now());
    let synapse_pid = pid_in(&synapse().data.join("synapse.pid"));
    let ircd_pid = pid_in(&server.dir.join("inspircd.pid"));
    let mut cpu0 = None;
    for (k, p) in plan.into_iter().enumerate() {
        let due = tokio_start + to_start + Duration::from_secs_f64(p.at);
        tokio::time::sleep_until(due).await;
        if cpu0.is_none() {
            cpu0 = Some((
                cpu(pid),
                synapse_pid.map(cpu_s),
                ircd_pid.map(cpu_s),
                cpu_s(std::process::id()),
            ));
        }
        let body = format!(
            "A{}: answer {k} of the load test, from {} sender {}",
            p.question,
            p.net.name(),
            p.who
        );
        let sent = sent.clone();
        match p.net {
            Net::Matrix => {
                let room = c.matrix[p.who].1.clone();
                tasks.spawn(async move {
                    let at = Utc::now();
                    let r = room
                        .send(RoomMessageEventContent::text_plain(body.clone()))
                        .await;
                    let rtt = ms(Utc::now() - at);
                    if let Err(e) = &r {
                        eprintln!("a Matrix send failed: {e}");
                    }
                    sent.lock().expect("lock").push(Sent {
                        body,
                        net: p.net,
                        burst: p.burst,
                        at,
                        rtt,
                        ok: r.is_ok(),
                    });
                });
            }
            Net::Irc => {
                let client = c.irc[p.who].clone();
                let chan = c.chan.clone();
                tasks.spawn(async move {
                    let at = Utc::now();
                    client.privmsg(&chan, &body).await;
                    sent.lock().expect("lock").push(Sent {
                        body,
                        net: p.net,
                        burst: p.burst,
                        at,
                        rtt: f64::NAN,
                        ok: true,
                    });
                });
            }
        }
    }
    let last_planned = Instant::now();
    while tasks.join_next().await.is_some() {}
    let sends_done_s = last_planned.elapsed().as_secs_f64();
    let sent = std::mem::take(&mut *sent.lock().expect("lock"));
    let sent_to = |net: Net| sent.iter().filter(|s| s.ok && s.net == net).count();
    let failed = sent.iter().filter(|s| !s.ok).count();
    let (sent_m, sent_i) = (sent_to(Net::Matrix), sent_to(Net::Irc));

    // Until /metrics counts every answer sent as stored (or 120 s).
    let t0 = Instant::now();
    let (stored_m, stored_i) = loop {
        let text = get_metrics(&metrics_url).await.unwrap_or_default();
        let s = |n: &str| {
            metric(
                &text,
                &format!("podium_replies_stored_total{{network=\"{n}\"}}"),
            )
        };
        let (m, i) = (s("matrix") as usize, s("irc") as usize);
        if (m >= sent_m && i >= sent_i) || t0.elapsed() > Duration::from_secs(120) {
            break (m, i);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let all_stored_s = t0.elapsed().as_secs_f64();
    let ((cpu_a, t_a), syn_a, irc_a, ours_a) = cpu0.expect("some load");
    let (cpu_b, t_b) = cpu(pid);
    let load_s = t_b.duration_since(t_a).as_secs_f64();
    let podium_cpu = cpu_b - cpu_a;
    let synapse_cpu = synapse_pid.map(cpu_s).zip(syn_a).map(|(b, a)| b - a);
    let ircd_cpu = ircd_pid.map(cpu_s).zip(irc_a).map(|(b, a)| b - a);
    let ours_cpu = cpu_s(std::process::id()) - ours_a;

    // The debate's end (the closing post, a spacing after the last
    // question): every question is out by then.
    let end = start + chrono::Duration::seconds((i64::from(a.questions) * a.spacing).max(60));
    let t0 = Instant::now();
    loop {
        let log = strip_ansi(&podium.log());
        let posted = |kind: &str| {
            log.lines()
                .filter(|l| l.contains(" posted ") && l.contains(&format!("kind=\"{kind}\"")))
                .count()
        };
        let done = posted("question");
        if done >= 2 * a.questions as usize && posted("transcript") >= 2 && Utc::now() > end {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "{done} question posts\n{}",
            podium.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    *stop.lock().expect("lock") = true;
    let mut poll = poller.await.expect("poller");
    if let Some(text) = get_metrics(&metrics_url).await {
        poll.last = text;
    }
    let hwm = peak_rss(pid);
    let cpu_total = cpu_s(pid);
    let status = podium.terminate();
    assert!(status.success(), "{}", podium.logs());

    // What the store holds: each body once, and its times.
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(podium.data.join("podium.db"))
        .read_only(true)
        .connect()
        .await
        .expect("podium.db");
    let rows = sqlx::query("SELECT network, original_body, server_ts, received_at FROM replies")
        .fetch_all(&mut conn)
        .await
        .expect("replies");
    let mut stored: HashMap<String, Vec<StoredTimes>> = HashMap::new();
    for r in &rows {
        let server: Option<String> = r.get("server_ts");
        stored.entry(r.get("original_body")).or_default().push((
            r.get("network"),
            server.as_deref().map(parse_ts),
            parse_ts(&r.get::<String, _>("received_at")),
        ));
    }
    // Each post as Podium saw it: the network took it at sent_at.
    let posts = sqlx::query(
        "SELECT room, kind, seq, due_at, sent_at FROM posts WHERE status = 'sent' \
         ORDER BY due_at, id",
    )
    .fetch_all(&mut conn)
    .await
    .expect("posts");
    let posts: Vec<String> = posts
        .iter()
        .map(|r| {
            let room: String = r.get("room");
            let kind: String = r.get("kind");
            let seq: i64 = r.get("seq");
            let due = parse_ts(&r.get::<String, _>("due_at"));
            let at = parse_ts(&r.get::<String, _>("sent_at"));
            let net = if room.starts_with("irc") {
                "irc"
            } else {
                "matrix"
            };
            format!("{net} {kind} {seq} {:+.0}", ms(at - due))
        })
        .collect();
    let t = podium.transcript(id);
    let count = |v: &serde_json::Value| v.as_array().map_or(0, Vec::len);
    let in_transcript = t["questions"].as_array().map_or(0, |qs| {
        qs.iter().map(|q| count(&q["replies"])).sum::<usize>()
    }) + count(&t["unattributed"]);

    let mut missing = Vec::new();
    let mut twice = 0;
    // (network, burst) -> (server -> received, send -> received), in ms.
    let mut delays: HashMap<(Net, bool), (Vec<f64>, Vec<f64>)> = HashMap::new();
    // Matrix answers: when sent, and how long until Synapse stamped them.
    let mut stamped: Vec<(DateTime<Utc>, f64)> = Vec::new();
    for s in sent.iter().filter(|s| s.ok) {
        match stored.get(&s.body).map(Vec::as_slice) {
            None | Some([]) => missing.push(s.body.clone()),
            Some([(net, server, received), rest @ ..]) => {
                twice += rest.len();
                assert_eq!(net, s.net.name(), "stored on its network");
                let d = delays.entry((s.net, s.burst)).or_default();
                if let Some(server) = server {
                    d.0.push(ms(*received - *server));
                    if s.net == Net::Matrix {
                        stamped.push((s.at, ms(*server - s.at)));
                    }
                }
                d.1.push(ms(*received - s.at));
            }
        }
    }

    // Question posts: Matrix origin_server_ts, IRC the observer's line.
    let bot_id = c.bot.user.to_string();
    let msgs = c.host.messages(&c.room).await;
    let windows = bursts(a);
    let mut lateness: Vec<(u32, bool, f64, f64)> = Vec::new();
    let mut anchors: Vec<(usize, f64, f64)> = Vec::new();
    for q in 1..=a.questions {
        let offset = i64::from(q - 1) * a.spacing;
        let due = start + chrono::Duration::seconds(offset);
        let in_burst = windows
            .iter()
            .any(|(s, e)| (offset as f64) >= *s && (offset as f64) < *e);
        let label = format!("Q{q}:");
        let matrix = msgs
            .iter()
            .find(|m| {
                m["sender"] == bot_id.as_str()
                    && m["content"]["body"]
                        .as_str()
                        .is_some_and(|b| b.starts_with(&label))
            })
            .and_then(|m| m["origin_server_ts"].as_i64())
            .map_or(f64::NAN, |ts| (ts - due.timestamp_millis()) as f64);
        let (b, ch) = (nick.clone(), c.chan.clone());
        let l2 = label.clone();
        let irc = c
            .observer
            .try_wait_for(Duration::from_secs(5), move |m| {
                m.is_privmsg(&b, &ch) && irc_plain(m.text()).starts_with(&l2)
            })
            .await
            .map_or(f64::NAN, |m| {
                let received =
                    Utc::now() - chrono::Duration::from_std(m.at.elapsed()).expect("short");
                ms(received - due)
            });
        // The anchor: participants' Matrix answers sent within half a
        // second of the question's due instant, and how long Synapse took
        // to stamp them.
        let near: Vec<f64> = stamped
            .iter()
            .filter(|(at, _)| ms(*at - due).abs() <= 500.0)
            .map(|(_, d)| *d)
            .collect();
        anchors.push((near.len(), pct(&near, 50.0), pct(&near, 100.0)));
        lateness.push((q, in_burst, matrix, irc));
    }
    let hist = |n: &str| {
        let text = &poll.last;
        let count = metric(
            text,
            &format!("podium_post_lateness_seconds_count{{network=\"{n}\"}}"),
        );
        let sum = metric(
            text,
            &format!("podium_post_lateness_seconds_sum{{network=\"{n}\"}}"),
        );
        let under = |le: &str| {
            metric(
                text,
                &format!("podium_post_lateness_seconds_bucket{{le=\"{le}\",network=\"{n}\"}}"),
            )
        };
        format!(
            "{n}: {count:.0} posts, mean {:.0} ms, {:.0} within 0.1 s, {:.0} within 0.5 s, \
             {:.0} within 2 s",
            sum * 1000.0 / count.max(1.0),
            under("0.1"),
            under("0.5"),
            under("2.0")
        )
    };

    // The report.
    let bursty = sent.iter().filter(|s| s.burst).count();
    println!(
        "run {n} load: {planned} answers planned over {:.0} s ({} in {} bursts of {BURST_S} s at \
         {}/s, the rest at {}/s), all sends answered {sends_done_s:.1} s after the last was \
         started; {failed} sends failed",
        load_s,
        bursty,
        windows.len(),
        a.burst,
        a.rate
    );
    let total_sent = sent_m + sent_i;
    let ok = failed == 0
        && missing.is_empty()
        && twice == 0
        && stored_m == sent_m
        && stored_i == sent_i
        && in_transcript == total_sent
        && rows.len() == total_sent;
    println!(
        "run {n} sent = stored: Matrix {sent_m} sent, {stored_m} stored; IRC {sent_i} sent, \
         {stored_i} stored (podium_replies_stored_total, all {all_stored_s:.1} s after the last \
         send was answered); the store holds {} replies, the transcript {in_transcript}; \
         {} sent bodies missing, {twice} stored twice: {}",
        rows.len(),
        missing.len(),
        if ok { "EQUAL" } else { "NOT EQUAL" }
    );
    for burst in [false, true] {
        let rtt: Vec<f64> = sent
            .iter()
            .filter(|s| s.ok && s.net == Net::Matrix && s.burst == burst)
            .map(|s| s.rtt)
            .collect();
        println!(
            "run {n} Matrix sends {} ({} of them): request -> response p50 {:.0} ms p99 {:.0} ms \
             max {:.0} ms",
            if burst { "in bursts" } else { "sustained" },
            rtt.len(),
            pct(&rtt, 50.0),
            pct(&rtt, 99.0),
            pct(&rtt, 100.0)
        );
    }
    for net in [Net::Matrix, Net::Irc] {
        for burst in [false, true] {
            let Some((server, send)) = delays.get(&(net, burst)) else {
                continue;
            };
            println!(
                "run {n} delay {} {} ({} answers): server timestamp -> received_at p50 {:.0} ms \
                 p99 {:.0} ms max {:.0} ms; client send -> received_at p50 {:.0} ms p99 {:.0} ms \
                 max {:.0} ms",
                net.name(),
                if burst { "burst" } else { "sustained" },
                send.len(),
                pct(server, 50.0),
                pct(server, 99.0),
                pct(server, 100.0),
                pct(send, 50.0),
                pct(send, 99.0),
                pct(send, 100.0)
            );
        }
    }
    let per_k = podium_cpu * 1000.0 / total_sent as f64;
    println!(
        "run {n} cost: Podium {podium_cpu:.1} CPU s over {load_s:.0} s of load ({:.1}% of a \
         core; {per_k:.2} CPU s per 1,000 answers; {cpu_total:.1} CPU s since it started), peak \
         RSS (VmHWM) {hwm:.1} MiB, deepest writer queue {:.0}; in the same time Synapse \
         {:.1} CPU s, InspIRCd {:.1} CPU s, this load generator {ours_cpu:.1} CPU s",
        podium_cpu * 100.0 / load_s,
        poll.deepest,
        synapse_cpu.unwrap_or(f64::NAN),
        ircd_cpu.unwrap_or(f64::NAN),
    );
    for ((q, in_burst, m, i), (near, near_p50, near_max)) in lateness.iter().zip(&anchors) {
        println!(
            "run {n} Q{q}{}: Matrix origin_server_ts - due {m:.0} ms (the {near} participants' \
             answers sent within 0.5 s of the due instant: origin_server_ts - send p50 \
             {near_p50:.0} ms, max {near_max:.0} ms); IRC observer - due {i:.0} ms",
            if *in_burst { " (due mid-burst)" } else { "" }
        );
    }
    println!(
        "run {n} every post, as Podium saw it (sent_at - due_at, ms): {}",
        posts.join(", ")
    );
    let split = |burst: bool, f: fn(&(u32, bool, f64, f64)) -> f64| -> Vec<f64> {
        lateness.iter().filter(|l| l.1 == burst).map(f).collect()
    };
    println!(
        "run {n} question lateness, worst: mid-burst Matrix {:.0} ms IRC {:.0} ms; \
         sustained only Matrix {:.0} ms IRC {:.0} ms; /metrics lateness histogram (every post): \
         {}; {}",
        pct(&split(true, |l| l.2), 100.0),
        pct(&split(true, |l| l.3), 100.0),
        pct(&split(false, |l| l.2), 100.0),
        pct(&split(false, |l| l.3), 100.0),
        hist("matrix"),
        hist("irc")
    );
    if !missing.is_empty() {
        println!(
            "run {n} first missing bodies: {:?}",
            &missing[..missing.len().min(10)]
        );
    }
    ok
}

/// `text` without IRC formatting codes (bold, colours...).
fn irc_plain(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '\x02' | '\x03' | '\x0f' | '\x16' | '\x1d' | '\x1f'))
        .collect()
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let t0 = Instant::now();
    let synapse_url = &synapse().url;
    let synapse_s = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let server = start_ircd("relaxed");
    let ircd_s = t0.elapsed().as_secs_f64();
    println!(
        "Synapse: {synapse_url} (up in {synapse_s:.1} s); InspIRCd: {} (up in {ircd_s:.1} s)",
        server.addr
    );
    let all = rt.block_on(async {
        let mut all = true;
        for n in 1..=a.runs {
            all &= run(&a, n, &server).await;
        }
        all
    });
    server.stop();
    if !all {
        eprintln!("sent != stored in at least one run");
        std::process::exit(101);
    }
}
