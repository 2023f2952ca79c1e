//! An in-memory chat network for tests: records every post, deduplicates
//! by key like a Matrix homeserver does with transaction ids, and can be
//! told to fail or to be slow in a room.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Chat, ChatError, Outgoing, PostKind, Room};

/// One message the bot posted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posted {
    pub room: Room,
    pub id: String,
    pub key: String,
    pub body: String,
    pub kind: Option<PostKind>,
    pub reply_to: Option<String>,
    /// When the room received it, on tokio's clock.
    pub at: tokio::time::Instant,
}

#[derive(Default, Debug)]
struct Inner {
    posts: Vec<Posted>,
    /// Direct messages: (person, body, when).
    directs: Vec<(String, String, tokio::time::Instant)>,
    by_key: HashMap<String, String>,
    moderators: HashSet<(String, String)>,
    /// Sends left to fail with a temporary error.
    fail_next: u32,
    /// Rooms where each send takes this long.
    slow: HashMap<String, Duration>,
}

/// Cheap to clone; clones share the same log.
#[derive(Clone, Default, Debug)]
pub struct MemoryChat {
    // A std mutex: never held across an await.
    inner: Arc<Mutex<Inner>>,
}

impl MemoryChat {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Everything posted so far, in order.
    pub fn posts(&self) -> Vec<Posted> {
        self.lock().posts.clone()
    }

    /// The direct messages sent: (person, body, when).
    pub fn directs(&self) -> Vec<(String, String, tokio::time::Instant)> {
        self.lock().directs.clone()
    }

    pub fn add_moderator(&self, room: &Room, user: &str) {
        self.lock()
            .moderators
            .insert((room.to_string(), user.to_owned()));
    }

    /// Makes every send to `room` take `delay` (on tokio's clock).
    pub fn slow_room(&self, room: &Room, delay: Duration) {
        self.lock().slow.insert(room.to_string(), delay);
    }

    /// Makes the next `n` sends fail with a temporary error.
    pub fn fail_next(&self, n: u32) {
        self.lock().fail_next = n;
    }
}

impl Chat for MemoryChat {
    async fn send(&self, room: &Room, post: Outgoing<'_>) -> Result<String, ChatError> {
        let delay = self.lock().slow.get(&room.to_string()).copied();
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        let mut inner = self.lock();
        if inner.fail_next > 0 {
            inner.fail_next -= 1;
            return Err(ChatError::Temporary("simulated outage".into()));
        }
        if let Some(id) = inner.by_key.get(post.key) {
            return Ok(id.clone());
        }
        let id = format!("$m{}", inner.posts.len() + 1);
        inner.by_key.insert(post.key.to_owned(), id.clone());
        inner.posts.push(Posted {
            room: room.clone(),
            id: id.clone(),
            key: post.key.to_owned(),
            body: post.body.to_owned(),
            kind: post.kind,
            reply_to: post.reply_to.map(str::to_owned),
            at: tokio::time::Instant::now(),
        });
        Ok(id)
    }

    async fn send_direct(
        &self,
        _network: crate::domain::Network,
        person: &str,
        _name: &str,
        body: &str,
    ) -> Result<(), ChatError> {
        self.lock().directs.push((
            person.to_owned(),
            body.to_owned(),
            tokio::time::Instant::now(),
        ));
        Ok(())
    }

    async fn is_moderator(&self, room: &Room, user: &str) -> bool {
        self.lock()
            .moderators
            .contains(&(room.to_string(), user.to_owned()))
    }

    fn deduplicates(&self, _room: &Room) -> bool {
        true
    }
}
