#![recursion_limit = "256"]
//! `podium run` on a real Synapse (started by scripts/synapse-up.sh, one for
//! this test binary): a one-minute debate in a room, answered by real
//! Matrix clients with tags, replies, threads, edits and redactions;
//! commands; the same in an encrypted room, and with the store on
//! PostgreSQL (tests/support/postgres.rs); logins that fail.

#[path = "support/matrix.rs"]
mod matrix_support;
mod support;

use std::time::Duration;

use matrix_support::{
    Person, Podium, bodies, one_minute_debate, posts_of, question_counts, replies, synapse, unique,
};
use serde_json::Value;

/// Everything a debate in one room needs: the bot, an organiser (who made
/// the room), two participants.
struct Room {
    bot: Person,
    host: Person,
    bob: Person,
    carol: Person,
    room: matrix_sdk::Room,
    alias: String,
}

async fn room(encrypted: bool) -> Room {
    let url = &synapse().url;
    let (bot, host, bob, carol) = tokio::join!(
        Person::register(url, "podium"),
        Person::register(url, "host"),
        Person::register(url, "bob"),
        Person::register(url, "carol"),
    );
    let local = unique("debate");
    let room = host
        .create_room(&local, &[&bot.user, &bob.user, &carol.user], encrypted)
        .await;
    let alias = format!("#{local}:localhost");
    bob.join(&alias).await;
    carol.join(&alias).await;
    Room {
        bot,
        host,
        bob,
        carol,
        room,
        alias,
    }
}

fn body(m: &Value) -> &str {
    m["content"]["body"].as_str().unwrap_or("")
}

fn event_id(m: &Value) -> matrix_sdk::ruma::OwnedEventId {
    m["event_id"].as_str().unwrap().try_into().unwrap()
}

/// The bot's question `n` in the room.
async fn wait_for_question(r: &Room, who: &Person, n: u32) -> Value {
    let bot = r.bot.user.to_string();
    let prefix = format!("Q{n}:");
    let room = who.room(&r.room.room_id().to_owned());
    let messages = who
        .wait_for_messages(&room, &format!("Q{n}"), |ms| {
            posts_of(ms, &bot)
                .iter()
                .any(|m| body(m).starts_with(&prefix))
        })
        .await;
    posts_of(&messages, &bot)
        .into_iter()
        .find(|m| body(m).starts_with(&prefix))
        .cloned()
        .unwrap()
}

/// A whole debate: every kind of answer, commands, and the transcript;
/// stored in the data directory, or in the PostgreSQL `database`.
async fn a_debate_in(encrypted: bool, database: Option<&str>) {
    let r = room(encrypted).await;
    let (yaml, _start) = one_minute_debate("live", &r.alias, r.host.user.as_str(), 12);
    let mut podium = Podium::new(&r.bot, &yaml);
    if let Some(url) = database {
        podium.on_database(url);
    }
    podium.start();
    let bob_room = r.bob.room(&r.room.room_id().to_owned());
    let carol_room = r.carol.room(&r.room.room_id().to_owned());
    let host_room = r.host.room(&r.room.room_id().to_owned());

    let q1 = wait_for_question(&r, &r.bob, 1).await;
    r.bob.say(&bob_room, "A1: listening first").await;
    let untagged = r
        .carol
        .say(&carol_room, "leaders make room for others")
        .await;
    // Commands: a participant's !skip is refused; !transcript answers.
    let skip = r.bob.say(&bob_room, "!skip").await;
    let ask = r.carol.say(&carol_room, "!transcript").await;
    let q2 = wait_for_question(&r, &r.carol, 2).await;
    r.carol
        .reply(&carol_room, &event_id(&q2), "replying to the second")
        .await;
    let wrong = r.bob.say(&bob_room, "A1: a second thought on Q1").await;
    r.bob
        .edit(&bob_room, &wrong, "A2: a second thought, on Q2 after all")
        .await;
    let gone = r.carol.say(&carol_room, "A2: something I regret").await;
    r.carol.redact(&carol_room, &gone).await;
    let q3 = wait_for_question(&r, &r.host, 3).await;
    r.bob
        .in_thread(&bob_room, &event_id(&q3), "in the thread of Q3")
        .await;
    r.host.say(&host_room, "A1: late, but tagged").await;

    let bot = r.bot.user.to_string();
    let messages = r
        .host
        .wait_for_messages(&host_room, "the transcript link", |ms| {
            posts_of(ms, &bot)
                .iter()
                .any(|m| body(m).starts_with("The transcript of “Live test” is at"))
        })
        .await;
    // `podium transcript` reads beside the running bot.
    let live = podium.transcript("live");
    assert_eq!(live["debate"], "live", "{live:#}");
    if encrypted {
        assert!(
            r.room
                .latest_encryption_state()
                .await
                .unwrap()
                .is_encrypted()
        );
    }
    // Collection goes on 5 s after the closing; then the posted link
    // opens the transcript page, served by the same process.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let link = posts_of(&messages, &bot)
        .iter()
        .find_map(|m| body(m).strip_prefix("The transcript of “Live test” is at "))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .unwrap();
    let page = the_page_behind(&podium, &link).await;
    podium.assert_served_as_stored("live", &link).await;
    let status = podium.terminate();
    assert!(status.success(), "{status}\n{}", podium.logs());

    let posts = posts_of(&messages, &bot);
    let report = || format!("{}\n{}", bodies(&messages).join("\n"), podium.logs());
    // Every post: a notice with an HTML form and a plain body.
    for p in &posts {
        assert_eq!(p["content"]["msgtype"], "m.notice", "{p}");
        assert_eq!(p["content"]["format"], "org.matrix.custom.html", "{p}");
        assert!(p["content"]["formatted_body"].is_string(), "{p}");
    }
    assert_eq!(
        question_counts(&posts),
        [(1, 1), (2, 1), (3, 1)],
        "{}",
        report()
    );
    assert!(
        body(&q1).starts_with("Q1: First question?")
            && q1["content"]["formatted_body"]
                .as_str()
                .unwrap()
                .starts_with("<strong>Q1:</strong> First question?"),
        "{q1}"
    );
    let intro = posts
        .iter()
        .find(|p| body(p).starts_with("“Live test” starts now: "))
        .unwrap_or_else(|| panic!("no intro\n{}", report()));
    assert!(
        body(intro).contains(" London · ") && body(intro).contains(" New York"),
        "{intro}"
    );
    assert!(
        posts
            .iter()
            .any(|p| body(p).starts_with("Reminder: “Live test” starts in")),
        "{}",
        report()
    );
    // Commands are answered by notices replying to them.
    for (command, answer) in [
        (&skip, "Sorry "),
        (&ask, &format!("Transcript of “Live test”: {link}")),
    ] {
        let reply = posts
            .iter()
            .find(|p| p["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == command.as_str())
            .unwrap_or_else(|| panic!("no answer to {command}\n{}", report()));
        assert!(body(reply).starts_with(answer), "{reply}");
    }

    let t = podium.transcript("live");
    let (bob, carol, host) = (
        r.bob.user.as_str(),
        r.carol.user.as_str(),
        r.host.user.as_str(),
    );
    let owned = |v: &[(&str, &str, &str)]| -> Vec<(String, String, String)> {
        v.iter()
            .map(|(a, b, c)| ((*a).into(), (*b).into(), (*c).into()))
            .collect()
    };
    assert_eq!(
        replies(&t["questions"][0]["replies"]),
        owned(&[
            (bob, "A1: listening first", "tag"),
            (carol, "leaders make room for others", "latest"),
            (host, "A1: late, but tagged", "tag"),
        ]),
        "{t:#}\n{}",
        report()
    );
    assert_eq!(
        replies(&t["questions"][1]["replies"]),
        owned(&[
            (carol, "replying to the second", "reply"),
            (bob, "A2: a second thought, on Q2 after all", "tag"),
        ]),
        "{t:#}"
    );
    assert_eq!(
        replies(&t["questions"][2]["replies"]),
        owned(&[(bob, "in the thread of Q3", "reply")]),
        "{t:#}"
    );
    assert_eq!(t["unattributed"], serde_json::json!([]), "{t:#}");
    let edited: Vec<bool> = t["questions"][1]["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["edited"].as_bool().unwrap())
        .collect();
    assert_eq!(edited, [false, true]);
    assert!(!t.to_string().contains("something I regret"), "{t:#}");
    assert!(!untagged.as_str().is_empty());
    // The page shows the same transcript.
    for (_, text, _) in t["questions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|q| replies(&q["replies"]))
    {
        assert!(page.contains(&text), "{text} is not on the page:\n{page}");
    }
    assert!(page.contains("First question?"), "{page}");
    assert!(!page.contains("something I regret"), "{page}");
    if database.is_some() {
        podium.assert_no_sqlite_store();
    } else {
        assert!(podium.data.join("podium.db").exists());
    }
}

/// The page at the bot's `link`, which must be its own private transcript
/// URL: without the token, or with a wrong one, it is not found.
async fn the_page_behind(podium: &Podium, link: &str) -> String {
    assert!(
        link.starts_with(&format!("{}/transcripts/live/", podium.web)),
        "{link}"
    );
    let (bare, key) = link.split_once("?key=").expect("a private link");
    let client = reqwest::Client::new();
    let get = |url: String| {
        let client = client.clone();
        async move {
            let r = client.get(&url).send().await.expect("the page answers");
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    for wrong in [
        bare.to_owned(),
        format!("{bare}?key={}", key.replace(|c: char| c != '0', "0")),
    ] {
        assert_eq!(get(wrong.clone()).await.0, 404, "{wrong}");
    }
    let (status, page) = get(link.to_owned()).await;
    assert_eq!(status, 200, "{link}: {page}");
    page
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_debate_runs_in_a_room_and_its_transcript_is_right() {
    a_debate_in(false, None).await;
}

/// The same debate with the store on PostgreSQL: the answers, the
/// commands' answers and the page all come from the database, and the
/// data directory has no SQLite store.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_debate_runs_in_a_room_on_postgres_and_its_transcript_is_right() {
    let database = support::postgres::database().await;
    a_debate_in(false, Some(&database)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_debate_runs_in_an_encrypted_room() {
    a_debate_in(true, None).await;
}

/// SIGTERM stops `podium run` within the 10 s the contract gives it,
/// even while the homeserver holds its sync open (a 30 s long poll): the
/// sync loop leaves at once, by itself rather than being dropped when the
/// app's patience runs out, and an answer received just before the stop
/// is in the transcript.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_run_within_ten_seconds_while_a_sync_is_held_open() {
    let r = room(false).await;
    let (yaml, _start) = one_minute_debate("sigterm", &r.alias, r.host.user.as_str(), 8);
    let mut podium = Podium::new(&r.bot, &yaml);
    podium.start();
    wait_for_question(&r, &r.bob, 1).await;
    let bob_room = r.bob.room(&r.room.room_id().to_owned());
    r.bob.say(&bob_room, "A1: said just before the stop").await;
    // The answer is synced and stored, and the next long poll is open.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let asked = std::time::Instant::now();
    let status = podium.terminate();
    let took = asked.elapsed();
    let logs = podium.logs();
    assert!(status.success(), "{status}\n{logs}");
    assert!(
        took < Duration::from_secs(10),
        "stopping took {took:?}\n{logs}"
    );
    assert!(
        logs.contains("stopped syncing with the homeserver"),
        "{logs}"
    );
    assert!(!logs.contains("did not stop in time"), "{logs}");
    let t = podium.transcript("sigterm");
    let answers = replies(&t["questions"][0]["replies"]);
    assert!(
        answers
            .iter()
            .any(|(_, body, _)| body == "A1: said just before the stop"),
        "{t:#}\n{logs}"
    );
}

/// Waits for a line containing `needle` in the bot's log.
async fn wait_for_log(podium: &Podium, needle: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !podium.logs().contains(needle) {
        assert!(
            std::time::Instant::now() < deadline,
            "no `{needle}` in the log:\n{}",
            podium.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A wrong password is a configuration error: a clear message naming the
/// homeserver and the user, exit 78, no retry loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_a_clear_error() {
    let url = &synapse().url;
    let bot = Person::register(url, "podium").await;
    let (yaml, _) = one_minute_debate("live", "#nowhere:localhost", "@x:localhost", 60);
    let mut podium = Podium::new(&bot, &yaml);
    podium.env("PODIUM_MATRIX_PASSWORD", "not-the-password");
    podium.start();
    let (status, logs) = podium.wait_exit();
    assert_eq!(status.code(), Some(78), "{logs}");
    assert!(
        logs.contains(&format!("podium: {url} refused to log in {}: ", bot.user)),
        "{logs}"
    );
}

/// A revoked session is replaced by logging in again with the password,
/// on the same device; with only an access token, it is a clear error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_session_logs_in_again_or_says_why() {
    let r = room(false).await;
    let (yaml, _) = one_minute_debate("live", &r.alias, r.host.user.as_str(), 600);
    let mut podium = Podium::new(&r.bot, &yaml);
    podium.start();
    wait_for_log(&podium, "syncing with the homeserver").await;
    assert!(podium.terminate().success());
    let session: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(podium.data.join("matrix/session.json")).unwrap(),
    )
    .unwrap();
    let token = session["access_token"].as_str().unwrap().to_owned();
    // Someone revokes the bot's token.
    let http = reqwest_logout(&synapse().url, &token).await;
    assert!(http, "logout with the saved token");
    podium.start();
    wait_for_log(&podium, "logging in again with the password").await;
    wait_for_log(&podium, "syncing with the homeserver").await;
    assert!(podium.terminate().success(), "{}", podium.logs());
    // The same device again.
    let again: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(podium.data.join("matrix/session.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(again["device_id"], session["device_id"]);

    // Only a token, and a revoked one: exit 78 naming the homeserver.
    let mut token_only = Podium::new(&r.bot, &yaml);
    token_only.unset("PODIUM_MATRIX_PASSWORD");
    token_only.env("PODIUM_MATRIX_ACCESS_TOKEN", &token);
    token_only.start();
    let (status, logs) = token_only.wait_exit();
    assert_eq!(status.code(), Some(78), "{logs}");
    assert!(logs.contains(&synapse().url), "{logs}");
    assert!(!logs.contains(&token), "the token is never logged");
}

/// POST /logout with `token`, as an admin revoking it would.
async fn reqwest_logout(url: &str, token: &str) -> bool {
    let client = matrix_sdk::Client::builder()
        .homeserver_url(url)
        .build()
        .await
        .unwrap();
    let session = matrix_sdk::authentication::matrix::MatrixSession {
        meta: matrix_sdk::SessionMeta {
            user_id: "@revoker:localhost".try_into().unwrap(),
            device_id: "REVOKER".into(),
        },
        tokens: matrix_sdk::SessionTokens {
            access_token: token.to_owned(),
            refresh_token: None,
        },
    };
    client.restore_session(session).await.unwrap();
    client.matrix_auth().logout().await.is_ok()
}

/// On its very first start the bot takes the current position: commands
/// sent before it ever ran are not executed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_commands_are_never_executed_on_the_first_start() {
    let r = room(false).await;
    let host_room = r.host.room(&r.room.room_id().to_owned());
    let old_end = r.host.say(&host_room, "!end").await;
    let old_help = r.bob.say(&host_room, "!help").await;
    let (yaml, _) = one_minute_debate("live", &r.alias, r.host.user.as_str(), 12);
    let mut podium = Podium::new(&r.bot, &yaml);
    podium.start();
    let q1 = wait_for_question(&r, &r.host, 1).await;
    assert!(body(&q1).starts_with("Q1: First question?"));
    let help = r.bob.say(&host_room, "!help").await;
    let bot = r.bot.user.to_string();
    let messages = r
        .host
        .wait_for_messages(&host_room, "the answer to the new !help", |ms| {
            posts_of(ms, &bot)
                .iter()
                .any(|m| m["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == help.as_str())
        })
        .await;
    assert!(podium.terminate().success());
    for old in [&old_end, &old_help] {
        assert!(
            !posts_of(&messages, &bot).iter().any(|m| {
                m["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == old.as_str()
            }),
            "an old command was answered:\n{}",
            bodies(&messages).join("\n")
        );
    }
    assert!(
        !bodies(&messages).iter().any(|b| b.contains("Closing")),
        "the old !end closed the debate:\n{}",
        bodies(&messages).join("\n")
    );
}

/// Room moderators (power level 50) are organisers, unless configured off;
/// others are refused, never ignored. Logs never show a secret, even at
/// the most verbose level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderators_are_organisers_and_secrets_stay_out_of_the_logs() {
    let r = room(false).await;
    // The host's client knows the power levels once its sync has them.
    let mut tries = 0;
    while let Err(e) = r
        .room
        .update_power_levels(vec![(&r.carol.user, 50.into())])
        .await
    {
        tries += 1;
        assert!(tries < 50, "cannot make carol a moderator: {e}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (yaml, _) = one_minute_debate("live", &r.alias, "@nobody:localhost", 10);
    let mut podium = Podium::new(&r.bot, &yaml);
    podium.env("RUST_LOG", "trace");
    podium.start();
    let bob_room = r.bob.room(&r.room.room_id().to_owned());
    let carol_room = r.carol.room(&r.room.room_id().to_owned());
    wait_for_question(&r, &r.carol, 1).await;
    let refused = r.bob.say(&bob_room, "!skip").await;
    let skipped = r.carol.say(&carol_room, "!skip").await;
    let q2 = wait_for_question(&r, &r.carol, 2).await;
    assert!(body(&q2).starts_with("Q2: Second question?"));
    let bot = r.bot.user.to_string();
    let messages = r
        .carol
        .wait_for_messages(&carol_room, "both answers", |ms| {
            [&refused, &skipped].iter().all(|c| {
                posts_of(ms, &bot).iter().any(|m| {
                    m["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == c.as_str()
                })
            })
        })
        .await;
    let answer = |c: &matrix_sdk::ruma::OwnedEventId| {
        posts_of(&messages, &bot)
            .into_iter()
            .find(|m| m["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == c.as_str())
            .map(|m| body(m).to_owned())
            .unwrap()
    };
    assert!(
        answer(&refused).starts_with("Sorry "),
        "{}",
        answer(&refused)
    );
    assert_eq!(answer(&skipped), "Q2 posted early.");
    assert!(podium.terminate().success());
    let logs = podium.logs();
    assert!(logs.contains("TRACE"), "the logs were verbose");
    let token = serde_json::from_str::<serde_json::Value>(
        &std::fs::read_to_string(podium.data.join("matrix/session.json")).unwrap(),
    )
    .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!logs.contains(&r.bot.password()), "the password is logged");
    assert!(!logs.contains(&token), "the access token is logged");

    // Configured off, a moderator is just a participant.
    let (yaml, _) = one_minute_debate("later", &r.alias, "@nobody:localhost", 10);
    let mut strict = Podium::new(&r.bot, &yaml);
    strict.env("PODIUM_MATRIX_MODERATORS_ARE_ORGANISERS", "false");
    strict.start();
    wait_for_log(&strict, "syncing with the homeserver").await;
    let asked = r.carol.say(&carol_room, "!skip").await;
    let messages = r
        .carol
        .wait_for_messages(&carol_room, "the refusal", |ms| {
            posts_of(ms, &bot).iter().any(|m| {
                m["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == asked.as_str()
            })
        })
        .await;
    assert!(strict.terminate().success());
    let refusal = posts_of(&messages, &bot)
        .into_iter()
        .find(|m| m["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == asked.as_str())
        .map(|m| body(m).to_owned())
        .unwrap();
    assert!(refusal.starts_with("Sorry "), "{refusal}");
}

/// An invite-only room: the bot cannot join until invited; the invite
/// wakes it at once, without waiting out its backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_to_a_scheduled_room_is_accepted() {
    let url = &synapse().url;
    let (bot, host) = tokio::join!(
        Person::register(url, "podium"),
        Person::register(url, "host")
    );
    let local = unique("private");
    let mut request = matrix_sdk::ruma::api::client::room::create_room::v3::Request::new();
    request.room_alias_name = Some(local.clone());
    request.preset =
        Some(matrix_sdk::ruma::api::client::room::create_room::v3::RoomPreset::PrivateChat);
    let room = host.client.create_room(request).await.unwrap();
    let alias = format!("#{local}:localhost");
    let (yaml, _) = one_minute_debate("live", &alias, host.user.as_str(), 600);
    let mut podium = Podium::new(&bot, &yaml);
    podium.start();
    wait_for_log(&podium, "cannot join this room").await;
    room.invite_user_by_id(&bot.user).await.unwrap();
    wait_for_log(&podium, &format!("joined room={alias}")).await;
    assert!(podium.terminate().success(), "{}", podium.logs());
}

/// Answers sent while the bot was down, more than one sync carries
/// (a limited timeline), are all collected when it comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_of_many_answers_while_down_is_filled() {
    let r = room(false).await;
    let (yaml, _) = one_minute_debate("live", &r.alias, r.host.user.as_str(), 10);
    let mut podium = Podium::new(&r.bot, &yaml);
    podium.start();
    wait_for_question(&r, &r.bob, 1).await;
    podium.kill();
    let bob_room = r.bob.room(&r.room.room_id().to_owned());
    for i in 0..150 {
        r.bob
            .say(&bob_room, &format!("A1: answer {i} while the bot was away"))
            .await;
    }
    podium.start();
    wait_for_question(&r, &r.bob, 2).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let t = podium.transcript("live");
        let n = t["questions"][0]["replies"].as_array().map_or(0, Vec::len);
        if n == 150 {
            let bodies: Vec<String> = replies(&t["questions"][0]["replies"])
                .into_iter()
                .map(|(_, b, _)| b)
                .collect();
            let want: Vec<String> = (0..150)
                .map(|i| format!("A1: answer {i} while the bot was away"))
                .collect();
            assert_eq!(bodies, want);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} of 150 answers collected\n{}",
            podium.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(podium.terminate().success());
}

/// An IRC "server" that accepts connections and never says a word (no
/// TLS handshake, no greeting). Each connection is held open, read until
/// Podium gives up on it; `gave_up` says whether Podium has closed the
/// first one.
struct SilentIrc {
    port: u16,
    gave_up: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl SilentIrc {
    fn start() -> SilentIrc {
        use std::io::Read;
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let gave_up = std::sync::Arc::new(AtomicBool::new(false));
        let flag = gave_up.clone();
        std::thread::spawn(move || {
            let mut first = true;
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let flag = first.then(|| flag.clone());
                first = false;
                std::thread::spawn(move || {
                    // Podium's TLS hello arrives; nothing ever answers it.
                    let mut buf = [0u8; 4096];
                    while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
                    if let Some(flag) = flag {
                        flag.store(true, Ordering::SeqCst);
                    }
                });
            }
        });
        SilentIrc { port, gave_up }
    }

    fn gave_up(&self) -> bool {
        self.gave_up.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A server that accepted the IRC connection and never answered TLS held
/// back the web server and every Matrix post for as long as Podium waited
/// for it (31 s measured, up to 90 s), since the networks were connected
/// one after another before the engine and the web started. Now each
/// starts on its own: `/healthz` answers and the Matrix room gets its
/// question while the IRC connection still hangs (judged by order, not by
/// a clock: Podium has not yet given up on the silent server). Files the
/// Matrix session leaves in the data directory are its owner's only,
/// under the usual umask 022.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_irc_server_holds_up_neither_the_web_nor_matrix() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o022));
    let r = room(false).await;
    let silent = SilentIrc::start();
    let (yaml, due) = one_minute_debate("silent", &r.alias, r.host.user.as_str(), 12);
    let mut podium = Podium::new(&r.bot, &yaml);
    podium.env("PODIUM_IRC_SERVER", &format!("127.0.0.1:{}", silent.port));
    podium.env("PODIUM_IRC_NICK", "podium");
    let started = std::time::Instant::now();
    podium.start();

    let healthz = format!("{}/healthz", podium.web);
    let answered = loop {
        if let Ok(response) = reqwest::get(&healthz).await {
            break response;
        }
        assert!(
            !silent.gave_up(),
            "/healthz did not answer until Podium gave up on the silent IRC server\n{}",
            podium.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        !silent.gave_up(),
        "/healthz answered only once Podium gave up on the silent IRC server\n{}",
        podium.logs()
    );
    let answered_after = started.elapsed();
    let health: Value = serde_json::from_str(&answered.text().await.unwrap()).unwrap();
    assert_eq!(health["networks"]["irc"]["ok"], false, "{health}");

    let q1 = wait_for_question(&r, &r.bob, 1).await;
    assert!(
        !silent.gave_up(),
        "Q1 came only after Podium gave up on the silent IRC server: {q1}\n{}",
        podium.logs()
    );
    // The schedule has the start to the second.
    let posted = q1["origin_server_ts"].as_i64().unwrap() - due.timestamp() * 1000;
    eprintln!("/healthz answered {answered_after:?} after start; Q1 posted {posted} ms after due");
    assert!(podium.terminate().success(), "{}", podium.logs());

    let mut files = Vec::new();
    let mut dirs = vec![podium.data.join("matrix")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert!(
        files.len() > 2,
        "the session and the SDK's stores: {files:?}"
    );
    for file in files {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
}
