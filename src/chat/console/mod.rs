//! The console room of `podium rehearse`: posts are printed to the
//! terminal, typed lines are replies (the input half is in `input.rs`).
//!
//! Like a Matrix homeserver with transaction ids, the console room keeps a
//! log of what it showed (one JSON line per post, in the data directory) and
//! deduplicates by key, so a rehearsal killed mid-post and restarted shows
//! each question once.

mod input;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

pub use input::{read_stdin, speaker};

use super::{Chat, ChatError, Outgoing, Room};
use crate::clock::Clock;
use crate::safe_text::neutralise;

#[derive(Serialize, Deserialize)]
struct LogLine {
    id: String,
    key: String,
    room: String,
    body: String,
}

struct Inner {
    by_key: HashMap<String, String>,
    log: File,
    out: Box<dyn Write + Send>,
    count: usize,
}

/// The user at the keyboard: an organiser of the rehearsal.
pub const YOU: &str = "console:you";

#[derive(Clone)]
pub struct ConsoleChat {
    inner: Arc<Mutex<Inner>>,
    clock: Clock,
    tz: chrono_tz::Tz,
}

impl ConsoleChat {
    /// Opens (or continues) the console room log at `log_path`.
    ///
    /// # Errors
    /// The log cannot be read or created.
    pub fn open(
        log_path: &Path,
        out: Box<dyn Write + Send>,
        clock: Clock,
        tz: chrono_tz::Tz,
    ) -> std::io::Result<Self> {
        let mut by_key = HashMap::new();
        if let Ok(f) = File::open(log_path) {
            for line in BufReader::new(f).lines() {
                // A line torn by a crash mid-write was never shown as sent.
                if let Ok(entry) = serde_json::from_str::<LogLine>(&line?) {
                    by_key.insert(entry.key, entry.id);
                }
            }
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)?;
        let count = by_key.len();
        Ok(ConsoleChat {
            inner: Arc::new(Mutex::new(Inner {
                by_key,
                log,
                out,
                count,
            })),
            clock,
            tz,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Prints a line of the console's own (acknowledgements, hints).
    pub fn say(&self, line: &str) {
        let mut inner = self.lock();
        let _ = writeln!(inner.out, "{}", neutralise(line));
        let _ = inner.out.flush();
    }
}

impl Chat for ConsoleChat {
    async fn send(&self, room: &Room, post: Outgoing<'_>) -> Result<String, ChatError> {
        let at = self.clock.now().with_timezone(&self.tz).format("%H:%M");
        let mut inner = self.lock();
        if let Some(id) = inner.by_key.get(post.key) {
            return Ok(id.clone());
        }
        inner.count += 1;
        let id = format!("c{}", inner.count);
        let line = serde_json::to_string(&LogLine {
            id: id.clone(),
            key: post.key.to_owned(),
            room: room.to_string(),
            body: post.body.to_owned(),
        })
        .map_err(|e| ChatError::Permanent(e.to_string()))?;
        // One write for the whole line: a kill between two writes would
        // glue the next entry onto a torn one.
        let write = inner
            .log
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| inner.log.sync_data());
        write.map_err(|e| ChatError::Temporary(format!("console log: {e}")))?;
        inner.by_key.insert(post.key.to_owned(), id.clone());
        // The log keeps the post as sent; the terminal gets it harmless (an
        // `!ask` text is chat input).
        let _ = writeln!(inner.out, "[{at}] podium: {}", neutralise(post.body));
        let _ = inner.out.flush();
        Ok(id)
    }

    async fn is_moderator(&self, _room: &Room, user: &str) -> bool {
        user == YOU
    }

    fn deduplicates(&self, _room: &Room) -> bool {
        true
    }

    /// A terminal has nothing to reply to: answers are typed with tags.
    fn replies(&self, _room: &Room) -> bool {
        false
    }
}
