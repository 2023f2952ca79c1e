//! The web pages, served by `podium run` itself (axum): the index of
//! public debates, each transcript (as a page, and as JSON, Markdown and
//! text), the calendar of public debates, and a health check.
//!
//! Safe by construction: pages come from escaping templates and carry no
//! script of their own; every response says so in its headers (a
//! Content-Security-Policy without any script source, `nosniff`, no
//! referrer, no framing). The one exception is the page of a debate still
//! running: it loads Podium's own script from this server, which keeps it
//! up to date (see `live`), and its policy allows that script and its
//! event stream, from this origin only, and nothing inline. A
//! private transcript's address carries its token; an unknown path, a wrong
//! token and a malformed one all get the same plain 404, and nothing of an
//! internal error reaches the client. Slow and idle clients are timed out
//! and open connections are capped (see `server`). Pages are rendered once and kept
//! until their occurrence changes; a page checked against the store is
//! served from memory for [`FRESH_FOR`] (a second) before the store is
//! asked again; responses are compressed and carry an `ETag` for
//! `If-None-Match`.

mod cache;
mod live;
mod pages;
mod server;
mod transcripts;

pub use cache::FRESH_FOR;
pub use live::{HEARTBEAT, POLL_EVERY, script_name};
pub use server::{HEADER_TIMEOUT, Limits, default_max_connections};

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::clock::Clock;
use crate::health::Health;
use crate::schedule::Schedule;
use crate::store::Store;

/// What the pages are made from.
pub struct Site {
    /// Read-only connections, apart from the engine's writer.
    pub store: Store,
    pub schedule: watch::Receiver<Arc<Schedule>>,
    pub health: Health,
    pub clock: Clock,
    /// How long a transcript page checked against the store is served from
    /// memory without asking it again ([`FRESH_FOR`] unless changed).
    pub fresh_for: Duration,
    /// The server's limits on slow clients, open connections and live
    /// pages' event streams.
    pub limits: Limits,
    pub(crate) cache: cache::Cache,
    pub(crate) live: live::Live,
}

impl Site {
    pub fn new(
        store: Store,
        schedule: watch::Receiver<Arc<Schedule>>,
        health: Health,
        clock: Clock,
    ) -> Site {
        Site {
            store,
            schedule,
            health,
            clock,
            fresh_for: FRESH_FOR,
            limits: Limits::default(),
            cache: cache::Cache::default(),
            live: live::Live::default(),
        }
    }

    /// Live pages' event streams open now.
    pub fn live_streams(&self) -> usize {
        self.live.streams()
    }
}

/// The Content-Security-Policy of every response: no script at all,
/// nothing from elsewhere, the page's own styles and `data:` images.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                       base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The policy of a live page: the same, and scripts and connections to
/// this origin (its script and its event stream); still nothing inline.
pub const LIVE_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
                            style-src 'unsafe-inline'; img-src data:; base-uri 'none'; \
                            form-action 'none'; frame-ancestors 'none'";

/// The routes, with the headers every response carries (a live page sets
/// its own Content-Security-Policy, [`LIVE_CSP`]; every other response
/// gets [`CSP`]).
pub fn router(site: Arc<Site>) -> Router {
    let headers = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
    ];
    let mut router = Router::new()
        .route("/", get(pages::index))
        .route("/transcripts/{debate}/{file}", get(transcripts::transcript))
        .route(
            "/transcripts/{debate}/{date}/time",
            get(transcripts::chronological),
        )
        .route("/rehearsals/{debate}/{file}", get(transcripts::rehearsal))
        .route(
            "/rehearsals/{debate}/{stamp}/time",
            get(transcripts::rehearsal_chronological),
        )
        .route("/assets/{file}", get(live::asset))
        .route("/debates.ics", get(pages::calendar))
        .route("/healthz", get(pages::health))
        .fallback(|| async { not_found() })
        .with_state(site)
        .layer(CompressionLayer::new())
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ));
    for (name, value) in headers {
        router = router.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ));
    }
    router
}

/// The one answer to anything that is not there, or not for this caller.
pub(crate) fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Not found.\n",
    )
        .into_response()
}

/// What the client sees of an internal failure: nothing but that it was
/// one (the log has the cause).
pub(crate) fn failed(cause: &dyn std::fmt::Display) -> Response {
    tracing::error!(cause = %cause, "a web page failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Sorry, this page failed. The log says why.\n",
    )
        .into_response()
}

/// Serves `site` on `listener` within its limits until `stop` completes;
/// then live pages' event streams end at once, so that they hold up
/// nothing (their browsers open them again on a server that runs).
///
/// # Errors
/// The server failed.
/// Serves the Prometheus metrics at `/metrics` (and nothing else) on
/// `listener` until `stop`.
///
/// # Errors
/// The server failed.
pub async fn serve_metrics(
    listener: TcpListener,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new().route(
        "/metrics",
        axum::routing::get(|| async {
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    crate::metrics::CONTENT_TYPE,
                )],
                crate::metrics::encode(),
            )
        }),
    );
    server::run(listener, app, server::Limits::default(), stop).await
}

pub async fn serve(
    listener: TcpListener,
    site: Arc<Site>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = site.limits;
    let streams = site.live.stop.clone();
    let ended = streams.clone();
    let stop = async move {
        stop.await;
        streams.cancel();
    };
    let result = server::run(listener, router(site), limits, stop).await;
    ended.cancel();
    result
}
