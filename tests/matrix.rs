#![recursion_limit = "256"]
//! `podium run` on a real Synapse (started by scripts/synapse-up.sh, one for
//! this test binary): a one-minute debate in a room, answered by real
//! Matrix clients with tags, replies, threads, edits and redactions;
//! commands; the same in an encrypted room; logins that fail.

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

/// A whole debate: every kind of answer, commands, and the transcript.
async fn a_debate_in(encrypted: bool) {
    let r = room(encrypted).await;
    let (yaml, _start) = one_minute_debate("live", &r.alias, r.host.user.as_str(), 12);
    let mut podium = Podium::new(&r.bot, &yaml);
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
    // Collection goes on 5 s after the closing; then stop.
    tokio::time::sleep(Duration::from_secs(7)).await;
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
        (
            &ask,
            "Transcript of “Live test”: http://podium.test/transcripts/live/",
        ),
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_debate_runs_in_a_room_and_its_transcript_is_right() {
    a_debate_in(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_debate_runs_in_an_encrypted_room() {
    a_debate_in(true).await;
}
