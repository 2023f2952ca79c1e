//! Rendered pages, kept until their occurrence changes: each is stored with
//! the occurrence's fingerprint (how many replies and posts, and when they
//! last changed) and served again while the fingerprint is the same.
//! Each is also kept gzipped, compressed once when it is rendered rather
//! than for every request.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write as _;
use std::sync::Mutex;

use axum::body::Bytes;

/// Which rendering of a transcript.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Variant {
    Page,
    Time,
    Json,
    Md,
    Txt,
}

impl Variant {
    pub fn content_type(self) -> &'static str {
        match self {
            Variant::Page | Variant::Time => "text/html; charset=utf-8",
            Variant::Json => "application/json",
            Variant::Md => "text/markdown; charset=utf-8",
            Variant::Txt => "text/plain; charset=utf-8",
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

#[derive(Debug, Default)]
pub struct Cache {
    entries: Mutex<HashMap<(i64, Variant), (u64, Entry)>>,
    uses: std::sync::atomic::AtomicU64,
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
}
