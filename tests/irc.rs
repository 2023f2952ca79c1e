#![recursion_limit = "256"]
//! `podium run` on a real IRC server: InspIRCd on loopback, started by
//! `scripts/ircd-up.sh` (one shared by the tests of this binary, and a few
//! of their own for the tests that restart it or need strict flood
//! limits). Participants are the tests' own raw-socket clients
//! (tests/support/irc.rs), not the `irc` crate the bot uses. The debate
//! stopped and restarted mid-way runs once more with the store on
//! PostgreSQL (tests/support/postgres.rs).

#[path = "support/irc_podium.rs"]
mod irc_podium;
#[path = "support/irc.rs"]
mod irc_support;
#[path = "support/matrix.rs"]
mod matrix_support;
mod support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use irc_podium::*;
use irc_support::{Client, Message, ircd, start_ircd, start_ircd_with, unique_nick};
use matrix_support::{Person, Podium, bodies, posts_of, synapse, unique};

/// A 2,000-character question in several scripts (every character after
/// the ASCII ones takes 2 to 4 bytes): longer than any IRC line.
fn long_question() -> String {
    let words = [
        "Grüße",
        "aus",
        "Zürich,",
        "Ελληνικά",
        "γράμματα,",
        "日本語の",
        "文章",
        "и",
        "русский",
        "текст",
        "🙂",
        "naïve",
        "café",
        "أهلاً",
        "—",
        "œuvre",
    ];
    let mut text = String::new();
    let mut i = 0;
    while text.chars().count() < 2000 {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(words[i % words.len()]);
        i += 1;
    }
    text.push('?');
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_debate_in_an_irc_channel() {
    let server = ircd();
    let chan = channel("debate");
    let bot = unique_nick("podium");
    let (op, guest, listed) = (
        unique_nick("alice"),
        unique_nick("bob"),
        unique_nick("carol"),
    );
    let (mut alice, mut bob, mut carol) = tokio::join!(
        Client::connect_caps(&server.addr, &op, CAPS),
        Client::connect_caps(&server.addr, &guest, CAPS),
        Client::connect_caps(&server.addr, &listed, CAPS),
    );
    // Carol is logged in to her account (named as her nick): the server
    // tags her messages with it.
    server.services().login(&listed, &listed);
    alice.wait_account(&listed, &listed).await;
    // The first to join is the channel's operator.
    alice.join(&chan).await;
    bob.join(&chan).await;
    carol.join(&chan).await;

    let long = long_question();
    let (yaml, _start) = debate(
        "ircdebate",
        &[&format!("irc:{chan}")],
        &[&format!("irc:{listed}")],
        10,
        "3m",
        &[
            ("What is leadership?", "0s"),
            ("Who leads well?", "1m"),
            (&long, "2m"),
            ("Never reached?", "2m30s"),
        ],
    );
    let mut podium = podium_on(server, &bot, &yaml);
    podium.start();
    bot_joins(&mut alice, &bot, &chan, &podium).await;

    let q1 = question(&mut alice, &bot, &chan, 1, &podium).await;
    assert!(
        plain(q1.text()).contains("What is leadership?"),
        "{}",
        q1.raw
    );
    assert!(
        q1.text().starts_with("\x02Q1:\x02"),
        "bold number: {:?}",
        q1.text()
    );
    let q1_id = q1
        .msgid()
        .expect("the server tags messages with ids")
        .to_owned();

    // Answers: tagged, untagged, /me, and one with a byte that is not UTF-8.
    typing().await;
    bob.privmsg(&chan, "A1: courage").await;
    alice.privmsg(&chan, "listening well").await;
    bob.action(&chan, "nods firmly").await;
    let mut line = format!("PRIVMSG {chan} :A1: caf").into_bytes();
    line.extend_from_slice(b"\xe9 au lait\r\n");
    bob.send_bytes(&line).await;
    // A CTCP VERSION to the bot is answered; a NOTICE never is.
    bob.privmsg(&bot, "\x01VERSION\x01").await;
    let version = bob
        .wait_for("the VERSION answer", |m| {
            m.is("NOTICE") && m.is_from(&bot) && m.text().starts_with("\x01VERSION ")
        })
        .await;
    assert!(version.text().contains("Podium"), "{}", version.raw);

    // A guest's !skip is refused by NOTICE, replying to it.
    bob.privmsg(&chan, "!skip").await;
    let skip = alice
        .wait_for("bob's !skip", |m| {
            m.is_privmsg(&guest, &chan) && m.text() == "!skip"
        })
        .await;
    let refusal = alice
        .wait_for("the refusal", |m| m.is_notice(&bot, &chan))
        .await;
    assert!(
        refusal
            .text()
            .starts_with(&format!("Sorry {guest}, only the organisers")),
        "{}",
        refusal.raw
    );
    assert_eq!(refusal.tag("+draft/reply"), skip.msgid(), "{}", refusal.raw);

    // A listed organiser's (by account: this server tags messages with
    // them) works:
    // Q2 comes now, not a minute after Q1.
    carol.privmsg(&chan, "!skip").await;
    let q2 = question(&mut alice, &bot, &chan, 2, &podium).await;
    assert!(
        q2.at.duration_since(q1.at) < Duration::from_secs(45),
        "Q2 came when due, not on !skip"
    );
    typing().await;
    bob.privmsg(&chan, "someone who listens").await;
    // A reply to Q1 goes to Q1, although Q2 is the latest.
    bob.reply(&chan, &q1_id, "and who admits mistakes").await;

    // The operator's !skip works too: Q3, 2,000 characters in several
    // scripts, arrives whole across lines of at most 512 bytes.
    alice.privmsg(&chan, "!skip").await;
    let first = question(&mut alice, &bot, &chan, 3, &podium).await;
    let words = long.split(' ').count();
    let lines = alice
        .wait_until(support::WAIT, "the whole of Q3", |all| {
            let from = all.iter().position(|m| m.raw == first.raw)?;
            let lines: Vec<&Message> = all[from..]
                .iter()
                .filter(|m| m.is_privmsg(&bot, &chan))
                .collect();
            let text: Vec<String> = lines.iter().map(|m| plain(m.text())).collect();
            let joined = text.join(" ");
            (joined.split(' ').count() > words).then(|| {
                lines
                    .iter()
                    .map(|m| (m.bytes.clone(), plain(m.text())))
                    .collect::<Vec<_>>()
            })
        })
        .await;
    let joined = lines
        .iter()
        .map(|(_, t)| t.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(lines.len() >= 5, "{} lines", lines.len());
    assert!(
        joined.starts_with(&format!("Q3: {long}")),
        "Q3 arrived changed:\n{joined}"
    );
    for (bytes, _) in &lines {
        // The line as relayed, without the tags the server may add
        // (they have a budget of their own), and without CR LF.
        let untagged = match bytes.first() {
            Some(b'@') => &bytes[bytes.iter().position(|b| *b == b' ').unwrap() + 1..],
            _ => &bytes[..],
        };
        assert!(untagged.len() <= 510, "{} bytes", untagged.len());
        assert!(std::str::from_utf8(bytes).is_ok(), "a character was cut");
    }
    bob.privmsg(&chan, "A3: ありがとう").await;

    // !end: the closing and the transcript link.
    alice.privmsg(&chan, "!end").await;
    let link = alice
        .wait_for("the transcript link", |m| {
            m.is_privmsg(&bot, &chan) && m.text().contains("/transcripts/ircdebate/")
        })
        .await;
    // !transcript as a NOTICE is ignored; as a PRIVMSG it is answered.
    bob.notice(&chan, "!transcript").await;
    bob.privmsg(&chan, "!transcript").await;
    let answer = alice
        .wait_for("the answer to !transcript", |m| {
            m.is_notice(&bot, &chan) && m.text().contains("/transcripts/ircdebate/")
        })
        .await;
    assert!(
        link.text()
            .contains(answer.text().split_whitespace().last().unwrap())
    );
    // Given time to answer the NOTICE too, it has answered once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let answers_to_transcript = alice
        .history()
        .iter()
        .filter(|m| m.is_notice(&bot, &chan) && m.text().contains("/transcripts/"))
        .count();
    assert_eq!(answers_to_transcript, 1, "a NOTICE was answered");

    let said = said_by(&mut alice, &bot, &chan);
    assert_eq!(
        question_counts(&said),
        vec![(1, 1), (2, 1), (3, 1)],
        "each question once, in order: {said:#?}"
    );

    let t = podium.transcript("ircdebate");
    let irc = |who: &str, body: &str, by: &str| {
        (
            who.to_owned(),
            body.to_owned(),
            "irc".to_owned(),
            by.to_owned(),
        )
    };
    let mut q1_answers = answers(&t, 1);
    q1_answers.sort();
    let mut expected = vec![
        irc(&guest, "A1: courage", "tag"),
        irc(&op, "listening well", "latest"),
        irc(&guest, "nods firmly", "latest"),
        irc(&guest, "A1: caf\u{fffd} au lait", "tag"),
        irc(&guest, "and who admits mistakes", "reply"),
    ];
    expected.sort();
    assert_eq!(q1_answers, expected, "{t:#}\n{}", podium.logs());
    assert_eq!(
        answers(&t, 2),
        vec![irc(&guest, "someone who listens", "latest")],
        "{t:#}"
    );
    assert_eq!(answers(&t, 3), vec![irc(&guest, "A3: ありがとう", "tag")]);
    assert!(
        t["questions"][2]["text"].as_str().unwrap().contains(&long),
        "the question is stored whole and without formatting codes"
    );
    assert_eq!(t["gaps"], serde_json::json!([]), "{t:#}");
    assert_eq!(podium.terminate().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_posts_at_once_under_strict_flood_limits_are_neither_kicked_nor_reordered() {
    // Flood protection that disconnects a client sending too fast
    // ("Excess Flood") rather than slowing it down.
    let server = start_ircd("strict-nofakelag");
    let chan = channel("burst");
    let bot = unique_nick("podium");
    let op = unique_nick("alice");
    let mut alice = Client::connect(&server.addr, &op).await;
    alice.join(&chan).await;
    let texts: Vec<String> = (1..=50).map(|n| format!("Burst question {n}?")).collect();
    let questions: Vec<(&str, &str)> = texts.iter().map(|t| (t.as_str(), "0s")).collect();
    let (yaml, _) = debate("burst", &[&chan], &[], 8, "10m", &questions);
    let mut podium = podium_on(&server, &bot, &yaml);
    podium.start();
    bot_joins(&mut alice, &bot, &chan, &podium).await;
    let lines = alice
        .wait_until(Duration::from_secs(180), "all 50 questions", |all| {
            let said: Vec<String> = all
                .iter()
                .filter(|m| m.is_privmsg(&bot, &chan))
                .map(|m| plain(m.text()))
                .collect();
            said.iter().any(|l| l.starts_with("Q50:")).then_some(said)
        })
        .await;
    let numbers: Vec<u32> = question_counts(&lines).iter().map(|(n, _)| *n).collect();
    assert_eq!(
        numbers,
        (1..=50).collect::<Vec<_>>(),
        "in order: {lines:#?}"
    );
    assert!(
        question_counts(&lines).iter().all(|(_, c)| *c == 1),
        "each once"
    );
    let gone = alice.history().iter().any(|m| {
        (m.is("QUIT") && m.is_from(&bot)) || (m.is("KICK") && m.params.get(1) == Some(&bot))
    });
    assert!(
        !gone,
        "the bot was disconnected or kicked\n{}",
        podium.logs()
    );
    assert!(podium.is_running());
    assert!(
        !podium.logs().contains("disconnected from IRC"),
        "{}",
        podium.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_server_restarts_the_bot_rejoins_and_the_transcript_shows_the_gap() {
    let server = start_ircd("relaxed");
    let chan = channel("outage");
    let bot = unique_nick("podium");
    let op = unique_nick("alice");
    let mut alice = Client::connect_caps(&server.addr, &op, CAPS).await;
    alice.join(&chan).await;
    let (yaml, _) = debate(
        "outage",
        &[&chan],
        &[],
        8,
        "2m",
        &[("Before?", "0s"), ("After?", "50s"), ("Later?", "70s")],
    );
    let mut podium = podium_on(&server, &bot, &yaml);
    podium.start();
    bot_joins(&mut alice, &bot, &chan, &podium).await;
    question(&mut alice, &bot, &chan, 1, &podium).await;
    alice.privmsg(&chan, "A1: before the outage").await;
    alice.sync().await;
    // Presence is recorded every 30 s and on loss: let the answer land.
    tokio::time::sleep(Duration::from_secs(2)).await;

    server.stop();
    let down = Utc::now();
    tokio::time::sleep(Duration::from_secs(15)).await;
    server.start_again();
    let up = Utc::now();
    // Nothing survives a restart: alice connects and makes the channel again.
    let mut alice = Client::connect_caps(&server.addr, &op, CAPS).await;
    alice.join(&chan).await;
    bot_joins(&mut alice, &bot, &chan, &podium).await;
    question(&mut alice, &bot, &chan, 2, &podium).await;
    alice.privmsg(&chan, "A2: after the outage").await;
    question(&mut alice, &bot, &chan, 3, &podium).await;
    alice.privmsg(&chan, "A3: later still").await;
    alice.sync().await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let said = said_by(&mut alice, &bot, &chan);
    assert_eq!(question_counts(&said), vec![(2, 1), (3, 1)], "{said:#?}");
    let t = podium.transcript("outage");
    assert_eq!(answers(&t, 1).len(), 1, "{t:#}");
    assert_eq!(answers(&t, 2)[0].1, "A2: after the outage", "{t:#}");
    assert_eq!(answers(&t, 3)[0].1, "A3: later still", "{t:#}");
    let gaps = t["gaps"].as_array().expect("gaps");
    assert_eq!(gaps.len(), 1, "{t:#}");
    let gap = &gaps[0];
    assert_eq!(gap["network"], "irc");
    let from: DateTime<Utc> = gap["from"].as_str().unwrap().parse().unwrap();
    let until: DateTime<Utc> = gap["until"].as_str().unwrap().parse().unwrap();
    assert!(
        from <= down && from > down - chrono::Duration::seconds(35),
        "the gap starts at the outage: {from} vs {down}"
    );
    assert!(
        until >= up,
        "the gap ends after the server is back: {until} vs {up}"
    );
    assert!(
        until < up + chrono::Duration::seconds(40),
        "the gap ends when the bot is back: {until} vs {up}"
    );
    let text = podium_text(&podium, "outage");
    assert!(
        text.contains("Podium was disconnected from IRC from"),
        "{text}"
    );
    assert!(
        podium
            .logs()
            .contains("disconnected from IRC; reconnecting")
    );
    assert_eq!(podium.terminate().code(), Some(0));
}

/// `podium transcript DEBATE --format txt` on this bot's data.
fn podium_text(podium: &Podium, debate: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_podium"))
        .arg("--data-dir")
        .arg(&podium.data)
        .args(["transcript", debate, "--format", "txt"])
        .output()
        .expect("podium transcript");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// Waits until the transcript of `debate` has `body` under question `n`.
async fn stored(podium: &Podium, debate: &str, n: u64, body: &str) {
    let deadline = std::time::Instant::now() + support::WAIT;
    loop {
        let t = podium.transcript(debate);
        if answers(&t, n).iter().any(|a| a.1 == body) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{body:?} was not stored under Q{n}: {t:#}\n{}",
            podium.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A debate whose bot is stopped four times and started again at once on
/// the same store (the data directory, or the PostgreSQL `database`):
/// with SIGKILL just after a question went out (twice), with SIGKILL
/// once an answer was stored, and with SIGTERM. Every post goes out once,
/// every stored answer stays once, and answers sent to a later run go
/// where they belong: a tag, and a reply to a question an earlier run
/// posted, found by its message id in the store.
async fn stopped_and_restarted(database: Option<&str>) {
    let server = ircd();
    let chan = channel("crash");
    let bot = unique_nick("podium");
    let op = unique_nick("alice");
    let mut alice = Client::connect_caps(&server.addr, &op, CAPS).await;
    alice.join(&chan).await;
    let (yaml, _) = debate(
        "crash",
        &[&chan],
        &[],
        8,
        "1m",
        &[("One?", "0s"), ("Two?", "20s"), ("Three?", "40s")],
    );
    let mut podium = podium_on(server, &bot, &yaml);
    if let Some(url) = database {
        podium.on_database(url);
    }
    // Restarted at once: the nick may still be taken by the dead
    // connection until the server notices.
    let restart = async |podium: &mut Podium, alice: &mut Client| {
        podium.start();
        bot_joins(alice, &bot, &chan, podium).await;
    };
    restart(&mut podium, &mut alice).await;

    let q1 = question(&mut alice, &bot, &chan, 1, &podium).await;
    let q1_id = q1
        .msgid()
        .expect("the server tags messages with ids")
        .to_owned();
    typing().await;
    alice.privmsg(&chan, "A1: to the first run").await;
    alice.privmsg(&chan, "untagged, to the first run").await;
    stored(&podium, "crash", 1, "untagged, to the first run").await;
    let status = podium.terminate();
    assert!(status.success(), "{status}\n{}", podium.logs());
    restart(&mut podium, &mut alice).await;
    alice
        .reply(&chan, &q1_id, "a reply to Q1, to the second run")
        .await;

    question(&mut alice, &bot, &chan, 2, &podium).await;
    podium.kill();
    restart(&mut podium, &mut alice).await;
    alice.privmsg(&chan, "A2: to the third run").await;
    stored(&podium, "crash", 2, "A2: to the third run").await;
    podium.kill();
    restart(&mut podium, &mut alice).await;
    alice
        .privmsg(&chan, "A1: a late one, to the fourth run")
        .await;

    question(&mut alice, &bot, &chan, 3, &podium).await;
    podium.kill();
    restart(&mut podium, &mut alice).await;
    alice.privmsg(&chan, "A3: to the fifth run").await;
    let link = alice
        .wait_for("the transcript link", |m| {
            m.is_privmsg(&bot, &chan) && m.text().contains("/transcripts/crash/")
        })
        .await;
    let link = plain(link.text())
        .split_whitespace()
        .find(|w| w.contains("/transcripts/crash/"))
        .expect("an address")
        .to_owned();
    podium.assert_served_as_stored("crash", &link).await;

    // Whatever the restarted bot's nick, every post is by a Podium.
    let said: Vec<String> = alice
        .history()
        .iter()
        .filter(|m| m.is("PRIVMSG") && m.target().eq_ignore_ascii_case(&chan))
        .filter(|m| m.nick.as_deref().is_some_and(|n| n.starts_with(&bot)))
        .map(|m| plain(m.text()))
        .collect();
    let report = || format!("{said:#?}\n{}", podium.logs());
    assert_eq!(
        question_counts(&said),
        vec![(1, 1), (2, 1), (3, 1)],
        "{}",
        report()
    );
    let count = |start: &str| said.iter().filter(|l| l.starts_with(start)).count();
    for once in [
        "“Live test” starts now: ",
        "That is the end of “Live test”.",
        "The transcript of “Live test” is at ",
    ] {
        assert_eq!(count(once), 1, "{once:?}\n{}", report());
    }
    // The reminder is dropped if the bot joins after the start.
    assert!(
        count("Reminder: “Live test” starts in") <= 1,
        "{}",
        report()
    );

    let t = podium.transcript("crash");
    let filed = |n| -> Vec<(String, String)> {
        answers(&t, n)
            .into_iter()
            .map(|(_, body, _, by)| (body, by))
            .collect()
    };
    let owned = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };
    assert_eq!(
        filed(1),
        owned(&[
            ("A1: to the first run", "tag"),
            ("untagged, to the first run", "latest"),
            ("a reply to Q1, to the second run", "reply"),
            ("A1: a late one, to the fourth run", "tag"),
        ]),
        "{t:#}\n{}",
        podium.logs()
    );
    assert_eq!(filed(2), owned(&[("A2: to the third run", "tag")]), "{t:#}");
    assert_eq!(filed(3), owned(&[("A3: to the fifth run", "tag")]), "{t:#}");
    assert_eq!(t["unattributed"], serde_json::json!([]), "{t:#}");
    assert_eq!(podium.terminate().code(), Some(0));
    if database.is_some() {
        podium.assert_no_sqlite_store();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_stopped_and_restarted_posts_nothing_twice_and_keeps_every_answer() {
    stopped_and_restarted(None).await;
}

/// The same with the store on PostgreSQL: each restart takes up the
/// debate from the database, and the transcript is served from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_bot_stopped_and_restarted_posts_nothing_twice_and_keeps_every_answer() {
    let database = support::postgres::database().await;
    stopped_and_restarted(Some(&database)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_a_channel_it_cannot_join_is_logged_and_the_others_go_on() {
    let server = ircd();
    let (open, locked) = (channel("open"), channel("locked"));
    let bot = unique_nick("podium");
    let op = unique_nick("alice");
    let mut alice = Client::connect(&server.addr, &op).await;
    alice.join(&open).await;
    alice.join(&locked).await;
    alice.mode(&locked, "+i").await;
    let (yaml, _) = debate(
        "tls",
        &[&open, &locked],
        &[],
        8,
        "1m",
        &[("Over TLS?", "0s"), ("After the invite?", "25s")],
    );
    // A self-signed certificate is refused unless accepted explicitly.
    let mut strict = podium_on(server, &unique_nick("strict"), &yaml);
    strict.env("PODIUM_IRC_SERVER", &server.tls_addr);
    strict.env("PODIUM_IRC_TLS", "true");
    strict.start();

    let mut podium = podium_on(server, &bot, &yaml);
    podium.env("PODIUM_IRC_SERVER", &server.tls_addr);
    podium.env("PODIUM_IRC_TLS", "true");
    podium.env("PODIUM_IRC_TLS_ACCEPT_INVALID_CERTS", "true");
    podium.start();
    bot_joins(&mut alice, &bot, &open, &podium).await;
    question(&mut alice, &bot, &open, 1, &podium).await;
    let log = podium.log();
    let refused = log
        .lines()
        .find(|l| l.contains("refuses to let Podium join") && l.contains(&locked))
        .unwrap_or_else(|| panic!("no log line for {locked}:\n{log}"));
    assert!(refused.contains("code=473"), "{refused}");
    assert!(
        refused.contains("invite only"),
        "the server's reason: {refused}"
    );
    // Invited, it joins at once and posts what comes next there too.
    alice.command(&format!("INVITE {bot} {locked}")).await;
    bot_joins(&mut alice, &bot, &locked, &podium).await;
    question(&mut alice, &bot, &locked, 2, &podium).await;
    question(&mut alice, &bot, &open, 2, &podium).await;

    let log = strict.log();
    assert!(
        log.contains("cannot connect") && log.to_lowercase().contains("certificate"),
        "{log}"
    );
    assert!(strict.is_running(), "a refused certificate is retried");
    assert_eq!(strict.terminate().code(), Some(0));
    assert_eq!(podium.terminate().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_debate_in_a_matrix_room_and_an_irc_channel_has_one_transcript() {
    let server = ircd();
    let chan = channel("both");
    let nick = unique_nick("podium");
    let op = unique_nick("alice");
    let url = synapse().url.clone();
    let (bot, dana) = tokio::join!(
        Person::register(&url, "bot"),
        Person::register(&url, "dana")
    );
    let room = dana.create_room(&unique("both"), &[&bot.user], false).await;
    let mut alice = Client::connect(&server.addr, &op).await;
    alice.join(&chan).await;
    let (yaml, _) = debate(
        "both",
        &[room.room_id().as_str(), &format!("irc:{chan}")],
        &[],
        15,
        "1m",
        &[("Which network?", "0s"), ("Why both?", "20s")],
    );
    let mut podium = Podium::new(&bot, &yaml);
    podium.env("PODIUM_IRC_SERVER", &server.addr);
    podium.env("PODIUM_IRC_TLS", "false");
    podium.env("PODIUM_IRC_NICK", &nick);
    podium.start();
    bot_joins(&mut alice, &nick, &chan, &podium).await;
    question(&mut alice, &nick, &chan, 1, &podium).await;
    alice.privmsg(&chan, "A1: IRC, of course").await;
    dana.wait_for_messages_or(
        &room,
        "Q1",
        |m| bodies(m).iter().any(|b| b.contains("Which network?")),
        || podium.logs(),
    )
    .await;
    dana.say(&room, "A1: Matrix, of course").await;
    question(&mut alice, &nick, &chan, 2, &podium).await;
    typing().await;
    alice.privmsg(&chan, "both have their people").await;
    dana.say(&room, "A2: bridges are fragile").await;
    alice
        .wait_for("the transcript link", |m| {
            m.is_privmsg(&nick, &chan) && m.text().contains("/transcripts/both/")
        })
        .await;
    let messages = dana
        .wait_for_messages_or(
            &room,
            "the transcript link",
            |m| bodies(m).iter().any(|b| b.contains("/transcripts/both/")),
            || podium.logs(),
        )
        .await;

    let bot_id = bot.user.as_str();
    let matrix_posts: Vec<String> = posts_of(&messages, bot_id)
        .iter()
        .map(|m| m["content"]["body"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        question_counts(&matrix_posts),
        vec![(1, 1), (2, 1)],
        "{matrix_posts:#?}"
    );
    let said = said_by(&mut alice, &nick, &chan);
    assert_eq!(question_counts(&said), vec![(1, 1), (2, 1)], "{said:#?}");

    let t = podium.transcript("both");
    let by_network = |n: u64| {
        let mut a: Vec<(String, String)> = answers(&t, n)
            .into_iter()
            .map(|(_, body, network, _)| (network, body))
            .collect();
        a.sort();
        a
    };
    assert_eq!(
        by_network(1),
        vec![
            ("irc".to_owned(), "A1: IRC, of course".to_owned()),
            ("matrix".to_owned(), "A1: Matrix, of course".to_owned()),
        ],
        "{t:#}"
    );
    assert_eq!(
        by_network(2),
        vec![
            ("irc".to_owned(), "both have their people".to_owned()),
            ("matrix".to_owned(), "A2: bridges are fragile".to_owned()),
        ],
        "{t:#}"
    );
    assert_eq!(podium.terminate().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_nick_is_regained_a_reloaded_channel_joined_and_operators_can_be_refused() {
    let server = ircd();
    let (first, second) = (channel("first"), channel("second"));
    let bot = unique_nick("podium");
    let op = unique_nick("alice");
    // Someone has the bot's nick before it comes.
    let (mut alice, squatter) = tokio::join!(
        Client::connect(&server.addr, &op),
        Client::connect(&server.addr, &bot),
    );
    alice.join(&first).await;
    alice.join(&second).await;
    let (yaml, _) = debate("nicks", &[&first], &[], 120, "10m", &[("One?", "0s")]);
    let mut podium = podium_on(server, &bot, &yaml);
    // Channel operators may be kept from the organiser commands.
    podium.env("PODIUM_IRC_OPERATORS_ARE_ORGANISERS", "false");
    podium.start();
    let alternate = format!("{bot}_");
    bot_joins(&mut alice, &alternate, &first, &podium).await;
    alice.privmsg(&first, "!skip").await;
    let refusal = alice
        .wait_for("the refusal of an operator's !skip", |m| {
            m.is_notice(&alternate, &first)
        })
        .await;
    assert!(
        refusal
            .text()
            .starts_with(&format!("Sorry {op}, only the organisers")),
        "{}",
        refusal.raw
    );

    // The schedule gains a channel: joined once the file is re-read.
    let more = yaml.replace(
        &format!("rooms: [{}]", yaml_str(&first)),
        &format!("rooms: [{}, {}]", yaml_str(&first), yaml_str(&second)),
    );
    assert_ne!(more, yaml);
    std::fs::write(&podium.schedule, more).expect("schedule");
    bot_joins(&mut alice, &alternate, &second, &podium).await;

    // The nick is free again: the bot takes it back (it asks every 30 s).
    squatter.quit("bye").await;
    let (alt, nick) = (alternate.clone(), bot.clone());
    let back = alice
        .try_wait_for(Duration::from_secs(45), move |m| {
            m.is("NICK") && m.is_from(&alt) && m.text() == nick
        })
        .await;
    assert!(
        back.is_some(),
        "the nick was not taken back\n{}",
        podium.logs()
    );
    assert_eq!(podium.terminate().code(), Some(0));
}

/// Settings the server refuses are the operator's to fix: `podium run`
/// says so and exits 78 (a supervisor should not restart it in a loop).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nick_the_server_refuses_stops_run_with_status_78() {
    let server = ircd();
    let (yaml, _) = debate(
        "refused",
        &[&channel("refused")],
        &[],
        600,
        "1h",
        &[("One?", "0s")],
    );
    let mut podium = podium_on(server, "9starts-with-a-digit", &yaml);
    podium.start();
    let (status, logs) = podium.wait_exit();
    assert_eq!(status.code(), Some(78), "{logs}");
    assert!(
        logs.contains("does not accept the nick `9starts-with-a-digit`"),
        "{logs}"
    );
}

/// Stopped by SIGTERM, the bot leaves as a client should: it says QUIT
/// (the channel sees its reason), and its presence is recorded up to the
/// server's answer, not only up to the last record made every 30 s. So,
/// started again later, the transcript shows an absence from the stop to
/// the restart, no earlier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_bot_says_quit_and_the_transcript_shows_only_the_time_it_was_away() {
    let server = ircd();
    let chan = channel("stop");
    let bot = unique_nick("podium");
    let op = unique_nick("alice");
    let mut alice = Client::connect_caps(&server.addr, &op, CAPS).await;
    alice.join(&chan).await;
    let (yaml, _) = debate(
        "stop",
        &[&chan],
        &[],
        6,
        "2m",
        &[("Before?", "0s"), ("After?", "40s")],
    );
    let mut podium = podium_on(server, &bot, &yaml);
    podium.start();
    bot_joins(&mut alice, &bot, &chan, &podium).await;
    question(&mut alice, &bot, &chan, 1, &podium).await;
    // Well within the 30 s after registration before presence is first
    // recorded again: without a record at the stop, the absence would
    // begin when the bot connected.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let stopped_at = Utc::now();
    let status = podium.terminate();
    let stopped = Utc::now();
    assert_eq!(status.code(), Some(0), "{}", podium.logs());
    assert!(
        stopped - stopped_at < chrono::Duration::seconds(10),
        "SIGTERM took {} to stop the bot\n{}",
        stopped - stopped_at,
        podium.logs()
    );
    let quit = alice
        .wait_for("the bot's QUIT", |m| m.is("QUIT") && m.is_from(&bot))
        .await;
    assert!(
        quit.text().contains("Podium is stopping"),
        "{}\n{}",
        quit.raw,
        podium.logs()
    );
    assert!(podium.logs().contains("left IRC"), "{}", podium.logs());

    tokio::time::sleep(Duration::from_secs(8)).await;
    let restarted = Utc::now();
    podium.start();
    bot_joins(&mut alice, &bot, &chan, &podium).await;
    question(&mut alice, &bot, &chan, 2, &podium).await;
    let t = podium.transcript("stop");
    let gaps = t["gaps"].as_array().expect("gaps");
    assert_eq!(gaps.len(), 1, "{t:#}\n{}", podium.logs());
    assert_eq!(gaps[0]["network"], "irc");
    let from: DateTime<Utc> = gaps[0]["from"].as_str().unwrap().parse().unwrap();
    let until: DateTime<Utc> = gaps[0]["until"].as_str().unwrap().parse().unwrap();
    assert!(
        from >= stopped_at - chrono::Duration::seconds(1) && from <= stopped,
        "the absence begins at the stop ({stopped_at}), not at {from}"
    );
    assert!(
        until >= restarted && until < restarted + chrono::Duration::seconds(20),
        "the absence ends when the bot is back ({restarted}), not at {until}"
    );
    assert_eq!(podium.terminate().code(), Some(0), "{}", podium.logs());
}

/// The channel lists `podium` logged as asked for: (channels, lines) for
/// each time it asked.
fn join_requests(podium: &Podium) -> Vec<(usize, usize)> {
    let log = matrix_support::strip_ansi(&podium.logs());
    log.lines()
        .filter(|l| l.contains("asking to join"))
        .map(|l| {
            let n = |key| {
                matrix_support::log_field(l, key)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("no {key} in {l}"))
            };
            (n("channels"), n("lines"))
        })
        .collect()
}

/// `n` channel names no other test uses, one in four with letters of
/// several bytes.
fn channels(base: &str, n: usize) -> Vec<String> {
    let base = unique_nick(base);
    (0..n)
        .map(|i| {
            if i % 4 == 3 {
                format!("#{base}-débat-日本-{i}")
            } else {
                format!("#{base}-{i}")
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_channels_are_joined_in_a_few_lines_again_after_a_restart_and_a_reload() {
    let server = start_ircd("relaxed");
    let all = channels("many", 350);
    let (first, added) = all.split_at(300);
    let bot = unique_nick("podium");
    let op = unique_nick("alice");
    let mut alice = Client::connect(&server.addr, &op).await;
    let last = first[299].clone();
    alice.join(&last).await;
    let rooms: Vec<&str> = first.iter().map(String::as_str).collect();
    let (yaml, _) = debate("many", &rooms, &[], 3600, "10m", &[("One?", "0s")]);
    let mut podium = podium_on(&server, &bot, &yaml);
    podium.start();
    bot_joins(&mut alice, &bot, &last, &podium).await;
    healthz_becomes(&podium, 200, "in 300 of 300 channels").await;
    let asked = join_requests(&podium);
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].0, 300);
    assert!(
        asked[0].1 <= 25,
        "{} JOIN lines for 300 channels",
        asked[0].1
    );

    // The server restarts: every channel is joined again, as few lines.
    server.stop();
    healthz_becomes(&podium, 503, "").await;
    server.start_again();
    healthz_becomes(&podium, 200, "in 300 of 300 channels").await;
    let asked = join_requests(&podium);
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert_eq!(asked[1], asked[0]);

    // The schedule gains 50 channels: those are asked for, and only those.
    let more: Vec<&str> = all.iter().map(String::as_str).collect();
    let (yaml, _) = debate("many", &more, &[], 3600, "10m", &[("One?", "0s")]);
    std::fs::write(&podium.schedule, yaml).expect("schedule");
    healthz_becomes(&podium, 200, "in 350 of 350 channels").await;
    let asked = join_requests(&podium);
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert_eq!(asked[2].0, added.len());
    assert!(
        !podium.logs().contains("refuses to let Podium join"),
        "{}",
        podium.logs()
    );
    assert_eq!(podium.terminate().code(), Some(0));
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_beyond_the_servers_limit_are_not_asked_for_but_logged_once_and_shown() {
    let server = start_ircd_with("relaxed", &[("IRCD_MAXCHANS", "5")]);
    let all = channels("capped", 9);
    let bot = unique_nick("podium");
    let op = unique_nick("alice");
    let mut alice = Client::connect(&server.addr, &op).await;
    alice.join(&all[4]).await;
    let rooms: Vec<&str> = all[..8].iter().map(String::as_str).collect();
    let (yaml, _) = debate("capped", &rooms, &[], 3600, "10m", &[("One?", "0s")]);
    let mut podium = podium_on(&server, &bot, &yaml);
    podium.start();
    // The schedule's first five are joined; the last three are named.
    bot_joins(&mut alice, &bot, &all[4], &podium).await;
    let body = healthz_becomes(
        &podium,
        503,
        &format!(
            "in 5 of 8 channels; 3 not joined, over the server's limit (CHANLIMIT=#:5): {}, {}, {}",
            all[5], all[6], all[7]
        ),
    )
    .await;
    assert!(!body.contains(&all[4]), "{body}");
    let warnings = |podium: &Podium| -> Vec<String> {
        matrix_support::strip_ansi(&podium.logs())
            .lines()
            .filter(|l| l.contains("caps how many channels"))
            .map(str::to_owned)
            .collect()
    };
    let said = warnings(&podium);
    assert_eq!(said.len(), 1, "{said:#?}");
    for name in &all[5..8] {
        assert!(said[0].contains(name.as_str()), "{name}: {}", said[0]);
    }
    assert!(
        said[0].contains("count=3") && said[0].contains("CHANLIMIT=#:5"),
        "{}",
        said[0]
    );
    // Never asked for, so never refused (405, too many channels).
    assert!(
        !podium.logs().contains("refuses to let Podium join"),
        "{}",
        podium.logs()
    );
    assert_eq!(join_requests(&podium), [(5, 1)]);

    // Re-read unchanged, the schedule is not warned about again...
    let pid = podium.pid().expect("running").to_string();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status();
    assert!(hup.expect("kill").success());
    let deadline = tokio::time::Instant::now() + support::WAIT;
    while !podium.logs().contains("SIGHUP: reloading the schedule") {
        assert!(tokio::time::Instant::now() < deadline, "{}", podium.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(warnings(&podium).len(), 1, "{}", podium.logs());
    // ...but a ninth channel changes what is left out.
    let rooms: Vec<&str> = all.iter().map(String::as_str).collect();
    let (yaml, _) = debate("capped", &rooms, &[], 3600, "10m", &[("One?", "0s")]);
    std::fs::write(&podium.schedule, yaml).expect("schedule");
    healthz_becomes(&podium, 503, "in 5 of 9 channels; 4 not joined").await;
    let said = warnings(&podium);
    assert_eq!(said.len(), 2, "{said:#?}");
    assert!(
        said[1].contains("count=4") && said[1].contains(&all[8]),
        "{}",
        said[1]
    );
    assert_eq!(podium.terminate().code(), Some(0));
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_join_under_strict_flood_limits_without_fakelag_is_not_killed() {
    // InspIRCd charges two seconds of flood allowance per JOIN line:
    // without fakelag, 18 of them a paced line apart (1.5 s) end the
    // connection ("Excess Flood"). Long names make this ~23 lines.
    let server = start_ircd("strict-nofakelag");
    let base = unique_nick("strict");
    let all: Vec<String> = (0..200)
        .map(|i| format!("#{base}-a-rather-long-debate-channel-name-{i:03}"))
        .collect();
    let rooms: Vec<&str> = all.iter().map(String::as_str).collect();
    let (yaml, _) = debate("strict", &rooms, &[], 3600, "10m", &[("One?", "0s")]);
    let mut podium = podium_on(&server, &unique_nick("podium"), &yaml);
    podium.start();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        // The page may not be served yet right after the start.
        let (status, body) = match reqwest::get(format!("{}/healthz", podium.web)).await {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        };
        if status == 200 && body.contains("in 200 of 200 channels") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{body}\n{}",
            podium.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let asked = join_requests(&podium);
    assert_eq!(asked.len(), 1, "asked once, never reconnected: {asked:?}");
    assert!(asked[0].1 > 18, "{asked:?}: too few lines to show anything");
    let log = podium.logs();
    assert!(
        !log.contains("Excess Flood") && !log.contains("disconnected"),
        "{log}"
    );
    assert_eq!(podium.terminate().code(), Some(0));
    server.stop();
}
