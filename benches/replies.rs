//! Replies per second: through the engine (attribution, batching writer,
//! store, acknowledgements) and, for comparison, the same rows inserted raw
//! with batched sqlx inserts. Both on a file database in WAL mode, as in
//! production. Run with `cargo bench --bench replies [-- N]`; results are
//! recorded in docs/benchmarks.md.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use chrono::Utc;
use podium::chat::memory::MemoryChat;
use podium::chat::{Event, Room, Sender};
use podium::clock::Clock;
use podium::store::{PostKind, Store};
use sqlx::{ConnectOptions, Connection};

use support::bot;
use support::utc;

const YAML: &str = "timezone: Europe/London\nrooms: [\"#bench:example.org\"]\ndebates:\n  - id: bench\n    title: Bench\n    starts: 2030-01-01 20:00\n    duration: 2h\n    remind: []\n    questions: [One?, Two?, Three?, Four?]\n";

fn body(i: usize) -> String {
    match i % 4 {
        0 => format!("A{}: an answer with a tag, number {i}", i % 4 + 1),
        1 => format!("untagged thoughts about the latest question ({i})"),
        2 => format!("a2) another style of tag {i}"),
        _ => format!("A 3 - and another, with some more words to make it realistic {i}"),
    }
}

async fn through_engine(n: usize) -> f64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).await.expect("store");
    let schedule = bot::schedule(YAML, utc("2029-12-01T00:00:00Z"));
    let clock = Clock::starting_at(utc("2030-01-01T20:00:01Z"));
    // The sender may run up to 8,192 events ahead of the engine.
    let mut engine = bot::start_queued(&store, MemoryChat::new(), clock, schedule, 8192).await;
    engine.wait_for(PostKind::Question, 1).await;
    let room = Room::Matrix("#bench:example.org".into());
    let events = engine.events.clone();
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
    let secs = started.elapsed().as_secs_f64();
    engine.stop().await;
    n as f64 / secs
}

async fn raw_inserts(n: usize) -> f64 {
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
    let started = Instant::now();
    // The best plain sqlx can do: 1,024 rows per transaction, 64 per
    // multi-row INSERT statement (the store batches the same way).
    let ids: Vec<usize> = (0..n).collect();
    for chunk in ids.chunks(1024) {
        let mut tx = conn.begin().await.expect("begin");
        for rows in chunk.chunks(64) {
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO replies (occurrence_id, network, room, sender_id, sender_name, \
                 original_body, body, question, attributed_by, network_id, server_ts, received_at) ",
            );
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
                    .push_bind(None::<String>)
                    .push_bind(received.clone());
            });
            q.build().execute(&mut *tx).await.expect("insert");
        }
        tx.commit().await.expect("commit");
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let raw = rt.block_on(raw_inserts(n));
    let engine = rt.block_on(through_engine(n));
    println!("replies: {n}");
    println!("raw batched sqlx inserts: {raw:>10.0} rows/s");
    println!(
        "through the engine:       {engine:>10.0} replies/s (attribution, writer, store, acks)"
    );
    println!("ratio engine/raw:         {:>10.2}", engine / raw);
}
