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
pub mod clock;
pub mod command;
mod commands;
pub mod reload;
pub mod tag;
pub mod text;
pub mod timeline;
pub mod writer;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::{broadcast, mpsc, watch};

use crate::chat::{Chat, ChatError, Event, Incoming, Outgoing, Receipt, Room};
use crate::schedule::{Debate, Schedule};
use crate::store::{NewPost, NewReply, PostKind, PostRow, PostStatus, Store, WriteOp};
use attribution::RoomState;
pub use clock::Clock;
use timeline::{Item, Live};

/// Settings with sensible defaults; see README "Configuration".
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
}

type OccKey = (String, DateTime<Utc>);

/// How far ahead `!start` may bring an occurrence forward.
pub(crate) const START_AHEAD: Duration = Duration::hours(24);

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

fn network_of(room: &Room) -> &'static str {
    match room {
        Room::Matrix(_) => "matrix",
        Room::Irc(_) => "irc",
        Room::Console(_) => "console",
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
        tokio::pin!(shutdown);
        let mut events_open = true;
        let mut schedule_open = true;
        loop {
            let now = self.clock.now();
            if self.replan || self.next_due.is_some_and(|d| d <= now) {
                self.replan = false;
                self.next_due = match self.step(now).await {
                    Ok(next) => next,
                    Err(e) => {
                        // A busy or failing disk must not stop the bot:
                        // nothing was marked done, so the step is redone.
                        tracing::error!(cause = %e, "cannot advance the timeline; retrying soon");
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
                .skip_while(|o| o.ends_at + slack < now)
                .map(|o| o.starts_at);
            for start in occurrences {
                // `!start` can move an occurrence up to a day earlier, so
                // those within a day are looked at (and their stored shift
                // loaded) even before their first reminder.
                if start - lead.max(START_AHEAD) > now {
                    earliest(start - lead, &mut next);
                    break;
                }
                let key = (debate.id.clone(), start);
                self.load(&key, debate, now).await?;
                let live = self.occs.get(&key).map(|o| o.live).unwrap_or_default();
                let items = timeline::timeline(debate, start, live);
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
            .retain(|(_, start), _| *start + Duration::days(2) > now);
        self.rooms
            .retain(|_, r| r.closes.is_none_or(|c| c > now - Duration::days(1)));
        self.past
            .retain(|(_, (_, start)), _| *start + Duration::days(2) > now);
        Ok(next)
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

    /// Rebuilds attribution state for rooms where the occurrence was
    /// collecting replies when Podium stopped.
    async fn restore_rooms(
        &mut self,
        key: &OccKey,
        occurrence_id: i64,
        debate: &Debate,
        posts: &[PostRow],
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        for room in &debate.rooms {
            let name = room.to_string();
            if !posts
                .iter()
                .any(|p| p.room == name && p.kind == PostKind::Intro)
            {
                continue;
            }
            let active = self
                .rebuild_room(key, occurrence_id, debate, room, posts)
                .await?;
            if active.closes.is_none_or(|c| c >= now) {
                self.rooms.insert(name, active);
            }
        }
        Ok(())
    }

    /// A room's attribution state rebuilt from what the store holds.
    async fn rebuild_room(
        &self,
        key: &OccKey,
        occurrence_id: i64,
        debate: &Debate,
        room: &Room,
        posts: &[PostRow],
    ) -> anyhow::Result<ActiveRoom> {
        let name = room.to_string();
        let opens = posts
            .iter()
            .find(|p| p.room == name && p.kind == PostKind::Intro)
            .map_or(key.1, |p| p.sent_at.unwrap_or(p.due_at).min(p.due_at));
        let mut active = self.new_active(key, occurrence_id, debate, opens);
        active.closes = posts
            .iter()
            .find(|p| p.room == name && p.kind == PostKind::Closing)
            .map(|p| p.sent_at.unwrap_or(p.due_at) + self.config.collect_grace);
        for p in posts.iter().filter(|p| {
            p.room == name && p.kind == PostKind::Question && p.status == PostStatus::Sent
        }) {
            let n = u32::try_from(p.seq).unwrap_or(0);
            if let Some(id) = &p.network_id {
                active.state.question_ids.insert(id.clone(), n);
            }
            active.posted.push((p.sent_at.unwrap_or(p.due_at), n));
            active.state.questions = active.state.questions.max(n);
        }
        active.state.latest = active
            .posted
            .iter()
            .max_by_key(|(t, _)| *t)
            .map(|(_, q)| *q);
        for (id, q) in self.store.reply_questions(occurrence_id, &name).await? {
            active.state.reply_questions.insert(id, q);
        }
        Ok(active)
    }

    /// The occurrence a message sent at `at` in `room` belongs to, when the
    /// room has no live state for it: messages re-delivered after Podium
    /// was down (a Matrix sync from the saved token) are collected too,
    /// even for a debate that ran entirely while it was down.
    async fn past_room(
        &mut self,
        room: &Room,
        at: DateTime<Utc>,
    ) -> anyhow::Result<Option<(String, OccKey)>> {
        let schedule = self.schedule.borrow().clone();
        let grace = self.config.collect_grace;
        let found = schedule
            .debates
            .iter()
            .filter(|d| d.rooms.contains(room))
            .filter_map(|d| {
                d.occurrences()
                    .find(|o| o.ends_at + grace >= at)
                    .filter(|o| o.starts_at <= at)
                    .map(|o| (d, o.starts_at))
            })
            .max_by_key(|(_, start)| *start);
        let Some((debate, start)) = found else {
            return Ok(None);
        };
        let key: OccKey = (debate.id.clone(), start);
        let slot = (room.to_string(), key.clone());
        if !self.past.contains_key(&slot) {
            let debate = debate.clone();
            let id = self.occurrence_id(&key, &debate, at).await?;
            let posts = self.store.posts(id).await?;
            let mut active = self.rebuild_room(&key, id, &debate, room, &posts).await?;
            if active.closes.is_none() {
                active.closes = Some(start + debate.duration + grace);
            }
            self.past.insert(slot.clone(), active);
        }
        Ok(Some(slot))
    }

    fn new_active(
        &self,
        key: &OccKey,
        occurrence_id: i64,
        debate: &Debate,
        opens: DateTime<Utc>,
    ) -> ActiveRoom {
        ActiveRoom {
            opens,
            occurrence_id,
            key: key.clone(),
            state: RoomState {
                questions: u32::try_from(debate.questions.len()).unwrap_or(u32::MAX),
                ..RoomState::default()
            },
            posted: Vec::new(),
            closes: None,
        }
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
            .occurrence(
                &debate.id,
                key.1,
                &debate.title,
                debate.timezone.name(),
                self.config.rehearsal,
                now,
            )
            .await?;
        self.occs.entry(key.clone()).or_default().id = Some(row.id);
        Ok(row.id)
    }

    fn transcript_url(&self, debate: &Debate, start: DateTime<Utc>) -> String {
        format!(
            "{}/transcripts/{}/{}",
            self.config.public_url.trim_end_matches('/'),
            debate.id,
            start.with_timezone(&debate.timezone).format("%Y-%m-%d")
        )
    }

    fn body(
        &self,
        debate: &Debate,
        key: &OccKey,
        item: &Item,
        extra: Option<&str>,
    ) -> (String, Option<String>) {
        match item.kind {
            PostKind::Reminder => (
                text::reminder(debate, key.1, Duration::seconds(item.seq)),
                None,
            ),
            PostKind::Intro => {
                let extra = self.occs.get(key).map_or(0, |o| o.extra_questions);
                (
                    text::intro(debate, debate.questions.len().max(extra as usize)),
                    None,
                )
            }
            PostKind::Question => {
                let q = extra.map(str::to_owned).unwrap_or_else(|| {
                    usize::try_from(item.seq - 1)
                        .ok()
                        .and_then(|i| debate.questions.get(i))
                        .map(|q| q.text.clone())
                        .unwrap_or_default()
                });
                (text::question(debate, item.seq, &q), Some(q))
            }
            PostKind::Closing => (text::closing(debate), None),
            PostKind::Transcript => (
                text::transcript(debate, &self.transcript_url(debate, key.1)),
                None,
            ),
        }
    }

    /// Posts one item in one room unless it is done. Returns when to retry
    /// after a temporary failure.
    async fn post_item(
        &mut self,
        debate: &Debate,
        key: &OccKey,
        room: &Room,
        item: &Item,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<DateTime<Utc>>> {
        self.post_item_with(debate, key, room, item, now, None)
            .await
    }

    async fn post_item_with(
        &mut self,
        debate: &Debate,
        key: &OccKey,
        room: &Room,
        item: &Item,
        now: DateTime<Utc>,
        extra_text: Option<&str>,
    ) -> anyhow::Result<Option<DateTime<Utc>>> {
        let room_name = room.to_string();
        let k = (room_name.clone(), item.kind, item.seq);
        self.load(key, debate, now).await?;
        let state = self.occs.entry(key.clone()).or_default();
        if state.done.contains(&k) {
            return Ok(None);
        }
        if let Some((_, at)) = state.retries.get(&k) {
            // Retried by `retry_failed`, which also covers extra questions.
            return Ok(Some(*at));
        }
        let live = state.live;
        let stale = state.stale_claims.remove(&k);
        let occurrence_id = self.occurrence_id(key, debate, now).await?;

        let lateness = now - item.due;
        let actual_start = key.1 + live.shift;
        let too_late = lateness > self.config.late_grace
            || (item.kind == PostKind::Reminder && now >= actual_start);
        let late = lateness > self.config.late_after;

        if let Some(row) = stale {
            // Claimed before a crash: it may or may not have reached the room.
            if too_late || !self.chat.deduplicates(room) {
                tracing::warn!(debate = %debate.id, room = %room, kind = row.kind.as_str(), seq = row.seq,
                    "a post was interrupted by a restart and cannot be safely sent again \
                     (too late, or the network cannot deduplicate); leaving it");
                self.store.mark_status(row.id, PostStatus::Unknown).await?;
                self.mark_done(key, &k);
                return Ok(None);
            }
            return self
                .send_row(debate, key, occurrence_id, room, row, now)
                .await;
        }

        if too_late {
            let (body, question) = self.body(debate, key, item, extra_text);
            self.store
                .claim_post(&NewPost {
                    occurrence_id,
                    room: &room_name,
                    kind: item.kind,
                    seq: item.seq,
                    body: &body,
                    question_text: question.as_deref(),
                    due_at: item.due,
                    late: true,
                    status: PostStatus::Skipped,
                })
                .await?;
            tracing::warn!(debate = %debate.id, room = %room, kind = item.kind.as_str(), seq = item.seq,
                due = %item.due, late_by = %lateness,
                "skipped a post that fell due while Podium was not running (outside the grace window)");
            self.mark_done(key, &k);
            // The debate still runs even if its intro or closing was missed:
            // replies must be collected all the same.
            self.track(
                debate,
                key,
                occurrence_id,
                room,
                item.kind,
                item.seq,
                None,
                now,
            );
            let _ = self.notices.send(Notice::Skipped {
                debate: debate.id.clone(),
                room: room.clone(),
                kind: item.kind,
                seq: item.seq,
            });
            return Ok(None);
        }

        let (mut body, question) = self.body(debate, key, item, extra_text);
        if late {
            body.push_str(&text::late_note(item.due, debate));
        }
        let (row, _) = self
            .store
            .claim_post(&NewPost {
                occurrence_id,
                room: &room_name,
                kind: item.kind,
                seq: item.seq,
                body: &body,
                question_text: question.as_deref(),
                due_at: item.due,
                late,
                status: PostStatus::Sending,
            })
            .await?;
        if row.status != PostStatus::Sending {
            self.mark_done(key, &k);
            return Ok(None);
        }
        self.send_row(debate, key, occurrence_id, room, row, now)
            .await
    }

    /// Sends a claimed post. A temporary failure is known not to have
    /// reached the room, so the same claim is retried later on any network.
    async fn send_row(
        &mut self,
        debate: &Debate,
        key: &OccKey,
        occurrence_id: i64,
        room: &Room,
        row: PostRow,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<DateTime<Utc>>> {
        let k = (row.room.clone(), row.kind, row.seq);
        let send_key = format!("podium-{}", row.id);
        let sent = self
            .chat
            .send(
                room,
                Outgoing {
                    key: &send_key,
                    body: &row.body,
                },
            )
            .await;
        match sent {
            Ok(network_id) => {
                let sent_at = self.clock.now();
                self.store.mark_sent(row.id, sent_at, &network_id).await?;
                self.mark_done(key, &k);
                self.after_post(debate, key, occurrence_id, room, &row, &network_id, sent_at);
                Ok(None)
            }
            Err(ChatError::Temporary(e)) => {
                let retry = now + RETRY_AFTER;
                tracing::warn!(debate = %debate.id, room = %room, kind = row.kind.as_str(),
                    cause = %e, "sending failed; will retry");
                let state = self.occs.entry(key.clone()).or_default();
                state.retries.insert(k, (row, retry));
                Ok(Some(retry))
            }
            Err(ChatError::Permanent(e)) => {
                tracing::error!(debate = %debate.id, room = %room, kind = row.kind.as_str(),
                    cause = %e, "cannot post in this room; giving up on this post");
                self.store.mark_status(row.id, PostStatus::Failed).await?;
                self.mark_done(key, &k);
                Ok(None)
            }
        }
    }

    /// Sends again the posts that failed temporarily and are due for a
    /// retry, giving up on those past the grace window. Returns the next
    /// retry time.
    async fn retry_failed(
        &mut self,
        schedule: &Schedule,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<DateTime<Utc>>> {
        let due: Vec<(OccKey, PostRow)> = self
            .occs
            .iter()
            .flat_map(|(key, o)| {
                o.retries
                    .values()
                    .filter(|(_, at)| *at <= now)
                    .map(move |(row, _)| (key.clone(), row.clone()))
            })
            .collect();
        for (key, row) in due {
            let k = (row.room.clone(), row.kind, row.seq);
            if let Some(o) = self.occs.get_mut(&key) {
                o.retries.remove(&k);
            }
            let (Some(debate), Ok(room)) = (schedule.debate(&key.0), row.room.parse::<Room>())
            else {
                continue;
            };
            if now - row.due_at > self.config.late_grace + self.config.late_grace {
                tracing::error!(debate = %debate.id, room = %row.room, kind = row.kind.as_str(),
                    "giving up on a post after retrying it for too long");
                self.store.mark_status(row.id, PostStatus::Failed).await?;
                self.mark_done(&key, &k);
                continue;
            }
            let debate = debate.clone();
            self.send_row(&debate, &key, row.occurrence_id, &room, row, now)
                .await?;
        }
        Ok(self
            .occs
            .values()
            .flat_map(|o| o.retries.values().map(|(_, at)| *at))
            .min())
    }

    fn mark_done(&mut self, key: &OccKey, k: &(String, PostKind, i64)) {
        let state = self.occs.entry(key.clone()).or_default();
        state.retries.remove(k);
        state.done.insert(k.clone());
        self.replan = true;
    }

    /// Keeps the room's attribution state in step with the timeline. A
    /// question only becomes "latest" when it was really posted
    /// (`network_id`); intro and closing count even when skipped.
    #[allow(clippy::too_many_arguments)]
    fn track(
        &mut self,
        debate: &Debate,
        key: &OccKey,
        occurrence_id: i64,
        room: &Room,
        kind: PostKind,
        seq: i64,
        network_id: Option<&str>,
        at: DateTime<Utc>,
    ) {
        let name = room.to_string();
        match kind {
            PostKind::Intro => {
                // Collection opens at the start, even if the intro went out
                // late or was skipped after a restart.
                let start = key.1
                    + self
                        .occs
                        .get(key)
                        .map_or(Duration::zero(), |o| o.live.shift);
                let active = self.new_active(key, occurrence_id, debate, start.min(at));
                self.rooms.insert(name, active);
            }
            PostKind::Question => {
                let n = u32::try_from(seq).unwrap_or(0);
                if let Some(active) = self.rooms.get_mut(&name).filter(|a| a.key == *key) {
                    active.state.questions = active.state.questions.max(n);
                    if let Some(id) = network_id {
                        active.state.question_ids.insert(id.to_owned(), n);
                        active.state.latest = Some(n);
                        active.posted.push((at, n));
                    }
                }
                let state = self.occs.entry(key.clone()).or_default();
                state.extra_questions = state.extra_questions.max(n);
            }
            PostKind::Closing => {
                if let Some(active) = self.rooms.get_mut(&name).filter(|a| a.key == *key) {
                    active.closes = Some(at + self.config.collect_grace);
                }
            }
            PostKind::Reminder | PostKind::Transcript => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn after_post(
        &mut self,
        debate: &Debate,
        key: &OccKey,
        occurrence_id: i64,
        room: &Room,
        row: &PostRow,
        network_id: &str,
        sent_at: DateTime<Utc>,
    ) {
        self.track(
            debate,
            key,
            occurrence_id,
            room,
            row.kind,
            row.seq,
            Some(network_id),
            sent_at,
        );
        tracing::info!(debate = %debate.id, room = %room, kind = row.kind.as_str(), seq = row.seq,
            late = row.late, "posted");
        let _ = self.notices.send(Notice::Posted {
            debate: debate.id.clone(),
            room: room.clone(),
            kind: row.kind,
            seq: row.seq,
            body: row.body.clone(),
            late: row.late,
        });
    }

    /// Handles one incoming event: commands now, replies via the writer.
    async fn handle(&mut self, ev: Incoming, writer: &mpsc::Sender<writer::Job>) {
        let now = self.clock.now();
        let room_name = ev.room.to_string();
        let network = network_of(&ev.room).to_owned();
        let (op, receipt) = match ev.event {
            Event::Message {
                id,
                sender,
                body,
                in_reply_to,
                server_ts,
            } => {
                if let Some(parsed) = command::Command::parse(&body) {
                    match self
                        .store
                        .claim_command(&network, &room_name, &id, now)
                        .await
                    {
                        Ok(true) => self.command(&ev.room, &sender, &id, parsed, now).await,
                        Ok(false) => {
                            tracing::info!(room = %ev.room, id = %id, "command already handled");
                        }
                        Err(e) => {
                            tracing::error!(cause = %e, "cannot record a command; ignoring it")
                        }
                    }
                    (WriteOp::Nothing, Receipt::Command)
                } else {
                    let at = server_ts.unwrap_or(now);
                    let live = self.rooms.get(&room_name);
                    let over = live.is_some_and(|a| a.closes.is_some_and(|c| at > c));
                    let target = if live.is_some_and(|a| a.covers(at)) {
                        self.rooms.get_mut(&room_name)
                    } else {
                        match self.past_room(&ev.room, at).await {
                            Ok(Some(slot)) => self.past.get_mut(&slot).filter(|a| a.covers(at)),
                            Ok(None) => None,
                            Err(e) => {
                                tracing::error!(cause = %e, room = %ev.room,
                                    "cannot look up the debate of a late message");
                                None
                            }
                        }
                    };
                    match target {
                        Some(active) => {
                            let latest = active.latest_at(at);
                            let (question, by) = active.state.attribute_with_latest(
                                &body,
                                in_reply_to.as_deref(),
                                latest,
                            );
                            active.state.reply_questions.insert(id.clone(), question);
                            (
                                WriteOp::Insert(NewReply {
                                    occurrence_id: active.occurrence_id,
                                    network: network.clone(),
                                    room: room_name.clone(),
                                    sender_id: sender.id,
                                    sender_name: sender.name,
                                    body,
                                    question,
                                    attributed_by: by.as_str(),
                                    network_id: id,
                                    server_ts,
                                    received_at: now,
                                }),
                                Receipt::Saved { question, by },
                            )
                        }
                        None if over => (WriteOp::Nothing, Receipt::Ignored("the debate is over")),
                        None => (
                            WriteOp::Nothing,
                            Receipt::Ignored("no debate is running in this room"),
                        ),
                    }
                }
            }
            Event::Edit {
                target,
                body,
                server_ts,
            } => {
                let question = self.rooms.get_mut(&room_name).and_then(|a| {
                    let q = a.state.retag(&body);
                    if let Some(q) = q {
                        a.state.reply_questions.insert(target.clone(), Some(q));
                    }
                    q
                });
                (
                    WriteOp::Edit {
                        network: network.clone(),
                        room: room_name.clone(),
                        target,
                        body,
                        question,
                        at: server_ts.unwrap_or(now),
                    },
                    Receipt::Updated,
                )
            }
            Event::Delete { target, server_ts } => (
                WriteOp::Delete {
                    network: network.clone(),
                    room: room_name.clone(),
                    target,
                    at: server_ts.unwrap_or(now),
                },
                Receipt::Updated,
            ),
        };
        let job = writer::Job {
            op,
            cursor: ev.cursor,
            ack: ev.ack,
            receipt,
        };
        if writer.send(job).await.is_err() {
            tracing::error!("the reply writer has stopped; an event was not stored");
        }
    }
}

async fn sleep_opt(d: Option<std::time::Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
