//! Replicas' leases on a real PostgreSQL: the debates are shared among the
//! live replicas, a lease is renewed by one statement per replica, one
//! left to expire passes to another replica with a new epoch, a stale
//! holder's hand-over of a post fails (the fence), and a stopping replica
//! hands its leases back at once. Replicas are refused on SQLite.

mod support;

use std::time::Duration;

use podium::store::{Database, Fence, NewPost, PostKind, PostStatus, Store, StoreError, Tick};
use support::store::occurrence;
use support::utc;

const TTL: Duration = Duration::from_secs(2);

async fn replica_store(url: &str) -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database {
        url: Some(url.to_owned()),
        pool: 2,
    };
    (Store::open_replica_at(&db, dir.path()).await.unwrap(), dir)
}

fn debates(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("debate-{i:02}")).collect()
}

async fn tick(store: &Store, name: &str, debates: &[String]) -> Vec<(String, i64)> {
    store
        .lease_tick(&Tick {
            name,
            session: name,
            ttl: TTL,
            debates,
            shed: &[],
        })
        .await
        .unwrap()
        .held
}

#[tokio::test]
async fn leases_are_shared_fenced_taken_over_and_handed_back() {
    let url = support::postgres::database().await;
    let (a, _da) = replica_store(&url).await;
    let (b, _db) = replica_store(&url).await;
    let (c, _dc) = replica_store(&url).await;
    let all = debates(7);
    a.add_leases(&all).await.unwrap();
    for (s, n) in [(&a, "a"), (&b, "b"), (&c, "c")] {
        s.register_replica(n, n, n, TTL).await.unwrap();
    }
    // A second live process under a taken name is refused.
    let err = b
        .register_replica("a", "elsewhere", "other", TTL)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ReplicaName { .. }), "{err}");
    // The same name from the same data directory is a restart: taken over.
    c.register_replica("c", "c", "c-again", TTL).await.unwrap();
    c.register_replica("c", "c", "c", TTL).await.unwrap();

    // Each takes at most its share (7 over 3: 3), and together all.
    let ha = tick(&a, "a", &all).await;
    let hb = tick(&b, "b", &all).await;
    let hc = tick(&c, "c", &all).await;
    assert_eq!(
        (ha.len(), hb.len(), hc.len()),
        (3, 3, 1),
        "{ha:?} {hb:?} {hc:?}"
    );
    let mut held: Vec<String> = [&ha, &hb, &hc]
        .iter()
        .flat_map(|h| h.iter().map(|(d, _)| d.clone()))
        .collect();
    held.sort();
    assert_eq!(held, all, "every debate led by exactly one replica");

    // The fence: a's post goes out under a's lease, not under a stale epoch
    // nor by another replica.
    let (debate, epoch) = ha[0].clone();
    let start = utc("2030-01-01T20:00:00Z");
    let mut occ = occurrence(start);
    occ.debate = &debate;
    let occ = a.occurrence(&occ).await.unwrap();
    let claim = |seq| NewPost {
        occurrence_id: occ.id,
        room: "#d:example.org",
        kind: PostKind::Question,
        seq,
        body: "Q",
        question_text: None,
        due_at: start,
        late: false,
        status: PostStatus::Queued,
    };
    let (p1, _) = a.claim_post(&claim(1)).await.unwrap();
    let fence = |holder, epoch| Fence {
        holder,
        lease: Some((debate.as_str(), epoch)),
    };
    assert!(
        !b.hand_post(p1.id, &fence("b", epoch)).await.unwrap(),
        "not b's lease"
    );
    assert!(
        !a.hand_post(p1.id, &fence("a", epoch + 1)).await.unwrap(),
        "wrong epoch"
    );
    assert!(a.hand_post(p1.id, &fence("a", epoch)).await.unwrap());
    let row = &a.posts(occ.id).await.unwrap()[0];
    assert_eq!(
        (row.status, row.holder.as_deref(), row.epoch),
        (PostStatus::Sending, Some("a"), Some(epoch))
    );

    // a stops renewing (paused, cut off): once its leases expire, b and c
    // take them over with a new epoch, and a's queued post cannot go out.
    let (p2, _) = a.claim_post(&claim(2)).await.unwrap();
    tokio::time::sleep(TTL / 2).await;
    tick(&b, "b", &all).await;
    tick(&c, "c", &all).await;
    tokio::time::sleep(TTL).await;
    let hb = tick(&b, "b", &all).await;
    let hc = tick(&c, "c", &all).await;
    let taken = hb.iter().chain(&hc).find(|(d, _)| *d == debate).cloned();
    let (_, new_epoch) = taken.expect("a's debate was taken over");
    assert!(new_epoch > epoch);
    assert!(
        !a.hand_post(p2.id, &fence("a", epoch)).await.unwrap(),
        "a's lease is gone"
    );
    let new_holder = if hb.iter().any(|(d, _)| *d == debate) {
        (&b, "b")
    } else {
        (&c, "c")
    };
    assert!(
        new_holder
            .0
            .hand_post(p2.id, &fence(new_holder.1, new_epoch))
            .await
            .unwrap()
    );
    // a comes back: its renewal finds nothing of its own.
    let ha = a
        .lease_tick(&Tick {
            name: "a",
            session: "a",
            ttl: TTL,
            debates: &all,
            shed: &[],
        })
        .await
        .unwrap();
    assert!(ha.held.iter().all(|(d, _)| *d != debate), "{ha:?}");

    // A stopping replica hands everything back at once; the others take it
    // at their next tick.
    let before: Vec<String> = tick(&b, "b", &all)
        .await
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    let n = b.stop_replica("b", "b").await.unwrap();
    assert_eq!(n as usize, before.len());
    let leases = a.leases().await.unwrap();
    assert!(
        leases
            .iter()
            .filter(|l| before.contains(&l.debate))
            .all(|l| l.holder.is_none())
    );
    let ha = tick(&a, "a", &all).await;
    let hc = tick(&c, "c", &all).await;
    assert_eq!(
        ha.len() + hc.len(),
        all.len(),
        "two live replicas share all: {ha:?} {hc:?}"
    );
    let replicas = a.replicas().await.unwrap();
    let b_row = replicas.iter().find(|r| r.name == "b").unwrap();
    assert!(!b_row.live && b_row.stopped_at.is_some());
}

#[tokio::test]
async fn replicas_are_refused_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open_replica_at(&Database::default(), dir.path())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("PostgreSQL"), "{err}");
    let store = Store::open(dir.path()).await.unwrap();
    assert!(matches!(
        store.register_replica("a", "a", "a", TTL).await,
        Err(StoreError::Unsupported(_))
    ));
}
