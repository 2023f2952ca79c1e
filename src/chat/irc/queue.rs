//! The send queue. Every line Podium sends after registration (posts,
//! answers to commands, joins) goes through one queue in order, paced by a
//! token bucket, so the bot is never disconnected for flooding and a later
//! post never overtakes an earlier one: servers count lines per client,
//! not per channel, so one bucket for the whole connection is what keeps
//! it under their limits.
//!
//! A post resolves once its lines are handed to the connection. Where the
//! server echoes Podium's own messages with labels, it resolves with the
//! message id the server gave the first line, so a participant's reply to
//! a question (`+draft/reply`) can be traced back to it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use irc::client::Client;
use irc::proto::Message;
use irc::proto::message::Tag;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::chat::ChatError;

/// How long a sent post waits for the server's echo of it (its msgid).
/// The engine waits for it before the room's next post, so not long: on
/// loopback it takes a millisecond, across the world a few hundred.
const ECHO_PATIENCE: Duration = Duration::from_secs(3);

/// Lines per second a server allows, as a bucket: `burst` lines at once,
/// then one per `interval`.
#[derive(Debug)]
pub struct Bucket {
    burst: f64,
    interval: Duration,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub fn new(burst: u32, interval: Duration) -> Bucket {
        Bucket {
            burst: f64::from(burst.max(1)),
            interval: interval.max(Duration::from_millis(1)),
            tokens: f64::from(burst.max(1)),
            last: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let gained = (now - self.last).as_secs_f64() / self.interval.as_secs_f64();
        self.tokens = (self.tokens + gained).min(self.burst);
        self.last = now;
    }

    /// Waits until a line may go, and counts it.
    pub async fn take(&mut self) {
        self.refill();
        if self.tokens < 1.0 {
            tokio::time::sleep(self.interval.mul_f64(1.0 - self.tokens)).await;
            self.refill();
        }
        self.tokens -= 1.0;
    }
}

/// Labels waiting for the server's echo of the line that carried them.
pub type Echoes = Arc<Mutex<HashMap<String, oneshot::Sender<String>>>>;

/// The live connection, while there is one.
#[derive(Clone)]
pub struct Link {
    pub client: Arc<Client>,
    /// The server echoes Podium's lines with their labels
    /// (`echo-message` and `labeled-response`).
    /// Cleared if an echo does not come: then posts get local ids rather
    /// than each waiting for an echo that will not come.
    pub labels: Arc<AtomicBool>,
    /// The server relays client tags such as `+draft/reply`.
    pub tags: bool,
    pub echoes: Echoes,
}

impl Link {
    /// Hands the echo of the line labelled `label` to whoever waits for it.
    pub fn echoed(&self, label: &str, msgid: String) {
        let waiting = self
            .echoes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(label);
        if let Some(tx) = waiting {
            let _ = tx.send(msgid);
        }
    }
}

/// Lines to send in order, and who waits for them.
pub struct Job {
    pub messages: Vec<Message>,
    /// Resolved with the message id (the server's, or `fallback_id`) once
    /// the lines are sent, or with why none was.
    pub done: Option<oneshot::Sender<Result<String, ChatError>>>,
    pub fallback_id: String,
}

/// The queue's sending end, shared by every caller.
#[derive(Clone)]
pub struct Queue {
    jobs: mpsc::UnboundedSender<Job>,
    waiting: Arc<AtomicUsize>,
}

impl Queue {
    /// A queue over `link`, paced by `bucket`; its writer runs until every
    /// `Queue` is dropped.
    pub fn start(link: watch::Receiver<Option<Link>>, bucket: Bucket) -> Queue {
        let (jobs, rx) = mpsc::unbounded_channel();
        let waiting = Arc::new(AtomicUsize::new(0));
        tokio::spawn(write(rx, link, bucket, waiting.clone()));
        Queue { jobs, waiting }
    }

    /// Lines queued and not yet sent.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    pub fn push(&self, job: Job) {
        let n = job.messages.len();
        self.waiting.fetch_add(n, Ordering::Relaxed);
        if let Err(mpsc::error::SendError(job)) = self.jobs.send(job) {
            self.waiting.fetch_sub(n, Ordering::Relaxed);
            if let Some(done) = job.done {
                let _ = done.send(Err(ChatError::Temporary("IRC is stopping".into())));
            }
        }
    }
}

async fn write(
    mut jobs: mpsc::UnboundedReceiver<Job>,
    link: watch::Receiver<Option<Link>>,
    mut bucket: Bucket,
    waiting: Arc<AtomicUsize>,
) {
    let labels = AtomicU64::new(0);
    while let Some(job) = jobs.recv().await {
        let total = job.messages.len();
        let mut sent = 0;
        let mut echo = None;
        for mut message in job.messages {
            // Nothing is paced while there is no connection: the post fails
            // at once and the engine tries it again later.
            if link.borrow().is_none() {
                break;
            }
            bucket.take().await;
            let Some(l) = link.borrow().clone() else {
                break;
            };
            if sent == 0 && l.labels.load(Ordering::Relaxed) && job.done.is_some() {
                let label = format!("p{}", labels.fetch_add(1, Ordering::Relaxed));
                let (tx, rx) = oneshot::channel();
                l.echoes
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(label.clone(), tx);
                message
                    .tags
                    .get_or_insert_with(Vec::new)
                    .push(Tag("label".into(), Some(label)));
                echo = Some((rx, l.labels.clone()));
            }
            if l.client.send(message).is_err() {
                break;
            }
            sent += 1;
        }
        waiting.fetch_sub(total, Ordering::Relaxed);
        let Some(done) = job.done else { continue };
        if sent == 0 {
            let _ = done.send(Err(ChatError::Temporary(
                "not connected to the IRC server".into(),
            )));
            continue;
        }
        if sent < total {
            tracing::warn!(
                sent,
                lines = total,
                "the connection was lost in the middle of a post"
            );
        }
        resolve(done, echo, job.fallback_id);
    }
}

/// Answers whoever waits for a post that went out: with the server's id
/// for it once its echo comes, else with Podium's own. The echo comes back
/// on the connection, which this queue no longer waits on: the next post
/// goes out meanwhile.
fn resolve(
    done: oneshot::Sender<Result<String, ChatError>>,
    echo: Option<(oneshot::Receiver<String>, Arc<AtomicBool>)>,
    fallback: String,
) {
    let Some((rx, labels)) = echo else {
        let _ = done.send(Ok(fallback));
        return;
    };
    tokio::spawn(async move {
        let id = match tokio::time::timeout(ECHO_PATIENCE, rx).await {
            Ok(Ok(msgid)) => msgid,
            _ => {
                if labels.swap(false, Ordering::Relaxed) {
                    tracing::warn!(
                        "the IRC server did not echo a labelled post; \
                        posts get Podium's own ids on this connection"
                    );
                }
                fallback
            }
        };
        let _ = done.send(Ok(id));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_bucket_lets_a_burst_through_then_paces_lines() {
        let mut b = Bucket::new(4, Duration::from_millis(1500));
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..7 {
            b.take().await;
            at.push((Instant::now() - start).as_millis());
        }
        assert_eq!(at, [0, 0, 0, 0, 1500, 3000, 4500]);
        // Idle long enough, the burst is back, and no more than it.
        tokio::time::sleep(Duration::from_secs(60)).await;
        let again = Instant::now();
        for _ in 0..5 {
            b.take().await;
        }
        assert_eq!((Instant::now() - again).as_millis(), 1500);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_connection_a_post_fails_at_once_as_temporary() {
        let (_tx, rx) = watch::channel(None);
        let queue = Queue::start(rx, Bucket::new(1, Duration::from_secs(10)));
        let (done, result) = oneshot::channel();
        let message = Message::new(None, "PRIVMSG", vec!["#a", "hello"]).unwrap();
        queue.push(Job {
            messages: vec![message],
            done: Some(done),
            fallback_id: "x".into(),
        });
        let r = result.await.unwrap();
        assert!(matches!(r, Err(ChatError::Temporary(_))), "{r:?}");
        assert_eq!(queue.waiting(), 0);
    }
}
