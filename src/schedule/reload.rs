//! Reloading the schedule while the bot runs: on SIGHUP, and when the file
//! changes on disk. The one part of the schedule that does I/O beyond
//! reading the file (a watcher, a signal), kept beside what it reloads. A
//! broken edit never stops a running schedule: the old one keeps running
//! and the located errors go to the log. A deleted file is said once, and
//! the old schedule runs until the file is back. Posts already made are in
//! the store, so a reload can never cause a double post.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use notify::Watcher;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::schedule::{self, LoadError, Schedule};

/// Reads the file again and publishes it if it is valid.
///
/// # Errors
/// The file's problems; the published schedule is then unchanged.
pub fn reload(
    path: &Path,
    tx: &watch::Sender<Arc<Schedule>>,
    now: DateTime<Utc>,
) -> Result<usize, LoadError> {
    publish(path, tx, schedule::load(path, now))
}

/// Publishes a schedule just read, or logs why it cannot be.
fn publish(
    path: &Path,
    tx: &watch::Sender<Arc<Schedule>>,
    loaded: Result<(Schedule, schedule::Diagnostics), LoadError>,
) -> Result<usize, LoadError> {
    match loaded {
        Ok((schedule, _)) => {
            let n = schedule.debates.len();
            tx.send_replace(Arc::new(schedule));
            tracing::info!(file = %path.display(), debates = n, "schedule reloaded");
            Ok(n)
        }
        Err(e) => {
            match &e {
                LoadError::Invalid { diagnostics, path } => {
                    for d in diagnostics.errors() {
                        tracing::error!("{}", d.render(path));
                    }
                }
                LoadError::Read { .. } => tracing::error!("{e}"),
            }
            tracing::error!(file = %path.display(),
                "the edited schedule has errors; still running the previous one");
            Err(e)
        }
    }
}

/// Keeps `tx` up to date with the file until the returned guard is dropped.
/// Watches the directory, not the file: editors save by renaming a new file
/// over the old one.
///
/// # Errors
/// When the file system watcher cannot be set up.
pub fn watch(
    path: PathBuf,
    tx: watch::Sender<Arc<Schedule>>,
    clock: Clock,
) -> notify::Result<WatchGuard> {
    let reloader = Reloader::new(path, tx, clock)?;
    let stop = CancellationToken::new();
    tokio::spawn(reloader.run(stop.clone()));
    Ok(WatchGuard {
        _stop: stop.drop_guard(),
    })
}

/// A schedule file watched (and SIGHUP listened for), to be reloaded by
/// [`Reloader::run`].
pub struct Reloader {
    path: PathBuf,
    tx: watch::Sender<Arc<Schedule>>,
    clock: Clock,
    /// Kept for as long as the file is watched.
    watcher: notify::RecommendedWatcher,
    kicks: mpsc::UnboundedReceiver<()>,
    /// Where SIGHUP kicks a reload.
    hup: mpsc::UnboundedSender<()>,
}

impl Reloader {
    /// Starts watching `path`'s directory, not the file: editors save by
    /// renaming a new file over the old one.
    ///
    /// # Errors
    /// When the file system watcher cannot be set up.
    pub fn new(
        path: PathBuf,
        tx: watch::Sender<Arc<Schedule>>,
        clock: Clock,
    ) -> notify::Result<Reloader> {
        let (kick_tx, kicks) = mpsc::unbounded_channel::<()>();
        let file_name = path.file_name().map(ToOwned::to_owned);
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let fs_kick = kick_tx.clone();
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                if let Ok(event) = res
                    && (event.kind.is_modify() || event.kind.is_create() || event.kind.is_remove())
                    && event
                        .paths
                        .iter()
                        .any(|p| p.file_name().map(ToOwned::to_owned) == file_name)
                {
                    let _ = fs_kick.send(());
                }
            })?;
        watcher.watch(&dir, notify::RecursiveMode::NonRecursive)?;
        Ok(Reloader {
            path,
            tx,
            clock,
            watcher,
            kicks,
            hup: kick_tx,
        })
    }

    /// Reloads on every change and SIGHUP until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        let Reloader {
            path,
            tx,
            clock,
            watcher,
            mut kicks,
            hup,
        } = self;
        let reload = async move {
            let mut gone = false;
            while kicks.recv().await.is_some() {
                // Editors write in several steps: wait for the burst to end.
                tokio::time::sleep(StdDuration::from_millis(200)).await;
                while kicks.try_recv().is_ok() {}
                let loaded = schedule::load(&path, clock.now());
                if is_gone(&loaded) {
                    // Said once: every later event (or SIGHUP) while it is
                    // gone would only say it again.
                    if !gone {
                        tracing::warn!(
                            "the schedule file {} was removed; still running the schedule \
                             read before, until the file is back",
                            path.display()
                        );
                    }
                    gone = true;
                    continue;
                }
                gone = false;
                let _ = publish(&path, &tx, loaded);
            }
        };
        let _ = stop
            .run_until_cancelled(async move {
                tokio::join!(reload, sighup(hup));
            })
            .await;
        drop(watcher);
    }
}

/// Kicks a reload on each SIGHUP.
#[cfg(unix)]
async fn sighup(kick: mpsc::UnboundedSender<()>) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reload by editing the file instead");
        return;
    };
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading the schedule");
        if kick.send(()).is_err() {
            break;
        }
    }
}

#[cfg(not(unix))]
async fn sighup(_kick: mpsc::UnboundedSender<()>) {}

/// Whether the file is not there at all (deleted, or renamed away), as
/// opposed to there and broken.
fn is_gone(loaded: &Result<(Schedule, schedule::Diagnostics), LoadError>) -> bool {
    matches!(loaded, Err(LoadError::Read { source, .. })
        if source.kind() == std::io::ErrorKind::NotFound)
}

/// Stops watching when dropped.
pub struct WatchGuard {
    _stop: tokio_util::sync::DropGuard,
}
