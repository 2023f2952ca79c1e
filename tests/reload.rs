//! Reloading the schedule: a valid edit is picked up (file change or
//! SIGHUP); a broken one keeps the old schedule and reports located errors.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use podium::clock::Clock;
use podium::schedule::Schedule;
use podium::schedule::reload;
use tokio::sync::watch;

const GOOD: &str = "timezone: Europe/London\nrooms: [\"#d:x.org\"]\ndebates:\n  - id: a\n    title: First\n    starts: 2030-01-01 20:00\n    questions: [Q?]\n";

fn now() -> DateTime<Utc> {
    "2029-01-01T00:00:00Z".parse().unwrap()
}

fn setup() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    watch::Sender<Arc<Schedule>>,
    watch::Receiver<Arc<Schedule>>,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("debates.yaml");
    std::fs::write(&path, GOOD).unwrap();
    let (schedule, _) = podium::schedule::load(&path, now()).unwrap();
    let (tx, rx) = watch::channel(Arc::new(schedule));
    (dir, path, tx, rx)
}

fn title(rx: &watch::Receiver<Arc<Schedule>>) -> String {
    rx.borrow().debates[0].title.clone()
}

#[test]
fn a_broken_edit_keeps_the_old_schedule_and_reports_where() {
    let (_dir, path, tx, rx) = setup();
    std::fs::write(
        &path,
        GOOD.replace("title: First", "title: Second\n    durration: 1h"),
    )
    .unwrap();
    let err = reload::reload(&path, &tx, now()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("debates.yaml:6:5: error: unknown field `durration`"),
        "{text}"
    );
    assert_eq!(title(&rx), "First");
    std::fs::write(&path, GOOD.replace("First", "Second")).unwrap();
    assert_eq!(reload::reload(&path, &tx, now()).unwrap(), 1);
    assert_eq!(title(&rx), "Second");
}

async fn wait_for_title(rx: &mut watch::Receiver<Arc<Schedule>>, want: &str) {
    tokio::time::timeout(Duration::from_secs(20), async {
        while title(rx) != want {
            rx.changed().await.unwrap();
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the schedule never became `{want}`; it is `{}`", title(rx)));
}

#[tokio::test]
async fn a_changed_file_is_reloaded() {
    let (_dir, path, tx, mut rx) = setup();
    let _guard = reload::watch(path.clone(), tx, Clock::System).unwrap();
    // An editor-style save: write a new file and rename it over the old one.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, GOOD.replace("First", "Renamed")).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    wait_for_title(&mut rx, "Renamed").await;

    // A broken save changes nothing.
    std::fs::write(&path, "debates: [").unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(title(&rx), "Renamed");
}

#[tokio::test]
async fn sighup_reloads_even_when_no_file_event_is_seen() {
    // The watched name is a symlink into another directory: writing the
    // target raises no event where the watcher looks, so only SIGHUP can
    // make Podium notice the change.
    let (_dir, path, tx, mut rx) = setup();
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("real.yaml");
    std::fs::write(&target, GOOD).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(&target, &path).unwrap();
    let _guard = reload::watch(path.clone(), tx, Clock::System).unwrap();
    std::fs::write(&target, GOOD.replace("First", "Hangup")).unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(title(&rx), "First", "no file event was expected");
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_for_title(&mut rx, "Hangup").await;
}

/// Log lines written while a test runs, for asserting on what was said.
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

/// Deleting debates.yaml while Podium runs used to go unnoticed: nothing
/// in the log. It is said once (naming the file), the schedule read before
/// keeps running, and the file is read again when it comes back.
#[tokio::test]
async fn a_deleted_file_is_warned_about_once_and_read_again_when_it_returns() {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _log = tracing::subscriber::set_default(subscriber);
    let (_dir, path, tx, mut rx) = setup();
    let _guard = reload::watch(path.clone(), tx, Clock::System).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    std::fs::remove_file(&path).unwrap();
    let said = format!(
        "the schedule file {} was removed; still running the schedule read before, until the file is back",
        path.display()
    );
    tokio::time::timeout(Duration::from_secs(20), async {
        while !logs.text().contains(&said) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no warning in the log:\n{}", logs.text()));
    // More events while it is gone (a file there for an instant, within
    // one burst) change nothing and say nothing. (Not SIGHUP: it would
    // reach the other tests' reloaders in this process too.)
    for _ in 0..2 {
        std::fs::write(&path, "debates: [").unwrap();
        std::fs::remove_file(&path).unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    let text = logs.text();
    assert_eq!(text.matches(&said).count(), 1, "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains(&said) && l.contains("WARN")),
        "{text}"
    );
    assert!(!text.contains("ERROR"), "{text}");
    assert_eq!(title(&rx), "First");
    std::fs::write(&path, GOOD.replace("First", "Back")).unwrap();
    wait_for_title(&mut rx, "Back").await;
}
