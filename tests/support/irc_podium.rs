//! `podium run` on the test IRC server, as the IRC test binaries drive it:
//! a schedule of one debate starting in a few seconds, the bot started on
//! a server, and waits for its posts and for the transcript's answers.
//! Included by path (`#[path = "support/irc_podium.rs"] mod irc_podium;`)
//! next to `irc_support`, `matrix_support` and `support`.
#![allow(dead_code)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::irc_support::{Client, Ircd, Message, unique_nick};
use crate::matrix_support::Podium;
use crate::support;

/// Capabilities test participants ask for.
pub const CAPS: &[&str] = &["message-tags", "server-time"];

/// A schedule of one debate `id` in `rooms` (as written in the YAML),
/// starting `in_seconds` from now (London time, to the second), lasting
/// `duration`, with a reminder 5 s before, `questions` as (text, offset),
/// and `organisers`.
pub fn debate(
    id: &str,
    rooms: &[&str],
    organisers: &[&str],
    in_seconds: i64,
    duration: &str,
    questions: &[(&str, &str)],
) -> (String, DateTime<Utc>) {
    // Whole seconds, as the YAML gives the start: a due time measured
    // against it is the one the bot keeps.
    let start =
        chrono::SubsecRound::trunc_subsecs(Utc::now() + chrono::Duration::seconds(in_seconds), 0);
    let local = start.with_timezone(&chrono_tz::Europe::London);
    let quote = |items: &[&str]| {
        items
            .iter()
            .map(|i| yaml_str(i))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut yaml = format!(
        "timezone: Europe/London\nzones: [Europe/London, America/New_York]\n\
         debates:\n  - id: {id}\n    title: Live test\n    starts: {}\n    duration: {duration}\n\
         \x20   remind: [5s]\n    rooms: [{}]\n    organisers: [{}]\n    questions:\n",
        local.format("%Y-%m-%d %H:%M:%S"),
        quote(rooms),
        quote(organisers),
    );
    for (text, at) in questions {
        yaml.push_str(&format!("      - {{text: {}, at: {at}}}\n", yaml_str(text)));
    }
    (yaml, start)
}

/// `text` as a single-quoted YAML scalar.
pub fn yaml_str(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `podium run` on `server` as `nick`, hosting `yaml`, plain TCP.
pub fn podium_on(server: &Ircd, nick: &str, yaml: &str) -> Podium {
    let mut podium = Podium::bare(yaml);
    podium.env("PODIUM_IRC_SERVER", &server.addr);
    podium.env("PODIUM_IRC_TLS", "false");
    podium.env("PODIUM_IRC_NICK", nick);
    podium
}

/// A person reads a question before answering it. An untagged answer
/// goes to the latest question the bot knows was posted when the answer was
/// sent, and the bot learns that a post went out when the server echoes it:
/// an answer sent within milliseconds of the question (which only a test
/// can do) may still go to the one before.
pub async fn typing() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// A channel name no other test uses.
pub fn channel(base: &str) -> String {
    format!("#{}", unique_nick(base))
}

/// `text` without IRC formatting codes (bold, colours...).
pub fn plain(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '\x02' | '\x03' | '\x0f' | '\x16' | '\x1d' | '\x1f'))
        .collect()
}

/// The bot's PRIVMSGs to `channel` so far, as plain text.
pub fn said_by(client: &mut Client, bot: &str, channel: &str) -> Vec<String> {
    client
        .privmsgs_from(bot, channel)
        .iter()
        .map(|m| plain(m.text()))
        .collect()
}

/// Waits for the bot's question `n` in `channel`; returns its first line.
/// A timeout fails the test with the bot's log.
pub async fn question(
    client: &mut Client,
    bot: &str,
    channel: &str,
    n: u32,
    podium: &Podium,
) -> Message {
    let label = format!("Q{n}:");
    let (b, c) = (bot.to_owned(), channel.to_owned());
    client
        .try_wait_for(support::WAIT, move |m| {
            m.is_privmsg(&b, &c) && plain(m.text()).starts_with(&label)
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "no Q{n} from {bot} in {channel}; it saw:\n{}\n{}",
                client_lines(client),
                podium.logs()
            )
        })
}

/// The lines `client` received, for failure reports.
pub fn client_lines(client: &mut Client) -> String {
    client
        .history()
        .iter()
        .map(|m| m.raw.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

/// How many of the bot's lines in `channel` start with `Q<n>:`, for each
/// question that was posted.
pub fn question_counts(lines: &[String]) -> Vec<(u32, usize)> {
    let mut counts: Vec<(u32, usize)> = Vec::new();
    for line in lines {
        let Some(n) = line
            .strip_prefix('Q')
            .and_then(|rest| rest.split_once(':'))
            .and_then(|(n, _)| n.parse::<u32>().ok())
        else {
            continue;
        };
        match counts.iter_mut().find(|(q, _)| *q == n) {
            Some((_, c)) => *c += 1,
            None => counts.push((n, 1)),
        }
    }
    counts
}

/// The replies under question `n` of a JSON transcript: (author, body,
/// network, attributed_by).
pub fn answers(t: &Value, n: u64) -> Vec<(String, String, String, String)> {
    t["questions"]
        .as_array()
        .expect("questions")
        .iter()
        .find(|q| q["number"] == n)
        .map(|q| {
            q["replies"]
                .as_array()
                .expect("replies")
                .iter()
                .map(|r| {
                    let s = |k: &str| r[k].as_str().unwrap_or("").to_owned();
                    (s("author"), s("body"), s("network"), s("attributed_by"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until the bot has joined `channel` (as `client`, in it, sees).
pub async fn bot_joins(client: &mut Client, bot: &str, channel: &str, podium: &Podium) {
    let (b, c) = (bot.to_owned(), channel.to_owned());
    if client
        .try_wait_for(support::WAIT, move |m| {
            m.is("JOIN") && m.is_from(&b) && m.target().eq_ignore_ascii_case(&c)
        })
        .await
        .is_none()
    {
        panic!("{bot} did not join {channel}\n{}", podium.logs());
    }
}

/// `/healthz` of a running bot: the status and the body.
pub async fn healthz(podium: &Podium) -> (u16, String) {
    let r = reqwest::get(format!("{}/healthz", podium.web))
        .await
        .expect("/healthz answers");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

/// Waits until `/healthz` answers `status` with a body that contains
/// `needle`; returns the body.
pub async fn healthz_becomes(podium: &Podium, status: u16, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + support::WAIT;
    loop {
        let (got, body) = healthz(podium).await;
        if got == status && body.contains(needle) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/healthz stayed {got}, not {status} with {needle:?}: {body}\n{}",
            podium.logs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
