//! The pages besides the transcripts: the index, the calendar and the
//! health check.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Duration;

use super::{Site, failed};
use crate::health::Status;
use crate::transcript::{self, public_now};

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
    /// The schedule has private debates: the page says they are not
    /// listed (debates are private unless `public: true`).
    some_private: bool,
}

/// `/`: the public debates to come (from the schedule) and held (from the
/// store). Private ones are never listed, nor those held while public
/// whose debate the schedule now says is private.
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
            .filter(|occ| public_now(occ, &schedule))
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
    let some_private = schedule.debates.iter().any(|d| !d.public);
    let index = Index {
        upcoming,
        past,
        some_private,
    };
    match index.render() {
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
        ..crate::schedule::Schedule::default()
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

/// `/healthz`: 200 when the store answers and every network is well;
/// otherwise 503, with `"status": "starting"` while a network has not come
/// up yet since the start (for up to [`crate::health::START_WINDOW`]), and
/// `"unhealthy"` when one that was up is not, one never came up, or the
/// store does not answer. The body says which part is not well.
pub async fn health(State(site): State<Arc<Site>>) -> Response {
    let store = site.store.ping().await;
    let networks = site.health.snapshot();
    let status = match (store.is_ok(), site.health.status()) {
        (false, _) => Status::Unhealthy,
        (true, s) => s,
    };
    let ok = status == Status::Ok;
    let mut body = serde_json::json!({
        "ok": ok,
        "status": status,
        "store": match &store { Ok(()) => "ok".to_owned(), Err(_) => "unreachable".to_owned() },
        "networks": networks,
    });
    for (name, value) in site.health.sections() {
        body[name] = value;
    }
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut response = (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if status == Status::Starting {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    response
}
