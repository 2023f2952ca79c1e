//! Matrix, through matrix-sdk: the bot logs in once and stays the same
//! device (`session`), keeps the schedule's rooms joined (`rooms`), syncs
//! without losing an event across crashes (`sync`), reads people's messages,
//! edits and redactions (`convert`), and posts `m.notice`s with an HTML
//! form (`format`).
//!
//! Posts use the engine's stable key as the Matrix transaction id, so a
//! post re-sent after a crash is deduplicated by the homeserver. matrix-sdk's
//! own retry loop (up to 15 minutes) is replaced by Podium's: a rate limit
//! is waited out when it is short, anything else is handed back to the
//! engine as temporary (safe to retry: same transaction id) or permanent.

mod convert;
mod format;
mod rooms;
mod session;
mod sync;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use matrix_sdk::Client;
use matrix_sdk::config::RequestConfig;
use matrix_sdk::room::RoomMemberRole;
use matrix_sdk::ruma::api::error::{ErrorKind, RetryAfter};
use matrix_sdk::ruma::events::relation::{InReplyTo, Reply};
use matrix_sdk::ruma::events::room::message::{Relation, RoomMessageEventContent};
use matrix_sdk::ruma::{OwnedEventId, OwnedTransactionId, OwnedUserId};
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{Chat, ChatError, Incoming, Outgoing, PostKind, Room};
use crate::config::MatrixConfig;
use crate::health::Health;
use crate::schedule::Schedule;
use crate::store::Store;
pub use session::LoginError;
use sync::{SyncError, Syncer};

/// The longest a send waits out rate limits before the engine retries it.
const RATE_LIMIT_PATIENCE: Duration = Duration::from_secs(60);

/// The bot's connection to its homeserver, as the engine posts through it.
#[derive(Clone)]
pub struct MatrixChat {
    client: Client,
    rooms: rooms::RoomMap,
    moderators_are_organisers: bool,
    /// Held while a direct-message room is looked for or made, so two
    /// messages to one person at once make one room.
    direct: Arc<tokio::sync::Mutex<()>>,
}

/// A logged-in bot, ready to run.
pub struct Matrix {
    chat: Arc<MatrixChat>,
    me: OwnedUserId,
}

impl Matrix {
    /// Logs in (or restores the saved session) with the stores under
    /// `data_dir/matrix`. An unreachable homeserver is tried again with
    /// growing waits; refused credentials are an error at once.
    ///
    /// # Errors
    /// [`LoginError::Refused`] (wrong password, revoked token) or files
    /// that cannot be kept.
    pub async fn connect(config: &MatrixConfig, data_dir: &Path) -> Result<Matrix, LoginError> {
        let dir = data_dir.join("matrix");
        let mut wait = Duration::from_secs(1);
        let client = loop {
            match session::login(config, &dir).await {
                Ok(client) => break client,
                Err(LoginError::Unreachable { reason, .. }) => {
                    tracing::warn!(homeserver = %config.homeserver, user = %config.user, %reason,
                        retry_in = ?wait, "cannot log in yet");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(60));
                }
                Err(e) => return Err(e),
            }
        };
        let me = client
            .user_id()
            .map(ToOwned::to_owned)
            .ok_or_else(|| LoginError::Refused {
                homeserver: config.homeserver.clone(),
                user: config.user.clone(),
                reason: "the session has no user".into(),
            })?;
        tracing::info!(homeserver = %config.homeserver, user = %me,
            device = %client.device_id().map(ToString::to_string).unwrap_or_default(),
            version = env!("CARGO_PKG_VERSION"), "connected to Matrix");
        let chat = MatrixChat {
            client,
            rooms: rooms::RoomMap::default(),
            moderators_are_organisers: config.moderators_are_organisers,
            direct: Arc::new(tokio::sync::Mutex::new(())),
        };
        Ok(Matrix {
            chat: Arc::new(chat),
            me,
        })
    }

    /// The connection the engine posts through.
    pub fn chat(&self) -> Arc<MatrixChat> {
        self.chat.clone()
    }

    /// Joins the schedule's rooms once, before the engine starts posting.
    pub async fn join(&self, schedule: &Schedule) {
        rooms::join_all(&self.chat.client, schedule, &self.chat.rooms).await;
    }

    /// Keeps the schedule's rooms joined and delivers their events to
    /// `events` until `stop` is cancelled or the session is lost.
    ///
    /// # Errors
    /// The session was lost (a revoked access token).
    pub async fn run(
        self,
        store: Store,
        events: mpsc::Sender<Incoming>,
        schedule: watch::Receiver<Arc<Schedule>>,
        health: Health,
        stop: CancellationToken,
    ) -> anyhow::Result<()> {
        health.set(sync::NETWORK, false, "starting");
        let invited = Arc::new(Notify::new());
        // Joining goes on while syncing does: a sync that ends (stopped,
        // or the session lost) ends it too.
        let joining = stop.child_token();
        let joiner = rooms::keep_joined(
            self.chat.client.clone(),
            schedule,
            self.chat.rooms.clone(),
            invited.clone(),
            joining.clone(),
        );
        let syncer = Syncer::new(
            health.clone(),
            self.chat.client.clone(),
            self.me,
            store,
            self.chat.rooms.clone(),
            events,
            invited,
        );
        let syncing = async {
            let result = syncer.run(&stop).await;
            joining.cancel();
            result
        };
        let (result, ()) = tokio::join!(syncing, joiner);
        match result {
            Ok(()) | Err(SyncError::Stopped) => {
                health.set(sync::NETWORK, false, "stopped");
                tracing::info!("stopped syncing with the homeserver");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// What to do about a failed send.
enum Failure {
    /// Rate limited: try again after this long.
    Wait(Duration),
    /// Worth retrying (a network failure, a homeserver error): with the
    /// same transaction id a retry cannot post twice.
    Temporary,
    /// The homeserver refused (not in the room, not allowed to post).
    Refused,
}

fn classify(e: &matrix_sdk::Error) -> Failure {
    match e.client_api_error_kind() {
        Some(ErrorKind::LimitExceeded(data)) => {
            let wait = match &data.retry_after {
                Some(RetryAfter::Delay(d)) => *d,
                Some(RetryAfter::DateTime(t)) => t
                    .duration_since(std::time::SystemTime::now())
                    .unwrap_or_default(),
                None => Duration::from_secs(2),
            };
            Failure::Wait(wait)
        }
        Some(ErrorKind::Forbidden | ErrorKind::NotFound | ErrorKind::TooLarge) => Failure::Refused,
        _ => Failure::Temporary,
    }
}

impl Chat for MatrixChat {
    async fn send(&self, room: &Room, post: Outgoing<'_>) -> Result<String, ChatError> {
        let Some(room_id) = self.rooms.id_of(room) else {
            return Err(ChatError::Temporary(format!("not joined to {room} yet")));
        };
        let Some(sdk_room) = self.client.get_room(&room_id) else {
            return Err(ChatError::Temporary(format!("{room} is not known yet")));
        };
        let mut content =
            RoomMessageEventContent::notice_html(post.body, format::html(post.body, post.kind));
        if let Some(reply) = post.reply_to.and_then(|id| OwnedEventId::try_from(id).ok()) {
            content.relates_to = Some(Relation::Reply(Reply::new(InReplyTo::new(reply))));
        }
        let txn = OwnedTransactionId::from(post.key);
        let config = RequestConfig::new()
            .disable_retry()
            .timeout(Duration::from_secs(30));
        let patience = tokio::time::Instant::now() + RATE_LIMIT_PATIENCE;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let sent = sdk_room
                .send(content.clone())
                .with_transaction_id(txn.clone())
                .with_request_config(config)
                .await;
            let e = match sent {
                Ok(r) => return Ok(r.response.event_id.to_string()),
                Err(e) => e,
            };
            match classify(&e) {
                Failure::Wait(wait) if tokio::time::Instant::now() + wait < patience => {
                    tracing::debug!(room = %room, ?wait, "rate limited; waiting");
                    tokio::time::sleep(wait).await;
                }
                Failure::Temporary if attempts < 3 => {
                    tokio::time::sleep(Duration::from_millis(500 * attempts)).await;
                }
                Failure::Refused => return Err(ChatError::Permanent(e.to_string())),
                Failure::Wait(_) | Failure::Temporary => {
                    return Err(ChatError::Temporary(e.to_string()));
                }
            }
        }
    }

    /// In the direct-message room Podium shares with the person (the
    /// homeserver's `m.direct` list says which), made the first time:
    /// private and encrypted, the person invited.
    async fn send_direct(
        &self,
        _network: crate::domain::Network,
        person: &str,
        _name: &str,
        body: &str,
    ) -> Result<(), ChatError> {
        let user = OwnedUserId::try_from(person)
            .map_err(|e| ChatError::Permanent(format!("{person} is not a Matrix user: {e}")))?;
        let room = {
            let _one_at_a_time = self.direct.lock().await;
            match self.client.get_dm_room(&user) {
                Some(room) => room,
                None => {
                    let room = self.client.create_dm(&user).await.map_err(|e| {
                        ChatError::Temporary(format!("cannot make a room with {person}: {e}"))
                    })?;
                    tracing::info!(person = %person, room = %room.room_id(),
                        "made a direct-message room");
                    room
                }
            }
        };
        room.send(RoomMessageEventContent::notice_plain(body))
            .await
            .map(drop)
            .map_err(|e| ChatError::Temporary(format!("cannot write to {person}: {e}")))
    }

    async fn is_moderator(&self, room: &Room, user: &str) -> bool {
        if !self.moderators_are_organisers {
            return false;
        }
        let (Some(id), Ok(user)) = (self.rooms.id_of(room), OwnedUserId::try_from(user)) else {
            return false;
        };
        let Some(sdk_room) = self.client.get_room(&id) else {
            return false;
        };
        match sdk_room.get_suggested_user_role(&user).await {
            Ok(role) => matches!(
                role,
                RoomMemberRole::Moderator | RoomMemberRole::Administrator | RoomMemberRole::Creator
            ),
            Err(e) => {
                tracing::warn!(room = %room, cause = %e, "cannot read the room's power levels");
                false
            }
        }
    }

    fn deduplicates(&self, _room: &Room) -> bool {
        true
    }

    /// A Matrix event is at most 64 KiB as JSON, the plain body and its
    /// HTML form together: see [`format::max_chars`].
    fn max_chars(&self, room: &Room, kind: Option<PostKind>) -> Option<usize> {
        let plain = self
            .rooms
            .id_of(room)
            .and_then(|id| self.client.get_room(&id))
            .is_some_and(|r| {
                matches!(
                    r.encryption_state(),
                    matrix_sdk::EncryptionState::NotEncrypted
                )
            });
        Some(format::max_chars(kind, !plain))
    }
}

/// The longest post of `kind` any Matrix room takes (an encrypted one's
/// limit), for when the room is not known yet: before the login.
pub fn max_chars_anywhere(kind: Option<PostKind>) -> usize {
    format::max_chars(kind, true)
}
