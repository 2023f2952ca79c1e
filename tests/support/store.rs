//! Stores for the tests, and the stored rows they start from.

use chrono::{DateTime, Utc};
use podium::store::{NewOccurrence, Store};

/// A fresh in-memory store.
///
/// Opening it never pauses time; a test that wants paused time asks for it
/// (`#[tokio::test(start_paused = true)]`). Opening works under paused time
/// because connecting sets no tokio timer: it only waits on SQLite's worker
/// thread. A timeout around that wait would fire at once (the idle runtime
/// jumps to the next timer), so should opening ever wait under one (a
/// pool's acquire timeout, say), open the store first and call
/// `tokio::time::pause()` after.
pub async fn memory_store() -> Store {
    Store::open_memory().await.unwrap()
}

/// Debate `d` ("D", in London, one question "Why?", an hour long, answers
/// collected for 10 minutes after the closing) starting at `start`,
/// recorded at its start.
pub fn occurrence(start: DateTime<Utc>) -> NewOccurrence<'static> {
    NewOccurrence {
        debate: "d",
        scheduled_start: start,
        title: "D",
        timezone: "Europe/London",
        questions: vec!["Why?"],
        zones: vec!["Europe/London"],
        public: false,
        rehearsal_clock: None,
        duration: chrono::Duration::hours(1),
        collect_grace: chrono::Duration::minutes(10),
        now: start,
    }
}

/// A presence row of `network` from `since` to `until`, as the network
/// adapter leaves one: begun, then extended; its id.
pub async fn presence(
    store: &Store,
    network: podium::domain::Network,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> i64 {
    let id = store.presence_begin(network, since).await.unwrap();
    store.presence_extend(id, until).await.unwrap();
    id
}
