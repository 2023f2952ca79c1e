//! The transcript addresses: what each shows, and to whom.
//!
//! A private transcript needs its key. What a caller without the right
//! key learns is the same for a private page as for one that does not
//! exist: the same 404, after the same work (see `cache`). Whether a page
//! is public is decided by the schedule as it is now, too: a debate made
//! private in `debates.yaml` needs its key from the moment the schedule
//! is reloaded, for every occurrence (making a debate public does not
//! publish the transcripts it had while it was private).
//!
//! A live page's event stream (`DATE.events`, see `live`) is checked
//! exactly as the page is, through the page's own remembered answer: the
//! same 404 for the same callers, after the same work.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};

use super::cache::{Address, Checked, Shown, Variant};
use super::{LIVE_CSP, Site, failed, live, not_found};
use crate::schedule::Schedule;
use crate::store::{OccurrenceRow, StoreError};
use crate::transcript::{self, Format, html, public_now};

type Params = Query<HashMap<String, String>>;

/// Which occurrence an address names.
enum Which<'a> {
    /// `/transcripts/DEBATE/DATE`: the debate's occurrence on that day
    /// (local to its zone).
    Day(NaiveDate, &'a str),
    /// `/rehearsals/DEBATE/STAMP`: a rehearsal, by its stamp.
    Rehearsal(&'a str),
}

impl Which<'_> {
    /// The path segment naming it (a date, or a stamp).
    fn segment(&self) -> &str {
        match self {
            Which::Day(_, date) => date,
            Which::Rehearsal(stamp) => stamp,
        }
    }
}

/// `FILE` as `NAME` and the rendering its extension asks for.
fn variant_of(file: &str) -> Option<(&str, Variant)> {
    Some(match file.split_once('.') {
        None => (file, Variant::Page),
        Some((name, "json")) => (name, Variant::Json),
        Some((name, "md")) => (name, Variant::Md),
        Some((name, "txt")) => (name, Variant::Txt),
        Some((name, "log")) => (name, Variant::Log),
        Some(_) => return None,
    })
}

/// `/transcripts/DEBATE/DATE` and its `.json`, `.md`, `.txt` forms, the
/// raw log beside it (`.log`), and the live page's event stream
/// (`.events`), with the same privacy.
pub async fn transcript(
    State(site): State<Arc<Site>>,
    Path((debate, file)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
) -> Response {
    if let Some(date) = file.strip_suffix(".events") {
        let Some(day) = parse_date(date) else {
            return not_found();
        };
        return events(&site, &debate, Which::Day(day, date), params.get("key")).await;
    }
    let Some((date, variant)) = variant_of(&file) else {
        return not_found();
    };
    let Some(day) = parse_date(date) else {
        return not_found();
    };
    let key = params.get("key");
    show(
        &site,
        &debate,
        Which::Day(day, date),
        variant,
        key,
        &headers,
    )
    .await
}

/// `/transcripts/DEBATE/DATE/time`: the same transcript in time order.
pub async fn chronological(
    State(site): State<Arc<Site>>,
    Path((debate, date)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
) -> Response {
    let Some(day) = parse_date(&date) else {
        return not_found();
    };
    let which = Which::Day(day, &date);
    show(
        &site,
        &debate,
        which,
        Variant::Time,
        params.get("key"),
        &headers,
    )
    .await
}

/// `/rehearsals/DEBATE/STAMP` and its `.json`, `.md`, `.txt` forms: the
/// link a rehearsal posts, served by `podium run` on the same data (and
/// `.events`, while it runs).
pub async fn rehearsal(
    State(site): State<Arc<Site>>,
    Path((debate, file)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
) -> Response {
    if let Some(stamp) = file.strip_suffix(".events") {
        if !valid_stamp(stamp) {
            return not_found();
        }
        return events(&site, &debate, Which::Rehearsal(stamp), params.get("key")).await;
    }
    let Some((stamp, variant)) = variant_of(&file).filter(|(s, _)| valid_stamp(s)) else {
        return not_found();
    };
    let which = Which::Rehearsal(stamp);
    show(&site, &debate, which, variant, params.get("key"), &headers).await
}

/// `/rehearsals/DEBATE/STAMP/time`.
pub async fn rehearsal_chronological(
    State(site): State<Arc<Site>>,
    Path((debate, stamp)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
) -> Response {
    if !valid_stamp(&stamp) {
        return not_found();
    }
    let which = Which::Rehearsal(&stamp);
    show(
        &site,
        &debate,
        which,
        Variant::Time,
        params.get("key"),
        &headers,
    )
    .await
}

/// A debate id as the schedule allows it: letters, digits, `-_.`, at most
/// 64, and not a path step (`.`, `..`).
pub(super) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && id.chars().any(|c| c.is_ascii_alphanumeric())
}

/// `YYYY-MM-DD`, exactly.
fn parse_date(s: &str) -> Option<NaiveDate> {
    (s.len() == 10)
        .then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
}

/// `YYYYMMDDTHHMMSSmmm`, as [`transcript::rehearsal_stamp`] writes it.
fn valid_stamp(s: &str) -> bool {
    s.len() == 18
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 8 {
                b == b'T'
            } else {
                b.is_ascii_digit()
            }
        })
}

/// A key that could be a token (32 lowercase hex digits, as the store
/// makes them). Any other is wrong for every page, so it is taken for no
/// key at all: the same answer, without a query.
fn plausible_key(key: &str) -> bool {
    key.len() == 32 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Compares in time independent of where the strings differ.
fn same_token(given: &str, stored: &str) -> bool {
    given.len() == stored.len()
        && !stored.is_empty()
        && given
            .bytes()
            .zip(stored.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

async fn show(
    site: &Site,
    debate: &str,
    which: Which<'_>,
    variant: Variant,
    key: Option<&String>,
    headers: &HeaderMap,
) -> Response {
    match checked(site, debate, &which, variant, key).await {
        Ok(checked) => respond(&checked, variant, headers),
        Err(response) => response,
    }
}

/// `DATE.events`: the event stream of a live page, for whoever may see
/// the page (checked as the page is, by its remembered answer).
async fn events(
    site: &Arc<Site>,
    debate: &str,
    which: Which<'_>,
    key: Option<&String>,
) -> Response {
    let checked = match checked(site, debate, &which, Variant::Page, key).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let Some(shown) = &checked.page else {
        return not_found();
    };
    // No more work than the page's: the occurrence as the check read it.
    live::stream(site, &shown.occurrence, shown.entry.live, shown.public)
}

/// What the address answers `key` now (the page, or the 404), from
/// memory while that is fresh; `Err` is a response to give as it is.
async fn checked(
    site: &Site,
    debate: &str,
    which: &Which<'_>,
    variant: Variant,
    key: Option<&String>,
) -> Result<Arc<Checked>, Response> {
    if !valid_id(debate) {
        return Err(not_found());
    }
    let key = key.map(String::as_str).filter(|k| plausible_key(k));
    let schedule = site.schedule.borrow().clone();
    let within = site.fresh_for;
    let path = match &which {
        Which::Day(_, date) => format!("{debate}/{date}"),
        Which::Rehearsal(stamp) => format!("rehearsal/{debate}/{stamp}"),
    };
    let anyone: Address = (variant, path.clone(), None);
    // What anyone gets here, if that was checked less than `within` ago:
    // a public page (whatever key comes with the request), or, without a
    // key, the 404.
    if let Some(c) = site.cache.fresh(&anyone, within, &schedule)
        && (key.is_none() || c.page.as_ref().is_some_and(|p| p.public))
    {
        return Ok(c);
    }
    let asked: Address = (variant, path, key.map(str::to_owned));
    Ok(match site.cache.fresh(&asked, within, &schedule) {
        Some(c) => c,
        None => {
            // One check at a time per address; those who waited for it
            // take its result.
            let _checking = site.cache.checker(&asked).lock().await;
            match site.cache.fresh(&asked, within, &schedule) {
                Some(c) => c,
                None => match check(site, debate, which, variant, key, &schedule).await {
                    Ok(c) => {
                        let public = c.page.as_ref().is_some_and(|p| p.public);
                        let c = site.cache.remember(asked, c, within);
                        if public && key.is_some() {
                            site.cache.remember_shared(anyone, c.clone(), within);
                        }
                        c
                    }
                    Err(e) => return Err(failed(&e)),
                },
            }
        }
    })
}

/// The occurrence an address names, if there is one.
async fn occurrence(
    site: &Site,
    debate: &str,
    which: &Which<'_>,
) -> Result<Option<OccurrenceRow>, StoreError> {
    match which {
        Which::Day(day, _) => {
            transcript::find(&site.store, debate, Some(*day), site.clock.now(), false).await
        }
        Which::Rehearsal(stamp) => transcript::find_rehearsal(&site.store, debate, stamp).await,
    }
}

/// Asks the store what the address shows now to whoever brings `key`:
/// the page, or nothing (none there, or not for this key: the same work
/// either way, one query, and a page is rendered only for those who may
/// see it).
async fn check(
    site: &Site,
    debate: &str,
    which: &Which<'_>,
    variant: Variant,
    key: Option<&str>,
    schedule: &Arc<Schedule>,
) -> Result<Checked, StoreError> {
    let at = Instant::now();
    let now = site.clock.now();
    let occ = occurrence(site, debate, which).await?;
    let mut page = None;
    if let Some(occ) = occ {
        let public = public_now(&occ, schedule);
        if public || key.is_some_and(|k| same_token(k, &occ.token)) {
            let entry = rendered(site, &occ, variant, which, public, now).await?;
            page = Some(Shown {
                public,
                occurrence: Arc::new(occ),
                entry,
            });
        }
    }
    Ok(Checked {
        page,
        at,
        schedule: schedule.clone(),
    })
}

/// The rendering of `occ`, from the kept ones while it has not changed.
async fn rendered(
    site: &Site,
    occ: &OccurrenceRow,
    variant: Variant,
    which: &Which<'_>,
    public: bool,
    now: DateTime<Utc>,
) -> Result<super::cache::Entry, StoreError> {
    let (mut fingerprint, live) = match variant {
        Variant::Log => (
            transcript::log::fingerprint(&site.store, occ, now).await?,
            None,
        ),
        _ => {
            let state = transcript::state(&site.store, occ, now).await?;
            let page = matches!(variant, Variant::Page | Variant::Time);
            let live = (page && state.live).then_some(state.version);
            (state.fingerprint, live)
        }
    };
    // A page made private links its other views with the key.
    if !public {
        fingerprint.push_str("|private");
    }
    // A live page has its script; the last one, once over, has none.
    if let Some(version) = &live {
        fingerprint.push_str("|live:");
        fingerprint.push_str(version);
    }
    Ok(match site.cache.get(occ.id, variant, &fingerprint) {
        Some(entry) => entry,
        None => {
            let key = (!public).then_some(occ.token.as_str());
            let is_live = live.is_some();
            let body = render(site, occ, variant, which, key, live, now).await?;
            site.cache.put(occ.id, variant, &fingerprint, body, is_live)
        }
    })
}

/// Renders `variant` of `occ`; `live` is the version of a live page.
async fn render(
    site: &Site,
    occ: &OccurrenceRow,
    variant: Variant,
    which: &Which<'_>,
    key: Option<&str>,
    live: Option<String>,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    if variant == Variant::Log {
        // The raw log is not made from the transcript.
        return transcript::log::render(&site.store, occ, now).await;
    }
    let t = transcript::build(&site.store, occ, now).await?;
    let segment = which.segment();
    let mut links = html::Links::served(segment, key);
    let q = key.map(|k| format!("?key={k}")).unwrap_or_default();
    // The script is at /assets/, two levels up from the page (three from
    // the time-ordered view).
    links.live = live.map(|version| html::Live {
        script: format!("../../assets/{}", live::script_name()),
        events: format!("./{segment}.events{q}"),
        version,
    });
    Ok(match variant {
        Variant::Page => html::page(&t, html::View::ByQuestion, &links),
        Variant::Time => {
            // Relative links from one level down.
            let mut up = links;
            up.by_question = format!(".{}", up.by_question);
            for (_, href) in &mut up.formats {
                *href = format!(".{href}");
            }
            up.chronological = format!("./time{q}");
            if let Some(live) = &mut up.live {
                live.script = format!("../{}", live.script);
                live.events = format!(".{}", live.events);
            }
            html::page(&t, html::View::Chronological, &up)
        }
        Variant::Json => t.render(Format::Json),
        Variant::Md => t.render(Format::Md),
        Variant::Txt => t.render(Format::Txt),
        Variant::Log => transcript::log::render(&site.store, occ, now).await?,
    })
}

/// The page (or 304, or the 404) with its headers, gzipped if the client
/// takes it.
fn respond(checked: &Checked, variant: Variant, headers: &HeaderMap) -> Response {
    let Some(shown) = &checked.page else {
        return not_found();
    };
    let entry = &shown.entry;
    let cache_control = if shown.public {
        "public, no-cache"
    } else {
        "private, no-cache"
    };
    // A live page runs its script (a 304 too: its headers replace the
    // kept response's).
    let csp = entry.live.then(|| {
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(LIVE_CSP),
        )
    });
    let etag = HeaderValue::from_str(&entry.etag).unwrap_or(HeaderValue::from_static("\"\""));
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == entry.etag || t.trim() == "*")
        });
    if unchanged {
        let mut response = (
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, etag),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static(cache_control),
                ),
            ],
        )
            .into_response();
        response.headers_mut().extend(csp);
        return response;
    }
    let mut response = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(variant.content_type()),
            ),
            (header::ETAG, etag),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(cache_control),
            ),
        ],
        entry.body.clone(),
    )
        .into_response();
    response.headers_mut().extend(csp);
    // The kept gzip bytes, if the client takes gzip (the compression
    // layer leaves a response that has its encoding alone; otherwise it
    // compresses as for any other response).
    if let Some(gzip) = entry.gzip.clone().filter(|_| accepts_gzip(headers)) {
        let h = response.headers_mut();
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        *response.body_mut() = axum::body::Body::from(gzip);
    }
    response
}

/// Whether `Accept-Encoding` takes gzip (named, and not with `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            name.eq_ignore_ascii_case("gzip")
                && !parts.any(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_sent_only_when_taken() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&h)
        };
        for yes in ["gzip", "gzip, deflate, br, zstd", "br;q=1.0, GZIP;q=0.5"] {
            assert!(with(yes), "{yes}");
        }
        for no in [
            "",
            "br",
            "identity",
            "gzip;q=0",
            "gzip; q=0.000, br",
            "xgzip",
        ] {
            assert!(!with(no), "{no}");
        }
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn only_plain_ids_dates_stamps_and_tokens_pass() {
        for good in ["leadership-2011", "a.b_c", "x"] {
            assert!(valid_id(good), "{good}");
        }
        let long = "a".repeat(65);
        for bad in ["", ".", "..", "../etc", "a/b", "a b", long.as_str(), "é"] {
            assert!(!valid_id(bad), "{bad}");
        }
        assert!(parse_date("2011-11-01").is_some());
        for bad in ["2011-11-1", "2011-13-01", "20111101", "2011-11-01x"] {
            assert!(parse_date(bad).is_none(), "{bad}");
        }
        assert!(valid_stamp("20261204T101500123"));
        for bad in [
            "20261204T1015001234",
            "20261204X101500123",
            "2026-12-04",
            "",
        ] {
            assert!(!valid_stamp(bad), "{bad}");
        }
        let token = "0123456789abcdef0123456789abcdef";
        assert!(plausible_key(token));
        for bad in [&token[1..], &token.to_uppercase(), "", "x"] {
            assert!(!plausible_key(bad), "{bad}");
        }
        assert!(same_token("abcd", "abcd"));
        assert!(!same_token("abce", "abcd"));
        assert!(!same_token("abc", "abcd"));
        assert!(!same_token("", ""));
    }
}
