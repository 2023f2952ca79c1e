//! The HTTP server under the routes: hyper's HTTP/1 connections, with the
//! limits a server on the open internet needs, which `axum::serve` lacks.
//!
//! - A client has [`Limits::header_timeout`] to send a request's header,
//!   counted from when the connection waits for one: so a connection that
//!   sends half a header and stops, or none, is closed, and so is a
//!   kept-alive connection idle that long between requests.
//! - At most [`Limits::max_connections`] connections are open at once (by
//!   default half the process's open-file limit, so the store and the
//!   networks keep theirs). At the limit, each new connection closes the
//!   one that has waited longest for a request (slow or silent clients
//!   first, then idle kept-alive ones): someone holding hundreds of
//!   half-sent requests cannot keep anyone else out, and never makes the
//!   process run out of files. One log line says when that starts, one
//!   when it is over. A live page's event stream counts as waiting once
//!   its response has begun, so streams go first too (their browsers open
//!   them again); how many are open is bounded as well
//!   ([`Limits::max_streams`]).
//! - Should the process run out of files anyway (EMFILE at accept, with
//!   other parts holding more than expected), the limit drops to what is
//!   open, the longest waiting connection is closed, and the pending one
//!   is accepted in its place rather than left waiting in the backlog.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::server::conn::http1;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinSet;

/// How long a client may take over a request's header, and how long a
/// kept-alive connection may wait idle for the next request.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a stopping server waits for the requests in progress.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// The server's limits (see the module's documentation).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    /// Live pages' event streams open at once (each holds a connection):
    /// by default half the connections, so pages are always served too.
    pub max_streams: usize,
    /// Of those, on any one debate's page: by default half of them, so one
    /// busy debate leaves room for the others' readers.
    pub max_streams_per_debate: usize,
}

impl Default for Limits {
    fn default() -> Self {
        let max_connections = default_max_connections();
        let max_streams = (max_connections / 2).max(1);
        Limits {
            header_timeout: HEADER_TIMEOUT,
            max_connections,
            max_streams,
            max_streams_per_debate: (max_streams / 2).max(1),
        }
    }
}

/// Half the process's limit on open files, between 16 and 4096 (512 where
/// the limit cannot be read).
pub fn default_max_connections() -> usize {
    open_file_limit()
        .map_or(512, |n| usize::try_from(n / 2).unwrap_or(4096))
        .clamp(16, 4096)
}

/// The soft limit on open files, from `/proc/self/limits` (Linux).
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The open connections.
#[derive(Default)]
struct Conns {
    inner: Mutex<Inner>,
    /// Told each time a connection closes.
    closed: Notify,
}

#[derive(Default)]
struct Inner {
    next: u64,
    open: HashMap<u64, Conn>,
    max: usize,
    /// Since when connections have been closed to make room, and how many.
    pressed: Option<(Instant, u64)>,
}

struct Conn {
    /// Since when it has waited for a request (accepted, or its last
    /// response written); `None` while it is handling one.
    waiting_since: Option<Instant>,
    /// Closes it.
    close: Option<oneshot::Sender<()>>,
}

impl Conns {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn add(&self, close: oneshot::Sender<()>) -> u64 {
        let mut inner = self.lock();
        inner.next += 1;
        let id = inner.next;
        let conn = Conn {
            waiting_since: Some(Instant::now()),
            close: Some(close),
        };
        inner.open.insert(id, conn);
        id
    }

    fn remove(&self, id: u64) {
        let mut inner = self.lock();
        inner.open.remove(&id);
        let (open, max) = (inner.open.len(), inner.max);
        if let Some((since, closed)) = inner.pressed.filter(|_| open < max * 3 / 4) {
            inner.pressed = None;
            tracing::info!(
                open,
                max,
                closed,
                seconds = since.elapsed().as_secs(),
                "web: back under the connection limit"
            );
        }
        drop(inner);
        self.closed.notify_one();
    }

    fn busy(&self, id: u64, busy: bool) {
        if let Some(c) = self.lock().open.get_mut(&id) {
            c.waiting_since = (!busy).then(Instant::now);
        }
    }

    /// At the limit, closes the connection that has waited longest for a
    /// request (saying so once per episode); false if every one is busy.
    fn make_room(&self) -> bool {
        let mut inner = self.lock();
        if inner.open.len() < inner.max {
            return true;
        }
        let (open, max) = (inner.open.len(), inner.max);
        let pressed = inner.pressed.get_or_insert_with(|| {
            tracing::warn!(
                open,
                max,
                "web: at the connection limit; from now on each new connection closes the one \
                 that has waited longest for a request (a client sending its request slowly or \
                 not at all, or an idle kept-alive one) until fewer than 3/4 of the limit are open"
            );
            (Instant::now(), 0)
        });
        pressed.1 += 1;
        let oldest = inner
            .open
            .iter_mut()
            .filter(|(_, c)| c.close.is_some())
            .filter_map(|(id, c)| c.waiting_since.map(|since| (since, *id, c)))
            .min_by_key(|(since, id, _)| (*since, *id));
        match oldest.and_then(|(_, _, c)| c.close.take()) {
            Some(close) => {
                let _ = close.send(());
                true
            }
            None => false,
        }
    }

    /// The process has run out of files: at most what is open now from
    /// here on, and room made for the connection waiting.
    fn out_of_files(&self) {
        let mut inner = self.lock();
        let open = inner.open.len();
        let max = open.saturating_sub(1).max(1);
        if max < inner.max {
            tracing::warn!(
                open,
                was = inner.max,
                now = max,
                "web: the process ran out of open files; the connection limit is lowered"
            );
            inner.max = max;
        }
        drop(inner);
        self.make_room();
    }
}

/// Serves `app` on `listener` within `limits` until `stop` completes;
/// then no connection is accepted any more (the listener is closed at
/// once), and the requests in progress are finished, for [`STOP_WAIT`] at
/// most. Connections still open after that are closed as `run` returns:
/// each is a task of its own, owned here, never left behind.
///
/// # Errors
/// None so far: a failed accept is retried.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let conns = Arc::new(Conns::default());
    conns.lock().max = limits.max_connections.max(1);
    let (stopping, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => accepted,
            // Connections that ended are let go of as they end.
            Some(_) = tasks.join_next() => continue,
        };
        match accepted {
            Ok((stream, _)) => {
                if conns.make_room() {
                    // Counted from now, not from when its task first runs:
                    // a burst of connections is accepted faster than that.
                    let (close_tx, close) = oneshot::channel();
                    let id = conns.add(close_tx);
                    let served = Served {
                        id,
                        close,
                        conns: conns.clone(),
                        stopping: stopped.clone(),
                    };
                    tasks.spawn(connection(stream, app.clone(), limits, served));
                }
            }
            Err(e) if out_of_files(&e) => {
                conns.out_of_files();
                // Until a connection has closed (or a moment has passed:
                // the files may be held elsewhere in the process).
                let _ =
                    tokio::time::timeout(Duration::from_millis(50), conns.closed.notified()).await;
            }
            Err(e) if per_connection(&e) => {}
            Err(e) => {
                tracing::warn!(cause = %e, "web: cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    drop(listener);
    let _ = stopping.send(true);
    let finished = tokio::time::timeout(STOP_WAIT, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::warn!(open = tasks.len(), waited = ?STOP_WAIT,
            "web: stopped; requests still in progress are cut short");
    }
    Ok(())
}

/// EMFILE, ENFILE: no file for the connection.
fn out_of_files(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// An error of one connection (gone before it was accepted).
fn per_connection(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// A connection's place among the open ones.
struct Served {
    id: u64,
    /// Told when it is to be closed to make room.
    close: oneshot::Receiver<()>,
    conns: Arc<Conns>,
    stopping: watch::Receiver<bool>,
}

/// Serves one connection until it ends, is closed to make room, or the
/// server stops (then after its request in progress, if any).
async fn connection(stream: TcpStream, app: Router, limits: Limits, served: Served) {
    let Served {
        id,
        close,
        conns,
        mut stopping,
    } = served;
    let hyper_app = TowerToHyperService::new(app);
    let marks = conns.clone();
    let service = hyper::service::service_fn(move |request| {
        marks.busy(id, true);
        let response = hyper_app.call(request);
        let marks = marks.clone();
        async move {
            let response = response.await;
            marks.busy(id, false);
            response
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let mut close = std::pin::pin!(close);
    let mut shutting = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(cause = %e, "web: a connection ended");
                }
                break;
            }
            _ = &mut close => break,
            changed = stopping.changed(), if !shutting => {
                if changed.is_err() || *stopping.borrow() {
                    shutting = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
    conns.remove(id);
}
