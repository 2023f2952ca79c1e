//! Replies per second, on each backend: through the engine (attribution,
//! batching writer, store, acknowledgements) and, for comparison, the same
//! rows inserted raw with batched sqlx inserts into the same kind of
//! database, fresh for each. SQLite is a file database in WAL mode, as in
//! production; PostgreSQL is a real server on loopback
//! (`scripts/postgres-up.sh`, one for the run, a new database for each
//! measurement). Run with `cargo bench --bench replies [-- N] [sqlite|postgres]`
//! (default 100,000 replies, both backends); results are recorded in
//! docs/benchmarks.md. `-- N sweep` times plain batchings on PostgreSQL
//! instead (rows per multi-row INSERT, with and without `ON CONFLICT`,
//! and inserting from arrays), to choose the raw side.
//!
//! Besides the rates it prints the CPU each side used (this process, and
//! PostgreSQL's server processes): on two shared cores that says where the
//! time went.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use podium::chat::memory::MemoryChat;
use podium::chat::{Event, Room, Sender};
use podium::clock::Clock;
use podium::store::{Database, PostKind, Store};
use sqlx::{ConnectOptions, Connection};

use support::bot;
use support::cpu::Cpu;
use support::utc;

const YAML: &str = "timezone: Europe/London\nrooms: [\"#bench:example.org\"]\ndebates:\n  - id: bench\n    title: Bench\n    starts: 2030-01-01 20:00\n    duration: 2h\n    remind: []\n    questions: [One?, Two?, Three?, Four?]\n";

/// Rows per transaction of the raw inserts, as the engine's writer commits.
const RAW_TX: usize = 1024;
/// Rows per multi-row INSERT of the raw inserts on SQLite: the fastest
/// plain batching found there.
const RAW_ROWS_SQLITE: usize = 64;
/// Rows per multi-row INSERT of the raw inserts on PostgreSQL: the fastest
/// plain batching found there (see docs/benchmarks.md for the others).
const RAW_ROWS_POSTGRES: usize = 512;

fn body(i: usize) -> String {
    match i % 4 {
        0 => format!("A{}: an answer with a tag, number {i}", i % 4 + 1),
        1 => format!("untagged thoughts about the latest question ({i})"),
        2 => format!("a2) another style of tag {i}"),
        _ => format!("A 3 - and another, with some more words to make it realistic {i}"),
    }
}

/// One measurement: rows (or replies) per second and the CPU it took.
struct Rate {
    per_s: f64,
    cpu: Cpu,
    wall: Duration,
}

/// Replies sent to the engine as fast as it takes them, timed from the
/// first send to the last acknowledgement (each is answered once its batch
/// is committed).
async fn through_engine(db: &Database, n: usize, pg: Option<&Path>) -> Rate {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_at(db, dir.path()).await.expect("store");
    let schedule = bot::schedule(YAML, utc("2029-12-01T00:00:00Z"));
    let clock = Clock::starting_at(utc("2030-01-01T20:00:01Z"));
    // The sender may run up to 8,192 events ahead of the engine.
    let mut engine = bot::start_queued(&store, MemoryChat::new(), clock, schedule, 8192).await;
    engine.wait_for(PostKind::Question, 1).await;
    let room = Room::Matrix("#bench:example.org".into());
    let events = engine.events.clone();
    let cpu = Cpu::now(pg);
    let started = Instant::now();
    let sender = tokio::spawn(async move {
        let mut acks = Vec::with_capacity(n);
        for i in 0..n {
            let ev = Event::Message {
                id: format!("$e{i}"),
                sender: Sender {
                    id: format!("@u{}:example.org", i % 300),
                    name: format!("user {}", i % 300),
                    verified: true,
                },
                body: body(i),
                in_reply_to: None,
                server_ts: None,
                action: false,
            };
            acks.push(bot::deliver(&events, &room, ev).await);
        }
        for a in acks {
            a.await.expect("acknowledged");
        }
    });
    sender.await.expect("sender");
    let wall = started.elapsed();
    let cpu = Cpu::now(pg).since(cpu);
    engine.stop().await;
    Rate {
        per_s: n as f64 / wall.as_secs_f64(),
        cpu,
        wall,
    }
}

/// The same rows as [`through_engine`] stores, pushed into `q`'s VALUES.
fn push_rows<DB, T>(q: &mut sqlx::QueryBuilder<DB>, rows: &[usize], received: &T)
where
    DB: sqlx::Database,
    T: Clone + for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    i64: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    &'static str: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    String: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    Option<T>: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    q.push_values(rows, |mut b, &i| {
        let text = body(i);
        b.push_bind(1i64)
            .push_bind("matrix")
            .push_bind("#bench:example.org")
            .push_bind(format!("@u{}:example.org", i % 300))
            .push_bind(format!("user {}", i % 300))
            .push_bind(text.clone())
            .push_bind(text)
            .push_bind((i % 4 + 1) as i64)
            .push_bind("tag")
            .push_bind(format!("$e{i}"))
            .push_bind(None::<T>)
            .push_bind(received.clone());
    });
}

const RAW_INSERT: &str = "INSERT INTO replies (occurrence_id, network, room, sender_id, \
     sender_name, original_body, body, question, attributed_by, network_id, server_ts, \
     received_at) ";

/// The best plain sqlx does on SQLite: [`RAW_TX`] rows per transaction,
/// [`RAW_ROWS_SQLITE`] per multi-row INSERT statement.
async fn raw_sqlite(n: usize) -> Rate {
    let dir = tempfile::tempdir().expect("tempdir");
    // Same schema and settings as the store.
    drop(Store::open(dir.path()).await.expect("store"));
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("podium.db"))
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
        .connect()
        .await
        .expect("connect");
    sqlx::query("INSERT INTO occurrences (debate, scheduled_start, title, timezone, created_at) VALUES ('b', 'x', 'b', 'UTC', 'x')")
        .execute(&mut conn)
        .await
        .expect("occurrence");
    let received = podium::store::ts(Utc::now());
    let cpu = Cpu::now(None);
    let started = Instant::now();
    let ids: Vec<usize> = (0..n).collect();
    for chunk in ids.chunks(RAW_TX) {
        let mut tx = conn.begin().await.expect("begin");
        for rows in chunk.chunks(RAW_ROWS_SQLITE) {
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(RAW_INSERT);
            push_rows(&mut q, rows, &received);
            q.build().execute(&mut *tx).await.expect("insert");
        }
        tx.commit().await.expect("commit");
    }
    let wall = started.elapsed();
    Rate {
        per_s: n as f64 / wall.as_secs_f64(),
        cpu: Cpu::now(None).since(cpu),
        wall,
    }
}

/// A connection to `url` with the store's schema made there (by opening
/// the store once) and the occurrence the raw rows belong to.
async fn raw_postgres_connection(url: &str) -> sqlx::PgConnection {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database {
        url: Some(url.to_owned()),
        pool: 1,
    };
    drop(Store::open_at(&db, dir.path()).await.expect("store"));
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    sqlx::query(
        "INSERT INTO occurrences (id, debate, scheduled_start, title, timezone, created_at, token) \
         VALUES (1, 'b', now(), 'b', 'UTC', now(), 't')",
    )
    .execute(&mut conn)
    .await
    .expect("occurrence");
    conn
}

/// The same on PostgreSQL, on a database of its own migrated by the store:
/// [`RAW_TX`] rows per transaction, `per_statement` per multi-row INSERT
/// (a prepared statement, as sqlx caches them).
async fn raw_postgres(
    url: &str,
    n: usize,
    per_statement: usize,
    conflict: bool,
    pg: Option<&Path>,
) -> Rate {
    let mut conn = raw_postgres_connection(url).await;
    let received = Utc::now();
    let cpu = Cpu::now(pg);
    let started = Instant::now();
    let ids: Vec<usize> = (0..n).collect();
    for chunk in ids.chunks(RAW_TX) {
        let mut tx = conn.begin().await.expect("begin");
        for rows in chunk.chunks(per_statement) {
            let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(RAW_INSERT);
            push_rows(&mut q, rows, &received);
            if conflict {
                q.push(" ON CONFLICT (network, room, network_id) DO NOTHING");
            }
            q.build().execute(&mut *tx).await.expect("insert");
        }
        tx.commit().await.expect("commit");
    }
    let wall = started.elapsed();
    let cpu = Cpu::now(pg).since(cpu);
    conn.close().await.ok();
    Rate {
        per_s: n as f64 / wall.as_secs_f64(),
        cpu,
        wall,
    }
}

/// The same rows on PostgreSQL as one statement per transaction that
/// inserts from arrays (`UNNEST`): one prepared statement whatever the
/// batch's size.
async fn raw_postgres_unnest(url: &str, n: usize, pg: Option<&Path>) -> Rate {
    let mut conn = raw_postgres_connection(url).await;
    let received = Utc::now();
    let cpu = Cpu::now(pg);
    let started = Instant::now();
    let ids: Vec<usize> = (0..n).collect();
    for chunk in ids.chunks(RAW_TX) {
        let senders: Vec<String> = chunk
            .iter()
            .map(|i| format!("@u{}:example.org", i % 300))
            .collect();
        let names: Vec<String> = chunk.iter().map(|i| format!("user {}", i % 300)).collect();
        let bodies: Vec<String> = chunk.iter().map(|&i| body(i)).collect();
        let questions: Vec<i64> = chunk.iter().map(|i| (i % 4 + 1) as i64).collect();
        let network_ids: Vec<String> = chunk.iter().map(|i| format!("$e{i}")).collect();
        let mut tx = conn.begin().await.expect("begin");
        sqlx::query(
            "INSERT INTO replies (occurrence_id, network, room, sender_id, sender_name, \
             original_body, body, question, attributed_by, network_id, server_ts, received_at) \
             SELECT 1, 'matrix', '#bench:example.org', s, nm, b, b, q, 'tag', id, NULL, $6 \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[]) \
             AS t(s, nm, b, q, id)",
        )
        .bind(&senders)
        .bind(&names)
        .bind(&bodies)
        .bind(&questions)
        .bind(&network_ids)
        .bind(received)
        .execute(&mut *tx)
        .await
        .expect("insert");
        tx.commit().await.expect("commit");
    }
    let wall = started.elapsed();
    let cpu = Cpu::now(pg).since(cpu);
    conn.close().await.ok();
    Rate {
        per_s: n as f64 / wall.as_secs_f64(),
        cpu,
        wall,
    }
}

fn report(backend: &str, n: usize, raw: &Rate, raw_how: &str, engine: &Rate) {
    let line = |what: &str, r: &Rate, unit: &str| {
        println!(
            "  {what:<30} {:>9.0} {unit:<9} {:>6.2} s   CPU: podium {:>5.2} s, server {:>5.2} s",
            r.per_s,
            r.wall.as_secs_f64(),
            r.cpu.ours.as_secs_f64(),
            r.cpu.server.as_secs_f64(),
        );
    };
    println!("{backend}: {n} replies");
    line(&format!("raw sqlx ({raw_how})"), raw, "rows/s");
    line("through the engine", engine, "replies/s");
    println!("  ratio engine/raw: {:.2}", engine.per_s / raw.per_s);
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let only = |b: &str| {
        !args.iter().any(|a| a == "sqlite" || a == "postgres") || args.iter().any(|a| a == b)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "load average at the start: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    if args.iter().any(|a| a == "sweep") {
        // Which plain batching is fastest on PostgreSQL (each on a fresh
        // database, twice).
        let server = support::postgres::postgres();
        let data = Some(server.data.as_path());
        rt.block_on(async {
            for round in 1..=2 {
                for per in [64, 128, 256, 512, 1024] {
                    let url = support::postgres::database().await;
                    let r = raw_postgres(&url, n, per, false, data).await;
                    println!(
                        "  round {round}: {RAW_TX}/tx, {per:>4}/INSERT: {:>9.0} rows/s, CPU podium {:.2} s, server {:.2} s",
                        r.per_s, r.cpu.ours.as_secs_f64(), r.cpu.server.as_secs_f64()
                    );
                }
                let url = support::postgres::database().await;
                let r = raw_postgres(&url, n, RAW_ROWS_POSTGRES, true, data).await;
                println!(
                    "  round {round}: {RAW_TX}/tx, {RAW_ROWS_POSTGRES:>4}/INSERT ON CONFLICT DO NOTHING: {:>9.0} rows/s, CPU podium {:.2} s, server {:.2} s",
                    r.per_s, r.cpu.ours.as_secs_f64(), r.cpu.server.as_secs_f64()
                );
                let url = support::postgres::database().await;
                let r = raw_postgres_unnest(&url, n, data).await;
                println!(
                    "  round {round}: {RAW_TX}/tx, UNNEST:      {:>9.0} rows/s, CPU podium {:.2} s, server {:.2} s",
                    r.per_s, r.cpu.ours.as_secs_f64(), r.cpu.server.as_secs_f64()
                );
            }
        });
        return;
    }
    if only("sqlite") {
        let raw = rt.block_on(raw_sqlite(n));
        let engine = rt.block_on(through_engine(&Database::default(), n, None));
        report(
            "SQLite (WAL, synchronous=NORMAL)",
            n,
            &raw,
            &format!("{RAW_TX}/tx, {RAW_ROWS_SQLITE}/INSERT"),
            &engine,
        );
    }
    if only("postgres") {
        let server = support::postgres::postgres();
        let data = Some(server.data.as_path());
        let (raw, raw_conflict, engine) = rt.block_on(async {
            let raw = raw_postgres(
                &support::postgres::database().await,
                n,
                RAW_ROWS_POSTGRES,
                false,
                data,
            )
            .await;
            let raw_conflict = raw_postgres(
                &support::postgres::database().await,
                n,
                RAW_ROWS_POSTGRES,
                true,
                data,
            )
            .await;
            let db = Database {
                url: Some(support::postgres::database().await),
                pool: 0,
            };
            let engine = through_engine(&db, n, data).await;
            (raw, raw_conflict, engine)
        });
        report(
            &format!(
                "PostgreSQL (loopback, fsync={})",
                std::env::var("POSTGRES_FSYNC").unwrap_or_else(|_| "off".into())
            ),
            n,
            &raw,
            &format!("{RAW_TX}/tx, {RAW_ROWS_POSTGRES}/INSERT"),
            &engine,
        );
        println!(
            "  raw again, with the store's ON CONFLICT DO NOTHING: {:.0} rows/s; engine/that {:.2}",
            raw_conflict.per_s,
            engine.per_s / raw_conflict.per_s
        );
        let goal = raw.per_s * 0.7;
        println!(
            "  goal: engine >= 0.7 x raw ({goal:.0}) and >= 50,000 replies/s: {}",
            if engine.per_s >= goal && engine.per_s >= 50_000.0 {
                "met"
            } else {
                "NOT met"
            }
        );
    }
}
