//! The console's input half: each line typed at the terminal is a message
//! in the rehearsal's room, from you or (`bob: ...`) from someone else,
//! answered once it is stored or once it is known not to be collected.

use std::sync::Arc;

use chrono::Utc;
use tokio::io::AsyncBufReadExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::{ConsoleChat, YOU};
use crate::chat::tag::parse_tag;
use crate::chat::{Event, Incoming, Receipt, Room, Sender};

/// Who is speaking in a typed line, and what they say. A leading single
/// word, a colon and a space name the speaker (`bob: A2: ...`), unless the
/// line is an answer tag (`A1: ...`) or a command; `http://...` is text.
pub fn speaker(line: &str) -> (String, &str) {
    let line = line.trim();
    if parse_tag(line).is_none()
        && !line.starts_with('!')
        && let Some((name, rest)) = line.split_once(':')
        && !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "_-.".contains(c))
        && rest.starts_with(char::is_whitespace)
        && !rest.trim().is_empty()
    {
        return (name.to_owned(), rest.trim());
    }
    ("you".to_owned(), line)
}

/// Reads typed lines as replies until stdin closes or `stop` is
/// cancelled. Bytes that are not UTF-8 are replaced (U+FFFD) rather than
/// ending the input. Each line is answered once: saved (and where), or
/// not collected (and why).
pub async fn read_stdin(
    events: mpsc::Sender<Incoming>,
    room: Room,
    chat: Arc<ConsoleChat>,
    pending: watch::Sender<usize>,
    stop: CancellationToken,
) {
    let mut input = tokio::io::BufReader::new(tokio::io::stdin());
    let mut buf = Vec::new();
    // Ids must be unique across restarts of the same rehearsal.
    let run = Utc::now().timestamp_nanos_opt().unwrap_or(0);
    let mut n = 0u64;
    loop {
        buf.clear();
        // A line half read when the rehearsal stops was not typed yet.
        let Some(read) = stop
            .run_until_cancelled(input.read_until(b'\n', &mut buf))
            .await
        else {
            break;
        };
        match read {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(cause = %e, "cannot read the terminal; typed lines are ignored from now");
                break;
            }
        }
        let line = String::from_utf8_lossy(&buf);
        if line.trim().is_empty() {
            continue;
        }
        n += 1;
        let (name, body) = speaker(&line);
        let id = if name == "you" {
            YOU.to_owned()
        } else {
            format!("console:{name}")
        };
        // Whoever types in the terminal runs the rehearsal.
        let sender = Sender {
            id,
            name,
            verified: true,
        };
        let (ack_tx, ack_rx) = oneshot::channel();
        let who = sender.name.clone();
        let incoming = Incoming {
            room: room.clone(),
            event: Event::Message {
                id: format!("{run}-{n}"),
                sender,
                body: body.to_owned(),
                in_reply_to: None,
                server_ts: None,
                action: false,
            },
            cursor: None,
            ack: Some(ack_tx),
        };
        pending.send_modify(|n| *n += 1);
        if events.send(incoming).await.is_err() {
            chat.say(STOPPED);
            pending.send_modify(|n| *n -= 1);
            continue;
        }
        let chat = chat.clone();
        let pending = pending.clone();
        tokio::spawn(async move {
            match ack_rx.await {
                Ok(Receipt::Saved {
                    question: Some(q), ..
                }) => {
                    chat.say(&format!("  ✓ saved: {who} → Q{q}"));
                }
                Ok(Receipt::Saved { question: None, .. }) => {
                    chat.say(&format!("  ✓ saved: {who} → before Q1"));
                }
                Ok(Receipt::Ignored(why)) => chat.say(&format!("  (not collected: {why})")),
                Ok(Receipt::Command | Receipt::Updated) => {}
                // The engine stopped before it took the line.
                Err(_) => chat.say(STOPPED),
            }
            pending.send_modify(|n| *n -= 1);
        });
    }
}

/// The answer to a line typed once the rehearsal no longer collects.
const STOPPED: &str = "  (not collected: the rehearsal has stopped)";
