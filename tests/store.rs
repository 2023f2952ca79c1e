//! The store on both backends, SQLite in a data directory and a real
//! PostgreSQL (`scripts/postgres-up.sh`), one suite: migrations applied
//! once, the unique key that makes each post happen once, ever, one writer
//! at a time, readers that need no lock, retention; and the presence
//! records from which transcripts learn when Podium was disconnected.

mod support;

use podium::store::{NewPost, NewProposal, PostKind, PostStatus, Proposed, Store, WriteOp};
use sqlx::ConnectOptions;

use podium::domain::Network;
use support::store::{occurrence, presence};
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

on_both_backends! {
async fn an_answer_is_stored_once_and_the_leaders_copy_sets_its_question(place) {
    // With replicas every one stores what it receives: the first copy is
    // kept, but the leader's (which knows the time line exactly) corrects
    // the question a follower filed it under, unless its author edited it.
    use podium::store::{NewReply, WriteOp};
    let store = place.open().await;
    let start = utc("2030-01-01T20:00:00Z");
    let occ = store.occurrence(&occurrence(start)).await.unwrap();
    let copy = |id: &str, question: u32, led: bool| NewReply {
        occurrence_id: occ.id,
        network: "matrix".into(),
        room: "#d:example.org".into(),
        sender_id: "@a:example.org".into(),
        sender_name: "a".into(),
        body: "right after Q2".into(),
        question: Some(question),
        attributed_by: podium::domain::AttributedBy::Latest,
        network_id: id.into(),
        in_reply_to: None,
        server_ts: Some(start),
        received_at: start,
        action: false,
        led,
    };
    let write = |ops: Vec<NewReply>| {
        let store = store.clone();
        async move {
            let ops: Vec<WriteOp> = ops.into_iter().map(WriteOp::Insert).collect();
            store.write_batch(&ops, &[]).await.unwrap();
        }
    };
    // A follower's copy first, then the leader's, then another follower's
    // (the same event twice in one batch too).
    write(vec![copy("$x", 1, false)]).await;
    write(vec![copy("$x", 2, true), copy("$x", 2, true)]).await;
    write(vec![copy("$x", 3, false)]).await;
    // An edited answer keeps what its edit made of it.
    write(vec![copy("$y", 1, false)]).await;
    store
        .write_batch(
            &[WriteOp::Edit {
                network: "matrix".into(),
                room: "#d:example.org".into(),
                target: "$y".into(),
                sender: "@a:example.org".into(),
                body: "A1: edited".into(),
                question: Some(1),
                at: start,
            }],
            &[],
        )
        .await
        .unwrap();
    write(vec![copy("$y", 2, true)]).await;
    let replies = store.replies(occ.id).await.unwrap();
    let got: Vec<(&str, Option<u32>)> = replies
        .iter()
        .map(|r| (r.network_id.as_str(), r.question))
        .collect();
    assert_eq!(got, [("$x", Some(2)), ("$y", Some(1))]);
}
}

on_both_backends! {
async fn extensions_are_kept_in_order_and_lengthen_the_occurrence(place) {
    let start = utc("2030-01-01T20:00:00Z");
    let store = place.open().await;
    let occ = store.occurrence(&occurrence(start)).await.unwrap();
    let before = occ.duration.expect("a duration");
    let fingerprint = store.fingerprint(occ.id).await.unwrap();
    store
        .add_extension(occ.id, utc("2030-01-01T20:20:00Z"), 600)
        .await
        .unwrap();
    store
        .add_extension(occ.id, utc("2030-01-01T20:10:00Z"), 300)
        .await
        .unwrap();
    // The same instant twice is refused, and changes nothing.
    assert!(
        store
            .add_extension(occ.id, utc("2030-01-01T20:10:00Z"), 60)
            .await
            .is_err()
    );
    drop(store);
    let store = place.open().await;
    assert_eq!(
        store.extensions(occ.id).await.unwrap(),
        [
            (utc("2030-01-01T20:10:00Z"), 300),
            (utc("2030-01-01T20:20:00Z"), 600)
        ]
    );
    let occ = store.occurrences_of(&occ.debate).await.unwrap()[0].clone();
    assert_eq!(occ.duration, Some(before + chrono::Duration::minutes(15)));
    // The page of the debate is rendered afresh: its end moved.
    assert_ne!(store.fingerprint(occ.id).await.unwrap(), fingerprint);
}
}

on_both_backends! {
async fn a_persons_zone_is_kept_used_and_purged_by_retention(place) {
    let store = place.open().await;
    let t = |s: &str| utc(s);
    store.set_zone("@ann:example.org", "Europe/Berlin", t("2030-01-01T00:00:00Z")).await.unwrap();
    store.set_zone("irc:bob", "Asia/Tokyo", t("2030-01-01T00:00:00Z")).await.unwrap();
    store.set_zone("irc:bob", "Europe/Paris", t("2030-01-02T00:00:00Z")).await.unwrap();
    assert_eq!(
        store.zone_of("irc:bob", t("2030-01-02T00:00:00Z")).await.unwrap().as_deref(),
        Some("Europe/Paris")
    );
    // Ann's zone is read (so used) later; retention then removes only
    // zones unused since its cutoff.
    assert_eq!(
        store.zone_of("@ann:example.org", t("2030-03-01T00:00:00Z")).await.unwrap().as_deref(),
        Some("Europe/Berlin")
    );
    store.purge_before(t("2030-02-01T00:00:00Z"), t("2030-03-02T00:00:00Z")).await.unwrap();
    assert_eq!(store.zone_of("irc:bob", t("2030-03-02T00:00:00Z")).await.unwrap(), None);
    assert!(store.zone_of("@ann:example.org", t("2030-03-02T00:00:00Z")).await.unwrap().is_some());
    assert!(store.clear_zone("@ann:example.org").await.unwrap());
    assert!(!store.clear_zone("@ann:example.org").await.unwrap());
    assert_eq!(store.zone_of("@ann:example.org", t("2030-03-02T00:00:00Z")).await.unwrap(), None);
}
}

/// A proposal from `who` on `network`, made by message `id` in `room`.
fn proposal<'a>(
    occurrence_id: i64,
    who: &'a str,
    network: &'a str,
    room: &'a str,
    id: &'a str,
) -> NewProposal<'a> {
    NewProposal {
        occurrence_id,
        text: "What about the others?",
        proposer_id: who,
        proposer_name: who.trim_start_matches("irc:").trim_start_matches('@'),
        network,
        room,
        network_id: id,
        at: utc("2030-01-01T20:05:00Z"),
    }
}

on_both_backends! {
async fn proposals_are_numbered_once_per_occurrence_and_voted_once_per_person(place) {
    let store = place.open().await;
    let start = utc("2030-01-01T20:00:00Z");
    let occ = store.occurrence(&occurrence(start)).await.unwrap();
    let other = store
        .occurrence(&occurrence(utc("2030-01-08T20:00:00Z")))
        .await
        .unwrap();
    let new = |p: Proposed| match p {
        Proposed::New(row) => row,
        other => panic!("not stored anew: {other:?}"),
    };
    // Numbered across rooms and networks.
    let p1 = new(store.propose(&proposal(occ.id, "@ann:example.org", "matrix", "!d:example.org", "$1")).await.unwrap());
    let p2 = new(store.propose(&proposal(occ.id, "irc:bob", "irc", "#d", "irc-1")).await.unwrap());
    let p3 = new(store.propose(&proposal(occ.id, "@cat:example.org", "matrix", "!e:example.org", "$2")).await.unwrap());
    assert_eq!([p1.number, p2.number, p3.number], [1, 2, 3]);
    assert_eq!(p2.proposer_id, "irc:bob");
    assert_eq!(p2.network, "irc");
    assert_eq!(p2.proposed_at, utc("2030-01-01T20:05:00Z"));
    assert_eq!((p2.asked_as, p2.votes), (None, 0));
    assert_eq!(store.proposal(occ.id, 2).await.unwrap(), Some(p2.clone()));
    // Ann's first is still open: her second is not stored.
    let again = store.propose(&proposal(occ.id, "@ann:example.org", "matrix", "!d:example.org", "$3")).await.unwrap();
    assert_eq!(again, Proposed::AlreadyOpen(p1.clone()));
    // The same message again (a replayed event) is the same proposal.
    let replayed = store.propose(&proposal(occ.id, "irc:bob", "irc", "#d", "irc-1")).await.unwrap();
    assert_eq!(replayed, Proposed::Duplicate(p2.clone()));
    assert_eq!(store.proposals(occ.id).await.unwrap().len(), 3, "nothing inserted");
    assert_eq!(store.proposal(occ.id, 4).await.unwrap(), None);
    // Once hers is asked, Ann may propose again.
    assert!(store.mark_asked(p1.id, 2).await.unwrap());
    assert!(!store.mark_asked(p1.id, 3).await.unwrap(), "asked already");
    let p4 = new(store.propose(&proposal(occ.id, "@ann:example.org", "matrix", "!d:example.org", "$3")).await.unwrap());
    assert_eq!(p4.number, 4);
    // Each occurrence numbers its own.
    let q1 = new(store.propose(&proposal(other.id, "@ann:example.org", "matrix", "!d:example.org", "$4")).await.unwrap());
    assert_eq!(q1.number, 1);

    let at = utc("2030-01-01T20:06:00Z");
    assert!(store.vote(p2.id, "@ann:example.org", at).await.unwrap());
    assert!(!store.vote(p2.id, "@ann:example.org", at).await.unwrap(), "one vote each");
    assert!(store.vote(p2.id, "irc:dan", at).await.unwrap());
    assert!(store.vote(q1.id, "irc:dan", at).await.unwrap());
    // Votes by reaction (Matrix 👍) are written with the incoming events,
    // to the message that made the proposal; one's own counts for nothing.
    let react = |who: &str, target: &str, reaction: &str| WriteOp::Vote {
        network: "matrix".into(),
        room: "!e:example.org".into(),
        target: target.into(),
        voter: who.into(),
        reaction: reaction.into(),
        at,
    };
    let touched = store
        .write_batch(
            &[
                react("@ann:example.org", "$2", "$r2"),
                react("@ann:example.org", "$2", "$r2b"),
                react("@cat:example.org", "$2", "$own"),
                react("@dan:example.org", "$nothing", "$r3"),
            ],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(touched, [1, 0, 0, 0]);
    assert_eq!(store.proposal(occ.id, 2).await.unwrap().unwrap().votes, 2);
    assert!(store.unvote(p2.id, "irc:dan").await.unwrap());
    assert!(!store.unvote(p2.id, "irc:dan").await.unwrap(), "withdrawn already");
    // A redacted reaction withdraws the vote it cast, only by its voter.
    let withdraw = |by: &str, target: &str| WriteOp::Delete {
        network: "matrix".into(),
        room: "!e:example.org".into(),
        target: target.into(),
        only_by: Some(by.into()),
        at,
    };
    let touched = store
        .write_batch(&[withdraw("@cat:example.org", "$r2"), withdraw("@ann:example.org", "$r2")], &[])
        .await
        .unwrap();
    assert_eq!(touched, [0, 1]);
    assert_eq!(store.proposal(occ.id, 3).await.unwrap().unwrap().votes, 0);
    // Deleting the message that made a proposal withdraws it (its
    // proposer's deletion, or a moderator's) unless it was asked: text and
    // name erased, votes gone, its number still used.
    assert!(store.vote(p3.id, "irc:dan", at).await.unwrap());
    let touched = store
        .write_batch(
            &[
                withdraw("@ann:example.org", "$2"),
                withdraw("@cat:example.org", "$2"),
                withdraw("@cat:example.org", "$2"),
            ],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(touched, [0, 1, 0]);
    let gone = store.proposal(occ.id, 3).await.unwrap().unwrap();
    assert!(gone.withdrawn_at.is_some());
    assert_eq!((gone.text.as_str(), gone.proposer_name.as_str(), gone.votes), ("", "", 0));
    let asked = WriteOp::Delete {
        network: "matrix".into(),
        room: "!d:example.org".into(),
        target: "$1".into(),
        only_by: None,
        at,
    };
    assert_eq!(store.write_batch(&[asked], &[]).await.unwrap(), [0], "asked: it stays");
    let p5 = new(store.propose(&proposal(occ.id, "@cat:example.org", "matrix", "!e:example.org", "$5")).await.unwrap());
    assert_eq!(p5.number, 5, "a withdrawn proposal is not open, and keeps its number");
    let got: Vec<(i64, Option<i64>, i64)> = store
        .proposals(occ.id)
        .await
        .unwrap()
        .iter()
        .map(|p| (p.number, p.asked_as, p.votes))
        .collect();
    assert_eq!(got, [(1, Some(2), 0), (2, None, 1), (3, None, 0), (4, None, 0), (5, None, 0)]);
    assert_eq!(store.proposals(other.id).await.unwrap()[0].votes, 1);

    // Kept across a restart, and a reader sees them.
    drop(store);
    let reader = place.reader().await;
    assert_eq!(reader.proposals(occ.id).await.unwrap().len(), 5);
}
}

on_both_backends! {
/// Proposals made at the same moment (on PostgreSQL, over several
/// connections) each get a number of their own, with none skipped.
async fn proposals_made_at_once_get_numbers_of_their_own(place) {
    let store = place.open().await;
    let occ = store.occurrence(&occurrence(utc("2030-01-01T20:00:00Z"))).await.unwrap();
    let people: Vec<(String, String)> = (0..16).map(|i| (format!("irc:p{i}"), format!("m{i}"))).collect();
    let made = futures_util::future::join_all(people.iter().map(|(who, id)| {
        let store = store.clone();
        async move {
            store.propose(&proposal(occ.id, who, "irc", "#d", id)).await.unwrap()
        }
    }))
    .await;
    let mut numbers: Vec<i64> = made
        .into_iter()
        .map(|p| match p {
            Proposed::New(row) => row.number,
            other => panic!("not stored anew: {other:?}"),
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=16).collect::<Vec<i64>>());
}
}

on_both_backends! {
/// Retention removes the proposals and votes of the occurrences it purges,
/// and marks an occurrence that had only proposals purged too.
async fn retention_removes_proposals_and_votes(place) {
    let store = place.open().await;
    let old = store.occurrence(&occurrence(utc("2030-01-01T20:00:00Z"))).await.unwrap();
    let recent = store.occurrence(&occurrence(utc("2030-03-01T20:00:00Z"))).await.unwrap();
    for (occ, id) in [(&old, "$old"), (&recent, "$recent")] {
        let Proposed::New(p) = store
            .propose(&proposal(occ.id, "@ann:example.org", "matrix", "!d:example.org", id))
            .await
            .unwrap()
        else {
            panic!("not stored")
        };
        store.vote(p.id, "irc:bob", utc("2030-01-01T20:06:00Z")).await.unwrap();
        store.vote(p.id, "@cat:example.org", utc("2030-01-01T20:06:00Z")).await.unwrap();
        // Asked as Q2, crediting her.
        store.mark_asked(p.id, 2).await.unwrap();
        let credited = "What about the others? (proposed by ann:example.org)";
        let body = format!("Q2: {credited}");
        store
            .claim_post(&NewPost {
                occurrence_id: occ.id,
                room: "!d:example.org",
                kind: PostKind::Question,
                seq: 2,
                body: &body,
                question_text: Some(credited),
                due_at: occ.scheduled_start,
                late: false,
                status: PostStatus::Sending,
            })
            .await
            .unwrap();
    }
    let fingerprint = store.fingerprint(old.id).await.unwrap();
    let now = utc("2030-03-02T00:00:00Z");
    store.purge_before(now - chrono::Duration::days(30), now).await.unwrap();
    assert!(store.proposals(old.id).await.unwrap().is_empty());
    // The old question stays, without the name; the recent one keeps it.
    let text = |id| {
        let store = store.clone();
        async move { store.posts(id).await.unwrap().remove(0).question_text }
    };
    assert_eq!(text(old.id).await.as_deref(), Some("What about the others?"));
    assert_eq!(
        text(recent.id).await.as_deref(),
        Some("What about the others? (proposed by ann:example.org)")
    );
    let kept = store.proposals(recent.id).await.unwrap();
    assert_eq!(kept.iter().map(|p| (p.number, p.votes)).collect::<Vec<_>>(), [(1, 2)]);
    let purged: Vec<bool> = store
        .occurrences_of("d")
        .await
        .unwrap()
        .iter()
        .map(|r| r.purged_at.is_some())
        .collect();
    assert_eq!(purged, [false, true], "newest first");
    assert_ne!(store.fingerprint(old.id).await.unwrap(), fingerprint);
}
}

on_both_backends! {
/// The page of a debate is rendered afresh when a proposal is made,
/// asked or withdrawn, a vote is cast or withdrawn, someone registers, or
/// a proposer is forgotten.
async fn the_fingerprint_follows_proposals_and_votes(place) {
    let store = place.open().await;
    let occ = store.occurrence(&occurrence(utc("2030-01-01T20:00:00Z"))).await.unwrap();
    let mut seen = vec![store.fingerprint(occ.id).await.unwrap()];
    let mut changed = |f: String| {
        assert!(!seen.contains(&f), "{f} seen before: {seen:?}");
        seen.push(f);
    };
    let at = utc("2030-01-01T20:06:00Z");
    let propose = |who: &'static str, id: &'static str| {
        let store = store.clone();
        async move {
            match store.propose(&proposal(occ.id, who, "irc", "#d", id)).await.unwrap() {
                Proposed::New(p) => p.id,
                other => panic!("not stored anew: {other:?}"),
            }
        }
    };
    let p1 = propose("irc:ann", "m1").await;
    changed(store.fingerprint(occ.id).await.unwrap());
    let p2 = propose("irc:bob", "m2").await;
    changed(store.fingerprint(occ.id).await.unwrap());
    store.vote(p1, "irc:cat", at).await.unwrap();
    changed(store.fingerprint(occ.id).await.unwrap());
    // The same number of votes, on another proposal.
    store.unvote(p1, "irc:cat").await.unwrap();
    store.vote(p2, "irc:cat", at).await.unwrap();
    changed(store.fingerprint(occ.id).await.unwrap());
    store.mark_asked(p1, 2).await.unwrap();
    changed(store.fingerprint(occ.id).await.unwrap());
    store.unvote(p2, "irc:cat").await.unwrap();
    changed(store.fingerprint(occ.id).await.unwrap());
    // Bob deletes his `!propose`: withdrawn, with no vote to lose.
    let delete = WriteOp::Delete {
        network: "irc".into(),
        room: "#d".into(),
        target: "m2".into(),
        only_by: Some("irc:bob".into()),
        at,
    };
    assert_eq!(store.write_batch(&[delete], &[]).await.unwrap(), [1]);
    changed(store.fingerprint(occ.id).await.unwrap());
    store.rsvp(occ.id, "irc:dan", "dan", "irc", at).await.unwrap();
    changed(store.fingerprint(occ.id).await.unwrap());
    // Ann asks to be forgotten: her asked proposal loses its proposer.
    store.forget("irc:ann", at).await.unwrap();
    changed(store.fingerprint(occ.id).await.unwrap());
}
}

on_both_backends! {
async fn a_question_is_claimed_once_even_across_reopens(place) {
    let start = utc("2030-01-01T20:00:00Z");
    let first = {
        let store = place.open().await;
        let occ = store.occurrence(&occurrence(start)).await.unwrap();
        let (row, inserted) = store.claim_post(&post(occ.id)).await.unwrap();
        assert!(inserted);
        store.mark_sent(row.id, start, "$event").await.unwrap();
        row
    };
    // A new process: migrations are not applied twice, the claim is still there.
    let store = place.open().await;
    let occ = store.occurrence(&occurrence(start)).await.unwrap();
    let (again, inserted) = store.claim_post(&post(occ.id)).await.unwrap();
    assert!(!inserted, "the second claim must not create a second post");
    assert_eq!(again.id, first.id);
    assert_eq!(again.status, PostStatus::Sent);
    assert_eq!(again.network_id.as_deref(), Some("$event"));
    assert_eq!(store.occurrences_of("d").await.unwrap().len(), 1);
}
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

on_both_backends! {
async fn reading_needs_no_lock_and_refuses_a_database_not_yet_upgraded(place) {
    let store = place.open().await;
    let start = utc("2030-01-01T20:00:00Z");
    store.occurrence(&occurrence(start)).await.unwrap();
    // A writer holds the directory (and on PostgreSQL the database): a
    // second writer is refused, saying who holds it; a reader is not.
    let err = Store::open_at(&place.db, place.dir.path()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("is in use by another Podium (process "),
        "{err}"
    );
    let other_dir = tempfile::tempdir().unwrap();
    if place.is_postgres() {
        // Another data directory, the same database: refused too.
        let err = Store::open_at(&place.db, other_dir.path()).await.unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("is in use by another Podium (podium writer (pid ")
                && msg.contains(&format!("(pid {})", std::process::id())),
            "{msg}"
        );
        assert!(!msg.contains("podiumpass"), "no password in {msg}");
    }
    let reader = place.reader().await;
    assert_eq!(
        reader.occurrences_of("d").await.unwrap()[0].questions,
        ["Why?"]
    );
    if place.is_postgres() {
        // A reader's transactions are read-only.
        let err = reader.set_ended(1, start).await.unwrap_err();
        assert!(err.to_string().contains("read-only"), "{err}");
    }
    drop((store, reader));

    // As if the newest migration had not been applied yet.
    place
        .execute(
            "DELETE FROM _sqlx_migrations \
             WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
        )
        .await;
    let err = Store::open_readers_at(&place.db, place.dir.path(), 1)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("was written by an older Podium"),
        "{err}"
    );
}
}

/// A wrong password, or no server at all, is a clear error at start that
/// names the database without its password.
#[tokio::test]
async fn a_database_that_refuses_us_is_named_without_its_password() {
    let url = support::postgres::database().await;
    let wrong = url.replace(":podiumpass@", ":wrongpass@");
    assert_ne!(wrong, url);
    let dir = tempfile::tempdir().unwrap();
    for (url, expect) in [
        (wrong, "password authentication failed"),
        (
            // A port nothing listens on (the server's own, plus one, is
            // not PostgreSQL's).
            "postgres://podium:s3cret@127.0.0.1:1/podium".to_owned(),
            "Connection refused",
        ),
    ] {
        let db = podium::store::Database {
            url: Some(url.clone()),
            pool: 2,
        };
        let err = Store::open_at(&db, dir.path()).await.unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("cannot use the database at postgres://podium:***@127.0.0.1:"),
            "{msg}"
        );
        assert!(msg.contains(expect), "{msg}");
        assert!(
            !msg.contains("wrongpass") && !msg.contains("s3cret"),
            "{msg}"
        );
    }
}

on_both_backends! {
/// With a retention period, the answers of occurrences that started
/// before it are removed, and the occurrence says when.
async fn old_answers_are_purged_and_the_occurrence_says_so(place) {
    use podium::store::{NewReply, WriteOp};
    let store = place.open().await;
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
            led: true,
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

on_both_backends! {
/// A network Podium never recorded presence for (the in-memory chat, IRC
/// not configured) is never shown as absent.
async fn no_presence_ever_recorded_means_no_absence(place) {
    let store = place.open().await;
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

async fn presence_covering_the_window_means_no_absence(place) {
    let store = place.open().await;
    presence(
        &store,
        Network::Irc,
        utc("2030-01-01T19:00:00Z"),
        utc("2030-01-01T21:30:00Z"),
    )
    .await;
    assert_eq!(irc_absences(&store).await, spans(&[]));
}

async fn a_gap_between_two_presences_is_an_absence_and_a_short_one_is_not(place) {
    let store = place.open().await;
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
async fn absences_at_the_start_and_at_the_end_of_the_window(place) {
    let store = place.open().await;
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

async fn overlapping_presences_are_merged(place) {
    let store = place.open().await;
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

async fn another_networks_presence_does_not_count(place) {
    let store = place.open().await;
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
async fn extending_a_presence_only_moves_it_forward(place) {
    let store = place.open().await;
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
async fn the_purge_deletes_old_presence_rows(place) {
    let store = place.open().await;
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
    assert_eq!(irc_absences(&store).await, spans(&[]), "nothing known now");
    // Kept: the rows inside the two days before the cutoff, and after it.
    let absent = |from, until| {
        let store = store.clone();
        async move {
            store
                .absences(Network::Irc, utc(from), utc(until))
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(absent("2030-02-27T09:00:00Z", "2030-02-27T12:00:00Z").await, 2);
    assert_eq!(absent("2030-03-01T09:00:00Z", "2030-03-01T12:00:00Z").await, 2);
}
}

/// `podium run` with a database that refuses it (a wrong password) or
/// is already in use by another Podium stops at once with status 78, the
/// configuration error a supervisor should not restart on, naming the
/// database without its password; `podium config` shows the URL the same
/// way.
#[tokio::test]
async fn podium_run_refuses_a_database_it_cannot_use_with_status_78() {
    use support::cli::{output, podium_in, setup};
    let url = support::postgres::database().await;
    let s = setup(support::rehearsal::drill("40m", "[Only?]").as_str());
    let run = |url: &str, data: &std::path::Path| {
        let mut cmd = podium_in(data);
        cmd.env("PODIUM_DATABASE_URL", url)
            .env("PODIUM_SCHEDULE", &s.schedule)
            // A network, so that `run` gets as far as the store; nothing
            // listens there, and nothing is reached before the store.
            .env("PODIUM_IRC_SERVER", "127.0.0.1:1")
            .env("PODIUM_IRC_NICK", "podium")
            .env("PODIUM_IRC_TLS", "false")
            .env("PODIUM_WEB_ADDR", "127.0.0.1:0")
            .arg("run");
        output(cmd)
    };
    let wrong = url.replace(":podiumpass@", ":wrongpass@");
    let out = run(&wrong, &s.data);
    assert_eq!(out.code, Some(78), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("cannot use the database at postgres://podium:***@127.0.0.1:")
            && out.stderr.contains("password authentication failed"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("wrongpass"), "{}", out.stderr);

    // The database in use by a writer (this test's store).
    let db = podium::store::Database {
        url: Some(url.clone()),
        pool: 2,
    };
    let dir = tempfile::tempdir().unwrap();
    let holder = Store::open_at(&db, dir.path()).await.unwrap();
    let out = run(&url, &s.data);
    assert_eq!(out.code, Some(78), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("is in use by another Podium (podium writer (pid "),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("podiumpass"), "{}", out.stderr);
    drop(holder);

    let mut cmd = podium_in(&s.data);
    cmd.env("PODIUM_DATABASE_URL", &url).arg("config");
    let out = output(cmd);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains("postgres://podium:***@127.0.0.1:"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("podiumpass"), "{}", out.stdout);
}

/// A real rehearsal's data moved from SQLite into PostgreSQL with
/// `podium db copy`: every table counted on both sides, every transcript
/// byte-identical, and `podium transcript` reading PostgreSQL prints what
/// it printed from SQLite. Copying twice is refused (the target is no
/// longer empty), and nothing is doubled by trying.
#[tokio::test]
async fn a_rehearsals_data_is_copied_into_postgres_and_reads_the_same() {
    use support::cli::{output, podium_in, setup};
    use support::rehearsal::{Rehearsal, drill, post_body, question_number};
    let s = setup(&drill("40m", "[First?, Second?]"));
    let stderr = s.dir.path().join("rehearse.stderr");
    let mut run = Rehearsal::start(&s.data, &s.schedule, &["drill", "--speed", "300"], stderr);
    let q = |n| move |l: &str| post_body(l).and_then(question_number) == Some(n);
    run.wait_for("Q1", q(1));
    run.send("alice: A1: the first answer");
    run.send("bob: an untagged one");
    run.send("carol: /me waves");
    run.wait_for("Q2", q(2));
    run.send("alice: A2: and the second");
    run.send("!next");
    run.wait_for("the end", |l| l.starts_with("(or: podium transcript "));
    run.finish();
    {
        // Questions from the floor, one asked, and a vote, stored as the
        // engine stores them.
        let store = Store::open(&s.data).await.unwrap();
        let occ = store.occurrences_of("drill").await.unwrap().remove(0);
        let at = occ.scheduled_start + chrono::Duration::minutes(5);
        let mut ids = Vec::new();
        for (who, text) in [("alice", "And the third?"), ("bob", "Why not?")] {
            let p = NewProposal {
                occurrence_id: occ.id,
                text,
                proposer_id: who,
                proposer_name: who,
                network: "console",
                room: "console:rehearsal",
                network_id: text,
                at,
            };
            match store.propose(&p).await.unwrap() {
                Proposed::New(row) => ids.push(row.id),
                other => panic!("not stored anew: {other:?}"),
            }
        }
        assert!(store.vote(ids[0], "carol", at).await.unwrap());
        // A vote by reaction carries the reaction's id.
        let reaction = WriteOp::Vote {
            network: "console".into(),
            room: "console:rehearsal".into(),
            target: "Why not?".into(),
            voter: "carol".into(),
            reaction: "$reaction".into(),
            at,
        };
        assert_eq!(store.write_batch(&[reaction], &[]).await.unwrap(), [1]);
        assert!(store.mark_asked(ids[0], 3).await.unwrap());
        // And a debate started with `!debate`.
        let adhoc = podium::store::AdHocRow {
            debate: "adhoc-lobby-20300101-200000".into(),
            title: "Unplanned".into(),
            room: "#lobby:example.org".into(),
            timezone: "Europe/London".into(),
            starts_at: at,
            seconds: 4 * 3600,
        };
        assert!(store.start_adhoc(&adhoc).await.unwrap());
        assert!(!store.start_adhoc(&adhoc).await.unwrap(), "recorded once");
        assert_eq!(
            store.adhoc_since(at).await.unwrap(),
            std::slice::from_ref(&adhoc)
        );
        assert!(
            store
                .adhoc_since(at + chrono::Duration::seconds(1))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.is_adhoc(&adhoc.debate).await.unwrap());
        assert!(
            store
                .rsvp(occ.id, "carol", "carol", "console", at)
                .await
                .unwrap()
        );
        assert!(!store.is_adhoc("drill").await.unwrap());
    }

    let transcript = |url: Option<&str>, format: &str| {
        let mut cmd = podium_in(&s.data);
        if let Some(url) = url {
            cmd.env("PODIUM_DATABASE_URL", url);
        }
        cmd.args(["transcript", "drill", "--format", format]);
        let out = output(cmd);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        out.stdout
    };
    let before: Vec<String> = ["md", "json", "html"]
        .iter()
        .map(|f| transcript(None, f))
        .collect();
    assert!(before[0].contains("the first answer") && before[0].contains("and the second"));

    let url = support::postgres::database().await;
    let copy = || {
        let mut cmd = podium_in(&s.data);
        cmd.env("PODIUM_DATABASE_URL", &url).args(["db", "copy"]);
        output(cmd)
    };
    let out = copy();
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("podiumpass"), "{}", out.stdout);
    let counted: Vec<(String, i64, i64)> = out
        .stdout
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() == 5 && w[2] == "rows" && w[3] == "->").then(|| {
                (
                    w[0].to_owned(),
                    w[1].parse().unwrap(),
                    w[4].parse().unwrap(),
                )
            })
        })
        .collect();
    let tables: Vec<&str> = counted.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(
        tables,
        [
            "occurrences",
            "adhoc",
            "extensions",
            "proposals",
            "votes",
            "rsvps",
            "posts",
            "replies",
            "cursors",
            "handled_commands",
            "presence",
            "people",
            "room_log"
        ],
        "{}",
        out.stdout
    );
    for (table, from, to) in &counted {
        assert_eq!(from, to, "{table}: {}", out.stdout);
    }
    let rows = |t: &str| counted.iter().find(|(n, _, _)| n == t).unwrap().1;
    assert_eq!(rows("occurrences"), 1);
    assert!(rows("posts") >= 5, "{}", out.stdout);
    assert!(rows("replies") >= 3, "{}", out.stdout);
    assert_eq!(
        (rows("proposals"), rows("votes"), rows("adhoc")),
        (2, 2, 1),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("transcripts: 1 occurrences, each in 4 formats: byte-identical"),
        "{}",
        out.stdout
    );

    let after: Vec<String> = ["md", "json", "html"]
        .iter()
        .map(|f| transcript(Some(&url), f))
        .collect();
    assert_eq!(before, after, "the transcripts read from PostgreSQL");

    let again = copy();
    assert_eq!(again.code, Some(1), "{}", again.stdout);
    assert!(
        again
            .stderr
            .contains("the target database is not empty (occurrences has 1 rows)"),
        "{}",
        again.stderr
    );
    assert_eq!(transcript(Some(&url), "md"), before[0]);
}

/// PostgreSQL stopped for 30 s in the middle of a debate (a rehearsal on
/// its compressed clock, at 25×: 30 s is 12.5 minutes of the debate, inside
/// the 15-minute grace): the questions that fell due meanwhile are posted
/// late, once each; the answers typed meanwhile are acknowledged only once
/// they are stored, after the database is back, and each is in the
/// transcript once; the log says the database went away once, and once
/// that it is back.
#[test]
fn a_30_second_database_outage_mid_debate_loses_and_doubles_nothing() {
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};
    use support::cli::setup;
    use support::rehearsal::{
        Rehearsal, drill, post_body, question_number, transcript_json_with_env,
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pg = support::postgres::start_named_postgres("outage");
    let url = rt.block_on(pg.database());
    let env = [
        ("PODIUM_DATABASE_URL", url.as_str()),
        ("RUST_LOG", "podium=info,warn"),
    ];
    let s = setup(&drill("30m", "[One?, Two?, Three?, Four?, Five?]"));
    let stderr = s.dir.path().join("rehearse.stderr");
    let mut run = Rehearsal::start_with_env(
        &s.data,
        &s.schedule,
        &["drill", "--speed", "25"],
        stderr.clone(),
        &env,
    );
    let q = |n| move |l: &str| post_body(l).and_then(question_number) == Some(n);
    let saved =
        |who: &'static str| move |l: &str| l.trim_start().starts_with(&format!("✓ saved: {who}"));
    run.wait_for("Q1", q(1));
    run.send("alice: A1: before the outage");
    run.wait_for("alice's acknowledgement", saved("alice"));

    pg.stop();
    let down = Instant::now();
    let mut typed = vec!["alice: A1: before the outage".to_owned()];
    for (i, who) in ["bob", "carol", "dave", "erin", "frank"].iter().enumerate() {
        let line = format!("{who}: answer {i} typed while the database is down");
        run.send(&line);
        typed.push(line);
        std::thread::sleep(Duration::from_secs(5));
    }
    std::thread::sleep(Duration::from_secs(30).saturating_sub(down.elapsed()));
    let acked_while_down: Vec<String> = run
        .lines()
        .filter(|l| l.contains("✓ saved:") && !l.contains("alice"))
        .map(str::to_owned)
        .collect();
    assert!(
        acked_while_down.is_empty(),
        "acknowledged while nothing could be stored: {acked_while_down:?}\n{}",
        run.dump()
    );
    pg.start_again();
    for who in ["bob", "carol", "dave", "erin", "frank"] {
        run.wait_for("an acknowledgement after the outage", move |l: &str| {
            l.trim_start().starts_with(&format!("✓ saved: {who}"))
        });
    }
    run.send("gina: A5: after the outage");
    typed.push("gina: A5: after the outage".to_owned());
    run.wait_for("the end", |l| l.starts_with("(or: podium transcript "));
    run.finish();

    // Each question posted once, none missing.
    let mut posted: BTreeMap<u32, usize> = BTreeMap::new();
    for n in run
        .lines()
        .filter_map(|l| post_body(l).and_then(question_number))
    {
        *posted.entry(n).or_default() += 1;
    }
    assert_eq!(
        posted,
        (1..=5).map(|n| (n, 1)).collect(),
        "questions posted: {posted:?}\n{}",
        run.dump()
    );
    let late = run
        .lines()
        .filter(|l| post_body(l).is_some() && l.contains("posted late"))
        .count();
    assert!(
        late >= 1,
        "a question fell due during the outage\n{}",
        run.dump()
    );

    // Every typed answer stored once.
    let t = transcript_json_with_env(&s.data, None, &env);
    let text = t.to_string();
    for line in &typed {
        // The words after the name and any answer tag: unique to the line.
        let words = line.rsplit(": ").next().unwrap();
        let n = text.matches(words).count();
        assert_eq!(n, 1, "`{words}` is in the transcript {n} times: {t:#}");
    }
    for l in run.lines().filter(|l| l.contains("posted late")) {
        eprintln!("{l}");
    }

    let log = std::fs::read_to_string(&stderr).unwrap();
    assert_eq!(
        log.matches("the database is unreachable").count(),
        1,
        "said once when it went:\n{log}"
    );
    assert_eq!(
        log.matches("the database is reachable again").count(),
        1,
        "said once when it came back:\n{log}"
    );
    assert!(
        !log.contains("podiumpass"),
        "no password in the log:\n{log}"
    );
    for l in log.lines().filter(|l| l.contains("database")) {
        eprintln!("{l}");
    }
}

on_both_backends! {
/// `!forget`: what is held about a person is counted, then erased in one
/// go (answers and log lines as a deletion erases them, open proposals
/// withdrawn, asked ones without their proposer, votes and zone gone);
/// nobody else's is touched.
async fn forgetting_a_person_erases_what_is_held_about_them_only(place) {
    use podium::store::{Holdings, LogLine, NewReply};
    let store = place.open().await;
    let start = utc("2030-01-01T20:00:00Z");
    let occ = store.occurrence(&occurrence(start)).await.unwrap();
    let reply = |id: &str, who: &str| NewReply {
        occurrence_id: occ.id,
        network: "matrix".into(),
        room: "#d:example.org".into(),
        sender_id: who.into(),
        sender_name: who.into(),
        body: format!("A1: said by {who}"),
        question: Some(1),
        attributed_by: podium::domain::AttributedBy::Tag,
        network_id: id.into(),
        in_reply_to: None,
        server_ts: Some(start),
        received_at: start,
        action: false,
        led: true,
    };
    let line = LogLine {
        network: "matrix".into(),
        room: "#d:example.org".into(),
        network_id: "$l".into(),
        sender_id: "@ann:x".into(),
        sender_name: "ann".into(),
        body: "!next".into(),
        action: false,
        at: start,
    };
    store
        .write_batch(
            &[
                WriteOp::Insert(reply("$a", "@ann:x")),
                WriteOp::Insert(reply("$a2", "@ann:x")),
                WriteOp::Insert(reply("$b", "@bob:x")),
                WriteOp::Log(line),
            ],
            &[],
        )
        .await
        .unwrap();
    let propose = |who: &'static str, id: &'static str| proposal(occ.id, who, "matrix", "#d:example.org", id);
    let Proposed::New(asked) = store.propose(&propose("@ann:x", "$p1")).await.unwrap() else { panic!() };
    store.mark_asked(asked.id, 2).await.unwrap();
    // Posted as Q2, crediting her.
    let credited = "What about the others? (proposed by ann:x)";
    let body = format!("Q2: {credited}");
    store
        .claim_post(&NewPost {
            occurrence_id: occ.id,
            room: "#d:example.org",
            kind: PostKind::Question,
            seq: 2,
            body: &body,
            question_text: Some(credited),
            due_at: start,
            late: false,
            status: PostStatus::Sending,
        })
        .await
        .unwrap();
    let Proposed::New(open) = store.propose(&propose("@ann:x", "$p2")).await.unwrap() else { panic!() };
    let Proposed::New(bobs) = store.propose(&propose("@bob:x", "$p3")).await.unwrap() else { panic!() };
    store.vote(open.id, "@bob:x", start).await.unwrap();
    store.vote(bobs.id, "@ann:x", start).await.unwrap();
    store.set_zone("@ann:x", "Europe/Berlin", start).await.unwrap();
    store.set_zone("@bob:x", "Europe/Paris", start).await.unwrap();

    assert!(store.rsvp(occ.id, "@ann:x", "ann", "matrix", start).await.unwrap());
    let held = Holdings { answers: 2, lines: 1, proposals: 2, votes: 1, zones: 1, rsvps: 1 };
    assert_eq!(store.holdings("@ann:x").await.unwrap(), held);
    assert_eq!(store.forget("@ann:x", start).await.unwrap(), held);
    assert!(store.holdings("@ann:x").await.unwrap().is_empty());
    assert_eq!(store.forget("@ann:x", start).await.unwrap(), Holdings::default());

    let replies = store.replies(occ.id).await.unwrap();
    let kept: Vec<(&str, &str, bool)> = replies
        .iter()
        .map(|r| (r.network_id.as_str(), r.body.as_str(), r.deleted_at.is_some()))
        .collect();
    assert_eq!(kept, [("$a", "", true), ("$a2", "", true), ("$b", "A1: said by @bob:x", false)]);
    assert!(replies.iter().filter(|r| r.deleted_at.is_some()).all(|r| r.sender_name.is_empty()));
    let floor: Vec<(i64, String, String, i64, bool)> = store
        .proposals(occ.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.number, p.text, p.proposer_id, p.votes, p.withdrawn_at.is_some()))
        .collect();
    assert_eq!(
        floor,
        [
            (1, "What about the others?".to_owned(), String::new(), 0, false),
            (2, String::new(), String::new(), 0, true),
            (3, "What about the others?".to_owned(), "@bob:x".to_owned(), 0, false),
        ]
    );
    let q2 = store.posts(occ.id).await.unwrap().remove(0);
    assert_eq!(
        (q2.body.as_str(), q2.question_text.as_deref()),
        ("Q2: What about the others?", Some("What about the others?")),
        "the question stays, without her name"
    );
    assert_eq!(store.zone_of("@ann:x", start).await.unwrap(), None);
    assert_eq!(store.zone_of("@bob:x", start).await.unwrap().as_deref(), Some("Europe/Paris"));
    assert_eq!(
        store.holdings("@bob:x").await.unwrap(),
        Holdings { answers: 1, lines: 0, proposals: 1, votes: 0, zones: 1, rsvps: 0 }
    );
}
}

on_both_backends! {
/// RSVPs: once per person and occurrence, listed by person, counted, each
/// personal reminder claimed once (a second claim, or another replica's,
/// gets nothing), taken back, and removed by retention.
async fn rsvps_are_kept_once_claimed_once_and_purged(place) {
    let store = place.open().await;
    let first = store.occurrence(&occurrence(utc("2030-01-01T20:00:00Z"))).await.unwrap();
    let second = store.occurrence(&occurrence(utc("2030-03-01T20:00:00Z"))).await.unwrap();
    let at = utc("2029-12-31T12:00:00Z");
    assert!(store.rsvp(first.id, "@ann:x", "ann", "matrix", at).await.unwrap());
    assert!(!store.rsvp(first.id, "@ann:x", "ann", "matrix", at).await.unwrap(), "once");
    assert!(store.rsvp(first.id, "irc:bob", "bob", "irc", at).await.unwrap());
    assert!(store.rsvp(second.id, "@ann:x", "ann", "matrix", at).await.unwrap());
    assert_eq!(store.registered(first.id).await.unwrap(), 2);
    let mine: Vec<(i64, String)> = store
        .rsvps_of("@ann:x", utc("2030-01-01T00:00:00Z"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.occurrence_id, r.debate))
        .collect();
    assert_eq!(mine, [(first.id, first.debate.clone()), (second.id, second.debate.clone())]);
    assert_eq!(store.rsvps_of("@ann:x", utc("2030-02-01T00:00:00Z")).await.unwrap().len(), 1);
    let claimed = store.claim_reminders(first.id, utc("2030-01-01T19:50:00Z")).await.unwrap();
    let mut who: Vec<(String, String, String)> =
        claimed.into_iter().map(|r| (r.person_id, r.name, r.network)).collect();
    who.sort();
    assert_eq!(
        who,
        [
            ("@ann:x".to_owned(), "ann".to_owned(), "matrix".to_owned()),
            ("irc:bob".to_owned(), "bob".to_owned(), "irc".to_owned())
        ]
    );
    assert!(store.claim_reminders(first.id, utc("2030-01-01T19:51:00Z")).await.unwrap().is_empty());
    assert!(store.unrsvp(first.id, "irc:bob").await.unwrap());
    assert!(!store.unrsvp(first.id, "irc:bob").await.unwrap());
    let now = utc("2030-03-02T00:00:00Z");
    store.purge_before(utc("2030-02-01T00:00:00Z"), now).await.unwrap();
    assert_eq!(store.registered(first.id).await.unwrap(), 0, "purged with its debate");
    assert_eq!(store.registered(second.id).await.unwrap(), 1);
}
}
