//! Syncing without losing anything. Podium resumes from its own cursor,
//! which the engine commits in the same transaction as the replies before
//! it: every event of a sync response goes to the engine, then a checkpoint
//! carrying the response's `next_batch`. A crash before that commit means
//! the next start syncs from the older cursor and the events come again
//! (the store ignores what it already has). matrix-sdk's own saved token
//! is cleared at start (see the session module), so it cannot make such a
//! re-delivered response come back empty.
//!
//! On the very first start there is no cursor: the current position is
//! taken and nothing before it is handled, above all no old command. A
//! limited timeline (more events than a sync carries) is filled from
//! `/messages` back to the previous position, or the gap is logged.
//!
//! An encrypted message whose key has not arrived is kept and decrypted
//! when the key does; until then the cursor saved is the one before it, so
//! a restart delivers it again rather than losing it.

use std::sync::Arc;
use std::time::Duration;

use matrix_sdk::config::SyncSettings;
use matrix_sdk::deserialized_responses::TimelineEvent;
use matrix_sdk::room::MessagesOptions;
use matrix_sdk::ruma::api::client::filter::FilterDefinition;
use matrix_sdk::ruma::api::client::sync::sync_events::v3::Filter;
use matrix_sdk::ruma::events::room::encrypted::OriginalSyncRoomEncryptedEvent;
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId, UInt};
use matrix_sdk::sync::SyncResponse;
use matrix_sdk::{Client, Room as SdkRoom};
use tokio::sync::{Mutex, Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::convert::{Converted, convert};
use super::rooms::RoomMap;
use crate::chat::{Cursor, Event, Incoming, Room, jittered};
use crate::health::Health;
use crate::outage::{Outage, Report};
use crate::store::Store;

/// The cursor's network name in the store.
pub const NETWORK: &str = "matrix";

/// How long the homeserver may hold a sync open when nothing happens.
const LONG_POLL: Duration = Duration::from_secs(30);

/// Events per room in one sync; more make the timeline "limited" and are
/// fetched with `/messages`.
const TIMELINE_LIMIT: u32 = 100;

/// An encrypted event waiting for its key.
struct Undecrypted {
    room: Room,
    room_id: OwnedRoomId,
    raw: Raw<OriginalSyncRoomEncryptedEvent>,
    since: tokio::time::Instant,
}

/// How long an undecryptable message holds the cursor back.
const KEY_PATIENCE: Duration = Duration::from_secs(600);

#[derive(Default)]
struct Held {
    events: Vec<Undecrypted>,
    /// The cursor saved while events wait: the position before the first.
    cursor: Option<String>,
}

/// Which command each of the bot's recent answers replies to (learnt as
/// they come down the sync, so every replica knows the holder's too): a 👍
/// on Podium's acknowledgement of a proposal is a vote for the proposal.
/// Bounded: an answer older than the last [`ANSWERS_KEPT`] is forgotten,
/// and a reaction to it then counts for nothing (a reaction to the
/// proposal itself, or `!vote`, still does).
#[derive(Default)]
struct Answered {
    order: std::collections::VecDeque<String>,
    command_of: std::collections::HashMap<String, String>,
}

const ANSWERS_KEPT: usize = 4096;

impl Answered {
    fn learn(&mut self, answer: String, command: String) {
        if self.command_of.insert(answer.clone(), command).is_none() {
            self.order.push_back(answer);
        }
        while self.order.len() > ANSWERS_KEPT {
            if let Some(old) = self.order.pop_front() {
                self.command_of.remove(&old);
            }
        }
    }
}

pub struct Syncer {
    pub health: Health,
    pub client: Client,
    pub me: OwnedUserId,
    pub store: Store,
    pub rooms: RoomMap,
    pub events: mpsc::Sender<Incoming>,
    pub invited: Arc<Notify>,
    held: Arc<Mutex<Held>>,
    answered: std::sync::Mutex<Answered>,
}

/// Why syncing ended short of a stop: the session is gone, or the engine
/// took no more events.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("the homeserver no longer accepts the bot's session: {0}")]
    SessionLost(String),
    /// Podium is stopping (or its engine has stopped).
    #[error("stopped")]
    Stopped,
}

impl Syncer {
    pub fn new(
        health: Health,
        client: Client,
        me: OwnedUserId,
        store: Store,
        rooms: RoomMap,
        events: mpsc::Sender<Incoming>,
        invited: Arc<Notify>,
    ) -> Self {
        Syncer {
            health,
            client,
            me,
            store,
            rooms,
            events,
            invited,
            held: Arc::default(),
            answered: std::sync::Mutex::default(),
        }
    }

    /// Syncs until `stop` is cancelled, the engine stops or the session
    /// is lost. A stop leaves the long poll at once (nothing of a response
    /// not received is lost: the cursor is saved only after its events);
    /// a response being handed over is handed over whole, while the
    /// engine still takes it.
    ///
    /// # Errors
    /// [`SyncError::SessionLost`] when the access token is no longer valid.
    pub async fn run(self, stop: &CancellationToken) -> Result<(), SyncError> {
        let cursor = match self.store.cursor(NETWORK).await {
            Ok(Some(c)) => c,
            Ok(None) => self.first_position(stop).await?,
            Err(e) => {
                tracing::error!(cause = %e, "cannot read the Matrix cursor; starting from now");
                self.first_position(stop).await?
            }
        };
        tracing::info!("syncing with the homeserver");
        let waiting = stop.child_token();
        let keys = waiting.run_until_cancelled(retry_when_keys_arrive(
            self.client.clone(),
            self.me.clone(),
            self.held.clone(),
            self.events.clone(),
        ));
        let syncing = async {
            let result = self.sync(cursor, stop).await;
            waiting.cancel();
            result
        };
        let (result, _) = tokio::join!(syncing, keys);
        result
    }

    /// The sync loop, from `cursor` on.
    async fn sync(&self, mut cursor: String, stop: &CancellationToken) -> Result<(), SyncError> {
        let mut outage = Outage::default();
        let mut wait = Duration::from_secs(1);
        loop {
            let settings = settings().token(cursor.clone()).timeout(LONG_POLL);
            let Some(synced) = stop
                .run_until_cancelled(self.client.sync_once(settings))
                .await
            else {
                return Ok(());
            };
            match synced {
                Ok(response) => {
                    self.health.set(NETWORK, true, "syncing");
                    if let Some(lasted) = outage.recovered() {
                        tracing::warn!(lasted = ?lasted, "syncing with the homeserver again");
                    }
                    wait = Duration::from_secs(1);
                    let next = response.next_batch.clone();
                    self.handle(response, &cursor).await?;
                    cursor = next;
                }
                Err(e) => {
                    if e.client_api_error_kind().is_some_and(|k| {
                        matches!(
                            k,
                            matrix_sdk::ruma::api::error::ErrorKind::UnknownToken { .. }
                        )
                    }) {
                        return Err(SyncError::SessionLost(e.to_string()));
                    }
                    self.health.set(
                        NETWORK,
                        false,
                        format!("cannot sync with the homeserver: {e}"),
                    );
                    match outage.failed() {
                        Report::Started => {
                            tracing::warn!(cause = %e, "cannot sync with the homeserver; retrying");
                        }
                        Report::Lasting(lasted) => tracing::warn!(cause = %e, lasted = ?lasted,
                            "still cannot sync with the homeserver"),
                        Report::Quiet => {}
                    }
                    let pause = tokio::time::sleep(jittered(wait));
                    if stop.run_until_cancelled(pause).await.is_none() {
                        return Ok(());
                    }
                    // Short enough that answers sent after an outage are
                    // collected soon after the homeserver is back.
                    wait = (wait * 2).min(Duration::from_secs(15));
                }
            }
        }
    }

    /// The first start: the current position, saved at once; nothing
    /// before it is handled (old commands above all), but invites are.
    async fn first_position(&self, stop: &CancellationToken) -> Result<String, SyncError> {
        let mut wait = Duration::from_secs(1);
        let response = loop {
            let mut filter = FilterDefinition::with_lazy_loading();
            filter.room.timeline.limit = Some(UInt::from(1u32));
            let settings = SyncSettings::default()
                .filter(Filter::FilterDefinition(filter))
                .timeout(Duration::ZERO);
            let Some(synced) = stop
                .run_until_cancelled(self.client.sync_once(settings))
                .await
            else {
                return Err(SyncError::Stopped);
            };
            match synced {
                Ok(r) => break r,
                Err(e) => {
                    tracing::warn!(cause = %e, "cannot reach the homeserver for a first sync");
                    let pause = tokio::time::sleep(jittered(wait));
                    if stop.run_until_cancelled(pause).await.is_none() {
                        return Err(SyncError::Stopped);
                    }
                    wait = (wait * 2).min(Duration::from_secs(60));
                }
            }
        };
        if !response.rooms.invited.is_empty() {
            self.invited.notify_one();
        }
        tracing::info!("first start: collecting from now on; earlier messages are not handled");
        self.checkpoint(response.next_batch.clone()).await?;
        Ok(response.next_batch)
    }

    /// Hands a sync response's events to the engine, then its position.
    async fn handle(&self, response: SyncResponse, since: &str) -> Result<(), SyncError> {
        if !response.rooms.invited.is_empty() {
            self.invited.notify_one();
        }
        for (room_id, joined) in response.rooms.joined {
            let Some(room) = self.rooms.room_of(&room_id) else {
                continue;
            };
            let mut events = Vec::new();
            if joined.timeline.limited {
                events = self
                    .fill_gap(
                        &room,
                        &room_id,
                        joined.timeline.prev_batch.as_deref(),
                        since,
                    )
                    .await;
            }
            events.extend(joined.timeline.events);
            for event in &events {
                self.deliver(&room, &room_id, event).await?;
            }
        }
        self.checkpoint(response.next_batch).await
    }

    /// One timeline event to the engine (or kept, if it cannot be read yet).
    async fn deliver(
        &self,
        room: &Room,
        room_id: &OwnedRoomId,
        event: &TimelineEvent,
    ) -> Result<(), SyncError> {
        match convert(event, &self.me) {
            Converted::Event(e) => {
                let e = self.to_the_command(e);
                let e = with_display_name(&self.client, room_id, e).await;
                let e = with_moderator(&self.client, room_id, e).await;
                self.send(room.clone(), e, None).await
            }
            Converted::Undecryptable => {
                let raw: Raw<OriginalSyncRoomEncryptedEvent> = event.raw().clone().cast_unchecked();
                tracing::info!(room = %room, "a message is waiting for its decryption key");
                let mut held = self.held.lock().await;
                held.events.push(Undecrypted {
                    room: room.clone(),
                    room_id: room_id.clone(),
                    raw,
                    since: tokio::time::Instant::now(),
                });
                Ok(())
            }
            Converted::Answered { id, reply_to } => {
                if let Ok(mut a) = self.answered.lock() {
                    a.learn(id, reply_to);
                }
                Ok(())
            }
            Converted::Ignored => Ok(()),
        }
    }

    /// A reaction to one of the bot's answers is one to the command it
    /// answers.
    fn to_the_command(&self, event: Event) -> Event {
        match event {
            Event::Reaction {
                id,
                sender,
                target,
                key,
                server_ts,
            } => {
                let command = self
                    .answered
                    .lock()
                    .ok()
                    .and_then(|a| a.command_of.get(&target).cloned());
                Event::Reaction {
                    id,
                    sender,
                    target: command.unwrap_or(target),
                    key,
                    server_ts,
                }
            }
            other => other,
        }
    }

    async fn send(
        &self,
        room: Room,
        event: Event,
        cursor: Option<Cursor>,
    ) -> Result<(), SyncError> {
        let incoming = Incoming {
            room,
            event,
            cursor,
            ack: None,
        };
        self.events
            .send(incoming)
            .await
            .map_err(|_| SyncError::Stopped)
    }

    /// The position after everything handed over, saved by the engine in
    /// order; held back while an encrypted message waits for its key.
    async fn checkpoint(&self, next_batch: String) -> Result<(), SyncError> {
        let position = {
            let mut held = self.held.lock().await;
            if held.events.is_empty() {
                held.cursor = None;
                next_batch
            } else {
                held.cursor.get_or_insert(next_batch).clone()
            }
        };
        let cursor = Cursor {
            network: NETWORK.to_owned(),
            position,
        };
        // Any room will do: a checkpoint stores nothing but the cursor.
        let room = Room::Matrix(String::new());
        self.send(room, Event::Checkpoint, Some(cursor)).await
    }

    /// The events a limited timeline left out, oldest first, fetched back
    /// to `since`; what cannot be fetched is logged as a gap.
    async fn fill_gap(
        &self,
        room: &Room,
        room_id: &OwnedRoomId,
        prev_batch: Option<&str>,
        since: &str,
    ) -> Vec<TimelineEvent> {
        let (Some(sdk_room), Some(mut from)) =
            (self.client.get_room(room_id), prev_batch.map(str::to_owned))
        else {
            tracing::warn!(room = %room, "a gap in the timeline that cannot be filled: \
                messages sent while Podium was away may be missing");
            return Vec::new();
        };
        let mut older = Vec::new();
        for _ in 0..50 {
            let mut options = MessagesOptions::backward().from(Some(from.as_str()));
            options.to = Some(since.to_owned());
            options.limit = UInt::from(100u32);
            match sdk_room.messages(options).await {
                Ok(page) => {
                    older.extend(page.chunk);
                    match page.end {
                        Some(end) if end != from => from = end,
                        _ => break,
                    }
                }
                Err(e) => {
                    tracing::warn!(room = %room, cause = %e, "cannot fill a gap in the timeline: \
                        messages sent while Podium was away may be missing");
                    break;
                }
            }
        }
        older.reverse();
        tracing::debug!(room = %room, events = older.len(), "filled a gap in the timeline");
        older
    }
}

/// Syncs with a filter that gives each room up to [`TIMELINE_LIMIT`]
/// events and lazily loaded members.
fn settings() -> SyncSettings {
    let mut filter = FilterDefinition::with_lazy_loading();
    filter.room.timeline.limit = Some(UInt::from(TIMELINE_LIMIT));
    SyncSettings::default().filter(Filter::FilterDefinition(filter))
}

/// The sender's display name in the room, where it has one.
async fn with_display_name(client: &Client, room_id: &OwnedRoomId, mut event: Event) -> Event {
    let Event::Message { sender, .. } = &mut event else {
        return event;
    };
    if let (Some(room), Ok(user)) = (
        client.get_room(room_id),
        matrix_sdk::ruma::OwnedUserId::try_from(sender.id.as_str()),
    ) && let Ok(Some(member)) = room.get_member_no_sync(&user).await
        && let Some(name) = member.display_name()
    {
        sender.name = name.to_owned();
    }
    event
}

/// A redaction says whether its sender may remove other people's events
/// in the room: a power level at least the room's `redact` level (50
/// unless the room says otherwise), as the homeserver last told the bot.
/// When the power levels cannot be read, the sender is taken for no
/// moderator: a redaction then applies to their own messages only.
async fn with_moderator(client: &Client, room_id: &OwnedRoomId, mut event: Event) -> Event {
    let Event::Delete {
        sender, moderator, ..
    } = &mut event
    else {
        return event;
    };
    let (Some(room), Ok(user)) = (
        client.get_room(room_id),
        OwnedUserId::try_from(sender.id.as_str()),
    ) else {
        return event;
    };
    match room.power_levels().await {
        Ok(levels) => *moderator = levels.user_can_redact_event_of_other(&user),
        Err(e) => tracing::warn!(room = %room_id, cause = %e,
            "cannot read the room's power levels; a redaction counts as its sender's own"),
    }
    event
}

/// Tries the waiting encrypted messages again whenever room keys arrive
/// (and every minute, for keys that came some other way); gives up on one
/// after [`KEY_PATIENCE`], logging it, so the cursor moves on.
async fn retry_when_keys_arrive(
    client: Client,
    me: OwnedUserId,
    held: Arc<Mutex<Held>>,
    events: mpsc::Sender<Incoming>,
) {
    use futures_util::StreamExt;
    let keys = client.encryption().room_keys_received_stream().await;
    let mut keys = match keys {
        Some(k) => k.boxed(),
        None => futures_util::stream::pending().boxed(),
    };
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            k = keys.next() => if k.is_none() { return },
            _ = tick.tick() => {}
        }
        let mut h = held.lock().await;
        let mut still = Vec::new();
        for u in std::mem::take(&mut h.events) {
            let Some(room) = client.get_room(&u.room_id) else {
                continue;
            };
            match decrypt(&room, &u.raw, &me).await {
                Some(Converted::Event(e)) => {
                    let e = with_display_name(&client, &u.room_id, e).await;
                    let e = with_moderator(&client, &u.room_id, e).await;
                    tracing::info!(room = %u.room, "decrypted a message when its key arrived");
                    let incoming = Incoming {
                        room: u.room.clone(),
                        event: e,
                        cursor: None,
                        ack: None,
                    };
                    if events.send(incoming).await.is_err() {
                        return;
                    }
                }
                Some(Converted::Ignored | Converted::Answered { .. }) => {}
                _ if u.since.elapsed() > KEY_PATIENCE => {
                    tracing::error!(room = %u.room, waited = ?KEY_PATIENCE,
                        "giving up on an encrypted message whose key never arrived");
                }
                _ => still.push(u),
            }
        }
        h.events = still;
    }
}

async fn decrypt(
    room: &SdkRoom,
    raw: &Raw<OriginalSyncRoomEncryptedEvent>,
    me: &OwnedUserId,
) -> Option<Converted> {
    let event = room.decrypt_event(raw, None).await.ok()?;
    Some(convert(&event, me))
}
