//! The send queue. Every line Podium sends after registration (posts,
//! answers to commands, joins, CTCP replies) goes through one queue, paced
//! by a token bucket, so the bot is never disconnected for flooding:
//! servers count lines per client, not per channel, so one bucket for the
//! whole connection is what keeps it under their limits.
//!
//! The queue has lanes ([`Lane`]): questions go before announcements,
//! which go before joins, then answers to commands, then CTCP replies; a
//! long job gives way between its lines to a higher lane. But a post never
//! overtakes an earlier post to the same channel, and nothing is sent to a
//! channel between the lines of a post there: what people see in a
//! channel is each post whole, in order.
//!
//! A post resolves once its lines are handed to the connection, with the
//! id the server gave it where it echoes them ([`super::echo`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use irc::proto::Message;
use irc::proto::message::Tag;
use tokio::sync::{mpsc, oneshot, watch};

pub use super::bucket::Bucket;
use super::echo::{Answer, Echo, resolve};
use crate::chat::ChatError;

/// Which lines go first. Higher lanes are sent before lower ones; within a
/// lane, in order. A question never waits behind announcements, joins,
/// answers to commands or CTCP replies, except an earlier post to its own
/// channel (which is then sent first, whatever its lane).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lane {
    /// CTCP replies.
    Chatter,
    /// Answers to commands.
    Answer,
    /// Joins: after a reconnection, a few dozen lines for a thousand
    /// channels, which a debate's posts in the channels already joined
    /// must not wait behind (a post to a channel not joined yet fails
    /// before it is queued, and is tried again).
    Join,
    /// Announcements: reminders, the intro, the closing, the link.
    Post,
    Question,
    /// Nick changes, NickServ: few, and needed before anything (a
    /// channel for registered users only refuses Podium until NickServ
    /// knows it).
    Control,
}

/// What a JOIN line weighs in the bucket, in lines. InspIRCd charges a
/// JOIN two seconds of a client's flood allowance, a message one: under
/// its Debian defaults without fakelag, a JOIN line every 1.5 s (the
/// default pace) gets the client killed for "Excess Flood" after 18 lines,
/// one every 2.25 s passes 40 and more. A big rejoin must not end the
/// connection it is made on.
const JOIN_WEIGHT: f64 = 1.5;

impl Lane {
    /// Posts keep their order in a channel; answers and chatter may give
    /// way between their lines to a post (they are nobody's record).
    fn is_post(self) -> bool {
        self >= Lane::Post
    }

    /// What one of its lines weighs in the bucket, in lines.
    fn weight(self) -> f64 {
        if self == Lane::Join { JOIN_WEIGHT } else { 1.0 }
    }
}

/// Hands a line to the connection (the `irc` crate's client; a recorder
/// in tests); false once the connection is gone.
pub type Sink = Arc<dyn Fn(Message) -> bool + Send + Sync>;

/// The live connection, while there is one.
#[derive(Clone)]
pub struct Link {
    /// Hands a line to the connection; false once it is gone.
    pub sink: Sink,
    /// Labelled posts waiting for their echo.
    pub echo: Arc<Echo>,
    /// The server relays client tags such as `+draft/reply`.
    pub tags: bool,
}

/// Lines to send in order, and who waits for them.
pub struct Job {
    pub messages: Vec<Message>,
    /// Resolved with the message id (the server's, or `fallback_id`) once
    /// the lines are sent, or with why none was.
    pub done: Option<oneshot::Sender<Result<String, ChatError>>>,
    pub fallback_id: String,
    pub lane: Lane,
    /// Where the lines go (a channel as the schedule writes it, a nick).
    pub target: String,
}

/// A job being sent: lines already gone, and the echo its first awaits.
struct Sending {
    job: Job,
    sent: usize,
    total: usize,
    echo: Option<(Arc<Echo>, String, oneshot::Receiver<Answer>)>,
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
        let writer = Writer {
            jobs: rx,
            pending: Vec::new(),
            link,
            bucket,
            waiting: waiting.clone(),
            labels: 0,
            closed: false,
        };
        tokio::spawn(writer.run());
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

/// The one task that writes to the connection.
struct Writer {
    jobs: mpsc::UnboundedReceiver<Job>,
    /// Jobs received and not started, in the order they came; a job that
    /// gave way to a post is back at the front.
    pending: Vec<Sending>,
    link: watch::Receiver<Option<Link>>,
    bucket: Bucket,
    waiting: Arc<AtomicUsize>,
    labels: u64,
    /// Every `Queue` is gone: no job can come any more.
    closed: bool,
}

impl Writer {
    async fn run(mut self) {
        loop {
            if self.pending.is_empty() {
                let Some(job) = self.jobs.recv().await else {
                    return;
                };
                self.take(job);
            }
            self.drain();
            let lanes: Vec<(Lane, &str)> = self
                .pending
                .iter()
                .map(|s| (s.job.lane, s.job.target.as_str()))
                .collect();
            let next = self.pending.remove(pick(&lanes));
            if let Some(rest) = self.send(next).await {
                self.pending.insert(0, rest);
            }
        }
    }

    fn take(&mut self, job: Job) {
        let total = job.messages.len();
        self.pending.push(Sending {
            job,
            sent: 0,
            total,
            echo: None,
        });
    }

    fn drain(&mut self) {
        while let Ok(job) = self.jobs.try_recv() {
            self.take(job);
        }
    }

    /// Whether a job part sent gives way to one that came meanwhile: to
    /// any higher lane, except that a post finishes before anything else
    /// goes to its channel (nobody sees a post to another channel
    /// interleaved with it).
    fn gives_way(&mut self, s: &Sending) -> bool {
        self.drain();
        let lanes: Vec<(Lane, &str)> = std::iter::once((s.job.lane, s.job.target.as_str()))
            .chain(
                self.pending
                    .iter()
                    .map(|p| (p.job.lane, p.job.target.as_str())),
            )
            .collect();
        pick(&lanes) != 0
    }

    /// Waits `wait`, or less if a job comes meanwhile.
    async fn wait_or_job(&mut self, wait: Duration) {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            job = self.jobs.recv(), if !self.closed => match job {
                Some(job) => self.take(job),
                None => self.closed = true,
            },
        }
    }

    /// Sends a job's lines; returns it unfinished when it gave way to a
    /// job that came meanwhile.
    async fn send(&mut self, mut s: Sending) -> Option<Sending> {
        let mut lines = std::mem::take(&mut s.job.messages).into_iter();
        while let Some(mut message) = lines.next() {
            // Nothing is paced while there is no connection: the post fails
            // at once and the engine tries it again later.
            if self.link.borrow().is_none() {
                break;
            }
            let weight = s.job.lane.weight();
            if !s.job.lane.is_post()
                && let Some(wait) = self.bucket.wait_for(self.bucket.reserve() + weight)
            {
                // Below posts a line leaves the bucket's reserve, so a
                // post that comes meanwhile goes at once; it may come
                // while this waits, so the choice is made again after.
                self.wait_or_job(wait).await;
                s.job.messages = std::iter::once(message).chain(lines).collect();
                return Some(s);
            }
            self.bucket.take(weight).await;
            if s.sent > 0 && self.gives_way(&s) {
                self.bucket.give_back(weight);
                s.job.messages = std::iter::once(message).chain(lines).collect();
                return Some(s);
            }
            let Some(l) = self.link.borrow().clone() else {
                break;
            };
            if s.sent == 0 && s.job.done.is_some() && l.echo.on() {
                self.labels += 1;
                let label = format!("p{}", self.labels);
                let rx = l.echo.expect(&label);
                message
                    .tags
                    .get_or_insert_with(Vec::new)
                    .push(Tag("label".into(), Some(label.clone())));
                s.echo = Some((l.echo.clone(), label, rx));
            }
            if !(l.sink)(message) {
                break;
            }
            s.sent += 1;
            self.waiting.fetch_sub(1, Ordering::Relaxed);
        }
        self.waiting.fetch_sub(s.total - s.sent, Ordering::Relaxed);
        finish(s);
        None
    }
}

/// Tells whoever waits for a job how it went.
fn finish(s: Sending) {
    let Some(done) = s.job.done else { return };
    if s.sent == 0 {
        let _ = done.send(Err(ChatError::Temporary(
            "not connected to the IRC server".into(),
        )));
        return;
    }
    if s.sent < s.total {
        tracing::warn!(
            sent = s.sent,
            lines = s.total,
            "the connection was lost in the middle of a post"
        );
    }
    resolve(done, s.echo, s.job.fallback_id);
}

/// Which of the waiting jobs (lane and target, in the order they came) goes
/// next: the first of the highest lane that no earlier post to the same
/// target holds back; if every one is held back, the post holding back the
/// first of them (it goes first, whatever its lane).
fn pick(jobs: &[(Lane, &str)]) -> usize {
    let Some(top) = jobs.iter().map(|(lane, _)| *lane).max() else {
        return 0;
    };
    let holder = |i: usize| {
        let (lane, target) = jobs[i];
        if !lane.is_post() {
            return None;
        }
        jobs[..i]
            .iter()
            .position(|(l, t)| l.is_post() && *t == target)
    };
    let mut first_held = None;
    for i in (0..jobs.len()).filter(|i| jobs[*i].0 == top) {
        match holder(i) {
            None => return i,
            Some(h) => {
                first_held.get_or_insert(h);
            }
        }
    }
    first_held.unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::time::Instant;

    use super::*;

    fn job(lane: Lane, target: &str, texts: &[&str]) -> Job {
        Job {
            messages: texts
                .iter()
                .map(|t| Message::new(None, "PRIVMSG", vec![target, t]).unwrap())
                .collect(),
            done: None,
            fallback_id: String::new(),
            lane,
            target: target.to_owned(),
        }
    }

    /// What a recording connection was handed: `target text` per line.
    type Sent = Arc<Mutex<Vec<String>>>;

    /// A queue over a connection that records what it is handed, one line
    /// a second after a burst of one.
    fn recorded() -> (Queue, Sent, watch::Sender<Option<Link>>) {
        recorded_with(Bucket::new(1, Duration::from_secs(1)))
    }

    /// [`recorded`], paced by `bucket`; each line recorded with the
    /// milliseconds since the start.
    fn recorded_with(bucket: Bucket) -> (Queue, Sent, watch::Sender<Option<Link>>) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let log = sent.clone();
        let sink: Sink = Arc::new(move |m: Message| {
            if let irc::proto::Command::PRIVMSG(to, text) = m.command {
                log.lock().unwrap().push(format!("{to} {text}"));
            }
            true
        });
        let link = Link {
            sink,
            echo: Arc::new(Echo::new(false, Arc::default())),
            tags: false,
        };
        let (tx, rx) = watch::channel(Some(link));
        let queue = Queue::start(rx, bucket);
        (queue, sent, tx)
    }

    #[tokio::test(start_paused = true)]
    async fn answers_leave_a_line_in_the_bucket_for_a_question() {
        let (queue, sent, _link) = recorded_with(Bucket::new(4, Duration::from_millis(1500)));
        let start = Instant::now();
        let lines: Vec<String> = (1..=10).map(|i| format!("help {i}")).collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        queue.push(job(Lane::Answer, "#a", &lines));
        tokio::time::sleep(Duration::from_millis(500)).await;
        // Two answer lines went at once; the third waits, keeping half
        // the burst for posts.
        assert_eq!(sent.lock().unwrap().len(), 2);
        queue.push(job(Lane::Question, "#a", &["Q2 a"]));
        queue.push(job(Lane::Question, "#b", &["Q2 b"]));
        tokio::time::sleep(Duration::from_millis(1)).await;
        let got = sent.lock().unwrap().clone();
        assert_eq!(got[2..], ["#a Q2 a", "#b Q2 b"], "{got:?}");
        assert!(Instant::now() - start < Duration::from_millis(600));
    }

    #[tokio::test(start_paused = true)]
    async fn questions_go_first_posts_keep_their_order_and_answers_give_way() {
        let (queue, sent, _link) = recorded();
        // A long answer to a command starts at once...
        queue.push(job(
            Lane::Answer,
            "#a",
            &["help 1", "help 2", "help 3", "help 4"],
        ));
        tokio::time::sleep(Duration::from_millis(500)).await;
        // ...then an intro in #a and #b, chatter, and questions come.
        queue.push(job(Lane::Chatter, "bob", &["VERSION"]));
        queue.push(job(Lane::Post, "#b", &["intro b 1", "intro b 2"]));
        queue.push(job(Lane::Post, "#a", &["intro a 1", "intro a 2"]));
        queue.push(job(Lane::Question, "#a", &["Q1 a"]));
        queue.push(job(Lane::Question, "#c", &["Q1 c"]));
        tokio::time::sleep(Duration::from_secs(60)).await;
        let sent = sent.lock().unwrap().clone();
        assert_eq!(
            sent,
            [
                "#a help 1",
                "#c Q1 c",
                // Q1 in #a waits for the intro in #a, which goes first; the
                // intro's lines stay together.
                "#a intro a 1",
                "#a intro a 2",
                "#a Q1 a",
                "#b intro b 1",
                "#b intro b 2",
                "#a help 2",
                "#a help 3",
                "#a help 4",
                "bob VERSION",
            ]
        );
        assert_eq!(queue.waiting(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_question_goes_between_the_lines_of_a_post_to_another_channel() {
        let (queue, sent, _link) = recorded();
        queue.push(job(
            Lane::Post,
            "#b",
            &["intro b 1", "intro b 2", "intro b 3"],
        ));
        tokio::time::sleep(Duration::from_millis(500)).await;
        queue.push(job(Lane::Question, "#b", &["Q1 b"]));
        queue.push(job(Lane::Question, "#a", &["Q1 a"]));
        tokio::time::sleep(Duration::from_secs(60)).await;
        let sent = sent.lock().unwrap().clone();
        assert_eq!(
            sent,
            [
                "#b intro b 1",
                "#a Q1 a",
                "#b intro b 2",
                "#b intro b 3",
                "#b Q1 b"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_rejoin_gives_way_to_posts_and_leaves_them_the_reserve() {
        let (queue, sent, _link) = recorded_with(Bucket::new(4, Duration::from_millis(1500)));
        let start = Instant::now();
        let lines: Vec<String> = (1..=30).map(|i| format!("JOIN batch {i}")).collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        queue.push(job(Lane::Join, "joins", &lines));
        tokio::time::sleep(Duration::from_secs(5)).await;
        // One at once, leaving two lines in the bucket, then one every
        // 2.25 s (a JOIN weighs one and a half lines): at 1.5 s, 3.75 s.
        assert_eq!(sent.lock().unwrap().len(), 3);
        queue.push(job(Lane::Question, "#a", &["Q1 a"]));
        queue.push(job(Lane::Post, "#b", &["intro b 1", "intro b 2"]));
        tokio::time::sleep(Duration::from_millis(1)).await;
        let got = sent.lock().unwrap().clone();
        // The question goes at once, on the reserve, and the intro whole
        // before the rest of the rejoin.
        assert_eq!(got[3..], ["#a Q1 a", "#b intro b 1"], "{got:?}");
        assert!(Instant::now() - start < Duration::from_millis(5100));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let got = sent.lock().unwrap().clone();
        assert_eq!(got[5], "#b intro b 2", "{got:?}");
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(sent.lock().unwrap().len(), 33);
        assert_eq!(queue.waiting(), 0);
    }

    #[test]
    fn the_first_of_the_highest_lane_goes_unless_an_earlier_post_holds_it() {
        use Lane::*;
        assert_eq!(pick(&[(Answer, "#a"), (Post, "#a"), (Post, "#b")]), 1);
        assert_eq!(pick(&[(Post, "#b"), (Question, "#a"), (Question, "#b")]), 1);
        assert_eq!(pick(&[(Post, "#a"), (Post, "#b"), (Question, "#b")]), 1);
        assert_eq!(pick(&[(Post, "#b"), (Question, "#b"), (Question, "#a")]), 2);
        assert_eq!(
            pick(&[
                (Post, "#b"),
                (Post, "#a"),
                (Question, "#a"),
                (Question, "#b")
            ]),
            1
        );
        assert_eq!(pick(&[(Answer, "#b"), (Question, "#b")]), 1);
        assert_eq!(pick(&[(Chatter, "x"), (Answer, "#a")]), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_connection_a_post_fails_at_once_as_temporary() {
        let (_tx, rx) = watch::channel(None);
        let queue = Queue::start(rx, Bucket::new(1, Duration::from_secs(10)));
        let (done, result) = oneshot::channel();
        let mut post = job(Lane::Question, "#a", &["hello"]);
        post.done = Some(done);
        queue.push(post);
        let r = result.await.unwrap();
        assert!(matches!(r, Err(ChatError::Temporary(_))), "{r:?}");
        assert_eq!(queue.waiting(), 0);
    }
}
