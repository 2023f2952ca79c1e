#![recursion_limit = "256"]
//! `podium run` on a real IRC server (InspIRCd, `scripts/ircd-up.sh`) with
//! hostile participants: floods of commands and CTCP requests, borrowed
//! nicks, channel operators who merely came first, look-alike channel
//! names, a 6,000-character title. Participants are the tests' own
//! raw-socket clients (tests/support/irc.rs).
//!
//! One server for most tests (relaxed flood limits, so a participant can
//! flood; accounts through a stand-in for services; a PING every 10 s, so
//! a bot that stops reading is dropped within 20 s), and one with Debian's
//! strict flood limits for the tests that measure what the bot sends.

#[path = "support/irc_podium.rs"]
mod irc_podium;
#[path = "support/irc.rs"]
mod irc_support;
#[path = "support/matrix.rs"]
mod matrix_support;
mod support;

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use irc_podium::*;
use irc_support::{Client, Ircd, Message, start_ircd, start_ircd_with, unique_nick};
use matrix_support::Podium;

/// The binary's server for hostile participants.
fn server() -> &'static Ircd {
    static IRCD: OnceLock<Ircd> = OnceLock::new();
    IRCD.get_or_init(|| {
        start_ircd_with(
            "relaxed",
            &[("IRCD_SERVICES", "yes"), ("IRCD_PINGFREQ", "10")],
        )
    })
}

/// Debian's flood limits (threshold 10, then a line a second, fakelag).
fn strict() -> &'static Ircd {
    static IRCD: OnceLock<Ircd> = OnceLock::new();
    IRCD.get_or_init(|| start_ircd("strict"))
}

/// How late a question may be, on a busy machine, and still be on time:
/// a paced line or two, and a wide margin (the defects made them 36 to 70
/// seconds late).
const ON_TIME: Duration = Duration::from_secs(6);

/// How late `m` (a question with `server-time`) came against `due`.
fn lateness(m: &Message, due: DateTime<Utc>) -> Duration {
    let at = m.time().expect("the server tags lines with their time");
    (at - due).to_std().unwrap_or(Duration::ZERO)
}

/// Waits until the transcript of `debate` has `n` answers under question
/// `q`; returns them (body, attributed_by). Fails with the bot's log after
/// `patience`.
async fn stored(
    podium: &Podium,
    debate: &str,
    q: u64,
    n: usize,
    patience: Duration,
) -> Vec<(String, String)> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let t = podium.transcript(debate);
        let got: Vec<(String, String)> = answers(&t, q)
            .into_iter()
            .map(|(_, body, _, by)| (body, by))
            .collect();
        if got.len() >= n {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {n} answers to Q{q} stored after {patience:?}: {got:#?}\n{}",
            got.len(),
            podium.logs()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The bot's refusal of `nick`'s organiser command in `chan`.
async fn refused(client: &mut Client, bot: &str, chan: &str, nick: &str) {
    let (b, c, n) = (bot.to_owned(), chan.to_owned(), nick.to_owned());
    client
        .wait_for(&format!("the refusal of {nick}'s command"), move |m| {
            m.is_notice(&b, &c)
                && m.text()
                    .starts_with(&format!("Sorry {n}, only the organisers"))
        })
        .await;
}

/// A fresh participant who joins `chan` first, and so is its operator:
/// her nick and her connection.
async fn first_in(chan: &str) -> (String, Client) {
    let op = unique_nick("alice");
    let mut alice = Client::connect(&server().addr, &op).await;
    alice.join(chan).await;
    (op, alice)
}

/// `podium run` as a fresh nick on the binary's server, hosting debate
/// `id` in `chan` (starting in 8 s, ten minutes long) with `questions`;
/// returns its nick and the bot once `watcher`, in `seen_in`, sees it join.
async fn host(
    id: &str,
    chan: &str,
    questions: &[(&str, &str)],
    watcher: &mut Client,
    seen_in: &str,
) -> (String, Podium) {
    let bot = unique_nick("podium");
    let (yaml, _) = debate(id, &[chan], &[], 8, "10m", questions);
    let mut podium = podium_on(server(), &bot, &yaml);
    podium.start();
    bot_joins(watcher, &bot, seen_in, &podium).await;
    (bot, podium)
}

/// 15.3: 3,000 `!help` at once from one participant while another
/// answers. Reading never stops (the server's PINGs, every 10 s, are
/// answered: no reconnection), every answer is stored, and the shed
/// commands are logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_flood_never_stops_reading_and_every_answer_is_stored() {
    let server = server();
    let chan = channel("flood");
    let bot = unique_nick("podium");
    let (flooder, answerer) = (unique_nick("mallory"), unique_nick("alice"));
    let (mut mallory, mut alice) = tokio::join!(
        Client::connect(&server.addr, &flooder),
        Client::connect_caps(&server.addr, &answerer, CAPS),
    );
    alice.join(&chan).await;
    mallory.join(&chan).await;
    let (yaml, _) = debate("flood", &[&chan], &[], 8, "10m", &[("Who floods?", "0s")]);
    let mut podium = podium_on(server, &bot, &yaml);
    podium.start();
    bot_joins(&mut alice, &bot, &chan, &podium).await;
    question(&mut alice, &bot, &chan, 1, &podium).await;

    let flood = format!("PRIVMSG {chan} :!help\r\n").repeat(3000);
    let began = tokio::time::Instant::now();
    mallory.send_bytes(flood.as_bytes()).await;
    // Answers for 20 s (two of the server's PINGs), then 10 s more.
    let n = 40;
    for i in 1..=n {
        alice.privmsg(&chan, &format!("A1: answer {i}")).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;

    let got = stored(&podium, "flood", 1, n, Duration::from_secs(240)).await;
    let answered = alice
        .history()
        .iter()
        .filter(|m| m.is_notice(&bot, &chan) && m.text().starts_with("!help"))
        .count();
    println!(
        "flood: 3,000 !help; {n} answers stored {:?} after the flood began; \
         {answered} !help answered",
        began.elapsed()
    );
    let mut bodies: Vec<String> = got.into_iter().map(|(b, _)| b).collect();
    bodies.sort_by_key(|b| b.rsplit(' ').next().and_then(|n| n.parse::<u32>().ok()));
    let expected: Vec<String> = (1..=n).map(|i| format!("A1: answer {i}")).collect();
    assert_eq!(bodies, expected);
    let logs = podium.logs();
    assert!(!logs.contains("disconnected from IRC"), "{logs}");
    let quit = alice
        .history()
        .iter()
        .any(|m| m.is("QUIT") && m.is_from(&bot));
    assert!(!quit, "the bot left the server\n{logs}");
    assert!(logs.contains("these were dropped unanswered"), "{logs}");
    assert_eq!(podium.terminate().code(), Some(0));
}

/// 15.4: 100 CTCP VERSION requests (25 from each of 4 senders) 15 s
/// before a question, on a server with strict flood limits: a few replies
/// at most, and the question on time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctcp_requests_are_rationed_and_never_delay_a_question() {
    let server = strict();
    let chan = channel("ctcp");
    let bot = unique_nick("podium");
    let nicks: Vec<String> = (0..4).map(|_| unique_nick("ctcp")).collect();
    let watcher = unique_nick("alice");
    let (mut alice, f0, f1, f2, f3) = tokio::join!(
        Client::connect_caps(&server.addr, &watcher, CAPS),
        Client::connect(&server.addr, &nicks[0]),
        Client::connect(&server.addr, &nicks[1]),
        Client::connect(&server.addr, &nicks[2]),
        Client::connect(&server.addr, &nicks[3]),
    );
    let mut flooders = vec![f0, f1, f2, f3];
    for f in &mut flooders {
        // Opers are not held back by the server's flood limits.
        f.oper().await;
    }
    alice.join(&chan).await;
    let (yaml, start) = debate(
        "ctcp",
        &[&chan],
        &[],
        8,
        "2m",
        &[("First?", "0s"), ("Second?", "30s")],
    );
    let mut podium = podium_on(server, &bot, &yaml);
    podium.start();
    bot_joins(&mut alice, &bot, &chan, &podium).await;
    question(&mut alice, &bot, &chan, 1, &podium).await;
    let at = start + chrono::Duration::seconds(15);
    tokio::time::sleep((at - Utc::now()).to_std().unwrap_or_default()).await;
    let requests = format!("PRIVMSG {bot} :\x01VERSION\x01\r\n").repeat(25);
    for f in &flooders {
        f.send_bytes(requests.as_bytes()).await;
    }
    let q2 = question(&mut alice, &bot, &chan, 2, &podium).await;
    let late = lateness(&q2, start + chrono::Duration::seconds(30));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let replies: usize = flooders
        .iter_mut()
        .map(|f| {
            f.notices_from(&bot)
                .iter()
                .filter(|m| m.text().starts_with("\x01VERSION"))
                .count()
        })
        .sum();
    println!("CTCP: 100 requests, {replies} replies; Q2 late by {late:?}");
    assert!(late < ON_TIME, "Q2 was {late:?} late\n{}", podium.logs());
    assert!(
        (1..=4).contains(&replies),
        "{replies} VERSION replies\n{}",
        podium.logs()
    );
    assert_eq!(podium.terminate().code(), Some(0));
}

/// 15.14: a 6,000-character title in two channels, on a server with strict
/// flood limits: the announcements are shortened and no question waits
/// behind them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_title_in_two_channels_delays_no_question() {
    let server = strict();
    let (one, two) = (channel("title"), channel("title"));
    let bot = unique_nick("podium");
    let watcher = unique_nick("alice");
    let mut alice = Client::connect_caps(&server.addr, &watcher, CAPS).await;
    alice.join(&one).await;
    alice.join(&two).await;
    let offsets = [20, 35, 50];
    let questions: Vec<(String, String)> = offsets
        .iter()
        .enumerate()
        .map(|(i, at)| (format!("Question {}?", i + 1), format!("{at}s")))
        .collect();
    let questions: Vec<(&str, &str)> = questions
        .iter()
        .map(|(q, at)| (q.as_str(), at.as_str()))
        .collect();
    let (yaml, start) = debate("title", &[&one, &two], &[], 12, "70s", &questions);
    let title: String = "A very long title indeed ".repeat(240);
    assert!(title.len() >= 6000);
    let yaml = yaml.replace("title: Live test", &format!("title: {}", yaml_str(&title)));
    let mut podium = podium_on(server, &bot, &yaml);
    podium.start();
    let mut figures = Vec::new();
    for (n, offset) in (1..).zip(offsets) {
        let due = start + chrono::Duration::seconds(offset);
        for chan in [&one, &two] {
            let q = question(&mut alice, &bot, chan, n, &podium).await;
            let late = lateness(&q, due);
            figures.push(format!("Q{n} {chan}: {} ms", late.as_millis()));
            assert!(
                late < ON_TIME,
                "Q{n} in {chan} was {late:?} late\n{figures:?}\n{}",
                podium.logs()
            );
        }
    }
    println!("6,000-character title, two channels, strict flood limits: {figures:?}");
    assert_eq!(podium.terminate().code(), Some(0));
}

/// 15.7: the first to join an empty channel becomes its operator. On a
/// channel Podium found empty, an operator is not an organiser; on one it
/// found with people in it, the operator is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_of_a_channel_podium_found_empty_is_no_organiser() {
    let server = server();
    let (empty, held) = (channel("empty"), channel("held"));
    let bot = unique_nick("podium");
    let (op, squatter, admin) = (
        unique_nick("alice"),
        unique_nick("mallory"),
        unique_nick("oper"),
    );
    let (mut alice, mut mallory, mut oper) = tokio::join!(
        Client::connect(&server.addr, &op),
        Client::connect(&server.addr, &squatter),
        Client::connect(&server.addr, &admin),
    );
    oper.oper().await;
    alice.join(&held).await;
    let (yaml, _) = debate(
        "empty",
        &[&held, &empty],
        &[],
        8,
        "10m",
        &[("One?", "0s"), ("Two?", "5m"), ("Three?", "6m")],
    );
    let mut podium = podium_on(server, &bot, &yaml);
    podium.start();
    bot_joins(&mut alice, &bot, &held, &podium).await;
    question(&mut alice, &bot, &held, 1, &podium).await;
    // Podium came first to the empty channel: it is its operator.
    let names = mallory.join(&empty).await;
    assert!(
        names
            .iter()
            .any(|n| n.trim_start_matches('+') == format!("@{bot}")),
        "{names:?}"
    );
    // Mallory is made operator there (as the first to come back would be).
    oper.samode(&empty, &format!("+o {squatter}")).await;
    mallory.privmsg(&empty, "!skip").await;
    refused(&mut mallory, &bot, &empty, &squatter).await;
    // Alice, operator of a channel Podium found with her in it, may.
    alice.privmsg(&held, "!skip").await;
    question(&mut alice, &bot, &held, 2, &podium).await;
    assert_eq!(podium.terminate().code(), Some(0));
}

/// 15.7 and 15.12: on a server that tags accounts, an organiser listed as
/// `irc:NAME` is whoever is logged in to account NAME (compared under the
/// server's casemapping: `org[x]` is `org{x}`), never someone who merely
/// took the nick NAME.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_server_with_accounts_only_the_account_is_the_organiser() {
    let server = server();
    let chan = channel("accounts");
    let bot = unique_nick("podium");
    let base = unique_nick("org");
    let (listed, account) = (format!("{base}[x]"), format!("{base}{{x}}"));
    let (real, watcher) = (unique_nick("carol"), unique_nick("alice"));
    // Mallory takes the listed name as her nick; she has no account.
    let (mut alice, mut carol, mut mallory) = tokio::join!(
        Client::connect(&server.addr, &watcher),
        Client::connect(&server.addr, &real),
        Client::connect(&server.addr, &listed),
    );
    server.services().login(&real, &account);
    alice.wait_account(&real, &account).await;
    alice.join(&chan).await;
    carol.join(&chan).await;
    mallory.join(&chan).await;
    let (yaml, _) = debate(
        "accounts",
        &[&chan],
        &[&format!("irc:{listed}")],
        8,
        "10m",
        &[("One?", "0s"), ("Two?", "5m")],
    );
    let mut podium = podium_on(server, &bot, &yaml);
    // Only the listed organisers: alice, the channel's operator, is not one.
    podium.env("PODIUM_IRC_OPERATORS_ARE_ORGANISERS", "false");
    podium.start();
    bot_joins(&mut alice, &bot, &chan, &podium).await;
    question(&mut alice, &bot, &chan, 1, &podium).await;
    mallory.privmsg(&chan, "!skip").await;
    refused(&mut alice, &bot, &chan, &listed).await;
    carol.privmsg(&chan, "!skip").await;
    question(&mut alice, &bot, &chan, 2, &podium).await;
    assert_eq!(podium.terminate().code(), Some(0));
}

/// 15.12: a channel operator who changes nick is still an organiser (the
/// `irc` crate's user list drops the status on NICK).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_who_changes_nick_stays_an_organiser() {
    let chan = channel("renamed");
    let (op, mut alice) = first_in(&chan).await;
    let questions = [("One?", "0s"), ("Two?", "5m")];
    let (bot, mut podium) = host("renamed", &chan, &questions, &mut alice, &chan).await;
    question(&mut alice, &bot, &chan, 1, &podium).await;
    let renamed = format!("{op}[away]");
    alice.command(&format!("NICK {renamed}")).await;
    alice.privmsg(&chan, "!skip").await;
    question(&mut alice, &bot, &chan, 2, &podium).await;
    assert_eq!(podium.terminate().code(), Some(0));
}

/// 15.12: someone creates `#deb{1}` before Podium joins `#deb[1]`: under
/// the server's CASEMAPPING (rfc1459) that is the same channel, and
/// Podium posts in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_named_with_braces_is_the_one_scheduled_with_brackets() {
    let base = unique_nick("deb");
    let (scheduled, created) = (format!("#{base}[1]"), format!("#{base}{{1}}"));
    let (_, mut alice) = first_in(&created).await;
    let questions = [("Which channel?", "0s")];
    let (bot, mut podium) = host("braces", &scheduled, &questions, &mut alice, &created).await;
    question(&mut alice, &bot, &created, 1, &podium).await;
    healthz_becomes(&podium, 200, "in 1 of 1 channels").await;
    assert_eq!(podium.terminate().code(), Some(0));
}

/// 15.12: an emote (`/me !skip`) is never a command, even from an
/// organiser; it is an answer like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emote_is_never_a_command() {
    let chan = channel("emote");
    let (_, mut alice) = first_in(&chan).await;
    let questions = [("One?", "0s"), ("Two?", "5m")];
    let (bot, mut podium) = host("emote", &chan, &questions, &mut alice, &chan).await;
    question(&mut alice, &bot, &chan, 1, &podium).await;
    typing().await;
    alice.action(&chan, "!skip").await;
    let got = stored(&podium, "emote", 1, 1, support::WAIT).await;
    assert_eq!(got, vec![("!skip".to_owned(), "latest".to_owned())]);
    let (b, c) = (bot.clone(), chan.clone());
    let early = alice
        .try_wait_for(Duration::from_secs(3), move |m| {
            m.is_privmsg(&b, &c) && plain(m.text()).starts_with("Q2:")
        })
        .await;
    assert!(early.is_none(), "the emote skipped to Q2");
    assert_eq!(podium.terminate().code(), Some(0));
}

/// 15.12: a channel Podium is in but may not post to (moderated, no
/// voice) makes `/healthz` unhealthy, and healthy again once it may.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_podium_cannot_post_in_makes_healthz_unhealthy() {
    let chan = channel("muted");
    let (_, mut alice) = first_in(&chan).await;
    alice.mode(&chan, "+m").await;
    let questions = [("Heard?", "0s"), ("Heard now?", "25s")];
    let (bot, mut podium) = host("muted", &chan, &questions, &mut alice, &chan).await;
    healthz_becomes(&podium, 503, &format!("cannot post in {chan}")).await;
    alice.mode(&chan, &format!("+v {bot}")).await;
    question(&mut alice, &bot, &chan, 2, &podium).await;
    healthz_becomes(&podium, 200, "in 1 of 1 channels").await;
    assert_eq!(podium.terminate().code(), Some(0));
}

/// 16.3: answers to commands are NOTICEs, whose echoes are matched to
/// their labels as well: more than 3 s after one, a `+draft/reply` to Q1's
/// id as the server sent it is still filed under Q1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_to_a_question_is_filed_under_it_after_a_command_answer() {
    let server = server();
    let chan = channel("labels");
    let bot = unique_nick("podium");
    let who = unique_nick("alice");
    let mut alice = Client::connect_caps(&server.addr, &who, CAPS).await;
    alice.join(&chan).await;
    let (yaml, _) = debate(
        "labels",
        &[&chan],
        &[],
        10,
        "10m",
        &[("First?", "20s"), ("Second?", "25s")],
    );
    let mut podium = podium_on(server, &bot, &yaml);
    podium.start();
    bot_joins(&mut alice, &bot, &chan, &podium).await;
    // Three answers by NOTICE: were their echoes not matched, labels would
    // be given up on after them.
    for command in ["!next", "!help", "!transcript"] {
        alice.privmsg(&chan, command).await;
        alice
            .wait_for(&format!("the answer to {command}"), |m| {
                m.is_notice(&bot, &chan)
            })
            .await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let q1 = question(&mut alice, &bot, &chan, 1, &podium).await;
    let q1_id = q1
        .msgid()
        .expect("the server tags messages with ids")
        .to_owned();
    question(&mut alice, &bot, &chan, 2, &podium).await;
    typing().await;
    alice.reply(&chan, &q1_id, "about the first").await;
    let got = stored(&podium, "labels", 1, 1, support::WAIT).await;
    assert_eq!(
        got,
        vec![("about the first".to_owned(), "reply".to_owned())]
    );
    assert!(!podium.logs().contains("did not echo"), "{}", podium.logs());
    assert_eq!(podium.terminate().code(), Some(0));
}
