#![recursion_limit = "256"]
//! Debates held in a Matrix room and an IRC channel at once, on the
//! binary's own Synapse and InspIRCd (shared by its tests), as hosts and
//! participants use them: who gets a private debate's link (issue 15,
//! item 1), which debate `!transcript` means when a room holds two (issue
//! 16, item 1), and a new organiser's whole debate across both networks
//! (issue 16): the intro per network, namesakes and network marks, a reply
//! after a command's answer, /me, edits, chatter before and after, the
//! ignore list, the raw log, every zone in every view; that debate once
//! more with the store on PostgreSQL (tests/support/postgres.rs).

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
    podium_on(bot, nick, yaml, None)
}

/// [`podium`], storing in the PostgreSQL `database` if given.
fn podium_on(bot: &Person, nick: &str, yaml: &str, database: Option<&str>) -> Podium {
    let mut podium = Podium::new(bot, yaml);
    podium.env("PODIUM_IRC_SERVER", &ircd().addr);
    podium.env("PODIUM_IRC_TLS", "false");
    podium.env("PODIUM_IRC_NICK", nick);
    if let Some(url) = database {
        podium.on_database(url);
    }
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

/// [`ask_matrix`], with the answer's event id (to react to it).
async fn ask_matrix_event(
    who: &Person,
    room: &matrix_sdk::Room,
    bot: &Person,
    command: &str,
    podium: &Podium,
) -> (OwnedEventId, String) {
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
    let event: OwnedEventId = answer["event_id"]
        .as_str()
        .and_then(|e| e.try_into().ok())
        .expect("an event id");
    (event, body(answer).to_owned())
}

/// The proposals of debate `id` in its transcript once `done` holds of
/// them (within [`support::WAIT`]).
async fn proposals_when(
    podium: &Podium,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + support::WAIT;
    loop {
        let t = podium.transcript(id);
        if done(&t["proposals"]) {
            return t["proposals"].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: {:#}\n{}",
            t["proposals"],
            podium.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
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

/// `GET url`: the status and the body.
async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.expect("the page answers");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

/// The replies of a JSON transcript under question `n` (`None`: before
/// Q1): (network, label, body, attributed_by, action, edited).
fn filed(t: &Value, n: Option<u64>) -> Vec<(String, String, String, String, bool, bool)> {
    let list = match n {
        None => t["unattributed"].clone(),
        Some(n) => t["questions"]
            .as_array()
            .expect("questions")
            .iter()
            .find(|q| q["number"] == n)
            .map(|q| q["replies"].clone())
            .unwrap_or_default(),
    };
    list.as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    let s = |k: &str| r[k].as_str().unwrap_or("").to_owned();
                    let b = |k: &str| r[k].as_bool().unwrap_or(false);
                    (
                        s("network"),
                        s("label"),
                        s("body"),
                        s("attributed_by"),
                        b("action"),
                        b("edited"),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Issue 16 as a new organiser met it, in one debate held in a Matrix room
/// and an IRC channel: each defect's fix, seen on the real networks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_organisers_debate_across_matrix_and_irc() {
    organisers_debate(None).await;
}

/// The same debate with the store on PostgreSQL: `podium run` hosting it
/// on Synapse and IRC at once, every view served from the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_organisers_debate_across_matrix_and_irc_on_postgres() {
    let database = support::postgres::database().await;
    organisers_debate(Some(&database)).await;
}

/// The debate of [`a_new_organisers_debate_across_matrix_and_irc`], stored
/// in the data directory, or in the PostgreSQL `database`.
async fn organisers_debate(database: Option<&str>) {
    let url = synapse().url.clone();
    let (bot, host, dana, alice_m) = tokio::join!(
        Person::register(&url, "podium"),
        Person::register(&url, "host"),
        Person::register(&url, "dana"),
        Person::register(&url, "alice"),
    );
    let local = unique("organiser");
    let room = host
        .create_room(&local, &[&bot.user, &dana.user, &alice_m.user], false)
        .await;
    let room_id = room.room_id().to_string();
    let dana_room = dana.join(&room_id).await;
    let alice_room = alice_m.join(&room_id).await;
    let chan = format!("#{}", unique_nick("organiser"));
    let (a_nick, t_nick) = (unique_nick("alice"), unique_nick("troll"));
    let (mut alice, mut troll) = tokio::join!(
        Client::connect_caps(&ircd().addr, &a_nick, &["message-tags", "server-time"]),
        Client::connect(&ircd().addr, &t_nick),
    );
    alice.join(&chan).await;
    troll.join(&chan).await;
    // The Matrix alice takes the IRC alice's name: two people, one name.
    alice_m
        .client
        .account()
        .set_display_name(Some(&a_nick))
        .await
        .expect("display name");

    let start = chrono::SubsecRound::trunc_subsecs(Utc::now() + chrono::Duration::seconds(30), 0);
    let local_start = start.with_timezone(&chrono_tz::Europe::London);
    let yaml = format!(
        "timezone: Europe/London\nzones: [Europe/London, America/New_York]\n\
         ignore: ['irc:{t_nick}']\ndebates:\n  - id: organiser\n    title: A first debate\n\
         \x20   starts: {}\n    duration: 1m\n    remind: [10s]\n\
         \x20   rooms: ['{room_id}', 'irc:{chan}']\n    questions:\n\
         \x20     - {{text: 'What brought you here?', at: 0s}}\n\
         \x20     - {{text: 'What next?', at: 25s}}\n",
        local_start.format("%Y-%m-%d %H:%M:%S"),
    );
    let nick = unique_nick("podium");
    let mut podium = podium_on(&bot, &nick, &yaml, database);
    joined(&mut alice, &nick, &chan, &podium).await;

    // Before the intro: greetings (for the raw log only), and an ignored
    // nick trying to answer.
    post(&dana, &dana_room, &bot, "Reminder", &podium).await;
    dana.say(&dana_room, "hello all").await;
    alice.privmsg(&chan, "hi from irc").await;
    troll.privmsg(&chan, "A1: spam from the troll").await;

    // The intro, worded for each network.
    let (b, c) = (nick.clone(), chan.clone());
    let irc_intro = alice
        .wait_for("the intro on IRC", move |m| {
            m.is_privmsg(&b, &c) && m.text().contains("starts now")
        })
        .await;
    let q1 = alice
        .wait_for("Q1 on IRC", |m| {
            m.is_privmsg(&nick, &chan) && m.text().contains("What brought you here?")
        })
        .await;
    let q1_msgid = q1.msgid().expect("the server gives msgids").to_owned();
    post(&dana, &dana_room, &bot, "Q1", &podium).await;
    let messages = dana.messages(&dana_room).await;
    let matrix_intro = messages
        .iter()
        .find(|m| m["sender"] == bot.user.as_str() && body(m).contains("starts now"))
        .map(|m| body(m).to_owned())
        .expect("the intro on Matrix");
    assert!(matrix_intro.contains("replying"), "{matrix_intro}");
    let irc_intro = irc_intro.text().to_owned();
    assert!(
        !irc_intro.contains("reply") && irc_intro.contains("A1:"),
        "{irc_intro}"
    );

    // Answers from both networks, a /me, an edit, and a command answered
    // by NOTICE.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    alice_m.say(&alice_room, "A1: from matrix").await;
    alice.privmsg(&chan, "A1: from irc").await;
    alice.action(&chan, "nods along").await;
    let draft = dana.say(&dana_room, "A1: first draft").await;
    dana.edit(&dana_room, &draft, "A1: second thought").await;
    let next = ask_irc(&mut alice, &nick, &chan, "!next").await;
    assert!(!next.is_empty());
    // Past the 3 s an echo is waited for: the reply to Q1 as the server
    // sent it still goes under Q1 once Q2 is the latest.
    alice
        .wait_for("Q2 on IRC", |m| {
            m.is_privmsg(&nick, &chan) && m.text().contains("What next?")
        })
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    alice
        .reply(&chan, &q1_msgid, "late thought on the first")
        .await;

    // After the closing: thanks are chatter, a tagged answer still counts.
    post(&dana, &dana_room, &bot, "That is the end", &podium).await;
    dana.say(&dana_room, "thanks, great debate").await;
    alice.privmsg(&chan, "A2: one more thing").await;
    let (b, c) = (nick.clone(), chan.clone());
    let link = alice
        .wait_for("the transcript link", move |m| {
            m.is_privmsg(&b, &c) && m.text().contains("/transcripts/organiser/")
        })
        .await;
    let link = link
        .text()
        .split_whitespace()
        .find(|w| w.contains("/transcripts/organiser/"))
        .expect("an address")
        .trim_end_matches(['.', ')'])
        .to_owned();
    let (page, key) = link.split_once('?').expect("a private link has its key");

    let deadline = tokio::time::Instant::now() + support::WAIT;
    let t = loop {
        let t = podium.transcript("organiser");
        if filed(&t, Some(2)).len() == 1 && filed(&t, Some(1)).len() == 5 {
            break t;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the answers were not all stored: {t:#}\n{}",
            podium.logs()
        );
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    };
    let q1: Vec<_> = filed(&t, Some(1));
    let find = |body: &str| {
        q1.iter()
            .find(|r| r.2 == body)
            .unwrap_or_else(|| panic!("{body:?} not under Q1: {t:#}"))
            .clone()
    };
    let matrix_alice = find("A1: from matrix");
    let irc_alice = find("A1: from irc");
    assert_eq!(matrix_alice.0, "matrix");
    assert_eq!(irc_alice.0, "irc");
    assert_ne!(matrix_alice.1, irc_alice.1, "namesakes told apart");
    assert!(matrix_alice.1.contains(alice_m.user.as_str()), "{t:#}");
    assert!(irc_alice.1.contains("(irc"), "{t:#}");
    assert!(find("nods along").4, "the /me is an action");
    assert!(find("A1: second thought").5, "the edit is marked");
    assert_eq!(find("late thought on the first").3, "reply");
    assert_eq!(filed(&t, Some(2))[0].2, "A2: one more thing");
    let all = t.to_string();
    for absent in ["thanks, great debate", "spam from the troll", "hello all"] {
        assert!(!all.contains(absent), "{absent:?} collected: {t:#}");
    }

    // Every view: the network of each answer, the namesakes apart, every
    // zone, /me and edits marked; the raw log beside it.
    let (status, txt) = get(&format!("{page}.txt?{key}")).await;
    assert_eq!(status, 200, "{txt}");
    let (_, md) = get(&format!("{page}.md?{key}")).await;
    for view in [&txt, &md] {
        for needle in [
            "· IRC",
            "· Matrix",
            "London",
            "New York",
            "(action)",
            "(edited)",
            "3 participants",
            matrix_alice.1.as_str(),
            irc_alice.1.as_str(),
        ] {
            assert!(view.contains(needle), "{needle:?} missing:\n{view}");
        }
    }
    let (_, time) = get(&format!("{page}/time?{key}")).await;
    assert!(time.contains("The debate closed."), "{time}");
    let (status, log) = get(&format!("{page}.log?{key}")).await;
    assert_eq!(status, 200, "{log}");
    for said in [
        "hello all",
        "hi from irc",
        "thanks, great debate",
        "A1: from irc",
    ] {
        assert!(log.contains(said), "{said:?} missing from the log:\n{log}");
    }
    assert!(!log.contains("spam from the troll"), "{log}");
    let (status, _) = get(&format!("{page}.log")).await;
    assert_eq!(status, 404, "the raw log is as private as the transcript");
    podium.assert_served_as_stored("organiser", &link).await;
    assert_eq!(podium.terminate().code(), Some(0));
    if database.is_some() {
        podium.assert_no_sqlite_store();
    }
}

/// `last_call` and `!extend` on both networks (issue 19, point 4): a
/// one-minute debate with questions at 0 s and 20 s and a 10 s last call;
/// the host (the Matrix room's creator, so a moderator there) says
/// `!extend 20s` after Q1, so Q1's last call comes at 30 s, Q2 at 40 s, the
/// closing's last call at 70 s and the closing at 80 s, as each server
/// dates them; an IRC answer sent after the planned end is filed under Q2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_calls_and_extend_across_matrix_and_irc() {
    let url = synapse().url.clone();
    let (bot, host) = tokio::join!(
        Person::register(&url, "podium"),
        Person::register(&url, "host"),
    );
    let room = host
        .create_room(&unique("calls"), &[&bot.user], false)
        .await;
    let room_id = room.room_id().to_string();
    let chan = format!("#{}", unique_nick("calls"));
    let a_nick = unique_nick("alice");
    let mut alice = Client::connect_caps(&ircd().addr, &a_nick, &["server-time"]).await;
    alice.join(&chan).await;

    let start = chrono::SubsecRound::trunc_subsecs(Utc::now() + chrono::Duration::seconds(25), 0);
    let local_start = start.with_timezone(&chrono_tz::Europe::London);
    let yaml = format!(
        "timezone: Europe/London\ndebates:\n  - id: calls\n    title: Calls\n\
         \x20   starts: {}\n    duration: 1m\n    remind: []\n    last_call: 10s\n\
         \x20   rooms: ['{room_id}', 'irc:{chan}']\n    questions:\n\
         \x20     - {{text: 'First?', at: 0s}}\n\
         \x20     - {{text: 'Second?', at: 20s}}\n",
        local_start.format("%Y-%m-%d %H:%M:%S"),
    );
    let nick = unique_nick("podium");
    let mut podium = podium_on(&bot, &nick, &yaml, None);
    joined(&mut alice, &nick, &chan, &podium).await;

    post(&host, &room, &bot, "Q1", &podium).await;
    let answer = ask_matrix(&host, &room, &bot, "!extend 20s", &podium).await;
    assert!(
        answer.starts_with("“Calls” goes on 20s longer"),
        "{answer}\n{}",
        podium.logs()
    );

    // Every post on IRC, as the server dated it, until the link.
    let mut seen: Vec<(f64, String)> = Vec::new();
    let mut answered = false;
    loop {
        let m = alice
            .wait_for("the debate's posts", |m| m.is_privmsg(&nick, &chan))
            .await;
        let at = m.time().expect("server-time");
        let secs = (at - start).num_milliseconds() as f64 / 1000.0;
        let text = m.text().to_owned();
        if text.contains("/transcripts/calls/") {
            break;
        }
        // After the planned end (60 s) and its moved last call: an answer.
        if text.starts_with("Last call for Q2") && !answered {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            alice.privmsg(&chan, "A2: after the planned end").await;
            answered = true;
        }
        seen.push((secs, text));
    }
    let find = |prefix: &str| {
        seen.iter()
            .find(|(_, t)| t.contains(prefix))
            .unwrap_or_else(|| panic!("{prefix:?} not posted on IRC: {seen:#?}"))
            .0
    };
    let near = |at: f64, want: f64, what: &str| {
        assert!(
            (want..want + 3.0).contains(&at),
            "{what} at {at:.1} s, not {want} s: {seen:#?}\n{}",
            podium.logs()
        );
    };
    println!("last calls and !extend on IRC: {seen:?}");
    near(
        find("Last call for Q1: the next question is in"),
        30.0,
        "Q1's last call",
    );
    near(find("Second?"), 40.0, "Q2");
    near(
        find("Last call for Q2: the debate closes in"),
        70.0,
        "the closing's last call",
    );
    near(find("That is the end"), 80.0, "the closing");
    assert_eq!(
        seen.iter()
            .filter(|(_, t)| t.starts_with("Last call"))
            .count(),
        2,
        "{seen:#?}"
    );

    // The same posts on Matrix, in order, as Synapse dated them.
    post(&host, &room, &bot, "The transcript", &podium).await;
    let messages = host.messages(&room).await;
    let posts: Vec<(f64, String)> = messages
        .iter()
        .filter(|m| m["sender"] == bot.user.as_str() && m["content"]["m.relates_to"].is_null())
        .map(|m| {
            let ts = m["origin_server_ts"].as_i64().unwrap_or(0);
            (
                (ts - start.timestamp_millis()) as f64 / 1000.0,
                body(m).to_owned(),
            )
        })
        .collect();
    let at = |prefix: &str| {
        posts
            .iter()
            .find(|(_, b)| b.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix:?} not posted on Matrix: {posts:#?}"))
            .0
    };
    near(
        at("Last call for Q1: the next question is in"),
        30.0,
        "Q1's last call on Matrix",
    );
    near(at("Q2: Second?"), 40.0, "Q2 on Matrix");
    near(
        at("Last call for Q2: the debate closes in"),
        70.0,
        "the closing's last call on Matrix",
    );
    near(at("That is the end"), 80.0, "the closing on Matrix");

    let deadline = tokio::time::Instant::now() + support::WAIT;
    loop {
        let t = podium.transcript("calls");
        if filed(&t, Some(2))
            .iter()
            .any(|r| r.2 == "A2: after the planned end")
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the answer after the planned end was not filed under Q2: {t:#}\n{}",
            podium.logs()
        );
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    assert_eq!(podium.terminate().code(), Some(0));
}

/// `!tz` on both networks (issue 19, point 3): each person's zone is their
/// own, kept by sender id, and `!next` then says the time there too; a
/// typo gets the name meant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_person_sees_next_in_their_own_zone_on_matrix_and_irc() {
    let url = synapse().url.clone();
    let (bot, dana) = tokio::join!(
        Person::register(&url, "podium"),
        Person::register(&url, "dana"),
    );
    let room = dana.create_room(&unique("tz"), &[&bot.user], false).await;
    let room_id = room.room_id().to_string();
    let chan = format!("#{}", unique_nick("tz"));
    let a_nick = unique_nick("alice");
    let mut alice = Client::connect(&ircd().addr, &a_nick).await;
    alice.join(&chan).await;
    // 1 July 2031, 20:00 London (BST): 21:00 in Berlin, 04:00 next day in Tokyo.
    let yaml = format!(
        "timezone: Europe/London\ndebates:\n  - id: later\n    title: Later\n\
         \x20   starts: 2031-07-01 20:00\n    rooms: ['{room_id}', 'irc:{chan}']\n\
         \x20   questions: [Why?]\n"
    );
    let nick = unique_nick("podium");
    let mut podium = podium_on(&bot, &nick, &yaml, None);
    joined(&mut alice, &nick, &chan, &podium).await;

    let set = ask_matrix(&dana, &room, &bot, "!tz Europe/Berlin", &podium).await;
    assert!(
        set.starts_with("Your time zone is now Europe/Berlin"),
        "{set}"
    );
    let next = ask_matrix(&dana, &room, &bot, "!next", &podium).await;
    assert!(
        next.contains("“Later”: Tue 1 Jul 2031 20:00")
            && next.ends_with("(your time: Tue 1 Jul 21:00 CEST (Berlin))"),
        "{next}"
    );

    let typo = ask_irc(&mut alice, &nick, &chan, "!tz asia/tokio").await;
    assert_eq!(
        typo,
        "`asia/tokio` is not a time zone; did you mean Asia/Tokyo? Say !tz Asia/Tokyo"
    );
    let set = ask_irc(&mut alice, &nick, &chan, "!tz Asia/Tokyo").await;
    assert!(set.starts_with("Your time zone is now Asia/Tokyo"), "{set}");
    let next = ask_irc(&mut alice, &nick, &chan, "!next").await;
    assert!(
        next.ends_with("(your time: Wed 2 Jul 04:00 JST (Tokyo))"),
        "{next}"
    );
    // Dana's zone is still hers.
    let shown = ask_matrix(&dana, &room, &bot, "!tz", &podium).await;
    assert!(
        shown.starts_with("Your time zone is Europe/Berlin"),
        "{shown}"
    );
    assert_eq!(podium.terminate().code(), Some(0));
}

/// [`ask_irc`] where others' answers are seen too (IRC sends them to the
/// whole channel): the bot's answer that starts with `starts`.
async fn ask_irc_for(
    client: &mut Client,
    bot: &str,
    channel: &str,
    command: &str,
    starts: &str,
) -> String {
    client.privmsg(channel, command).await;
    client
        .wait_for(&format!("the answer to {command}"), |m| {
            m.is_notice(bot, channel) && m.text().starts_with(starts)
        })
        .await
        .text()
        .to_owned()
}

/// Questions from the floor across both networks (issue 19, point 1):
/// proposals numbered in one sequence whichever network they come from,
/// votes counted once per person (a Matrix user id, an IRC account; a nick
/// nobody is logged in with cannot vote), the top one asked in both rooms
/// crediting its proposer, and the transcript listing every proposal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_and_votes_across_matrix_and_irc() {
    let url = synapse().url.clone();
    let (bot, host, dana) = tokio::join!(
        Person::register(&url, "podium"),
        Person::register(&url, "host"),
        Person::register(&url, "dana"),
    );
    let room = host
        .create_room(&unique("floor"), &[&bot.user, &dana.user], false)
        .await;
    let room_id = room.room_id().to_string();
    let dana_room = dana.join(&room_id).await;
    let chan = format!("#{}", unique_nick("floor"));
    let (b_nick, g_nick) = (unique_nick("bert"), unique_nick("guest"));
    let (mut bert, mut guest) = tokio::join!(
        Client::connect(&ircd().addr, &b_nick),
        Client::connect(&ircd().addr, &g_nick),
    );
    // Bert is logged in to his account; the guest is not.
    ircd().services().login(&b_nick, &b_nick);
    guest.wait_account(&b_nick, &b_nick).await;
    bert.join(&chan).await;
    guest.join(&chan).await;

    let start = Utc::now() + chrono::Duration::seconds(15);
    let local = start.with_timezone(&chrono_tz::Europe::London);
    let yaml = format!(
        "timezone: Europe/London\ndebates:\n  - id: floor\n    title: Floor\n\
         \x20   starts: {}\n    duration: 3m\n    remind: []\n\
         \x20   rooms: ['{room_id}', 'irc:{chan}']\n    organisers: ['{}']\n\
         \x20   questions: [Anything to say?]\n",
        local.format("%Y-%m-%d %H:%M:%S"),
        host.user
    );
    let nick = unique_nick("podium");
    let mut podium = podium_on(&bot, &nick, &yaml, None);
    joined(&mut bert, &nick, &chan, &podium).await;
    post(&host, &room, &bot, "Q1", &podium).await;

    let (ack, p1) = ask_matrix_event(
        &dana,
        &dana_room,
        &bot,
        "!propose Who <b>decides</b>?",
        &podium,
    )
    .await;
    assert_eq!(
        p1,
        "Proposed as P1: “Who <b>decides</b>?”. Vote for it with !vote P1 or a 👍 on this \
         message."
    );
    let p2 = ask_irc_for(
        &mut bert,
        &nick,
        &chan,
        "!propose What comes next?",
        "Proposed as P2",
    )
    .await;
    assert_eq!(
        p2,
        "Proposed as P2: “What comes next?”. Vote for it with !vote P2."
    );
    let refused = ask_irc_for(&mut guest, &nick, &chan, "!vote P2", &g_nick).await;
    assert!(
        refused.contains("votes are counted by account here"),
        "{refused}"
    );
    let counted = ask_irc_for(&mut bert, &nick, &chan, "!vote P1", "Your vote").await;
    assert_eq!(counted, "Your vote for P1 is counted: 1 vote.");
    let twice = ask_irc_for(&mut bert, &nick, &chan, "!vote P1", "You have voted").await;
    assert_eq!(
        twice,
        "You have voted for P1 already (1 vote); one vote each."
    );
    // A 👍 on Podium's acknowledgement is a vote; on one's own, none.
    let like = host.react(&room, &ack, "👍🏽").await;
    dana.react(&dana_room, &ack, "👍").await;
    let p = proposals_when(&podium, "floor", "the 👍 counted", |p| p[0]["votes"] == 2).await;
    println!("proposals after the reaction: {p}");
    let again = ask_matrix(&host, &room, &bot, "!vote P1", &podium).await;
    assert_eq!(
        again,
        "You have voted for P1 already (2 votes); one vote each."
    );
    // Taking the reaction back takes the vote back.
    host.redact(&room, &like).await;
    proposals_when(&podium, "floor", "the redacted 👍 taken back", |p| {
        p[0]["votes"] == 1
    })
    .await;
    let counted = ask_matrix(&host, &room, &bot, "!vote P1", &podium).await;
    assert_eq!(counted, "Your vote for P1 is counted: 2 votes.");
    let counted = ask_matrix(&dana, &dana_room, &bot, "!vote P2", &podium).await;
    assert_eq!(counted, "Your vote for P2 is counted: 1 vote.");
    let back = ask_matrix(&dana, &dana_room, &bot, "!unvote P2", &podium).await;
    assert_eq!(back, "Your vote for P2 is taken back: 0 votes.");
    let list = ask_irc_for(&mut guest, &nick, &chan, "!proposals", "Open proposals").await;
    assert!(
        list.starts_with("Open proposals, most votes first (2 in all"),
        "{list}"
    );
    // The rest of the list is on the lines that follow (IRC: one NOTICE each).
    let top = guest
        .wait_for("the list's first proposal", |m| {
            m.is_notice(&nick, &chan) && m.text().starts_with("P1 ")
        })
        .await;
    let dana_name = dana.user.localpart().to_owned();
    assert_eq!(
        top.text(),
        format!("P1 (2 votes): Who <b>decides</b>? — {dana_name}")
    );

    let asked = ask_matrix(&host, &room, &bot, "!ask top", &podium).await;
    assert_eq!(asked, "Asked P1 as Q2.");
    let q2_text = format!("Q2: Who <b>decides</b>? (proposed by {dana_name})");
    post(&host, &room, &bot, &q2_text, &podium).await;
    let q2 = bert
        .wait_for("Q2 on IRC", |m| {
            m.is_privmsg(&nick, &chan) && m.text().replace('\x02', "").starts_with("Q2:")
        })
        .await;
    // The number is in bold on IRC.
    assert_eq!(q2.text().replace('\x02', ""), q2_text);

    let p = proposals_when(&podium, "floor", "P1 asked", |p| p[0]["asked_as"] == 2).await;

    assert_eq!(p[0]["number"], 1);
    assert_eq!(p[0]["text"], "Who <b>decides</b>?");
    assert_eq!(p[0]["network"], "matrix");
    assert_eq!(p[0]["votes"], 2);
    assert_eq!(p[0]["asked_as"], 2);
    assert_eq!(p[1]["number"], 2);
    assert_eq!(p[1]["network"], "irc");
    assert_eq!(p[1]["proposer"], b_nick.as_str());
    assert_eq!(p[1]["votes"], 0);
    assert!(p[1]["asked_as"].is_null());
    assert_eq!(podium.terminate().code(), Some(0));
}

/// `!forget` on both networks (issue 19, point 6): after a confirmation,
/// a Matrix user's and an IRC account's answers, proposal and vote leave
/// the transcript, which says how many answers were withdrawn; another
/// person's stay, and a nick nobody is logged in with cannot erase anyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_is_honoured_on_matrix_and_irc() {
    let url = synapse().url.clone();
    let (bot, dana) = tokio::join!(
        Person::register(&url, "podium"),
        Person::register(&url, "dana"),
    );
    let room = dana
        .create_room(&unique("forget"), &[&bot.user], false)
        .await;
    let room_id = room.room_id().to_string();
    let chan = format!("#{}", unique_nick("forget"));
    let (b_nick, g_nick) = (unique_nick("bert"), unique_nick("guest"));
    let (mut bert, mut guest) = tokio::join!(
        Client::connect(&ircd().addr, &b_nick),
        Client::connect(&ircd().addr, &g_nick),
    );
    ircd().services().login(&b_nick, &b_nick);
    guest.wait_account(&b_nick, &b_nick).await;
    bert.join(&chan).await;
    guest.join(&chan).await;
    let start = Utc::now() + chrono::Duration::seconds(15);
    let local = start.with_timezone(&chrono_tz::Europe::London);
    let yaml = format!(
        "timezone: Europe/London\ndebates:\n  - id: forget\n    title: Forget\n\
         \x20   starts: {}\n    duration: 3m\n    remind: []\n\
         \x20   rooms: ['{room_id}', 'irc:{chan}']\n    questions: [Anything to say?]\n",
        local.format("%Y-%m-%d %H:%M:%S"),
    );
    let nick = unique_nick("podium");
    let mut podium = podium_on(&bot, &nick, &yaml, None);
    joined(&mut bert, &nick, &chan, &podium).await;
    post(&dana, &room, &bot, "Q1", &podium).await;

    dana.say(&room, "A1: dana would rather not be quoted").await;
    bert.privmsg(&chan, "A1: bert regrets this").await;
    guest.privmsg(&chan, "A1: the guest stays").await;
    let p = ask_matrix(&dana, &room, &bot, "!propose Can we forget?", &podium).await;
    assert!(p.starts_with("Proposed as P1"), "{p}");
    let v = ask_irc_for(&mut bert, &nick, &chan, "!vote P1", "Your vote").await;
    assert_eq!(v, "Your vote for P1 is counted: 1 vote.");
    let deadline = tokio::time::Instant::now() + support::WAIT;
    while filed(&podium.transcript("forget"), Some(1)).len() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "{}", podium.logs());
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }

    let refused = ask_irc_for(&mut guest, &nick, &chan, "!forget", &g_nick).await;
    assert!(
        refused.contains("!forget needs to know it is you"),
        "{refused}"
    );
    let asked = ask_matrix(&dana, &room, &bot, "!forget", &podium).await;
    assert!(
        asked.starts_with("Podium holds these of yours: 1 answer, 1 other message and 1 proposal."),
        "{asked}"
    );
    let done = ask_matrix(&dana, &room, &bot, "!forget confirm", &podium).await;
    assert_eq!(done, "Removed: 1 answer, 1 other message and 1 proposal.");
    let asked = ask_irc_for(&mut bert, &nick, &chan, "!forget", "Podium holds").await;
    assert!(
        // His vote went with Dana's proposal.
        asked.starts_with("Podium holds these of yours: 1 answer and 1 other message."),
        "{asked}"
    );
    let done = ask_irc_for(&mut bert, &nick, &chan, "!forget confirm", "Removed").await;
    assert_eq!(done, "Removed: 1 answer and 1 other message.");

    let t = podium.transcript("forget");
    let left: Vec<String> = filed(&t, Some(1)).into_iter().map(|r| r.2).collect();
    assert_eq!(left, ["A1: the guest stays"], "{t:#}");
    assert_eq!(t["questions"][0]["withdrawn"], 2, "{t:#}");
    assert!(t.get("proposals").is_none(), "{t:#}");
    for format in ["json", "md", "txt", "html"] {
        let view = podium.transcript_as("forget", format);
        for gone in [
            "quoted",
            "regrets",
            "Can we forget",
            dana.user.localpart(),
            &b_nick,
        ] {
            assert!(!view.contains(gone), "{format} still has {gone:?}:\n{view}");
        }
    }
    let md = podium.transcript_as("forget", "md");
    assert!(md.contains("_2 answers were withdrawn._"), "{md}");
    assert_eq!(podium.terminate().code(), Some(0));
}

/// Ad-hoc debates (issue 19, point 7): the Matrix room's owner (a
/// moderator) and the IRC channel's operator each start one with
/// `!debate`, ask with `!ask`, close with `!end`; each gets its intro, its
/// answers, its closing and a private link whose page says it was ad hoc.
/// A participant who is neither cannot start one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adhoc_debates_on_matrix_and_irc_run_to_their_transcripts() {
    let url = synapse().url.clone();
    let (bot, dana, erin) = tokio::join!(
        Person::register(&url, "podium"),
        Person::register(&url, "dana"),
        Person::register(&url, "erin"),
    );
    let room = dana
        .create_room(&unique("adhoc"), &[&bot.user, &erin.user], false)
        .await;
    let room_id = room.room_id().to_string();
    let erin_room = erin.join(&room_id).await;
    let chan = format!("#{}", unique_nick("adhoc"));
    let (op_nick, guest_nick) = (unique_nick("alice"), unique_nick("guest"));
    let mut op = Client::connect(&ircd().addr, &op_nick).await;
    // The first to join an empty channel is its operator.
    op.join(&chan).await;
    let mut guest = Client::connect(&ircd().addr, &guest_nick).await;
    guest.join(&chan).await;
    // The rooms are Podium's through a debate far ahead; none runs now.
    let yaml = format!(
        "timezone: Europe/London\ndebates:\n  - id: later\n    title: Later\n\
         \x20   starts: 2031-07-01 20:00\n    rooms: ['{room_id}', 'irc:{chan}']\n\
         \x20   questions: [Why?]\n"
    );
    let nick = unique_nick("podium");
    let mut podium = podium_on(&bot, &nick, &yaml, None);
    joined(&mut op, &nick, &chan, &podium).await;

    let refused = ask_matrix(&erin, &erin_room, &bot, "!debate Mine", &podium).await;
    assert!(refused.contains("only the organisers"), "{refused}");
    let started = ask_matrix(&dana, &room, &bot, "!debate Mentoring in practice", &podium).await;
    assert!(
        started.starts_with("Starting “Mentoring in practice” now, as adhoc-"),
        "{started}"
    );
    post(
        &dana,
        &room,
        &bot,
        "“Mentoring in practice” starts now",
        &podium,
    )
    .await;
    let asked = ask_matrix(
        &dana,
        &room,
        &bot,
        "!ask What did a mentor teach you?",
        &podium,
    )
    .await;
    assert_eq!(asked, "Asked as Q1.");
    post(
        &erin,
        &erin_room,
        &bot,
        "Q1: What did a mentor teach you?",
        &podium,
    )
    .await;
    erin.say(&erin_room, "A1: to listen first").await;

    let refused = ask_irc_for(&mut guest, &nick, &chan, "!debate Mine", "Sorry").await;
    assert!(refused.contains("only the organisers"), "{refused}");
    let started = ask_irc_for(&mut op, &nick, &chan, "!debate Quick one", "Starting").await;
    assert!(
        started.starts_with("Starting “Quick one” now, as adhoc-irc-"),
        "{started}"
    );
    let asked = ask_irc_for(&mut op, &nick, &chan, "!ask Tabs or spaces?", "Asked").await;
    assert_eq!(asked, "Asked as Q1.");
    guest.privmsg(&chan, "A1: tabs, obviously").await;
    // Past the moment Podium takes the answer, then close.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let closing = ask_irc_for(&mut op, &nick, &chan, "!end", "Closing").await;
    assert_eq!(closing, "Closing “Quick one” now.");
    let (b, c) = (nick.clone(), chan.clone());
    let irc_link = guest
        .wait_for("the IRC transcript link", move |m| {
            m.is_privmsg(&b, &c) && m.text().contains("/transcripts/adhoc-irc-")
        })
        .await
        .text()
        .to_owned();

    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let closing = ask_matrix(&dana, &room, &bot, "!end", &podium).await;
    assert_eq!(closing, "Closing “Mentoring in practice” now.");
    post(
        &dana,
        &room,
        &bot,
        "The transcript of “Mentoring in practice”",
        &podium,
    )
    .await;
    let messages = dana.messages(&room).await;
    let matrix_link = messages
        .iter()
        .map(body)
        .find(|b| b.starts_with("The transcript of “Mentoring in practice”"))
        .expect("the link")
        .to_owned();

    for (link, title, answer) in [
        (matrix_link, "Mentoring in practice", "A1: to listen first"),
        (irc_link, "Quick one", "A1: tabs, obviously"),
    ] {
        let address = link
            .split_whitespace()
            .find(|w| w.contains("/transcripts/adhoc-"))
            .expect("an address")
            .trim_end_matches(['.', ')'])
            .to_owned();
        let (page, key) = address
            .split_once('?')
            .expect("an ad-hoc debate is private");
        let (status, html) = get(&address).await;
        assert_eq!(status, 200, "{address}");
        assert!(html.contains(title) && html.contains("ad hoc"), "{html}");
        let (_, txt) = get(&format!("{page}.txt?{key}")).await;
        assert!(txt.contains(answer), "{txt}");
        let (status, _) = get(page).await;
        assert_eq!(status, 404, "without its key");
    }
    assert_eq!(podium.terminate().code(), Some(0));
}

/// RSVPs on both networks (issue 19, point 2): a Matrix user and an IRC
/// account register with `!rsvp`, and at the debate's shortest reminder
/// each is reminded privately: in a direct-message room Podium makes on
/// Matrix, with a NOTICE to the nick on IRC, with the time in the zone
/// they set with `!tz`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_people_are_reminded_privately_on_matrix_and_irc() {
    let url = synapse().url.clone();
    let (bot, dana) = tokio::join!(
        Person::register(&url, "podium"),
        Person::register(&url, "dana"),
    );
    let room = dana.create_room(&unique("rsvp"), &[&bot.user], false).await;
    let room_id = room.room_id().to_string();
    let chan = format!("#{}", unique_nick("rsvp"));
    let b_nick = unique_nick("bert");
    let mut bert = Client::connect(&ircd().addr, &b_nick).await;
    ircd().services().login(&b_nick, &b_nick);
    bert.wait_account(&b_nick, &b_nick).await;
    bert.join(&chan).await;
    let start = chrono::SubsecRound::trunc_subsecs(Utc::now() + chrono::Duration::seconds(40), 0);
    let local = start.with_timezone(&chrono_tz::Europe::London);
    let yaml = format!(
        "timezone: Europe/London\ndebates:\n  - id: soonish\n    title: Soonish\n\
         \x20   starts: {}\n    duration: 1m\n    remind: [30s, 20s]\n\
         \x20   rooms: ['{room_id}', 'irc:{chan}']\n    questions: [Anything?]\n",
        local.format("%Y-%m-%d %H:%M:%S"),
    );
    let nick = unique_nick("podium");
    let mut podium = podium_on(&bot, &nick, &yaml, None);
    joined(&mut bert, &nick, &chan, &podium).await;

    ask_matrix(&dana, &room, &bot, "!tz Asia/Tokyo", &podium).await;
    let registered = ask_matrix(&dana, &room, &bot, "!rsvp soonish", &podium).await;
    assert!(
        registered.starts_with("Registered for “Soonish”")
            && registered.contains("I will remind you 20s before, in a direct message."),
        "{registered}\n{}",
        podium.logs()
    );
    let registered = ask_irc_for(&mut bert, &nick, &chan, "!rsvp soonish", "Registered").await;
    assert!(registered.contains("with a private notice"), "{registered}");

    // IRC: a NOTICE to Bert himself, not to the channel.
    let (b, me) = (nick.clone(), b_nick.clone());
    let notice = bert
        .wait_for("the personal reminder", move |m| m.is_notice(&b, &me))
        .await;
    let at = Utc::now();
    assert!(
        notice.text().starts_with("Reminder: “Soonish” starts in"),
        "{}",
        notice.text()
    );
    let early = (start - at).num_milliseconds() as f64 / 1000.0;
    println!("IRC personal reminder {early:.1} s before the start");
    assert!((15.0..=21.0).contains(&early), "{early} s before the start");

    // Matrix: a direct-message room, made by Podium, with the reminder.
    let deadline = tokio::time::Instant::now() + support::WAIT;
    let dm = loop {
        if let Some(r) = dana.client.invited_rooms().into_iter().next() {
            break r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no direct-message room\n{}",
            podium.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    dm.join().await.expect("joins the direct-message room");
    let dm = dana.room(&dm.room_id().to_owned());
    let messages = dana
        .wait_for_messages_or(
            &dm,
            "the personal reminder",
            |ms| {
                ms.iter()
                    .any(|m| body(m).starts_with("Reminder: “Soonish”"))
            },
            || podium.logs(),
        )
        .await;
    let reminder = messages
        .iter()
        .map(body)
        .find(|b| b.starts_with("Reminder: “Soonish”"))
        .unwrap()
        .to_owned();
    assert!(
        reminder.contains("(your time: ") && reminder.contains("JST (Tokyo))"),
        "{reminder}"
    );
    assert!(reminder.contains(&room_id), "{reminder}");
    assert_eq!(podium.terminate().code(), Some(0));
}

/// The live page (issue 19, point 5) on real networks: the transcript page
/// of a running debate, open in headless Chromium, shows an answer sent in
/// the Matrix room and one sent in the IRC channel within 2 seconds of
/// being sent, without a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_page_shows_answers_from_matrix_and_irc_within_2_seconds() {
    use support::browser::{Driver, js};
    let url = synapse().url.clone();
    let (bot, dana) = tokio::join!(
        Person::register(&url, "podium"),
        Person::register(&url, "dana"),
    );
    let room = dana.create_room(&unique("live"), &[&bot.user], false).await;
    let room_id = room.room_id().to_string();
    let chan = format!("#{}", unique_nick("live"));
    let mut bert = Client::connect(&ircd().addr, &unique_nick("bert")).await;
    bert.join(&chan).await;
    let yaml = schedule(&[Planned {
        id: "live",
        title: "Live",
        in_seconds: 10,
        public: true,
        rooms: &[&room_id, &format!("irc:{chan}")],
        organisers: &[],
    }]);
    let nick = unique_nick("podium");
    let mut podium = podium(&bot, &nick, &yaml);
    joined(&mut bert, &nick, &chan, &podium).await;
    post(&dana, &room, &bot, "Q1", &podium).await;
    let link = ask_matrix(&dana, &room, &bot, "!transcript", &podium).await;
    let page = link
        .split_whitespace()
        .find(|w| w.contains("/transcripts/live/"))
        .expect("an address")
        .trim_end_matches(['.', ')'])
        .to_owned();

    let driver = Driver::start().await;
    driver.go(&page).await;
    let opened = std::time::Instant::now();
    let live = driver
        .until(
            "return !!document.querySelector('script[src*=\"live.\"]') \
             && !!document.querySelector('main#transcript');",
            opened,
            std::time::Duration::from_secs(10),
        )
        .await;
    assert!(live.is_some(), "not a live page: {page}\n{}", podium.logs());
    // Let the page open its stream before anything new is said.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let shows = |text: &str| {
        format!(
            "return document.querySelector('main').textContent.includes({});",
            js(text)
        )
    };
    let sent = std::time::Instant::now();
    dana.say(&room, "A1: live from Matrix").await;
    let matrix = driver
        .until(
            &shows("live from Matrix"),
            sent,
            std::time::Duration::from_secs(10),
        )
        .await;
    let sent = std::time::Instant::now();
    bert.privmsg(&chan, "A1: live from IRC").await;
    let irc = driver
        .until(
            &shows("live from IRC"),
            sent,
            std::time::Duration::from_secs(10),
        )
        .await;
    println!("live page: the Matrix answer shown after {matrix:?}, the IRC one after {irc:?}");
    driver.quit().await;
    for (network, took) in [("Matrix", matrix), ("IRC", irc)] {
        let took = took.unwrap_or_else(|| panic!("the {network} answer never showed"));
        assert!(
            took < std::time::Duration::from_secs(2),
            "the {network} answer took {took:?}\n{}",
            podium.logs()
        );
    }
    assert_eq!(podium.terminate().code(), Some(0));
}

/// A scraped metric's value: the line of `text` that starts with `series`
/// (name and labels, as Prometheus writes them).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// The Prometheus metrics (issue 20, point 7) of a debate on both
/// networks, read from `/metrics` on their own address: every post the
/// Matrix room shows is counted (sent or late, each with its lateness),
/// every reply stored once per network, both networks up, and a flood of
/// commands on IRC counted as dropped; the address serves nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_posts_replies_and_drops_per_network() {
    let url = synapse().url.clone();
    let (bot, dana) = tokio::join!(
        Person::register(&url, "podium"),
        Person::register(&url, "dana"),
    );
    let room = dana
        .create_room(&unique("metrics"), &[&bot.user], false)
        .await;
    let room_id = room.room_id().to_string();
    let chan = format!("#{}", unique_nick("metrics"));
    let b_nick = unique_nick("bert");
    let mut bert = Client::connect(&ircd().addr, &b_nick).await;
    bert.join(&chan).await;
    let yaml = schedule(&[Planned {
        id: "counted",
        title: "Counted",
        in_seconds: 10,
        public: true,
        rooms: &[&room_id, &format!("irc:{chan}")],
        organisers: &[],
    }]);
    let nick = unique_nick("podium");
    let mut podium = Podium::new(&bot, &yaml);
    let port = loop {
        let port = matrix_support::free_port();
        if !podium.web.ends_with(&format!(":{port}")) {
            break port;
        }
    };
    podium.env("PODIUM_IRC_SERVER", &ircd().addr);
    podium.env("PODIUM_IRC_TLS", "false");
    podium.env("PODIUM_IRC_NICK", &nick);
    podium.env("PODIUM_METRICS_ADDR", &format!("127.0.0.1:{port}"));
    podium.start();
    let metrics_url = format!("http://127.0.0.1:{port}/metrics");
    joined(&mut bert, &nick, &chan, &podium).await;
    post(&dana, &room, &bot, "Q1", &podium).await;
    dana.say(&room, "A1: counted on Matrix").await;
    bert.privmsg(&chan, "A1: counted on IRC").await;

    // Eventually: what the room shows and the store holds is what the
    // metrics say (a post is counted once the network has confirmed it).
    let deadline = tokio::time::Instant::now() + support::WAIT;
    let bot_id = bot.user.to_string();
    let text = loop {
        let shown = dana
            .messages(&room)
            .await
            .iter()
            .filter(|m| m["sender"] == bot_id)
            .count() as f64;
        let Ok(r) = reqwest::get(&metrics_url).await else {
            panic!("no metrics at {metrics_url}\n{}", podium.logs());
        };
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        assert_eq!(status, 200, "{text}");
        let posted = |n: &str| {
            metric(
                &text,
                &format!("podium_posts_total{{network=\"{n}\",outcome=\"sent\"}}"),
            ) + metric(
                &text,
                &format!("podium_posts_total{{network=\"{n}\",outcome=\"late\"}}"),
            )
        };
        let stored = |n: &str| {
            metric(
                &text,
                &format!("podium_replies_stored_total{{network=\"{n}\"}}"),
            )
        };
        if shown >= 2.0
            && posted("matrix") == shown
            && posted("irc") >= 2.0
            && stored("matrix") == 1.0
            && stored("irc") == 1.0
        {
            for n in ["matrix", "irc"] {
                assert_eq!(
                    metric(
                        &text,
                        &format!("podium_post_lateness_seconds_count{{network=\"{n}\"}}")
                    ),
                    posted(n),
                    "every post the network took has its lateness\n{text}"
                );
                assert_eq!(
                    metric(&text, &format!("podium_network_up{{network=\"{n}\"}}")),
                    1.0
                );
            }
            break text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{shown} posts shown\n{text}\n{}",
            podium.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    assert!(
        !text.contains("podium_commands_dropped_total{network=\"irc\""),
        "{text}"
    );

    // A flood: more commands than one person's burst.
    for _ in 0..9 {
        bert.privmsg(&chan, "!next").await;
    }
    let deadline = tokio::time::Instant::now() + support::WAIT;
    loop {
        let (_, text) = get(&metrics_url).await;
        let dropped = |reason: &str| {
            metric(
                &text,
                &format!("podium_commands_dropped_total{{network=\"irc\",reason=\"{reason}\"}}"),
            )
        };
        let (limited, shed) = (dropped("sender"), dropped("backlog"));
        if limited + shed >= 1.0 {
            println!("metrics: of 9 commands, {limited} over the rate limit, {shed} shed");
            assert_eq!(
                metric(&text, "podium_replies_stored_total{network=\"irc\"}"),
                1.0,
                "commands are not replies\n{text}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no command counted as dropped\n{text}\n{}",
            podium.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let r = reqwest::get(&metrics_url).await.expect("answers");
    assert_eq!(
        r.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let (status, _) = get(&format!("http://127.0.0.1:{port}/")).await;
    assert_eq!(status, 404, "the metrics address serves only /metrics");
    let (status, _) = get(&format!("http://127.0.0.1:{port}/transcripts/counted")).await;
    assert_eq!(status, 404, "nor the pages");
    assert_eq!(podium.terminate().code(), Some(0));
}

/// Connections that each send half a request and hold it, as a slow or
/// hostile client does.
async fn half_sent(addr: &str, n: usize) -> Vec<tokio::net::TcpStream> {
    use tokio::io::AsyncWriteExt as _;
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let mut c = tokio::net::TcpStream::connect(addr)
            .await
            .expect("the web server accepts");
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("half a request");
        held.push(c);
    }
    held
}

/// A whole private debate on both networks at `RUST_LOG=trace` (issue 20,
/// point 4): logging in to Matrix with a password, to IRC with a server
/// password and an account password, the private link asked for on both
/// networks and posted at the end, the page opened with its key, while
/// 300 connections hold half a request each. Not one log line holds a
/// password, the access token the homeserver gave, or the page's key; the
/// posts are on time and the page answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_log_at_trace_in_a_whole_run() {
    const IRC_PASSWORD: &str = "irc-account-secret-7f3a";
    const SERVER_PASSWORD: &str = "irc-server-secret-91c2";
    let url = synapse().url.clone();
    let (bot, dana) = tokio::join!(
        Person::register(&url, "podium"),
        Person::register(&url, "dana"),
    );
    let room = dana
        .create_room(&unique("secret"), &[&bot.user], false)
        .await;
    let room_id = room.room_id().to_string();
    let chan = format!("#{}", unique_nick("secret"));
    let mut bert = Client::connect(&ircd().addr, &unique_nick("bert")).await;
    bert.join(&chan).await;
    let yaml = schedule(&[Planned {
        id: "closed",
        title: "Closed",
        in_seconds: 15,
        public: false,
        rooms: &[&room_id, &format!("irc:{chan}")],
        organisers: &[],
    }]);
    let nick = unique_nick("podium");
    let mut podium = Podium::new(&bot, &yaml);
    podium.env("PODIUM_IRC_SERVER", &ircd().addr);
    podium.env("PODIUM_IRC_TLS", "false");
    podium.env("PODIUM_IRC_NICK", &nick);
    podium.env("PODIUM_IRC_PASSWORD", IRC_PASSWORD);
    podium.env("PODIUM_IRC_SERVER_PASSWORD", SERVER_PASSWORD);
    podium.env("RUST_LOG", "trace");
    podium.start();
    joined(&mut bert, &nick, &chan, &podium).await;
    let web = podium.web.trim_start_matches("http://").to_owned();
    let held = half_sent(&web, 300).await;

    post(&dana, &room, &bot, "Q1", &podium).await;
    dana.say(&room, "A1: said on Matrix").await;
    bert.privmsg(&chan, "A1: said on IRC").await;
    let from_matrix = ask_matrix(&dana, &room, &bot, "!transcript", &podium).await;
    let from_irc = ask_irc(&mut bert, &nick, &chan, "!transcript").await;
    let link = from_matrix
        .split_whitespace()
        .find(|w| w.contains("?key="))
        .unwrap_or_else(|| panic!("a private link: {from_matrix}"))
        .trim_end_matches(['.', ')'])
        .to_owned();
    assert!(from_irc.contains(&link), "{from_irc}");
    let key = link.rsplit("key=").next().unwrap().to_owned();
    let (status, page) = get(&link).await;
    assert_eq!(status, 200, "the page answers with 300 slow clients held");
    assert!(page.contains("said on IRC"), "{page}");

    // To the end: the closing and the link posted in both rooms.
    post(&dana, &room, &bot, "That is the end", &podium).await;
    let bot_id = bot.user.to_string();
    let messages = dana
        .wait_for_messages_or(
            &room,
            "the transcript link",
            |ms| {
                ms.iter()
                    .any(|m| m["sender"] == bot_id && body(m).contains(&key))
            },
            String::new,
        )
        .await;
    assert!(!messages.is_empty());
    drop(held);
    assert_eq!(podium.terminate().code(), Some(0));

    let logs = podium.logs();
    let session = std::fs::read_to_string(podium.data.join("matrix/session.json"))
        .expect("the Matrix session");
    let session: Value = serde_json::from_str(&session).expect("JSON");
    let token = session
        .pointer("/tokens/access_token")
        .or_else(|| session.pointer("/access_token"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("an access token in {session}"))
        .to_owned();
    assert!(
        logs.lines().filter(|l| l.contains("TRACE")).count() > 1000,
        "the run logged at trace"
    );
    let password = bot.password();
    for (what, secret) in [
        ("the Matrix password", password.as_str()),
        ("the access token", token.as_str()),
        ("the IRC account password", IRC_PASSWORD),
        ("the IRC server password", SERVER_PASSWORD),
        ("the private page's key", key.as_str()),
    ] {
        let leaks: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains(secret))
            .take(3)
            .collect();
        assert!(
            leaks.is_empty(),
            "{what} is in the log:\n{}",
            leaks.join("\n")
        );
    }
    let late: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(" posted ") && l.contains("late=true"))
        .collect();
    assert!(
        late.is_empty(),
        "posts were late with slow clients held:\n{}",
        late.join("\n")
    );
}
