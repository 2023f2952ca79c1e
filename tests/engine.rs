//! The engine end to end under tokio's paused time: a whole debate, from
//! reminders to transcript link, against the in-memory chat network.
//!
//! Every test asks for paused time itself (`start_paused = true`); opening
//! the in-memory store works under it (see `support::store::memory_store`).

mod support;

use std::sync::Arc;

use podium::chat::memory::MemoryChat;
use podium::chat::{Event, Incoming, Receipt, Room, Sender};
use podium::clock::Clock;
use podium::engine::Notice;
use podium::schedule::Schedule;
use podium::store::{PostKind, Store};
use tokio::sync::oneshot;

use support::bot::{self, Bot, start, start_with};
use support::store::memory_store;
use support::utc;

const YAML: &str = r##"
timezone: Europe/London
zones: [Europe/London, America/New_York]
rooms: ["#debate:example.org", "#debate"]
organisers: ["@host:example.org"]
public: true
debates:
  - id: leadership
    title: Developing Leadership
    starts: 2011-11-01 20:00
    duration: 1h
    hashtag: "#SWSC"
    questions:
      - text: What is leadership?
        at: 5m
      - text: Who leads well?
        at: 20m
      - text: How do leaders grow?
        at: 40m
"##;

/// The example schedule, or a variant of it, as read a month before.
fn schedule(yaml: &str) -> Arc<Schedule> {
    bot::schedule(yaml, utc("2011-10-01T00:00:00Z"))
}

/// The example schedule, with the clock starting at `at`.
async fn start_at(store: &Store, chat: &MemoryChat, at: &str) -> Bot {
    start(store, chat, Clock::starting_at(utc(at)), schedule(YAML)).await
}

/// The stored occurrence of the example debate, as an earlier run left it.
async fn example_occurrence(store: &Store) -> podium::store::OccurrenceRow {
    let start = utc("2011-11-01T20:00:00Z");
    store
        .occurrence(&podium::store::NewOccurrence {
            debate: "leadership",
            scheduled_start: start,
            title: "Developing Leadership",
            timezone: "Europe/London",
            questions: vec![
                "What is leadership?",
                "Who leads well?",
                "How do leaders grow?",
            ],
            zones: vec!["Europe/London"],
            public: false,
            rehearsal_clock: None,
            duration: chrono::Duration::hours(1),
            collect_grace: chrono::Duration::minutes(10),
            now: start,
        })
        .await
        .unwrap()
}

fn matrix() -> Room {
    Room::Matrix("#debate:example.org".into())
}

async fn transcript(store: &Store, start: &str) -> podium::transcript::Transcript {
    let occ = store
        .find_occurrence("leadership", utc(start))
        .await
        .unwrap()
        .unwrap();
    // Long after the debate: none of the tests here records presence.
    podium::transcript::build(store, &occ, utc("2030-01-01T00:00:00Z"))
        .await
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_whole_debate_runs_from_reminders_to_transcript_link() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let clock = Clock::starting_at(utc("2011-10-30T12:00:00Z"));
    let mut bot = start(&store, &chat, clock, schedule(YAML)).await;
    let room = matrix();

    bot.wait_for(PostKind::Intro, 0).await;
    assert_eq!(
        bot.say(
            &room,
            "$early",
            "ann",
            "Hello everyone, Ann from Leeds",
            None
        )
        .await,
        Receipt::Saved {
            question: None,
            by: podium::domain::AttributedBy::Intro
        }
    );
    bot.wait_for(PostKind::Question, 1).await;
    let q1_id = chat
        .posts()
        .iter()
        .find(|p| p.body.starts_with("Q1:") && p.room == room)
        .unwrap()
        .id
        .clone();
    bot.say(&room, "$a1", "bob", "A1: listening first", None)
        .await;
    bot.wait_for(PostKind::Question, 2).await;
    bot.say(&room, "$a2", "cat", "Someone who asks good questions", None)
        .await;
    bot.say(
        &room,
        "$a1b",
        "dan",
        "Late thought on the first one",
        Some(&q1_id),
    )
    .await;
    bot.say(&room, "$a1c", "eve", "agreed!", Some("$a1b")).await;
    bot.say(&room, "$cmd", "eve", "!help", None).await;
    bot.wait_for(PostKind::Transcript, 0).await;
    bot.say(&room, "$after", "fay", "Thanks all", None).await;
    bot.stop().await;

    let in_room: Vec<String> = chat
        .posts()
        .iter()
        .filter(|p| p.room == room && !p.key.starts_with("podium-cmd"))
        .map(|p| p.body.clone())
        .collect();
    assert_eq!(
        in_room,
        vec![
            "Reminder: “Developing Leadership” starts in 1 day: Tue 1 Nov 2011 20:00 London · 16:00 New York (note: clocks change on different dates: New York is 4 hours behind London this week, not the usual 5). #SWSC",
            "Reminder: “Developing Leadership” starts in 1 hour: Tue 1 Nov 2011 20:00 London · 16:00 New York (note: clocks change on different dates: New York is 4 hours behind London this week, not the usual 5). #SWSC",
            "Reminder: “Developing Leadership” starts in 10 minutes: Tue 1 Nov 2011 20:00 London · 16:00 New York (note: clocks change on different dates: New York is 4 hours behind London this week, not the usual 5). #SWSC",
            "“Developing Leadership” starts now: Tue 1 Nov 2011 20:00 London · 16:00 New York (note: clocks change on different dates: New York is 4 hours behind London this week, not the usual 5). It runs for 1h. 3 questions will follow as Q1, Q2…: answer by replying to a question, or start your message with A1:, A2:… #SWSC",
            "Q1: What is leadership? #SWSC",
            "Q2: Who leads well? #SWSC",
            "Q3: How do leaders grow? #SWSC",
            "That is the end of “Developing Leadership”. Thank you all for taking part! #SWSC",
            "The transcript of “Developing Leadership” is at http://127.0.0.1:8080/transcripts/leadership/2011-11-01",
        ]
    );
    // The IRC channel got the same posts.
    assert_eq!(
        chat.posts()
            .iter()
            .filter(|p| p.room == Room::Irc("#debate".into()))
            .count(),
        9
    );
    let help = chat
        .posts()
        .into_iter()
        .find(|p| p.key == "podium-cmd-$cmd")
        .unwrap();
    assert!(help.body.contains("!transcript"), "{}", help.body);

    let t = transcript(&store, "2011-11-01T20:00:00Z").await;
    let answers: Vec<(u32, Vec<(&str, &str)>)> = t
        .questions
        .iter()
        .map(|q| {
            (
                q.number,
                q.replies
                    .iter()
                    .map(|r| (r.author.as_str(), r.attributed_by.as_str()))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        answers,
        vec![
            (1, vec![("bob", "tag"), ("dan", "reply"), ("eve", "reply")]),
            (2, vec![("cat", "latest")]),
            (3, vec![("fay", "latest")]),
        ]
    );
    assert_eq!(t.unattributed.len(), 1);
    assert_eq!(
        t.questions[1].posted_at.as_deref(),
        Some("2011-11-01T20:20:00Z")
    );
}

#[tokio::test(start_paused = true)]
async fn a_debate_crossing_midnight_closes_by_itself_as_one_occurrence() {
    let yaml = YAML.replace("2011-11-01 20:00", "2011-11-01 23:30");
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let clock = Clock::starting_at(utc("2011-11-01T23:25:00Z"));
    let mut bot = start(&store, &chat, clock, schedule(&yaml)).await;
    bot.wait_for(PostKind::Transcript, 0).await;
    bot.stop().await;
    let bodies: Vec<String> = chat
        .posts()
        .into_iter()
        .filter(|p| p.room == matrix())
        .map(|p| p.body)
        .collect();
    assert_eq!(bodies.len(), 7, "{bodies:?}");
    assert!(
        bodies
            .last()
            .unwrap()
            .ends_with("/transcripts/leadership/2011-11-01")
    );
    assert_eq!(store.occurrences_of("leadership").await.unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_restart_sends_missed_posts_late_within_grace_and_skips_older_ones() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let mut bot = start_at(&store, &chat, "2011-11-01T19:55:00Z").await;
    bot.wait_for(PostKind::Question, 1).await;
    bot.stop().await;
    // Down from 20:00 to 20:30: Q2 (20:20) is 10 minutes late, within the grace window.
    let mut bot = start_at(&store, &chat, "2011-11-01T20:30:00Z").await;
    bot.wait_for(PostKind::Question, 2).await;
    bot.stop().await;
    // Down again until 21:20: Q3 (20:40) and the closing (21:00) are 40 and 20 minutes late.
    let mut bot = start_at(&store, &chat, "2011-11-01T21:20:00Z").await;
    bot.wait_for(PostKind::Transcript, 0).await;
    bot.stop().await;

    let bodies: Vec<String> = chat
        .posts()
        .into_iter()
        .filter(|p| p.room == matrix())
        .map(|p| p.body)
        .collect();
    let count = |prefix: &str| bodies.iter().filter(|b| b.starts_with(prefix)).count();
    assert_eq!(count("Q1:"), 1);
    assert_eq!(count("Q2:"), 1);
    assert!(
        bodies.contains(
            &"Q2: Who leads well? #SWSC (posted late: this was due at 20:20 London · 16:20 New York)".to_owned()
        ),
        "{bodies:?}"
    );
    assert_eq!(count("Q3:"), 0, "Q3 was 40 minutes late: skipped");
    assert_eq!(
        count("That is the end"),
        0,
        "the closing was 20 minutes late: skipped"
    );
    assert!(
        bodies.iter().all(|b| !b.contains("transcript of")),
        "{bodies:?}"
    );
    let posts = store.posts(1).await.unwrap();
    assert!(posts.iter().any(|p| p.kind == PostKind::Question
        && p.seq == 3
        && p.status == podium::store::PostStatus::Skipped));
}

/// Started hours after the end of a debate an earlier run began, the engine
/// skips what is left of it (each with a log line and a notice) and says it
/// is finished, rather than waiting silently for ever.
#[tokio::test(start_paused = true)]
async fn a_restart_long_after_the_end_skips_what_was_left_and_finishes() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let mut bot = start_at(&store, &chat, "2011-11-01T19:55:00Z").await;
    bot.wait_for(PostKind::Question, 1).await;
    bot.stop().await;
    // Down from 20:06 until 23:30, long after the 21:00 end.
    let mut bot = start_at(&store, &chat, "2011-11-01T23:30:00Z").await;
    let mut skipped = Vec::new();
    // A bound in virtual time, approached one second at a time: tokio's
    // paused clock jumps to the next timer whenever every task waits (on
    // SQLite's thread too), so a plain timeout would fire during a query.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(86_400);
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let finished = loop {
        tokio::select! {
            n = bot.notices.recv() => match n.unwrap() {
                Notice::Skipped { kind, seq, .. } => skipped.push((kind, seq)),
                Notice::Finished {
                    debate,
                    scheduled_start,
                } => break (debate, scheduled_start),
                Notice::Posted { body, .. } => panic!("posted hours late: {body}"),
            },
            _ = tick.tick() => assert!(
                tokio::time::Instant::now() < deadline,
                "a day later the engine has still not finished the occurrence ({skipped:?})"
            ),
        }
    };
    assert_eq!(
        finished,
        ("leadership".to_owned(), utc("2011-11-01T20:00:00Z"))
    );
    skipped.sort();
    skipped.dedup();
    assert_eq!(
        skipped,
        [
            (PostKind::Question, 2),
            (PostKind::Question, 3),
            (PostKind::Closing, 0),
            (PostKind::Transcript, 0)
        ]
    );
    bot.stop().await;
    let posts = store.posts(1).await.unwrap();
    assert!(
        posts
            .iter()
            .all(|p| p.status != podium::store::PostStatus::Sending),
        "{posts:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_claim_left_by_a_crash_is_resent_once_with_the_same_key() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    // A previous run claimed Q1 and reached the network, then died before marking it sent.
    let occ = example_occurrence(&store).await;
    for room in ["#debate:example.org", "irc:#debate"] {
        let (row, _) = store
            .claim_post(&podium::store::NewPost {
                occurrence_id: occ.id,
                room,
                kind: PostKind::Question,
                seq: 1,
                body: "Q1: What is leadership? #SWSC",
                question_text: Some("What is leadership?"),
                due_at: utc("2011-11-01T20:00:00Z"),
                late: false,
                status: podium::store::PostStatus::Sending,
            })
            .await
            .unwrap();
        if room.starts_with('#') {
            use podium::chat::Chat;
            chat.send(
                &matrix(),
                podium::chat::Outgoing {
                    key: &format!("podium-{}", row.id),
                    body: &row.body,
                    kind: None,
                    reply_to: None,
                },
            )
            .await
            .unwrap();
        }
    }
    let mut bot = start_at(&store, &chat, "2011-11-01T20:00:30Z").await;
    bot.wait_for(PostKind::Question, 2).await;
    bot.stop().await;
    for room in [matrix(), Room::Irc("#debate".into())] {
        let q1 = chat
            .posts()
            .into_iter()
            .filter(|p| p.room == room && p.body.starts_with("Q1:"))
            .count();
        assert_eq!(q1, 1, "{room}");
    }
}

#[tokio::test(start_paused = true)]
async fn edits_and_deletions_are_honoured() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let mut bot = start_at(&store, &chat, "2011-11-01T20:19:00Z").await;
    bot.wait_for(PostKind::Question, 2).await;
    let room = matrix();
    bot.say(&room, "$x", "bob", "A2: first draft", None).await;
    bot.say(&room, "$y", "cat", "oops, wrong room", None).await;
    assert_eq!(
        bot.send(
            &room,
            Event::Edit {
                target: "$x".into(),
                sender: Sender {
                    id: "@bob:example.org".into(),
                    name: "bob".into(),
                    verified: true,
                },
                body: "A1: meant the first question".into(),
                server_ts: None
            }
        )
        .await,
        Receipt::Updated
    );
    assert_eq!(
        bot.send(
            &room,
            Event::Delete {
                target: "$y".into(),
                sender: Sender {
                    id: "@cat:example.org".into(),
                    name: "cat".into(),
                    verified: true,
                },
                moderator: false,
                server_ts: None
            }
        )
        .await,
        Receipt::Updated
    );
    assert_eq!(
        bot.send(
            &room,
            Event::Delete {
                target: "$nope".into(),
                sender: Sender {
                    id: "@alice:example.org".into(),
                    name: "alice".into(),
                    verified: true,
                },
                moderator: false,
                server_ts: None
            }
        )
        .await,
        Receipt::Ignored("no stored reply has that id")
    );
    bot.stop().await;
    let t = transcript(&store, "2011-11-01T20:00:00Z").await;
    let q1 = &t.questions[0];
    assert_eq!(q1.replies.len(), 1);
    assert_eq!(q1.replies[0].body, "A1: meant the first question");
    assert!(q1.replies[0].edited);
    assert!(
        t.questions[1].replies.is_empty(),
        "the deleted reply is gone: {:?}",
        t.questions[1]
    );
}

/// A network that cannot vouch for a sender's id (a bare IRC nick on a
/// server with accounts, which anyone may take) marks it unverified: the
/// id then matches no listed organiser, while the same id vouched for does.
#[tokio::test(start_paused = true)]
async fn an_unverified_sender_is_not_taken_for_a_listed_organiser() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let room = matrix();
    let mut bot = start_at(&store, &chat, "2011-11-01T19:00:00Z").await;
    bot.wait_for(PostKind::Reminder, 3600).await;
    let as_host = |id: &str, verified: bool| Event::Message {
        id: id.to_owned(),
        sender: Sender {
            id: "@host:example.org".to_owned(),
            name: "host".to_owned(),
            verified,
        },
        body: "!start".to_owned(),
        in_reply_to: None,
        server_ts: None,
        action: false,
    };
    assert_eq!(
        bot.send(&room, as_host("$u", false)).await,
        Receipt::Command
    );
    let refusal = chat
        .posts()
        .into_iter()
        .find(|p| p.key == "podium-cmd-$u")
        .expect("an answer to the unverified !start");
    assert!(
        refusal.body.starts_with("Sorry host, only the organisers"),
        "{}",
        refusal.body
    );
    assert_eq!(bot.send(&room, as_host("$v", true)).await, Receipt::Command);
    let answer = chat
        .posts()
        .into_iter()
        .find(|p| p.key == "podium-cmd-$v")
        .expect("an answer to the verified !start");
    assert!(!answer.body.starts_with("Sorry"), "{}", answer.body);
    bot.stop().await;
}

#[tokio::test(start_paused = true)]
async fn organisers_control_the_debate_and_others_are_politely_refused() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let room = matrix();
    chat.add_moderator(&room, "@mod:example.org");
    let mut bot = start_at(&store, &chat, "2011-11-01T19:00:00Z").await;
    bot.wait_for(PostKind::Reminder, 3600).await;
    let (guest, host) = tokio::join!(
        bot.say(&room, "$s1", "guest", "!start", None),
        bot.say(&room, "$s2", "host", "!start", None),
    );
    assert_eq!((guest, host), (Receipt::Command, Receipt::Command));
    let refusal = chat
        .posts()
        .into_iter()
        .find(|p| p.key == "podium-cmd-$s1")
        .unwrap();
    assert!(
        refusal.body.starts_with("Sorry guest, only the organisers"),
        "{}",
        refusal.body
    );
    // Every answer to a command replies to it, where the network can say so.
    assert_eq!(refusal.reply_to.as_deref(), Some("$s1"));
    assert_eq!(refusal.kind, None);

    bot.wait_for(PostKind::Question, 1).await;
    // Sent together: awaiting each acknowledgement would let paused time
    // run on to Q3 while SQLite works on its own thread.
    let (skip, ask, answer, end) = tokio::join!(
        bot.say(&room, "$s3", "mod", "!skip", None),
        bot.say(
            &room,
            "$s4",
            "host",
            "!ask What surprised you tonight?",
            None
        ),
        bot.say(&room, "$a", "bob", "A4: the turnout", None),
        bot.say(&room, "$s5", "host", "!end", None),
    );
    assert_eq!(
        (skip, ask, end),
        (Receipt::Command, Receipt::Command, Receipt::Command)
    );
    assert!(
        matches!(
            answer,
            Receipt::Saved {
                question: Some(4),
                ..
            }
        ),
        "{answer:?}"
    );
    bot.wait_for(PostKind::Transcript, 0).await;
    bot.say(&room, "$s6", "host", "!transcript", None).await;
    bot.stop().await;

    let bodies: Vec<String> = chat
        .posts()
        .into_iter()
        .filter(|p| p.room == room)
        .map(|p| p.body)
        .collect();
    let questions: Vec<&String> = bodies
        .iter()
        .filter(|b| b.starts_with('Q') && b.contains(": "))
        .collect();
    assert_eq!(
        questions,
        vec![
            "Q1: What is leadership? #SWSC",
            "Q2: Who leads well? #SWSC",
            "Q4: What surprised you tonight? #SWSC"
        ]
    );
    assert!(
        bodies
            .iter()
            .any(|b| b == "Starting “Developing Leadership” now.")
    );
    assert!(bodies.iter().any(|b| b.starts_with("That is the end")));
    let link = chat
        .posts()
        .into_iter()
        .find(|p| p.key == "podium-cmd-$s6")
        .unwrap();
    assert_eq!(
        link.body,
        "Transcript of “Developing Leadership”: http://127.0.0.1:8080/transcripts/leadership/2011-11-01"
    );
    // Started an hour early: the 10-minute reminder never went out.
    assert!(!bodies.iter().any(|b| b.contains("starts in 10 minutes")));
    let t = transcript(&store, "2011-11-01T20:00:00Z").await;
    let q4 = t.questions.iter().find(|q| q.number == 4).unwrap();
    assert_eq!(q4.text, "What surprised you tonight?");
    assert_eq!(q4.replies[0].author, "bob");
}

#[tokio::test(start_paused = true)]
async fn a_reloaded_schedule_changes_what_is_still_to_come_without_double_posts() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let mut bot = start_at(&store, &chat, "2011-11-01T19:59:00Z").await;
    bot.wait_for(PostKind::Question, 1).await;
    bot.schedule
        .send(schedule(
            &YAML.replace("How do leaders grow?", "How do leaders learn?"),
        ))
        .unwrap();
    bot.wait_for(PostKind::Transcript, 0).await;
    bot.stop().await;
    let bodies: Vec<String> = chat
        .posts()
        .into_iter()
        .filter(|p| p.room == matrix())
        .map(|p| p.body)
        .collect();
    assert_eq!(bodies.iter().filter(|b| b.starts_with("Q1:")).count(), 1);
    assert!(
        bodies.contains(&"Q3: How do leaders learn? #SWSC".to_owned()),
        "{bodies:?}"
    );
    assert_eq!(
        bodies
            .iter()
            .filter(|b| b.starts_with("“Developing"))
            .count(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn the_cursor_is_saved_with_the_replies_it_covers() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let mut bot = start_at(&store, &chat, "2011-11-01T19:59:00Z").await;
    bot.wait_for(PostKind::Question, 1).await;
    let mut acks = Vec::new();
    for i in 0..50 {
        let (tx, rx) = oneshot::channel();
        bot.events
            .send(Incoming {
                room: matrix(),
                event: Event::Message {
                    id: format!("$r{i}"),
                    sender: Sender {
                        id: "@x:example.org".into(),
                        name: "x".into(),
                        verified: true,
                    },
                    body: format!("A1: reply {i}"),
                    in_reply_to: None,
                    server_ts: None,
                    action: false,
                },
                cursor: Some(podium::domain::Cursor {
                    network: "matrix".into(),
                    position: format!("s{i}"),
                }),
                ack: Some(tx),
            })
            .await
            .unwrap();
        acks.push(rx);
    }
    for rx in acks {
        rx.await.unwrap();
    }
    assert_eq!(
        store.cursor("matrix").await.unwrap().as_deref(),
        Some("s49")
    );
    let t = transcript(&store, "2011-11-01T20:00:00Z").await;
    assert_eq!(t.questions[0].replies.len(), 50);
    bot.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_temporary_network_failure_is_retried_without_losing_the_post() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    chat.fail_next(1);
    let mut bot = start_at(&store, &chat, "2011-11-01T19:59:00Z").await;
    bot.wait_for(PostKind::Question, 2).await;
    bot.stop().await;
    let intros = chat
        .posts()
        .into_iter()
        .filter(|p| p.body.starts_with("“Developing"))
        .count();
    assert_eq!(intros, 2, "one per room, the failed one retried");
}

/// Q1 refused for a moment (a rate limit) and retried 10 s later must
/// still come before a Q2 that fell due in between, in every room.
#[tokio::test(start_paused = true)]
async fn a_question_waiting_for_its_retry_is_not_overtaken_by_the_next() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let yaml = YAML.replace("at: 20m", "at: 305s");
    let mut bot = start(
        &store,
        &chat,
        Clock::starting_at(utc("2011-11-01T20:04:00Z")),
        schedule(&yaml),
    )
    .await;
    // Both intros out (one per room), so the next send is Q1 in the first
    // room, at 20:05; Q2 falls due at 20:05:05, before its retry at 20:05:10.
    bot.wait_for(PostKind::Intro, 0).await;
    bot.wait_for(PostKind::Intro, 0).await;
    chat.fail_next(1);
    bot.wait_for(PostKind::Question, 2).await;
    bot.wait_for(PostKind::Question, 2).await;
    bot.stop().await;
    let questions: Vec<(Room, String)> = chat
        .posts()
        .into_iter()
        .filter(|p| p.body.starts_with('Q'))
        .map(|p| (p.room, p.body.chars().take(2).collect()))
        .collect();
    let of = |room: &Room| -> Vec<&str> {
        questions
            .iter()
            .filter(|(r, _)| r == room)
            .map(|(_, q)| q.as_str())
            .collect()
    };
    for room in [matrix(), Room::Irc("#debate".into())] {
        assert_eq!(of(&room), ["Q1", "Q2"], "{room}: {questions:?}");
    }
    // The scenario happened: one room's Q1 went out after the other's Q2.
    let first_q2 = questions.iter().position(|(_, q)| q == "Q2");
    let last_q1 = questions.iter().rposition(|(_, q)| q == "Q1");
    assert!(last_q1 > first_q2, "no Q1 was retried late: {questions:?}");
}

#[tokio::test(start_paused = true)]
async fn next_lists_the_coming_debates_of_the_room_in_every_zone() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let mut bot = start_at(&store, &chat, "2011-10-30T12:00:00Z").await;
    bot.wait_for(PostKind::Reminder, 86_400).await;
    assert_eq!(
        bot.say(&matrix(), "$n", "guest", "!next", None).await,
        Receipt::Command
    );
    assert_eq!(
        bot.say(&matrix(), "$u", "guest", "!frobnicate", None).await,
        Receipt::Command
    );
    bot.stop().await;
    let answer = |key: &str| {
        chat.posts()
            .into_iter()
            .find(|p| p.key == key)
            .unwrap()
            .body
    };
    assert_eq!(
        answer("podium-cmd-$n"),
        "“Developing Leadership”: Tue 1 Nov 2011 20:00 London · 16:00 New York (note: clocks change on different dates: New York is 4 hours behind London this week, not the usual 5)"
    );
    assert_eq!(
        answer("podium-cmd-$u"),
        "I do not know !frobnicate. Try !help."
    );
}

/// A network that cannot deduplicate (as IRC): a retried key posts again.
#[derive(Clone, Default)]
struct NoDedupChat(MemoryChat);

impl podium::chat::Chat for NoDedupChat {
    async fn send(
        &self,
        room: &Room,
        post: podium::chat::Outgoing<'_>,
    ) -> Result<String, podium::chat::ChatError> {
        // A fresh key per call: the underlying log cannot recognise a retry.
        let key = format!("{}-{}", post.key, self.0.posts().len());
        self.0
            .send(
                room,
                podium::chat::Outgoing {
                    key: &key,
                    body: post.body,
                    kind: None,
                    reply_to: None,
                },
            )
            .await
    }
    async fn is_moderator(&self, _room: &Room, _user: &str) -> bool {
        false
    }
    fn deduplicates(&self, _room: &Room) -> bool {
        false
    }
}

#[tokio::test(start_paused = true)]
async fn without_deduplication_an_interrupted_post_is_not_sent_again_but_a_failed_one_is() {
    let store = memory_store().await;
    let chat = NoDedupChat::default();
    let occ = example_occurrence(&store).await;
    // Interrupted by a crash in the Matrix room: it may have gone out.
    store
        .claim_post(&podium::store::NewPost {
            occurrence_id: occ.id,
            room: "#debate:example.org",
            kind: PostKind::Intro,
            seq: 0,
            body: "intro",
            question_text: None,
            due_at: utc("2011-11-01T20:00:00Z"),
            late: false,
            status: podium::store::PostStatus::Sending,
        })
        .await
        .unwrap();
    chat.0.fail_next(1); // the IRC intro fails once, certainly not sent
    let mut bot = start_with(
        &store,
        chat.clone(),
        Clock::starting_at(utc("2011-11-01T20:00:10Z")),
        schedule(YAML),
    )
    .await;
    bot.wait_for(PostKind::Question, 1).await;
    bot.stop().await;
    let intros = |room: Room| {
        chat.0
            .posts()
            .into_iter()
            .filter(|p| p.room == room && p.body.starts_with("“Developing"))
            .count()
    };
    assert_eq!(
        intros(matrix()),
        0,
        "an interrupted post is left alone on such a network"
    );
    assert_eq!(
        intros(Room::Irc("#debate".into())),
        1,
        "a failed post is retried once"
    );
    let statuses: Vec<_> = store
        .posts(occ.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.kind == PostKind::Intro)
        .map(|p| (p.room, p.status))
        .collect();
    assert!(
        statuses.contains(&(
            "#debate:example.org".into(),
            podium::store::PostStatus::Unknown
        )),
        "{statuses:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn start_works_hours_early_even_without_reminders() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let yaml = YAML.replace(
        "    hashtag: \"#SWSC\"\n",
        "    hashtag: \"#SWSC\"\n    remind: []\n",
    );
    let mut bot = start(
        &store,
        &chat,
        Clock::starting_at(utc("2011-11-01T17:00:00Z")),
        schedule(&yaml),
    )
    .await;
    assert_eq!(
        bot.say(&matrix(), "$go", "host", "!start", None).await,
        Receipt::Command
    );
    bot.wait_for(PostKind::Question, 3).await;
    bot.stop().await;
    let bodies: Vec<String> = chat
        .posts()
        .into_iter()
        .filter(|p| p.room == matrix())
        .map(|p| p.body)
        .collect();
    assert_eq!(bodies[0], "Starting “Developing Leadership” now.");
    assert!(
        bodies[1].starts_with("“Developing Leadership” starts now"),
        "{bodies:?}"
    );
    assert!(
        bodies.iter().all(|b| !b.contains("posted late")),
        "{bodies:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn replies_delivered_after_downtime_are_filed_to_their_debate() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    // Podium was down for the whole debate (20:00-21:00) and comes back at 22:00;
    // the network then delivers what was said meanwhile, with its timestamps.
    let bot = start_at(&store, &chat, "2011-11-01T22:00:00Z").await;
    let late = |id: &str, body: &str, at: &str| Event::Message {
        id: id.into(),
        sender: Sender {
            id: "@ann:example.org".into(),
            name: "ann".into(),
            verified: true,
        },
        body: body.into(),
        in_reply_to: None,
        server_ts: Some(utc(at)),
        action: false,
    };
    let a = bot
        .send(
            &matrix(),
            late(
                "$d1",
                "A2: said while you were away",
                "2011-11-01T20:30:00Z",
            ),
        )
        .await;
    let b = bot
        .send(
            &matrix(),
            late("$d2", "before it began", "2011-11-01T19:00:00Z"),
        )
        .await;
    let c = bot
        .send(&matrix(), late("$d3", "long after", "2011-11-01T21:40:00Z"))
        .await;
    bot.stop().await;
    assert!(
        matches!(
            a,
            Receipt::Saved {
                question: Some(2),
                ..
            }
        ),
        "{a:?}"
    );
    assert!(matches!(b, Receipt::Ignored(_)), "{b:?}");
    assert!(matches!(c, Receipt::Ignored(_)), "{c:?}");
    let occ = store
        .find_occurrence("leadership", utc("2011-11-01T20:00:00Z"))
        .await
        .unwrap()
        .unwrap();
    let replies = store.replies(occ.id).await.unwrap();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].body, "A2: said while you were away");
    assert!(
        chat.posts().is_empty(),
        "nothing is posted for a debate long over"
    );
}

#[tokio::test(start_paused = true)]
async fn a_command_delivered_twice_is_applied_once() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let mut bot = start_at(&store, &chat, "2011-11-01T20:06:00Z").await;
    bot.wait_for(PostKind::Question, 1).await;
    for _ in 0..2 {
        bot.say(&matrix(), "$ask", "host", "!ask Asked once?", None)
            .await;
    }
    bot.stop().await;
    let asked = chat
        .posts()
        .into_iter()
        .filter(|p| p.room == matrix() && p.body.starts_with("Q4: Asked once?"))
        .count();
    assert_eq!(asked, 1);
}

#[tokio::test(start_paused = true)]
async fn removing_a_running_debate_stops_it_there() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let mut bot = start_at(&store, &chat, "2011-11-01T20:06:00Z").await;
    // Q1 in both rooms: the engine is then idle, waiting for Q2. (Under
    // paused time, a reload sent while it still writes to SQLite would be
    // seen only after the sleep below.)
    bot.wait_for(PostKind::Question, 1).await;
    bot.wait_for(PostKind::Question, 1).await;
    let other = YAML
        .replace("id: leadership", "id: other")
        .replace("2011-11-01 20:00", "2011-12-01 20:00");
    bot.schedule.send(schedule(&other)).unwrap();
    // Well after the grace period: the room is no longer collecting for it.
    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    let r = bot.say(&matrix(), "$x", "ann", "A1: anyone?", None).await;
    assert!(matches!(r, Receipt::Ignored(_)), "{r:?}");
    let started = bot.say(&matrix(), "$s", "host", "!start", None).await;
    assert_eq!(started, Receipt::Command);
    bot.stop().await;
    let answer = chat
        .posts()
        .into_iter()
        .find(|p| p.key == "podium-cmd-$s")
        .unwrap()
        .body;
    assert!(!answer.contains("already running"), "{answer}");
    assert!(chat.posts().iter().all(|p| !p.body.starts_with("Q2:")));
}

/// A reminder sent late says how long is really left, never its nominal
/// lead: "starts in 10 minutes" 25 seconds before the start would lie.
#[tokio::test(start_paused = true)]
async fn a_late_reminder_states_the_time_really_left() {
    for (at, want) in [
        ("2011-11-01T19:50:00Z", "starts in 10 minutes: "),
        ("2011-11-01T19:50:04Z", "starts in 10 minutes: "),
        ("2011-11-01T19:50:35Z", "starts in 9 minutes: "),
        ("2011-11-01T19:55:10Z", "starts in 4 minutes: "),
        ("2011-11-01T19:59:35Z", "starts in less than a minute: "),
    ] {
        let store = memory_store().await;
        let chat = MemoryChat::new();
        let mut bot = start_at(&store, &chat, at).await;
        bot.wait_for(PostKind::Intro, 0).await;
        bot.stop().await;
        let reminders: Vec<String> = chat
            .posts()
            .into_iter()
            .filter(|p| p.room == matrix() && p.kind == Some(PostKind::Reminder))
            .map(|p| p.body)
            .collect();
        assert_eq!(reminders.len(), 1, "{at}: {reminders:?}");
        assert!(reminders[0].contains(want), "{at}: {}", reminders[0]);
        assert!(!reminders[0].contains("posted late"), "{}", reminders[0]);
    }
}

/// One slow room never delays another: each room's posts keep their
/// order, and the rooms are served at the same time. On the real clock (a
/// few seconds): under paused time, SQLite's own thread lets the clock
/// jump to the slow room's timer. Only the order of posts is asserted.
#[tokio::test]
async fn a_slow_room_does_not_delay_the_others() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let slow = Room::Irc("#debate".into());
    chat.slow_room(&slow, std::time::Duration::from_secs(3));
    // The late 10-minute reminder goes out at once, the intro a second later.
    let clock = Clock::starting_at(utc("2011-11-01T19:59:59Z"));
    let mut bot = start(&store, &chat, clock, schedule(YAML)).await;
    loop {
        bot.wait_for(PostKind::Intro, 0).await;
        let posts = chat.posts();
        if posts
            .iter()
            .filter(|p| p.kind == Some(PostKind::Intro))
            .count()
            == 2
        {
            break;
        }
    }
    bot.stop().await;
    let order: Vec<(Room, Option<PostKind>)> =
        chat.posts().into_iter().map(|p| (p.room, p.kind)).collect();
    assert_eq!(
        order,
        [
            (matrix(), Some(PostKind::Reminder)),
            // Not after the slow room's reminder: the rooms do not wait
            // for each other.
            (matrix(), Some(PostKind::Intro)),
            (slow.clone(), Some(PostKind::Reminder)),
            (slow, Some(PostKind::Intro)),
        ]
    );
}

/// A private debate's link carries its occurrence's token (128 bits in
/// hex), the same one `!transcript` gives and the store keeps.
#[tokio::test(start_paused = true)]
async fn a_private_debate_links_with_its_token() {
    let yaml = YAML.replace("public: true\n", "");
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let clock = Clock::starting_at(utc("2011-11-01T20:55:00Z"));
    let mut bot = start(&store, &chat, clock, schedule(&yaml)).await;
    bot.wait_for(PostKind::Transcript, 0).await;
    let answer = bot.say(&matrix(), "$t", "guest", "!transcript", None).await;
    assert_eq!(answer, Receipt::Command);
    bot.stop().await;
    let token = store.occurrences_of("leadership").await.unwrap()[0]
        .token
        .clone();
    assert_eq!(token.len(), 32);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    let link = format!("http://127.0.0.1:8080/transcripts/leadership/2011-11-01?key={token}");
    let posts = chat.posts();
    let posted = posts
        .iter()
        .find(|p| p.kind == Some(PostKind::Transcript))
        .unwrap();
    assert!(posted.body.ends_with(&link), "{}", posted.body);
    let answered = posts.iter().find(|p| p.key == "podium-cmd-$t").unwrap();
    assert!(answered.body.ends_with(&link), "{}", answered.body);
}

/// A network down for minutes: the post goes out once it is back, saying
/// it is late, and later posts of that room wait for it.
#[tokio::test(start_paused = true)]
async fn a_post_held_up_by_an_outage_says_it_is_late() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    // 60 failures, two every 10 s (each room's first waiting post; the
    // ones behind it wait): the rooms are cut off for about five minutes.
    chat.fail_next(60);
    let mut bot = start_at(&store, &chat, "2011-11-01T20:04:59Z").await;
    bot.wait_for(PostKind::Question, 1).await;
    bot.wait_for(PostKind::Question, 1).await;
    bot.stop().await;
    let posts: Vec<String> = chat
        .posts()
        .into_iter()
        .filter(|p| p.room == matrix())
        .map(|p| p.body)
        .collect();
    let q1 = posts.iter().position(|b| b.starts_with("Q1:")).unwrap();
    let intro = posts
        .iter()
        .position(|b| b.starts_with("“Developing"))
        .unwrap();
    assert!(intro < q1, "{posts:?}");
    assert!(
        posts[q1].ends_with("(posted late: this was due at 20:05 London · 16:05 New York)"),
        "{}",
        posts[q1]
    );
    let stored = store.posts(1).await.unwrap();
    for p in &stored {
        eprintln!(
            "ROW {} {:?} {} due={} sent={:?} late={} {:?}",
            p.room, p.kind, p.seq, p.due_at, p.sent_at, p.late, p.status
        );
    }
    let q1_row = stored
        .iter()
        .find(|p| p.kind == PostKind::Question && p.room == "#debate:example.org")
        .unwrap();
    assert!(q1_row.late && q1_row.body.ends_with("16:05 New York)"));
}

/// A reminder that cannot get through before the start is dropped, not
/// posted after the debate has begun.
#[tokio::test(start_paused = true)]
async fn a_reminder_held_up_past_the_start_is_dropped() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    chat.fail_next(12);
    let mut bot = start_at(&store, &chat, "2011-11-01T19:59:30Z").await;
    bot.wait_for(PostKind::Question, 1).await;
    bot.wait_for(PostKind::Question, 1).await;
    bot.stop().await;
    let reminders = chat
        .posts()
        .into_iter()
        .filter(|p| p.kind == Some(PostKind::Reminder))
        .count();
    assert_eq!(reminders, 0);
    let skipped = store
        .posts(1)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.kind == PostKind::Reminder && p.status == podium::store::PostStatus::Skipped)
        .count();
    assert_eq!(skipped, 6, "three reminders in two rooms");
}

/// A debate made private while it runs (its occurrence stored as public):
/// the link posted at the end and the one `!transcript` gives carry the
/// key, since the pages now ask for it.
#[tokio::test(start_paused = true)]
async fn a_debate_made_private_while_it_runs_links_with_its_token() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let clock = Clock::starting_at(utc("2011-11-01T20:01:00Z"));
    let mut bot = start(&store, &chat, clock, schedule(YAML)).await;
    bot.wait_for(PostKind::Intro, 0).await;
    let private = YAML.replace("public: true\n", "");
    bot.schedule.send_replace(schedule(&private));
    bot.wait_for(PostKind::Transcript, 0).await;
    let answer = bot.say(&matrix(), "$t", "guest", "!transcript", None).await;
    assert_eq!(answer, Receipt::Command);
    bot.stop().await;
    let occ = &store.occurrences_of("leadership").await.unwrap()[0];
    assert!(occ.public, "stored as public when it began");
    let link = format!(
        "http://127.0.0.1:8080/transcripts/leadership/2011-11-01?key={}",
        occ.token
    );
    let posts = chat.posts();
    let posted = posts
        .iter()
        .find(|p| p.kind == Some(PostKind::Transcript))
        .unwrap();
    assert!(posted.body.ends_with(&link), "{}", posted.body);
    let answered = posts.iter().find(|p| p.key == "podium-cmd-$t").unwrap();
    assert!(answered.body.ends_with(&link), "{}", answered.body);
}

/// A post the network is still taking when the app stops is finished and
/// recorded as sent, not left as a claim that a restart must guess about
/// (on IRC, which cannot deduplicate, a guess that gives it up). In real
/// time: a paused clock would jump over the slow send while the store
/// works.
#[tokio::test]
async fn a_post_in_hand_at_the_stop_is_finished_and_recorded_as_sent() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let irc = Room::Irc("#debate".into());
    chat.slow_room(&irc, std::time::Duration::from_secs(2));
    let mut bot = start_at(&store, &chat, "2011-11-01T20:00:00Z").await;
    // The Matrix room's intro is out; IRC's is still being sent.
    bot.wait_for(PostKind::Intro, 0).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!chat.posts().iter().any(|p| p.room == irc));
    bot.stop().await;
    assert!(
        chat.posts()
            .iter()
            .any(|p| p.room == irc && p.kind == Some(PostKind::Intro)),
        "{:?}",
        chat.posts()
    );
    let posts = store.posts(1).await.unwrap();
    let intro = posts
        .iter()
        .find(|p| p.room == irc.to_string() && p.kind == PostKind::Intro)
        .unwrap();
    assert_eq!(intro.status, podium::store::PostStatus::Sent, "{posts:?}");
}
