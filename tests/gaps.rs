//! IRC keeps no history: answers sent while Podium was disconnected are
//! lost. Transcripts of debates held on IRC say when that was, in every
//! view, from the presence the network adapter records; debates held
//! elsewhere say nothing of it.

mod support;

use podium::domain::{AttributedBy, Network};
use podium::store::{NewPost, NewReply, OccurrenceRow, PostKind, PostStatus, Store, WriteOp};
use podium::transcript::{self, Format, Transcript, html};
use serde_json::json;

use support::store::{occurrence, presence};
use support::utc;

const IRC: &str = "irc:#d";
const MATRIX: &str = "#d:example.org";

/// The debate `d` of 1 July 2030 at 20:00 in London (19:00 UTC: summer
/// time, so local times differ from UTC), an hour long, answers collected
/// for 10 minutes after the closing, held in `room`: the intro and Q1
/// posted at the start, the closing at the end unless `running`.
async fn held_in(store: &Store, room: &str, running: bool) -> OccurrenceRow {
    let occ = store
        .occurrence(&occurrence(utc("2030-07-01T19:00:00Z")))
        .await
        .unwrap();
    let mut items = vec![
        (PostKind::Intro, 0, "2030-07-01T19:00:00Z"),
        (PostKind::Question, 1, "2030-07-01T19:00:00Z"),
    ];
    if !running {
        items.push((PostKind::Closing, 0, "2030-07-01T20:00:00Z"));
    }
    for (kind, seq, at) in items {
        let (row, _) = store
            .claim_post(&NewPost {
                occurrence_id: occ.id,
                room,
                kind,
                seq,
                body: "Q1: Why?",
                question_text: (kind == PostKind::Question).then_some("Why?"),
                due_at: utc(at),
                late: false,
                status: PostStatus::Sending,
            })
            .await
            .unwrap();
        store
            .mark_sent(row.id, utc(at), &format!("{kind:?}"))
            .await
            .unwrap();
    }
    occ
}

/// An answer to Q1 sent at `at` in `room`.
async fn answer(store: &Store, occ: &OccurrenceRow, room: &str, id: &str, at: &str) {
    let network = if room == IRC { "irc" } else { "matrix" };
    let reply = NewReply {
        occurrence_id: occ.id,
        network: network.into(),
        room: room.into(),
        sender_id: "ann".into(),
        sender_name: "ann".into(),
        body: format!("A1: sent at {at}"),
        question: Some(1),
        attributed_by: AttributedBy::Tag,
        network_id: id.into(),
        in_reply_to: None,
        server_ts: None,
        received_at: utc(at),
        action: false,
        led: true,
    };
    store
        .write_batch(&[WriteOp::Insert(reply)], &[])
        .await
        .unwrap();
}

/// Podium connected to IRC over `spans`.
async fn present(store: &Store, spans: &[(&str, &str)]) {
    for (since, until) in spans {
        presence(store, Network::Irc, utc(since), utc(until)).await;
    }
}

async fn at(store: &Store, occ: &OccurrenceRow, now: &str) -> Transcript {
    transcript::build(store, occ, utc(now)).await.unwrap()
}

const THE_DAY_AFTER: &str = "2030-07-02T12:00:00Z";

const SENTENCE: &str = "Podium was disconnected from IRC from 20:14 to 20:16 (Europe/London); \
                        answers sent then are missing.";

async fn fingerprint(store: &Store, occ: &OccurrenceRow, now: &str) -> String {
    transcript::fingerprint(store, occ, utc(now)).await.unwrap()
}

on_both_backends! {
async fn a_disconnection_during_an_irc_debate_is_shown_in_every_view(place) {
    let store = place.open().await;
    let occ = held_in(&store, IRC, false).await;
    answer(&store, &occ, IRC, "before", "2030-07-01T19:05:00Z").await;
    answer(&store, &occ, IRC, "after", "2030-07-01T19:30:00Z").await;
    present(
        &store,
        &[
            ("2030-07-01T18:00:00Z", "2030-07-01T19:14:10Z"),
            ("2030-07-01T19:16:30Z", "2030-07-01T21:00:00Z"),
        ],
    )
    .await;
    let t = at(&store, &occ, THE_DAY_AFTER).await;

    let json: serde_json::Value = serde_json::from_str(&t.render(Format::Json)).unwrap();
    assert_eq!(
        json["gaps"],
        json!([{
            "network": "irc",
            "from": "2030-07-01T19:14:10Z",
            "until": "2030-07-01T19:16:30Z",
            "ongoing": false,
        }])
    );
    let md = t.render(Format::Md);
    assert!(md.contains(&format!("\n\n> {SENTENCE}\n\n## Q1")), "{md}");
    let txt = t.render(Format::Txt);
    assert!(
        txt.contains(&format!("\n{SENTENCE}\n\nQ1: Why?\n")),
        "{txt}"
    );
    let page = t.render(Format::Html);
    assert!(
        page.contains(&format!(
            "<div class=\"gaps\" role=\"note\">\n<p>{SENTENCE}</p>\n</div>"
        )),
        "{page}"
    );
    // In time order, where it happened: between the answers around it.
    let timed = html::page(&t, html::View::Chronological, &html::Links::standalone());
    let gap = timed
        .find(&format!(
            "<li class=\"gap\"><time>20:14</time> {SENTENCE}</li>"
        ))
        .expect(&timed);
    let before = timed.find("A1: sent at 2030-07-01T19:05:00Z").unwrap();
    let after = timed.find("A1: sent at 2030-07-01T19:30:00Z").unwrap();
    assert!(before < gap && gap < after, "{timed}");
}

async fn a_debate_held_in_a_matrix_room_shows_no_irc_gap(place) {
    let store = place.open().await;
    let occ = held_in(&store, MATRIX, false).await;
    answer(&store, &occ, MATRIX, "$a", "2030-07-01T19:05:00Z").await;
    present(
        &store,
        &[
            ("2030-07-01T18:00:00Z", "2030-07-01T19:14:10Z"),
            ("2030-07-01T19:16:30Z", "2030-07-01T21:00:00Z"),
        ],
    )
    .await;
    let t = at(&store, &occ, THE_DAY_AFTER).await;
    assert_eq!(t.gaps, []);
    let json: serde_json::Value = serde_json::from_str(&t.render(Format::Json)).unwrap();
    assert_eq!(json["gaps"], json!([]));
    for format in [Format::Md, Format::Txt, Format::Html] {
        let shown = t.render(format);
        assert!(!shown.contains("disconnected"), "{shown}");
    }
}

/// After a crash nothing more is recorded: the absence runs to the end of
/// collection (the closing plus 10 minutes). A gap within one minute shows
/// its seconds.
async fn a_crash_shows_until_the_end_of_collection_and_short_gaps_show_seconds(place) {
    let store = place.open().await;
    let occ = held_in(&store, IRC, false).await;
    present(
        &store,
        &[
            ("2030-07-01T18:00:00Z", "2030-07-01T19:14:10Z"),
            ("2030-07-01T19:14:50Z", "2030-07-01T19:50:00Z"),
        ],
    )
    .await;
    let txt = at(&store, &occ, THE_DAY_AFTER).await.render(Format::Txt);
    assert!(
        txt.contains(
            "\nPodium was disconnected from IRC from 20:14:10 to 20:14:50 (Europe/London); \
             answers sent then are missing.\n\
             Podium was disconnected from IRC from 20:50 to 21:10 (Europe/London); \
             answers sent then are missing.\n"
        ),
        "{txt}"
    );
}

/// While the debate runs, the last few seconds are not known yet (the
/// presence is extended every 30 s); a disconnection longer than that is
/// shown as still going on.
async fn while_running_a_disconnection_is_shown_as_ongoing(place) {
    let store = place.open().await;
    let occ = held_in(&store, IRC, true).await;
    present(&store, &[("2030-07-01T18:00:00Z", "2030-07-01T19:29:40Z")]).await;
    assert_eq!(at(&store, &occ, "2030-07-01T19:30:00Z").await.gaps, []);
    let t = at(&store, &occ, "2030-07-01T19:40:00Z").await;
    let json: serde_json::Value = serde_json::from_str(&t.render(Format::Json)).unwrap();
    assert_eq!(
        json["gaps"],
        json!([{
            "network": "irc",
            "from": "2030-07-01T19:29:40Z",
            "until": "2030-07-01T19:40:00Z",
            "ongoing": true,
        }])
    );
    let md = t.render(Format::Md);
    assert!(
        md.contains(
            "> Podium has been disconnected from IRC since 20:29 (Europe/London); \
             answers sent since then are missing.\n"
        ),
        "{md}"
    );
}


/// The web pages are kept until the fingerprint changes: it must change
/// when a gap appears, grows or closes, and only then.
async fn the_fingerprint_follows_the_gaps(place) {
    let store = place.open().await;
    let occ = held_in(&store, IRC, true).await;
    let row = presence(
        &store,
        Network::Irc,
        utc("2030-07-01T18:00:00Z"),
        utc("2030-07-01T19:19:45Z"),
    )
    .await;
    let first = fingerprint(&store, &occ, "2030-07-01T19:20:00Z").await;
    // The routine extension changes nothing shown: the page is kept.
    store
        .presence_extend(row, utc("2030-07-01T19:20:15Z"))
        .await
        .unwrap();
    assert_eq!(
        fingerprint(&store, &occ, "2030-07-01T19:20:20Z").await,
        first
    );
    // Lost at 19:20:20: once that is known, the page changes.
    store
        .presence_extend(row, utc("2030-07-01T19:20:20Z"))
        .await
        .unwrap();
    let lost = fingerprint(&store, &occ, "2030-07-01T19:25:00Z").await;
    assert_ne!(lost, first);
    // Back at 19:27: the gap closes.
    let back = store
        .presence_begin(Network::Irc, utc("2030-07-01T19:27:00Z"))
        .await
        .unwrap();
    let closed = fingerprint(&store, &occ, "2030-07-01T19:27:10Z").await;
    assert_ne!(closed, lost);
    // After the debate (collection ended at 21:10 local, 20:10 UTC): a
    // page made while the last row ended at 20:50 local, then that row
    // extended further into the window.
    store
        .presence_extend(back, utc("2030-07-01T19:50:00Z"))
        .await
        .unwrap();
    let crashed = fingerprint(&store, &occ, "2030-07-01T20:30:00Z").await;
    store
        .presence_extend(back, utc("2030-07-01T20:05:00Z"))
        .await
        .unwrap();
    assert_ne!(
        fingerprint(&store, &occ, "2030-07-01T20:30:00Z").await,
        crashed
    );
}

/// When the debate's presence was never recorded before the debate, it
/// was not hosted on IRC then: no gap, whatever came later.
async fn no_presence_before_the_debate_means_no_gap(place) {
    let store = place.open().await;
    let occ = held_in(&store, IRC, false).await;
    present(&store, &[("2030-07-05T18:00:00Z", "2030-07-05T19:00:00Z")]).await;
    assert_eq!(at(&store, &occ, THE_DAY_AFTER).await.gaps, []);
}
}
