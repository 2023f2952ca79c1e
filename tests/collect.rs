//! What is collected and what is kept, against the in-memory chat network
//! under tokio's paused time: only an author edits their answer; only the
//! author or a moderator removes it; a removed answer leaves no text
//! behind; after the closing only clear answers are collected.

mod support;

use std::sync::Arc;

use podium::chat::memory::MemoryChat;
use podium::chat::{Event, Receipt, Room, Sender};
use podium::clock::Clock;
use podium::domain::AttributedBy;
use podium::schedule::Schedule;
use podium::store::{PostKind, Store};

use support::bot::{self, Bot, start};
use support::store::memory_store;
use support::utc;

const YAML: &str = r##"
timezone: Europe/London
rooms: ["#debate:example.org"]
organisers: ["@host:example.org"]
debates:
  - id: leadership
    title: Developing Leadership
    starts: 2011-11-01 20:00
    duration: 1h
    questions:
      - text: What is leadership?
        at: 5m
      - text: Who leads well?
        at: 20m
      - text: How do leaders grow?
        at: 40m
"##;

fn schedule(yaml: &str) -> Arc<Schedule> {
    bot::schedule(yaml, utc("2011-10-01T00:00:00Z"))
}

fn start_at(store: &Store, chat: &MemoryChat, yaml: &str, at: &str) -> Bot {
    start(store, chat, Clock::starting_at(utc(at)), schedule(yaml))
}

fn room() -> Room {
    Room::Matrix("#debate:example.org".into())
}

fn who(name: &str) -> Sender {
    Sender {
        id: format!("@{name}:example.org"),
        name: name.to_owned(),
        verified: true,
    }
}

fn edit(target: &str, by: &str, body: &str) -> Event {
    Event::Edit {
        target: target.into(),
        sender: who(by),
        body: body.into(),
        server_ts: None,
    }
}

fn delete(target: &str, by: &str, moderator: bool) -> Event {
    Event::Delete {
        target: target.into(),
        sender: who(by),
        moderator,
        server_ts: None,
    }
}

/// (question, author, body, edited) of every reply shown in the transcript.
async fn shown(store: &Store, debate: &str, start: &str) -> Vec<(u32, String, String, bool)> {
    let occ = store
        .find_occurrence(debate, utc(start))
        .await
        .unwrap()
        .unwrap();
    let t = podium::transcript::build(store, &occ, utc("2030-01-01T00:00:00Z"))
        .await
        .unwrap();
    let mut out: Vec<_> = t
        .questions
        .iter()
        .flat_map(|q| {
            q.replies
                .iter()
                .map(|r| (q.number, r.author.clone(), r.body.clone(), r.edited))
        })
        .collect();
    out.extend(
        t.unattributed
            .iter()
            .map(|r| (0, r.author.clone(), r.body.clone(), r.edited)),
    );
    out
}

#[tokio::test(start_paused = true)]
async fn only_the_author_edits_an_answer_even_after_a_restart() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let mut bot = start_at(&store, &chat, YAML, "2011-11-01T20:19:00Z");
    bot.wait_for(PostKind::Question, 2).await;
    bot.say(&room(), "$a", "alice", "A1: listening first", None)
        .await;
    // A forged edit with a tag that would move the answer to Q2.
    let forged = bot
        .send(&room(), edit("$a", "mallory", "A2: mallory's words"))
        .await;
    assert!(matches!(forged, Receipt::Ignored(_)), "{forged:?}");
    // A reply to alice's answer still joins Q1: the answer did not move.
    bot.say(&room(), "$r", "bob", "agreed", Some("$a")).await;
    bot.stop().await;
    let before = vec![
        (1, "alice".into(), "A1: listening first".into(), false),
        (1, "bob".into(), "agreed".into(), false),
    ];
    assert_eq!(
        shown(&store, "leadership", "2011-11-01T20:00:00Z").await,
        before
    );

    // After a restart the state is rebuilt from the store: still refused.
    let bot = start_at(&store, &chat, YAML, "2011-11-01T20:25:00Z");
    let forged = bot.send(&room(), edit("$a", "mallory", "A3: again")).await;
    assert!(matches!(forged, Receipt::Ignored(_)), "{forged:?}");
    let own = bot
        .send(&room(), edit("$a", "alice", "A2: on second thoughts"))
        .await;
    assert_eq!(own, Receipt::Updated);
    bot.stop().await;
    assert_eq!(
        shown(&store, "leadership", "2011-11-01T20:00:00Z").await,
        vec![
            (1, "bob".into(), "agreed".into(), false),
            (2, "alice".into(), "A2: on second thoughts".into(), true),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn only_the_author_or_a_moderator_removes_an_answer() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let mut bot = start_at(&store, &chat, YAML, "2011-11-01T20:04:00Z");
    bot.wait_for(PostKind::Question, 1).await;
    bot.say(&room(), "$a", "alice", "A1: kept", None).await;
    bot.say(&room(), "$b", "alice", "A1: removed by a moderator", None)
        .await;
    bot.say(&room(), "$c", "bob", "A1: removed by bob", None)
        .await;
    let refused = bot.send(&room(), delete("$a", "mallory", false)).await;
    assert!(matches!(refused, Receipt::Ignored(_)), "{refused:?}");
    assert_eq!(
        bot.send(&room(), delete("$b", "host", true)).await,
        Receipt::Updated
    );
    assert_eq!(
        bot.send(&room(), delete("$c", "bob", false)).await,
        Receipt::Updated
    );
    bot.stop().await;
    assert_eq!(
        shown(&store, "leadership", "2011-11-01T20:00:00Z").await,
        vec![(1, "alice".into(), "A1: kept".into(), false)]
    );
    // A later restart does not let mallory remove it either.
    let bot = start_at(&store, &chat, YAML, "2011-11-01T20:30:00Z");
    let refused = bot.send(&room(), delete("$a", "mallory", false)).await;
    assert!(matches!(refused, Receipt::Ignored(_)), "{refused:?}");
    bot.stop().await;
    assert_eq!(
        shown(&store, "leadership", "2011-11-01T20:00:00Z").await,
        vec![(1, "alice".into(), "A1: kept".into(), false)]
    );
    let _ = AttributedBy::Tag;
}
