//! Which message id the server gave each post. Where the server echoes
//! Podium's own lines with the label they were sent with (`echo-message`
//! and `labeled-response`), a post's id is the server's `msgid`, so a
//! participant's `+draft/reply` to a question can be traced back to it.
//! Every kind of post is labelled and matched: questions (PRIVMSG) and
//! answers to commands (NOTICE) alike.
//!
//! The engine waits for a post's id before the room's next post, so not
//! for long: past [`ECHO_PATIENCE`] the post gets Podium's own id. An echo
//! that comes later still is not wasted: its `msgid` is remembered as
//! another name for that local id ([`Aliases`]), so a reply to it is filed
//! under the right question all the same. Only after several posts in a
//! row got no echo at all are labels given up on for the connection.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::chat::ChatError;

/// How long a sent post waits for the server's echo of it. On loopback
/// it takes a millisecond, across the world a few hundred.
const ECHO_PATIENCE: Duration = Duration::from_secs(3);
/// Posts in a row without any echo, after which labels are given up on.
const MISSES: u32 = 3;
/// How long a late echo is still matched to its post.
const LATE_PATIENCE: Duration = Duration::from_secs(600);
/// Server ids remembered for posts that got a local id.
const ALIASES: usize = 4096;

/// What the server said about a labelled line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Its echo, with the server's id.
    Echo(String),
    /// Accepted without an id (an echo without `msgid`, or an `ACK`).
    Accepted,
    /// Refused (`404 cannot send to channel`...), and why.
    Refused(String),
}

enum Waiter {
    Waiting(oneshot::Sender<Answer>),
    /// Gave up waiting; the post has this local id.
    Late(String, Instant),
}

/// Server ids of posts that had to take a local id because their echo
/// came late, by server id.
#[derive(Default)]
pub struct Aliases {
    local: HashMap<String, String>,
    order: VecDeque<String>,
}

impl Aliases {
    fn insert(&mut self, msgid: String, local: String) {
        if self.local.insert(msgid.clone(), local).is_none() {
            self.order.push_back(msgid);
        }
        while self.order.len() > ALIASES {
            if let Some(old) = self.order.pop_front() {
                self.local.remove(&old);
            }
        }
    }

    /// The id Podium gave the post the server knows as `msgid`, if it
    /// gave one of its own.
    pub fn local(&self, msgid: &str) -> Option<&str> {
        self.local.get(msgid).map(String::as_str)
    }
}

/// A connection's labelled posts and what became of them.
pub struct Echo {
    /// Whether posts are labelled: the server echoes them with labels.
    on: AtomicBool,
    misses: AtomicU32,
    waiters: Mutex<HashMap<String, Waiter>>,
    aliases: Arc<Mutex<Aliases>>,
}

impl Echo {
    pub fn new(on: bool, aliases: Arc<Mutex<Aliases>>) -> Echo {
        Echo {
            on: AtomicBool::new(on),
            misses: AtomicU32::new(0),
            waiters: Mutex::default(),
            aliases,
        }
    }

    pub fn on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Waits for the answer to the line about to be sent with `label`.
    pub fn expect(&self, label: &str) -> oneshot::Receiver<Answer> {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(label.to_owned(), Waiter::Waiting(tx));
        rx
    }

    /// What the server said about the line labelled `label`.
    pub fn answered(&self, label: &str, answer: Answer) {
        self.misses.store(0, Ordering::Relaxed);
        let waiter = self.lock().remove(label);
        match (waiter, answer) {
            (Some(Waiter::Waiting(tx)), answer) => {
                let _ = tx.send(answer);
            }
            (Some(Waiter::Late(local, _)), Answer::Echo(msgid)) => {
                tracing::debug!(%msgid, %local, "a late echo: the post keeps its own id, \
                    and replies to the server's id are filed under it");
                self.aliases
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(msgid, local);
            }
            _ => {}
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiter>> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives up waiting for `label`'s answer: unless it came meanwhile, the
    /// post is `local` from now on, and a later echo an alias of it.
    fn give_up(
        &self,
        label: &str,
        local: &str,
        rx: &mut oneshot::Receiver<Answer>,
    ) -> Option<Answer> {
        let mut waiters = self.lock();
        if let Some(Waiter::Waiting(_)) = waiters.get(label) {
            tracing::debug!(%label, %local, "no echo of a labelled post in time; it keeps its own id");
            let now = Instant::now();
            waiters.retain(|_, w| !matches!(w, Waiter::Late(_, at) if now - *at > LATE_PATIENCE));
            waiters.insert(label.to_owned(), Waiter::Late(local.to_owned(), now));
            drop(waiters);
            if self.misses.fetch_add(1, Ordering::Relaxed) + 1 >= MISSES
                && self.on.swap(false, Ordering::Relaxed)
            {
                tracing::warn!(
                    "the IRC server did not echo {MISSES} labelled posts in a row; \
                    posts get Podium's own ids on this connection"
                );
            }
            return None;
        }
        // The answer came between the wait's end and the lock.
        rx.try_recv().ok()
    }
}

/// Answers whoever waits for a post whose lines went out: with the
/// server's id once its echo comes, else with Podium's own, or with why
/// the server refused it. The echo comes back on the connection, which the
/// send queue does not wait on: the next post goes out meanwhile.
pub fn resolve(
    done: oneshot::Sender<Result<String, ChatError>>,
    echo: Option<(Arc<Echo>, String, oneshot::Receiver<Answer>)>,
    local: String,
) {
    let Some((echo, label, mut rx)) = echo else {
        let _ = done.send(Ok(local));
        return;
    };
    tokio::spawn(async move {
        let answer = match tokio::time::timeout(ECHO_PATIENCE, &mut rx).await {
            Ok(Ok(answer)) => Some(answer),
            // The connection is gone: the lines went out, the id is ours.
            Ok(Err(_)) => None,
            Err(_) => echo.give_up(&label, &local, &mut rx),
        };
        let result = match answer {
            Some(Answer::Echo(msgid)) => Ok(msgid),
            Some(Answer::Refused(why)) => Err(ChatError::Permanent(format!(
                "the IRC server refused the post: {why}"
            ))),
            Some(Answer::Accepted) | None => Ok(local),
        };
        let _ = done.send(result);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn post(echo: &Arc<Echo>, label: &str) -> oneshot::Receiver<Result<String, ChatError>> {
        let rx = echo.expect(label);
        let (done, result) = oneshot::channel();
        resolve(
            done,
            Some((echo.clone(), label.to_owned(), rx)),
            format!("local-{label}"),
        );
        tokio::task::yield_now().await;
        result
    }

    #[tokio::test(start_paused = true)]
    async fn an_echo_gives_the_server_id_and_a_refusal_fails_the_post() {
        let echo = Arc::new(Echo::new(true, Arc::default()));
        let result = post(&echo, "p1").await;
        echo.answered("p1", Answer::Echo("srv-1".into()));
        assert_eq!(result.await.unwrap().unwrap(), "srv-1");
        let result = post(&echo, "p2").await;
        echo.answered("p2", Answer::Refused("Cannot send to channel".into()));
        let err = result.await.unwrap().unwrap_err();
        assert!(
            matches!(err, ChatError::Permanent(ref m) if m.contains("Cannot send")),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_echo_becomes_an_alias_and_labels_stay_on() {
        let aliases = Arc::new(Mutex::new(Aliases::default()));
        let echo = Arc::new(Echo::new(true, aliases.clone()));
        let result = post(&echo, "p1").await;
        tokio::time::advance(ECHO_PATIENCE + Duration::from_millis(1)).await;
        assert_eq!(result.await.unwrap().unwrap(), "local-p1");
        echo.answered("p1", Answer::Echo("srv-1".into()));
        assert_eq!(aliases.lock().unwrap().local("srv-1"), Some("local-p1"));
        assert!(echo.on(), "one late echo does not turn labels off");
    }

    #[tokio::test(start_paused = true)]
    async fn labels_are_given_up_after_several_posts_without_any_echo() {
        let echo = Arc::new(Echo::new(true, Arc::default()));
        for n in 0..MISSES {
            let result = post(&echo, &format!("p{n}")).await;
            tokio::time::advance(ECHO_PATIENCE + Duration::from_millis(1)).await;
            assert!(result.await.unwrap().is_ok());
            assert_eq!(echo.on(), n + 1 < MISSES);
        }
    }

    #[test]
    fn aliases_are_bounded() {
        let mut a = Aliases::default();
        for n in 0..ALIASES + 10 {
            a.insert(format!("s{n}"), format!("l{n}"));
        }
        assert_eq!(a.local("s0"), None);
        assert_eq!(
            a.local(&format!("s{}", ALIASES + 9)),
            Some(&*format!("l{}", ALIASES + 9))
        );
    }
}
