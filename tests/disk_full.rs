//! A full disk must never lose an acknowledged answer: while the store
//! cannot be written nothing is acknowledged, and once space returns every
//! held answer is stored, exactly once, where another connection sees it.
//!
//! Three ways to fill the store: SQLite's own page limit (everywhere,
//! deterministic); a real 2 MB tmpfs filled to the last block (where the
//! test may mount one: as root, which CI is), under SQLite's file; and the
//! same tmpfs as the PostgreSQL tablespace that holds Podium's tables, so
//! the server itself runs out of space. The tmpfs case is the one that
//! broke on SQLite: a COMMIT failing for lack of space left the connection
//! inside a transaction, so every later "commit" wrote nothing.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use podium::chat::{Cursor, Receipt};
use podium::engine::writer::{self, Job};
use podium::store::{Database, NewPost, NewReply, PostKind, PostStatus, Store, WriteOp};
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
/// page cannot share space with other rows), and that does not compress:
/// PostgreSQL would otherwise store a run of one letter in a few bytes.
fn big(n: usize) -> String {
    let mut x = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let text: String = (0..5000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect();
    format!("{n} {text}")
}

/// Where a test's store is: the data directory, and the database (SQLite
/// in it, or PostgreSQL).
struct At {
    db: Database,
    dir: PathBuf,
}

impl At {
    fn sqlite(dir: &Path) -> At {
        At {
            db: Database::default(),
            dir: dir.to_owned(),
        }
    }

    /// A separate reader, as `podium transcript` or the pages read.
    async fn reader(&self) -> Store {
        Store::open_readers_at(&self.db, &self.dir, 1)
            .await
            .unwrap()
    }
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
            led: true,
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
async fn stored(at: &At) -> (Vec<String>, Option<String>) {
    let reader = at.reader().await;
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
async fn every_write_path(store: &Store, at: &At, occurrence_id: i64, full: bool, n: i64) {
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
    // On SQLite a command id large enough to need pages of its own; on
    // PostgreSQL one its index can hold (at most a third of a page), in a
    // table still empty, so that it needs a page of its own too.
    let command_id = if at.db.url.is_some() {
        big(n as usize)[..1000].to_owned()
    } else {
        big(n as usize)
    };
    let command = store
        .claim_command("console", "console:rehearsal", &command_id, utc(START))
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
    let reader = at.reader().await;
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
    let at = At::sqlite(dir.path());
    every_write_path(&store, &at, occ, true, 101).await;
    let mut held = send(&writer, occ, 5..8).await;
    none_acknowledged(&mut held).await;

    store.set_max_pages(None).await.unwrap();
    all_acknowledged(held).await;
    all_acknowledged(send(&writer, occ, 8..58).await).await;
    every_write_path(&store, &at, occ, false, 102).await;

    let (stored, cursor) = stored(&at).await;
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
        Tmpfs::mount_with("size=2m")
    }

    fn mount_with(options: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "podium-test"])
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
    let at = At::sqlite(&data);
    let mut held = send(&writer, occ, 5..8).await;
    none_acknowledged(&mut held).await;
    every_write_path(&store, &at, occ, true, 101).await;

    std::fs::remove_file(filler).unwrap();
    all_acknowledged(held).await;
    all_acknowledged(send(&writer, occ, 8..58).await).await;
    every_write_path(&store, &at, occ, false, 102).await;

    let (stored, cursor) = stored(&at).await;
    assert_eq!(stored, ids(0..58), "every acknowledged answer, once");
    assert_eq!(cursor.as_deref(), Some("p57"));
    drop(writer);
    task.await.unwrap();
    drop(store);
}

/// The user id and group id of the account PostgreSQL runs as.
fn postgres_ids() -> Option<(u32, u32)> {
    let id = |flag| {
        let out = std::process::Command::new("id")
            .args([flag, "postgres"])
            .output()
            .ok()?;
        String::from_utf8(out.stdout)
            .ok()?
            .trim()
            .parse::<u32>()
            .ok()
    };
    Some((id("-u")?, id("-g")?))
}

/// The same on PostgreSQL: Podium's tables (and their indexes and TOAST)
/// moved to a tablespace on a 2 MB tmpfs, which is then filled, so the
/// server itself cannot extend them. Writes fail (SQLSTATE 53100), nothing
/// is acknowledged, and once space returns every held answer is stored
/// once.
#[tokio::test]
async fn on_a_really_full_disk_on_postgres_nothing_acknowledged_is_lost_and_all_is_stored_after() {
    let Some((uid, gid)) = postgres_ids() else {
        eprintln!("skipped: no postgres account");
        return;
    };
    let Some(disk) = Tmpfs::mount_with(&format!("size=2m,uid={uid},gid={gid},mode=0700")) else {
        eprintln!("skipped: mounting a tmpfs needs root (CI runs as root)");
        return;
    };
    // A server of its own: tablespaces belong to the whole cluster.
    let pg = support::postgres::start_named_postgres("full");
    let url = pg.database().await;
    let data = tempfile::tempdir().unwrap();
    let at = At {
        db: Database {
            url: Some(url.clone()),
            pool: 4,
        },
        dir: data.path().to_owned(),
    };
    let store = Store::open_at(&at.db, &at.dir).await.unwrap();
    let superuser = {
        let password = std::fs::read_to_string(pg.data.join("superuser-password")).unwrap();
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/postgres",
            password.trim(),
            pg.port
        )
    };
    let ts = disk.path.join("ts");
    std::fs::create_dir(&ts).unwrap();
    std::os::unix::fs::chown(&ts, Some(uid), Some(gid)).unwrap();
    {
        use sqlx::{AssertSqlSafe, Connection};
        let mut c = sqlx::PgConnection::connect(&superuser).await.unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "CREATE TABLESPACE small LOCATION '{}'",
            ts.display()
        )))
        .execute(&mut c)
        .await
        .unwrap();
        sqlx::query("GRANT CREATE ON TABLESPACE small TO podium")
            .execute(&mut c)
            .await
            .unwrap();
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        for sql in [
            "ALTER TABLE ALL IN TABLESPACE pg_default OWNED BY podium SET TABLESPACE small",
            "ALTER INDEX ALL IN TABLESPACE pg_default OWNED BY podium SET TABLESPACE small",
        ] {
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
    }
    let occ = occurrence(&store).await;
    let (writer, task) = writer::spawn(store.clone(), 4096);
    all_acknowledged(send(&writer, occ, 0..5).await).await;

    let filler = disk.fill();
    let mut held = send(&writer, occ, 5..8).await;
    none_acknowledged(&mut held).await;
    every_write_path(&store, &at, occ, true, 101).await;

    std::fs::remove_file(filler).unwrap();
    all_acknowledged(held).await;
    all_acknowledged(send(&writer, occ, 8..58).await).await;
    every_write_path(&store, &at, occ, false, 102).await;

    let (stored, cursor) = stored(&at).await;
    assert_eq!(stored, ids(0..58), "every acknowledged answer, once");
    assert_eq!(cursor.as_deref(), Some("p57"));
    drop(writer);
    task.await.unwrap();
    drop(store);
    // The tablespace goes with the server; the mount after it.
    drop(pg);
}
