//! Live pages: while a debate collects answers, its transcript page keeps
//! itself up to date.
//!
//! - The page loads one script from this server ([`script_name`], under
//!   `/assets/`, its name carrying a hash of its content so it is cached
//!   for a year), and nothing else: its Content-Security-Policy allows
//!   `script-src 'self'` and `connect-src 'self'` and no more. Without
//!   scripts, the page refreshes itself every 30 s (`<noscript>`).
//! - The script listens to the page's event stream (the page's address with
//!   `.events` in place of its view: `DATE.events`, with the key of a
//!   private page). Each event names the transcript's state (its version);
//!   on one the page does not show yet, the script fetches the page again
//!   and puts its content in place of the old. Chat text only ever reaches
//!   the page as the server escaped it.
//! - One watcher per occurrence, however many readers: it asks the store
//!   for the occurrence's state every [`POLL_EVERY`], tells the streams
//!   when it changed, and marks the occurrence's pages in memory as no
//!   longer fresh (see `cache`), so the page fetched on that news has it.
//!   It stops when its last reader leaves, and, saying `end` to every
//!   stream, when the debate no longer collects answers.
//! - The streams open at once are bounded (in all, and per debate: see
//!   [`super::Limits`]); past that, a 503, and the script fetches the page
//!   every little while instead. A stream sends a comment every
//!   [`HEARTBEAT`] (so proxies keep it and a client gone is noticed), and
//!   ends when the server stops, so none holds up a shutdown, and when the
//!   schedule is reloaded, so that a debate made private keeps no reader
//!   without its key (the browser opens the stream again, through the
//!   access check).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{Site, not_found};
use crate::store::OccurrenceRow;
use crate::transcript;

/// How often a live occurrence's watcher asks the store for its state.
pub const POLL_EVERY: Duration = Duration::from_millis(500);

/// How often an idle event stream sends a comment.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// How long a browser waits before it opens a broken stream again.
const RETRY: Duration = Duration::from_secs(3);

/// The script of live pages.
const SCRIPT: &str = include_str!("../../assets/live.js");

/// The script's file name under `/assets/`: `live.HASH.js`, the hash of
/// its content (FNV-1a), so a new version is a new address and each can
/// be cached for good.
pub fn script_name() -> &'static str {
    static NAME: LazyLock<String> = LazyLock::new(|| {
        let hash = SCRIPT.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        format!("live.{hash:016x}.js")
    });
    &NAME
}

/// `/assets/FILE`: the script, under its current name only.
pub async fn asset(Path(file): Path<String>) -> Response {
    if file != script_name() {
        return not_found();
    }
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// The live occurrences' watchers and the streams that follow them.
#[derive(Debug, Default)]
pub struct Live {
    inner: Mutex<Inner>,
    /// Cancelled when the server stops: every stream and watcher ends.
    pub(super) stop: CancellationToken,
}

#[derive(Debug, Default)]
struct Inner {
    /// Streams open, on every occurrence.
    streams: usize,
    watchers: HashMap<i64, Watcher>,
    /// Tells a watcher from the one before it on the same occurrence.
    generation: u64,
}

#[derive(Debug)]
struct Watcher {
    generation: u64,
    /// Streams following it.
    clients: usize,
    /// What it last saw (kept here for new streams to subscribe).
    phase: watch::Receiver<Phase>,
}

/// What a watcher has seen of its occurrence.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// Not asked the store yet.
    Starting,
    /// The state's version (see [`transcript::State::version`]).
    At(String),
    /// No longer collecting answers: the page is final.
    Over,
}

impl Live {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Streams open now (in all).
    pub fn streams(&self) -> usize {
        self.lock().streams
    }

    /// Whether the watcher `generation` of `occurrence` still has readers;
    /// if not it is let go of (under the same lock as a stream joining).
    fn watched(&self, occurrence: i64, generation: u64) -> bool {
        let mut inner = self.lock();
        match inner.watchers.get(&occurrence) {
            Some(w) if w.generation == generation && w.clients > 0 => true,
            Some(w) if w.generation == generation => {
                inner.watchers.remove(&occurrence);
                false
            }
            _ => false,
        }
    }

    /// The watcher `generation` of `occurrence` is done.
    fn forget(&self, occurrence: i64, generation: u64) {
        let mut inner = self.lock();
        if inner
            .watchers
            .get(&occurrence)
            .is_some_and(|w| w.generation == generation)
        {
            inner.watchers.remove(&occurrence);
        }
    }
}

/// A stream's place: given back when the stream ends (the client left,
/// the debate is over, or the server stops).
struct Ticket {
    site: Arc<Site>,
    occurrence: i64,
    generation: u64,
    phase: watch::Receiver<Phase>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut inner = self.site.live.lock();
        inner.streams = inner.streams.saturating_sub(1);
        if let Some(w) = inner.watchers.get_mut(&self.occurrence)
            && w.generation == self.generation
        {
            w.clients = w.clients.saturating_sub(1);
        }
    }
}

/// A place for one more stream on `occ`, with the watcher it follows
/// (started for the first one); `None` past the limits.
fn join(site: &Arc<Site>, occ: &OccurrenceRow) -> Option<Ticket> {
    let limits = site.limits;
    let mut inner = site.live.lock();
    if inner.streams >= limits.max_streams.max(1) {
        return None;
    }
    // A watcher whose task is gone (it cannot end otherwise without
    // letting go of its place) is replaced.
    if inner
        .watchers
        .get(&occ.id)
        .is_some_and(|w| w.phase.has_changed().is_err())
    {
        inner.watchers.remove(&occ.id);
    }
    let mut start = None;
    let (generation, phase) = match inner.watchers.get_mut(&occ.id) {
        Some(w) => {
            if w.clients >= limits.max_streams_per_debate.max(1) {
                return None;
            }
            w.clients += 1;
            let mut phase = w.phase.clone();
            // What it has seen is news to the new stream.
            phase.mark_changed();
            (w.generation, phase)
        }
        None => {
            inner.generation += 1;
            let generation = inner.generation;
            let (tx, phase) = watch::channel(Phase::Starting);
            let watcher = Watcher {
                generation,
                clients: 1,
                phase: phase.clone(),
            };
            inner.watchers.insert(occ.id, watcher);
            start = Some(tx);
            (generation, phase)
        }
    };
    inner.streams += 1;
    drop(inner);
    let occurrence = occ.id;
    if let Some(tx) = start {
        tokio::spawn(watch_occurrence(site.clone(), occ.clone(), tx, generation));
    }
    Some(Ticket {
        site: site.clone(),
        occurrence,
        generation,
        phase,
    })
}

/// The watcher of `occ`: its state every [`POLL_EVERY`] until it has no
/// reader left, it is over, or the server stops.
async fn watch_occurrence(
    site: Arc<Site>,
    mut occ: OccurrenceRow,
    tx: watch::Sender<Phase>,
    generation: u64,
) {
    let id = occ.id;
    let mut tick = tokio::time::interval(POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen: Option<String> = None;
    let mut failing = false;
    loop {
        tokio::select! {
            () = site.live.stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        if !site.live.watched(id, generation) {
            return;
        }
        match look(&site, &mut occ, seen.as_deref()).await {
            Ok(Some(state)) => {
                failing = false;
                if seen.as_deref() != Some(state.version.as_str()) {
                    site.cache.changed(id);
                    tx.send_replace(Phase::At(state.version.clone()));
                    seen = Some(state.version);
                }
                if !state.live {
                    tx.send_replace(Phase::Over);
                    break;
                }
            }
            Ok(None) => {
                tx.send_replace(Phase::Over);
                break;
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(cause = %e, occurrence = id,
                        "web: cannot follow a live debate for its readers (trying again)");
                }
                failing = true;
            }
        }
    }
    site.live.forget(id, generation);
}

/// The occurrence's state now; when its version is not `seen`, with the
/// occurrence read again first (its end, start or length may be what
/// changed). `None` if it is gone.
async fn look(
    site: &Site,
    occ: &mut OccurrenceRow,
    seen: Option<&str>,
) -> crate::store::Result<Option<transcript::State>> {
    let state = transcript::state(&site.store, occ, site.clock.now()).await?;
    if seen == Some(state.version.as_str()) {
        return Ok(Some(state));
    }
    match site
        .store
        .find_occurrence(&occ.debate, occ.scheduled_start)
        .await?
    {
        None => Ok(None),
        Some(row) if row == *occ => Ok(Some(state)),
        Some(row) => {
            *occ = row;
            Ok(Some(
                transcript::state(&site.store, occ, site.clock.now()).await?,
            ))
        }
    }
}

/// The event stream of `occ`'s page for a caller who may see it (the
/// access check is the page's, made before: `occ` is as it read it, and
/// the watcher reads it again on its first look); `live` is whether the
/// page last rendered was. A debate over gets `end` at once; past the
/// limits, a 503.
pub fn stream(site: &Arc<Site>, occ: &OccurrenceRow, live: bool, public: bool) -> Response {
    let cache = if public {
        "no-store"
    } else {
        "private, no-store"
    };
    let mut response = if live {
        let Some(ticket) = join(site, occ) else {
            return busy();
        };
        Sse::new(events(ticket))
            .keep_alive(KeepAlive::new().interval(HEARTBEAT))
            .into_response()
    } else {
        let end = stream::once(async { Ok::<_, Infallible>(end()) });
        Sse::new(end).into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    // Proxies that buffer responses (nginx) pass this one on as it comes.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// The answer past the limits: the script falls back on fetching the
/// page now and then.
fn busy() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::RETRY_AFTER, "30"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        "Too many live readers at the moment; the page refreshes now and then instead.\n",
    )
        .into_response()
}

fn end() -> Event {
    Event::default().event("end").data("over")
}

/// A stream's events: `change` with each version its watcher sees (the
/// latest at once), `end` when the debate is over; it ends then, when the
/// watcher stops, when the server does, and when the schedule is reloaded
/// (the browser opens it again, through the access check as the schedule
/// now has it: a debate made private keeps no stream without its key).
fn events(ticket: Ticket) -> impl Stream<Item = Result<Event, Infallible>> {
    let stop = ticket.site.live.stop.clone();
    let mut schedule = ticket.site.schedule.clone();
    schedule.borrow_and_update();
    stream::unfold(Some((ticket, schedule)), move |state| {
        let stop = stop.clone();
        async move {
            let (mut ticket, mut schedule) = state?;
            loop {
                tokio::select! {
                    () = stop.cancelled() => return None,
                    Ok(()) = schedule.changed() => return None,
                    changed = ticket.phase.changed() => changed.ok()?,
                }
                let phase = ticket.phase.borrow_and_update().clone();
                match phase {
                    Phase::Starting => {}
                    Phase::At(version) => {
                        let event = Event::default().event("change").data(version).retry(RETRY);
                        return Some((Ok(event), Some((ticket, schedule))));
                    }
                    Phase::Over => return Some((Ok(end()), None)),
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_is_named_by_its_content() {
        let name = script_name();
        assert!(name.starts_with("live.") && name.ends_with(".js"), "{name}");
        assert_eq!(name.len(), "live.0123456789abcdef.js".len());
        assert_eq!(name, script_name());
        // No inline handlers or HTML building from text in it.
        assert!(!SCRIPT.contains("innerHTML") && !SCRIPT.contains("eval("));
        assert!(SCRIPT.contains("DOMParser"));
    }
}
