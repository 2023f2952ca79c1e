//! Replicas for the tests (issue 18): several `podium run` processes
//! sharing one PostgreSQL database, each with its own data directory (so
//! its own Matrix device of the one bot account), its own web port and its
//! own IRC nick (`BASE`, `BASE-2`, `BASE-3`...), on the test binary's
//! Synapse and InspIRCd. A test starts them, SIGKILLs, SIGSTOPs,
//! SIGCONTs, SIGTERMs and restarts any of them, reads their logs, asks
//! their `/healthz` which debates each leads (a [`Watch`] keeps asking in
//! the background, so gaps between holders can be measured), and sees what
//! the bot posted in each room: on Matrix by a participant's client (every
//! replica posts as the same account: the replicas' `posted` log lines tell
//! which one), on IRC by a client in the channel (the sender's nick tells).
//!
//! Included by path next to `irc_support`, `matrix_support` and `support`
//! (`#[path = "support/replicas.rs"] mod replicas_support;`), as the other
//! network helpers are, so the binaries without the networks need not
//! build it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::{Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;

use crate::irc_support::{Client, ircd, unique_nick};
use crate::matrix_support::{Person, Podium, log_field, strip_ansi, synapse, unique};
use crate::support::WAIT;

type Room = matrix_sdk::Room;

/// Capabilities the tests' IRC clients ask for: `server-time` dates each
/// post as the server saw it.
pub const CAPS: &[&str] = &["message-tags", "server-time"];

/// The closing every debate here ends with.
pub const CLOSING: &str = "That is all, thank you!";

/// How often replicas renew their leases, and how long one lasts.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub renew: Duration,
    pub ttl: Duration,
}

impl Default for Timing {
    /// Short, so takeovers happen within a test: renew 1 s, ttl 4 s.
    fn default() -> Timing {
        Timing {
            renew: Duration::from_secs(1),
            ttl: Duration::from_secs(4),
        }
    }
}

/// A duration as the configuration reads it.
fn setting(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// What one replica's `/healthz` said.
#[derive(Clone, Debug)]
pub struct Health {
    pub code: u16,
    pub status: String,
    /// `replica.name`, when the page has a replica section.
    pub name: Option<String>,
    /// `replica.leads`: the debates it holds the lease of.
    pub leads: Vec<String>,
    pub body: Value,
}

/// One replica: a `podium run` of its own.
pub struct Replica {
    /// `r1`, `r2`... (`PODIUM_REPLICAS_NAME`).
    pub name: String,
    /// Its IRC nick (`PODIUM_IRC_NICK`).
    pub nick: String,
    pub podium: Podium,
    /// SIGSTOPped and not yet SIGCONTed.
    pub paused: bool,
}

/// A line of a replica's log, with its time.
#[derive(Clone, Debug)]
pub struct LogLine {
    pub at: DateTime<Utc>,
    pub line: String,
}

impl LogLine {
    pub fn field(&self, key: &str) -> Option<&str> {
        log_field(&self.line, key)
    }
}

/// N replicas of one schedule on one database.
pub struct Replicas {
    pub database: String,
    pub timing: Timing,
    pub yaml: String,
    /// The bot's Matrix account (registered already): every replica logs
    /// in to it as a device of its own.
    pub bot: Person,
    /// Replica `i` (from 0) has nick `base` (i = 0) or `base-(i+1)`.
    pub base_nick: String,
    pub list: Vec<Replica>,
    webs: Arc<Mutex<Vec<String>>>,
}

impl Replicas {
    /// `count` replicas (not started) of `yaml` on `database`.
    pub fn new(database: &str, bot: &Person, yaml: &str, count: usize, timing: Timing) -> Self {
        let mut set = Replicas {
            database: database.to_owned(),
            timing,
            yaml: yaml.to_owned(),
            bot: bot.clone(),
            base_nick: unique_nick("pod"),
            list: Vec::new(),
            webs: Arc::default(),
        };
        for _ in 0..count {
            set.add();
        }
        set
    }

    /// One more replica (not started); its index.
    pub fn add(&mut self) -> usize {
        let i = self.list.len();
        let name = format!("r{}", i + 1);
        let nick = if i == 0 {
            self.base_nick.clone()
        } else {
            format!("{}-{}", self.base_nick, i + 1)
        };
        let mut podium = Podium::new(&self.bot, &self.yaml);
        podium.on_database(&self.database);
        podium.env("PODIUM_IRC_SERVER", &ircd().addr);
        podium.env("PODIUM_IRC_TLS", "false");
        podium.env("PODIUM_IRC_NICK", &nick);
        podium.env("PODIUM_MATRIX_DEVICE_NAME", &format!("podium {name}"));
        podium.env("PODIUM_REPLICAS_ENABLED", "true");
        podium.env("PODIUM_REPLICAS_NAME", &name);
        podium.env("PODIUM_REPLICAS_RENEW", &setting(self.timing.renew));
        podium.env("PODIUM_REPLICAS_TTL", &setting(self.timing.ttl));
        podium.env("PODIUM_ENGINE_LATE_GRACE", "15m");
        self.webs.lock().unwrap().push(podium.web.clone());
        self.list.push(Replica {
            name,
            nick,
            podium,
            paused: false,
        });
        i
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Starts replica `i` (again, after a kill: same data dir, device and
    /// nick).
    pub fn start(&mut self, i: usize) {
        self.list[i].paused = false;
        self.list[i].podium.start();
    }

    /// Starts every replica not running.
    pub fn start_all(&mut self) {
        for i in 0..self.list.len() {
            if !self.list[i].podium.is_running() {
                self.start(i);
            }
        }
    }

    /// SIGKILL (no chance to tidy up); when.
    pub fn kill(&mut self, i: usize) -> DateTime<Utc> {
        let at = Utc::now();
        self.list[i].podium.kill();
        self.list[i].paused = false;
        at
    }

    /// SIGKILL, then started again at once.
    pub fn restart(&mut self, i: usize) -> DateTime<Utc> {
        let at = self.kill(i);
        self.start(i);
        at
    }

    /// Sends `signal` (`-STOP`, `-HUP`...) to replica `i`.
    pub fn signal(&self, i: usize, signal: &str) {
        let pid = self.list[i]
            .podium
            .pid()
            .unwrap_or_else(|| panic!("{} is not running", self.list[i].name));
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} {pid} failed");
    }

    /// SIGSTOP: frozen, as a machine that stalls; when.
    pub fn pause(&mut self, i: usize) -> DateTime<Utc> {
        let at = Utc::now();
        self.signal(i, "-STOP");
        self.list[i].paused = true;
        at
    }

    /// SIGCONT after [`Replicas::pause`]; when.
    pub fn resume(&mut self, i: usize) -> DateTime<Utc> {
        let at = Utc::now();
        self.signal(i, "-CONT");
        self.list[i].paused = false;
        at
    }

    /// SIGTERM (SIGCONT first if paused): when it was sent, and the exit
    /// status (the test fails after 20 s).
    pub fn terminate(&mut self, i: usize) -> (DateTime<Utc>, ExitStatus) {
        if self.list[i].paused {
            self.resume(i);
        }
        let at = Utc::now();
        (at, self.list[i].podium.terminate())
    }

    pub fn is_running(&mut self, i: usize) -> bool {
        self.list[i].podium.is_running()
    }

    /// Replica `i`'s log, every run, without colours.
    pub fn log(&self, i: usize) -> String {
        strip_ansi(&self.list[i].podium.logs())
    }

    /// Every replica's log, for failure reports.
    pub fn logs(&self) -> String {
        (0..self.list.len())
            .map(|i| format!("===== {} =====\n{}", self.list[i].name, self.log(i)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The dated lines of replica `i`'s log that contain `needle`.
    pub fn log_lines(&self, i: usize, needle: &str) -> Vec<LogLine> {
        self.log(i)
            .lines()
            .filter(|l| l.contains(needle))
            .filter_map(|l| {
                let at = l.split_whitespace().next()?.parse::<DateTime<Utc>>().ok()?;
                Some(LogLine {
                    at,
                    line: l.to_owned(),
                })
            })
            .collect()
    }

    /// The `posted` lines of replica `i` for `debate`.
    pub fn posted(&self, i: usize, debate: &str) -> Vec<LogLine> {
        self.log_lines(i, " posted")
            .into_iter()
            .filter(|l| l.field("debate") == Some(debate))
            .collect()
    }

    /// The `took lease` lines of replica `i` (for `debate`, if given).
    pub fn took(&self, i: usize, debate: Option<&str>) -> Vec<LogLine> {
        self.log_lines(i, "took lease")
            .into_iter()
            .filter(|l| debate.is_none_or(|d| l.field("debate") == Some(d)))
            .collect()
    }

    /// The `lost lease` lines of replica `i` (for `debate`, if given).
    pub fn lost(&self, i: usize, debate: Option<&str>) -> Vec<LogLine> {
        self.log_lines(i, "lost lease")
            .into_iter()
            .filter(|l| debate.is_none_or(|d| l.field("debate") == Some(d)))
            .collect()
    }

    /// Which replica an IRC nick is (the longest nick it starts with: a
    /// replica whose nick was taken gets a variant of it).
    pub fn of_nick(&self, nick: &str) -> Option<usize> {
        self.list
            .iter()
            .enumerate()
            .filter(|(_, r)| nick.eq_ignore_ascii_case(&r.nick))
            .map(|(i, _)| i)
            .next()
            .or_else(|| {
                self.list
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| nick.starts_with(&r.nick))
                    .max_by_key(|(_, r)| r.nick.len())
                    .map(|(i, _)| i)
            })
    }

    /// Replica `i`'s `/healthz`, or None if it does not answer (killed,
    /// paused, not up yet) within a second.
    pub async fn health(&self, i: usize) -> Option<Health> {
        health_of(&self.list[i].podium.web).await
    }

    /// Every replica's `/healthz`, asked at once.
    pub async fn healths(&self) -> Vec<Option<Health>> {
        let webs = self.webs.lock().unwrap().clone();
        healths_of(&webs).await
    }

    /// Waits until replica `i` is up: its `/healthz` says `ok` (store and
    /// networks well) and names it. Fails with its log if it exits or
    /// takes longer than [`WAIT`].
    pub async fn wait_ready(&mut self, i: usize) {
        let deadline = Instant::now() + WAIT;
        let mut last = None;
        loop {
            assert!(
                self.list[i].podium.is_running(),
                "{} exited while starting; /healthz said {last:?}\n{}",
                self.list[i].name,
                self.log(i)
            );
            if let Some(h) = self.health(i).await {
                if h.status == "ok" && h.name.as_deref() == Some(self.list[i].name.as_str()) {
                    return;
                }
                last = Some(h.body);
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready within {WAIT:?}; /healthz said {last:?}\n{}",
                self.list[i].name,
                self.log(i)
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Starts every replica and waits until each is ready.
    pub async fn start_ready(&mut self) {
        self.start_all();
        for i in 0..self.list.len() {
            self.wait_ready(i).await;
        }
    }

    /// Waits (up to `timeout`) until each of `debates` is led by exactly
    /// one of the running replicas and none leads more than its share
    /// (`ceil(debates / replicas)`); returns who leads what, by
    /// replica index. Fails with what `/healthz` said.
    pub async fn wait_balanced(
        &mut self,
        debates: &[&str],
        timeout: Duration,
    ) -> BTreeMap<String, usize> {
        let deadline = Instant::now() + timeout;
        loop {
            let running: Vec<usize> = (0..self.list.len())
                .filter(|&i| self.list[i].podium.is_running() && !self.list[i].paused)
                .collect();
            let healths = self.healths().await;
            if let Some(holders) = balanced(&healths, &running, debates) {
                return holders;
            }
            if Instant::now() > deadline {
                panic!(
                    "leases of {debates:?} not balanced over {running:?} within {timeout:?}; \
                     /healthz: {}\n{}",
                    describe(&healths),
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Who leads `debate` now (by `/healthz`), if exactly one replica says
    /// it does.
    pub async fn holder(&self, debate: &str) -> Option<usize> {
        let healths = self.healths().await;
        let holders: Vec<usize> = healths
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                h.as_ref()
                    .is_some_and(|h| h.leads.iter().any(|d| d == debate))
            })
            .map(|(i, _)| i)
            .collect();
        match holders.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// Waits until exactly one replica leads `debate`, and it is not
    /// `other_than` (if given): its index and when it was seen.
    pub async fn wait_holder(
        &self,
        debate: &str,
        other_than: Option<usize>,
        timeout: Duration,
    ) -> (usize, DateTime<Utc>) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.holder(debate).await
                && Some(i) != other_than
            {
                return (i, Utc::now());
            }
            if Instant::now() > deadline {
                panic!(
                    "no replica (other than {other_than:?}) leads {debate} within {timeout:?}; \
                     /healthz: {}\n{}",
                    describe(&self.healths().await),
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A [`Watch`] on these replicas' `/healthz` (those added later too).
    pub fn watch(&self) -> Watch {
        Watch::start(self.webs.clone())
    }

    /// The transcript of `debate` (JSON) from the shared database, as
    /// `podium transcript` reads it.
    pub fn transcript(&self, debate: &str) -> Value {
        self.list[0].podium.transcript(debate)
    }
}

/// Who leads each debate, if each of `debates` has exactly one holder
/// among `running` and none holds more than its share.
fn balanced(
    healths: &[Option<Health>],
    running: &[usize],
    debates: &[&str],
) -> Option<BTreeMap<String, usize>> {
    let mut holders = BTreeMap::new();
    for d in debates {
        let who: Vec<usize> = running
            .iter()
            .copied()
            .filter(|&i| {
                healths[i]
                    .as_ref()
                    .is_some_and(|h| h.leads.iter().any(|l| l == d))
            })
            .collect();
        let [one] = who.as_slice() else {
            return None;
        };
        holders.insert((*d).to_owned(), *one);
    }
    let counts: Vec<usize> = running
        .iter()
        .map(|&i| healths[i].as_ref().map_or(0, |h| h.leads.len()))
        .collect();
    // Each within its share as docs/replicas.md defines it,
    // `ceil(debates / live replicas)`: 100 over 3 may settle as 34, 34, 32.
    let share = debates.len().div_ceil(running.len().max(1));
    let max = counts.iter().max().copied().unwrap_or(0);
    (max <= share).then_some(holders)
}

/// What each replica's `/healthz` said, for failure reports.
pub fn describe(healths: &[Option<Health>]) -> String {
    healths
        .iter()
        .enumerate()
        .map(|(i, h)| match h {
            Some(h) => format!("r{}: {} {} leads {:?}", i + 1, h.code, h.status, h.leads),
            None => format!("r{}: no answer", i + 1),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

async fn health_of(web: &str) -> Option<Health> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(800))
        .build()
        .ok()?;
    let response = client.get(format!("{web}/healthz")).send().await.ok()?;
    let code = response.status().as_u16();
    let text = response.text().await.ok()?;
    let body: Value = serde_json::from_str(&text).ok()?;
    Some(Health {
        code,
        status: body["status"].as_str().unwrap_or("").to_owned(),
        name: body["replica"]["name"].as_str().map(str::to_owned),
        leads: body["replica"]["leads"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        body,
    })
}

async fn healths_of(webs: &[String]) -> Vec<Option<Health>> {
    let tasks: Vec<_> = webs
        .iter()
        .map(|w| {
            let w = w.clone();
            tokio::spawn(async move { health_of(&w).await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.ok().flatten());
    }
    out
}

/// One round of `/healthz` answers.
#[derive(Clone, Debug)]
pub struct Sample {
    pub at: DateTime<Utc>,
    /// Per replica: what it leads, or None if it did not answer.
    pub leads: Vec<Option<Vec<String>>>,
}

/// Asks every replica's `/healthz` every 200 ms in the background, and
/// keeps the answers: who led what, when.
pub struct Watch {
    samples: Arc<Mutex<Vec<Sample>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Watch {
    fn start(webs: Arc<Mutex<Vec<String>>>) -> Watch {
        let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
        let kept = samples.clone();
        let task = tokio::spawn(async move {
            loop {
                let list = webs.lock().unwrap().clone();
                let at = Utc::now();
                let healths = healths_of(&list).await;
                kept.lock().unwrap().push(Sample {
                    at,
                    leads: healths.into_iter().map(|h| h.map(|h| h.leads)).collect(),
                });
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Watch { samples, task }
    }

    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().unwrap().clone()
    }

    /// The holder of `debate` in each sample: Some(i) when exactly one
    /// replica said it leads it, None when none did (or several).
    pub fn holders(&self, debate: &str) -> Vec<(DateTime<Utc>, Option<usize>)> {
        self.samples()
            .into_iter()
            .map(|s| {
                let who: Vec<usize> = s
                    .leads
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l.as_ref().is_some_and(|l| l.iter().any(|d| d == debate)))
                    .map(|(i, _)| i)
                    .collect();
                (s.at, if who.len() == 1 { Some(who[0]) } else { None })
            })
            .collect()
    }

    /// The samples where two replicas said they lead `debate` at once.
    pub fn doubles(&self, debate: &str) -> Vec<DateTime<Utc>> {
        self.samples()
            .into_iter()
            .filter(|s| {
                s.leads
                    .iter()
                    .filter(|l| l.as_ref().is_some_and(|l| l.iter().any(|d| d == debate)))
                    .count()
                    > 1
            })
            .map(|s| s.at)
            .collect()
    }

    /// The stretches after `from` during which no replica led `debate`
    /// (from the last sample with a holder to the next one), each with the
    /// holder before and after.
    pub fn gaps(&self, debate: &str, from: DateTime<Utc>) -> Vec<Gap> {
        let mut gaps = Vec::new();
        let mut last: Option<(DateTime<Utc>, usize)> = None;
        let mut open = false;
        for (at, who) in self.holders(debate) {
            if at < from {
                if let Some(i) = who {
                    last = Some((at, i));
                }
                continue;
            }
            match (who, last) {
                (Some(i), Some((since, before))) if open => {
                    gaps.push(Gap {
                        from: since,
                        to: at,
                        before: Some(before),
                        after: i,
                    });
                    open = false;
                    last = Some((at, i));
                }
                (Some(i), Some((_, before))) if before != i => {
                    // A change of holder between two samples: no gap seen.
                    gaps.push(Gap {
                        from: at,
                        to: at,
                        before: Some(before),
                        after: i,
                    });
                    last = Some((at, i));
                }
                (Some(i), _) => last = Some((at, i)),
                (None, _) => open = true,
            }
        }
        gaps
    }

    /// What the samples from `from` to `to` (inclusive) said, one line
    /// each (`r1:[a,b] r2:- r3:[]`, `-` for no answer), for reports.
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
        self.samples()
            .into_iter()
            .filter(|s| s.at >= from && s.at <= to)
            .map(|s| {
                let each: Vec<String> = s
                    .leads
                    .iter()
                    .enumerate()
                    .map(|(i, l)| match l {
                        Some(l) => format!("r{}:[{}]", i + 1, l.join(",")),
                        None => format!("r{}:-", i + 1),
                    })
                    .collect();
                format!("  {} {}", s.at.format("%H:%M:%S%.3f"), each.join(" "))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The holder changes of `debate` after `from`: (when the new holder
    /// was first seen, before, after).
    pub fn changes(&self, debate: &str, from: DateTime<Utc>) -> Vec<Gap> {
        self.gaps(debate, from)
            .into_iter()
            .filter(|g| g.before != Some(g.after))
            .collect()
    }
}

/// A stretch without a holder (or a change of holder).
#[derive(Clone, Copy, Debug)]
pub struct Gap {
    /// The last sample with the holder before.
    pub from: DateTime<Utc>,
    /// The first sample with the holder after.
    pub to: DateTime<Utc>,
    pub before: Option<usize>,
    pub after: usize,
}

impl Gap {
    pub fn seconds(&self) -> f64 {
        (self.to - self.from).num_milliseconds() as f64 / 1000.0
    }
}

/// A debate's places: a Matrix room and an IRC channel.
pub struct Place {
    pub debate: String,
    /// The room as its creator (the observer) sees it.
    pub room: Room,
    /// The same room as the answering participant sees it.
    pub answer_room: Room,
    pub room_id: String,
    pub channel: String,
}

/// The people of a replica test: the bot account, an organiser who makes
/// the rooms and watches them (`host`), a Matrix participant (`bob`), and
/// an IRC client in every channel who watches and answers (`carol`).
pub struct Cast {
    pub bot: Person,
    pub host: Person,
    pub bob: Person,
    pub carol: Client,
    pub places: Vec<Place>,
}

impl Cast {
    /// Registers the accounts and makes a Matrix room and an IRC channel
    /// for each of `debates` (carol joins every channel; the bot is
    /// invited to every room and joins by itself).
    pub async fn new(debates: &[&str]) -> Cast {
        let url = synapse().url.clone();
        let (bot, host, bob) = tokio::join!(
            Person::register(&url, "podium"),
            Person::register(&url, "host"),
            Person::register(&url, "bob"),
        );
        let mut carol = Client::connect_caps(&ircd().addr, &unique_nick("carol"), CAPS).await;
        let mut places = Vec::new();
        for d in debates {
            let local = unique(&format!("rep{d}"));
            let room = host
                .create_room(&local, &[&bot.user, &bob.user], false)
                .await;
            let answer_room = bob.join(&format!("#{local}:localhost")).await;
            let channel = format!("#{}", unique_nick(&format!("rep{d}")));
            carol.join(&channel).await;
            places.push(Place {
                debate: (*d).to_owned(),
                room_id: room.room_id().to_string(),
                room,
                answer_room,
                channel,
            });
        }
        Cast {
            bot,
            host,
            bob,
            carol,
            places,
        }
    }

    pub fn place(&self, debate: &str) -> &Place {
        self.places
            .iter()
            .find(|p| p.debate == debate)
            .unwrap_or_else(|| panic!("no place for {debate}"))
    }

    /// Waits until every replica's nick has joined every channel.
    pub async fn wait_joined(&mut self, replicas: &Replicas, which: &[usize]) {
        for p in &self.places {
            for &i in which {
                let nick = replicas.list[i].nick.clone();
                let chan = p.channel.clone();
                let joined = self
                    .carol
                    .wait_until(WAIT, &format!("{nick} in {chan}"), |all| {
                        all.iter()
                            .any(|m| {
                                m.is("JOIN")
                                    && m.nick
                                        .as_deref()
                                        .is_some_and(|n| n.eq_ignore_ascii_case(&nick))
                                    && m.target().eq_ignore_ascii_case(&chan)
                            })
                            .then_some(())
                    })
                    .await;
                let () = joined;
            }
        }
    }

    /// The bot's posts in the Matrix room of `debate`, oldest first.
    pub async fn matrix_posts(&self, debate: &str) -> Vec<Seen> {
        let bot = self.bot.user.to_string();
        self.host
            .messages(&self.place(debate).room)
            .await
            .iter()
            .filter(|m| m["sender"] == bot.as_str())
            .map(|m| Seen {
                at: DateTime::from_timestamp_millis(m["origin_server_ts"].as_i64().unwrap_or(0))
                    .unwrap_or_default(),
                by: bot.clone(),
                body: m["content"]["body"].as_str().unwrap_or("").to_owned(),
            })
            .collect()
    }

    /// The bot's posts (PRIVMSGs from any replica's nick) in the IRC
    /// channel of `debate`, oldest first, with the sender's nick.
    pub fn irc_posts(&mut self, replicas: &Replicas, debate: &str) -> Vec<Seen> {
        let chan = self.place(debate).channel.clone();
        let base = replicas.base_nick.to_ascii_lowercase();
        self.carol
            .history()
            .iter()
            .filter(|m| m.is("PRIVMSG") && m.target().eq_ignore_ascii_case(&chan))
            .filter(|m| {
                m.nick
                    .as_deref()
                    .is_some_and(|n| n.to_ascii_lowercase().starts_with(&base))
            })
            .map(|m| Seen {
                at: m.time().unwrap_or_else(Utc::now),
                by: m.nick.clone().unwrap_or_default(),
                body: plain(m.text()),
            })
            .collect()
    }

    /// Waits until the bot's question `n` of `debate` is in its IRC
    /// channel (the first network to show it); when the server had it.
    pub async fn wait_irc_question(
        &mut self,
        replicas: &Replicas,
        debate: &str,
        n: u32,
        timeout: Duration,
    ) -> Option<Seen> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self
                .irc_posts(replicas, debate)
                .into_iter()
                .find(|s| question_number(&s.body) == Some(n))
            {
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            self.carol.sync().await;
        }
    }

    /// Waits until the closing of `debate` ([`CLOSING`]) is in both its
    /// places.
    pub async fn wait_closing(&mut self, replicas: &Replicas, debate: &str, timeout: Duration) {
        self.wait_closing_of(replicas, debate, CLOSING, timeout)
            .await;
    }

    /// Waits until a post starting with `closing` is in both places of
    /// `debate`.
    pub async fn wait_closing_of(
        &mut self,
        replicas: &Replicas,
        debate: &str,
        closing: &str,
        timeout: Duration,
    ) {
        let deadline = Instant::now() + timeout;
        loop {
            let irc = self
                .irc_posts(replicas, debate)
                .iter()
                .any(|s| s.body.starts_with(closing));
            let matrix = self
                .matrix_posts(debate)
                .await
                .iter()
                .any(|s| s.body.starts_with(closing));
            if irc && matrix {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no closing of {debate} (IRC: {irc}, Matrix: {matrix}) within {timeout:?}\n{}",
                replicas.logs()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
            self.carol.sync().await;
        }
    }
}

/// A bot post seen in a room.
#[derive(Clone, Debug)]
pub struct Seen {
    /// When the server had it (Matrix `origin_server_ts`, IRC
    /// `server-time`).
    pub at: DateTime<Utc>,
    /// Who sent it: the Matrix account, or the replica's IRC nick.
    pub by: String,
    pub body: String,
}

/// The number of a `Qn: ...` post.
pub fn question_number(body: &str) -> Option<u32> {
    body.strip_prefix('Q')
        .and_then(|r| r.split_once(':'))
        .and_then(|(n, _)| n.parse().ok())
}

/// How many times each question was posted.
pub fn question_counts(seen: &[Seen]) -> BTreeMap<u32, usize> {
    let mut counts = BTreeMap::new();
    for s in seen {
        if let Some(n) = question_number(&s.body) {
            *counts.entry(n).or_insert(0) += 1;
        }
    }
    counts
}

/// Posts for failure reports.
pub fn show(seen: &[Seen]) -> String {
    seen.iter()
        .map(|s| format!("{} {} {}", s.at.format("%H:%M:%S%.3f"), s.by, s.body))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` without IRC formatting codes.
pub fn plain(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '\x02' | '\x03' | '\x0f' | '\x16' | '\x1d' | '\x1f'))
        .collect()
}

/// One debate of a schedule: `questions` at these offsets (seconds).
pub struct Planned<'a> {
    pub id: &'a str,
    pub start: DateTime<Utc>,
    pub seconds: i64,
    pub questions: &'a [i64],
}

/// The whole second `secs` seconds from now.
pub fn start_in(secs: i64) -> DateTime<Utc> {
    (Utc::now() + chrono::Duration::seconds(secs)).trunc_subsecs(0)
}

/// The schedule of `debates`, each in its place of `cast` (its Matrix room
/// by id and its IRC channel; a debate without a place of its own is held
/// in the first place), no reminders, questions "Question N of ID?", and
/// [`CLOSING`].
pub fn schedule(cast: &Cast, debates: &[Planned<'_>]) -> String {
    let mut yaml = "timezone: Europe/London\nzones: [Europe/London]\ndebates:\n".to_owned();
    for d in debates {
        let p = cast
            .places
            .iter()
            .find(|p| p.debate == d.id)
            .unwrap_or(&cast.places[0]);
        let local = d.start.with_timezone(&chrono_tz::Europe::London);
        yaml.push_str(&format!(
            "  - id: {}\n    title: Replica test {}\n    starts: {}\n    duration: {}s\n\
             \x20   remind: []\n    rooms: [\"{}\", \"irc:{}\"]\n    organisers: [\"{}\"]\n\
             \x20   closing: {CLOSING}\n    questions:\n",
            d.id,
            d.id,
            local.format("%Y-%m-%d %H:%M:%S"),
            d.seconds,
            p.room_id,
            p.channel,
            cast.host.user,
        ));
        for (i, s) in d.questions.iter().enumerate() {
            yaml.push_str(&format!(
                "      - {{text: Question {} of {}?, at: {s}s}}\n",
                i + 1,
                d.id
            ));
        }
    }
    yaml
}

/// The id of the seed debate in the repository's debates.yaml: the
/// debate that inspired Podium.
pub const SEED: &str = "leadership-2011";

/// The seed debate as debates.yaml has it (title, intro, hashtag, shown
/// zones, question texts, closing), held in its place of `cast` from
/// `start`, for `seconds`, its questions at `offsets` (seconds) instead of
/// every quarter of an hour, without reminders. Returns the schedule and
/// the closing text (the bot's closing post starts with it).
pub fn seed_schedule(
    cast: &Cast,
    start: DateTime<Utc>,
    seconds: i64,
    offsets: &[i64],
) -> (String, String) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("debates.yaml");
    let (file, _) = podium::schedule::load(&path, Utc::now())
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    let seed = file
        .debates
        .iter()
        .find(|d| d.id == SEED)
        .unwrap_or_else(|| panic!("no {SEED} in {}", path.display()));
    assert_eq!(
        offsets.len(),
        seed.questions.len(),
        "one offset per question of {SEED}"
    );
    let q = |s: &str| serde_json::to_string(s).expect("a string");
    let place = cast.place(SEED);
    let local = start.with_timezone(&seed.timezone);
    let zones: Vec<String> = seed.zones.iter().map(|z| q(z.name())).collect();
    let mut yaml = format!(
        "debates:\n  - id: {SEED}\n    title: {}\n    timezone: {}\n    zones: [{}]\n\
         \x20   starts: {}\n    duration: {seconds}s\n    remind: []\n\
         \x20   rooms: [\"{}\", \"irc:{}\"]\n    organisers: [\"{}\"]\n",
        q(&seed.title),
        q(seed.timezone.name()),
        zones.join(", "),
        local.format("%Y-%m-%d %H:%M:%S"),
        place.room_id,
        place.channel,
        cast.host.user,
    );
    if let Some(tag) = &seed.hashtag {
        yaml.push_str(&format!("    hashtag: {}\n", q(tag)));
    }
    if let Some(intro) = &seed.intro {
        yaml.push_str(&format!("    intro: {}\n", q(intro)));
    }
    let closing = seed.closing.clone().expect("the seed debate has a closing");
    yaml.push_str(&format!("    closing: {}\n    questions:\n", q(&closing)));
    for (question, at) in seed.questions.iter().zip(offsets) {
        yaml.push_str(&format!(
            "      - {{text: {}, at: {at}s}}\n",
            q(&question.text)
        ));
    }
    (yaml, closing.trim().to_owned())
}

/// An answer sent by a participant, once the network took it.
#[derive(Clone, Debug)]
pub struct Sent {
    pub body: String,
    pub question: u32,
    pub network: &'static str,
    pub at: DateTime<Utc>,
}

/// Everything wrong with transcript `t` given the answers sent: each must
/// be stored exactly once, under its question.
pub fn answer_problems(t: &Value, sent: &[Sent]) -> Vec<String> {
    let mut found: Vec<(u64, String)> = Vec::new();
    for q in t["questions"].as_array().into_iter().flatten() {
        for r in q["replies"].as_array().into_iter().flatten() {
            found.push((
                q["number"].as_u64().unwrap_or(0),
                r["body"].as_str().unwrap_or("").to_owned(),
            ));
        }
    }
    for r in t["unattributed"].as_array().into_iter().flatten() {
        found.push((0, r["body"].as_str().unwrap_or("").to_owned()));
    }
    let mut problems = Vec::new();
    for a in sent {
        let hits: Vec<u64> = found
            .iter()
            .filter(|(_, b)| *b == a.body)
            .map(|(n, _)| *n)
            .collect();
        match hits.as_slice() {
            [n] if *n == u64::from(a.question) => {}
            [] => problems.push(format!(
                "missing ({}, sent {}): {:?}",
                a.network,
                a.at.format("%H:%M:%S%.3f"),
                a.body
            )),
            [n] => problems.push(format!(
                "under Q{n} instead of Q{}: {:?}",
                a.question, a.body
            )),
            many => problems.push(format!("stored {} times: {:?}", many.len(), a.body)),
        }
    }
    // Nothing else is an answer: in particular not what one replica posted,
    // as another received it (IRC replicas have nicks of their own).
    for (n, body) in &found {
        if !sent.iter().any(|a| a.body == *body) {
            problems.push(format!(
                "stored under Q{n} but never sent as an answer: {body:?}"
            ));
        }
    }
    problems
}

/// Waits (up to [`WAIT`]) until every answer sent is stored once; what is
/// still wrong then.
pub async fn wait_answers(replicas: &Replicas, debate: &str, sent: &[Sent]) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let problems = answer_problems(&replicas.transcript(debate), sent);
        if problems.is_empty() || Instant::now() > deadline {
            return problems;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

impl Cast {
    /// bob answers question `n` of `debate` on Matrix (tagged `An:`); the
    /// answer, once the homeserver took it.
    pub async fn answer_matrix(&self, debate: &str, n: u32, text: &str) -> Sent {
        let body = format!("A{n}: {text}");
        self.bob.say(&self.place(debate).answer_room, &body).await;
        Sent {
            body,
            question: n,
            network: "matrix",
            at: Utc::now(),
        }
    }

    /// carol answers question `n` of `debate` on IRC (tagged `An:`); the
    /// answer, once the server has handled it (a PING after it answered).
    pub async fn answer_irc(&mut self, debate: &str, n: u32, text: &str) -> Sent {
        let body = format!("A{n}: {text}");
        let chan = self.place(debate).channel.clone();
        self.carol.privmsg(&chan, &body).await;
        self.carol.sync().await;
        Sent {
            body,
            question: n,
            network: "irc",
            at: Utc::now(),
        }
    }
}

/// Seconds between two instants, for reports.
pub fn secs_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 1000.0
}

/// Sleeps until `at` (at once if past).
pub async fn sleep_until(at: DateTime<Utc>) {
    if let Ok(d) = (at - Utc::now()).to_std() {
        tokio::time::sleep(d).await;
    }
}

/// One replica test at a time in a test binary: each runs three or four
/// `podium run` processes beside Synapse, InspIRCd and PostgreSQL, and
/// measures takeovers in seconds, which a machine busy with another such
/// test would blur.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}
