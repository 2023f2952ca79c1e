#![recursion_limit = "256"]
//! The fault-schedule soak (issue 20, point 1): `podium run` on this
//! binary's own Synapse and InspIRCd hosts back-to-back debates in ten
//! Matrix rooms and ten IRC channels (each debate in one of each) with
//! compressed times, while scripted participants answer (tagged, untagged,
//! replies, edits, deletions, commands) and a seeded random schedule of
//! faults hits it: SIGKILL, SIGSTOP/SIGCONT, a Synapse restart, an
//! InspIRCd restart, the data directory's disk filled and freed (a tmpfs,
//! where the test may mount one: as root, which CI is), a schedule reload
//! with an error in it.
//!
//! At the end it checks and prints: every answer Podium acknowledged is
//! in its transcript once (Matrix: every answer the homeserver took, since
//! Podium reads the room's history from its own cursor; IRC, which keeps
//! no history: every answer said while Podium was in the channel, by the
//! transcript's own record of its absences and the soak's fault windows);
//! each post went out at most once per room (Matrix: the room's timeline;
//! IRC: what the participants saw, and Podium's own log); posts missing
//! are each explained by a documented rule (a reminder held up past the
//! start, an IRC claim interrupted by a kill); the process never used
//! more than the stated resident memory.
//!
//! `SOAK_MINUTES` (default 3, as CI runs it; `scripts/soak.sh` runs it by
//! hand with `SOAK_MINUTES=60`), `SOAK_SEED` (default: from the clock;
//! printed, and a failing run's seed reproduces its fault schedule and
//! its participants' actions), `SOAK_RSS_MB` (the stated ceiling, default
//! 300).

#[path = "support/irc.rs"]
mod irc_support;
#[path = "support/matrix.rs"]
mod matrix_support;
mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use irc_support::{Client, ircd, unique_nick};
use matrix_sdk::ruma::OwnedEventId;
use matrix_sdk::ruma::events::relation::InReplyTo;
use matrix_sdk::ruma::events::room::message::{
    Relation, ReplacementMetadata, RoomMessageEventContent,
};
use matrix_support::{Person, Podium, synapse, unique};

/// Pairs of rooms (one Matrix room, one IRC channel), each hosting its
/// own debates one after another.
const PAIRS: usize = 10;
/// A debate: an intro and Q1 at its start, Q2 and Q3 every 20 s, the
/// closing at a minute; then a pause before the next in the same pair.
const DEBATE: i64 = 60;
const PERIOD: i64 = 90;
/// Participants per network.
const PEOPLE: usize = 3;
/// A send that takes longer than this is given up, and what it sent is
/// uncertain (it may have reached the server).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// SplitMix64: the seed fixes every choice.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One debate of the soak's schedule.
#[derive(Clone)]
struct Planned {
    id: String,
    title: String,
    pair: usize,
    start: DateTime<Utc>,
}

impl Planned {
    fn question_text(&self, n: u32) -> String {
        format!("{} question {n}?", self.title)
    }
    /// The question due at `at`, if the debate is running then.
    fn question_at(&self, at: DateTime<Utc>) -> Option<u32> {
        let s = (at - self.start).num_seconds();
        (0..DEBATE).contains(&s).then(|| (s / 20) as u32 + 1)
    }
}

fn schedule_yaml(debates: &[Planned], rooms: &[String], channels: &[String]) -> String {
    let mut yaml = "timezone: Europe/London\ndebates:\n".to_owned();
    for d in debates {
        let local = d.start.with_timezone(&chrono_tz::Europe::London);
        yaml.push_str(&format!(
            "  - id: {}\n    title: {}\n    starts: {}\n    duration: 1m\n    remind: [10s]\n\
             \x20   public: true\n    rooms: ['{}', 'irc:{}']\n    questions:\n\
             \x20     - {}\n      - {{text: {}, at: 20s}}\n      - {{text: {}, at: 40s}}\n",
            d.id,
            d.title,
            local.format("%Y-%m-%d %H:%M:%S"),
            rooms[d.pair],
            channels[d.pair],
            d.question_text(1),
            d.question_text(2),
            d.question_text(3),
        ));
    }
    yaml
}

/// What a participant sent.
#[derive(Clone, Debug)]
struct Sent {
    token: String,
    network: &'static str,
    debate: String,
    at: DateTime<Utc>,
    /// The server took it for certain (not timed out).
    certain: bool,
    event: Option<OwnedEventId>,
    /// The body now, after edits (`None`: deleted).
    now: Option<String>,
    /// An edit or deletion of it was uncertain: its final state is not
    /// known.
    unsure: bool,
    by: usize,
}

/// A window in which a fault was in effect.
#[derive(Clone, Debug)]
struct Window {
    kind: &'static str,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
}

/// What the fault task and the participants share.
struct Shared {
    podium: Mutex<Podium>,
    windows: Mutex<Vec<Window>>,
    /// Peak resident memory seen, in kB, and its run.
    peak_rss: Mutex<(u64, u32)>,
}

/// An IRC participant that reconnects after the server restarts.
struct IrcPerson {
    nick: String,
    client: Option<Client>,
    /// The bot's lines it saw (channel, text), kept across reconnections.
    seen: Vec<(String, String)>,
    /// How many of the current connection's bot lines are in `seen`.
    taken: usize,
    next_try: tokio::time::Instant,
}

impl IrcPerson {
    async fn connect(nick: &str, channels: &[String]) -> Option<Client> {
        let (addr, nick, chans) = (ircd().addr.clone(), nick.to_owned(), channels.to_vec());
        // The harness panics on a failed connection: caught here.
        tokio::spawn(async move {
            let mut c = Client::connect(&addr, &nick).await;
            for ch in &chans {
                c.join(ch).await;
            }
            c
        })
        .await
        .ok()
    }

    /// Keeps the bot's lines seen so far; reconnects if the link is gone.
    async fn tend(&mut self, bot: &str, channels: &[String]) {
        if let Some(c) = &mut self.client {
            let lines: Vec<(String, String)> = c
                .history()
                .iter()
                .filter(|m| m.is("PRIVMSG") && m.is_from(bot))
                .map(|m| (m.target().to_lowercase(), m.text().to_owned()))
                .collect();
            self.seen.extend(lines[self.taken..].iter().cloned());
            self.taken = lines.len();
            if c.is_closed() {
                self.client = None;
            }
        }
        if self.client.is_none() && tokio::time::Instant::now() >= self.next_try {
            self.next_try = tokio::time::Instant::now() + Duration::from_secs(2);
            if tokio::net::TcpStream::connect(&ircd().addr).await.is_ok() {
                self.client = IrcPerson::connect(&self.nick, channels).await;
                self.taken = 0;
            }
        }
    }

    /// Says `text` in `channel`; whether the line was written.
    async fn say(&mut self, channel: &str, text: &str) -> bool {
        let Some(c) = &self.client else { return false };
        c.try_send_bytes(format!("PRIVMSG {channel} :{text}\r\n").as_bytes())
            .await
            .is_ok()
    }
}

/// A tmpfs under the data directory, for the full-disk fault; unmounted
/// when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256m,mode=0700", "podium-soak"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_owned()))
    }

    /// Fills it to the last block; the filler's path.
    fn fill(&self) -> PathBuf {
        use std::io::Write as _;
        let path = self.0.join("soak-filler");
        if let Ok(mut f) = std::fs::File::create(&path) {
            let block = vec![0u8; 1 << 20];
            while f.write_all(&block).is_ok() {}
            let small = [0u8; 4096];
            while f.write_all(&small).is_ok() {}
            let _ = f.sync_all();
        }
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status();
}

/// VmRSS of `pid`, in kB.
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// The fault schedule: one fault at a time, each lasting a few seconds,
/// until `until`.
async fn faults(
    shared: Arc<Shared>,
    seed: u64,
    until: DateTime<Utc>,
    disk: Option<Arc<Tmpfs>>,
    schedule: PathBuf,
    good_yaml: String,
) -> BTreeMap<&'static str, u32> {
    let mut rng = Rng(seed ^ 0xFA17);
    let mut counts: BTreeMap<&'static str, u32> = BTreeMap::new();
    let kinds: &[(&'static str, u64)] = &[
        ("kill", 45),
        ("stop", 15),
        ("synapse", 10),
        ("ircd", 10),
        ("disk", 10),
        ("reload", 10),
    ];
    let total: u64 = kinds.iter().map(|k| k.1).sum();
    loop {
        tokio::time::sleep(Duration::from_millis(rng.between(6_000, 20_000))).await;
        if Utc::now() >= until {
            return counts;
        }
        let mut roll = rng.below(total);
        let kind = kinds
            .iter()
            .find(|(_, w)| {
                if roll < *w {
                    true
                } else {
                    roll -= w;
                    false
                }
            })
            .map_or("kill", |k| k.0);
        let kind = if kind == "disk" && disk.is_none() {
            "kill"
        } else {
            kind
        };
        let from = Utc::now();
        let hold = Duration::from_millis(rng.between(500, 8_000));
        match kind {
            "kill" => {
                shared.podium.lock().unwrap().kill();
                tokio::time::sleep(Duration::from_millis(rng.between(0, 3_000))).await;
                shared.podium.lock().unwrap().start();
            }
            "stop" => {
                let pid = shared.podium.lock().unwrap().pid();
                if let Some(pid) = pid {
                    signal(pid, "STOP");
                    tokio::time::sleep(hold).await;
                    signal(pid, "CONT");
                }
            }
            "synapse" => {
                tokio::task::spawn_blocking(|| synapse().stop())
                    .await
                    .unwrap();
                tokio::time::sleep(hold).await;
                tokio::task::spawn_blocking(|| synapse().start_again("relaxed"))
                    .await
                    .unwrap();
            }
            "ircd" => {
                tokio::task::spawn_blocking(|| ircd().stop()).await.unwrap();
                tokio::time::sleep(hold).await;
                tokio::task::spawn_blocking(|| ircd().start_again())
                    .await
                    .unwrap();
            }
            "disk" => {
                let disk = disk.clone().expect("a tmpfs");
                let filler = tokio::task::spawn_blocking(move || disk.fill())
                    .await
                    .unwrap();
                tokio::time::sleep(hold).await;
                let _ = std::fs::remove_file(filler);
            }
            "reload" => {
                let broken =
                    good_yaml.replacen("timezone: Europe/London", "timezone: Europe/Lodnon", 1);
                std::fs::write(&schedule, broken).unwrap();
                tokio::time::sleep(hold).await;
                std::fs::write(&schedule, &good_yaml).unwrap();
            }
            _ => unreachable!(),
        }
        *counts.entry(kind).or_default() += 1;
        shared.windows.lock().unwrap().push(Window {
            kind,
            from,
            until: Utc::now(),
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_schedule_soak() {
    let minutes: f64 = env_or("SOAK_MINUTES", 3.0);
    let seed: u64 = env_or(
        "SOAK_SEED",
        Utc::now().timestamp_nanos_opt().unwrap_or(1) as u64 % 1_000_000,
    );
    let rss_limit_mb: u64 = env_or("SOAK_RSS_MB", 300);
    println!("soak: SOAK_SEED={seed} SOAK_MINUTES={minutes}");
    let mut rng = Rng(seed);

    // People and rooms.
    let url = synapse().url.clone();
    let bot = Person::register(&url, "podium").await;
    let mut people = Vec::new();
    for i in 0..PEOPLE {
        people.push(Person::register(&url, &format!("m{i}")).await);
    }
    let invite: Vec<_> = std::iter::once(&bot.user)
        .chain(people[1..].iter().map(|p| &p.user))
        .collect();
    let mut rooms = Vec::new();
    let mut room_ids = Vec::new();
    for i in 0..PAIRS {
        let r = people[0]
            .create_room(&unique(&format!("soak{i}")), &invite, false)
            .await;
        room_ids.push(r.room_id().to_string());
        rooms.push(r);
    }
    for p in &people[1..] {
        for id in &room_ids {
            p.join(id).await;
        }
    }
    let channels: Vec<String> = (0..PAIRS)
        .map(|i| format!("#{}", unique_nick(&format!("soak{i}"))))
        .collect();
    let mut irc_people = Vec::new();
    for i in 0..PEOPLE {
        let nick = unique_nick(&format!("i{i}"));
        let client = IrcPerson::connect(&nick, &channels).await;
        assert!(client.is_some(), "{nick} connects");
        irc_people.push(IrcPerson {
            nick,
            client,
            seen: Vec::new(),
            taken: 0,
            next_try: tokio::time::Instant::now(),
        });
    }

    // The schedule: back-to-back debates in every pair, staggered.
    let first = Utc::now() + chrono::Duration::seconds(40);
    let first = chrono::SubsecRound::trunc_subsecs(first, 0);
    let span = (minutes * 60.0) as i64;
    let mut debates = Vec::new();
    for pair in 0..PAIRS {
        let mut k = 0;
        loop {
            let start = first + chrono::Duration::seconds(pair as i64 * 7 + k * PERIOD);
            if (start - first).num_seconds() >= span.max(1) {
                break;
            }
            debates.push(Planned {
                id: format!("soak-{pair}-{k}"),
                title: format!("Soak {pair}.{k}"),
                pair,
                start,
            });
            k += 1;
        }
    }
    let last_end = debates
        .iter()
        .map(|d| d.start + chrono::Duration::seconds(DEBATE))
        .max()
        .unwrap();
    let yaml = schedule_yaml(&debates, &room_ids, &channels);
    let nick = unique_nick("podium");
    let mut podium = Podium::new(&bot, &yaml);
    podium.env("PODIUM_IRC_SERVER", &ircd().addr);
    podium.env("PODIUM_IRC_TLS", "false");
    podium.env("PODIUM_IRC_NICK", &nick);
    let disk = Tmpfs::mount(&podium.data).map(Arc::new);
    if disk.is_none() {
        println!("soak: no tmpfs (mounting one needs root): the full-disk fault is left out");
    }
    let schedule_file = podium.schedule.clone();
    let logs_dir = podium.dir.path().to_owned();
    podium.start();
    let shared = Arc::new(Shared {
        podium: Mutex::new(podium),
        windows: Mutex::new(Vec::new()),
        peak_rss: Mutex::new((0, 0)),
    });
    let fault_task = tokio::spawn(faults(
        shared.clone(),
        seed,
        last_end - chrono::Duration::seconds(5),
        disk.clone(),
        schedule_file,
        yaml.clone(),
    ));

    // The participants, until the last debate ends.
    let mut sent: Vec<Sent> = Vec::new();
    let mut counter = 0u64;
    let mut last_rss = tokio::time::Instant::now();
    while Utc::now() < last_end {
        tokio::time::sleep(Duration::from_millis(rng.between(100, 500))).await;
        if last_rss.elapsed() >= Duration::from_millis(500) {
            last_rss = tokio::time::Instant::now();
            let (pid, runs) = {
                let p = shared.podium.lock().unwrap();
                (p.pid(), p.runs())
            };
            if let Some(kb) = pid.and_then(rss_kb) {
                let mut peak = shared.peak_rss.lock().unwrap();
                if kb > peak.0 {
                    *peak = (kb, runs);
                }
            }
            for p in &mut irc_people {
                p.tend(&nick, &channels).await;
            }
        }
        let now = Utc::now();
        // A debate running now, not in its first or last two seconds.
        let running: Vec<&Planned> = debates
            .iter()
            .filter(|d| {
                let s = (now - d.start).num_seconds();
                (2..DEBATE - 2).contains(&s)
            })
            .collect();
        if running.is_empty() {
            continue;
        }
        let d = (*rng.pick(&running)).clone();
        let q = d.question_at(now).unwrap_or(1);
        counter += 1;
        // Ends in `x`: no token is the start of another.
        let token = format!("k{seed}n{counter}x");
        let who = rng.below(PEOPLE as u64) as usize;
        if rng.below(100) < 60 {
            let person = &people[who];
            let room = &rooms[d.pair];
            let roll = rng.below(100);
            // Earlier answers of this person in this debate, still there.
            let own: Vec<usize> = sent
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    s.network == "matrix"
                        && s.debate == d.id
                        && s.by == who
                        && s.certain
                        && !s.unsure
                        && s.now.is_some()
                })
                .map(|(i, _)| i)
                .collect();
            let others: Vec<usize> = sent
                .iter()
                .enumerate()
                .filter(|(_, s)| s.network == "matrix" && s.debate == d.id && s.event.is_some())
                .map(|(i, _)| i)
                .collect();
            let (content, action): (Option<RoomMessageEventContent>, &str) = match roll {
                0..45 => (
                    Some(RoomMessageEventContent::text_plain(format!(
                        "A{q}: {token}"
                    ))),
                    "answer",
                ),
                45..62 => (
                    Some(RoomMessageEventContent::text_plain(format!(
                        "{token} untagged"
                    ))),
                    "answer",
                ),
                62..74 if !others.is_empty() => {
                    let to = sent[*rng.pick(&others)].event.clone().unwrap();
                    let mut c = RoomMessageEventContent::text_plain(format!("{token} a reply"));
                    c.relates_to = Some(Relation::Reply(
                        matrix_sdk::ruma::events::relation::Reply::new(InReplyTo::new(to)),
                    ));
                    (Some(c), "answer")
                }
                74..86 if !own.is_empty() => {
                    let i = *rng.pick(&own);
                    let target = sent[i].event.clone().unwrap();
                    let body = format!("A{q}: {} edited as {token}", sent[i].token);
                    let c = RoomMessageEventContent::text_plain(body.clone())
                        .make_replacement(ReplacementMetadata::new(target, None));
                    match tokio::time::timeout(SEND_TIMEOUT, room.send(c)).await {
                        Ok(Ok(_)) => sent[i].now = Some(body),
                        Ok(Err(_)) => {}
                        Err(_) => sent[i].unsure = true,
                    }
                    (None, "edit")
                }
                86..94 if !own.is_empty() => {
                    let i = *rng.pick(&own);
                    let target = sent[i].event.clone().unwrap();
                    match tokio::time::timeout(SEND_TIMEOUT, room.redact(&target, None, None)).await
                    {
                        Ok(Ok(_)) => sent[i].now = None,
                        Ok(Err(_)) => {}
                        Err(_) => sent[i].unsure = true,
                    }
                    (None, "delete")
                }
                _ => {
                    let cmd = *rng.pick(&["!next", "!transcript", "!proposals"]);
                    let _ = tokio::time::timeout(
                        SEND_TIMEOUT,
                        room.send(RoomMessageEventContent::text_plain(cmd)),
                    )
                    .await;
                    (None, "command")
                }
            };
            let _ = (person, action);
            if let Some(content) = content {
                let body = content.body().to_owned();
                match tokio::time::timeout(SEND_TIMEOUT, room.send(content)).await {
                    Ok(Ok(r)) => sent.push(Sent {
                        token,
                        network: "matrix",
                        debate: d.id.clone(),
                        at: now,
                        certain: true,
                        event: Some(r.response.event_id),
                        now: Some(body),
                        unsure: false,
                        by: who,
                    }),
                    Ok(Err(_)) => {}
                    Err(_) => sent.push(Sent {
                        token,
                        network: "matrix",
                        debate: d.id.clone(),
                        at: now,
                        certain: false,
                        event: None,
                        now: Some(body),
                        unsure: true,
                        by: who,
                    }),
                }
            }
        } else {
            let channel = channels[d.pair].clone();
            let text = match rng.below(100) {
                0..60 => format!("A{q}: {token}"),
                60..85 => format!("{token} untagged"),
                _ => (*rng.pick(&["!next", "!transcript", "!proposals"])).to_owned(),
            };
            let person = &mut irc_people[who];
            if person.say(&channel, &text).await && !text.starts_with('!') {
                sent.push(Sent {
                    token,
                    network: "irc",
                    debate: d.id.clone(),
                    at: now,
                    certain: true,
                    event: None,
                    now: Some(text),
                    unsure: false,
                    by: who,
                });
            }
        }
    }
    let counts = fault_task.await.expect("the fault schedule");

    // Everything back up; the last posts and answers in; a clean stop.
    for p in &mut irc_people {
        let deadline = tokio::time::Instant::now() + support::WAIT;
        while p.client.is_none() && tokio::time::Instant::now() < deadline {
            p.tend(&nick, &channels).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    // Posts due while a network was away go out late once it is back:
    // wait (3 minutes at most) until each is posted or left by a rule.
    let expected: Vec<PostKey> = debates
        .iter()
        .flat_map(|d| {
            let rooms = [
                room_ids[d.pair].clone(),
                format!("irc:{}", channels[d.pair]),
            ];
            rooms.into_iter().flat_map(move |room| {
                [
                    ("intro", "0"),
                    ("question", "1"),
                    ("question", "2"),
                    ("question", "3"),
                    ("closing", "0"),
                ]
                .map(|(k, s)| (d.id.clone(), room.clone(), k.to_owned(), s.to_owned()))
            })
        })
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let (posted, left) = record(&shared.podium.lock().unwrap().logs());
        let waiting = expected
            .iter()
            .filter(|k| !posted.contains_key(*k) && !left.contains_key(*k))
            .count();
        if waiting == 0 || tokio::time::Instant::now() > deadline {
            println!("soak: {waiting} posts still unsent after the wait");
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    tokio::time::sleep(Duration::from_secs(8)).await;
    for p in &mut irc_people {
        p.tend(&nick, &channels).await;
    }
    let code = shared.podium.lock().unwrap().terminate().code();
    assert_eq!(code, Some(0), "podium run stops cleanly");
    let logs = shared.podium.lock().unwrap().logs();
    // Kept for a failing run's post-mortem.
    let kept = std::env::temp_dir().join(format!("podium-soak-{seed}"));
    let _ = std::fs::create_dir_all(&kept);
    let _ = std::fs::write(kept.join("podium.log"), &logs);
    let _ = logs_dir;
    let windows = shared.windows.lock().unwrap().clone();
    let (peak_kb, peak_run) = *shared.peak_rss.lock().unwrap();
    let Ok(shared) = Arc::try_unwrap(shared) else {
        panic!("the fault schedule still holds Podium")
    };
    let podium = shared.podium.into_inner().unwrap();

    check(&Checked {
        seed,
        debates: &debates,
        sent: &sent,
        windows: &windows,
        counts: &counts,
        logs: &logs,
        rooms: &rooms,
        reader: &people[0],
        bot: bot.user.as_ref(),
        irc_people: &irc_people,
        channels: &channels,
        podium: &podium,
        peak: (peak_kb, peak_run),
        rss_limit_mb,
    })
    .await;
    drop(disk);
}

struct Checked<'a> {
    seed: u64,
    debates: &'a [Planned],
    sent: &'a [Sent],
    windows: &'a [Window],
    counts: &'a BTreeMap<&'static str, u32>,
    logs: &'a str,
    rooms: &'a [matrix_sdk::Room],
    reader: &'a Person,
    bot: &'a str,
    irc_people: &'a [IrcPerson],
    channels: &'a [String],
    podium: &'a Podium,
    peak: (u64, u32),
    rss_limit_mb: u64,
}

/// The kind of a post, from its text, if it is one of `d`'s posts.
fn post_kind(d: &Planned, text: &str) -> Option<String> {
    let quoted = format!("“{}”", d.title);
    if text.starts_with(&format!("Reminder: {quoted}")) {
        return Some("reminder".into());
    }
    if text.starts_with(&format!("{quoted} starts now")) {
        return Some("intro".into());
    }
    for n in 1..=3 {
        if text.contains(&d.question_text(n)) && text.trim_start_matches('\x02').starts_with('Q') {
            return Some(format!("question {n}"));
        }
    }
    if text.starts_with(&format!("That is the end of {quoted}")) {
        return Some("closing".into());
    }
    if text.starts_with(&format!("The transcript of {quoted}")) {
        return Some("transcript".into());
    }
    None
}

/// A log line's field (`key=value`, quotes removed).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!(" {key}="))? + key.len() + 2;
    let rest = &line[at..];
    let end = rest.find(' ').unwrap_or(rest.len());
    Some(rest[..end].trim_matches('"'))
}

/// A post as Podium's log names it: debate, room, kind, seq.
type PostKey = (String, String, String, String);

/// Podium's own record, from its log: how often it posted each post, and
/// the posts it left unsent by a rule, with the rule.
fn record(logs: &str) -> (HashMap<PostKey, u32>, HashMap<PostKey, &'static str>) {
    let mut posted: HashMap<PostKey, u32> = HashMap::new();
    let mut left: HashMap<PostKey, &'static str> = HashMap::new();
    for line in logs.lines() {
        let key = || {
            Some((
                field(line, "debate")?.to_owned(),
                field(line, "room")?.to_owned(),
                field(line, "kind")?.to_owned(),
                field(line, "seq")?.to_owned(),
            ))
        };
        if line.contains(" posted ") {
            if let Some(k) = key() {
                *posted.entry(k).or_default() += 1;
            }
        } else if line.contains("leaving it") {
            if let Some(k) = key() {
                left.insert(
                    k,
                    "interrupted by a kill on a network that cannot deduplicate",
                );
            }
        } else if line.contains("a reminder held up until the start is dropped")
            || line.contains("skipped a post")
        {
            if let Some(k) = key() {
                left.insert(k, "held up past its time (dropped or skipped by rule)");
            } else if let (Some(d), Some(r)) = (field(line, "debate"), field(line, "room")) {
                left.insert(
                    (d.to_owned(), r.to_owned(), "reminder".into(), "1".into()),
                    "a reminder held up until the start",
                );
            }
        }
    }
    (posted, left)
}

async fn check(c: &Checked<'_>) {
    let mut problems: Vec<String> = Vec::new();
    let kinds = [
        "reminder",
        "intro",
        "question 1",
        "question 2",
        "question 3",
        "closing",
        "transcript",
    ];
    let (posted, left) = record(c.logs);
    let double_logged: Vec<_> = posted.iter().filter(|(_, n)| **n > 1).collect();
    for (k, n) in &double_logged {
        problems.push(format!("Podium logged {k:?} as posted {n} times"));
    }

    // Matrix: the room timelines.
    let mut matrix_double = 0;
    let mut matrix_missing = Vec::new();
    let mut late_posts = 0;
    for (pair, room) in c.rooms.iter().enumerate() {
        let messages = c.reader.messages(room).await;
        let posts: Vec<&str> = messages
            .iter()
            .filter(|m| {
                m["sender"] == c.bot && m["content"]["m.relates_to"]["m.in_reply_to"].is_null()
            })
            .filter_map(|m| m["content"]["body"].as_str())
            .collect();
        late_posts += posts.iter().filter(|p| p.contains("(posted late")).count();
        for d in c.debates.iter().filter(|d| d.pair == pair) {
            for kind in kinds {
                let n = posts
                    .iter()
                    .filter(|p| post_kind(d, p).as_deref() == Some(kind))
                    .count();
                if n > 1 {
                    matrix_double += 1;
                    problems.push(format!("{} {kind}: {n} times in the Matrix room", d.id));
                }
                if n == 0 {
                    matrix_missing.push((d.id.clone(), kind));
                }
            }
        }
    }
    // A missing Matrix post needs a rule: only a reminder held up past
    // the start is dropped (every other post is sent late, not skipped,
    // within the 15-minute grace).
    let mut unexplained = 0;
    for (id, kind) in &matrix_missing {
        let explained = *kind == "reminder"
            || left
                .keys()
                .any(|(d, r, k, _)| d == id && r.starts_with('!') && kind.starts_with(k.as_str()));
        if !explained {
            unexplained += 1;
            problems.push(format!(
                "{id} {kind}: missing from the Matrix room, no rule says why"
            ));
        }
    }

    // IRC: what the participants saw, each on its own.
    let mut irc_double = 0;
    for p in c.irc_people {
        for (pair, channel) in c.channels.iter().enumerate() {
            let lines: Vec<&str> = p
                .seen
                .iter()
                .filter(|(ch, _)| ch == &channel.to_lowercase())
                .map(|(_, t)| t.as_str())
                .collect();
            for d in c.debates.iter().filter(|d| d.pair == pair) {
                for kind in kinds
                    .iter()
                    .filter(|k| k.starts_with("question") || **k == "closing")
                {
                    let n = lines
                        .iter()
                        .filter(|l| post_kind(d, l).as_deref() == Some(*kind))
                        .count();
                    if n > 1 {
                        irc_double += 1;
                        problems.push(format!(
                            "{} {kind}: seen {n} times by {} on IRC",
                            d.id, p.nick
                        ));
                    }
                }
            }
        }
    }
    let irc_missing: Vec<(String, &str)> = c
        .debates
        .iter()
        .flat_map(|d| {
            let room = format!("irc:{}", c.channels[d.pair]);
            let posted = &posted;
            ["intro", "question 1", "question 2", "question 3", "closing"]
                .into_iter()
                .filter(move |kind| {
                    let (k, seq) = match *kind {
                        "intro" | "closing" => (kind.to_string(), "0".to_owned()),
                        q => ("question".into(), q.rsplit(' ').next().unwrap().to_owned()),
                    };
                    !posted.contains_key(&(d.id.clone(), room.clone(), k, seq))
                })
                .map(|kind| (d.id.clone(), kind))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut irc_unknown = 0;
    for (id, kind) in &irc_missing {
        let room = format!(
            "irc:{}",
            c.channels[c.debates.iter().find(|d| &d.id == id).unwrap().pair]
        );
        if left
            .keys()
            .any(|(d, r, k, _)| d == id && *r == room && kind.starts_with(k.as_str()))
        {
            irc_unknown += 1;
        } else {
            unexplained += 1;
            problems.push(format!(
                "{id} {kind}: never posted on IRC, no rule says why"
            ));
        }
    }

    // Answers.
    let mut transcripts: HashMap<String, Vec<(String, String, bool)>> = HashMap::new();
    for d in c.debates {
        let t = c.podium.transcript(&d.id);
        let mut replies = Vec::new();
        for list in t["questions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|q| &q["replies"])
            .chain(std::iter::once(&t["unattributed"]))
        {
            for r in list.as_array().into_iter().flatten() {
                replies.push((
                    r["network"].as_str().unwrap_or("").to_owned(),
                    r["body"].as_str().unwrap_or("").to_owned(),
                    r["edited"].as_bool().unwrap_or(false),
                ));
            }
        }
        let gaps: Vec<(DateTime<Utc>, DateTime<Utc>)> = t["gaps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|g| g["network"] == "irc")
            .filter_map(|g| {
                Some((
                    g["from"].as_str()?.parse().ok()?,
                    g["until"].as_str()?.parse().ok()?,
                ))
            })
            .collect();
        transcripts.insert(d.id.clone(), replies);
        transcripts.insert(
            format!("{}#gaps", d.id),
            gaps.iter()
                .map(|(a, b)| (a.to_rfc3339(), b.to_rfc3339(), false))
                .collect(),
        );
    }
    let margin = chrono::Duration::seconds(3);
    let mut lost = 0;
    let mut duplicated = 0;
    let mut irc_sent = 0;
    let mut irc_expected = 0;
    let mut irc_stored = 0;
    let mut matrix_checked = 0;
    for s in c.sent {
        let replies = &transcripts[&s.debate];
        let found: Vec<&(String, String, bool)> = replies
            .iter()
            .filter(|(net, body, _)| net == s.network && body.contains(&s.token))
            .collect();
        if found.len() > 1 {
            duplicated += 1;
            problems.push(format!(
                "{} {}: stored {} times",
                s.network,
                s.token,
                found.len()
            ));
        }
        if s.network == "irc" {
            irc_sent += 1;
            irc_stored += usize::from(!found.is_empty());
            let gaps = &transcripts[&format!("{}#gaps", s.debate)];
            let in_gap = gaps.iter().any(|(a, b, _)| {
                let (a, b): (DateTime<Utc>, DateTime<Utc>) =
                    (a.parse().unwrap(), b.parse().unwrap());
                s.at >= a - margin && s.at <= b + margin
            });
            // Away (killed, stopped, its server restarting) or
            // reconnecting after it: what was said then never reached it.
            let in_fault = c.windows.iter().any(|w| {
                matches!(w.kind, "kill" | "stop" | "ircd")
                    && s.at >= w.from - margin
                    && s.at <= w.until + chrono::Duration::seconds(20)
            });
            if !in_gap && !in_fault {
                irc_expected += 1;
                if found.is_empty() {
                    lost += 1;
                    problems.push(format!(
                        "IRC {} said at {} while Podium was in the channel: not stored",
                        s.token, s.at
                    ));
                }
            }
        } else if s.certain && !s.unsure {
            matrix_checked += 1;
            match &s.now {
                Some(body) => {
                    let shown = found.first().map(|(_, b, _)| b.as_str());
                    if found.is_empty() {
                        lost += 1;
                        problems.push(format!(
                            "Matrix {} ({}, sent at {}): not stored",
                            s.token, s.debate, s.at
                        ));
                    } else if let Some(edit) = body.split(" edited as ").nth(1)
                        && !shown.unwrap_or("").contains(edit)
                    {
                        lost += 1;
                        problems.push(format!(
                            "Matrix {}: the edit {edit} is not shown: {shown:?}",
                            s.token
                        ));
                    }
                }
                None => {
                    if !found.is_empty() {
                        problems.push(format!("Matrix {}: deleted, still shown", s.token));
                    }
                }
            }
        }
    }

    let (peak_kb, peak_run) = c.peak;
    let faults: Vec<String> = c.counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
    println!(
        "soak: seed {}, {} debates, faults: {} ({} in all)",
        c.seed,
        c.debates.len(),
        faults.join(", "),
        c.counts.values().sum::<u32>()
    );
    println!(
        "soak: answers sent: {} on Matrix (checked {matrix_checked}), {irc_sent} on IRC \
         ({irc_expected} while Podium was there, {irc_stored} stored in all); \
         lost acknowledged: {lost}; stored twice: {duplicated}",
        c.sent.iter().filter(|s| s.network == "matrix").count()
    );
    println!(
        "soak: posts: {matrix_double} doubled on Matrix, {irc_double} on IRC, {} logged twice; \
         missing: {} on Matrix (reminders held up past the start), {irc_unknown} on IRC \
         (claims interrupted by a kill), {unexplained} unexplained; {late_posts} posted late",
        double_logged.len(),
        matrix_missing.len()
    );
    println!(
        "soak: peak RSS {:.1} MB (run #{peak_run}; ceiling {} MB)",
        peak_kb as f64 / 1024.0,
        c.rss_limit_mb
    );
    if peak_kb > c.rss_limit_mb * 1024 {
        problems.push(format!("peak RSS {peak_kb} kB over {} MB", c.rss_limit_mb));
    }
    let windows: Vec<String> = c
        .windows
        .iter()
        .map(|w| {
            format!(
                "{} {}..{}",
                w.kind,
                w.from.format("%H:%M:%S%.3f"),
                w.until.format("%H:%M:%S%.3f")
            )
        })
        .collect();
    println!("soak: fault windows: {}", windows.join(", "));
    assert!(
        problems.is_empty(),
        "soak failed (SOAK_SEED={} reproduces it; its log is in {}):\n{}\n--- logs (last 200 lines) ---\n{}",
        c.seed,
        std::env::temp_dir()
            .join(format!("podium-soak-{}", c.seed))
            .display(),
        problems.join("\n"),
        c.logs
            .lines()
            .rev()
            .take(200)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
