//! The store on a real file: WAL mode, migrations applied once, and the
//! unique key that makes each post happen once, ever; and the presence
//! records from which transcripts learn when Podium was disconnected.

mod support;

use podium::store::{NewPost, PostKind, PostStatus, Store};
use sqlx::ConnectOptions;

use podium::domain::Network;
use support::store::{memory_store, occurrence, presence};
use support::utc;

fn post(occurrence_id: i64) -> NewPost<'static> {
    NewPost {
        occurrence_id,
        room: "#d:example.org",
        kind: PostKind::Question,
        seq: 3,
        body: "Q3: Why?",
        question_text: Some("Why?"),
        due_at: utc("2030-01-01T20:40:00Z"),
        late: false,
        status: PostStatus::Sending,
    }
}

#[tokio::test]
async fn a_question_is_claimed_once_even_across_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let start = utc("2030-01-01T20:00:00Z");
    let first = {
        let store = Store::open(dir.path()).await.unwrap();
        let occ = store.occurrence(&occurrence(start)).await.unwrap();
        let (row, inserted) = store.claim_post(&post(occ.id)).await.unwrap();
        assert!(inserted);
        store.mark_sent(row.id, start, "$event").await.unwrap();
        row
    };
    // A new process: migrations are not applied twice, the claim is still there.
    let store = Store::open(dir.path()).await.unwrap();
    let occ = store.occurrence(&occurrence(start)).await.unwrap();
    let (again, inserted) = store.claim_post(&post(occ.id)).await.unwrap();
    assert!(!inserted, "the second claim must not create a second post");
    assert_eq!(again.id, first.id);
    assert_eq!(again.status, PostStatus::Sent);
    assert_eq!(again.network_id.as_deref(), Some("$event"));
    assert_eq!(store.occurrences_of("d").await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_database_is_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).await.unwrap());
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("podium.db"))
        .connect()
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn an_unusable_data_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let err = Store::open(&file).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot create the data directory"),
        "{err}"
    );
}

#[tokio::test]
async fn reading_needs_no_lock_and_refuses_a_database_not_yet_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let start = utc("2030-01-01T20:00:00Z");
    store.occurrence(&occurrence(start)).await.unwrap();
    // A writer holds the directory: a second writer is refused, a reader is not.
    let err = Store::open(dir.path()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("is in use by another Podium (process "),
        "{err}"
    );
    let reader = Store::open_read_only(dir.path()).await.unwrap();
    assert_eq!(
        reader.occurrences_of("d").await.unwrap()[0].questions,
        ["Why?"]
    );
    drop((store, reader));

    // As if the newest migration had not been applied yet.
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("podium.db"))
        .connect()
        .await
        .unwrap();
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    drop(conn);
    let err = Store::open_read_only(dir.path()).await.unwrap_err();
    assert!(
        err.to_string().contains("was written by an older Podium"),
        "{err}"
    );
}

/// With a retention period, the answers of occurrences that started
/// before it are removed, and the occurrence says when.
#[tokio::test]
async fn old_answers_are_purged_and_the_occurrence_says_so() {
    use podium::store::{NewReply, WriteOp};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let old = utc("2030-01-01T20:00:00Z");
    let recent = utc("2030-03-01T20:00:00Z");
    let mut ids = Vec::new();
    for start in [old, recent] {
        let occ = store.occurrence(&occurrence(start)).await.unwrap();
        ids.push(occ.id);
        let reply = NewReply {
            occurrence_id: occ.id,
            network: "matrix".into(),
            room: "#d:example.org".into(),
            sender_id: "@a:example.org".into(),
            sender_name: "a".into(),
            body: "A1: kept or not".into(),
            question: Some(1),
            attributed_by: podium::domain::AttributedBy::Tag,
            network_id: format!("$r{}", occ.id),
            in_reply_to: None,
            server_ts: Some(start),
            received_at: start,
            action: false,
        };
        store
            .write_batch(&[WriteOp::Insert(reply)], &[])
            .await
            .unwrap();
    }
    let now = utc("2030-03-02T00:00:00Z");
    let gone = store
        .purge_before(now - chrono::Duration::days(30), now)
        .await
        .unwrap();
    assert_eq!(gone, 1);
    assert!(store.replies(ids[0]).await.unwrap().is_empty());
    assert_eq!(store.replies(ids[1]).await.unwrap().len(), 1);
    let rows = store.occurrences_of("d").await.unwrap();
    let purged: Vec<bool> = rows.iter().map(|r| r.purged_at.is_some()).collect();
    assert_eq!(purged, [false, true], "newest first");
    let t = podium::transcript::build(&store, &rows[1], now)
        .await
        .unwrap();
    assert!(
        t.render(podium::transcript::Format::Md)
            .contains("The answers were removed on 2030-03-02")
    );
}

/// The absences of IRC between 20:00 and 21:00, as (from, until) text.
async fn irc_absences(store: &Store) -> Vec<(String, String)> {
    store
        .absences(
            Network::Irc,
            utc("2030-01-01T20:00:00Z"),
            utc("2030-01-01T21:00:00Z"),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|(a, b)| (podium::store::ts(a), podium::store::ts(b)))
        .collect()
}

fn spans(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (podium::store::ts(utc(a)), podium::store::ts(utc(b))))
        .collect()
}

/// A network Podium never recorded presence for (the in-memory chat, IRC
/// not configured) is never shown as absent.
#[tokio::test]
async fn no_presence_ever_recorded_means_no_absence() {
    let store = memory_store().await;
    assert_eq!(irc_absences(&store).await, spans(&[]));
    // Presence recorded only after the window: still nothing known of it.
    presence(
        &store,
        Network::Irc,
        utc("2030-01-02T10:00:00Z"),
        utc("2030-01-02T11:00:00Z"),
    )
    .await;
    assert_eq!(irc_absences(&store).await, spans(&[]));
}

#[tokio::test]
async fn presence_covering_the_window_means_no_absence() {
    let store = memory_store().await;
    presence(
        &store,
        Network::Irc,
        utc("2030-01-01T19:00:00Z"),
        utc("2030-01-01T21:30:00Z"),
    )
    .await;
    assert_eq!(irc_absences(&store).await, spans(&[]));
}

#[tokio::test]
async fn a_gap_between_two_presences_is_an_absence_and_a_short_one_is_not() {
    let store = memory_store().await;
    for (since, until) in [
        ("2030-01-01T19:00:00Z", "2030-01-01T20:14:10Z"),
        // A reconnection after 2 s: below the minimum, not reported.
        ("2030-01-01T20:14:12Z", "2030-01-01T20:30:00Z"),
        ("2030-01-01T20:32:30Z", "2030-01-01T22:00:00Z"),
    ] {
        presence(&store, Network::Irc, utc(since), utc(until)).await;
    }
    assert_eq!(
        irc_absences(&store).await,
        spans(&[("2030-01-01T20:30:00Z", "2030-01-01T20:32:30Z")])
    );
}

/// Podium started late (nothing covers the start), and crashed or lost the
/// connection before the end (the last presence ends early).
#[tokio::test]
async fn absences_at_the_start_and_at_the_end_of_the_window() {
    let store = memory_store().await;
    // Known earlier: Podium was hosting on IRC before this debate.
    presence(
        &store,
        Network::Irc,
        utc("2030-01-01T10:00:00Z"),
        utc("2030-01-01T11:00:00Z"),
    )
    .await;
    presence(
        &store,
        Network::Irc,
        utc("2030-01-01T20:03:00Z"),
        utc("2030-01-01T20:50:00Z"),
    )
    .await;
    assert_eq!(
        irc_absences(&store).await,
        spans(&[
            ("2030-01-01T20:00:00Z", "2030-01-01T20:03:00Z"),
            ("2030-01-01T20:50:00Z", "2030-01-01T21:00:00Z"),
        ])
    );
}

#[tokio::test]
async fn overlapping_presences_are_merged() {
    let store = memory_store().await;
    // Two connections at once (a restart overlapping the old process's
    // last write, say), one inside another, and one that reaches the end.
    for (since, until) in [
        ("2030-01-01T19:00:00Z", "2030-01-01T20:20:00Z"),
        ("2030-01-01T20:10:00Z", "2030-01-01T20:40:00Z"),
        ("2030-01-01T20:15:00Z", "2030-01-01T20:16:00Z"),
        ("2030-01-01T20:45:00Z", "2030-01-01T21:00:00Z"),
    ] {
        presence(&store, Network::Irc, utc(since), utc(until)).await;
    }
    assert_eq!(
        irc_absences(&store).await,
        spans(&[("2030-01-01T20:40:00Z", "2030-01-01T20:45:00Z")])
    );
}

#[tokio::test]
async fn another_networks_presence_does_not_count() {
    let store = memory_store().await;
    presence(
        &store,
        Network::Matrix,
        utc("2030-01-01T19:00:00Z"),
        utc("2030-01-01T22:00:00Z"),
    )
    .await;
    assert_eq!(irc_absences(&store).await, spans(&[]), "IRC never seen");
    presence(
        &store,
        Network::Irc,
        utc("2030-01-01T19:00:00Z"),
        utc("2030-01-01T20:30:00Z"),
    )
    .await;
    assert_eq!(
        irc_absences(&store).await,
        spans(&[("2030-01-01T20:30:00Z", "2030-01-01T21:00:00Z")])
    );
}

/// Extending moves a row's end forward only; a later extension covers all
/// the time since the row began (one that failed is made good by the next).
#[tokio::test]
async fn extending_a_presence_only_moves_it_forward() {
    let store = memory_store().await;
    let id = presence(
        &store,
        Network::Irc,
        utc("2030-01-01T19:00:00Z"),
        utc("2030-01-01T20:20:00Z"),
    )
    .await;
    store
        .presence_extend(id, utc("2030-01-01T20:10:00Z"))
        .await
        .unwrap();
    assert_eq!(
        irc_absences(&store).await,
        spans(&[("2030-01-01T20:20:00Z", "2030-01-01T21:00:00Z")])
    );
    store
        .presence_extend(id, utc("2030-01-01T21:00:00Z"))
        .await
        .unwrap();
    assert_eq!(irc_absences(&store).await, spans(&[]));
}

/// The retention purge removes presence records from before its cutoff
/// (with two days' margin for a debate started a day early).
#[tokio::test]
async fn the_purge_deletes_old_presence_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    for (since, until) in [
        ("2030-01-01T19:00:00Z", "2030-01-01T20:30:00Z"),
        ("2030-01-01T20:40:00Z", "2030-01-01T22:00:00Z"),
        ("2030-02-27T10:00:00Z", "2030-02-27T11:00:00Z"),
        ("2030-03-01T10:00:00Z", "2030-03-01T11:00:00Z"),
    ] {
        presence(&store, Network::Irc, utc(since), utc(until)).await;
    }
    assert_eq!(
        irc_absences(&store).await,
        spans(&[("2030-01-01T20:30:00Z", "2030-01-01T20:40:00Z")])
    );
    let now = utc("2030-03-31T00:00:00Z");
    store
        .purge_before(utc("2030-03-01T00:00:00Z"), now)
        .await
        .unwrap();
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("podium.db"))
        .connect()
        .await
        .unwrap();
    let left: Vec<String> = sqlx::query_scalar("SELECT since FROM presence ORDER BY since")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        left,
        ["2030-02-27T10:00:00.000Z", "2030-03-01T10:00:00.000Z"],
        "kept: inside the two days before the cutoff, and after it"
    );
    assert_eq!(irc_absences(&store).await, spans(&[]), "nothing known now");
}
