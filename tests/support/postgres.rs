//! PostgreSQL for the tests: a real server (one per test binary, started by
//! `scripts/postgres-up.sh` when the first test asks for it, and stopped
//! when the test binary exits), and a database of its own for each test
//! that asks ([`database`]), so tests sharing the server never see each
//! other's rows. As zero2prod's `configure_database` does: one
//! `CREATE DATABASE` is cheap (a few milliseconds), a server per test is
//! not (a second or so).
//!
//! The server's role (`podium`, password `podiumpass`) owns every database
//! made here and is no superuser, as Podium's own role would be in
//! production.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

/// A test PostgreSQL server. Dropping it stops it and deletes its data dir;
/// the shared one of [`postgres`] lives as long as the test binary, whose
/// exit stops it (`POSTGRES_PARENT`).
pub struct Postgres {
    /// `postgres://USER:PASSWORD@127.0.0.1:PORT/DB`, the role's own
    /// database, as the script printed it.
    pub url: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// Its data dir: the cluster, `postgres.log`, the port.
    pub data: PathBuf,
}

/// The test binary's server, started on first use.
pub fn postgres() -> &'static Postgres {
    static POSTGRES: OnceLock<Postgres> = OnceLock::new();
    POSTGRES.get_or_init(|| {
        start(&std::env::temp_dir().join(format!("podium-postgres-{}", std::process::id())))
    })
}

/// A new database on the binary's server, for one test: its URL.
pub async fn database() -> String {
    postgres().database().await
}

/// Another server of this test binary, told apart by `name`: for a test
/// that must not share its server (one that stops it, say).
pub fn start_named_postgres(name: &str) -> Postgres {
    start(&std::env::temp_dir().join(format!("podium-postgres-{}-{name}", std::process::id())))
}

impl Postgres {
    /// A new, empty database owned by the server's role, under a name no
    /// other call in this run uses: its URL.
    pub async fn database(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "test_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let mut conn = PgConnection::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.url));
        // The name is ours (letters, digits, `_`): nothing to escape.
        conn.execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        conn.close().await.ok();
        self.url_of(&name)
    }

    /// The URL of database `db` on this server, as its role.
    pub fn url_of(&self, db: &str) -> String {
        format!(
            "postgres://{}:{}@127.0.0.1:{}/{db}",
            self.user, self.password, self.port
        )
    }

    /// The URL of database `db` as the superuser `postgres` (its password
    /// is in the data dir), for what Podium's role may not do: server
    /// settings, a database's logging.
    pub fn superuser_url(&self, db: &str) -> String {
        let password = std::fs::read_to_string(self.data.join("superuser-password"))
            .expect("the superuser's password");
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/{db}",
            password.trim(),
            self.port
        )
    }

    /// Stops it (`scripts/postgres-down.sh`, data kept): an outage. Every
    /// open session ends.
    pub fn stop(&self) {
        let status = Command::new(script("postgres-down.sh"))
            .env("POSTGRES_DATA", &self.data)
            .stderr(Stdio::inherit())
            .status()
            .expect("scripts/postgres-down.sh runs");
        assert!(status.success(), "scripts/postgres-down.sh failed");
    }

    /// Starts it again after [`Postgres::stop`]: same data, same port (the
    /// script remembers it).
    pub fn start_again(&self) {
        let url = postgres_up(&self.data);
        assert_eq!(url, self.url, "PostgreSQL came back on another port");
    }

    /// Its log (`postgres.log`), for failure reports.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("postgres.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Quietly, and never a panic in a drop: the watchdog is the backstop.
        let _ = Command::new(script("postgres-down.sh"))
            .arg("--wipe")
            .env("POSTGRES_DATA", &self.data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

/// `scripts/postgres-up.sh` on `data`, on a free port, stopped (and `data`
/// deleted) when this test binary exits: the URL it printed.
fn postgres_up(data: &Path) -> String {
    let out = Command::new(script("postgres-up.sh"))
        .env("POSTGRES_DATA", data)
        .env("POSTGRES_PORT", "0")
        .env("POSTGRES_PARENT", std::process::id().to_string())
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/postgres-up.sh runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "scripts/postgres-up.sh failed: {stdout}"
    );
    stdout.lines().last().expect("the URL").trim().to_owned()
}

/// The server [`postgres_up`] started on `data`.
fn start(data: &Path) -> Postgres {
    let url = postgres_up(data);
    // postgres://USER:PASSWORD@127.0.0.1:PORT/DB
    let parse = || {
        let rest = url.strip_prefix("postgres://")?;
        let (user, rest) = rest.split_once(':')?;
        let (password, rest) = rest.split_once("@127.0.0.1:")?;
        let (port, _db) = rest.split_once('/')?;
        Some((user.to_owned(), password.to_owned(), port.parse().ok()?))
    };
    let (user, password, port) =
        parse().unwrap_or_else(|| panic!("scripts/postgres-up.sh printed no URL: {url}"));
    Postgres {
        url,
        port,
        user,
        password,
        data: data.to_owned(),
    }
}
