//! The PostgreSQL test server (scripts/postgres-up.sh) and the harness
//! around it (tests/support/postgres.rs), through sqlx as Podium connects:
//! databases handed to two tests of one server are independent, the role
//! logs in with its password and with no other, and a stopped server comes
//! back on its port with its data.

mod support;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection};
use support::postgres::{database, postgres, start_named_postgres};

async fn pool(url: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"))
}

/// The SQLSTATE of a database error, or the error itself.
fn sqlstate(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.code().unwrap_or_default().into_owned(),
        other => format!("not a database error: {other}"),
    }
}

async fn notes(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT body FROM notes ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn two_databases_of_one_server_do_not_see_each_other() {
    let (a, b) = (database().await, database().await);
    assert_ne!(a, b);
    let (a, b) = (pool(&a).await, pool(&b).await);

    let who: (String, String, String) = sqlx::query_as(
        "SELECT current_user::text, current_database()::text, host(inet_server_addr())",
    )
    .fetch_one(&a)
    .await
    .unwrap();
    assert_eq!(who.0, postgres().user);
    assert_eq!(who.2, "127.0.0.1");
    let other: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&b)
        .await
        .unwrap();
    assert_ne!(who.1, other);

    sqlx::query("CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)")
        .execute(&a)
        .await
        .unwrap();
    sqlx::query("INSERT INTO notes VALUES (1, 'in a')")
        .execute(&a)
        .await
        .unwrap();
    // a's table is not in b (undefined_table)...
    let err = sqlx::query("SELECT body FROM notes")
        .execute(&b)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42P01");
    // ...and b's own, under the same name, holds only b's rows.
    sqlx::query("CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)")
        .execute(&b)
        .await
        .unwrap();
    sqlx::query("INSERT INTO notes VALUES (1, 'in b'), (2, 'also in b')")
        .execute(&b)
        .await
        .unwrap();
    assert_eq!(notes(&a).await, ["in a"]);
    assert_eq!(notes(&b).await, ["in b", "also in b"]);
}

#[tokio::test]
async fn the_role_logs_in_with_its_password_and_no_other() {
    let server = postgres();
    let db = database().await;
    let name = db.rsplit('/').next().unwrap();
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&pool(&db).await)
        .await
        .unwrap();
    assert_eq!(one, 1);

    let wrong = format!(
        "postgres://{}:not-{}@127.0.0.1:{}/{name}",
        server.user, server.password, server.port
    );
    let err = PgPoolOptions::new()
        .max_connections(1)
        .connect(&wrong)
        .await
        .map(|_| ())
        .expect_err("a wrong password is refused");
    // invalid_password: the server asked for it (SCRAM) and checked it.
    assert_eq!(sqlstate(&err), "28P01", "{err}");
    assert!(
        server
            .log()
            .contains(r#"password authentication failed for user "podium""#),
        "{}",
        server.log()
    );
}

#[tokio::test]
async fn a_stopped_server_comes_back_on_its_port_with_its_data() {
    let server = start_named_postgres("restart");
    let data = server.data.clone();
    let db = server.database().await;
    let before = pool(&db).await;
    sqlx::query("CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)")
        .execute(&before)
        .await
        .unwrap();
    sqlx::query("INSERT INTO notes VALUES (1, 'kept')")
        .execute(&before)
        .await
        .unwrap();

    before.close().await;

    server.stop();
    let err = PgConnection::connect(&db)
        .await
        .map(|_| ())
        .expect_err("nothing listens");
    assert!(matches!(err, sqlx::Error::Io(_)), "{err}");

    server.start_again();
    assert_eq!(notes(&pool(&db).await).await, ["kept"]);

    drop(server);
    assert!(!data.exists(), "{} left behind", data.display());
}
