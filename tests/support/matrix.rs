//! Matrix for the tests: a real Synapse (one per test binary, started by
//! `scripts/synapse-up.sh` and stopped when the test binary exits),
//! participants who are real matrix-sdk clients, and `podium run` as a
//! child process that a test can kill and start again. Included by the
//! Matrix test binaries only (`#[path]`), so the others need not build it.
#![allow(dead_code)]

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use matrix_sdk::config::SyncSettings;
use matrix_sdk::room::MessagesOptions;
use matrix_sdk::ruma::api::client::account::register;
use matrix_sdk::ruma::api::client::room::create_room;
use matrix_sdk::ruma::api::client::uiaa::{AuthData, Dummy};
use matrix_sdk::ruma::events::relation::{InReplyTo, Thread};
use matrix_sdk::ruma::events::room::message::{
    Relation, ReplacementMetadata, RoomMessageEventContent,
};
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, UInt};
use matrix_sdk::{Client, Room};
use serde_json::Value;

use crate::support::WAIT;
use crate::support::cli::{Output, output, podium};

/// The test binary's Synapse.
pub struct Synapse {
    pub url: String,
    pub data: PathBuf,
}

/// Starts the binary's Synapse on first use (relaxed rate limits).
pub fn synapse() -> &'static Synapse {
    static SYNAPSE: OnceLock<Synapse> = OnceLock::new();
    SYNAPSE.get_or_init(|| start_synapse("relaxed"))
}

/// A Synapse with the rate limits `limits` (`relaxed` or `default`).
pub fn start_synapse(limits: &str) -> Synapse {
    let data = std::env::temp_dir().join(format!("podium-synapse-{}-{limits}", std::process::id()));
    synapse_up(&data, limits)
}

/// Another Synapse of this test binary, told apart by `name`: for a test
/// that must not share its homeserver (one that stops it, say).
pub fn start_named_synapse(name: &str, limits: &str) -> Synapse {
    let data = std::env::temp_dir().join(format!(
        "podium-synapse-{}-{name}-{limits}",
        std::process::id()
    ));
    synapse_up(&data, limits)
}

impl Synapse {
    /// Stops it (`scripts/synapse-down.sh`, data kept): an outage.
    pub fn stop(&self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/synapse-down.sh");
        let status = Command::new(&script)
            .env("SYNAPSE_DATA", &self.data)
            .stderr(Stdio::inherit())
            .status()
            .expect("scripts/synapse-down.sh runs");
        assert!(status.success(), "scripts/synapse-down.sh failed");
    }

    /// Starts it again after [`Synapse::stop`]: same data, same port (the
    /// script remembers it), same rate limits `limits`.
    pub fn start_again(&self, limits: &str) {
        let again = synapse_up(&self.data, limits);
        assert_eq!(again.url, self.url, "Synapse came back on another port");
    }
}

/// `scripts/synapse-up.sh` on `data`, stopped (and `data` deleted) when
/// this test binary exits.
fn synapse_up(data: &Path, limits: &str) -> Synapse {
    synapse_up_with(data, limits, "")
}

/// [`synapse_up`], with `users` (`name:password:admin|user ...`) registered
/// by the script.
fn synapse_up_with(data: &Path, limits: &str, users: &str) -> Synapse {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/synapse-up.sh");
    let out = Command::new(&script)
        .env("SYNAPSE_DATA", data)
        .env("SYNAPSE_PORT", "0")
        .env("SYNAPSE_RATE_LIMITS", limits)
        .env("SYNAPSE_USERS", users)
        .env("SYNAPSE_PARENT", std::process::id().to_string())
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/synapse-up.sh runs");
    assert!(
        out.status.success(),
        "scripts/synapse-up.sh failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let url = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .expect("the URL")
        .trim()
        .to_owned();
    Synapse {
        url,
        data: data.to_owned(),
    }
}

/// A name no other test of this run uses.
pub fn unique(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{name}{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A participant: a real Matrix client that registers itself.
#[derive(Clone)]
pub struct Person {
    pub client: Client,
    pub user: OwnedUserId,
    pub name: String,
}

impl Person {
    /// Registers a new user `name` (made unique) on `url`, and keeps it
    /// syncing in the background (which encryption needs).
    pub async fn register(url: &str, name: &str) -> Person {
        let person = Person::register_unsynced(url, name).await;
        let syncing = person.client.clone();
        tokio::spawn(async move {
            let _ = syncing.sync(SyncSettings::default()).await;
        });
        person
    }

    /// The password `register` gave the user.
    pub fn password(&self) -> String {
        format!("{}-password", self.name)
    }

    /// Creates a room with alias `#local:localhost`, inviting `invite`.
    pub async fn create_room(&self, local: &str, invite: &[&OwnedUserId], encrypted: bool) -> Room {
        let mut request = create_room::v3::Request::new();
        request.room_alias_name = Some(local.to_owned());
        request.invite = invite.iter().map(|u| (*u).clone()).collect();
        request.preset = Some(create_room::v3::RoomPreset::PublicChat);
        let room = self
            .client
            .create_room(request)
            .await
            .expect("room created");
        if encrypted {
            room.enable_encryption().await.expect("encryption on");
        }
        room
    }

    /// Joins a room by alias or id; waits until the client has it.
    pub async fn join(&self, room: &str) -> Room {
        let target = matrix_sdk::ruma::OwnedRoomOrAliasId::try_from(room).expect("room id");
        self.client
            .join_room_by_id_or_alias(&target, &[])
            .await
            .unwrap_or_else(|e| panic!("{} cannot join {room}: {e}", self.name))
    }

    /// The room, once this client knows it.
    pub fn room(&self, id: &OwnedRoomId) -> Room {
        self.client.get_room(id).expect("a room of this client")
    }

    pub async fn say(&self, room: &Room, body: &str) -> OwnedEventId {
        self.send(room, RoomMessageEventContent::text_plain(body))
            .await
    }

    pub async fn reply(&self, room: &Room, to: &OwnedEventId, body: &str) -> OwnedEventId {
        let mut content = RoomMessageEventContent::text_plain(body);
        content.relates_to = Some(Relation::Reply(
            matrix_sdk::ruma::events::relation::Reply::new(InReplyTo::new(to.clone())),
        ));
        self.send(room, content).await
    }

    /// A message in the thread whose root is `root`.
    pub async fn in_thread(&self, room: &Room, root: &OwnedEventId, body: &str) -> OwnedEventId {
        let mut content = RoomMessageEventContent::text_plain(body);
        content.relates_to = Some(Relation::Thread(Thread::plain(root.clone(), root.clone())));
        self.send(room, content).await
    }

    pub async fn edit(&self, room: &Room, target: &OwnedEventId, body: &str) -> OwnedEventId {
        let content = RoomMessageEventContent::text_plain(body)
            .make_replacement(ReplacementMetadata::new(target.clone(), None));
        self.send(room, content).await
    }

    /// A reaction (`m.annotation`) with `key` to `target`.
    pub async fn react(&self, room: &Room, target: &OwnedEventId, key: &str) -> OwnedEventId {
        use matrix_sdk::ruma::events::reaction::ReactionEventContent;
        use matrix_sdk::ruma::events::relation::Annotation;
        let content = ReactionEventContent::new(Annotation::new(target.clone(), key.to_owned()));
        room.send(content)
            .await
            .unwrap_or_else(|e| panic!("{} cannot react: {e}", self.name))
            .response
            .event_id
    }

    pub async fn redact(&self, room: &Room, target: &OwnedEventId) {
        room.redact(target, None, None)
            .await
            .unwrap_or_else(|e| panic!("{} cannot redact: {e}", self.name));
    }

    async fn send(&self, room: &Room, content: RoomMessageEventContent) -> OwnedEventId {
        room.send(content)
            .await
            .unwrap_or_else(|e| panic!("{} cannot send: {e}", self.name))
            .response
            .event_id
    }

    /// The room's `m.room.message` events, oldest first, as JSON (the
    /// decrypted form in an encrypted room).
    pub async fn messages(&self, room: &Room) -> Vec<Value> {
        let mut all = Vec::new();
        let mut from: Option<String> = None;
        loop {
            let mut options = MessagesOptions::backward().from(from.as_deref());
            options.limit = UInt::from(100u32);
            let page = room.messages(options).await.expect("messages");
            for e in &page.chunk {
                let v: Value = e.raw().deserialize_as().expect("json");
                if v["type"] == "m.room.message" {
                    all.push(v);
                }
            }
            match page.end {
                Some(end) if !page.chunk.is_empty() => from = Some(end),
                _ => break,
            }
        }
        all.reverse();
        all
    }

    /// Waits until `pred` holds for the room's messages.
    pub async fn wait_for_messages(
        &self,
        room: &Room,
        what: &str,
        pred: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        self.wait_for_messages_or(room, what, pred, String::new)
            .await
    }

    /// [`Person::wait_for_messages`], adding `context()` (a bot's log, say)
    /// to the failure report.
    pub async fn wait_for_messages_or(
        &self,
        room: &Room,
        what: &str,
        pred: impl Fn(&[Value]) -> bool,
        context: impl Fn() -> String,
    ) -> Vec<Value> {
        let deadline = Instant::now() + WAIT * 3;
        loop {
            let messages = self.messages(room).await;
            if pred(&messages) {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the room has:\n{}\n{}",
                bodies(&messages).join("\n"),
                context()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// The plain bodies of messages, for failure reports.
pub fn bodies(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| {
            format!(
                "{} [{}] {}",
                m["sender"].as_str().unwrap_or(""),
                m["content"]["msgtype"].as_str().unwrap_or(""),
                m["content"]["body"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// The bot's posts among `messages`.
pub fn posts_of<'a>(messages: &'a [Value], bot: &str) -> Vec<&'a Value> {
    messages.iter().filter(|m| m["sender"] == bot).collect()
}

/// A schedule of one debate `id` in `room`, starting `in_seconds` from now
/// (London time, to the second), lasting a minute, with a reminder 5 s
/// before and questions at 0 s, 20 s and 40 s.
pub fn one_minute_debate(
    id: &str,
    room: &str,
    organiser: &str,
    in_seconds: i64,
) -> (String, DateTime<Utc>) {
    // Whole seconds, as the YAML gives the start: a due time measured
    // against it is the one the bot keeps.
    let start =
        chrono::SubsecRound::trunc_subsecs(Utc::now() + chrono::Duration::seconds(in_seconds), 0);
    let local = start.with_timezone(&chrono_tz::Europe::London);
    let yaml = format!(
        "timezone: Europe/London\nzones: [Europe/London, America/New_York]\n\
         debates:\n  - id: {id}\n    title: Live test\n    starts: {}\n    duration: 1m\n\
         \x20   remind: [5s]\n    rooms: [\"{room}\"]\n    organisers: [\"{organiser}\"]\n\
         \x20   questions:\n      - {{text: First question?, at: 0s}}\n\
         \x20     - {{text: Second question?, at: 20s}}\n      - {{text: Third question?, at: 40s}}\n",
        local.format("%Y-%m-%d %H:%M:%S")
    );
    (yaml, start)
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().expect("its address").port()
}

/// `podium run` as a child process, with its own data dir and schedule.
pub struct Podium {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub schedule: PathBuf,
    /// Where its web pages are served (`http://127.0.0.1:PORT`).
    pub web: String,
    env: Vec<(String, String)>,
    child: Option<Child>,
    runs: u32,
}

impl Podium {
    /// A bot account `bot` (registered already) on the binary's Synapse,
    /// hosting `yaml`.
    pub fn new(bot: &Person, yaml: &str) -> Podium {
        Podium::on(&synapse().url, bot.user.as_str(), &bot.password(), yaml)
    }

    /// Sets (or overrides) one environment variable for later starts.
    pub fn env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// Removes an environment variable for later starts.
    pub fn unset(&mut self, key: &str) {
        self.env.retain(|(k, _)| k != key);
    }

    /// Starts `podium run`; its log goes to `run-N.log` in the temp dir.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        self.runs += 1;
        let log = File::create(self.log_path(self.runs)).expect("log file");
        let mut cmd = podium();
        cmd.arg("run")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        self.child = Some(cmd.spawn().expect("podium run starts"));
    }

    fn log_path(&self, run: u32) -> PathBuf {
        self.dir.path().join(format!("run-{run}.log"))
    }

    /// How many times `start` was called.
    pub fn runs(&self) -> u32 {
        self.runs
    }

    /// Whether the current run is still going (started and not exited).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().expect("try_wait").is_none())
    }

    /// Every run's log, for failure reports.
    pub fn logs(&self) -> String {
        (1..=self.runs)
            .map(|n| {
                format!(
                    "--- podium run #{n} ---\n{}",
                    std::fs::read_to_string(self.log_path(n)).unwrap_or_default()
                )
            })
            .collect()
    }

    /// SIGKILL: no chance to tidy up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, and the exit status (the test fails after 20 s).
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "podium run did not stop within 20 s of SIGTERM\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits (up to `WAIT`) for the process to exit by itself.
    pub fn wait_exit(&mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return (status, self.logs());
            }
            assert!(
                Instant::now() < deadline,
                "podium run did not exit\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `podium transcript DEBATE --format json` on this bot's data.
    pub fn transcript(&self, debate: &str) -> Value {
        serde_json::from_str(&self.transcript_as(debate, "json")).expect("JSON")
    }

    /// `podium transcript DEBATE --format FORMAT` on this bot's store: its
    /// data directory, and its database when it has one (a reader looks
    /// where the bot writes, as an operator's would).
    pub fn transcript_as(&self, debate: &str, format: &str) -> String {
        let mut cmd = podium();
        cmd.args(["--data-dir"])
            .arg(&self.data)
            .args(["transcript", debate, "--format", format]);
        if let Some((key, url)) = self.env.iter().find(|(k, _)| k == "PODIUM_DATABASE_URL") {
            cmd.env(key, url);
        }
        let out: Output = output(cmd);
        assert_eq!(out.code, Some(0), "transcript: {}", out.stderr);
        out.stdout
    }
}

/// What a store on PostgreSQL must leave in the data directory: no SQLite
/// file of its own (`podium.db`, nor the WAL files beside it).
pub const SQLITE_FILES: [&str; 3] = ["podium.db", "podium.db-wal", "podium.db-shm"];

impl Podium {
    /// Stores in the database at `url` (`PODIUM_DATABASE_URL`) rather than
    /// in its data directory.
    pub fn on_database(&mut self, url: &str) {
        self.env("PODIUM_DATABASE_URL", url);
    }

    /// Fails unless the data directory holds none of [`SQLITE_FILES`].
    pub fn assert_no_sqlite_store(&self) {
        for file in SQLITE_FILES {
            let path = self.data.join(file);
            assert!(
                !path.exists(),
                "{} exists: the store was not kept only in the database",
                path.display()
            );
        }
    }

    /// Each view the running bot serves of the transcript behind `link`
    /// (its `.json`, `.txt` and `.md` forms, with the link's key) is, byte
    /// for byte, what `podium transcript` renders of `debate` from the
    /// store: the page comes from where the answers were stored.
    pub async fn assert_served_as_stored(&self, debate: &str, link: &str) {
        let (page, query) = match link.split_once('?') {
            Some((page, query)) => (page, format!("?{query}")),
            None => (link, String::new()),
        };
        for format in ["json", "txt", "md"] {
            let url = format!("{page}.{format}{query}");
            let response = reqwest::get(&url)
                .await
                .unwrap_or_else(|e| panic!("GET {url}: {e}"));
            let status = response.status();
            let served = response.text().await.expect("a body");
            assert!(status.is_success(), "GET {url}: {status} {served}");
            let stored = self.transcript_as(debate, format);
            assert!(
                served == stored,
                "{url} is not what `podium transcript --format {format}` reads:\n\
                 --- served\n{served}\n--- stored\n{stored}"
            );
        }
    }
}

impl Drop for Podium {
    fn drop(&mut self) {
        self.kill();
    }
}

/// (author, body, attributed_by) of each reply in a transcript list.
pub fn replies(list: &Value) -> Vec<(String, String, String)> {
    list.as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    (
                        r["author_id"].as_str().unwrap_or("").to_owned(),
                        r["body"].as_str().unwrap_or("").to_owned(),
                        r["attributed_by"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Each question number posted among the bot's posts, with how often.
pub fn question_counts(posts: &[&Value]) -> Vec<(u32, usize)> {
    let mut seen: Vec<(u32, usize)> = Vec::new();
    for p in posts {
        let body = p["content"]["body"].as_str().unwrap_or("");
        if let Some(n) = body
            .strip_prefix('Q')
            .and_then(|r| r.split_once(':'))
            .and_then(|(n, _)| n.parse::<u32>().ok())
        {
            match seen.iter_mut().find(|(m, _)| *m == n) {
                Some((_, c)) => *c += 1,
                None => seen.push((n, 1)),
            }
        }
    }
    seen.sort_unstable();
    seen
}

/// The distinct values of `f` over `items`.
pub fn distinct<T, K: std::hash::Hash + Eq>(items: &[T], f: impl Fn(&T) -> K) -> usize {
    items.iter().map(f).collect::<HashSet<K>>().len()
}

// Helpers for the rate-limit test (tests/matrix_limits.rs) and the Matrix
// benchmarks (benches/matrix.rs).

/// A Synapse with the rate limits `limits` (`relaxed` or `default`) and
/// `users` (`name:password:admin|user ...`) registered by the script
/// through the shared secret, which no rate limit applies to.
pub fn start_synapse_with_users(limits: &str, users: &str) -> Synapse {
    let data = std::env::temp_dir().join(format!(
        "podium-synapse-{}-{limits}-users",
        std::process::id()
    ));
    synapse_up_with(&data, limits, users)
}

impl Person {
    /// Like [`Person::register`], but the client does not sync: a sender
    /// only (the benchmarks' participants, whose syncing would load this
    /// machine as real participants' clients elsewhere would not).
    pub async fn register_unsynced(url: &str, name: &str) -> Person {
        let username = unique(name);
        let client = Client::builder()
            .homeserver_url(url)
            .build()
            .await
            .expect("client");
        let mut request = register::v3::Request::new();
        request.username = Some(username.clone());
        request.password = Some(format!("{username}-password"));
        request.initial_device_display_name = Some(name.to_owned());
        if let Err(e) = client.matrix_auth().register(request.clone()).await {
            let session = e
                .as_uiaa_response()
                .and_then(|info| info.session.clone())
                .unwrap_or_else(|| panic!("registering {username}: {e}"));
            let mut dummy = Dummy::new();
            dummy.session = Some(session);
            request.auth = Some(AuthData::Dummy(dummy));
            client
                .matrix_auth()
                .register(request)
                .await
                .unwrap_or_else(|e| panic!("registering {username}: {e}"));
        }
        let user = client.user_id().expect("logged in").to_owned();
        Person {
            client,
            user,
            name: username,
        }
    }

    /// Logs in as an existing user `name` (one the script registered),
    /// and keeps the client syncing in the background.
    pub async fn login(url: &str, name: &str, password: &str) -> Person {
        let client = Client::builder()
            .homeserver_url(url)
            .build()
            .await
            .expect("client");
        client
            .matrix_auth()
            .login_username(name, password)
            .initial_device_display_name(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("logging in as {name}: {e}"));
        let user = client.user_id().expect("logged in").to_owned();
        let syncing = client.clone();
        tokio::spawn(async move {
            let _ = syncing.sync(SyncSettings::default()).await;
        });
        Person {
            client,
            user,
            name: name.to_owned(),
        }
    }

    /// `POST` to a Synapse admin API path (`/_synapse/admin/...`) with this
    /// (admin) user's token; the JSON answer.
    pub async fn admin_post(&self, url: &str, path: &str, body: &Value) -> Value {
        let token = self.client.access_token().expect("an access token");
        let response = matrix_sdk::reqwest::Client::new()
            .post(format!("{url}{path}"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "POST {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Lifts every Synapse rate limit for `user` (this user is an admin).
    pub async fn unlimit(&self, url: &str, user: &str) {
        self.admin_post(
            url,
            &format!("/_synapse/admin/v1/users/{user}/override_ratelimit"),
            &serde_json::json!({"messages_per_second": 0, "burst_count": 0}),
        )
        .await;
    }

    /// Joins `user` to the public room `room` through the admin API, which
    /// is not rate limited (this user is an admin).
    pub async fn force_join(&self, url: &str, user: &str, room: &str) {
        self.admin_post(
            url,
            &format!("/_synapse/admin/v1/join/{room}"),
            &serde_json::json!({ "user_id": user }),
        )
        .await;
    }
}

impl Podium {
    /// `podium run` as `user` (with `password`) on the homeserver at `url`
    /// (not necessarily the binary's Synapse), hosting `yaml`.
    pub fn on(url: &str, user: &str, password: &str, yaml: &str) -> Podium {
        let mut podium = Podium::bare(yaml);
        podium.env("PODIUM_MATRIX_HOMESERVER", url);
        podium.env("PODIUM_MATRIX_USER", user);
        podium.env("PODIUM_MATRIX_PASSWORD", password);
        podium
    }

    /// `podium run` hosting `yaml`, no network configured yet (the IRC
    /// tests add theirs with [`Podium::env`]).
    pub fn bare(yaml: &str) -> Podium {
        let dir = tempfile::tempdir().expect("temp dir");
        let schedule = dir.path().join("debates.yaml");
        std::fs::write(&schedule, yaml).expect("schedule");
        let data = dir.path().join("data");
        // Each bot serves its pages on a port of its own (the default,
        // 8080, would collide between tests running at once); the links
        // it posts point there, so tests can open them.
        let web = format!("127.0.0.1:{}", free_port());
        let env = vec![
            ("PODIUM_SCHEDULE".into(), schedule.display().to_string()),
            ("PODIUM_DATA_DIR".into(), data.display().to_string()),
            ("PODIUM_WEB_ADDR".into(), web.clone()),
            ("PODIUM_PUBLIC_URL".into(), format!("http://{web}")),
            ("PODIUM_ENGINE_COLLECT_GRACE".into(), "5s".into()),
            ("RUST_LOG".into(), "podium=debug,warn".into()),
        ];
        Podium {
            dir,
            data,
            schedule,
            web: format!("http://{web}"),
            env,
            child: None,
            runs: 0,
        }
    }

    /// The running process's id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The current run's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path(self.runs)).unwrap_or_default()
    }
}

/// `text` without ANSI colour sequences (a log written to a terminal has
/// them).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ ... final byte in @..~
            if chars.next() == Some('[') {
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The value of `key=` in a log line (up to the next space).
pub fn log_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let needle = format!(" {key}=");
    let at = line.find(&needle)? + needle.len();
    Some(line[at..].split(' ').next().unwrap_or(""))
}
