//! The handlers: what each address shows, and who may see it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::cache::{Checked, Variant};
use super::{Site, failed, not_found};
use crate::store::OccurrenceRow;
use crate::transcript::{self, Format, html};

type Params = Query<HashMap<String, String>>;

/// `/transcripts/DEBATE/DATE` and its `.json`, `.md`, `.txt` forms, and
/// the raw log beside it (`.log`), with the same privacy.
pub async fn transcript(
    State(site): State<Arc<Site>>,
    Path((debate, file)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
) -> Response {
    let (date, variant) = match file.split_once('.') {
        None => (file.as_str(), Variant::Page),
        Some((date, "json")) => (date, Variant::Json),
        Some((date, "md")) => (date, Variant::Md),
        Some((date, "txt")) => (date, Variant::Txt),
        Some((date, "log")) => (date, Variant::Log),
        Some(_) => return not_found(),
    };
    show(&site, &debate, date, variant, params.get("key"), &headers).await
}

/// `/transcripts/DEBATE/DATE/time`: the same transcript in time order.
pub async fn chronological(
    State(site): State<Arc<Site>>,
    Path((debate, date)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
) -> Response {
    show(
        &site,
        &debate,
        &date,
        Variant::Time,
        params.get("key"),
        &headers,
    )
    .await
}

/// A debate id as the schedule allows it: letters, digits, `-_.`, at most
/// 64, and not a path step (`.`, `..`).
fn valid_id(id: &str) -> bool {
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
    date: &str,
    variant: Variant,
    key: Option<&String>,
    headers: &HeaderMap,
) -> Response {
    let (true, Some(day)) = (valid_id(debate), parse_date(date)) else {
        return not_found();
    };
    let address = (variant, format!("{debate}/{date}"));
    let within = site.fresh_for;
    // Checked against the store less than `within` ago: from memory.
    let checked = match site.cache.fresh(&address, within) {
        Some(checked) => checked,
        None => {
            // One check at a time per address; those who waited for it
            // take its result.
            let _checking = site.cache.checker(&address).lock().await;
            match site.cache.fresh(&address, within) {
                Some(checked) => checked,
                None => match check(site, debate, day, date, variant, key).await {
                    Ok(Some(checked)) => site.cache.remember(address, checked, within),
                    Ok(None) => return not_found(),
                    Err(e) => return failed(&e),
                },
            }
        }
    };
    // A private transcript needs its token; a wrong one looks like nothing
    // (compared for every request, fresh from memory or not).
    if !checked.public && !key.is_some_and(|k| same_token(k, &checked.token)) {
        return not_found();
    }
    respond(&checked, variant, headers)
}

/// Asks the store what `debate` on `day` shows now: `None` if nothing, or
/// not for this caller (a private one is rendered only for its token).
async fn check(
    site: &Site,
    debate: &str,
    day: NaiveDate,
    date: &str,
    variant: Variant,
    key: Option<&String>,
) -> Result<Option<Checked>, crate::store::StoreError> {
    let at = Instant::now();
    let now = site.clock.now();
    let Some(occ) = transcript::find(&site.store, debate, Some(day), now, false).await? else {
        return Ok(None);
    };
    if !occ.public && !key.is_some_and(|k| same_token(k, &occ.token)) {
        return Ok(None);
    }
    let fingerprint = match variant {
        Variant::Log => transcript::log::fingerprint(&site.store, &occ, now).await?,
        _ => transcript::fingerprint(&site.store, &occ, now).await?,
    };
    let entry = match site.cache.get(occ.id, variant, &fingerprint) {
        Some(entry) => entry,
        None => {
            let body = render(site, &occ, variant, date, key, now).await?;
            site.cache.put(occ.id, variant, &fingerprint, body)
        }
    };
    Ok(Some(Checked {
        public: occ.public,
        token: occ.token,
        entry,
        at,
    }))
}

/// The page (or 304) with its headers, gzipped if the client takes it.
fn respond(checked: &Checked, variant: Variant, headers: &HeaderMap) -> Response {
    let entry = &checked.entry;
    let cache_control = if checked.public {
        "public, no-cache"
    } else {
        "private, no-cache"
    };
    let etag = HeaderValue::from_str(&entry.etag).unwrap_or(HeaderValue::from_static("\"\""));
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == entry.etag || t.trim() == "*")
        });
    if unchanged {
        return (
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

async fn render(
    site: &Site,
    occ: &OccurrenceRow,
    variant: Variant,
    date: &str,
    key: Option<&String>,
    now: DateTime<Utc>,
) -> Result<String, crate::store::StoreError> {
    if variant == Variant::Log {
        // The raw log is not made from the transcript.
        return transcript::log::render(&site.store, occ, now).await;
    }
    let t = transcript::build(&site.store, occ, now).await?;
    let key = key.filter(|_| !occ.public).map(String::as_str);
    let links = html::Links::served(date, key);
    Ok(match variant {
        Variant::Page => html::page(&t, html::View::ByQuestion, &links),
        Variant::Time => {
            // Relative links from one level down.
            let mut up = links;
            up.by_question = format!(".{}", up.by_question);
            for (_, href) in &mut up.formats {
                *href = format!(".{href}");
            }
            up.chronological = format!(
                "./time{}",
                key.map(|k| format!("?key={k}")).unwrap_or_default()
            );
            html::page(&t, html::View::Chronological, &up)
        }
        Variant::Json => t.render(Format::Json),
        Variant::Md => t.render(Format::Md),
        Variant::Txt => t.render(Format::Txt),
        Variant::Log => transcript::log::render(&site.store, occ, now).await?,
    })
}

/// One line of the index.
struct Listed {
    href: String,
    title: String,
    when: String,
}

#[derive(Template)]
#[template(path = "index.html")]
struct Index {
    upcoming: Vec<Listed>,
    past: Vec<Listed>,
}

/// `/`: the public debates to come (from the schedule) and held (from the
/// store). Private ones are never listed.
pub async fn index(State(site): State<Arc<Site>>) -> Response {
    let now = site.clock.now();
    let schedule = site.schedule.borrow().clone();
    let mut upcoming: Vec<_> = schedule
        .occurrences_between(now, now + Duration::days(90))
        .filter(|o| o.debate.public)
        .take(50)
        .map(|o| Listed {
            href: String::new(),
            title: o.debate.title.clone(),
            when: o.time_line().render(),
        })
        .collect();
    upcoming.truncate(50);
    let past = match site.store.public_occurrences(now, 200).await {
        Ok(list) => list
            .iter()
            .map(|occ| {
                let link = transcript::url_of("", occ);
                let zones: Vec<chrono_tz::Tz> =
                    occ.zones.iter().filter_map(|z| z.parse().ok()).collect();
                let zone = occ.timezone.parse().unwrap_or(chrono_tz::UTC);
                Listed {
                    href: link,
                    title: occ.title.clone(),
                    when: crate::schedule::zones::time_line(occ.scheduled_start, zone, &zones)
                        .render(),
                }
            })
            .collect(),
        Err(e) => return failed(&e),
    };
    match (Index { upcoming, past }).render() {
        Ok(body) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response(),
        Err(e) => failed(&e),
    }
}

/// `/debates.ics`: the public debates as a calendar.
pub async fn calendar(State(site): State<Arc<Site>>) -> Response {
    let schedule = site.schedule.borrow().clone();
    let public = crate::schedule::Schedule {
        debates: schedule
            .debates
            .iter()
            .filter(|d| d.public)
            .cloned()
            .collect(),
    };
    (
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "inline; filename=\"debates.ics\"",
            ),
        ],
        crate::ics::calendar(&public, site.clock.now()),
    )
        .into_response()
}

/// `/healthz`: 200 when the store answers and every network is well, 503
/// otherwise; a JSON body says which part is not.
pub async fn health(State(site): State<Arc<Site>>) -> Response {
    let store = site.store.ping().await;
    let networks = site.health.snapshot();
    let ok = store.is_ok() && networks.values().all(|s| s.ok);
    let body = serde_json::json!({
        "ok": ok,
        "store": match &store { Ok(()) => "ok".to_owned(), Err(_) => "unreachable".to_owned() },
        "networks": networks,
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
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
    fn only_plain_ids_dates_and_tokens_pass() {
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
        assert!(same_token("abcd", "abcd"));
        assert!(!same_token("abce", "abcd"));
        assert!(!same_token("abc", "abcd"));
        assert!(!same_token("", ""));
    }
}
