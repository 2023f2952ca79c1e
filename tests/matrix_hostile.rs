#![recursion_limit = "256"]
//! `podium run` on a real Synapse (one for this test binary) against
//! participants who misbehave: an edit of someone else's answer, a
//! redaction of someone else's answer, `/me !command`, a post larger than
//! a Matrix event may be; and what a redaction leaves on disk.

#[path = "support/matrix.rs"]
mod matrix_support;
mod support;

use std::time::Duration;

use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use matrix_support::{Person, Podium, bodies, one_minute_debate, posts_of, synapse, unique};
use serde_json::Value;

/// A room made by `host` (its creator, so a moderator), with the bot and
/// every participant in it.
struct Room {
    bot: Person,
    host: Person,
    alice: Person,
    mallory: Person,
    room: matrix_sdk::Room,
    alias: String,
}

async fn room() -> Room {
    let url = &synapse().url;
    let (bot, host, alice, mallory) = tokio::join!(
        Person::register(url, "podium"),
        Person::register(url, "host"),
        Person::register(url, "alice"),
        Person::register(url, "mallory"),
    );
    let local = unique("hostile");
    let room = host
        .create_room(&local, &[&bot.user, &alice.user, &mallory.user], false)
        .await;
    let alias = format!("#{local}:localhost");
    alice.join(&alias).await;
    mallory.join(&alias).await;
    Room {
        bot,
        host,
        alice,
        mallory,
        room,
        alias,
    }
}

impl Room {
    /// `who`'s view of the room.
    fn of(&self, who: &Person) -> matrix_sdk::Room {
        who.room(&self.room.room_id().to_owned())
    }

    /// Waits for the bot's post starting with `prefix`.
    async fn wait_for_post(&self, prefix: &str, podium: &Podium) -> Value {
        let bot = self.bot.user.to_string();
        let messages = self
            .host
            .wait_for_messages_or(
                &self.of(&self.host),
                prefix,
                |ms| {
                    posts_of(ms, &bot)
                        .iter()
                        .any(|m| body(m).starts_with(prefix))
                },
                || podium.logs(),
            )
            .await;
        posts_of(&messages, &bot)
            .into_iter()
            .find(|m| body(m).starts_with(prefix))
            .cloned()
            .unwrap()
    }
}

fn body(m: &Value) -> &str {
    m["content"]["body"].as_str().unwrap_or("")
}

/// (author id, body, edited) of each reply under question `n` (0: before Q1).
fn answers(t: &Value, n: usize) -> Vec<(String, String, bool)> {
    let list = if n == 0 {
        &t["unattributed"]
    } else {
        &t["questions"][n - 1]["replies"]
    };
    list.as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    (
                        r["author_id"].as_str().unwrap_or("").to_owned(),
                        r["body"].as_str().unwrap_or("").to_owned(),
                        r["edited"].as_bool().unwrap_or(false),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `needle` appears anywhere in `file` (absent file: no).
fn file_holds(file: &std::path::Path, needle: &str) -> bool {
    std::fs::read(file)
        .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
}

/// mallory edits alice's answer (with a tag that would move it) and tries
/// to redact another: neither changes the transcript. The host, the room's
/// creator, redacts a third: it is gone, and its text is in neither the
/// database nor its WAL after a clean stop. An `m.emote` `!help` is an
/// answer, never a command.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_authors_edit_and_only_authors_or_moderators_redact() {
    let r = room().await;
    let (yaml, _start) = one_minute_debate("hostile", &r.alias, r.host.user.as_str(), 12);
    let mut podium = Podium::new(&r.bot, &yaml);
    podium.start();
    let (alice, mallory) = (r.of(&r.alice), r.of(&r.mallory));

    r.wait_for_post("Q1:", &podium).await;
    let honest = r.alice.say(&alice, "A1: alice's honest answer").await;
    r.mallory
        .edit(&mallory, &honest, "A2: mallory's words in alice's mouth")
        .await;
    let second = r.alice.say(&alice, "A1: alice's second answer").await;
    // Synapse itself may refuse it (403); either way nothing may change.
    let refused = mallory.redact(&second, None, None).await;
    let removed = r
        .alice
        .say(&alice, "A1: zebra-quartz removed by the host")
        .await;
    r.host.redact(&r.of(&r.host), &removed).await;
    let emote = alice
        .send(RoomMessageEventContent::emote_plain("!help"))
        .await
        .expect("an emote")
        .response
        .event_id;

    r.wait_for_post("The transcript of", &podium).await;
    // Collection goes on 5 s after the closing.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let t = podium.transcript("hostile");
    let messages = r.host.messages(&r.of(&r.host)).await;
    let status = podium.terminate();
    assert!(status.success(), "{status}\n{}", podium.logs());
    let report = || {
        format!(
            "{t:#}\nmallory's redaction: {refused:?}\n{}\n{}",
            bodies(&messages).join("\n"),
            podium.logs()
        )
    };
    let alice_id = r.alice.user.to_string();
    assert_eq!(
        answers(&t, 1),
        [
            (alice_id.clone(), "A1: alice's honest answer".into(), false),
            (alice_id.clone(), "A1: alice's second answer".into(), false),
            (alice_id.clone(), "!help".into(), false),
        ],
        "{}",
        report()
    );
    assert!(answers(&t, 2).is_empty(), "{}", report());
    assert!(
        !posts_of(&messages, r.bot.user.as_str())
            .iter()
            .any(|p| p["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == emote.as_str()),
        "an emote was answered as a command\n{}",
        report()
    );
    for file in ["podium.db", "podium.db-wal"] {
        assert!(
            !file_holds(&podium.data.join(file), "zebra-quartz"),
            "{file} still holds the redacted answer"
        );
    }
}

/// Text of `n` characters that costs the most a Matrix event can be asked
/// to carry: a question number, then half astral characters inside a link
/// (each written three times: body, `href`, link text) and half control
/// characters (`\u0001` in both the body and the HTML).
fn costliest(n: usize) -> String {
    "Q1: http://x.example/"
        .chars()
        .chain(std::iter::repeat('🎉'))
        .take(n / 2)
        .chain(std::iter::repeat('\u{1}'))
        .take(n)
        .collect()
}

/// `Chat::max_chars` for Matrix against Synapse's own limit: the costliest
/// post at the limit is taken, in a plain room and in an encrypted one; a
/// tenth more is refused (`M_TOO_LARGE`), a permanent failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_matrix_post_limit_is_what_synapse_takes() {
    use podium::chat::{Chat, ChatError, Outgoing, PostKind, Room as ChatRoom};
    use podium::config::{MatrixConfig, Secret};
    let url = &synapse().url;
    let (bot, host) = tokio::join!(
        Person::register(url, "podium"),
        Person::register(url, "host")
    );
    let (plain, secret) = (unique("large"), unique("largeenc"));
    host.create_room(&plain, &[&bot.user], false).await;
    host.create_room(&secret, &[&bot.user], true).await;
    let (plain, secret) = (
        ChatRoom::Matrix(format!("#{plain}:localhost")),
        ChatRoom::Matrix(format!("#{secret}:localhost")),
    );
    let start = chrono::Utc::now() + chrono::Duration::days(1);
    let yaml = format!(
        "timezone: UTC\ndebates:\n  - id: big\n    title: Big\n    starts: {}\n    \
         rooms: [\"{plain}\", \"{secret}\"]\n    questions: [Why?]\n",
        start.format("%Y-%m-%d %H:%M")
    );
    let schedule = podium::schedule::parse(&yaml, chrono::Utc::now())
        .map_err(|d| d.render("t"))
        .unwrap()
        .0;
    let config = MatrixConfig {
        homeserver: url.clone(),
        user: bot.user.to_string(),
        password: Some(Secret::new(bot.password())),
        access_token: None,
        device_name: "podium-limit-test".into(),
        moderators_are_organisers: true,
    };
    let dir = tempfile::tempdir().unwrap();
    let matrix = podium::chat::matrix::Matrix::connect(&config, dir.path())
        .await
        .unwrap();
    matrix.join(&schedule).await;
    let chat = matrix.chat();
    // Syncing tells the bot which room is encrypted.
    let (events, mut drain) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move { while drain.recv().await.is_some() {} });
    let store = podium::store::Store::open_memory().await.unwrap();
    let (_keep, watch) = tokio::sync::watch::channel(std::sync::Arc::new(schedule));
    let stop = tokio_util::sync::CancellationToken::new();
    let _stop_at_the_end = stop.clone().drop_guard();
    let health = podium::health::Health::default();
    tokio::spawn(matrix.run(store, events, watch, health, stop));
    let question = Some(PostKind::Question);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while chat.max_chars(&plain, question) != Some(5_118) {
        assert!(std::time::Instant::now() < deadline, "never synced");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(chat.max_chars(&secret, question), Some(3_838));
    for room in [&plain, &secret] {
        let limit = chat.max_chars(room, question).unwrap();
        for (n, taken) in [(limit, true), (limit + limit / 10, false)] {
            let body = costliest(n);
            let key = unique("big");
            let post = Outgoing {
                key: &key,
                body: &body,
                kind: question,
                reply_to: None,
            };
            let sent = chat.send(room, post).await;
            match (taken, &sent) {
                (true, Ok(_)) => {}
                (false, Err(ChatError::Permanent(e))) => assert!(
                    e.contains("M_TOO_LARGE") || e.to_lowercase().contains("too large"),
                    "{room}: {e}"
                ),
                _ => panic!("{room}, {n} characters: {sent:?}"),
            }
        }
    }
}

/// A debate that ignores mallory: the raw log beside the transcript has
/// alice's greeting before the intro (as she edited it), Podium's posts,
/// her answer and her thanks after the closing (which is no answer), and
/// nothing of mallory, whose command gets no reply; the log needs the
/// transcript's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_raw_log_and_the_ignore_list() {
    let r = room().await;
    let (yaml, _start) = one_minute_debate("logged", &r.alias, r.host.user.as_str(), 15);
    let yaml = yaml.replacen(
        "debates:\n",
        &format!("ignore: [\"{}\"]\ndebates:\n", r.mallory.user),
        1,
    );
    let mut podium = Podium::new(&r.bot, &yaml);
    podium.start();
    let (alice, mallory) = (r.of(&r.alice), r.of(&r.mallory));
    // Podium collects from its first sync on.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !podium.logs().contains("collecting from now on") {
        assert!(std::time::Instant::now() < deadline, "{}", podium.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let greeting = r.alice.say(&alice, "helo all, alice here").await;
    r.alice
        .edit(&alice, &greeting, "hello all, alice here")
        .await;
    let command = r.mallory.say(&mallory, "!help").await;
    r.mallory.say(&mallory, "spam before the intro").await;
    r.wait_for_post("Q1:", &podium).await;
    r.alice.say(&alice, "A1: an answer").await;
    r.mallory.say(&mallory, "A1: spam answer").await;
    let link = r.wait_for_post("The transcript of", &podium).await;
    r.alice.say(&alice, "thanks, great debate").await;
    // Collection goes on 5 s after the closing.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let t = podium.transcript("logged");
    let url = body(&link)
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("a link")
        .to_owned();
    let (bare, key) = url.split_once("?key=").expect("a private link");
    let get = |url: String| async move {
        let r = reqwest::get(&url).await.expect("the log answers");
        (r.status().as_u16(), r.text().await.unwrap())
    };
    let (status, log) = get(format!("{bare}.log?key={key}")).await;
    let (no_key, _) = get(format!("{bare}.log")).await;
    let messages = r.host.messages(&r.of(&r.host)).await;
    let status_stop = podium.terminate();
    assert!(status_stop.success(), "{}", podium.logs());
    let report = || format!("{t:#}\n{log}\n{}", podium.logs());
    assert_eq!((status, no_key), (200, 404), "{}", report());
    let alice_id = r.alice.user.to_string();
    assert_eq!(
        answers(&t, 1),
        [(alice_id.clone(), "A1: an answer".into(), false)],
        "{}",
        report()
    );
    assert!(answers(&t, 0).is_empty(), "{}", report());
    for said in [
        format!("({alice_id})> hello all, alice here"),
        "-Podium- Q1: First question?".into(),
        format!("({alice_id})> A1: an answer"),
        format!("({alice_id})> thanks, great debate"),
    ] {
        assert!(log.contains(&said), "no `{said}` in the log\n{}", report());
    }
    for unsaid in ["helo", "spam", r.mallory.user.as_str()] {
        assert!(!log.contains(unsaid), "`{unsaid}` in the log\n{}", report());
    }
    assert!(
        !posts_of(&messages, r.bot.user.as_str())
            .iter()
            .any(|p| p["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == command.as_str()),
        "an ignored sender's command was answered\n{}",
        report()
    );
}

/// 15.14 on real Synapse: an organiser's `!ask` of 34 KB (more than a
/// Matrix event takes) is refused with the limit before anything is
/// numbered, and the next `!ask` that fits is Q4, posted whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_ask_too_large_for_matrix_is_refused_before_it_is_numbered() {
    let r = room().await;
    let (yaml, _start) = one_minute_debate("toolarge", &r.alias, r.host.user.as_str(), 12);
    let mut podium = Podium::new(&r.bot, &yaml);
    podium.start();
    let host = r.of(&r.host);
    r.wait_for_post("Q1:", &podium).await;
    let huge = format!("!ask {}?", "Why \"this\" & <that>? ".repeat(1_700));
    assert!(huge.len() > 34_000);
    let asked = r.host.say(&host, &huge).await;
    let fits = r.host.say(&host, "!ask Does this one fit?").await;
    let bot = r.bot.user.to_string();
    let answer_to = |ms: &[Value], id: &str| {
        posts_of(ms, &bot)
            .into_iter()
            .find(|m| m["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == id)
            .map(|m| body(m).to_owned())
    };
    let messages = r
        .host
        .wait_for_messages_or(
            &host,
            "the answers to both !ask",
            |ms| answer_to(ms, asked.as_str()).is_some() && answer_to(ms, fits.as_str()).is_some(),
            || podium.logs(),
        )
        .await;
    let refusal = answer_to(&messages, asked.as_str()).unwrap();
    assert!(
        refusal.contains("at most") && refusal.contains("Nothing was asked"),
        "{refusal}"
    );
    assert_eq!(answer_to(&messages, fits.as_str()).unwrap(), "Asked as Q4.");
    r.wait_for_post("Q4: Does this one fit?", &podium).await;
    let logs = podium.logs();
    assert!(!logs.contains("M_TOO_LARGE"), "{logs}");
    assert_eq!(podium.terminate().code(), Some(0));
}
