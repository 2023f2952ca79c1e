//! The schedule's Matrix rooms, joined and kept joined: by alias or id at
//! start and after each reload; a room that cannot be joined is logged
//! with the homeserver's reason and tried again with growing waits while
//! the others go on. An invite wakes the joiner at once.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use matrix_sdk::Client;
use matrix_sdk::ruma::{OwnedRoomId, OwnedRoomOrAliasId, RoomId};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::chat::{Network, Room};
use crate::schedule::Schedule;

/// Which Matrix room each schedule room is, once joined.
#[derive(Clone, Default, Debug)]
pub struct RoomMap {
    inner: Arc<RwLock<Maps>>,
}

#[derive(Default, Debug)]
struct Maps {
    ids: HashMap<Room, OwnedRoomId>,
    rooms: HashMap<OwnedRoomId, Room>,
}

impl RoomMap {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Maps> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn insert(&self, room: Room, id: OwnedRoomId) {
        let mut maps = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        maps.rooms.insert(id.clone(), room.clone());
        maps.ids.insert(room, id);
    }

    /// The room id of a joined schedule room.
    pub fn id_of(&self, room: &Room) -> Option<OwnedRoomId> {
        self.read().ids.get(room).cloned()
    }

    /// The schedule room a Matrix room is.
    pub fn room_of(&self, id: &RoomId) -> Option<Room> {
        self.read().rooms.get(id).cloned()
    }
}

/// The first wait after a failed join, doubled each time up to the last.
const FIRST_WAIT: Duration = Duration::from_secs(2);
const LONGEST_WAIT: Duration = Duration::from_secs(600);

/// A room not joined yet: when to try again and how long to wait after.
struct Pending {
    at: Instant,
    wait: Duration,
}

/// The schedule's Matrix rooms.
fn wanted(schedule: &Schedule) -> Vec<Room> {
    let mut rooms: Vec<Room> = schedule
        .debates
        .iter()
        .flat_map(|d| d.rooms.iter())
        .filter(|r| r.network() == Network::Matrix)
        .cloned()
        .collect();
    rooms.sort();
    rooms.dedup();
    rooms
}

/// Joins each of the schedule's rooms once, so the first posts find them
/// joined; what fails here is retried by [`keep_joined`].
pub async fn join_all(client: &Client, schedule: &Schedule, map: &RoomMap) {
    for room in wanted(schedule) {
        match join(client, &room).await {
            Ok(id) => {
                tracing::info!(room = %room, id = %id, "joined");
                map.insert(room, id);
            }
            Err(reason) => {
                tracing::warn!(room = %room, %reason, "cannot join this room yet; retrying");
            }
        }
    }
}

/// Keeps the schedule's Matrix rooms joined until `stop` is cancelled or
/// the schedule's sender is gone. `invited` is notified when an invite
/// arrives. A join cut short by the stop is asked again at the next start.
pub async fn keep_joined(
    client: Client,
    schedule: watch::Receiver<Arc<Schedule>>,
    map: RoomMap,
    invited: Arc<Notify>,
    stop: CancellationToken,
) {
    stop.run_until_cancelled(joining(client, schedule, map, invited))
        .await;
}

async fn joining(
    client: Client,
    mut schedule: watch::Receiver<Arc<Schedule>>,
    map: RoomMap,
    invited: Arc<Notify>,
) {
    let mut pending: HashMap<Room, Pending> = HashMap::new();
    loop {
        let wanted = wanted(&schedule.borrow_and_update());
        let now = Instant::now();
        for room in wanted.iter().filter(|r| map.id_of(r).is_none()) {
            let due = pending.get(room).is_none_or(|p| p.at <= now);
            if due {
                match join(&client, room).await {
                    Ok(id) => {
                        tracing::info!(room = %room, id = %id, "joined");
                        map.insert(room.clone(), id);
                        pending.remove(room);
                    }
                    Err(reason) => {
                        let wait = pending
                            .get(room)
                            .map_or(FIRST_WAIT, |p| (p.wait * 2).min(LONGEST_WAIT));
                        tracing::warn!(room = %room, %reason, retry_in = ?wait,
                            "cannot join this room; the others go on");
                        pending.insert(
                            room.clone(),
                            Pending {
                                at: Instant::now() + wait,
                                wait,
                            },
                        );
                    }
                }
            }
        }
        pending.retain(|room, _| wanted.contains(room));
        let next = pending.values().map(|p| p.at).min();
        tokio::select! {
            changed = schedule.changed() => if changed.is_err() { return },
            () = invited.notified() => {
                // An invite may be the permission a failed join lacked.
                for p in pending.values_mut() {
                    p.at = Instant::now();
                }
            }
            () = sleep_until(next) => {}
        }
    }
}

async fn join(client: &Client, room: &Room) -> Result<OwnedRoomId, String> {
    let Room::Matrix(name) = room else {
        return Err("not a Matrix room".into());
    };
    let target = OwnedRoomOrAliasId::try_from(name.as_str())
        .map_err(|e| format!("`{name}` is not a room id or alias: {e}"))?;
    let joined = client
        .join_room_by_id_or_alias(&target, &[])
        .await
        .map_err(|e| e.to_string())?;
    // Asked once now, so the longest post the room takes is known before
    // the first post (a sync only ever says that a room is encrypted).
    if let Err(e) = joined.latest_encryption_state().await {
        tracing::debug!(room = %room, cause = %e, "cannot tell whether the room is encrypted yet");
    }
    Ok(joined.room_id().to_owned())
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
