//! A full disk must never lose an acknowledged answer: while the store
//! cannot be written nothing is acknowledged, and once space returns every
//! held answer is stored, exactly once, where another connection sees it.
//!
//! Two ways to fill the store: SQLite's own page limit (everywhere,
//! deterministic), and a real 2 MB tmpfs filled to the last block (where the
//! test may mount one: as root, which CI is). The tmpfs case is the one that
//! broke: a COMMIT failing for lack of space left the connection inside a
//! transaction, so every later "commit" wrote nothing.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use podium::chat::{Cursor, Receipt};
use podium::engine::writer::{self, Job};
use podium::store::{NewPost, NewReply, PostKind, PostStatus, Store, WriteOp};
use tokio::sync::{mpsc, oneshot};

use support::utc;

const START: &str = "2030-01-01T20:00:00Z";

/// The id of debate `d` starting at `START`.
async fn occurrence(store: &Store) -> i64 {
    store
        .occurrence(&support::store::occurrence(utc(START)))
        .await
        .unwrap()
        .id
}

/// Text large enough that storing it always needs new pages (an overflow
/// page cannot share space with other rows).
fn big(n: usize) -> String {
    format!("{n} {}", "x".repeat(5000))
}

/// An answer of about 5 KB: each one needs pages of its own.
fn answer(occurrence_id: i64, n: usize) -> Job {
    Job {
        op: WriteOp::Insert(NewReply {
            occurrence_id,
            network: "console".into(),
            room: "console:rehearsal".into(),
            sender_id: "console:bob".into(),
            sender_name: "bob".into(),
            body: format!("A1: answer {}", big(n)),
            question: Some(1),
            attributed_by: podium::domain::AttributedBy::Tag,
            network_id: format!("m{n}"),
            in_reply_to: None,
            server_ts: None,
            received_at: utc(START),
            action: false,
        }),
        cursor: Some(Cursor {
            network: "console".into(),
            position: format!("p{n}"),
        }),
        ack: None,
        receipt: Receipt::Saved {
            question: Some(1),
            by: podium::domain::AttributedBy::Tag,
        },
    }
}

/// Sends answers `range` to the writer; returns their acknowledgements.
async fn send(
    writer: &mpsc::Sender<Job>,
    occurrence_id: i64,
    range: std::ops::Range<usize>,
) -> Vec<oneshot::Receiver<Receipt>> {
    let mut acks = Vec::new();
    for n in range {
        let (tx, rx) = oneshot::channel();
        let mut job = answer(occurrence_id, n);
        job.ack = Some(tx);
        writer.send(job).await.unwrap();
        acks.push(rx);
    }
    acks
}

async fn all_acknowledged(acks: Vec<oneshot::Receiver<Receipt>>) {
    for ack in acks {
        let receipt = tokio::time::timeout(Duration::from_secs(30), ack)
            .await
            .expect("acknowledged once space returned")
            .expect("the writer answers");
        assert!(matches!(receipt, Receipt::Saved { .. }), "{receipt:?}");
    }
}

/// None of `acks` is answered while the store is full.
async fn none_acknowledged(acks: &mut [oneshot::Receiver<Receipt>]) {
    tokio::time::sleep(Duration::from_millis(500)).await;
    for ack in acks.iter_mut() {
        assert!(
            matches!(ack.try_recv(), Err(oneshot::error::TryRecvError::Empty)),
            "an answer was acknowledged while the store could not write it"
        );
    }
}

/// What a separate reader sees: the network ids of the stored replies
/// (each once) and the saved cursor.
async fn stored(dir: &Path) -> (Vec<String>, Option<String>) {
    let reader = Store::open_read_only(dir).await.unwrap();
    let occ = reader
        .find_occurrence("d", utc(START))
        .await
        .unwrap()
        .unwrap();
    let mut ids: Vec<String> = reader
        .replies(occ.id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.network_id)
        .collect();
    ids.sort_by_key(|id| id[1..].parse::<usize>().unwrap());
    (ids, reader.cursor("console").await.unwrap())
}

fn ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|n| format!("m{n}")).collect()
}

/// A post claim, a command claim and a reply batch all fail cleanly while
/// the store is full (`full` is true) and work, durably, after.
async fn every_write_path(store: &Store, dir: &Path, occurrence_id: i64, full: bool, n: i64) {
    let body = big(0);
    let post = NewPost {
        occurrence_id,
        room: "console:rehearsal",
        kind: PostKind::Question,
        seq: n,
        body: &body,
        question_text: Some("Why?"),
        due_at: utc(START),
        late: false,
        status: PostStatus::Sending,
    };
    let claim = store.claim_post(&post).await;
    let command = store
        .claim_command("console", "console:rehearsal", &big(n as usize), utc(START))
        .await;
    if full {
        assert!(claim.is_err(), "a claim cannot succeed on a full store");
        assert!(
            command.is_err(),
            "a command cannot be recorded on a full store"
        );
        return;
    }
    let (row, inserted) = claim.unwrap();
    assert!(inserted);
    store.mark_sent(row.id, utc(START), "c1").await.unwrap();
    assert!(command.unwrap());
    let reader = Store::open_read_only(dir).await.unwrap();
    let posts = reader.posts(occurrence_id).await.unwrap();
    assert!(
        posts
            .iter()
            .any(|p| p.seq == n && p.status == PostStatus::Sent),
        "the claim made after space returned is on disk: {posts:?}"
    );
}

#[tokio::test]
async fn with_the_page_limit_nothing_acknowledged_is_lost_and_all_is_stored_after() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let occ = occurrence(&store).await;
    let (writer, task) = writer::spawn(store.clone(), 4096);

    all_acknowledged(send(&writer, occ, 0..5).await).await;
    // Full: the database may not grow by a single page.
    let pages: i64 = {
        let mut conn = sqlx::ConnectOptions::connect(
            &sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("podium.db")),
        )
        .await
        .unwrap();
        sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    store
        .set_max_pages(Some(u32::try_from(pages).unwrap()))
        .await
        .unwrap();
    every_write_path(&store, dir.path(), occ, true, 101).await;
    let mut held = send(&writer, occ, 5..8).await;
    none_acknowledged(&mut held).await;

    store.set_max_pages(None).await.unwrap();
    all_acknowledged(held).await;
    all_acknowledged(send(&writer, occ, 8..58).await).await;
    every_write_path(&store, dir.path(), occ, false, 102).await;

    let (stored, cursor) = stored(dir.path()).await;
    assert_eq!(stored, ids(0..58));
    assert_eq!(cursor.as_deref(), Some("p57"));
    drop(writer);
    task.await.unwrap();
}

/// A 2 MB tmpfs, unmounted when dropped.
struct Tmpfs {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Tmpfs {
    fn mount() -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "podium-test"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs {
            path: dir.path().to_owned(),
            _dir: dir,
        })
    }

    /// Writes zeros until the disk is full.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.path.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = [0u8; 4096];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

#[tokio::test]
async fn on_a_really_full_disk_nothing_acknowledged_is_lost_and_all_is_stored_after() {
    let Some(disk) = Tmpfs::mount() else {
        eprintln!("skipped: mounting a tmpfs needs root (CI runs as root)");
        return;
    };
    let data = disk.path.join("data");
    let store = Store::open(&data).await.unwrap();
    let occ = occurrence(&store).await;
    let (writer, task) = writer::spawn(store.clone(), 4096);
    all_acknowledged(send(&writer, occ, 0..5).await).await;

    let filler = disk.fill();
    let mut held = send(&writer, occ, 5..8).await;
    none_acknowledged(&mut held).await;
    every_write_path(&store, &data, occ, true, 101).await;

    std::fs::remove_file(filler).unwrap();
    all_acknowledged(held).await;
    all_acknowledged(send(&writer, occ, 8..58).await).await;
    every_write_path(&store, &data, occ, false, 102).await;

    let (stored, cursor) = stored(&data).await;
    assert_eq!(stored, ids(0..58), "every acknowledged answer, once");
    assert_eq!(cursor.as_deref(), Some("p57"));
    drop(writer);
    task.await.unwrap();
    drop(store);
}
