#![recursion_limit = "256"]
//! `!transcript` on real networks, as participants type it: `podium run`
//! with a Matrix room and an IRC channel per debate, on the binary's own
//! Synapse and InspIRCd (shared by its tests). Who gets a private
//! debate's link (issue 15, item 1) and which debate `!transcript` means
//! when a room holds two (issue 16, item 1).

#[path = "support/irc.rs"]
mod irc_support;
#[path = "support/matrix.rs"]
mod matrix_support;
mod support;

use chrono::Utc;
use irc_support::{Client, ircd, unique_nick};
use matrix_sdk::ruma::OwnedEventId;
use matrix_support::{Person, Podium, bodies, synapse, unique};
use serde_json::Value;

/// One debate of a schedule: id, title, seconds from now, public, rooms
/// (as written in the YAML), organisers.
struct Planned<'a> {
    id: &'a str,
    title: &'a str,
    in_seconds: i64,
    public: bool,
    rooms: &'a [&'a str],
    organisers: &'a [&'a str],
}

/// The schedule of `debates`, each a minute long with one question at
/// its start and no reminders.
fn schedule(debates: &[Planned<'_>]) -> String {
    let quote = |items: &[&str]| {
        items
            .iter()
            .map(|i| format!("'{i}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut yaml = "timezone: Europe/London\ndebates:\n".to_owned();
    for d in debates {
        let start = Utc::now() + chrono::Duration::seconds(d.in_seconds);
        let local = start.with_timezone(&chrono_tz::Europe::London);
        yaml.push_str(&format!(
            "  - id: {}\n    title: {}\n    starts: {}\n    duration: 1m\n    remind: []\n\
             \x20   public: {}\n    rooms: [{}]\n    organisers: [{}]\n\
             \x20   questions: [Anything to say?]\n",
            d.id,
            d.title,
            local.format("%Y-%m-%d %H:%M:%S"),
            d.public,
            quote(d.rooms),
            quote(d.organisers),
        ));
    }
    yaml
}

/// `podium run` as `bot` on the binary's Synapse and as `nick` on its
/// InspIRCd, hosting `yaml`.
fn podium(bot: &Person, nick: &str, yaml: &str) -> Podium {
    let mut podium = Podium::new(bot, yaml);
    podium.env("PODIUM_IRC_SERVER", &ircd().addr);
    podium.env("PODIUM_IRC_TLS", "false");
    podium.env("PODIUM_IRC_NICK", nick);
    podium.start();
    podium
}

fn body(m: &Value) -> &str {
    m["content"]["body"].as_str().unwrap_or("")
}

/// Waits for the bot's post in `room` that starts with `prefix`.
async fn post(who: &Person, room: &matrix_sdk::Room, bot: &Person, prefix: &str, podium: &Podium) {
    let bot = bot.user.to_string();
    who.wait_for_messages_or(
        room,
        prefix,
        |ms| {
            ms.iter()
                .any(|m| m["sender"] == bot && body(m).starts_with(prefix))
        },
        || podium.logs(),
    )
    .await;
}

/// `who` says `command` in `room`; the bot's answer to it.
async fn ask_matrix(
    who: &Person,
    room: &matrix_sdk::Room,
    bot: &Person,
    command: &str,
    podium: &Podium,
) -> String {
    let id: OwnedEventId = who.say(room, command).await;
    let (bot, id) = (bot.user.to_string(), id.to_string());
    let answer_to = |m: &Value| {
        m["sender"] == bot && m["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == id
    };
    let messages = who
        .wait_for_messages_or(
            room,
            &format!("the answer to {command}"),
            |ms| ms.iter().any(answer_to),
            || podium.logs(),
        )
        .await;
    let answer = messages.iter().find(|m| answer_to(m)).unwrap();
    body(answer).to_owned()
}

/// `client` says `command` in `channel`; the bot's answer (a NOTICE).
async fn ask_irc(client: &mut Client, bot: &str, channel: &str, command: &str) -> String {
    client.privmsg(channel, command).await;
    client
        .wait_for(&format!("the answer to {command}"), |m| {
            m.is_notice(bot, channel)
        })
        .await
        .text()
        .to_owned()
}

/// Waits until the bot has joined `channel`.
async fn joined(client: &mut Client, bot: &str, channel: &str, podium: &Podium) {
    let (b, c) = (bot.to_owned(), channel.to_owned());
    let join = client
        .try_wait_for(support::WAIT, move |m| {
            m.is("JOIN") && m.is_from(&b) && m.target().eq_ignore_ascii_case(&c)
        })
        .await;
    assert!(
        join.is_some(),
        "{bot} did not join {channel}\n{}",
        podium.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_link_is_given_only_in_its_own_rooms_on_matrix_and_irc() {
    let url = synapse().url.clone();
    let (bot, alice, bob) = tokio::join!(
        Person::register(&url, "podium"),
        Person::register(&url, "alice"),
        Person::register(&url, "bob"),
    );
    let (secret_local, open_local) = (unique("secret"), unique("open"));
    let invited = [&bot.user, &bob.user];
    let secret = alice.create_room(&secret_local, &invited, false).await;
    let open = alice.create_room(&open_local, &invited, false).await;
    let bob_secret = bob.join(&format!("#{secret_local}:localhost")).await;
    let bob_open = bob.join(&format!("#{open_local}:localhost")).await;
    let alice_open = alice.room(&open.room_id().to_owned());
    let (secret_chan, open_chan) = (
        format!("#{}", unique_nick("secret")),
        format!("#{}", unique_nick("open")),
    );
    let mut carol = Client::connect(&ircd().addr, &unique_nick("carol")).await;
    carol.join(&secret_chan).await;
    carol.join(&open_chan).await;
    let (secret_irc, open_irc) = (format!("irc:{secret_chan}"), format!("irc:{open_chan}"));
    let alice_id = alice.user.to_string();
    let yaml = schedule(&[
        Planned {
            id: "secret",
            title: "Secret matters",
            in_seconds: 12,
            public: false,
            rooms: &[secret.room_id().as_str(), &secret_irc],
            organisers: &[&alice_id],
        },
        Planned {
            id: "open",
            title: "Open matters",
            in_seconds: 12,
            public: true,
            rooms: &[open.room_id().as_str(), &open_irc],
            organisers: &[],
        },
    ]);
    let nick = unique_nick("podium");
    let mut podium = podium(&bot, &nick, &yaml);
    joined(&mut carol, &nick, &secret_chan, &podium).await;
    joined(&mut carol, &nick, &open_chan, &podium).await;
    post(
        &bob,
        &bob_secret,
        &bot,
        "“Secret matters” starts now",
        &podium,
    )
    .await;
    post(&bob, &bob_open, &bot, "“Open matters” starts now", &podium).await;

    // Matrix: in the other debate's room, the private debate is unknown;
    // its organiser is told to ask in its own rooms; in them, anyone
    // gets the link.
    let private = ask_matrix(&bob, &bob_open, &bot, "!transcript secret", &podium).await;
    let unknown = ask_matrix(&bob, &bob_open, &bot, "!transcript nosuch", &podium).await;
    assert_eq!(private, unknown.replace("nosuch", "secret"));
    let organiser = ask_matrix(&alice, &alice_open, &bot, "!transcript secret", &podium).await;
    assert!(organiser.contains("its own rooms"), "{organiser}");
    let own = ask_matrix(&bob, &bob_secret, &bot, "!transcript", &podium).await;
    assert!(
        own.contains("/transcripts/secret/") && own.contains("?key="),
        "{own}"
    );
    // IRC: the same.
    let private = ask_irc(&mut carol, &nick, &open_chan, "!transcript secret").await;
    let unknown = ask_irc(&mut carol, &nick, &open_chan, "!transcript nosuch").await;
    assert_eq!(private, unknown.replace("nosuch", "secret"));
    let own = ask_irc(&mut carol, &nick, &secret_chan, "!transcript secret").await;
    assert!(
        own.contains("/transcripts/secret/") && own.contains("?key="),
        "{own}"
    );
    // A public debate's link is for everyone, anywhere.
    let public = ask_irc(&mut carol, &nick, &secret_chan, "!transcript open").await;
    assert!(
        public.contains("/transcripts/open/") && !public.contains("key="),
        "{public}"
    );

    let everything = bob.messages(&bob_open).await;
    let key = own.rsplit("?key=").next().unwrap().to_owned();
    assert!(
        bodies(&everything).iter().all(|b| !b.contains(&key)),
        "{:#?}",
        bodies(&everything)
    );
    assert_eq!(podium.terminate().code(), Some(0));
}

/// Two debates in one room: once the second has closed, `!transcript`
/// gives its link on both networks (not the first's, as it once did).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transcript_gives_the_latest_debate_of_the_room_on_matrix_and_irc() {
    let url = synapse().url.clone();
    let (bot, alice, bob) = tokio::join!(
        Person::register(&url, "podium"),
        Person::register(&url, "alice"),
        Person::register(&url, "bob"),
    );
    let local = unique("weekly");
    let room = alice
        .create_room(&local, &[&bot.user, &bob.user], false)
        .await;
    let bob_room = bob.join(&format!("#{local}:localhost")).await;
    let alice_room = alice.room(&room.room_id().to_owned());
    let chan = format!("#{}", unique_nick("weekly"));
    let mut carol = Client::connect(&ircd().addr, &unique_nick("carol")).await;
    carol.join(&chan).await;
    let irc_room = format!("irc:{chan}");
    let rooms = [room.room_id().as_str(), irc_room.as_str()];
    let alice_id = alice.user.to_string();
    let organisers = [alice_id.as_str()];
    // The second is brought forward with !start once the first has ended.
    let yaml = schedule(&[
        Planned {
            id: "first",
            title: "First",
            in_seconds: 12,
            public: false,
            rooms: &rooms,
            organisers: &organisers,
        },
        Planned {
            id: "second",
            title: "Second",
            in_seconds: 600,
            public: false,
            rooms: &rooms,
            organisers: &organisers,
        },
    ]);
    let nick = unique_nick("podium");
    let mut podium = podium(&bot, &nick, &yaml);
    joined(&mut carol, &nick, &chan, &podium).await;
    post(&alice, &alice_room, &bot, "“First” starts now", &podium).await;
    ask_matrix(&alice, &alice_room, &bot, "!end", &podium).await;
    post(
        &alice,
        &alice_room,
        &bot,
        "The transcript of “First”",
        &podium,
    )
    .await;
    let started = ask_matrix(&alice, &alice_room, &bot, "!start", &podium).await;
    assert_eq!(started, "Starting “Second” now.");
    post(&alice, &alice_room, &bot, "“Second” starts now", &podium).await;
    ask_matrix(&alice, &alice_room, &bot, "!end", &podium).await;
    post(
        &alice,
        &alice_room,
        &bot,
        "The transcript of “Second”",
        &podium,
    )
    .await;

    let on_matrix = ask_matrix(&bob, &bob_room, &bot, "!transcript", &podium).await;
    assert!(on_matrix.contains("/transcripts/second/"), "{on_matrix}");
    let on_irc = ask_irc(&mut carol, &nick, &chan, "!transcript").await;
    assert!(on_irc.contains("/transcripts/second/"), "{on_irc}");
    assert_eq!(podium.terminate().code(), Some(0));
}
