//! What keeping leases costs, as the number of debates grows: three
//! replicas' lease keepers (the same code `podium run` runs with
//! `replicas.enabled`) share N debates on a real PostgreSQL on loopback
//! (`scripts/postgres-up.sh`, a fresh database for each N) and are left to
//! renew for a while. Measured: the database's transactions and row updates
//! per second (from `pg_stat_database`), the server's CPU, and this
//! process's CPU divided by the three keepers. The goal is that none of it
//! grows with N: a keeper's tick is a fixed handful of statements, one
//! renewal for all its leases.
//!
//! `cargo bench --bench replicas [-- SECONDS [N ...]]` (default 20 s for
//! each of 100, 1,000 and 3,000 debates); results are recorded in
//! docs/benchmarks.md.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use podium::replicas::{Keeper, Settings};
use podium::store::{Database, Store};
use sqlx::{ConnectOptions, Row};
use tokio_util::sync::CancellationToken;

use support::cpu::Cpu;

const REPLICAS: usize = 3;
const RENEW: Duration = Duration::from_secs(2);
const TTL: Duration = Duration::from_secs(10);

/// A schedule of `n` debates, one room each, far in the future.
fn yaml(n: usize) -> String {
    let mut y = String::from("timezone: Europe/London\ndebates:\n");
    for i in 0..n {
        y.push_str(&format!(
            "  - id: d{i:04}\n    title: Debate {i}\n    starts: 2035-01-01 20:00\n    \
             duration: 1h\n    rooms: [\"#room-{i}:example.org\"]\n    questions: [Why?]\n"
        ));
    }
    y
}

/// Transactions committed and rows updated in the database so far.
async fn db_stats(url: &str) -> (i64, i64) {
    let mut c = url
        .parse::<sqlx::postgres::PgConnectOptions>()
        .expect("url")
        .connect()
        .await
        .expect("connect");
    // The statistics are a snapshot per transaction: read fresh ones.
    sqlx::query("SELECT pg_stat_clear_snapshot()")
        .execute(&mut c)
        .await
        .expect("clear");
    let r = sqlx::query(
        "SELECT xact_commit, tup_updated FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(&mut c)
    .await
    .expect("stats");
    (r.get(0), r.get(1))
}

struct Upkeep {
    debates: usize,
    held: Vec<usize>,
    tx_per_s: f64,
    updates_per_s: f64,
    server_cpu_per_s: f64,
    keeper_cpu_per_s: f64,
}

async fn upkeep(n: usize, secs: u64, pg: &std::path::Path) -> Upkeep {
    let url = support::postgres::database().await;
    let db = Database {
        url: Some(url.clone()),
        pool: 2,
    };
    let schedule = support::bot::schedule(&yaml(n), Utc::now());
    let (_tx, schedule_rx) = tokio::sync::watch::channel(Arc::clone(&schedule));
    let released = CancellationToken::new();
    let mut dirs = Vec::new();
    let mut leaderships = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..REPLICAS {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open_replica_at(&db, dir.path())
            .await
            .expect("store");
        let settings = Settings {
            name: format!("bench-{i}"),
            home: format!("bench-{i}"),
            renew: RENEW,
            ttl: TTL,
        };
        let (keeper, leadership) = Keeper::register(store, settings, schedule_rx.clone())
            .await
            .expect("register");
        tasks.push(tokio::spawn(keeper.run(released.clone())));
        leaderships.push(leadership);
        dirs.push(dir);
    }
    // Settle: every lease taken, the first acquisitions out of the way.
    let settled = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let held: usize = leaderships.iter().map(|l| l.borrow().leads().len()).sum();
        if held == n || tokio::time::Instant::now() > settled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(RENEW * 2).await;
    let (tx0, up0) = db_stats(&url).await;
    let cpu0 = Cpu::now(Some(pg));
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let cpu = Cpu::now(Some(pg)).since(cpu0);
    let (tx1, up1) = db_stats(&url).await;
    let held = leaderships
        .iter()
        .map(|l| l.borrow().leads().len())
        .collect();
    released.cancel();
    for t in tasks {
        let _ = t.await;
    }
    let s = secs as f64;
    Upkeep {
        debates: n,
        held,
        // The two statistics reads are transactions too.
        tx_per_s: (tx1 - tx0 - 1) as f64 / s,
        updates_per_s: (up1 - up0) as f64 / s,
        server_cpu_per_s: cpu.server.as_secs_f64() / s,
        keeper_cpu_per_s: cpu.ours.as_secs_f64() / s / REPLICAS as f64,
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let secs: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(20);
    let mut ns: Vec<usize> = args.iter().skip(1).filter_map(|a| a.parse().ok()).collect();
    if ns.is_empty() {
        ns = vec![100, 1000, 3000];
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = support::postgres::postgres();
    println!(
        "lease upkeep: {REPLICAS} replicas, renew {RENEW:?}, ttl {TTL:?}, {secs} s per size \
         (load average at the start: {})",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    println!(
        "{:>8}  {:>14}  {:>15}  {:>17}  {:>19}  held per replica",
        "debates", "transactions/s", "rows updated/s", "server CPU (ms/s)", "keeper CPU (ms/s)"
    );
    for n in ns {
        let u = rt.block_on(upkeep(n, secs, &server.data));
        println!(
            "{:>8}  {:>14.2}  {:>15.1}  {:>17.2}  {:>19.2}  {:?}",
            u.debates,
            u.tx_per_s,
            u.updates_per_s,
            u.server_cpu_per_s * 1000.0,
            u.keeper_cpu_per_s * 1000.0,
            u.held
        );
    }
}
