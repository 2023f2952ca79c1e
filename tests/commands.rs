//! Chat commands and posting under the conditions hostile participants and
//! real networks create, on the in-memory network under tokio's paused
//! time: who gets which transcript link, floods of commands while a debate
//! runs, networks that take seconds (or for ever) to send, posts longer
//! than a network allows, lateness judged when a post goes out, and what
//! the engine logs.
//!
//! Messages are handed to the engine with [`hand`], which waits for the
//! engine to take each one without letting the clock move: tokio's paused
//! clock jumps to the next timer whenever every task waits, SQLite's
//! thread included, so waiting idly while the engine writes to its
//! database would let minutes pass that a real engine never spends.

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
    For(Duration),
    /// Never returns (a network that stopped answering).
    Forever,
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

    /// When each post of `kind` was handed to the network, by room.
    fn handed(&self, kind: PostKind) -> Vec<(Room, String, Instant)> {
        self.behaviour
            .lock()
            .unwrap()
            .handed
            .iter()
            .filter(|(_, k, _, _)| *k == Some(kind))
            .map(|(r, _, b, at)| (r.clone(), b.clone(), *at))
            .collect()
    }

    /// The bodies posted in `room`, answers to commands left out.
    fn bodies(&self, room: &Room) -> Vec<String> {
        self.log
            .posts()
            .into_iter()
            .filter(|p| p.room == *room && p.kind.is_some())
            .map(|p| p.body)
            .collect()
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

    /// The answers to commands posted in `room`.
    fn answers_in(&self, room: &Room) -> usize {
        self.log
            .posts()
            .iter()
            .filter(|p| p.room == *room && p.kind.is_none())
            .count()
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
            Delay::For(d) => tokio::time::sleep(d).await,
            Delay::Forever => std::future::pending::<()>().await,
        }
        self.log.send(room, post).await
    }

    async fn send_direct(
        &self,
        network: podium::domain::Network,
        person: &str,
        name: &str,
        body: &str,
    ) -> Result<(), ChatError> {
        self.log.send_direct(network, person, name, body).await
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

/// What the engine logs while the guard lives (this thread only: a
/// `#[tokio::test]` runs every task on it).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The lines with `message` and every `key=value` of `fields`.
    fn lines(&self, message: &str, fields: &[(&str, &str)]) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains(message))
            .filter(|l| {
                fields
                    .iter()
                    .all(|(k, v)| field(l, k).is_some_and(|f| f == *v))
            })
            .map(str::to_owned)
            .collect()
    }
}

/// The value of `key=` in a log line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!(" {key}=");
    let start = line.find(&pat)? + pat.len();
    let rest = &line[start..];
    Some(rest.split(' ').next().unwrap_or(rest))
}

/// Turns of the runtime [`hand`] waits for an acknowledgement: far more
/// than any database write takes (each turn takes a microsecond or more).
const TURNS: u32 = 20_000_000;

/// Delivers `event` in `room` and waits for the engine to take it (its
/// acknowledgement: after the reply, if it is one, is committed) while the
/// paused clock stands still: this task keeps the runtime busy, so time
/// only moves when the test sleeps. Fails when the engine does not take it
/// meanwhile: the engine is then waiting on something other than its
/// database, such as the network.
async fn hand(bot: &Bot, room: &Room, event: Event) -> Receipt {
    let mut ack = deliver(&bot.events, room, event).await;
    for _ in 0..TURNS {
        match ack.try_recv() {
            Ok(receipt) => return receipt,
            Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {
                tokio::task::yield_now().await;
            }
            Err(e) => panic!("the engine dropped an event: {e}"),
        }
    }
    panic!("the engine did not take a message while the clock stood still: it waits on the network")
}

/// Lets `span` pass, a tenth of a second at a time, each time waiting
/// (with [`hand`]) until the engine has done what fell due: a plain sleep
/// would let the paused clock run on to its end while the engine writes
/// to its database, and everything due meanwhile would look late.
async fn idle(bot: &Bot, span: Duration) {
    hand(bot, &matrix("nowhere"), Event::Checkpoint).await;
    let step = Duration::from_millis(100);
    let mut left = span;
    while !left.is_zero() {
        let d = left.min(step);
        tokio::time::sleep(d).await;
        left -= d;
        hand(bot, &matrix("nowhere"), Event::Checkpoint).await;
    }
}

fn schedule(yaml: &str) -> Arc<Schedule> {
    bot::schedule(yaml, utc("2011-10-01T00:00:00Z"))
}

async fn start(store: &Store, chat: &TestChat, at: &str, yaml: &str) -> Bot {
    start_with(
        store,
        chat.clone(),
        Clock::starting_at(utc(at)),
        schedule(yaml),
    )
    .await
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
/// answers by id (`None`: not answered), while time stands still.
async fn ask_all(
    bot: &Bot,
    chat: &TestChat,
    commands: &[(&Room, &str, &str, &str)],
) -> HashMap<String, Option<String>> {
    for (room, id, who, body) in commands {
        assert_eq!(
            hand(bot, room, message(id, who, body)).await,
            Receipt::Command
        );
    }
    // Answers go out on their own tasks: let them run.
    tokio::time::sleep(Duration::from_millis(100)).await;
    commands
        .iter()
        .map(|(_, id, _, _)| ((*id).to_owned(), chat.answer(id)))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_private_link_is_given_only_in_its_own_rooms() {
    let store = memory_store().await;
    let chat = TestChat::default();
    let mut bot = start(&store, &chat, "2011-11-01T19:59:00Z", TWO_DEBATES).await;
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
            (&open, "$1", "ann", "!transcript secret"),
            (&open, "$2", "bob", "!transcript nosuch"),
            (&lobby, "$3", "ann", "!transcript secret 2011-11-01"),
            (&lobby, "$4", "bob", "!transcript nosuch 2011-11-01"),
            (&secret_irc, "$5", "cat", "!transcript secret"),
            (&secret, "$6", "cat", "!transcript"),
            (&lobby, "$7", "dan", "!transcript open"),
            (&open, "$8", "host", "!transcript secret"),
            (&lobby, "$9", "dan", "!next"),
            (&secret, "$10", "eve", "!next"),
            (&lobby, "$11", "eve", "!transcript"),
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
    let mut bot = start(&store, &chat, "2011-11-01T19:59:00Z", yaml).await;
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

// ---------------------------------------------------------------------------
// Floods of commands (15.3): the engine never waits for a command's answer,
// answers are rate-limited, and the debate goes on on time.

/// One debate an hour long in a Matrix room and an IRC channel, with
/// three questions.
const DEBATE: &str = r##"
timezone: Europe/London
zones: [Europe/London, America/New_York]
rooms: ["#debate:example.org", "#debate"]
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

/// One debate in a Matrix room and an IRC channel, ten minutes long, with
/// a question each minute from 20:01.
const QUICK: &str = r##"
timezone: Europe/London
zones: [Europe/London, America/New_York]
rooms: ["#debate:example.org", "#debate"]
organisers: ["@host:example.org"]
debates:
  - id: quick
    title: Quick
    starts: 2011-11-01 20:00
    duration: 10m
    questions:
      - {text: One?, at: 1m}
      - {text: Two?, at: 2m}
      - {text: Three?, at: 3m}
"##;

/// How late each question `n` (of `numbers`) was handed to the network in
/// each room, when the clock started at `started_at` (tokio's instant of
/// `at`): question `n` is due at 20:0n.
fn question_lateness(
    chat: &TestChat,
    started_at: Instant,
    at: &str,
    numbers: &[u32],
) -> Vec<(Room, u32, Duration)> {
    let origin = utc(at);
    let mut late = Vec::new();
    for (room, body, handed) in chat.handed(PostKind::Question) {
        let n: u32 = body[1..body.find(':').unwrap()].parse().unwrap();
        if !numbers.contains(&n) {
            continue;
        }
        let due = utc(&format!("2011-11-01T20:0{n}:00Z"));
        let due = started_at + (due - origin).to_std().unwrap();
        late.push((room, n, handed.saturating_duration_since(due)));
    }
    late.sort_by_key(|(r, n, _)| (r.to_string(), *n));
    late
}

#[tokio::test(start_paused = true)]
async fn a_question_is_posted_on_time_while_a_thousand_commands_arrive() {
    let store = memory_store().await;
    let chat = TestChat::default();
    // Every answer takes the network half a minute (an IRC queue paced
    // for a flood).
    chat.with(|b| b.answers = Delay::For(Duration::from_secs(30)));
    let at = "2011-11-01T20:00:40Z";
    let started_at = Instant::now();
    let bot = start(&store, &chat, at, QUICK).await;
    // 1,000 commands in 40 s, around Q1 at 20:01.
    for i in 0..1000 {
        let body = ["!help", "!next", "!transcript"][i % 3];
        let said = message(&format!("$c{i}"), "mallory", body);
        hand(&bot, &irc("debate"), said).await;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    bot.stop().await;
    let late = question_lateness(&chat, started_at, at, &[1]);
    assert_eq!(late.len(), 2, "Q1 in both rooms: {late:?}");
    for (room, _, by) in late {
        assert!(by < Duration::from_secs(1), "Q1 in {room} was {by:?} late");
    }
}

/// The issue's flood, on both networks at once: 1,000 commands from one
/// person in each room and 100 from each of ten others, while a debate
/// runs and someone answers every few seconds; each answer to a command
/// takes the network 2 s.
#[tokio::test(start_paused = true)]
async fn floods_on_both_networks_keep_questions_on_time_and_every_answer_stored() {
    let (logs, _guard) = Logs::capture();
    let store = memory_store().await;
    let chat = TestChat::default();
    chat.with(|b| b.answers = Delay::For(Duration::from_secs(2)));
    let at = "2011-11-01T20:00:30Z";
    let started_at = Instant::now();
    let bot = start(&store, &chat, at, QUICK).await;
    let rooms = [irc("debate"), matrix("debate")];
    let mut answers = 0;
    let mut flood: Vec<(Room, String)> = Vec::new();
    // 180 ms a round, for three minutes: Q1, Q2 and Q3 fall in it.
    for i in 0..1000 {
        for room in &rooms {
            let id = format!("$m{i}{room}");
            hand(&bot, room, message(&id, "mallory", "!help")).await;
            flood.push((room.clone(), id));
        }
        let room = &rooms[i % 2];
        let id = format!("$o{i}");
        let who = format!("other{}", i % 10);
        hand(&bot, room, message(&id, &who, "!next")).await;
        flood.push((room.clone(), id));
        if i % 25 == 0 {
            let id = format!("$a{i}");
            let said = message(&id, "ann", &format!("point {i}"));
            let receipt = hand(&bot, room, said).await;
            assert!(matches!(receipt, Receipt::Saved { .. }), "{receipt:?}");
            answers += 1;
        }
        tokio::time::sleep(Duration::from_millis(180)).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    bot.stop().await;

    let late = question_lateness(&chat, started_at, at, &[1, 2, 3]);
    assert_eq!(late.len(), 6, "Q1-Q3 in both rooms: {late:?}");
    for (room, n, by) in late {
        assert!(
            by < Duration::from_secs(1),
            "Q{n} in {room} was {by:?} late"
        );
    }
    let occ = store.occurrences_of("quick").await.unwrap()[0].clone();
    assert_eq!(answers, 40);
    assert_eq!(store.replies(occ.id).await.unwrap().len(), 40);
    // Answers within the room's limit (10 at once, then one each 6 s, for
    // three minutes), and only those commands ever reached the database:
    // claiming the others now finds them unclaimed.
    for room in &rooms {
        let answered = chat.answers_in(room);
        assert!((10..=45).contains(&answered), "{room}: {answered} answers");
    }
    let mut claimed: HashMap<String, usize> = HashMap::new();
    for (room, id) in &flood {
        let network = room.network().as_str();
        let fresh = store
            .claim_command(network, &room.to_string(), id, utc(at))
            .await
            .unwrap();
        if !fresh {
            *claimed.entry(room.to_string()).or_default() += 1;
        }
    }
    for room in &rooms {
        let n = claimed.get(&room.to_string()).copied().unwrap_or(0);
        assert!((10..=45).contains(&n), "{room}: {n} commands claimed");
    }
    // What was ignored is counted in the log, once a minute per room.
    let reports = logs.lines("commands left unanswered", &[]);
    assert!(!reports.is_empty(), "{}", logs.text());
    let counted: usize = reports
        .iter()
        .map(|l| field(l, "ignored").unwrap().parse::<usize>().unwrap())
        .sum();
    assert!(counted > 2900, "{counted}: {reports:#?}");
}

/// The limits as README gives them: 5 commands a minute from each person
/// (told once when over it), 10 answers at once per room then one each
/// 6 s, organisers answered even in a room over its limit.
#[tokio::test(start_paused = true)]
async fn commands_over_the_limits_are_ignored_with_one_notice_and_organisers_still_served() {
    let (logs, _guard) = Logs::capture();
    let store = memory_store().await;
    let chat = TestChat::default();
    chat.log
        .add_moderator(&matrix("debate"), "@mod:example.org");
    let bot = start(&store, &chat, "2011-11-01T20:01:00Z", DEBATE).await;
    let room = matrix("debate");
    let say =
        async |id: &str, who: &str, body: &str| hand(&bot, &room, message(id, who, body)).await;
    let mut receipts = Vec::new();
    for i in 0..8 {
        receipts.push(say(&format!("$g{i}"), "guest", "!help").await);
    }
    let ignored = Receipt::Ignored("too many commands");
    assert!(
        receipts[..5].iter().all(|r| *r == Receipt::Command),
        "{receipts:?}"
    );
    assert!(receipts[5..].iter().all(|r| *r == ignored), "{receipts:?}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    for i in 0..5 {
        assert!(chat.answer(&format!("$g{i}")).is_some(), "$g{i}");
    }
    let notice = chat.answer("$g5").expect("one notice");
    assert!(
        notice.starts_with("guest, that is too many commands"),
        "{notice}"
    );
    assert_eq!(chat.answer("$g6"), None);
    assert_eq!(chat.answer("$g7"), None);
    // A minute on, guest is answered again.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(say("$g8", "guest", "!help").await, Receipt::Command);
    // Ten people at once fill the room's budget: the next are ignored,
    // silently, except for organisers (listed, or moderators).
    tokio::time::sleep(Duration::from_secs(120)).await;
    for i in 0..10 {
        assert_eq!(
            say(&format!("$p{i}"), &format!("p{i}"), "!help").await,
            Receipt::Command
        );
    }
    assert_eq!(say("$p10", "p10", "!help").await, ignored);
    assert_eq!(say("$h", "host", "!skip").await, Receipt::Command);
    assert_eq!(say("$mod", "mod", "!help").await, Receipt::Command);
    tokio::time::sleep(Duration::from_secs(61)).await;
    bot.stop().await;
    assert_eq!(chat.answer("$p10"), None);
    assert_eq!(chat.answer("$h").as_deref(), Some("Q1 posted early."));
    assert!(chat.answer("$mod").is_some());
    let room_name = room.to_string();
    let began = logs.lines(
        "commands over the rate limit are ignored here for now",
        &[("room", &room_name)],
    );
    assert_eq!(began.len(), 2, "{}", logs.text());
    let reports = logs.lines("commands left unanswered", &[("room", &room_name)]);
    let counts: Vec<&str> = reports
        .iter()
        .map(|l| field(l, "ignored").unwrap())
        .collect();
    assert_eq!(counts, ["3", "1"], "{reports:#?}");
}

/// A network that never finishes sending an answer holds up nothing: the
/// room's few waiting answers fill its queue, the next are dropped (and
/// counted), and the debate goes on.
#[tokio::test(start_paused = true)]
async fn answers_that_never_go_out_hold_up_nothing() {
    let (logs, _guard) = Logs::capture();
    let store = memory_store().await;
    let chat = TestChat::default();
    chat.with(|b| b.answers = Delay::Forever);
    let at = "2011-11-01T20:00:30Z";
    let started_at = Instant::now();
    let bot = start(&store, &chat, at, QUICK).await;
    let room = irc("debate");
    // Within every limit: a different person each 7 s.
    for i in 0..20 {
        let said = message(&format!("$c{i}"), &format!("p{i}"), "!next");
        assert_eq!(hand(&bot, &room, said).await, Receipt::Command);
        idle(&bot, Duration::from_secs(7)).await;
    }
    let said = message("$a", "ann", "A1: still here");
    let saved = hand(&bot, &room, said).await;
    assert!(
        matches!(
            saved,
            Receipt::Saved {
                question: Some(1),
                ..
            }
        ),
        "{saved:?}"
    );
    idle(&bot, Duration::from_secs(61)).await;
    bot.stop().await;
    for (room, n, by) in question_lateness(&chat, started_at, at, &[1, 2]) {
        assert!(
            by < Duration::from_secs(1),
            "Q{n} in {room} was {by:?} late"
        );
    }
    // One answer stuck at the network, 8 waiting: 11 dropped.
    let room_name = room.to_string();
    let reports = logs.lines("commands left unanswered", &[("room", &room_name)]);
    let shed: u32 = reports
        .iter()
        .map(|l| field(l, "shed").unwrap().parse::<u32>().unwrap())
        .sum();
    assert_eq!(shed, 11, "{reports:#?}");
}

// ---------------------------------------------------------------------------
// When a post counts as out (15.10): attribution from the moment a
// question is handed to the network, lateness when the network took it.

/// A message `who` sent at `at` by the network's clock.
fn message_at(id: &str, who: &str, body: &str, at: &str) -> Event {
    let Event::Message {
        id,
        sender,
        body,
        in_reply_to,
        action,
        ..
    } = message(id, who, body)
    else {
        unreachable!()
    };
    Event::Message {
        id,
        sender,
        body,
        in_reply_to,
        server_ts: Some(utc(at)),
        action,
    }
}

/// The room's network takes 2 s to accept a post (a homeserver far away,
/// an IRC server's echo): an answer sent 5 ms after Q2 went out, before
/// the network said it took it, is Q2's; one sent 10 ms before it is Q1's.
#[tokio::test(start_paused = true)]
async fn an_answer_sent_just_after_a_question_is_filed_under_it() {
    let store = memory_store().await;
    let chat = TestChat::default();
    let room = matrix("debate");
    chat.with(|b| {
        b.posts
            .insert(room.clone(), Delay::For(Duration::from_secs(2)))
    });
    let at = "2011-11-01T20:00:30Z";
    let started_at = Instant::now();
    let bot = start(&store, &chat, at, QUICK).await;
    // Half a second after Q2 (20:02) was handed over.
    idle(&bot, Duration::from_millis(90_500)).await;
    let handed = chat
        .handed(PostKind::Question)
        .into_iter()
        .find(|(r, body, _)| *r == room && body.starts_with("Q2:"))
        .expect("Q2 handed over")
        .2;
    let q2 = utc(at) + chrono::Duration::from_std(handed - started_at).unwrap();
    let said = |id: &str, ms: i64| {
        let ts = (q2 + chrono::Duration::milliseconds(ms)).to_rfc3339();
        message_at(id, "ann", "an untagged answer", &ts)
    };
    let early = hand(&bot, &room, said("$a", -10)).await;
    let quick = hand(&bot, &room, said("$b", 5)).await;
    // Once the network has said it took Q2, the same.
    idle(&bot, Duration::from_secs(3)).await;
    let confirmed = hand(&bot, &room, said("$c", 5)).await;
    bot.stop().await;
    let question = |r: &Receipt| match r {
        Receipt::Saved { question, .. } => *question,
        other => panic!("{other:?}"),
    };
    assert_eq!(question(&early), Some(1));
    assert_eq!(question(&quick), Some(2));
    assert_eq!(question(&confirmed), Some(2));
}

/// The room's network takes 90 s to accept each post (rate limits): the
/// posts queue up behind each other. Each is logged late with its real
/// lateness when the network took it; the one handed over more than a
/// minute after its time says so in its text, in every listed zone.
#[tokio::test(start_paused = true)]
async fn lateness_is_judged_when_the_network_takes_the_post() {
    let (logs, _guard) = Logs::capture();
    let store = memory_store().await;
    let chat = TestChat::default();
    let slow = matrix("debate");
    chat.with(|b| {
        b.posts
            .insert(slow.clone(), Delay::For(Duration::from_secs(90)))
    });
    let bot = start(&store, &chat, "2011-11-01T20:00:00Z", QUICK).await;
    idle(&bot, Duration::from_secs(400)).await;
    bot.stop().await;
    let posted = |room: &Room, kind: &str, seq: &str| {
        let lines = logs.lines(
            "posted",
            &[
                ("room", &room.to_string()),
                ("kind", &format!("\"{kind}\"")),
                ("seq", seq),
            ],
        );
        assert_eq!(lines.len(), 1, "{kind} {seq} in {room}: {}", logs.text());
        let l = &lines[0];
        (
            field(l, "late").unwrap().to_owned(),
            field(l, "late_by_ms").unwrap().parse::<i64>().unwrap(),
        )
    };
    // Handed over on time, taken 90 s later: late, without a note.
    assert_eq!(posted(&slow, "intro", "0"), ("true".into(), 90_000));
    // Q1 (20:01) handed over at 20:01:30, taken at 20:03:00.
    assert_eq!(posted(&slow, "question", "1"), ("true".into(), 120_000));
    // Q3 (20:03) handed over at 20:04:30: with the note; taken at 20:06:00.
    assert_eq!(posted(&slow, "question", "3"), ("true".into(), 180_000));
    let bodies = chat.bodies(&slow);
    assert!(!bodies[0].contains("posted late"), "{}", bodies[0]);
    assert_eq!(bodies[1], "Q1: One?");
    assert_eq!(
        bodies[3],
        "Q3: Three? (posted late: this was due at 20:03 London · 16:03 New York)"
    );
    // The other room, on time.
    let fast = irc("debate");
    assert_eq!(posted(&fast, "question", "3"), ("false".into(), 0));
    assert!(chat.bodies(&fast).iter().all(|b| !b.contains("late")));
    // The store says what the log says.
    let occ = store.occurrences_of("quick").await.unwrap()[0].clone();
    let late: Vec<(String, PostKind, i64)> = store
        .posts(occ.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.late && p.status == podium::store::PostStatus::Sent)
        .map(|p| (p.room, p.kind, p.seq))
        .collect();
    let name = slow.to_string();
    assert!(
        late.contains(&(name.clone(), PostKind::Intro, 0)),
        "{late:?}"
    );
    assert!(
        late.contains(&(name.clone(), PostKind::Question, 3)),
        "{late:?}"
    );
    assert!(!late.iter().any(|(r, _, _)| *r != name), "{late:?}");
}

/// A question brought forward by `!skip` is early, not negatively late.
#[tokio::test(start_paused = true)]
async fn a_question_skipped_to_early_is_logged_early_not_negatively_late() {
    let (logs, _guard) = Logs::capture();
    let store = memory_store().await;
    let chat = TestChat::default();
    let bot = start(&store, &chat, "2011-11-01T20:01:30Z", QUICK).await;
    idle(&bot, Duration::from_secs(1)).await;
    let room = matrix("debate");
    assert_eq!(
        hand(&bot, &room, message("$s", "host", "!skip")).await,
        Receipt::Command
    );
    idle(&bot, Duration::from_secs(1)).await;
    bot.stop().await;
    let lines = logs.lines(
        "posted",
        &[
            ("kind", "\"question\""),
            ("seq", "2"),
            ("room", &room.to_string()),
        ],
    );
    assert_eq!(lines.len(), 1, "{}", logs.text());
    assert_eq!(field(&lines[0], "late_by_ms"), Some("0"), "{}", lines[0]);
    assert_eq!(
        field(&lines[0], "early_by_ms"),
        Some("29000"),
        "{}",
        lines[0]
    );
}

// ---------------------------------------------------------------------------
// Posts longer than a network takes (15.14).

/// `!ask` with a question no room of the debate could take is refused,
/// saying the limit, and uses up no number.
#[tokio::test(start_paused = true)]
async fn an_ask_too_long_for_a_room_is_refused_and_takes_no_number() {
    let store = memory_store().await;
    let chat = TestChat::default();
    chat.with(|b| b.max.insert(irc("debate"), 200));
    let bot = start(&store, &chat, "2011-11-01T20:06:00Z", DEBATE).await;
    idle(&bot, Duration::from_secs(1)).await;
    let room = matrix("debate");
    let long = "Why? ".repeat(60);
    let long = long.trim();
    let ask = async |id: &str, text: &str| {
        let body = format!("!ask {text}");
        hand(&bot, &room, message(id, "host", &body)).await
    };
    assert_eq!(ask("$long", long).await, Receipt::Command);
    assert_eq!(ask("$short", "And now?").await, Receipt::Command);
    idle(&bot, Duration::from_secs(1)).await;
    bot.stop().await;
    assert_eq!(
        chat.answer("$long").unwrap(),
        "That question is too long for this debate's rooms: at most 196 characters, \
         and it has 299. Nothing was asked."
    );
    assert_eq!(chat.answer("$short").unwrap(), "Asked as Q4.");
    for room in [matrix("debate"), irc("debate")] {
        let asked: Vec<String> = chat
            .bodies(&room)
            .into_iter()
            .filter(|b| b.starts_with("Q4:") || b.contains("Why? Why?"))
            .collect();
        assert_eq!(asked, ["Q4: And now?"], "{room}");
    }
}

/// Announcements longer than a room takes are shortened there (with a
/// warning), leaving room for a late note; the transcript link keeps its
/// whole address; the same posts are whole where there is no limit.
#[tokio::test(start_paused = true)]
async fn long_posts_are_shortened_to_what_the_room_takes() {
    let (logs, _guard) = Logs::capture();
    let title = "A very long title ".repeat(30);
    let question = "Is this question long enough to be cut? ".repeat(15);
    let yaml = format!(
        r##"
timezone: Europe/London
zones: [Europe/London, America/New_York]
rooms: ["#debate:example.org", "#debate"]
debates:
  - id: long
    title: "{}"
    starts: 2011-11-01 20:00
    duration: 10m
    remind: []
    questions:
      - {{text: "{}", at: 1m}}
"##,
        title.trim(),
        question.trim()
    );
    let store = memory_store().await;
    let chat = TestChat::default();
    let limited = irc("debate");
    chat.with(|b| b.max.insert(limited.clone(), 300));
    // Q1 (20:01) goes out 90 s late, with its note.
    let bot = start(&store, &chat, "2011-11-01T20:02:30Z", &yaml).await;
    idle(&bot, Duration::from_secs(600)).await;
    let asked = hand(&bot, &limited, message("$t", "ann", "!transcript")).await;
    assert_eq!(asked, Receipt::Command);
    idle(&bot, Duration::from_secs(1)).await;
    bot.stop().await;
    let token = store.occurrences_of("long").await.unwrap()[0].token.clone();
    let link = format!("http://127.0.0.1:8080/transcripts/long/2011-11-01?key={token}");
    let bodies = chat.bodies(&limited);
    assert_eq!(bodies.len(), 4, "{bodies:#?}");
    for body in &bodies {
        assert!(
            body.chars().count() <= 300,
            "{} long: {body}",
            body.chars().count()
        );
    }
    let q1 = bodies.iter().find(|b| b.starts_with("Q1:")).unwrap();
    assert!(
        q1.ends_with("…  (posted late: this was due at 20:01 London · 16:01 New York)")
            || q1.ends_with("… (posted late: this was due at 20:01 London · 16:01 New York)"),
        "{q1}"
    );
    assert!(bodies.last().unwrap().ends_with(&link), "{bodies:#?}");
    let answer = chat.answer("$t").unwrap();
    assert!(
        answer.chars().count() <= 300 && answer.ends_with(&link),
        "{answer}"
    );
    // Whole in the room without a limit.
    let whole = chat.bodies(&matrix("debate"));
    assert!(
        whole.iter().any(|b| b.contains(question.trim())),
        "{whole:#?}"
    );
    let titled = whole.iter().filter(|b| b.contains(title.trim())).count();
    assert_eq!(titled, 3, "{whole:#?}");
    let warned = logs.lines("shortened", &[("room", &limited.to_string())]);
    assert_eq!(warned.len(), 4, "{}", logs.text());
}

// ---------------------------------------------------------------------------
// The intro (16.6): how to answer, said once, as each network allows.

/// The intro of `yaml`'s debate in each room of [`QUICK`]'s, where people
/// cannot reply on IRC.
async fn intros(yaml: &str) -> (String, String) {
    let store = memory_store().await;
    let chat = TestChat::default();
    chat.with(|b| b.no_replies.insert(irc("debate")));
    let bot = start(&store, &chat, "2011-11-01T19:59:59Z", yaml).await;
    idle(&bot, Duration::from_secs(2)).await;
    bot.stop().await;
    let intro = |room: Room| {
        chat.bodies(&room)
            .into_iter()
            .find(|b| b.contains("starts now"))
            .unwrap()
    };
    (intro(matrix("debate")), intro(irc("debate")))
}

#[tokio::test(start_paused = true)]
async fn the_intro_says_how_to_answer_once_and_as_each_network_allows() {
    let (matrix_intro, irc_intro) = intros(QUICK).await;
    assert!(
        matrix_intro.ends_with(
            "3 questions will follow as Q1, Q2…: answer by replying to a question, \
             or start your message with A1:, A2:…"
        ),
        "{matrix_intro}"
    );
    assert!(
        irc_intro.ends_with(
            "3 questions will follow as Q1, Q2…: answer by starting your message with A1:, A2:…"
        ),
        "{irc_intro}"
    );
    // An intro that says how to answer is not repeated.
    let told = QUICK.replace(
        "    duration: 10m\n",
        "    duration: 10m\n    intro: Welcome! Reply to a question, or start your answer with A1:, A2:...\n",
    );
    let (matrix_intro, irc_intro) = intros(&told).await;
    for intro in [&matrix_intro, &irc_intro] {
        assert!(
            intro.ends_with(
                "It runs for 10m. 3 questions will follow as Q1, Q2… Welcome! Reply to a \
                 question, or start your answer with A1:, A2:..."
            ),
            "{intro}"
        );
    }
    // One that does not, is.
    let silent = QUICK.replace(
        "    duration: 10m\n",
        "    duration: 10m\n    intro: Welcome, everyone.\n",
    );
    let (matrix_intro, _) = intros(&silent).await;
    assert!(
        matrix_intro.contains(
            "It runs for 10m. Welcome, everyone. 3 questions will follow as Q1, Q2…: answer by"
        ),
        "{matrix_intro}"
    );
}

/// A reload says which debate comes next, as `podium run` does at start.
#[tokio::test(start_paused = true)]
async fn a_reload_logs_the_next_debate() {
    let (logs, _guard) = Logs::capture();
    let store = memory_store().await;
    let chat = TestChat::default();
    let bot = start(&store, &chat, "2011-11-01T20:30:00Z", QUICK).await;
    idle(&bot, Duration::from_secs(1)).await;
    let later = QUICK
        .replace("id: quick", "id: later")
        .replace("2011-11-01 20:00", "2011-11-08 20:00");
    bot.schedule.send(schedule(&later)).unwrap();
    idle(&bot, Duration::from_secs(1)).await;
    bot.stop().await;
    let lines = logs.lines("next debate", &[("debate", "later")]);
    assert_eq!(lines.len(), 1, "{}", logs.text());
    assert!(
        lines[0].contains("at=Tue 8 Nov 2011 20:00 London · 15:00 New York"),
        "{}",
        lines[0]
    );
}

// ---------------------------------------------------------------------------
// Last calls (`last_call`): before each next question and the closing.

/// A ten-minute debate with a last call a minute before Q2 (20:03), Q3
/// (20:06) and the closing (20:09).
const CALLS: &str = r##"
timezone: Europe/London
zones: [Europe/London, America/New_York]
rooms: ["#debate:example.org", "#debate"]
organisers: ["@host:example.org"]
remind: []
last_call: 1m
debates:
  - id: calls
    title: Calls
    starts: 2011-11-01 20:00
    duration: 10m
    hashtag: "#SWSC"
    questions:
      - {text: One?, at: 1m}
      - {text: Two?, at: 4m}
      - {text: Three?, at: 7m}
"##;

/// The rooms of [`CALLS`].
fn both_rooms() -> [Room; 2] {
    [matrix("debate"), irc("debate")]
}

/// The stored posts of the [`CALLS`] debate of `kind`: room, number,
/// due time and status.
async fn stored(
    store: &Store,
    kind: PostKind,
) -> Vec<(
    String,
    i64,
    chrono::DateTime<chrono::Utc>,
    podium::store::PostStatus,
)> {
    let occ = store.occurrences_of("calls").await.unwrap()[0].clone();
    let mut rows: Vec<_> = store
        .posts(occ.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.kind == kind)
        .map(|p| (p.room, p.seq, p.due_at, p.status))
        .collect();
    rows.sort_by_key(|(r, seq, due, _)| (r.clone(), *due, *seq));
    rows
}

#[tokio::test(start_paused = true)]
async fn last_calls_come_before_each_question_and_the_closing() {
    let store = memory_store().await;
    let chat = TestChat::default();
    let started_at = Instant::now();
    let bot = start(&store, &chat, "2011-11-01T20:00:00Z", CALLS).await;
    idle(&bot, Duration::from_secs(11 * 60)).await;
    bot.stop().await;
    for room in both_rooms() {
        let bodies = chat.bodies(&room);
        assert_eq!(
            bodies[1..8],
            [
                "Q1: One? #SWSC",
                "Last call for Q1: the next question is in 1 minute #SWSC",
                "Q2: Two? #SWSC",
                "Last call for Q2: the next question is in 1 minute #SWSC",
                "Q3: Three? #SWSC",
                "Last call for Q3: the debate closes in 1 minute #SWSC",
                "That is the end of “Calls”. Thank you all for taking part! #SWSC",
            ],
            "{room}: {bodies:#?}"
        );
        assert_eq!(bodies.len(), 9, "{room}: {bodies:#?}");
    }
    // Handed to the network at 20:03, 20:06 and 20:09, in each room.
    let mut calls: Vec<(Room, u64)> = chat
        .handed(PostKind::LastCall)
        .into_iter()
        .map(|(room, _, at)| (room, at.duration_since(started_at).as_millis() as u64))
        .collect();
    calls.sort_by_key(|(r, ms)| (r.to_string(), *ms));
    let mut expected: Vec<(Room, u64)> = both_rooms()
        .into_iter()
        .flat_map(|r| [180_000, 360_000, 540_000].map(|ms| (r.clone(), ms)))
        .collect();
    expected.sort_by_key(|(r, ms)| (r.to_string(), *ms));
    assert_eq!(calls.len(), expected.len(), "{calls:?}");
    for ((room, ms), (want_room, want)) in calls.iter().zip(&expected) {
        assert_eq!(room, want_room);
        assert!(
            (*want..*want + 1_000).contains(ms),
            "a last call in {room} at {ms} ms, not {want}"
        );
    }
    // Claimed, sent and recorded like any post, numbered by what they
    // announce (0: the closing).
    let rows = stored(&store, PostKind::LastCall).await;
    let sent = podium::store::PostStatus::Sent;
    let mut want = Vec::new();
    for room in both_rooms() {
        for (seq, due) in [
            (2, "2011-11-01T20:03:00Z"),
            (3, "2011-11-01T20:06:00Z"),
            (0, "2011-11-01T20:09:00Z"),
        ] {
            want.push((room.to_string(), seq, utc(due), sent));
        }
    }
    want.sort_by_key(|(r, seq, due, _)| (r.clone(), *due, *seq));
    assert_eq!(rows, want);
}

/// A question `!skip` brought forward is not announced afterwards: its
/// last call is dropped (and the debate still finishes), and the next one
/// is for it.
#[tokio::test(start_paused = true)]
async fn a_skipped_question_gets_no_late_last_call() {
    let store = memory_store().await;
    let chat = TestChat::default();
    let mut bot = start(&store, &chat, "2011-11-01T20:00:00Z", CALLS).await;
    // 20:02: Q1 is out; Q2 comes now instead of at 20:04.
    idle(&bot, Duration::from_secs(120)).await;
    assert_eq!(
        hand(&bot, &matrix("debate"), message("$s", "host", "!skip")).await,
        Receipt::Command
    );
    idle(&bot, Duration::from_secs(9 * 60)).await;
    let mut finished = false;
    while let Ok(n) = bot.notices.try_recv() {
        finished |=
            matches!(n, podium::engine::Notice::Finished { ref debate, .. } if debate == "calls");
    }
    assert!(finished, "the debate never finished");
    bot.stop().await;
    for room in both_rooms() {
        let bodies = chat.bodies(&room);
        assert_eq!(
            bodies[1..7],
            [
                "Q1: One? #SWSC",
                "Q2: Two? #SWSC",
                "Last call for Q2: the next question is in 1 minute #SWSC",
                "Q3: Three? #SWSC",
                "Last call for Q3: the debate closes in 1 minute #SWSC",
                "That is the end of “Calls”. Thank you all for taking part! #SWSC",
            ],
            "{room}: {bodies:#?}"
        );
    }
    let numbers: Vec<i64> = stored(&store, PostKind::LastCall)
        .await
        .into_iter()
        .map(|(_, seq, _, _)| seq)
        .collect();
    assert_eq!(
        numbers,
        [3, 0, 3, 0],
        "no last call for Q2 was even claimed"
    );
}

/// After `!end` no last call comes: not Q3's, which is not asked, nor the
/// closing's, which is now.
#[tokio::test(start_paused = true)]
async fn no_last_call_after_end() {
    let store = memory_store().await;
    let chat = TestChat::default();
    let bot = start(&store, &chat, "2011-11-01T20:00:00Z", CALLS).await;
    // 20:05:30: Q2 and its last call are out; a last call a minute before
    // a closing said now would be 20:04:30, after Q2.
    idle(&bot, Duration::from_secs(330)).await;
    assert_eq!(
        hand(&bot, &matrix("debate"), message("$e", "host", "!end")).await,
        Receipt::Command
    );
    idle(&bot, Duration::from_secs(6 * 60)).await;
    bot.stop().await;
    for room in both_rooms() {
        let bodies = chat.bodies(&room);
        assert_eq!(
            bodies[1..5],
            [
                "Q1: One? #SWSC",
                "Last call for Q1: the next question is in 1 minute #SWSC",
                "Q2: Two? #SWSC",
                "That is the end of “Calls”. Thank you all for taking part! #SWSC",
            ],
            "{room}: {bodies:#?}"
        );
        assert_eq!(bodies.len(), 6, "{room}: {bodies:#?}");
        assert!(bodies[5].starts_with("The transcript of"), "{}", bodies[5]);
    }
    let numbers: Vec<i64> = stored(&store, PostKind::LastCall)
        .await
        .into_iter()
        .map(|(_, seq, _, _)| seq)
        .collect();
    assert_eq!(numbers, [2, 2]);
}

/// A restart sends no last call twice, skips one whose question is due
/// by then, and a late one says what is really left.
#[tokio::test(start_paused = true)]
async fn a_restart_repeats_no_last_call_and_skips_one_whose_moment_has_passed() {
    let store = memory_store().await;
    let chat = TestChat::default();
    // Down from 20:03:30 (Q2's last call sent) to 20:03:31.
    let bot = start(&store, &chat, "2011-11-01T20:00:00Z", CALLS).await;
    idle(&bot, Duration::from_secs(210)).await;
    bot.stop().await;
    let bot = start(&store, &chat, "2011-11-01T20:03:31Z", CALLS).await;
    idle(&bot, Duration::from_secs(40)).await;
    bot.stop().await;
    // Down from 20:04:11 to 20:07:30: Q3 (20:07) is due, so its last call
    // (20:06) is skipped.
    let bot = start(&store, &chat, "2011-11-01T20:07:30Z", CALLS).await;
    idle(&bot, Duration::from_secs(60)).await;
    bot.stop().await;
    // Down from 20:08:30 to 20:09:20: the closing's last call (20:09) goes
    // out 20 seconds late, saying so in what it says is left.
    let bot = start(&store, &chat, "2011-11-01T20:09:20Z", CALLS).await;
    idle(&bot, Duration::from_secs(120)).await;
    bot.stop().await;
    for room in both_rooms() {
        let bodies = chat.bodies(&room);
        let calls: Vec<&String> = bodies
            .iter()
            .filter(|b| b.starts_with("Last call"))
            .collect();
        assert_eq!(
            calls,
            [
                "Last call for Q1: the next question is in 1 minute #SWSC",
                "Last call for Q3: the debate closes in less than a minute #SWSC",
            ],
            "{room}: {bodies:#?}"
        );
    }
    let skipped = podium::store::PostStatus::Skipped;
    let rows = stored(&store, PostKind::LastCall).await;
    for room in both_rooms() {
        let here: Vec<(i64, podium::store::PostStatus)> = rows
            .iter()
            .filter(|(r, ..)| *r == room.to_string())
            .map(|(_, seq, _, status)| (*seq, *status))
            .collect();
        let sent = podium::store::PostStatus::Sent;
        assert_eq!(here, [(2, sent), (3, skipped), (0, sent)], "{room}");
    }
}

/// A last call is for the latest question asked in the room: an extra
/// question asked with `!ask` after Q1 is the one called before Q2.
#[tokio::test(start_paused = true)]
async fn a_last_call_is_for_the_latest_question_asked() {
    let store = memory_store().await;
    let chat = TestChat::default();
    let bot = start(&store, &chat, "2011-11-01T20:00:00Z", CALLS).await;
    idle(&bot, Duration::from_secs(120)).await;
    assert_eq!(
        hand(&bot, &irc("debate"), message("$a", "host", "!ask Extra?")).await,
        Receipt::Command
    );
    idle(&bot, Duration::from_secs(150)).await;
    bot.stop().await;
    for room in both_rooms() {
        let bodies = chat.bodies(&room);
        assert_eq!(
            bodies[1..5],
            [
                "Q1: One? #SWSC",
                "Q4: Extra? #SWSC",
                "Last call for Q4: the next question is in 1 minute #SWSC",
                "Q2: Two? #SWSC",
            ],
            "{room}: {bodies:#?}"
        );
    }
}

/// A last call that failed and waits for its retry is dropped when its
/// question goes out first.
#[tokio::test(start_paused = true)]
async fn a_last_call_waiting_for_a_retry_is_dropped_once_its_question_is_out() {
    let store = memory_store().await;
    let chat = TestChat::default();
    let bot = start(&store, &chat, "2011-11-01T20:00:00Z", CALLS).await;
    idle(&bot, Duration::from_secs(179)).await;
    // Both rooms' last calls at 20:03 fail for now (retried 10 s later).
    chat.log.fail_next(2);
    idle(&bot, Duration::from_secs(4)).await;
    assert_eq!(
        hand(&bot, &matrix("debate"), message("$s", "host", "!skip")).await,
        Receipt::Command
    );
    idle(&bot, Duration::from_secs(60)).await;
    bot.stop().await;
    for room in both_rooms() {
        let bodies = chat.bodies(&room);
        assert_eq!(
            bodies[1..3],
            ["Q1: One? #SWSC", "Q2: Two? #SWSC"],
            "{room}: {bodies:#?}"
        );
        assert!(
            !bodies.iter().any(|b| b.starts_with("Last call")),
            "{room}: {bodies:#?}"
        );
    }
    let skipped = podium::store::PostStatus::Skipped;
    let rows: Vec<(i64, podium::store::PostStatus)> = stored(&store, PostKind::LastCall)
        .await
        .into_iter()
        .map(|(_, seq, _, status)| (seq, status))
        .collect();
    assert_eq!(rows, [(2, skipped), (2, skipped)]);
}

// ---------------------------------------------------------------------------
// `!extend` (issue 19, point 4).

/// When each post of `kind` was handed to the network in `room`, in
/// seconds after `t0`.
fn handed_at(chat: &TestChat, kind: PostKind, room: &Room, t0: Instant) -> Vec<u64> {
    let mut at: Vec<u64> = chat
        .handed(kind)
        .into_iter()
        .filter(|(r, _, _)| r == room)
        .map(|(_, _, at)| at.duration_since(t0).as_secs())
        .collect();
    at.sort_unstable();
    at
}

/// `!extend 5m` at 20:02: Q1 (20:01) stays where it was; the last calls,
/// Q2, Q3, the closing and the link come 5 minutes later; an answer sent
/// after the debate's planned end is still filed under its question; the
/// stored duration (what the transcript reads) grows.
#[tokio::test(start_paused = true)]
async fn extend_moves_only_what_is_still_to_come() {
    let store = memory_store().await;
    let chat = TestChat::default();
    let t0 = Instant::now();
    let bot = start(&store, &chat, "2011-11-01T20:00:00Z", CALLS).await;
    idle(&bot, Duration::from_secs(120)).await;
    let answers = ask_all(&bot, &chat, &[(&irc("debate"), "$x", "host", "!extend 5m")]).await;
    let answer = answers["$x"].clone().expect("an answer to !extend");
    assert_eq!(
        answer,
        "“Calls” goes on 5 minutes longer: what is still to come moves with it, and it now \
         closes Tue 1 Nov 2011 20:15 London · 16:15 New York (note: clocks change on \
         different dates: New York is 4 hours behind London this week, not the usual 5)."
    );
    // 20:13: after the planned end (20:10) and its last call, an answer.
    idle(&bot, Duration::from_secs(11 * 60)).await;
    assert!(
        matches!(
            hand(
                &bot,
                &matrix("debate"),
                message("$late", "ann", "A3: still on")
            )
            .await,
            Receipt::Saved {
                question: Some(3),
                ..
            }
        ),
        "an answer after the planned end is still collected"
    );
    idle(&bot, Duration::from_secs(3 * 60)).await;
    bot.stop().await;
    for room in both_rooms() {
        assert_eq!(
            handed_at(&chat, PostKind::Question, &room, t0),
            [60, 540, 720],
            "{room}: Q1 at 20:01, Q2 at 20:09, Q3 at 20:12"
        );
        assert_eq!(
            handed_at(&chat, PostKind::LastCall, &room, t0),
            [480, 660, 840],
            "{room}"
        );
        assert_eq!(handed_at(&chat, PostKind::Closing, &room, t0), [900]);
        assert_eq!(handed_at(&chat, PostKind::Transcript, &room, t0), [900]);
        let bodies = chat.bodies(&room);
        assert!(
            bodies.contains(&"Last call for Q1: the next question is in 1 minute #SWSC".into()),
            "{room}: {bodies:#?}"
        );
    }
    let occ = store.occurrences_of("calls").await.unwrap()[0].clone();
    assert_eq!(occ.duration, Some(chrono::Duration::minutes(15)));
    let replies = store.replies(occ.id).await.unwrap();
    let late: Vec<_> = replies
        .iter()
        .filter(|r| r.body == "A3: still on")
        .collect();
    assert_eq!(late.len(), 1, "{replies:#?}");
    assert_eq!(late[0].question, Some(3));
}

/// Extensions are stored: a restart (the store's copy) keeps them, and a
/// second one adds to the first.
#[tokio::test(start_paused = true)]
async fn a_restart_keeps_the_extensions() {
    let store = memory_store().await;
    let chat = TestChat::default();
    let t0 = Instant::now();
    let bot = start(&store, &chat, "2011-11-01T20:00:00Z", CALLS).await;
    idle(&bot, Duration::from_secs(120)).await;
    ask_all(
        &bot,
        &chat,
        &[(&matrix("debate"), "$x", "host", "!extend 2m")],
    )
    .await;
    bot.stop().await;
    // Down a second; then Q2 at 20:06, and 3 more minutes said at 20:07.
    let bot = start(&store, &chat, "2011-11-01T20:02:01Z", CALLS).await;
    idle(&bot, Duration::from_secs(299)).await;
    ask_all(
        &bot,
        &chat,
        &[(&matrix("debate"), "$y", "host", "!extend 3m")],
    )
    .await;
    idle(&bot, Duration::from_secs(10 * 60)).await;
    bot.stop().await;
    for room in both_rooms() {
        // Q1 20:01, Q2 20:06, Q3 20:09 + 3 = 20:12, the closing 20:15
        // (the restarted clock's seconds count from 20:02:01).
        let q: Vec<u64> = handed_at(&chat, PostKind::Question, &room, t0);
        assert_eq!(q.len(), 3, "{room}: {q:?}");
        assert_eq!(q[0], 60, "{room}");
        let closing = handed_at(&chat, PostKind::Closing, &room, t0);
        assert_eq!(closing.len(), 1, "{room}");
        let posts = chat.bodies(&room);
        assert_eq!(
            posts.iter().filter(|b| b.starts_with("Q2:")).count(),
            1,
            "{room}: {posts:#?}"
        );
    }
    let occ = store.occurrences_of("calls").await.unwrap()[0].clone();
    assert_eq!(occ.duration, Some(chrono::Duration::minutes(15)));
    let due: Vec<_> = stored(&store, PostKind::Question)
        .await
        .into_iter()
        .filter(|(r, ..)| *r == matrix("debate").to_string())
        .map(|(_, _, due, _)| due)
        .collect();
    assert_eq!(
        due,
        [
            utc("2011-11-01T20:01:00Z"),
            utc("2011-11-01T20:06:00Z"),
            utc("2011-11-01T20:12:00Z")
        ]
    );
    let closing: Vec<_> = stored(&store, PostKind::Closing)
        .await
        .into_iter()
        .map(|(_, _, due, _)| due)
        .collect();
    assert_eq!(closing, [utc("2011-11-01T20:15:00Z"); 2]);
}

/// Who may extend, and by how much.
#[tokio::test(start_paused = true)]
async fn extend_is_for_organisers_while_a_debate_runs_and_is_bounded() {
    let store = memory_store().await;
    let chat = TestChat::default();
    let bot = start(&store, &chat, "2011-11-01T19:59:00Z", CALLS).await;
    let debate = matrix("debate");
    let answers = ask_all(&bot, &chat, &[(&debate, "$early", "host", "!extend 5m")]).await;
    assert_eq!(
        answers["$early"].as_deref(),
        Some("No debate is running in this room.")
    );
    idle(&bot, Duration::from_secs(120)).await;
    let answers = ask_all(
        &bot,
        &chat,
        &[
            (&debate, "$ann", "ann", "!extend 5m"),
            (&debate, "$big", "host", "!extend 3h"),
            (&debate, "$a", "host", "!extend 2h"),
        ],
    )
    .await;
    assert!(
        answers["$ann"]
            .as_deref()
            .is_some_and(|a| a.contains("only the organisers")),
        "{answers:?}"
    );
    assert_eq!(
        answers["$big"].as_deref(),
        Some("`!extend` takes from 10 seconds to 2 hours at a time, such as !extend 5m")
    );
    assert!(
        answers["$a"]
            .as_deref()
            .is_some_and(|a| a.contains("goes on 2 hours longer"))
    );
    for (i, id) in ["$b", "$c"].into_iter().enumerate() {
        tokio::time::sleep(Duration::from_secs(1 + i as u64)).await;
        let a = ask_all(&bot, &chat, &[(&debate, id, "host", "!extend 2h")]).await;
        assert!(
            a[id].as_deref().is_some_and(|a| a.contains("longer")),
            "{a:?}"
        );
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let answers = ask_all(&bot, &chat, &[(&debate, "$d", "host", "!extend 10s")]).await;
    assert_eq!(
        answers["$d"].as_deref(),
        Some("“Calls” has been extended by 6 hours already; it can be by 6 hours in all.")
    );
    bot.stop().await;
    let occ = store.occurrences_of("calls").await.unwrap()[0].clone();
    assert_eq!(occ.duration, Some(chrono::Duration::minutes(6 * 60 + 10)));
}

// ---------------------------------------------------------------------------
// `!tz` (issue 19, point 3).

/// A weekly debate at 14:00 New York; Berlin changes to summer time on
/// 29 March 2026, New York did on 8 March.
const WEEKLY_NY: &str = r##"
timezone: America/New_York
zones: [America/New_York, Europe/London]
remind: []
debates:
  - id: weekly
    title: Weekly
    starts: 2026-03-24 14:00
    duration: 1h
    repeat: weekly
    rooms: ["#debate:example.org"]
    questions: [One?]
"##;

#[tokio::test(start_paused = true)]
async fn next_shows_my_own_time_across_a_dst_change() {
    let store = memory_store().await;
    let chat = TestChat::default();
    let room = matrix("debate");
    let bot = start(&store, &chat, "2026-03-24T12:00:00Z", WEEKLY_NY).await;
    let a = ask_all(
        &bot,
        &chat,
        &[
            (&room, "$show", "ann", "!tz"),
            (&room, "$set", "ann", "!tz Europe/Berlin"),
            (&room, "$next", "ann", "!next"),
            (&room, "$bob", "bob", "!next"),
        ],
    )
    .await;
    assert_eq!(
        a["$show"].as_deref(),
        Some("You have not set a time zone; say !tz Europe/Berlin, for example.")
    );
    assert_eq!(
        a["$set"].as_deref(),
        Some(
            "Your time zone is now Europe/Berlin (it is Tue 24 Mar 13:00 CET (Berlin) there). \
             !next shows your time too; !tz clear forgets it."
        )
    );
    let next = a["$next"].clone().unwrap();
    assert!(
        next.ends_with("(your time: Tue 24 Mar 19:00 CET (Berlin))"),
        "{next}"
    );
    // Only the sender's own zone: bob set none.
    assert!(
        !a["$bob"].as_deref().unwrap().contains("your time"),
        "{a:?}"
    );
    bot.stop().await;

    // A day later the next one is on the 31st: 14:00 in New York still,
    // and Berlin is on summer time by then.
    let bot = start(&store, &chat, "2026-03-25T12:00:00Z", WEEKLY_NY).await;
    let a = ask_all(
        &bot,
        &chat,
        &[
            (&room, "$next2", "ann", "!next"),
            (&room, "$london", "bob", "!tz Europe/London"),
            (&room, "$bobnext", "bob", "!next"),
            (&room, "$clear", "ann", "!tz clear"),
            (&room, "$again", "ann", "!tz clear"),
            (&room, "$next3", "ann", "!next"),
        ],
    )
    .await;
    let next = a["$next2"].clone().unwrap();
    assert!(next.contains("Tue 31 Mar 2026 14:00"), "{next}");
    assert!(
        next.ends_with("(your time: Tue 31 Mar 20:00 CEST (Berlin))"),
        "{next}"
    );
    // A zone the debate shows already is not repeated.
    assert!(
        !a["$bobnext"].as_deref().unwrap().contains("your time"),
        "{a:?}"
    );
    assert_eq!(a["$clear"].as_deref(), Some("Forgotten: your time zone."));
    assert_eq!(a["$again"].as_deref(), Some("You had no time zone set."));
    assert!(
        !a["$next3"].as_deref().unwrap().contains("your time"),
        "{a:?}"
    );
    bot.stop().await;
}

// ---------------------------------------------------------------------------
// Questions from the floor (issue 19, point 1).

/// A message from IRC nick `nick`: logged in to the account of that name,
/// or not (then anyone could have taken the nick).
fn irc_message(id: &str, nick: &str, body: &str, logged_in: bool) -> Event {
    Event::Message {
        id: id.to_owned(),
        sender: Sender {
            id: if logged_in {
                format!("irc:{nick}")
            } else {
                format!("irc:~{nick}")
            },
            name: nick.to_owned(),
            verified: logged_in,
        },
        body: body.to_owned(),
        in_reply_to: None,
        server_ts: None,
        action: false,
    }
}

/// Hands each IRC message over and returns the answers by id.
async fn ask_irc(
    bot: &Bot,
    chat: &TestChat,
    room: &Room,
    commands: &[(&str, &str, &str, bool)],
) -> HashMap<String, Option<String>> {
    for (id, nick, body, logged_in) in commands {
        assert_eq!(
            hand(bot, room, irc_message(id, nick, body, *logged_in)).await,
            Receipt::Command
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    commands
        .iter()
        .map(|(id, _, _, _)| ((*id).to_owned(), chat.answer(id)))
        .collect()
}

fn said<'a>(answers: &'a HashMap<String, Option<String>>, id: &str) -> &'a str {
    answers[id]
        .as_deref()
        .unwrap_or_else(|| panic!("no answer to {id}: {answers:?}"))
}

#[tokio::test(start_paused = true)]
async fn proposals_are_numbered_across_rooms_voted_once_and_the_top_one_asked() {
    let store = memory_store().await;
    let chat = TestChat::default();
    let bot = start(&store, &chat, "2011-11-01T20:00:10Z", CALLS).await;
    idle(&bot, Duration::from_secs(1)).await;
    let [m, i] = both_rooms();
    let a = ask_all(
        &bot,
        &chat,
        &[
            (
                &m,
                "$p1",
                "ann",
                "!propose  What would\nyou \u{202E}change first?  ",
            ),
            (&m, "$again", "ann", "!propose Another?"),
        ],
    )
    .await;
    assert_eq!(
        said(&a, "$p1"),
        "Proposed as P1: “What would you change first?”. Vote for it with !vote P1 or a 👍 on \
         this message."
    );
    assert_eq!(
        said(&a, "$again"),
        "ann, your proposal P1 (“What would you change first?”) is still open: one each at \
         a time, until an organiser asks it."
    );
    // Numbers are shared by the debate's rooms on both networks.
    let a = ask_irc(
        &bot,
        &chat,
        &i,
        &[
            ("i-p2", "bob", "!propose Who decides?", true),
            ("i-anon", "mallory", "!vote P2", false),
            ("i-own", "bob", "!vote P2", true),
        ],
    )
    .await;
    assert_eq!(
        said(&a, "i-p2"),
        "Proposed as P2: “Who decides?”. Vote for it with !vote P2."
    );
    assert_eq!(
        said(&a, "i-anon"),
        "mallory, votes are counted by account here: log in to your account on this \
         network (NickServ), then vote again."
    );
    assert_eq!(
        said(&a, "i-own"),
        "P2 is your own proposal; your vote goes to someone else's."
    );
    // Within the room's limit of commands (10 in 6 s).
    idle(&bot, Duration::from_secs(7)).await;
    let a = ask_all(
        &bot,
        &chat,
        &[
            (&m, "$cat", "cat", "!vote P2"),
            (&m, "$cat2", "cat", "!vote p2"),
            (&m, "$ann", "ann", "!vote 2"),
            (&m, "$none", "dan", "!vote P9"),
            (&m, "$back", "cat", "!unvote P2"),
            (&m, "$back2", "cat", "!unvote P2"),
            (&m, "$cat3", "cat", "!vote P2"),
            (&m, "$list", "dan", "!proposals"),
            (&m, "$notyou", "ann", "!ask top"),
        ],
    )
    .await;
    assert_eq!(said(&a, "$cat"), "Your vote for P2 is counted: 1 vote.");
    assert_eq!(
        said(&a, "$cat2"),
        "You have voted for P2 already (1 vote); one vote each."
    );
    assert_eq!(said(&a, "$ann"), "Your vote for P2 is counted: 2 votes.");
    assert_eq!(
        said(&a, "$none"),
        "There is no P9 in this debate; !proposals lists them."
    );
    assert_eq!(said(&a, "$back"), "Your vote for P2 is taken back: 1 vote.");
    assert_eq!(said(&a, "$back2"), "You had not voted for P2.");
    assert_eq!(said(&a, "$cat3"), "Your vote for P2 is counted: 2 votes.");
    assert_eq!(
        said(&a, "$list"),
        "Open proposals, most votes first (2 in all; vote with !vote P1):\n\
         P2 (2 votes): Who decides? — bob\n\
         P1 (0 votes): What would you change first? — ann"
    );
    assert!(said(&a, "$notyou").contains("only the organisers"), "{a:?}");
    idle(&bot, Duration::from_secs(7)).await;
    let a = ask_all(
        &bot,
        &chat,
        &[
            (&m, "$top", "host", "!ask top"),
            (&m, "$twice", "host", "!ask P2"),
        ],
    )
    .await;
    assert_eq!(said(&a, "$top"), "Asked P2 as Q4.");
    assert_eq!(said(&a, "$twice"), "P2 was asked already, as Q4.");
    // Once asked, a proposal is no longer open: its proposer may propose again.
    let a = ask_irc(
        &bot,
        &chat,
        &i,
        &[("i-p3", "bob", "!propose And then?", true)],
    )
    .await;
    assert_eq!(
        said(&a, "i-p3"),
        "Proposed as P3: “And then?”. Vote for it with !vote P3."
    );
    let a = ask_all(&bot, &chat, &[(&m, "$p1q", "host", "!ask P1")]).await;
    assert_eq!(said(&a, "$p1q"), "Asked P1 as Q5.");
    idle(&bot, Duration::from_secs(1)).await;
    bot.stop().await;
    for room in [&m, &i] {
        let asked: Vec<String> = chat
            .bodies(room)
            .into_iter()
            .filter(|b| b.starts_with("Q4") || b.starts_with("Q5"))
            .collect();
        assert_eq!(
            asked,
            [
                "Q4: Who decides? (proposed by bob) #SWSC",
                "Q5: What would you change first? (proposed by ann) #SWSC"
            ],
            "{room}"
        );
    }
    let occ = store.occurrences_of("calls").await.unwrap()[0].clone();
    let kept: Vec<(i64, String, String, i64, Option<i64>)> = store
        .proposals(occ.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.number, p.text, p.proposer_id, p.votes, p.asked_as))
        .collect();
    assert_eq!(
        kept,
        [
            (
                1,
                "What would you change first?".to_owned(),
                "@ann:example.org".to_owned(),
                0,
                Some(5)
            ),
            (
                2,
                "Who decides?".to_owned(),
                "irc:bob".to_owned(),
                2,
                Some(4)
            ),
            (3, "And then?".to_owned(), "irc:bob".to_owned(), 0, None),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn proposals_need_a_running_debate_and_a_length_that_can_be_asked() {
    let store = memory_store().await;
    let chat = TestChat::default();
    chat.with(|b| b.max.insert(irc("debate"), 200));
    let bot = start(&store, &chat, "2011-11-01T19:59:00Z", CALLS).await;
    let m = matrix("debate");
    let a = ask_all(
        &bot,
        &chat,
        &[
            (&m, "$early", "ann", "!propose Why?"),
            (&m, "$list", "ann", "!proposals"),
            (&m, "$vote", "ann", "!vote P1"),
            (&m, "$ask", "host", "!ask top"),
        ],
    )
    .await;
    for id in ["$early", "$list", "$vote", "$ask"] {
        assert_eq!(
            said(&a, id),
            "Proposals are taken while a debate runs in this room.",
            "{id}"
        );
    }
    idle(&bot, Duration::from_secs(70)).await;
    let essay = "Why? ".repeat(57);
    let long = "x".repeat(190);
    let a = ask_all(
        &bot,
        &chat,
        &[
            (&m, "$none", "ann", "!proposals"),
            (&m, "$top", "host", "!ask top"),
            (&m, "$essay", "ann", &format!("!propose {essay}")),
            (&m, "$long", "ann", &format!("!propose {long}")),
            (&m, "$blank", "ann", "!propose \u{202E}\u{2066}"),
        ],
    )
    .await;
    assert_eq!(
        said(&a, "$none"),
        "No questions proposed yet: propose one with !propose TEXT."
    );
    assert_eq!(said(&a, "$top"), "There is no open proposal to ask.");
    assert_eq!(
        said(&a, "$essay"),
        "That proposal is too long: at most 280 characters, and it has 284. Nothing was \
         proposed."
    );
    // "Q4: " and the hashtag, and the credit, must fit in IRC's 200.
    let credit = " (proposed by ann)".chars().count();
    let allowed = 200 - "Q4: ".len() - " #SWSC".len() - credit;
    assert_eq!(
        said(&a, "$long"),
        format!(
            "That proposal is too long for this debate's rooms once credited to you: at most \
             {allowed} characters, and it has 190. Nothing was proposed."
        )
    );
    assert_eq!(
        said(&a, "$blank"),
        "`!propose` needs the question: !propose What would you change first?"
    );
    bot.stop().await;
    let occ = store.occurrences_of("calls").await.unwrap()[0].clone();
    assert!(store.proposals(occ.id).await.unwrap().is_empty());
}

/// A reaction from `who` with `key` to message `target`.
fn reaction(id: &str, who: &str, target: &str, key: &str) -> Event {
    Event::Reaction {
        id: id.to_owned(),
        sender: Sender {
            id: format!("@{who}:example.org"),
            name: who.to_owned(),
            verified: true,
        },
        target: target.to_owned(),
        key: key.to_owned(),
        server_ts: None,
    }
}

/// A deletion by `who` of message `target`.
fn deletion(who: &str, target: &str) -> Event {
    Event::Delete {
        target: target.to_owned(),
        sender: Sender {
            id: format!("@{who}:example.org"),
            name: who.to_owned(),
            verified: true,
        },
        moderator: false,
        server_ts: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_thumbs_up_is_a_vote_and_a_deletion_takes_back_the_vote_or_the_proposal() {
    let store = memory_store().await;
    let chat = TestChat::default();
    let bot = start(&store, &chat, "2011-11-01T20:00:10Z", CALLS).await;
    idle(&bot, Duration::from_secs(1)).await;
    let m = matrix("debate");
    ask_all(
        &bot,
        &chat,
        &[
            (&m, "$p1", "ann", "!propose Why?"),
            (&m, "$p2", "bob", "!propose Who?"),
        ],
    )
    .await;
    let votes = async || -> Vec<(i64, i64)> {
        let occ = store.occurrences_of("calls").await.unwrap()[0].clone();
        let mut all = store.proposals(occ.id).await.unwrap();
        all.retain(|p| p.withdrawn_at.is_none());
        all.iter().map(|p| (p.number, p.votes)).collect()
    };
    let stored = Receipt::Updated;
    let not_a_vote = Receipt::Ignored("a reaction that is not a vote or a registration");
    assert_eq!(
        hand(&bot, &m, reaction("$r1", "cat", "$p1", "👍🏾")).await,
        stored
    );
    assert_eq!(
        hand(&bot, &m, reaction("$r2", "cat", "$p1", "👍")).await,
        not_a_vote,
        "once"
    );
    assert_eq!(
        hand(&bot, &m, reaction("$r3", "ann", "$p1", "👍")).await,
        not_a_vote,
        "own"
    );
    assert_eq!(
        hand(&bot, &m, reaction("$r4", "dan", "$p1", "❤️")).await,
        not_a_vote
    );
    assert_eq!(
        hand(&bot, &m, reaction("$r5", "dan", "$p2", "👍")).await,
        stored
    );
    assert_eq!(votes().await, [(1, 1), (2, 1)]);
    // Someone else's deletion of the reaction changes nothing; the voter's
    // takes the vote back.
    let not_theirs = Receipt::Ignored("no stored reply has that id");
    assert_eq!(hand(&bot, &m, deletion("ann", "$r1")).await, not_theirs);
    assert_eq!(hand(&bot, &m, deletion("cat", "$r1")).await, stored);
    assert_eq!(votes().await, [(1, 0), (2, 1)]);
    // The proposer deleting the `!propose` message withdraws the proposal.
    assert_eq!(hand(&bot, &m, deletion("bob", "$p2")).await, stored);
    assert_eq!(votes().await, [(1, 0)]);
    idle(&bot, Duration::from_secs(7)).await;
    let a = ask_all(
        &bot,
        &chat,
        &[
            (&m, "$vote", "dan", "!vote P2"),
            (&m, "$ask", "host", "!ask P2"),
            (&m, "$list", "dan", "!proposals"),
            (&m, "$again", "bob", "!propose Who, then?"),
        ],
    )
    .await;
    assert_eq!(said(&a, "$vote"), "P2 was withdrawn by its proposer.");
    assert_eq!(said(&a, "$ask"), "P2 was withdrawn by its proposer.");
    assert!(
        said(&a, "$list").ends_with("P1 (0 votes): Why? — ann"),
        "{a:?}"
    );
    assert!(said(&a, "$again").starts_with("Proposed as P3:"), "{a:?}");
    bot.stop().await;
}

// ---------------------------------------------------------------------------
// `!forget` (issue 19, point 6).

#[tokio::test(start_paused = true)]
async fn forget_erases_everything_of_the_sender_once_confirmed() {
    let store = memory_store().await;
    let chat = TestChat::default();
    let bot = start(&store, &chat, "2011-11-01T20:00:50Z", CALLS).await;
    idle(&bot, Duration::from_secs(15)).await;
    let m = matrix("debate");
    let i = irc("debate");
    // After Q1 (20:01): Ann and Bob answer, Ann proposes, votes, sets a zone.
    hand(&bot, &m, message("$a1", "ann", "A1: mine, to be forgotten")).await;
    hand(&bot, &m, message("$b1", "bob", "A1: bob's stays")).await;
    let a = ask_all(
        &bot,
        &chat,
        &[
            (&m, "$pb", "bob", "!propose Who stays?"),
            (&m, "$pa", "ann", "!propose Who goes?"),
            (&m, "$v", "ann", "!vote P1"),
            (&m, "$tz", "ann", "!tz Europe/Berlin"),
            (&m, "$early", "ann", "!forget confirm"),
        ],
    )
    .await;
    assert_eq!(
        said(&a, "$early"),
        "Say !forget first: it tells you what goes, then !forget confirm within 5 minutes \
         removes it."
    );
    idle(&bot, Duration::from_secs(7)).await;
    let a = ask_irc(&bot, &chat, &i, &[("i-f", "mallory", "!forget", false)]).await;
    assert!(
        said(&a, "i-f").contains("!forget needs to know it is you"),
        "{a:?}"
    );
    // Her proposal is asked (crediting her); she proposes another.
    let a = ask_all(
        &bot,
        &chat,
        &[
            (&m, "$askp", "host", "!ask P2"),
            (&m, "$pa2", "ann", "!propose Who else?"),
        ],
    )
    .await;
    assert_eq!(said(&a, "$askp"), "Asked P2 as Q4.");
    assert!(said(&a, "$pa2").starts_with("Proposed as P3"), "{a:?}");
    idle(&bot, Duration::from_secs(13)).await;
    let a = ask_all(
        &bot,
        &chat,
        &[
            (&m, "$ask", "ann", "!forget"),
            (&m, "$nothing", "dan", "!forget"),
        ],
    )
    .await;
    // The commands she gave are in the room's raw log (!propose twice,
    // !vote, !tz), but not `!forget`: it would keep her name.
    assert_eq!(
        said(&a, "$ask"),
        "Podium holds these of yours: 1 answer, 4 other messages, 2 proposals, 1 vote and your \
         time zone. To remove all of it from the store and every transcript (pages will say \
         an answer was withdrawn, without its text or your name), say !forget confirm within 5 \
         minutes."
    );
    assert_eq!(said(&a, "$nothing"), "Podium holds nothing of yours.");
    idle(&bot, Duration::from_secs(60)).await;
    let a = ask_all(&bot, &chat, &[(&m, "$yes", "ann", "!forget confirm")]).await;
    assert_eq!(
        said(&a, "$yes"),
        "Removed: 1 answer, 4 other messages, 2 proposals, 1 vote and your time zone."
    );
    let a = ask_all(&bot, &chat, &[(&m, "$again", "ann", "!forget")]).await;
    assert_eq!(said(&a, "$again"), "Podium holds nothing of yours.");
    bot.stop().await;

    let occ = store.occurrences_of("calls").await.unwrap()[0].clone();
    let now = support::utc("2011-11-01T22:00:00Z");
    let t = podium::transcript::build(&store, &occ, now).await.unwrap();
    let q1 = &t.questions[0];
    let bodies: Vec<&str> = q1.replies.iter().map(|r| r.body.as_str()).collect();
    assert_eq!(bodies, ["A1: bob's stays"]);
    assert_eq!(q1.withdrawn, 1);
    let md = t.render(podium::transcript::Format::Md);
    assert!(md.contains("_1 answer was withdrawn._"), "{md}");
    for view in [
        md,
        t.render(podium::transcript::Format::Json),
        t.render(podium::transcript::Format::Html),
    ] {
        assert!(!view.contains("ann"), "{view}");
        assert!(!view.contains("to be forgotten"), "{view}");
        assert!(!view.contains("Who else?"), "{view}");
    }
    let floor: Vec<(u32, u32, &str)> = t
        .proposals
        .iter()
        .map(|p| (p.number, p.votes, p.proposer.as_str()))
        .collect();
    assert_eq!(
        floor,
        [
            (1, 0, "bob"),
            (2, 0, "a participant who has since been forgotten")
        ],
        "her open proposal withdrawn, her vote gone, the asked one without her"
    );
    let q4 = t.questions.iter().find(|q| q.number == 4).expect("Q4");
    assert_eq!(q4.text, "Who goes?", "the question stays, without her name");
    assert_eq!(store.zone_of("@ann:example.org", now).await.unwrap(), None);
    assert!(store.holdings("@ann:example.org").await.unwrap().is_empty());
    assert!(!store.holdings("@bob:example.org").await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------
// Ad-hoc debates (issue 19, point 7).

#[tokio::test(start_paused = true)]
async fn an_adhoc_debate_runs_to_its_transcript_across_a_restart() {
    let store = memory_store().await;
    let chat = TestChat::default();
    let lobby = matrix("lobby");
    let debate_room = matrix("debate");
    // 19:50: the scheduled debate in its room is too close for one.
    let bot = start(&store, &chat, "2011-11-01T19:50:00Z", CALLS).await;
    let a = ask_all(
        &bot,
        &chat,
        &[
            (&debate_room, "$soon", "host", "!debate Too late"),
            (&lobby, "$ann", "ann", "!debate Mine"),
        ],
    )
    .await;
    assert_eq!(
        said(&a, "$soon"),
        "A scheduled debate starts here within a quarter of an hour: start it now with !start \
         instead."
    );
    assert!(said(&a, "$ann").contains("only the organisers"), "{a:?}");
    idle(&bot, Duration::from_secs(60)).await;
    bot.stop().await;

    let bot = start(&store, &chat, "2011-11-01T21:00:00Z", CALLS).await;
    let a = ask_all(
        &bot,
        &chat,
        &[(&lobby, "$start", "host", "!debate  Mentors\nand   mentees ")],
    )
    .await;
    // Four hours at most, in every zone of the top of the file.
    let started = said(&a, "$start");
    assert!(
        started.starts_with(
            "Starting “Mentors and mentees” now, as adhoc-lobby-example-org-20111101-210000; \
             it closes with !end, or Wed 2 Nov 2011 01:00 London · Tue 21:00 New York"
        ) && started.ends_with(" at the latest."),
        "{started}"
    );
    idle(&bot, Duration::from_secs(1)).await;
    let intro = chat.bodies(&lobby);
    assert!(
        intro[0].starts_with("“Mentors and mentees” starts now: Tue 1 Nov 2011 21:00 London")
            && intro[0].contains(
                "It runs until !end, 4h at most. An ad-hoc debate: organisers ask the questions \
                 with !ask, anyone may propose one with !propose, and !end closes it. Questions \
                 will follow as Q1, Q2…: answer by replying to a question, or start your \
                 message with A1:, A2:…"
            ),
        "{intro:?}"
    );
    let a = ask_all(
        &bot,
        &chat,
        &[
            (&lobby, "$again", "host", "!debate Another"),
            (&lobby, "$q1", "host", "!ask What makes a good mentor?"),
        ],
    )
    .await;
    assert_eq!(
        said(&a, "$again"),
        "“Mentors and mentees” is running in this room; !end it first."
    );
    assert_eq!(said(&a, "$q1"), "Asked as Q1.");
    let receipt = hand(&bot, &lobby, message("$a1", "ann", "A1: patience")).await;
    assert!(
        matches!(
            receipt,
            Receipt::Saved {
                question: Some(1),
                ..
            }
        ),
        "{receipt:?}"
    );
    idle(&bot, Duration::from_secs(1)).await;
    bot.stop().await;

    // A restart carries on with it.
    let bot = start(&store, &chat, "2011-11-01T21:01:00Z", CALLS).await;
    idle(&bot, Duration::from_secs(1)).await;
    let a = ask_all(
        &bot,
        &chat,
        &[(&lobby, "$p1", "ann", "!propose Who mentors the mentors?")],
    )
    .await;
    assert!(said(&a, "$p1").starts_with("Proposed as P1"), "{a:?}");
    let a = ask_all(&bot, &chat, &[(&lobby, "$top", "host", "!ask top")]).await;
    assert_eq!(said(&a, "$top"), "Asked P1 as Q2.");
    let a = ask_all(&bot, &chat, &[(&lobby, "$end", "host", "!end")]).await;
    assert_eq!(said(&a, "$end"), "Closing “Mentors and mentees” now.");
    idle(&bot, Duration::from_secs(5)).await;
    bot.stop().await;

    let posts = chat.bodies(&lobby);
    assert!(
        posts
            .iter()
            .any(|b| b.starts_with("That is the end of “Mentors and mentees”")),
        "{posts:?}"
    );
    let link = posts
        .iter()
        .find(|b| b.contains("/transcripts/adhoc-lobby-example-org-20111101-210000/"))
        .unwrap_or_else(|| panic!("no transcript link: {posts:?}"));
    assert!(
        link.contains("?key="),
        "an ad-hoc debate is private: {link}"
    );
    let occ = store
        .occurrences_of("adhoc-lobby-example-org-20111101-210000")
        .await
        .unwrap()[0]
        .clone();
    let t = podium::transcript::build(&store, &occ, support::utc("2011-11-01T23:00:00Z"))
        .await
        .unwrap();
    assert!(t.adhoc);
    assert_eq!(t.title, "Mentors and mentees");
    let questions: Vec<(u32, &str, usize)> = t
        .questions
        .iter()
        .map(|q| (q.number, q.text.as_str(), q.replies.len()))
        .collect();
    assert_eq!(
        questions,
        [
            (1, "What makes a good mentor?", 1),
            (2, "Who mentors the mentors? (proposed by ann)", 0)
        ]
    );
    assert_eq!(t.proposals[0].asked_as, Some(2));
    let json = t.render(podium::transcript::Format::Json);
    assert!(json.contains("\"adhoc\": true"), "{json}");
    assert!(
        t.render(podium::transcript::Format::Md)
            .contains("(ad hoc)")
    );
}

// ---------------------------------------------------------------------------
// RSVPs and personal reminders (issue 19, point 2).

#[tokio::test(start_paused = true)]
async fn a_registered_person_is_reminded_privately_in_their_zone_across_a_dst_change() {
    let store = memory_store().await;
    let chat = TestChat::default();
    let room = matrix("debate");
    let chan = irc("debate");
    let weekly = WEEKLY_NY.replace(
        "rooms: [\"#debate:example.org\"]",
        "rooms: [\"#debate:example.org\", \"#debate\"]",
    );
    // Wednesday 25 March 2026: Berlin is on CET (UTC+1) until Sunday 29;
    // the next debate, Tuesday 31 March 14:00 New York, is 20:00 CEST.
    let bot = start(&store, &chat, "2026-03-25T12:00:00Z", &weekly).await;
    let a = ask_all(
        &bot,
        &chat,
        &[
            (&room, "$tz", "ann", "!tz Europe/Berlin"),
            (&room, "$rsvp", "ann", "!rsvp weekly"),
            (&room, "$again", "ann", "!rsvp weekly"),
            (&room, "$list", "ann", "!rsvp"),
            (&room, "$none", "ann", "!rsvp nothing-here"),
            (&room, "$cat", "cat", "!rsvp weekly"),
        ],
    )
    .await;
    assert_eq!(
        said(&a, "$rsvp"),
        "Registered for “Weekly”: Tue 31 Mar 2026 14:00 New York · 19:00 London (your time: \
         Tue 31 Mar 20:00 CEST (Berlin)). I will remind you 10 minutes before, in a direct \
         message. !unrsvp weekly takes it back."
    );
    assert!(
        said(&a, "$again").starts_with("You are registered for “Weekly” already"),
        "{a:?}"
    );
    assert_eq!(
        said(&a, "$list"),
        "You are registered for: “Weekly” (weekly): Tue 31 Mar 2026 14:00 New York · 19:00 \
         London (your time: Tue 31 Mar 20:00 CEST (Berlin))."
    );
    assert_eq!(
        said(&a, "$none"),
        "There is no upcoming debate `nothing-here` to register for; !next lists them."
    );
    let a = ask_irc(
        &bot,
        &chat,
        &chan,
        &[
            ("i-bob", "bob", "!rsvp weekly", true),
            ("i-anon", "mallory", "!rsvp weekly", false),
        ],
    )
    .await;
    assert!(
        said(&a, "i-bob").contains("with a private notice, if you are online"),
        "{a:?}"
    );
    assert!(
        said(&a, "i-anon").contains("registering is by account here"),
        "{a:?}"
    );
    idle(&bot, Duration::from_secs(7)).await;
    let a = ask_all(&bot, &chat, &[(&room, "$off", "cat", "!unrsvp")]).await;
    assert_eq!(said(&a, "$off"), "Unregistered from 1 debate.");
    // Elsewhere, the private debate she registered for is not named.
    idle(&bot, Duration::from_secs(13)).await;
    let a = ask_all(&bot, &chat, &[(&matrix("lobby"), "$lobby", "ann", "!rsvp")]).await;
    assert_eq!(
        said(&a, "$lobby"),
        "You are registered for no debate of this room (and for 1 debate this room does not \
         hold: ask in its room)."
    );
    bot.stop().await;

    // Tuesday 31 March, a minute before the reminder is due (17:50 UTC).
    let bot = start(&store, &chat, "2026-03-31T17:49:00Z", &weekly).await;
    let t0 = Instant::now();
    idle(&bot, Duration::from_secs(120)).await;
    bot.stop().await;
    let directs = chat.log.directs();
    let sent: Vec<(&str, u64)> = directs
        .iter()
        .map(|(who, _, at)| (who.as_str(), (*at - t0).as_secs()))
        .collect();
    let mut people: Vec<&str> = sent.iter().map(|(w, _)| *w).collect();
    people.sort_unstable();
    assert_eq!(people, ["@ann:example.org", "irc:bob"], "{directs:?}");
    assert!(
        sent.iter().all(|(_, s)| *s == 60),
        "due at 17:50:00: {sent:?}"
    );
    let ann = &directs
        .iter()
        .find(|(w, _, _)| w == "@ann:example.org")
        .unwrap()
        .1;
    assert_eq!(
        ann,
        "Reminder: “Weekly” starts in 10 minutes: Tue 31 Mar 2026 14:00 New York · 19:00 London \
         (your time: Tue 31 Mar 20:00 CEST (Berlin)). In #debate:example.org, irc:#debate."
    );
    // A restart after the reminder sends none again.
    let bot = start(&store, &chat, "2026-03-31T17:53:00Z", &weekly).await;
    idle(&bot, Duration::from_secs(10)).await;
    bot.stop().await;
    assert_eq!(chat.log.directs().len(), 2);
}

/// A reminder an hour ahead, and one ten minutes ahead: people who
/// register are reminded privately at the second.
const REMINDED: &str = r##"
timezone: Europe/London
remind: [1h, 10m]
debates:
  - id: soon
    title: Soon
    starts: 2011-11-01 20:00
    rooms: ["#debate:example.org"]
    questions: [Why?]
"##;

#[tokio::test(start_paused = true)]
async fn a_check_mark_on_a_reminder_registers_and_removing_it_unregisters() {
    let store = memory_store().await;
    let chat = TestChat::default();
    let room = matrix("debate");
    let bot = start(&store, &chat, "2011-11-01T18:59:50Z", REMINDED).await;
    idle(&bot, Duration::from_secs(20)).await;
    let reminder = chat
        .log
        .posts()
        .into_iter()
        .find(|p| p.kind == Some(PostKind::Reminder))
        .expect("the hour's reminder");
    let check = |id: &str, who: &str, key: &str| reaction(id, who, &reminder.id, key);
    let counted = Receipt::Updated;
    let nothing = Receipt::Ignored("a reaction that is not a vote or a registration");
    assert_eq!(hand(&bot, &room, check("$c1", "dan", "✅")).await, counted);
    assert_eq!(
        hand(&bot, &room, check("$c2", "dan", "✔️")).await,
        nothing,
        "once"
    );
    assert_eq!(
        hand(&bot, &room, reaction("$c3", "eve", "$elsewhere", "✅")).await,
        nothing
    );
    assert_eq!(hand(&bot, &room, check("$c4", "eve", "✅")).await, counted);
    // Eve takes hers back.
    assert_eq!(hand(&bot, &room, deletion("eve", "$c4")).await, counted);
    let a = ask_all(&bot, &chat, &[(&room, "$late", "fay", "!rsvp soon")]).await;
    assert!(
        said(&a, "$late").contains("I will remind you 10 minutes before"),
        "{a:?}"
    );
    bot.stop().await;
    let occ = store.occurrences_of("soon").await.unwrap()[0].clone();
    assert_eq!(store.registered(occ.id).await.unwrap(), 2);

    let bot = start(&store, &chat, "2011-11-01T19:49:30Z", REMINDED).await;
    let t0 = Instant::now();
    idle(&bot, Duration::from_secs(60)).await;
    let a = ask_all(&bot, &chat, &[(&room, "$too-late", "gus", "!rsvp soon")]).await;
    bot.stop().await;
    let mut sent: Vec<(String, u64)> = chat
        .log
        .directs()
        .into_iter()
        .map(|(who, _, at)| (who, (at - t0).as_secs()))
        .collect();
    sent.sort();
    assert_eq!(
        sent,
        [
            ("@dan:example.org".to_owned(), 30),
            ("@fay:example.org".to_owned(), 30)
        ]
    );
    assert_eq!(
        said(&a, "$too-late"),
        "Registered for “Soon”: Tue 1 Nov 2011 20:00 London. It starts in 9 minutes, sooner \
         than I remind people, so no reminder will come."
    );
    let occ = store.occurrences_of("soon").await.unwrap()[0].clone();
    let t = podium::transcript::build(&store, &occ, support::utc("2011-11-01T21:00:00Z"))
        .await
        .unwrap();
    assert_eq!(t.registered, 3, "who is never shown, only how many");
    let md = t.render(podium::transcript::Format::Md);
    assert!(md.contains("; 3 registered beforehand."), "{md}");
    assert!(!md.contains("dan") && !md.contains("fay"), "{md}");
}
