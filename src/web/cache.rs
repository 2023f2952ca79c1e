//! Rendered pages, kept until their occurrence changes: each is stored with
//! the occurrence's fingerprint (how many replies and posts, and when they
//! last changed) and served again while the fingerprint is the same.
//! Each is also kept gzipped, compressed once when it is rendered rather
//! than for every request.
//!
//! In front of that, each address (debate, date, rendering), as asked for
//! with or without a key, remembers what it last answered and when it was
//! checked against the store: for [`FRESH_FOR`] after that check the
//! answer is given from memory, with no query at all. Answers are
//! remembered whatever they were, the 404s too, and by the key they were
//! asked with: so how fast a private page answers a wrong key says nothing
//! that a page that does not exist would not (each costs one query a
//! second at most, and a visit with the right key changes neither). An
//! answer checked under an older schedule is never given again: a debate
//! made private is private from the moment the schedule is reloaded. A
//! page whose occurrence a live reader's watcher saw change (see `live`)
//! is checked again at once rather than at the end of its window, so the
//! live page fetched on that news has it; a 404 never is.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write as _;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;

use crate::schedule::Schedule;
use crate::store::OccurrenceRow;

/// Which rendering of a transcript.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Variant {
    Page,
    Time,
    Json,
    Md,
    Txt,
    /// The raw log of the debate's rooms (see `transcript::log`).
    Log,
}

impl Variant {
    pub fn content_type(self) -> &'static str {
        match self {
            Variant::Page | Variant::Time => "text/html; charset=utf-8",
            Variant::Json => "application/json",
            Variant::Md => "text/markdown; charset=utf-8",
            Variant::Txt | Variant::Log => "text/plain; charset=utf-8",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub fingerprint: String,
    pub etag: String,
    pub body: Bytes,
    /// `body` gzipped (`None` if compressing failed: it is then sent as
    /// it is, or compressed on the way out).
    pub gzip: Option<Bytes>,
    /// A live page (its debate still runs): it has the script that keeps it
    /// up to date, and a Content-Security-Policy that lets it run.
    pub live: bool,
}

/// Pages kept at most; past that the oldest half is dropped (a debate's
/// pages are asked for around its end, rarely long after).
const MOST: usize = 512;

/// How long a page checked against the store is served again without
/// asking the store. A live debate's page may be at most this stale (a new
/// answer shows within this long), and under load the store is asked at
/// most once per page per window instead of once per request (two queries
/// each time, one of which reads through the debate's answers).
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// Addresses remembered at most; past that those no longer fresh are
/// dropped (and all of them if every one still is).
const MOST_ADDRESSES: usize = 1024;

/// Checks against the store that may run at once, for different addresses
/// (one at a time for any one address).
const CHECKERS: usize = 16;

/// An address of a transcript as asked for: which rendering, the path
/// (`DEBATE/DATE`, or `rehearsal/DEBATE/STAMP`, validated) and the key it
/// was asked with, if any.
pub type Address = (Variant, String, Option<String>);

/// What an address answered when it was last checked against the store.
#[derive(Debug)]
pub struct Checked {
    /// The page, or `None`: the 404.
    pub page: Option<Shown>,
    /// When the check began (so the answer is at most that old).
    pub at: Instant,
    /// The schedule it was checked under (kept, so that no later one can
    /// be taken for it).
    pub schedule: Arc<Schedule>,
}

/// A page and who may see it.
#[derive(Debug)]
pub struct Shown {
    /// Anyone, or only whoever brings the key.
    pub public: bool,
    /// The occurrence, as read by the check (a live page's stream starts
    /// its watcher from it, without asking the store again).
    pub occurrence: Arc<OccurrenceRow>,
    pub entry: Entry,
}

/// Occurrences marked changed at most; past that the marks older than
/// [`CHANGED_KEPT`] are dropped (and all of them if none is).
const MOST_CHANGED: usize = 1024;

/// How long a mark that an occurrence changed is kept: longer than any
/// page is checked late, the freshness window being a second.
const CHANGED_KEPT: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct Cache {
    entries: Mutex<HashMap<(i64, Variant), (u64, Entry)>>,
    uses: std::sync::atomic::AtomicU64,
    checked: RwLock<HashMap<Address, Arc<Checked>>>,
    /// When a live reader's watcher last saw each occurrence change.
    changed: Mutex<HashMap<i64, Instant>>,
    /// Held while an address is checked, so that requests for a page that
    /// is no longer fresh wait for one check rather than each making their
    /// own (addresses share them by hash).
    checkers: [tokio::sync::Mutex<()>; CHECKERS],
}

impl Cache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(i64, Variant), (u64, Entry)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The kept rendering, if it is still current.
    pub fn get(&self, occurrence: i64, variant: Variant, fingerprint: &str) -> Option<Entry> {
        let n = self.uses.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut entries = self.lock();
        let (used, entry) = entries.get_mut(&(occurrence, variant))?;
        if entry.fingerprint != fingerprint {
            return None;
        }
        *used = n;
        Some(entry.clone())
    }

    /// Keeps a rendering; returns it with its `ETag`.
    pub fn put(
        &self,
        occurrence: i64,
        variant: Variant,
        fingerprint: &str,
        body: String,
        live: bool,
    ) -> Entry {
        let entry = Entry {
            fingerprint: fingerprint.to_owned(),
            etag: etag(occurrence, variant, fingerprint),
            gzip: gzip(body.as_bytes()).map(Bytes::from),
            body: Bytes::from(body),
            live,
        };
        let n = self.uses.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut entries = self.lock();
        if entries.len() >= MOST {
            let mut ages: Vec<u64> = entries.values().map(|(u, _)| *u).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            entries.retain(|_, (u, _)| *u > cut);
        }
        entries.insert((occurrence, variant), (n, entry.clone()));
        entry
    }
}

impl Cache {
    /// What `address` answered, if it was checked less than `within` ago
    /// under `schedule`.
    pub fn fresh(
        &self,
        address: &Address,
        within: Duration,
        schedule: &Arc<Schedule>,
    ) -> Option<Arc<Checked>> {
        let checked = self
            .checked
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let c = checked
            .get(address)
            .filter(|c| c.at.elapsed() < within && Arc::ptr_eq(&c.schedule, schedule))?;
        // A page (never a 404) checked before its occurrence was seen to
        // change is checked again.
        if let Some(shown) = &c.page {
            let changed = self.changed_lock().get(&shown.occurrence.id).copied();
            if changed.is_some_and(|at| c.at <= at) {
                return None;
            }
        }
        Some(Arc::clone(c))
    }

    fn changed_lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Instant>> {
        self.changed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `occurrence` was seen to change just now: its pages checked before
    /// are no longer fresh.
    pub fn changed(&self, occurrence: i64) {
        let mut changed = self.changed_lock();
        if changed.len() >= MOST_CHANGED && !changed.contains_key(&occurrence) {
            changed.retain(|_, at| at.elapsed() < CHANGED_KEPT);
            if changed.len() >= MOST_CHANGED {
                changed.clear();
            }
        }
        changed.insert(occurrence, Instant::now());
    }

    /// The lock to hold while checking `address` against the store.
    pub fn checker(&self, address: &Address) -> &tokio::sync::Mutex<()> {
        let mut h = DefaultHasher::new();
        address.hash(&mut h);
        let i = usize::try_from(h.finish() % CHECKERS as u64).unwrap_or(0);
        &self.checkers[i]
    }

    /// Remembers what `address` answered after a check; `within` is the
    /// freshness window (entries past it are the first to go).
    pub fn remember(&self, address: Address, checked: Checked, within: Duration) -> Arc<Checked> {
        self.remember_shared(address, Arc::new(checked), within)
    }

    /// [`remember`](Self::remember) for a check already remembered under
    /// another address (a public page asked for with a key is everyone's).
    pub fn remember_shared(
        &self,
        address: Address,
        checked: Arc<Checked>,
        within: Duration,
    ) -> Arc<Checked> {
        let mut all = self
            .checked
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if all.len() >= MOST_ADDRESSES && !all.contains_key(&address) {
            all.retain(|_, c| c.at.elapsed() < within);
            if all.len() >= MOST_ADDRESSES {
                all.clear();
            }
        }
        all.insert(address, Arc::clone(&checked));
        checked
    }
}

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::default(),
    );
    out.write_all(body).ok()?;
    out.finish().ok()
}

/// A strong validator for one rendering of one state of an occurrence.
fn etag(occurrence: i64, variant: Variant, fingerprint: &str) -> String {
    let mut h = DefaultHasher::new();
    (occurrence, variant, fingerprint, env!("CARGO_PKG_VERSION")).hash(&mut h);
    format!("\"{:016x}\"", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_kept_until_its_occurrence_changes() {
        let cache = Cache::default();
        assert!(cache.get(1, Variant::Page, "a").is_none());
        let first = cache.put(1, Variant::Page, "a", "<p>one".into(), false);
        let again = cache.get(1, Variant::Page, "a").unwrap();
        assert_eq!(
            (again.etag.as_str(), &again.body[..]),
            (first.etag.as_str(), &b"<p>one"[..])
        );
        let mut unzipped = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&again.gzip.unwrap()[..]),
            &mut unzipped,
        )
        .unwrap();
        assert_eq!(unzipped, "<p>one");
        assert!(cache.get(1, Variant::Page, "b").is_none(), "changed");
        assert!(
            cache.get(1, Variant::Json, "a").is_none(),
            "another rendering"
        );
        let second = cache.put(1, Variant::Page, "b", "<p>two".into(), false);
        assert_ne!(first.etag, second.etag);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = Cache::default();
        for i in 0..2000 {
            cache.put(i, Variant::Page, "x", String::new(), false);
        }
        assert!(cache.lock().len() <= MOST);
        assert!(cache.get(1999, Variant::Page, "x").is_some());
    }

    fn checked(cache: &Cache, at: Instant, schedule: &Arc<Schedule>) -> Checked {
        Checked {
            page: Some(Shown {
                public: false,
                occurrence: Arc::new(occurrence(1)),
                entry: cache.put(1, Variant::Page, "a", "<p>one".into(), false),
            }),
            at,
            schedule: schedule.clone(),
        }
    }

    fn occurrence(id: i64) -> OccurrenceRow {
        OccurrenceRow {
            id,
            debate: "d".into(),
            scheduled_start: "2011-11-01T20:00:00Z".parse().unwrap(),
            title: "D".into(),
            timezone: "Europe/London".into(),
            shift_seconds: 0,
            ended_at: None,
            rehearsal: false,
            clock_real_base: None,
            clock_speed: None,
            questions: Vec::new(),
            zones: Vec::new(),
            public: false,
            token: String::new(),
            purged_at: None,
            duration: None,
            collect_grace: None,
        }
    }

    fn schedule() -> Arc<Schedule> {
        Arc::new(Schedule::default())
    }

    fn address(variant: Variant, path: &str, key: Option<&str>) -> Address {
        (variant, path.to_owned(), key.map(str::to_owned))
    }

    #[test]
    fn an_address_is_fresh_only_within_the_window_and_the_schedule() {
        let cache = Cache::default();
        let s = schedule();
        let page = address(Variant::Page, "d/2011-11-01", Some("k"));
        let window = Duration::from_millis(200);
        assert!(cache.fresh(&page, window, &s).is_none());
        cache.remember(page.clone(), checked(&cache, Instant::now(), &s), window);
        let fresh = cache.fresh(&page, window, &s).unwrap();
        let shown = fresh.page.as_ref().unwrap();
        assert!(!shown.public);
        assert_eq!(&shown.entry.body[..], b"<p>one");
        for other in [
            address(Variant::Json, "d/2011-11-01", Some("k")),
            address(Variant::Page, "d/2011-11-01", None),
            address(Variant::Page, "d/2011-11-01", Some("j")),
        ] {
            assert!(cache.fresh(&other, window, &s).is_none(), "{other:?}");
        }
        assert!(cache.fresh(&page, Duration::ZERO, &s).is_none());
        assert!(
            cache.fresh(&page, window, &schedule()).is_none(),
            "checked under another schedule"
        );
        let old = Instant::now().checked_sub(window).unwrap();
        cache.remember(page.clone(), checked(&cache, old, &s), window);
        assert!(cache.fresh(&page, window, &s).is_none(), "past the window");
    }

    #[test]
    fn a_page_seen_to_change_is_checked_again_but_a_404_is_not() {
        let cache = Cache::default();
        let s = schedule();
        let window = Duration::from_secs(60);
        let page = address(Variant::Page, "d/2011-11-01", Some("k"));
        let missing = address(Variant::Page, "d/2011-11-01", Some("j"));
        cache.remember(page.clone(), checked(&cache, Instant::now(), &s), window);
        let nothing = Checked {
            page: None,
            at: Instant::now(),
            schedule: s.clone(),
        };
        cache.remember(missing.clone(), nothing, window);
        cache.changed(2);
        assert!(
            cache.fresh(&page, window, &s).is_some(),
            "another occurrence"
        );
        cache.changed(1);
        assert!(cache.fresh(&page, window, &s).is_none(), "checked before");
        assert!(cache.fresh(&missing, window, &s).is_some(), "a 404 stays");
        cache.remember(page.clone(), checked(&cache, Instant::now(), &s), window);
        assert!(cache.fresh(&page, window, &s).is_some(), "checked after");
    }

    #[test]
    fn the_addresses_stay_bounded() {
        let cache = Cache::default();
        let s = schedule();
        let window = Duration::from_secs(60);
        for i in 0..3000 {
            let address = address(Variant::Page, &format!("d{i}/2011-11-01"), None);
            cache.remember(address, checked(&cache, Instant::now(), &s), window);
        }
        assert!(cache.checked.read().unwrap().len() <= MOST_ADDRESSES);
        let last = address(Variant::Page, "d2999/2011-11-01", None);
        assert!(cache.fresh(&last, window, &s).is_some());
    }
}
