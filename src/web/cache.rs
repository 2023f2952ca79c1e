//! Rendered pages, kept until their occurrence changes: each is stored with
//! the occurrence's fingerprint (how many replies and posts, and when they
//! last changed) and served again while the fingerprint is the same.
//! Each is also kept gzipped, compressed once when it is rendered rather
//! than for every request.
//!
//! In front of that, each address (debate, date, rendering) remembers the
//! page it last served and when it was checked against the store: for
//! [`FRESH_FOR`] after that check the page is served from memory, with no
//! query at all (the token of a private page is still compared, in
//! memory, for every request).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write as _;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;

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

/// An address of a transcript: which rendering, and `DEBATE/DATE` as in
/// the URL (both already validated: neither holds a `/`).
pub type Address = (Variant, String);

/// What an address served when it was last checked against the store.
#[derive(Debug)]
pub struct Checked {
    /// Whether anyone may see it; if not, only with `token`.
    pub public: bool,
    pub token: String,
    pub entry: Entry,
    /// When the check began (so the page is at most that old).
    pub at: Instant,
}

#[derive(Debug, Default)]
pub struct Cache {
    entries: Mutex<HashMap<(i64, Variant), (u64, Entry)>>,
    uses: std::sync::atomic::AtomicU64,
    checked: RwLock<HashMap<Address, Arc<Checked>>>,
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
    pub fn put(&self, occurrence: i64, variant: Variant, fingerprint: &str, body: String) -> Entry {
        let entry = Entry {
            fingerprint: fingerprint.to_owned(),
            etag: etag(occurrence, variant, fingerprint),
            gzip: gzip(body.as_bytes()).map(Bytes::from),
            body: Bytes::from(body),
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
    /// What `address` served, if it was checked less than `within` ago.
    pub fn fresh(&self, address: &Address, within: Duration) -> Option<Arc<Checked>> {
        let checked = self
            .checked
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        checked
            .get(address)
            .filter(|c| c.at.elapsed() < within)
            .cloned()
    }

    /// The lock to hold while checking `address` against the store.
    pub fn checker(&self, address: &Address) -> &tokio::sync::Mutex<()> {
        let mut h = DefaultHasher::new();
        address.hash(&mut h);
        let i = usize::try_from(h.finish() % CHECKERS as u64).unwrap_or(0);
        &self.checkers[i]
    }

    /// Remembers what `address` served after a check; `within` is the
    /// freshness window (entries past it are the first to go).
    pub fn remember(&self, address: Address, checked: Checked, within: Duration) -> Arc<Checked> {
        let checked = Arc::new(checked);
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
        let first = cache.put(1, Variant::Page, "a", "<p>one".into());
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
        let second = cache.put(1, Variant::Page, "b", "<p>two".into());
        assert_ne!(first.etag, second.etag);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = Cache::default();
        for i in 0..2000 {
            cache.put(i, Variant::Page, "x", String::new());
        }
        assert!(cache.lock().len() <= MOST);
        assert!(cache.get(1999, Variant::Page, "x").is_some());
    }

    fn checked(cache: &Cache, at: Instant) -> Checked {
        Checked {
            public: false,
            token: "t".into(),
            entry: cache.put(1, Variant::Page, "a", "<p>one".into()),
            at,
        }
    }

    #[test]
    fn an_address_is_fresh_only_within_the_window() {
        let cache = Cache::default();
        let page = (Variant::Page, "d/2011-11-01".to_owned());
        let window = Duration::from_millis(200);
        assert!(cache.fresh(&page, window).is_none());
        cache.remember(page.clone(), checked(&cache, Instant::now()), window);
        let fresh = cache.fresh(&page, window).unwrap();
        assert_eq!((fresh.public, fresh.token.as_str()), (false, "t"));
        assert_eq!(&fresh.entry.body[..], b"<p>one");
        assert!(
            cache
                .fresh(&(Variant::Json, "d/2011-11-01".into()), window)
                .is_none(),
            "another rendering"
        );
        assert!(cache.fresh(&page, Duration::ZERO).is_none());
        let old = Instant::now().checked_sub(window).unwrap();
        cache.remember(page.clone(), checked(&cache, old), window);
        assert!(cache.fresh(&page, window).is_none(), "past the window");
    }

    #[test]
    fn the_addresses_stay_bounded() {
        let cache = Cache::default();
        let window = Duration::from_secs(60);
        for i in 0..3000 {
            let address = (Variant::Page, format!("d{i}/2011-11-01"));
            cache.remember(address, checked(&cache, Instant::now()), window);
        }
        assert!(cache.checked.read().unwrap().len() <= MOST_ADDRESSES);
        let last = (Variant::Page, "d2999/2011-11-01".to_owned());
        assert!(cache.fresh(&last, window).is_some());
    }
}
