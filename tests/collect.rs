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

async fn start_at(store: &Store, chat: &MemoryChat, yaml: &str, at: &str) -> Bot {
    start(store, chat, Clock::starting_at(utc(at)), schedule(yaml)).await
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
    let mut bot = start_at(&store, &chat, YAML, "2011-11-01T20:19:00Z").await;
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
    let bot = start_at(&store, &chat, YAML, "2011-11-01T20:25:00Z").await;
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
    let mut bot = start_at(&store, &chat, YAML, "2011-11-01T20:04:00Z").await;
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
    let bot = start_at(&store, &chat, YAML, "2011-11-01T20:30:00Z").await;
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
        action: false,
        led: true,
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
    let purged = podium::app::retention::purge(
        &store,
        Some(dir.path()),
        now - chrono::Duration::days(90),
        now,
    )
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

/// Two debates in one room, the second 8 minutes after the first ends,
/// inside its 10-minute collect grace, and reminded of 3 minutes after it.
const BACK_TO_BACK: &str = r##"
timezone: Europe/London
rooms: ["#debate:example.org"]
debates:
  - id: first
    title: First
    starts: 2011-11-01 20:00
    duration: 1h
    remind: [10m]
    questions:
      - {text: One?, at: 5m}
      - {text: Two?, at: 20m}
  - id: second
    title: Second
    starts: 2011-11-01 21:08
    duration: 1h
    remind: [5m]
    questions:
      - {text: Three?, at: 5m}
"##;

/// `who` says `body` in the room as message `id`, sent at `at` (the
/// network's time: what decides where it belongs, however late the
/// engine hears of it).
async fn say_at(
    bot: &Bot,
    id: &str,
    who_: &str,
    body: &str,
    reply_to: Option<&str>,
    at: &str,
) -> Receipt {
    bot.send(
        &room(),
        Event::Message {
            id: id.into(),
            sender: who(who_),
            body: body.into(),
            in_reply_to: reply_to.map(str::to_owned),
            server_ts: Some(utc(at)),
            action: false,
        },
    )
    .await
}

/// After the closing only clear answers are collected (a tag, a reply to
/// a question or an answer), and only until another debate in the room
/// posts: thanks and greetings are not answers.
#[tokio::test(start_paused = true)]
async fn after_the_closing_only_clear_answers_count_until_the_next_debate_posts() {
    let store = memory_store().await;
    let chat = MemoryChat::new();
    let mut bot = start_at(&store, &chat, BACK_TO_BACK, "2011-11-01T19:55:00Z").await;
    bot.wait_for(PostKind::Question, 2).await;
    let q2 = chat.posts().last().unwrap().id.clone();
    let during = say_at(
        &bot,
        "$during",
        "ann",
        "leaders listen",
        None,
        "2011-11-01T20:25:00Z",
    )
    .await;
    bot.wait_for(PostKind::Closing, 0).await;
    let at = |t: &str| format!("2011-11-01T{t}Z");
    let thanks = say_at(
        &bot,
        "$thanks",
        "bob",
        "thanks, great debate",
        None,
        &at("21:01:00"),
    )
    .await;
    let tagged = say_at(
        &bot,
        "$tagged",
        "cat",
        "A1: one more thought",
        None,
        &at("21:01:30"),
    )
    .await;
    let replied = say_at(
        &bot,
        "$replied",
        "dan",
        "late, but agreed",
        Some(&q2),
        &at("21:02:00"),
    )
    .await;
    let to_answer = say_at(
        &bot,
        "$re",
        "eve",
        "+1 to ann",
        Some("$during"),
        &at("21:02:30"),
    )
    .await;
    // The second debate's reminder (21:03) ends the first one's grace.
    bot.wait_for(PostKind::Reminder, 300).await;
    let after = say_at(
        &bot,
        "$after",
        "fay",
        "A1: hello for the next one",
        None,
        &at("21:04:00"),
    )
    .await;
    let late = say_at(
        &bot,
        "$late",
        "gus",
        "on Q2 still",
        Some(&q2),
        &at("21:05:00"),
    )
    .await;
    bot.stop().await;
    for (what, receipt) in [("thanks", &thanks), ("after", &after), ("late", &late)] {
        assert!(
            matches!(receipt, Receipt::Ignored(_)),
            "{what}: {receipt:?}"
        );
    }
    for (what, receipt) in [
        ("during", &during),
        ("tagged", &tagged),
        ("replied", &replied),
        ("to an answer", &to_answer),
    ] {
        assert!(
            matches!(receipt, Receipt::Saved { .. }),
            "{what}: {receipt:?}"
        );
    }
    let bodies: Vec<String> = shown(&store, "first", "2011-11-01T20:00:00Z")
        .await
        .into_iter()
        .map(|(q, _, body, _)| format!("Q{q} {body}"))
        .collect();
    assert_eq!(
        bodies,
        [
            "Q1 A1: one more thought",
            "Q2 leaders listen",
            "Q2 late, but agreed",
            "Q2 +1 to ann"
        ]
    );
}

/// `check` notes debates in one room closer than the collect grace.
#[test]
fn check_notes_debates_in_one_room_closer_than_the_collect_grace() {
    let (_, diags) = podium::schedule::parse(BACK_TO_BACK, utc("2011-10-01T00:00:00Z")).unwrap();
    let notes: Vec<String> = diags
        .0
        .iter()
        .filter(|d| d.severity == podium::schedule::Severity::Note)
        .map(|d| d.render("debates.yaml"))
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with("debates.yaml:15:13: note: `second` on Tue 1 Nov 2011 21:08 starts 8 minutes after `first` ends in room #debate:example.org"),
        "{}",
        notes[0]
    );
    let apart = BACK_TO_BACK.replace("21:08", "21:10");
    let (_, diags) = podium::schedule::parse(&apart, utc("2011-10-01T00:00:00Z")).unwrap();
    assert!(
        !diags
            .0
            .iter()
            .any(|d| d.severity == podium::schedule::Severity::Note),
        "{:?}",
        diags.0
    );
}

/// A private debate in a Matrix room and an IRC channel that ignores a
/// Matrix spammer and an IRC troll.
const LOGGED: &str = r##"
timezone: Europe/London
rooms: ["#debate:example.org", "#debate"]
ignore: ["@spam:example.org"]
debates:
  - id: leadership
    title: Developing Leadership
    starts: 2011-11-01 20:00
    duration: 1h
    remind: [10m]
    ignore: ["irc:TROLL"]
    questions:
      - {text: What is leadership?, at: 5m}
"##;

/// A message in `room` from `sender`, sent at `at` (`HH:MM` on the debate's day).
fn said(id: &str, sender: Sender, body: &str, at: &str, action: bool) -> Event {
    Event::Message {
        id: id.into(),
        sender,
        body: body.into(),
        in_reply_to: None,
        server_ts: Some(utc(&format!("2011-11-01T{at}:00Z"))),
        action,
    }
}

fn on_irc(nick: &str) -> Sender {
    Sender {
        id: format!("irc:{nick}"),
        name: nick.into(),
        verified: false,
    }
}

/// Everything said in the debate's rooms during its window goes into the
/// raw log (Podium's posts, greetings before the intro, commands, thanks
/// after the closing), removed messages do not, edited ones show their last
/// text; ignored senders are neither collected, logged nor answered. The
/// log is served beside the transcript with the same privacy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raw_log_holds_the_debate_window_and_is_as_private_as_the_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let chat = MemoryChat::new();
    let schedule = schedule(LOGGED);
    // An hour of the debate every real second.
    let clock = Clock::compressed(utc("2011-11-01T19:45:00Z"), chrono::Utc::now(), 3600.0);
    let mut bot = start(&store, &chat, clock, schedule.clone()).await;
    bot.wait_for(PostKind::Transcript, 0).await;
    bot.wait_for(PostKind::Transcript, 0).await;
    let irc = Room::Irc("#debate".into());
    let events = [
        (
            room(),
            said(
                "$early",
                who("ann"),
                "too early to be logged",
                "19:40",
                false,
            ),
        ),
        (
            room(),
            said("$hello", who("ann"), "Helo, Ann from Leeds", "19:52", false),
        ),
        (room(), said("$wave", who("bob"), "waves", "19:54", true)),
        (room(), said("$help", who("bob"), "!help", "19:55", false)),
        (room(), said("$spam1", who("spam"), "!help", "19:56", false)),
        (
            room(),
            said("$spam2", who("spam"), "buy now", "19:57", false),
        ),
        (
            irc.clone(),
            said("t1", on_irc("Troll"), "A1: troll answer", "20:06", false),
        ),
        (
            irc.clone(),
            said("t2", on_irc("troll"), "!next", "20:06", false),
        ),
        (
            irc.clone(),
            said("i1", on_irc("ann"), "A1: from irc", "20:07", false),
        ),
        (
            room(),
            said("$gone", who("cat"), "A1: to be removed", "20:08", false),
        ),
        (
            room(),
            said("$kept", who("dan"), "A1: kept answer", "20:10", false),
        ),
        (
            room(),
            said("$thanks", who("eve"), "thanks all", "21:01", false),
        ),
        (
            room(),
            said("$late", who("eve"), "long after", "21:20", false),
        ),
    ];
    let mut receipts = Vec::new();
    for (r, event) in events {
        receipts.push(bot.send(&r, event).await);
    }
    bot.send(&room(), edit("$hello", "ann", "Hello, Ann from Leeds"))
        .await;
    bot.send(&room(), delete("$gone", "cat", false)).await;
    bot.stop().await;
    let ignored: Vec<bool> = receipts
        .iter()
        .map(|r| matches!(r, Receipt::Ignored(_)))
        .collect();
    assert_eq!(
        ignored,
        [
            true, true, true, false, true, true, true, true, false, false, false, true, true
        ],
        "{receipts:?}"
    );
    let answered: Vec<String> = chat
        .posts()
        .iter()
        .filter_map(|p| p.reply_to.clone())
        .collect();
    assert_eq!(answered, ["$help"], "only bob's command is answered");

    let occ = store
        .find_occurrence("leadership", utc("2011-11-01T20:00:00Z"))
        .await
        .unwrap()
        .unwrap();
    let log = podium::transcript::log::render(&store, &occ, utc("2011-11-02T00:00:00Z"))
        .await
        .unwrap();
    let lines: Vec<&str> = log.lines().skip(1).collect();
    // (minute, what follows the time), in order, in the Matrix room: on
    // this fast clock Podium's posts go out a few virtual seconds late.
    let in_order = [
        (
            "19:50",
            "matrix #debate:example.org -Podium- Reminder: “Developing Leadership” starts in",
        ),
        (
            "19:52",
            "matrix #debate:example.org <ann (@ann:example.org)> Hello, Ann from Leeds",
        ),
        (
            "19:54",
            "matrix #debate:example.org * bob (@bob:example.org) waves",
        ),
        (
            "19:55",
            "matrix #debate:example.org <bob (@bob:example.org)> !help",
        ),
        (
            "20:00",
            "matrix #debate:example.org -Podium- “Developing Leadership” starts now",
        ),
        (
            "20:05",
            "matrix #debate:example.org -Podium- Q1: What is leadership?",
        ),
        (
            "20:10",
            "matrix #debate:example.org <dan (@dan:example.org)> A1: kept answer",
        ),
        (
            "21:00",
            "matrix #debate:example.org -Podium- That is the end",
        ),
        (
            "21:01",
            "matrix #debate:example.org <eve (@eve:example.org)> thanks all",
        ),
    ];
    let mut at = 0;
    for (minute, want) in in_order {
        let found = lines[at..].iter().position(|l| {
            l.starts_with(&format!("2011-11-01 {minute}:")) && l[20..].starts_with(want)
        });
        let Some(i) = found else {
            panic!("no `{minute} {want}` after line {at}:\n{log}")
        };
        at += i + 1;
    }
    // The IRC channel's lines are there too, the answer after the question.
    let irc_q1 = lines
        .iter()
        .position(|l| l.contains(" irc #debate -Podium- Q1: What is leadership?"));
    let irc_answer = lines
        .iter()
        .position(|l| l.starts_with("2011-11-01 20:07:00 irc #debate <ann> A1: from irc"));
    assert!(irc_q1.is_some() && irc_q1 < irc_answer, "{log}");
    for gone in [
        "too early",
        "Helo",
        "spam",
        "buy now",
        "troll",
        "to be removed",
        "long after",
    ] {
        assert!(
            !log.to_lowercase().contains(&gone.to_lowercase()),
            "{gone}:\n{log}"
        );
    }
    assert!(
        log.starts_with("# Raw log of “Developing Leadership”, Tue 1 Nov 2011 20:00 (leadership)"),
        "{log}"
    );

    // Served beside the transcript, with the same privacy.
    drop(store);
    let readers = Store::open_readers(dir.path(), 2).await.unwrap();
    let (_keep, rx) = tokio::sync::watch::channel(schedule);
    let site = podium::web::Site::new(
        readers,
        rx,
        podium::health::Health::default(),
        Clock::starting_at(utc("2011-11-02T00:00:00Z")),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!(
        "http://{}/transcripts/leadership/2011-11-01",
        listener.local_addr().unwrap()
    );
    tokio::spawn(podium::web::serve(
        listener,
        Arc::new(site),
        std::future::pending(),
    ));
    let get = |url: String| async move {
        let r = reqwest::get(&url).await.unwrap();
        let kind = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (r.status().as_u16(), kind, r.text().await.unwrap())
    };
    let key = &occ.token;
    let (status, kind, served) = get(format!("{base}.log?key={key}")).await;
    assert_eq!((status, kind.as_str()), (200, "text/plain; charset=utf-8"));
    assert_eq!(served, log);
    let missing = get(format!("{base}.nothing?key={key}")).await;
    assert_eq!(missing.0, 404);
    for wrong in [
        format!("{base}.log"),
        format!("{base}.log?key={}", "0".repeat(32)),
    ] {
        assert_eq!(get(wrong.clone()).await, missing, "{wrong}");
    }
    let (_, _, page) = get(format!("{base}?key={key}")).await;
    assert!(
        page.contains(&format!("href=\"./2011-11-01.log?key={key}\"")),
        "{page}"
    );
}

/// `check` says where an `ignore` entry is neither a Matrix user nor an
/// IRC name, at the top and in a debate.
#[test]
fn check_locates_bad_ignore_entries() {
    let yaml = LOGGED
        .replace(
            "ignore: [\"@spam:example.org\"]",
            "ignore: [\"@spam:example.org\", spammer]",
        )
        .replace("ignore: [\"irc:TROLL\"]", "ignore: [\"irc:#chan\", 42]");
    let diags = podium::schedule::parse(&yaml, utc("2011-10-01T00:00:00Z")).unwrap_err();
    let errors: Vec<String> = diags.errors().map(|d| d.render("debates.yaml")).collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0].starts_with(
            "debates.yaml:4:31: error: `ignore` entry `spammer` is neither a Matrix user nor an IRC name"
        ),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("debates.yaml:11:14: error: `ignore` entry `irc:#chan`"),
        "{errors:?}"
    );
    assert!(
        errors[2].starts_with("debates.yaml:11:27: error: `ignore` entry `42`"),
        "{errors:?}"
    );
}
