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

/// A reply `id` by alice saying `body`, for occurrence `occurrence_id`.
fn reply(occurrence_id: i64, id: &str, body: &str) -> podium::store::NewReply {
    podium::store::NewReply {
        occurrence_id,
        network: "matrix".into(),
        room: "#debate:example.org".into(),
        sender_id: "@alice:example.org".into(),
        sender_name: "alice".into(),
        body: body.into(),
        question: Some(1),
        attributed_by: AttributedBy::Tag,
        network_id: id.into(),
        in_reply_to: None,
        server_ts: None,
        received_at: utc("2011-11-01T20:10:00Z"),
    }
}

/// Which of `needles` the database file or its WAL still hold, as bytes.
fn on_disk(dir: &std::path::Path, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in ["podium.db", "podium.db-wal"] {
        let bytes = std::fs::read(dir.join(file)).unwrap_or_default();
        for needle in needles {
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push(format!("{file}: {needle}"));
            }
        }
    }
    found
}

/// A removed answer, an edited answer's first text and answers past the
/// retention period are in neither the database file nor its WAL: after
/// the removal, after the purge, and after the store is closed.
#[tokio::test]
async fn erased_text_leaves_the_database_file_and_its_wal() {
    use podium::store::WriteOp;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let old = store
        .occurrence(&support::store::occurrence(utc("2011-11-01T20:00:00Z")))
        .await
        .unwrap();
    let new = store
        .occurrence(&support::store::occurrence(utc("2011-12-01T20:00:00Z")))
        .await
        .unwrap();
    let inserts = [
        reply(old.id, "$gone", "A1: redacted-kiwi-answer"),
        reply(old.id, "$edited", "A1: first-draft-mango"),
        reply(old.id, "$kept", "A1: purged-plum-answer"),
        reply(new.id, "$new", "A1: recent-fig-answer"),
    ];
    let ops: Vec<WriteOp> = inserts.into_iter().map(WriteOp::Insert).collect();
    store.write_batch(&ops, &[]).await.unwrap();
    let changes = [
        WriteOp::Edit {
            network: "matrix".into(),
            room: "#debate:example.org".into(),
            target: "$edited".into(),
            sender: "@alice:example.org".into(),
            body: "A1: second draft".into(),
            question: None,
            at: utc("2011-11-01T20:11:00Z"),
        },
        WriteOp::Delete {
            network: "matrix".into(),
            room: "#debate:example.org".into(),
            target: "$gone".into(),
            only_by: Some("@alice:example.org".into()),
            at: utc("2011-11-01T20:12:00Z"),
        },
    ];
    assert_eq!(store.write_batch(&changes, &[]).await.unwrap(), [1, 1]);
    assert_eq!(
        on_disk(dir.path(), &["redacted-kiwi", "first-draft-mango"]),
        Vec::<String>::new(),
        "after the redaction"
    );
    assert_eq!(
        on_disk(dir.path(), &["recent-fig"]).len(),
        1,
        "the probe works"
    );

    let cutoff = utc("2011-11-15T00:00:00Z");
    store.purge_before(cutoff, cutoff).await.unwrap();
    assert_eq!(
        on_disk(dir.path(), &["purged-plum", "second draft"]),
        Vec::<String>::new(),
        "after the purge"
    );
    drop(store);
    assert_eq!(
        on_disk(
            dir.path(),
            &[
                "redacted-kiwi",
                "first-draft-mango",
                "purged-plum",
                "second draft"
            ]
        ),
        Vec::<String>::new(),
        "after the store is closed"
    );
    let store = Store::open(dir.path()).await.unwrap();
    let kept = store.replies(new.id).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].body, "A1: recent-fig-answer");
}

/// Retention covers rehearsal files too: the console logs and transcripts
/// of rehearsals run before the cutoff go, newer ones and other files stay.
#[tokio::test]
async fn retention_removes_old_rehearsal_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let rehearsals = dir.path().join("rehearsals");
    std::fs::create_dir_all(&rehearsals).unwrap();
    let now = std::time::SystemTime::now();
    let long_ago = now - std::time::Duration::from_secs(100 * 24 * 3600);
    for (name, written) in [
        ("old-20110101T200000000.log", long_ago),
        ("old-20110101T200000000.md", long_ago),
        ("new-20300101T200000000.md", now),
        ("notes.txt", long_ago),
    ] {
        let file = std::fs::File::create(rehearsals.join(name)).unwrap();
        file.set_modified(written).unwrap();
    }
    let now: chrono::DateTime<chrono::Utc> = now.into();
    let purged =
        podium::app::retention::purge(&store, dir.path(), now - chrono::Duration::days(90), now)
            .await
            .unwrap();
    assert_eq!(purged.files, 2);
    let mut left: Vec<String> = std::fs::read_dir(&rehearsals)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["new-20300101T200000000.md", "notes.txt"]);
}
