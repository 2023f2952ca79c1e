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

pub mod attribution;
pub mod command;
mod commands;
mod events;
mod outage;
mod posting;
pub mod tag;
pub mod text;
pub mod timeline;
pub mod writer;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::{broadcast, mpsc, watch};

use crate::chat::{Chat, Incoming, Room};
use crate::clock::Clock;
use crate::schedule::{Debate, Schedule};
use crate::store::{NewOccurrence, PostKind, PostRow, PostStatus, Store};
use attribution::RoomState;
use timeline::Live;

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

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            late_grace: Duration::minutes(15),
            late_after: Duration::minutes(1),
            collect_grace: Duration::minutes(10),
            public_url: "http://127.0.0.1:8080".to_owned(),
            rehearsal: None,
        }
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

type OccKey = (String, DateTime<Utc>);

/// How far ahead `!start` may bring an occurrence forward.
pub(crate) const START_AHEAD: Duration = Duration::hours(24);

/// Occurrences are kept in view this long after their start: an occurrence
/// that ended while Podium was down is still looked at on restart, so what
/// was left of it is skipped with a log line rather than silently.
const FORGET_AFTER: Duration = Duration::days(2);

/// How long after a temporary failure a post is tried again.
const RETRY_AFTER: Duration = Duration::seconds(30);

/// An occurrence the engine has looked at, with what it has done.
#[derive(Clone, Debug, Default)]
struct OccState {
    id: Option<i64>,
    live: Live,
    /// (room, kind, seq) that need nothing more.
    done: HashSet<(String, PostKind, i64)>,
    /// Claims found in the store when this process started, which may or
    /// may not have reached the network before a crash.
    stale_claims: HashMap<(String, PostKind, i64), PostRow>,
    /// Posts that failed temporarily in this process, and when to retry.
    retries: HashMap<(String, PostKind, i64), (PostRow, DateTime<Utc>)>,
    /// Highest question number posted (extra questions raise it).
    extra_questions: u32,
    /// [`Notice::Finished`] was sent.
    finished: bool,
}

/// A room in which an occurrence is collecting replies.
#[derive(Clone, Debug)]
struct ActiveRoom {
    occurrence_id: i64,
    key: OccKey,
    state: RoomState,
    /// Questions in posting order, with when they were posted.
    posted: Vec<(DateTime<Utc>, u32)>,
    /// Replies are collected from then (the intro)...
    opens: DateTime<Utc>,
    /// ...until then (set when the closing is posted).
    closes: Option<DateTime<Utc>>,
}

impl ActiveRoom {
    fn covers(&self, at: DateTime<Utc>) -> bool {
        self.opens <= at && self.closes.is_none_or(|c| at <= c)
    }

    /// The latest question posted by `at`, for a message sent then.
    fn latest_at(&self, at: DateTime<Utc>) -> Option<u32> {
        self.posted
            .iter()
            .filter(|(t, _)| *t <= at)
            .max_by_key(|(t, _)| *t)
            .map(|(_, q)| *q)
    }
}

pub struct Engine<C: Chat> {
    store: Store,
    chat: Arc<C>,
    clock: Clock,
    config: EngineConfig,
    schedule: watch::Receiver<Arc<Schedule>>,
    occs: HashMap<OccKey, OccState>,
    rooms: HashMap<String, ActiveRoom>,
    /// Rooms of occurrences that are over, rebuilt to file late-delivered
    /// messages; keyed by room and occurrence.
    past: HashMap<(String, OccKey), ActiveRoom>,
    notices: broadcast::Sender<Notice>,
    /// Set when something changed the plan (a post, a command, a reload).
    replan: bool,
    next_due: Option<DateTime<Utc>>,
}

impl<C: Chat> Engine<C> {
    pub fn new(
        store: Store,
        chat: Arc<C>,
        clock: Clock,
        config: EngineConfig,
        schedule: watch::Receiver<Arc<Schedule>>,
    ) -> Self {
        Engine {
            store,
            chat,
            clock,
            config,
            schedule,
            occs: HashMap::new(),
            rooms: HashMap::new(),
            past: HashMap::new(),
            notices: broadcast::channel(1024).0,
            replan: true,
            next_due: None,
        }
    }

    /// Notices of what the engine posts and skips.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    /// Runs until `shutdown` completes. Incoming events arrive on `events`;
    /// when that channel closes the engine goes on with its timeline alone.
    ///
    /// # Errors
    /// Only store failures that make going on unsafe.
    pub async fn run(
        mut self,
        mut events: mpsc::Receiver<Incoming>,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let (writer, writer_task) = writer::spawn(self.store.clone(), 4096);
        let mut outage = outage::Outage::default();
        tokio::pin!(shutdown);
        let mut events_open = true;
        let mut schedule_open = true;
        loop {
            let now = self.clock.now();
            if self.replan || self.next_due.is_some_and(|d| d <= now) {
                self.replan = false;
                self.next_due = match self.step(now).await {
                    Ok(next) => {
                        if let Some(lasted) = outage.recovered() {
                            tracing::warn!(lasted = ?lasted, "the timeline is advancing again");
                        }
                        next
                    }
                    Err(e) => {
                        // A busy or failing disk must not stop the bot:
                        // nothing was marked done, so the step is redone.
                        match outage.failed() {
                            outage::Report::Started => tracing::error!(cause = %e,
                                "cannot advance the timeline; retrying every 5 seconds"),
                            outage::Report::Lasting(lasted) => tracing::error!(cause = %e,
                                lasted = ?lasted, "still cannot advance the timeline"),
                            outage::Report::Quiet => {}
                        }
                        Some(now + Duration::seconds(5))
                    }
                };
            }
            let wait = self.next_due.map(|d| self.clock.real_delay(d));
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                changed = self.schedule.changed(), if schedule_open => {
                    if changed.is_ok() {
                        tracing::info!("schedule changed; replanning");
                        self.replan = true;
                    } else {
                        // Nobody can reload any more: keep the last schedule.
                        schedule_open = false;
                    }
                }
                ev = events.recv(), if events_open => match ev {
                    Some(ev) => self.handle(ev, &writer).await,
                    None => events_open = false,
                },
                () = sleep_opt(wait) => {}
            }
        }
        drop(writer);
        // Everything received before shutdown is committed before we return.
        let _ = writer_task.await;
        Ok(())
    }

    /// Posts everything due at `now`; returns when the next item falls due.
    async fn step(&mut self, now: DateTime<Utc>) -> anyhow::Result<Option<DateTime<Utc>>> {
        let schedule = self.schedule.borrow().clone();
        let slack = self.config.late_grace + self.config.collect_grace + Duration::minutes(1);
        let mut next: Option<DateTime<Utc>> = None;
        let earliest = |t: DateTime<Utc>, next: &mut Option<DateTime<Utc>>| {
            if next.is_none_or(|n| t < n) {
                *next = Some(t);
            }
        };
        for debate in &schedule.debates {
            let lead = debate
                .remind
                .first()
                .copied()
                .unwrap_or_else(Duration::zero);
            let occurrences = debate
                .occurrences()
                .skip_while(|o| o.starts_at + FORGET_AFTER <= now);
            for o in occurrences {
                let start = o.starts_at;
                // `!start` can move an occurrence up to a day earlier, so
                // those within a day are looked at (and their stored shift
                // loaded) even before their first reminder.
                if start - lead.max(START_AHEAD) > now {
                    earliest(start - lead, &mut next);
                    break;
                }
                let key = (debate.id.clone(), start);
                self.load(&key, debate, now).await?;
                let Some(state) = self.occs.get(&key) else {
                    continue;
                };
                // Long over: only one that an earlier run started needs
                // anything (what was left of it is skipped and logged).
                if o.ends_at + slack < now && (state.id.is_none() || state.finished) {
                    continue;
                }
                let items = timeline::timeline(debate, start, state.live);
                for item in &items {
                    if item.due > now {
                        earliest(item.due, &mut next);
                        continue;
                    }
                    for room in &debate.rooms {
                        if let Some(retry) = self.post_item(debate, &key, room, item, now).await? {
                            earliest(retry, &mut next);
                        }
                    }
                }
                self.note_finished(debate, &key, &items);
            }
        }
        if let Some(retry) = self.retry_failed(&schedule, now).await? {
            earliest(retry, &mut next);
        }
        // A debate (or one of its rooms) taken out of the schedule while it
        // runs stops there: no closing is posted, collection ends after the
        // usual grace.
        for (name, active) in &mut self.rooms {
            let still_held = schedule
                .debate(&active.key.0)
                .is_some_and(|d| d.rooms.iter().any(|r| r.to_string() == *name));
            if active.closes.is_none() && !still_held {
                tracing::warn!(debate = %active.key.0, room = %name,
                    "a running debate was removed from the schedule here; it ends now");
                active.closes = Some(now + self.config.collect_grace);
            }
        }
        // Forget occurrences that are long over.
        self.occs
            .retain(|(_, start), _| *start + FORGET_AFTER > now);
        self.rooms
            .retain(|_, r| r.closes.is_none_or(|c| c > now - Duration::days(1)));
        self.past
            .retain(|(_, (_, start)), _| *start + FORGET_AFTER > now);
        Ok(next)
    }

    /// Sends [`Notice::Finished`] once every item of the occurrence is done
    /// in every room.
    fn note_finished(&mut self, debate: &Debate, key: &OccKey, items: &[timeline::Item]) {
        let Some(state) = self.occs.get_mut(key) else {
            return;
        };
        if state.finished
            || !items.iter().all(|i| {
                debate
                    .rooms
                    .iter()
                    .all(|r| state.done.contains(&(r.to_string(), i.kind, i.seq)))
            })
        {
            return;
        }
        state.finished = true;
        let _ = self.notices.send(Notice::Finished {
            debate: key.0.clone(),
            scheduled_start: key.1,
        });
    }

    /// Makes `active` the room's live state unless a later occurrence
    /// already holds the room: catching up an old occurrence after a
    /// restart must not take the room from the one running now.
    fn open_room(&mut self, name: String, active: ActiveRoom) {
        match self.rooms.get(&name) {
            Some(held) if held.key.1 > active.key.1 => {}
            _ => {
                self.rooms.insert(name, active);
            }
        }
    }

    /// Loads what the store knows of an occurrence, once.
    async fn load(
        &mut self,
        key: &OccKey,
        debate: &Debate,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        if self.occs.contains_key(key) {
            return Ok(());
        }
        let mut state = OccState::default();
        if let Some(row) = self.store.find_occurrence(&key.0, key.1).await? {
            state.id = Some(row.id);
            state.live = Live {
                shift: Duration::seconds(row.shift_seconds),
                ended_at: row.ended_at,
            };
            let posts = self.store.posts(row.id).await?;
            for p in &posts {
                if p.kind == PostKind::Question {
                    state.extra_questions =
                        state.extra_questions.max(u32::try_from(p.seq).unwrap_or(0));
                }
                let k = (p.room.clone(), p.kind, p.seq);
                match p.status {
                    PostStatus::Sending => {
                        state.stale_claims.insert(k, p.clone());
                    }
                    _ => {
                        state.done.insert(k);
                    }
                }
            }
            self.restore_rooms(key, row.id, debate, &posts, now).await?;
        }
        self.occs.insert(key.clone(), state);
        Ok(())
    }

    async fn occurrence_id(
        &mut self,
        key: &OccKey,
        debate: &Debate,
        now: DateTime<Utc>,
    ) -> anyhow::Result<i64> {
        if let Some(id) = self.occs.get(key).and_then(|o| o.id) {
            return Ok(id);
        }
        let row = self
            .store
            .occurrence(&NewOccurrence {
                debate: &debate.id,
                scheduled_start: key.1,
                title: &debate.title,
                timezone: debate.timezone.name(),
                questions: debate.questions.iter().map(|q| q.text.as_str()).collect(),
                rehearsal_clock: self.config.rehearsal,
                now,
            })
            .await?;
        self.occs.entry(key.clone()).or_default().id = Some(row.id);
        Ok(row.id)
    }
}

async fn sleep_opt(d: Option<std::time::Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
