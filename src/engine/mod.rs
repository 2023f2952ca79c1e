//! The engine: owns the life of every occurrence. It computes each
//! occurrence's timeline from the schedule, sleeps until the next due item,
//! posts through the chat boundary and records everything in the store.
//! It never names a network: rooms are [`Room`] values and the network is
//! behind [`Chat`].
//!
//! Posting is idempotent across crashes: a post is claimed in the store
//! (unique per occurrence, room, kind and number) before the network is
//! asked, and marked sent afterwards. A claim left by a crash is re-sent
//! with the same key on networks that deduplicate, and otherwise left alone.

mod adhoc;
mod answers;
pub mod attribution;
pub mod command;
mod commands;
mod confirm;
mod events;
mod floor;
mod forget;
mod here;
pub mod limits;
mod links;
mod loading;
mod occurrences;
mod outbox;
mod posting;
mod rooms;
mod rsvp;
pub mod text;
pub mod timeline;
pub mod writer;

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::{broadcast, mpsc, watch};

use crate::chat::{Chat, Incoming, Room};
use crate::clock::Clock;
use crate::config::{DEFAULT_PUBLIC_URL, Timings};
use crate::domain::PostKind;
use crate::outage;
use crate::replicas::{Leadership, Lease};
use crate::schedule::{Debate, Occurrence, Schedule};
use crate::store::Store;
use occurrences::Occurrences;
use rooms::Rooms;

/// Timing and link settings; the defaults suit a live community debate.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// A post whose time passed while Podium was down is still sent (marked
    /// late) up to this long after it was due; later, it is skipped.
    pub late_grace: Duration,
    /// Sent this long after its time, a post says it is late.
    pub late_after: Duration,
    /// Replies are collected until this long after the closing.
    pub collect_grace: Duration,
    /// Base of transcript links, e.g. `https://podium.example.org`.
    pub public_url: String,
    /// For rehearsals: the compressed clock's real origin and speed, stored
    /// with the occurrence so a restarted rehearsal resumes on time.
    pub rehearsal: Option<(DateTime<Utc>, f64)>,
}

impl EngineConfig {
    /// The engine's settings from the configuration's.
    pub fn new(timings: Timings, public_url: &str) -> Self {
        EngineConfig {
            late_grace: timings.late_grace,
            late_after: timings.late_after,
            collect_grace: timings.collect_grace,
            public_url: public_url.to_owned(),
            rehearsal: None,
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig::new(
            Timings {
                late_grace: Duration::minutes(15),
                late_after: Duration::minutes(1),
                collect_grace: Duration::minutes(10),
            },
            DEFAULT_PUBLIC_URL,
        )
    }
}

/// What the engine did, for observers (the rehearsal console, tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    Posted {
        debate: String,
        room: Room,
        kind: PostKind,
        seq: i64,
        body: String,
        late: bool,
    },
    Skipped {
        debate: String,
        room: Room,
        kind: PostKind,
        seq: i64,
    },
    /// Nothing is left to post for this occurrence in any of its rooms
    /// (posted, skipped or given up), whether this process did it or an
    /// earlier one. Sent once per process.
    Finished {
        debate: String,
        scheduled_start: DateTime<Utc>,
    },
}

/// How far ahead `!start` may bring an occurrence forward.
pub(crate) const START_AHEAD: Duration = Duration::hours(24);

/// Occurrences are kept in view this long after their start: an occurrence
/// that ended while Podium was down is still looked at on restart, so what
/// was left of it is skipped with a log line rather than silently.
const FORGET_AFTER: Duration = Duration::days(2);

/// How long a stopping engine waits for the posts and answers it has
/// handed to the networks.
const SENDING_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// How long after a temporary failure a post is tried again (a network
/// that was down is usually back within seconds; a rate limit was already
/// waited out by the network itself).
const RETRY_AFTER: Duration = Duration::seconds(10);

pub struct Engine<C: Chat> {
    store: Store,
    chat: Arc<C>,
    clock: Clock,
    config: EngineConfig,
    schedule: watch::Receiver<Arc<Schedule>>,
    occs: Occurrences,
    rooms: Rooms,
    outbox: outbox::Outbox<C>,
    /// Answers to commands, sent apart from posts.
    answers: answers::Answers<C>,
    limits: limits::Limiter,
    /// What became of the posts the outbox took.
    sent: mpsc::UnboundedReceiver<outbox::Progress>,
    notices: broadcast::Sender<Notice>,
    /// Set when something changed the plan (a post, a command, a reload).
    replan: bool,
    next_due: Option<DateTime<Utc>>,
    /// Which debates this process leads (all of them without replicas).
    leadership: watch::Receiver<Arc<Leadership>>,
    /// Keeps a Podium without replicas' leadership channel open.
    _solo: Option<watch::Sender<Arc<Leadership>>>,
    /// The debates led at the last look, so a lost one's cached state is
    /// dropped (its new holder may change it).
    led: std::collections::HashSet<String>,
    /// Who said `!forget` and may now confirm it.
    forgetting: forget::Pending,
    /// Debates started with `!debate`, seen as part of the schedule.
    adhoc: Vec<Debate>,
    /// The file's schedule (the `Arc` it was made from) with [`Self::adhoc`].
    merged: std::sync::Mutex<Option<(Arc<Schedule>, Arc<Schedule>)>>,
}

/// The earliest of the instants offered to it.
#[derive(Default)]
struct Earliest(Option<DateTime<Utc>>);

impl Earliest {
    fn offer(&mut self, t: Option<DateTime<Utc>>) {
        if let Some(t) = t
            && self.0.is_none_or(|n| t < n)
        {
            self.0 = Some(t);
        }
    }
}

impl<C: Chat> Engine<C> {
    pub fn new(
        store: Store,
        chat: Arc<C>,
        clock: Clock,
        config: EngineConfig,
        schedule: watch::Receiver<Arc<Schedule>>,
    ) -> Self {
        let (solo, leadership) = watch::channel(Arc::new(Leadership::solo()));
        let fencer = outbox::Fencer {
            store: store.clone(),
            leadership: leadership.clone(),
        };
        let (outbox, sent) = outbox::Outbox::new(chat.clone(), clock.clone(), fencer);
        Engine {
            leadership,
            _solo: Some(solo),
            led: std::collections::HashSet::new(),
            forgetting: forget::Pending::default(),
            adhoc: Vec::new(),
            merged: std::sync::Mutex::new(None),
            answers: answers::Answers::new(chat.clone()),
            limits: limits::Limiter::default(),
            store,
            chat,
            clock,
            config,
            schedule,
            occs: Occurrences::default(),
            rooms: Rooms::default(),
            outbox,
            sent,
            notices: broadcast::channel(1024).0,
            replan: true,
            next_due: None,
        }
    }

    /// Leads only the debates `leadership` says (several replicas share
    /// the database); without this, every debate is this engine's.
    #[must_use]
    pub fn with_leadership(mut self, leadership: watch::Receiver<Arc<Leadership>>) -> Self {
        let fencer = outbox::Fencer {
            store: self.store.clone(),
            leadership: leadership.clone(),
        };
        let (outbox, sent) = outbox::Outbox::new(self.chat.clone(), self.clock.clone(), fencer);
        self.outbox = outbox;
        self.sent = sent;
        self.leadership = leadership;
        self._solo = None;
        self
    }

    /// What this process may do for `debate` now.
    fn lease(&self, debate: &str) -> Lease {
        self.leadership.borrow().lease(debate)
    }

    /// Whether this process leads `debate`; when it stopped doing so, what
    /// it had cached of the debate is dropped, to be loaded afresh from the
    /// store if the lease comes back (another replica may have posted).
    fn leads(&mut self, debate: &str) -> bool {
        if self.lease(debate).leads() {
            if self.led.insert(debate.to_owned()) {
                self.occs.forget_debate(debate);
                self.rooms.forget_debate(debate);
            }
            true
        } else {
            if self.led.remove(debate) {
                tracing::info!(debate = %debate, "no longer leading this debate");
                self.occs.forget_debate(debate);
                self.rooms.forget_debate(debate);
            }
            false
        }
    }

    /// Notices of what the engine posts and skips.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    /// Runs until `shutdown` completes. Incoming events arrive on `events`;
    /// when that channel closes the engine goes on with its timeline alone.
    /// On shutdown, the posts in hand are finished and recorded, and
    /// everything handed to the reply writer is committed, before this
    /// returns.
    ///
    /// # Errors
    /// Only store failures that make going on unsafe.
    pub async fn run(
        mut self,
        mut events: mpsc::Receiver<Incoming>,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let (writer, writer_task) = writer::spawn(self.store.clone(), 4096);
        self.load_adhoc(self.clock.now()).await;
        let mut outage = outage::Outage::default();
        tokio::pin!(shutdown);
        let mut events_open = true;
        let mut schedule_open = true;
        let mut leadership_open = true;
        loop {
            let now = self.clock.now();
            if self.replan || self.next_due.is_some_and(|d| d <= now) {
                self.replan = false;
                self.next_due = self.step_or_retry(now, &mut outage).await;
                // What a step did (posts confirmed) may call for another
                // step at once: the occurrence may now be finished.
                continue;
            }
            let wait = self.next_due.map(|d| self.clock.real_delay(d));
            let report_at = self.limits.report_at();
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                changed = self.schedule.changed(), if schedule_open => {
                    if changed.is_ok() {
                        tracing::info!("schedule changed; replanning");
                        self.log_next();
                        self.replan = true;
                    } else {
                        // Nobody can reload any more: keep the last schedule.
                        schedule_open = false;
                    }
                }
                changed = self.leadership.changed(), if leadership_open => {
                    if changed.is_ok() {
                        self.replan = true;
                    } else {
                        leadership_open = false;
                    }
                }
                Some(progress) = self.sent.recv() => self.record(progress).await,
                ev = events.recv(), if events_open => match ev {
                    Some(ev) => self.handle(ev, &writer).await,
                    None => events_open = false,
                },
                () = sleep_opt(wait) => {}
                () = sleep_until_opt(report_at) => {
                    self.limits.report(tokio::time::Instant::now());
                }
            }
        }
        self.finish_sending().await;
        drop(writer);
        // Everything received before shutdown is committed before we return.
        let _ = writer_task.await;
        Ok(())
    }

    /// Lets the posts and answers in hand go out, for [`SENDING_WAIT`] at
    /// most, and records what became of the posts: one the network took
    /// is marked sent now, not left as a claim for a restart to guess
    /// about (on a network that cannot deduplicate, a guess that gives it
    /// up).
    async fn finish_sending(&mut self) {
        let mut posts = self.outbox.stop();
        let mut answers = self.answers.stop();
        let deadline = tokio::time::Instant::now() + SENDING_WAIT;
        let wait = tokio::time::sleep_until(deadline);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                biased;
                Some(progress) = self.sent.recv() => self.record(progress).await,
                joined = posts.join_next() => if joined.is_none() { break },
                () = &mut wait => {
                    tracing::warn!(waited = ?SENDING_WAIT, "posts still being sent at the stop \
                        are left to the next start");
                    break;
                }
            }
        }
        while let Ok(progress) = self.sent.try_recv() {
            self.record(progress).await;
        }
        let _ = tokio::time::timeout_at(deadline, async {
            while answers.join_next().await.is_some() {}
        })
        .await;
    }

    /// What became of a post the outbox took.
    async fn record(&mut self, progress: outbox::Progress) {
        if let Err(e) = self.progress(progress).await {
            // The post went out but could not be marked: its claim stays,
            // and a restart sends it again with the same key where the
            // network deduplicates.
            tracing::error!(cause = %e, "cannot record a post as sent");
            crate::metrics::store_error(crate::metrics::StoreJob::Posts);
        }
    }

    /// Which debate comes next, as `podium run` says at start.
    fn log_next(&self) {
        let schedule = self.schedule();
        match schedule.occurrences_after(self.clock.now()) {
            Some(next) => tracing::info!(debate = %next.debate.id,
                at = %next.time_line().render(), "next debate"),
            None => tracing::info!("no debate is scheduled"),
        }
    }

    /// One step; on failure (a busy or failing disk must not stop the bot)
    /// the step is redone in five seconds: nothing was marked done.
    async fn step_or_retry(
        &mut self,
        now: DateTime<Utc>,
        outage: &mut outage::Outage,
    ) -> Option<DateTime<Utc>> {
        match self.step(now).await {
            Ok(next) => {
                if let Some(lasted) = outage.recovered() {
                    tracing::warn!(lasted = ?lasted, "the timeline is advancing again");
                }
                next
            }
            Err(e) => {
                crate::metrics::store_error(crate::metrics::StoreJob::Timeline);
                match outage.failed() {
                    outage::Report::Started => tracing::error!(cause = %e,
                        "cannot advance the timeline; retrying every 5 seconds"),
                    outage::Report::Lasting(lasted) => tracing::error!(cause = %e,
                        lasted = ?lasted, "still cannot advance the timeline"),
                    outage::Report::Quiet => {}
                }
                Some(now + Duration::seconds(5))
            }
        }
    }

    /// Posts everything due at `now`; returns when the next item falls due.
    async fn step(&mut self, now: DateTime<Utc>) -> anyhow::Result<Option<DateTime<Utc>>> {
        let schedule = self.schedule();
        let mut next = Earliest::default();
        let mut ready = self.due_retries(&schedule, now).await?;
        for debate in &schedule.debates {
            next.offer(self.step_debate(debate, now, &mut ready).await?);
        }
        self.dispatch(ready);
        next.offer(self.occs.next_retry());
        self.rooms
            .end_removed(&schedule, now, self.config.collect_grace);
        // Forget occurrences that are long over.
        self.occs.forget_before(now - FORGET_AFTER);
        self.rooms.forget(now, now - FORGET_AFTER);
        self.forget_adhoc(now);
        Ok(next.0)
    }

    /// Posts what is due of one debate's occurrences in view; returns when
    /// its next item falls due.
    async fn step_debate(
        &mut self,
        debate: &Debate,
        now: DateTime<Utc>,
        ready: &mut Vec<posting::Ready>,
    ) -> anyhow::Result<Option<DateTime<Utc>>> {
        let lead = debate
            .remind
            .first()
            .copied()
            .unwrap_or_else(Duration::zero);
        let mut next = Earliest::default();
        if !self.leads(&debate.id) {
            return Ok(None);
        }
        let occurrences = debate
            .occurrences()
            .skip_while(|o| o.starts_at + FORGET_AFTER <= now);
        for o in occurrences {
            // `!start` can move an occurrence up to a day earlier, so those
            // within a day are looked at (and their stored shift loaded)
            // even before their first reminder.
            if o.starts_at - lead.max(START_AHEAD) > now {
                next.offer(Some(o.starts_at - lead));
                break;
            }
            next.offer(self.step_occurrence(debate, &o, now, ready).await?);
        }
        Ok(next.0)
    }

    /// Claims what is due of one occurrence (into `ready`); returns when
    /// its next item falls due.
    async fn step_occurrence(
        &mut self,
        debate: &Debate,
        o: &Occurrence<'_>,
        now: DateTime<Utc>,
        ready: &mut Vec<posting::Ready>,
    ) -> anyhow::Result<Option<DateTime<Utc>>> {
        let key = (debate.id.clone(), o.starts_at);
        self.load(&key, debate, now).await?;
        let Some(state) = self.occs.get(&key) else {
            return Ok(None);
        };
        // Long over: only one that an earlier run started needs anything
        // (what was left of it is skipped and logged).
        let slack = self.config.late_grace + self.config.collect_grace + Duration::minutes(1);
        if o.ends_at + state.live.extended() + slack < now
            && (state.id.is_none() || state.is_finished())
        {
            return Ok(None);
        }
        let items = timeline::timeline(debate, o.starts_at, &state.live);
        let people = (
            state.id,
            o.starts_at + state.live.shift,
            state.people_reminded,
        );
        let mut next = Earliest::default();
        // Those registered are reminded privately at the shortest reminder
        // (not after the start: then it is no use).
        if let (Some(id), start, false) = people
            && start > now
        {
            let due = start - rsvp::lead(debate);
            if due <= now {
                self.remind_people(debate, id, start, now).await?;
                self.occs.set_people_reminded(&key);
            } else {
                next.offer(Some(due));
            }
        }
        // A room whose earlier post waits to be retried (a rate limit, an
        // outage) gets nothing later until that one is out: Q2 must not
        // overtake a Q1 the server refused for a moment.
        let mut held: Vec<&Room> = Vec::new();
        for item in &items {
            if item.due > now {
                next.offer(Some(item.due));
                continue;
            }
            for room in &debate.rooms {
                if held.contains(&room) {
                    continue;
                }
                match self.prepare(debate, &key, room, item, now, None).await? {
                    posting::Prepared::Done => {}
                    posting::Prepared::RetryAt(at) => {
                        next.offer(Some(at));
                        held.push(room);
                    }
                    posting::Prepared::Send(r) => ready.push(*r),
                }
            }
        }
        if self.occs.finish_if_done(&key, &items, &debate.rooms) {
            let _ = self.notices.send(Notice::Finished {
                debate: key.0.clone(),
                scheduled_start: key.1,
            });
        }
        Ok(next.0)
    }
}

/// How many questions a debate has in the schedule.
fn scheduled_questions(debate: &Debate) -> u32 {
    u32::try_from(debate.questions.len()).unwrap_or(u32::MAX)
}

async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn sleep_opt(d: Option<std::time::Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
