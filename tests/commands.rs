//! Chat commands and posting under the conditions hostile participants and
//! real networks create, on the in-memory network under tokio's paused
//! time: who gets which transcript link, floods of commands while a debate
//! runs, networks that take seconds (or for ever) to send, posts longer
//! than a network allows, lateness judged when a post goes out, and what
//! the engine logs.
//!
//! Tests that send several events in a row start a [`ticker`]: tokio's
//! paused clock jumps to the next timer whenever every task waits (on
//! SQLite's thread too), so without one, time could leap minutes ahead
//! between two messages.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use podium::chat::memory::MemoryChat;
use podium::chat::{Chat, ChatError, Event, Outgoing, Receipt, Room, Sender};
use podium::clock::Clock;
use podium::schedule::Schedule;
use podium::store::{PostKind, Store};
use tokio::time::Instant;

use support::bot::{self, Bot, deliver, start_with};
use support::store::memory_store;
use support::utc;

// ---------------------------------------------------------------------------
// A chat network that behaves like a real one where it matters here.

/// How long a send takes.
#[derive(Clone, Copy, Debug, Default)]
enum Delay {
    #[default]
    None,
}

#[derive(Default)]
struct Behaviour {
    /// Answers to commands.
    answers: Delay,
    /// Posts (questions, the intro...), per room.
    posts: HashMap<Room, Delay>,
    /// `Chat::max_chars`, per room.
    max: HashMap<Room, usize>,
    /// Rooms where people cannot reply (IRC).
    no_replies: HashSet<Room>,
    /// Every send as it was handed over: room, kind, body, when.
    handed: Vec<(Room, Option<PostKind>, String, Instant)>,
}

/// The in-memory network (which keeps what was posted, and when it was
/// accepted) with sends that take time, limits on a post's length and
/// rooms without replies.
#[derive(Clone, Default)]
struct TestChat {
    log: MemoryChat,
    behaviour: Arc<Mutex<Behaviour>>,
}

impl TestChat {
    fn with<T>(&self, f: impl FnOnce(&mut Behaviour) -> T) -> T {
        f(&mut self.behaviour.lock().unwrap())
    }

    /// The answer to command message `id`, if one was posted.
    fn answer(&self, id: &str) -> Option<String> {
        let key = format!("podium-cmd-{id}");
        self.log
            .posts()
            .into_iter()
            .find(|p| p.key == key)
            .map(|p| p.body)
    }
}

impl Chat for TestChat {
    async fn send(&self, room: &Room, post: Outgoing<'_>) -> Result<String, ChatError> {
        let delay = self.with(|b| {
            b.handed.push((
                room.clone(),
                post.kind,
                post.body.to_owned(),
                Instant::now(),
            ));
            match post.kind {
                None => b.answers,
                Some(_) => b.posts.get(room).copied().unwrap_or_default(),
            }
        });
        match delay {
            Delay::None => {}
        }
        self.log.send(room, post).await
    }

    async fn is_moderator(&self, room: &Room, user: &str) -> bool {
        self.log.is_moderator(room, user).await
    }

    fn deduplicates(&self, _room: &Room) -> bool {
        true
    }

    fn replies(&self, room: &Room) -> bool {
        !self.with(|b| b.no_replies.contains(room))
    }

    fn max_chars(&self, room: &Room, _kind: Option<PostKind>) -> Option<usize> {
        self.with(|b| b.max.get(room).copied())
    }
}

// ---------------------------------------------------------------------------
// Logs, schedules, rooms, people.

/// Keeps tokio's paused clock from leaping: it never advances more than
/// 10 ms while this runs.
fn ticker() -> tokio::task::JoinHandle<()> {
    tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
}

fn schedule(yaml: &str) -> Arc<Schedule> {
    bot::schedule(yaml, utc("2011-10-01T00:00:00Z"))
}

fn start(store: &Store, chat: &TestChat, at: &str, yaml: &str) -> Bot {
    start_with(
        store,
        chat.clone(),
        Clock::starting_at(utc(at)),
        schedule(yaml),
    )
}

fn matrix(name: &str) -> Room {
    Room::Matrix(format!("#{name}:example.org"))
}

fn irc(name: &str) -> Room {
    Room::Irc(format!("#{name}"))
}

/// A message from `who` (`@who:example.org`, verified).
fn message(id: &str, who: &str, body: &str) -> Event {
    Event::Message {
        id: id.to_owned(),
        sender: Sender {
            id: format!("@{who}:example.org"),
            name: who.to_owned(),
            verified: true,
        },
        body: body.to_owned(),
        in_reply_to: None,
        server_ts: None,
        action: false,
    }
}

// ---------------------------------------------------------------------------
// Who gets which transcript link (15.1, 16.1).

/// A private debate in its own two rooms, a public one in another, and a
/// room holding none; both repeat weekly, so `!next` has something to say.
const TWO_DEBATES: &str = r##"
timezone: Europe/London
organisers: ["@host:example.org"]
debates:
  - id: secret
    title: Secret matters
    starts: 2011-11-01 20:00
    duration: 30m
    repeat: weekly
    rooms: ["#secret:example.org", "#secret"]
    questions: [Anything to hide?]
  - id: open
    title: Open matters
    starts: 2011-11-01 20:00
    duration: 30m
    repeat: weekly
    public: true
    rooms: ["#open:example.org"]
    organisers: ["@openhost:example.org"]
    questions: [Anything to share?]
"##;

/// Sends every command (room, id, who, body) at once and returns the
/// answers by id (`None`: not answered), while time stands (nearly) still.
async fn ask_all(
    bot: &Bot,
    chat: &TestChat,
    commands: &[(&Room, &str, &str, &str)],
) -> HashMap<String, Option<String>> {
    let tick = ticker();
    let mut acks = Vec::new();
    for (room, id, who, body) in commands {
        acks.push(deliver(&bot.events, room, message(id, who, body)).await);
    }
    for ack in acks {
        assert_eq!(ack.await.unwrap(), Receipt::Command);
    }
    // Answers go out on their own tasks: let them run.
    tokio::time::sleep(Duration::from_millis(100)).await;
    tick.abort();
    commands
        .iter()
        .map(|(_, id, _, _)| ((*id).to_owned(), chat.answer(id)))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_private_link_is_given_only_in_its_own_rooms() {
    let store = memory_store().await;
    let chat = TestChat::default();
    let mut bot = start(&store, &chat, "2011-11-01T19:59:00Z", TWO_DEBATES);
    for _ in 0..3 {
        // The closing link in each of the three rooms.
        bot.wait_for(PostKind::Transcript, 0).await;
    }
    let (secret, open, lobby) = (matrix("secret"), matrix("open"), matrix("lobby"));
    let secret_irc = irc("secret");
    let answers = ask_all(
        &bot,
        &chat,
        &[
            (&open, "$1", "guest", "!transcript secret"),
            (&open, "$2", "guest", "!transcript nosuch"),
            (&lobby, "$3", "guest", "!transcript secret 2011-11-01"),
            (&lobby, "$4", "guest", "!transcript nosuch 2011-11-01"),
            (&secret_irc, "$5", "guest", "!transcript secret"),
            (&secret, "$6", "guest", "!transcript"),
            (&lobby, "$7", "guest", "!transcript open"),
            (&open, "$8", "host", "!transcript secret"),
            (&lobby, "$9", "guest", "!next"),
            (&secret, "$10", "guest", "!next"),
            (&lobby, "$11", "guest", "!transcript"),
        ],
    )
    .await;
    bot.stop().await;
    let token = store.occurrences_of("secret").await.unwrap()[0]
        .token
        .clone();
    let a = |id: &str| {
        answers[id]
            .clone()
            .unwrap_or_else(|| panic!("no answer to {id}"))
    };
    // Elsewhere, a private debate looks exactly like one that does not exist.
    assert_eq!(a("$1"), a("$2").replace("nosuch", "secret"));
    assert_eq!(a("$3"), a("$4").replace("nosuch", "secret"));
    for id in ["$1", "$3", "$8", "$9", "$11"] {
        assert!(!a(id).contains(&token), "{id}: {}", a(id));
        assert!(!a(id).contains("Secret"), "{id}: {}", a(id));
    }
    // In its own rooms, on either network, anyone gets it.
    let link = format!("http://127.0.0.1:8080/transcripts/secret/2011-11-01?key={token}");
    assert!(a("$5").ends_with(&link), "{}", a("$5"));
    assert!(a("$6").ends_with(&link), "{}", a("$6"));
    // A public debate is available everywhere.
    assert!(
        a("$7").ends_with("http://127.0.0.1:8080/transcripts/open/2011-11-01"),
        "{}",
        a("$7")
    );
    // Its organiser, asking in another room, is told where to ask; the
    // room learns no link.
    assert!(a("$8").contains("its own rooms"), "{}", a("$8"));
    // `!next` in a room holding no debate lists only public ones; a room
    // lists its own, private or not.
    assert!(a("$9").starts_with("“Open matters”"), "{}", a("$9"));
    assert!(a("$10").starts_with("“Secret matters”"), "{}", a("$10"));
    assert!(!a("$10").contains("Open"), "{}", a("$10"));
}

/// Two debates in one room: `!transcript` gives the running one, else the
/// latest that has started there, whatever their order in the file.
#[tokio::test(start_paused = true)]
async fn transcript_without_arguments_gives_the_running_or_latest_debate_of_the_room() {
    let yaml = r##"
timezone: Europe/London
rooms: ["#weekly:example.org", "#weekly"]
debates:
  - id: first
    title: First
    starts: 2011-11-01 20:00
    duration: 30m
    questions: [One?]
  - id: second
    title: Second
    starts: 2011-11-01 21:00
    duration: 30m
    questions: [Two?]
"##;
    let store = memory_store().await;
    let chat = TestChat::default();
    let mut bot = start(&store, &chat, "2011-11-01T19:59:00Z", yaml);
    let room = matrix("weekly");
    let ask = async |bot: &Bot, id: &str| {
        let answers = ask_all(bot, &chat, &[(&room, id, "guest", "!transcript")]).await;
        answers[id].clone().unwrap()
    };
    let before = ask(&bot, "$0").await;
    bot.wait_for(PostKind::Question, 1).await;
    let running_first = ask(&bot, "$1").await;
    bot.wait_for(PostKind::Transcript, 0).await;
    bot.wait_for(PostKind::Transcript, 0).await;
    let between = ask(&bot, "$2").await;
    bot.wait_for(PostKind::Question, 1).await;
    let running_second = ask(&bot, "$3").await;
    bot.wait_for(PostKind::Transcript, 0).await;
    bot.wait_for(PostKind::Transcript, 0).await;
    let after = ask(&bot, "$4").await;
    let irc_after = ask_all(
        &bot,
        &chat,
        &[(&irc("weekly"), "$5", "guest", "!transcript")],
    )
    .await["$5"]
        .clone()
        .unwrap();
    bot.stop().await;
    let link = |id: &str| format!("/transcripts/{id}/2011-11-01?key=");
    assert!(!before.contains("/transcripts/"), "{before}");
    assert!(running_first.contains(&link("first")), "{running_first}");
    assert!(between.contains(&link("first")), "{between}");
    assert!(running_second.contains(&link("second")), "{running_second}");
    assert!(after.contains(&link("second")), "{after}");
    assert!(irc_after.contains(&link("second")), "{irc_after}");
}
