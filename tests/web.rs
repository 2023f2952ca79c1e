//! The web pages, served for real on loopback: every route, privacy (a
//! private transcript needs its token; a wrong one looks like nothing),
//! the safety headers, caching with `ETag`, compression, and a transcript
//! full of hostile answers, which is also opened in headless Chromium to
//! show that nothing injected runs (with screenshots, light and dark;
//! Chromium is installed when missing, see `scripts/chromium-install.sh`).

mod support;

use support::browser::chromium;

use std::sync::Arc;
use std::time::Duration;

use podium::app::{self, Options};
use podium::chat::memory::MemoryChat;
use podium::chat::{Receipt, Room};
use podium::clock::Clock;
use podium::engine::{EngineConfig, Notice};
use podium::health::Health;
use podium::schedule::Schedule;
use podium::store::{PostKind, Store};
use podium::web::{FRESH_FOR, Site, serve};
use support::bot::{self, Bot, start};
use support::utc;
use tokio::sync::watch;

const YAML: &str = r##"
timezone: Europe/London
zones: [Europe/London, America/New_York]
rooms: ["#debate:example.org"]
organisers: ["@host:example.org"]
debates:
  - id: open
    title: An open debate
    public: true
    starts: 2011-11-01 20:00
    duration: 1h
    questions: [First?, {text: Second?, at: 30m}]
  - id: closed
    title: A private debate
    starts: 2011-11-02 20:00
    duration: 1h
    questions: [Only?]
  - id: later
    title: Coming soon
    public: true
    starts: 2011-12-01 20:00
    questions: [Soon?]
"##;

/// The hostile answers: scripts, handlers, links, breakouts, floods,
/// direction tricks, in bodies and in names.
fn hostile() -> Vec<(&'static str, String)> {
    vec![
        ("eve", "A1: <script>document.title='PWNED'</script>".into()),
        (
            "mallory",
            "A1: <img src=x onerror=\"document.body.id='pwned'\">".into(),
        ),
        (
            "trent",
            "A1: [click me](javascript:alert(1)) javascript:alert(2)".into(),
        ),
        (
            "peggy",
            "A1: </textarea></bdi></div><h1 id=pwned>broken out</h1>".into(),
        ),
        (
            "victor",
            "A1: **bold** <b>bold</b> # heading\n---\n| a | b |".into(),
        ),
        ("walter", format!("A1: {}", "long answer ".repeat(8_500))),
        (
            "olivia",
            "A1: \u{202e}txt.exe\u{202c} zero\u{200b}width\u{feff}".into(),
        ),
        (
            "<script>alert('name')</script>",
            "A1: my name is a script".into(),
        ),
        ("\u{202e}evil", "A1: my name is reversed".into()),
    ]
}

/// Virtual time from `at`, an hour a second: the server needs real time
/// (it runs beside the engine), so the debates are compressed instead.
fn fast(at: chrono::DateTime<chrono::Utc>) -> Clock {
    Clock::compressed(at, chrono::Utc::now(), 3600.0)
}

struct Served {
    _dir: tempfile::TempDir,
    base: String,
    store: Store,
    chat: MemoryChat,
    /// Sending a new schedule here is a reload, as `podium run` makes.
    schedule: watch::Sender<Arc<Schedule>>,
    health: Health,
}

/// Runs the `open` and `closed` debates through the engine (with the
/// hostile answers in `open`), then serves the data dir on loopback.
async fn served() -> Served {
    served_for(FRESH_FOR).await
}

/// As [`served`], with pages served from memory for `fresh_for` after each
/// check against the store.
async fn served_for(fresh_for: Duration) -> Served {
    served_with(fresh_for, |_| {}).await
}

/// As [`served_for`], after `adjust` has had its say on the site.
async fn served_with(fresh_for: Duration, adjust: impl FnOnce(&mut Site)) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let chat = MemoryChat::new();
    let room = Room::Matrix("#debate:example.org".into());
    let schedule = bot::schedule(YAML, utc("2011-10-01T00:00:00Z"));
    let mut b: Bot = start(
        &store,
        &chat,
        fast(utc("2011-11-01T19:59:00Z")),
        schedule.clone(),
    )
    .await;
    b.wait_for(PostKind::Question, 1).await;
    for (i, (who, body)) in hostile().into_iter().enumerate() {
        let receipt = b.say(&room, &format!("$h{i}"), who, &body, None).await;
        assert!(matches!(receipt, Receipt::Saved { .. }), "{receipt:?}");
    }
    let r = b
        .say(&room, "$reply", "bob", "I agree with eve", Some("$h0"))
        .await;
    assert!(matches!(
        r,
        Receipt::Saved {
            question: Some(1),
            ..
        }
    ));
    b.wait_for(PostKind::Transcript, 0).await;
    b.stop().await;
    let mut b = start(
        &store,
        &chat,
        fast(utc("2011-11-02T19:59:30Z")),
        schedule.clone(),
    )
    .await;
    b.wait_for(PostKind::Question, 1).await;
    b.say(&room, "$p1", "ann", "A1: a private answer", None)
        .await;
    b.wait_for(PostKind::Transcript, 0).await;
    b.stop().await;
    serve_dir(dir, store, chat, schedule, fresh_for, adjust).await
}

/// Serves the data dir `dir` (the engine's `store` over it) on loopback as
/// `podium run` does, at 2011-11-03 12:00, after `adjust` has had its say
/// on the site's settings.
async fn serve_dir(
    dir: tempfile::TempDir,
    store: Store,
    chat: MemoryChat,
    schedule: Arc<Schedule>,
    fresh_for: Duration,
    adjust: impl FnOnce(&mut Site),
) -> Served {
    let readers = Store::open_readers(dir.path(), 2).await.unwrap();
    let (tx, rx) = watch::channel(schedule);
    let health = Health::default();
    health.set("matrix", true, "syncing");
    let mut site = Site::new(
        readers,
        rx,
        health.clone(),
        Clock::starting_at(utc("2011-11-03T12:00:00Z")),
    );
    site.fresh_for = fresh_for;
    adjust(&mut site);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, Arc::new(site), std::future::pending()));
    Served {
        _dir: dir,
        base,
        store,
        chat,
        schedule: tx,
        health,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn get(url: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = client().get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

/// The transcript link the bot posted for `debate`, on this server.
fn posted_link(s: &Served, title: &str) -> String {
    let post = s
        .chat
        .posts()
        .into_iter()
        .find(|p| p.kind == Some(PostKind::Transcript) && p.body.contains(&format!("“{title}”")))
        .unwrap();
    // The link, wherever it is (a post the busy machine made late says so
    // after it).
    let url = post
        .body
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no link in {:?}", post.body));
    url.replace("http://127.0.0.1:8080", &s.base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_and_the_posted_links() {
    let s = served().await;
    // The posted links open the right transcripts.
    let open = posted_link(&s, "An open debate");
    assert!(open.ends_with("/transcripts/open/2011-11-01"), "{open}");
    let (status, headers, page) = get(&open).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(
        page.contains("<h1><bdi>An open debate</bdi></h1>"),
        "{page}"
    );
    assert!(page.contains("Tue 1 Nov 2011 20:00 London · 16:00 New York"));
    assert!(page.contains("<section id=\"q1\">") && page.contains("<section id=\"q2\">"));
    let private = posted_link(&s, "A private debate");
    assert!(
        private.contains("/transcripts/closed/2011-11-02?key="),
        "{private}"
    );
    let (status, _, page) = get(&private).await;
    assert_eq!(status, 200);
    assert!(page.contains("a private answer"));

    // Without its token, or with a wrong one: the same 404 as nothing.
    let bare = private.split('?').next().unwrap();
    let token = private.rsplit('=').next().unwrap();
    let wrong: String = token
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    let nothing = get(&format!("{}/nothing/here", s.base)).await;
    assert_eq!(nothing.0, 404);
    for url in [
        bare.to_owned(),
        format!("{bare}?key={wrong}"),
        format!("{bare}?key="),
        format!("{bare}.json?key={wrong}"),
        format!("{bare}/time"),
        format!("{}/transcripts/open/2011-11-09", s.base),
        format!("{}/transcripts/nosuch/2011-11-01", s.base),
        format!("{}/transcripts/open/2011-13-01", s.base),
        format!("{}/transcripts/open/2011-11-01.exe", s.base),
        format!("{}/transcripts/..%2F..%2Fetc/passwd", s.base),
        format!("{}/transcripts/{}/2011-11-01", s.base, "a".repeat(5000)),
    ] {
        let (status, _, body) = get(&url).await;
        assert_eq!((status, body.as_str()), (404, nothing.2.as_str()), "{url}");
    }

    // The other views of the same transcript.
    for (suffix, kind, needle) in [
        (".json", "application/json", "\"debate\": \"open\""),
        (".md", "text/markdown; charset=utf-8", "# An open debate"),
        (".txt", "text/plain; charset=utf-8", "An open debate\n"),
        ("/time", "text/html; charset=utf-8", "In time order"),
    ] {
        let (status, headers, body) = get(&format!("{open}{suffix}")).await;
        assert_eq!(status, 200, "{suffix}");
        assert_eq!(headers["content-type"], kind, "{suffix}");
        assert!(
            body.contains(needle),
            "{suffix}: {}",
            &body[..body.len().min(400)]
        );
    }
    let (_, _, json) = get(&private.replace("?key", ".json?key")).await;
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["debate"], "closed");

    // The index lists the public debates only; so does the calendar.
    let (status, _, index) = get(&format!("{}/", s.base)).await;
    assert_eq!(status, 200);
    assert!(
        index.contains("An open debate") && index.contains("Coming soon"),
        "{index}"
    );
    assert!(
        index.contains("href=\"/transcripts/open/2011-11-01\""),
        "{index}"
    );
    assert!(
        !index.contains("A private debate") && !index.contains("closed"),
        "{index}"
    );
    // It says why the private ones are missing.
    assert!(
        index.contains("Private debates are not listed here"),
        "{index}"
    );
    let (status, headers, ics) = get(&format!("{}/debates.ics", s.base)).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/calendar; charset=utf-8");
    assert!(ics.contains("SUMMARY:An open debate") && !ics.contains("A private debate"));

    let (status, _, health) = get(&format!("{}/healthz", s.base)).await;
    assert_eq!(status, 200, "{health}");
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["store"], "ok");
    assert_eq!(health["networks"]["matrix"]["ok"], true);
    drop(s.store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_caching_and_compression() {
    let s = served().await;
    let open = posted_link(&s, "An open debate");
    for url in [
        open.clone(),
        format!("{}/nothing", s.base),
        format!("{}/", s.base),
    ] {
        let (_, headers, _) = get(&url).await;
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.starts_with("default-src 'none'") && !csp.contains("script"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["x-frame-options"], "DENY");
    }
    let (_, headers, _) = get(&open).await;
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let again = client()
        .get(&open)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);
    assert_eq!(again.text().await.unwrap(), "");
    let other = client()
        .get(&open)
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 200);
    // A client that does not decompress, to see the encoding.
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let gzip = raw
        .get(&open)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(
        gzip.headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap()),
        Some("gzip"),
        "{:?}",
        gzip.headers()
    );
    // A change to the occurrence (an edit) makes a new page and ETag, once
    // the page last checked against the store is no longer fresh.
    let id = s.store.occurrences_of("open").await.unwrap()[0].id;
    s.store
        .write_batch(
            &[podium::store::WriteOp::Edit {
                network: "matrix".into(),
                room: "#debate:example.org".into(),
                target: "$reply".into(),
                sender: "@bob:example.org".into(),
                body: "I agree with eve, edited".into(),
                question: None,
                at: utc("2011-11-01T20:30:00Z"),
            }],
            &[],
        )
        .await
        .unwrap();
    tokio::time::sleep(FRESH_FOR + Duration::from_millis(100)).await;
    let (status, headers, page) = get(&open).await;
    assert_eq!(status, 200);
    assert_ne!(headers["etag"].to_str().unwrap(), etag);
    assert!(page.contains("I agree with eve, edited"), "occurrence {id}");
}

/// A debate held on IRC, stored as the engine would have left it: `talk`
/// on 2 November 2011 at 10:00 in London, public, intro and closing (at
/// 11:00) posted in `#talk`; answers were collected until 11:10.
async fn irc_debate(store: &Store) {
    let start = utc("2011-11-02T10:00:00Z");
    let occ = store
        .occurrence(&podium::store::NewOccurrence {
            debate: "talk",
            public: true,
            ..support::store::occurrence(start)
        })
        .await
        .unwrap();
    for (kind, at) in [
        (PostKind::Intro, "2011-11-02T10:00:00Z"),
        (PostKind::Closing, "2011-11-02T11:00:00Z"),
    ] {
        let (row, _) = store
            .claim_post(&podium::store::NewPost {
                occurrence_id: occ.id,
                room: "irc:#talk",
                kind,
                seq: 0,
                body: "Welcome",
                question_text: None,
                due_at: utc(at),
                late: false,
                status: podium::store::PostStatus::Sending,
            })
            .await
            .unwrap();
        store.mark_sent(row.id, utc(at), "").await.unwrap();
    }
}

/// A page already rendered and kept is made again when the presence
/// records change what it says about disconnections; every view says it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irc_disconnections_are_shown_and_kept_pages_follow_them() {
    use podium::domain::Network;
    let s = served().await;
    irc_debate(&s.store).await;
    // Connected before the debate, then nothing from 10:20: a crash.
    let id = s
        .store
        .presence_begin(Network::Irc, utc("2011-11-02T09:00:00Z"))
        .await
        .unwrap();
    s.store
        .presence_extend(id, utc("2011-11-02T10:20:00Z"))
        .await
        .unwrap();
    let page = format!("{}/transcripts/talk/2011-11-02", s.base);
    let crash = "Podium was disconnected from IRC from 10:20 to 11:10 (Europe/London); \
                 answers sent then are missing.";
    let (status, headers, body) = get(&page).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(crash), "{body}");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    // Back at 10:30, recorded after the page was kept.
    let back = s
        .store
        .presence_begin(Network::Irc, utc("2011-11-02T10:30:00Z"))
        .await
        .unwrap();
    s.store
        .presence_extend(back, utc("2011-11-02T12:00:00Z"))
        .await
        .unwrap();
    let shorter = "Podium was disconnected from IRC from 10:20 to 10:30 (Europe/London); \
                   answers sent then are missing.";
    // Once the page last checked against the store is no longer fresh.
    tokio::time::sleep(FRESH_FOR + Duration::from_millis(100)).await;
    let (_, headers, body) = get(&page).await;
    assert!(body.contains(shorter) && !body.contains(crash), "{body}");
    assert_ne!(headers["etag"].to_str().unwrap(), etag);
    for view in ["/time", ".json", ".md", ".txt"] {
        let (status, _, body) = get(&format!("{page}{view}")).await;
        assert_eq!(status, 200, "{view}");
        let shown = if view == ".json" {
            "\"from\": \"2011-11-02T10:20:00Z\",\n      \"until\": \"2011-11-02T10:30:00Z\""
        } else {
            shorter
        };
        assert!(body.contains(shown), "{view}: {body}");
    }
    // The Matrix debates of the same days show none.
    let (_, _, body) = get(&posted_link(&s, "An open debate")).await;
    assert!(!body.contains("disconnected"));
}

/// A page is served from memory for a second after it was checked against
/// the store: a new answer stored in that second is not on it yet, and is
/// once the second has passed (in every rendering).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_answer_shows_once_the_page_is_no_longer_fresh() {
    let s = served().await;
    let open = posted_link(&s, "An open debate");
    let answer = "A2: a late answer, stored after the page was served";
    let (status, headers, page) = get(&open).await;
    let checked = std::time::Instant::now();
    assert_eq!(status, 200);
    assert!(!page.contains("a late answer"));
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let (_, _, json) = get(&format!("{open}.json")).await;
    assert!(!json.contains("a late answer"));
    let occurrence_id = s.store.occurrences_of("open").await.unwrap()[0].id;
    s.store
        .write_batch(
            &[podium::store::WriteOp::Insert(podium::store::NewReply {
                occurrence_id,
                network: "matrix".into(),
                room: "#debate:example.org".into(),
                sender_id: "@zoe:example.org".into(),
                sender_name: "zoe".into(),
                body: answer.into(),
                question: Some(2),
                attributed_by: podium::domain::AttributedBy::Tag,
                network_id: "$late".into(),
                in_reply_to: None,
                server_ts: Some(utc("2011-11-01T20:45:00Z")),
                received_at: utc("2011-11-01T20:45:00Z"),
                action: false,
                led: true,
            })],
            &[],
        )
        .await
        .unwrap();
    let (status, headers, page) = get(&open).await;
    assert_eq!(status, 200);
    // Still the page from memory, unless this machine took the whole
    // window to get here.
    if checked.elapsed() < FRESH_FOR - Duration::from_millis(200) {
        assert!(!page.contains("a late answer"), "served from memory");
        assert_eq!(headers["etag"].to_str().unwrap(), etag);
    }
    tokio::time::sleep(FRESH_FOR + Duration::from_millis(100)).await;
    let (status, headers, page) = get(&open).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("a late answer"),
        "the new answer is on the page"
    );
    assert_ne!(headers["etag"].to_str().unwrap(), etag);
    let (_, _, json) = get(&format!("{open}.json")).await;
    assert!(json.contains("a late answer"), "and in the JSON");
}

/// A private page served from memory still needs its token: a wrong or
/// missing one gets the 404 while the page is fresh, the right one the
/// page; and the public page does not answer for the private one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_private_page_still_needs_its_token() {
    // A long window: every request below is within it.
    let s = served_for(Duration::from_secs(600)).await;
    let private = posted_link(&s, "A private debate");
    let open = posted_link(&s, "An open debate");
    let bare = private.split('?').next().unwrap().to_owned();
    let token = private.rsplit('=').next().unwrap().to_owned();
    let wrong: String = token
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    let nothing = get(&format!("{}/nothing/here", s.base)).await;
    for suffix in ["", ".json", "/time"] {
        let right = format!("{bare}{suffix}?key={token}");
        let (status, _, body) = get(&right).await;
        assert_eq!(status, 200, "{right}");
        assert!(body.contains("a private answer"), "{right}");
        // Now fresh in memory: only the token decides.
        for url in [
            format!("{bare}{suffix}"),
            format!("{bare}{suffix}?key={wrong}"),
            format!("{bare}{suffix}?key="),
            format!("{bare}{suffix}?key={}", &token[..token.len() - 1]),
            format!("{bare}{suffix}?key={token}0"),
            format!("{bare}{suffix}?key={}", token.to_uppercase()),
        ] {
            let (status, _, body) = get(&url).await;
            assert_eq!((status, body.as_str()), (404, nothing.2.as_str()), "{url}");
        }
        let (status, _, body) = get(&right).await;
        assert_eq!(status, 200, "{right}");
        assert!(body.contains("a private answer"), "{right}");
    }
    // The public page, fresh too, is the public one, with or without a key.
    for url in [open.clone(), format!("{open}?key={token}")] {
        let (status, headers, body) = get(&url).await;
        assert_eq!(status, 200, "{url}");
        assert_eq!(headers["cache-control"], "public, no-cache");
        assert!(!body.contains("a private answer") && !body.contains(&token));
    }
    let (_, headers, _) = get(&private).await;
    assert_eq!(headers["cache-control"], "private, no-cache");
    // Never fetched with its token: not served from anything in memory.
    for url in [format!("{bare}.md"), format!("{bare}.txt?key={wrong}")] {
        let (status, _, _) = get(&url).await;
        assert_eq!(status, 404, "{url}");
    }
}

/// The hostile answers are all there, as text: nothing they hold is markup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_answers_are_shown_as_text() {
    let s = served().await;
    let open = posted_link(&s, "An open debate");
    let (_, _, page) = get(&open).await;
    let lower = page.to_lowercase();
    assert!(!lower.contains("<script"), "a script element");
    assert!(!lower.contains("<img"), "an image element");
    assert!(!lower.contains("href=\"javascript"), "a javascript: link");
    assert!(!lower.contains("<h1 id=pwned"), "a broken-out heading");
    assert!(!page.contains('\u{202e}'), "a raw right-to-left override");
    for needle in [
        "<script>document.title='PWNED'</script>",
        "<img src=x onerror=\"document.body.id='pwned'\">",
        "javascript:alert(2)",
        "</textarea></bdi></div><h1 id=pwned>broken out</h1>",
        "<U+202E>txt.exe<U+202C>",
        "<script>alert('name')</script>",
        "I agree with eve",
    ] {
        assert!(page.contains(&escaped(needle)), "missing {needle}");
    }
    // The reply to eve's answer sits under it.
    let eve = page.find("document.title").unwrap();
    let reply = page.find("I agree with eve").unwrap();
    let between = &page[eve..reply];
    assert!(
        between.contains("<ol class=\"answers\">"),
        "nested under eve's answer"
    );
    // Every answer, the 100 KB one whole.
    assert!(page.contains(&"long answer ".repeat(8_500).trim_end().to_owned()));
    assert!(
        page.contains("10 answers from 10 participants"),
        "the summary"
    );
    let md = get(&format!("{open}.md")).await.2;
    assert!(!md.contains("<script>"), "{md}");
    assert!(md.contains("\\<script\\>document.title"));
}

/// Text as the page's templates escape it (numeric references).
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// Headless Chromium opens the hostile page: nothing injected ran (the
/// title and the body's id are the page's own), every answer is in the
/// page's text, and screenshots (light and dark) are saved for a person.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_real_browser_nothing_injected_runs() {
    let s = served().await;
    let open = posted_link(&s, "An open debate");
    let chromium = chromium();
    let artifacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("web");
    std::fs::create_dir_all(&artifacts).unwrap();
    let url = open.clone();
    let dom = tokio::task::spawn_blocking({
        let chromium = chromium.clone();
        move || browse(&chromium, &url, &["--dump-dom".to_owned()])
    })
    .await
    .unwrap();
    assert!(
        dom.contains("<title>An open debate · transcript</title>"),
        "the title was changed: {}",
        &dom[..dom.len().min(500)]
    );
    assert!(!dom.contains("PWNED</title>") && !dom.contains("id=\"pwned\""));
    assert!(!dom.to_lowercase().contains("<script"));
    // As text, the way a browser serialises it: direction tricks shown
    // as stand-ins (the page neutralises them), markup characters escaped.
    for (_, body) in hostile() {
        let shown = podium::safe_text::neutralise(&body)
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let probe: String = shown.chars().take(60).collect();
        assert!(dom.contains(&probe), "{probe:?} is not in the page's text");
    }
    for (name, extra) in [
        ("light", vec![]),
        (
            "dark",
            vec![
                "--blink-settings=preferredColorScheme=0".to_owned(),
                "--force-dark-mode".to_owned(),
            ],
        ),
    ] {
        let path = artifacts.join(format!("hostile-transcript-{name}.png"));
        let mut args = extra;
        args.push(format!("--screenshot={}", path.display()));
        let url = open.clone();
        let chromium = chromium.clone();
        tokio::task::spawn_blocking(move || browse(&chromium, &url, &args))
            .await
            .unwrap();
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 10_000, "{} is {size} bytes", path.display());
        eprintln!("screenshot: {}", path.display());
    }
}

/// Runs headless `chromium` on `url` with `extra` flags; its stdout.
fn browse(chromium: &std::path::Path, url: &str, extra: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1000,1600",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const CROSS: &str = r##"
timezone: Europe/London
zones: [Europe/London, America/New_York]
debates:
  - id: both
    title: Across networks
    public: true
    starts: 2011-11-01 20:00
    duration: 1h
    rooms: ["#debate:example.org", "irc:#debate"]
    organisers: ["@host:example.org"]
    questions: [Where are you?]
"##;

/// A message from `id` (shown as `name`) in `room`.
fn said(msg: &str, id: &str, name: &str, body: &str, action: bool) -> podium::chat::Event {
    podium::chat::Event::Message {
        id: msg.into(),
        sender: podium::chat::Sender {
            id: id.into(),
            name: name.into(),
            verified: true,
        },
        body: body.into(),
        in_reply_to: None,
        server_ts: None,
        action,
    }
}

/// A debate held in a Matrix room and an IRC channel at once: alice on
/// both networks, mallory on Matrix calling herself alice, bob's `/me` on
/// IRC, carol's edited answer.
async fn cross_network() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let chat = MemoryChat::new();
    let matrix = Room::Matrix("#debate:example.org".into());
    let irc: Room = "irc:#debate".parse().unwrap();
    let schedule = bot::schedule(CROSS, utc("2011-10-01T00:00:00Z"));
    let mut b = start(
        &store,
        &chat,
        fast(utc("2011-11-01T19:59:00Z")),
        schedule.clone(),
    )
    .await;
    b.wait_for(PostKind::Question, 1).await;
    for (room, event) in [
        (
            &matrix,
            said(
                "$a",
                "@alice:example.org",
                "alice",
                "A1: alice on Matrix",
                false,
            ),
        ),
        (
            &irc,
            said("i1", "irc:alice", "alice", "A1: alice on IRC", false),
        ),
        (
            &matrix,
            said(
                "$m",
                "@mallory:example.org",
                "alice",
                "A1: trust me, I am alice",
                false,
            ),
        ),
        (&irc, said("i2", "irc:bob", "bob", "nods", true)),
        (
            &matrix,
            said(
                "$c",
                "@carol:example.org",
                "carol",
                "A1: first thoughts",
                false,
            ),
        ),
    ] {
        let receipt = b.send(room, event).await;
        assert!(matches!(receipt, Receipt::Saved { .. }), "{receipt:?}");
    }
    let edit = podium::chat::Event::Edit {
        target: "$c".into(),
        sender: podium::chat::Sender {
            id: "@carol:example.org".into(),
            name: "carol".into(),
            verified: true,
        },
        body: "A1: second thoughts".into(),
        server_ts: None,
    };
    b.send(&matrix, edit).await;
    b.wait_for(PostKind::Transcript, 0).await;
    b.stop().await;
    serve_dir(dir, store, chat, schedule, FRESH_FOR, |_| {}).await
}

/// Every view of a debate held on two networks says where each answer was
/// sent, tells apart the people who share a name (and mallory, who took
/// alice's), counts people rather than names, shows the start in every
/// zone, marks `/me` actions and edits, and the time-ordered page shows
/// the closing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_view_tells_namesakes_and_networks_apart() {
    let s = cross_network().await;
    let page = format!("{}/transcripts/both/2011-11-01", s.base);
    let (status, _, html) = get(&page).await;
    assert_eq!(status, 200, "{html}");
    for needle in [
        "<span class=\"who\" title=\"@alice:example.org\"><bdi>alice (@alice:example.org)</bdi></span> <span class=\"net\">Matrix</span>",
        "<span class=\"who\" title=\"irc:alice\"><bdi>alice (irc)</bdi></span> <small class=\"id\" title=\"irc:alice\"><bdi>irc:alice</bdi></small> <span class=\"net\">IRC</span>",
        "<bdi>alice (@mallory:example.org)</bdi>",
        "<span class=\"who\" title=\"@carol:example.org\"><bdi>carol</bdi></span> <small class=\"id\" title=\"@carol:example.org\"><bdi>@carol:example.org</bdi></small>",
        "<li class=\"answer action\"><span class=\"who\" title=\"irc:bob\"><bdi>bob</bdi></span>",
        "5 answers from 5 participants, on IRC and Matrix",
        "20:00 London · 16:00 New York",
    ] {
        assert!(html.contains(needle), "page: no {needle}\n{html}");
    }
    let (_, _, time) = get(&format!("{page}/time")).await;
    assert!(
        time.contains(
            "<li class=\"closing\" id=\"closing\"><time>21:00</time> The debate closed.</li>"
        ),
        "{time}"
    );
    assert!(time.contains("<bdi>alice (irc)</bdi></span> <small class=\"id\" title=\"irc:alice\"><bdi>irc:alice</bdi></small> <span class=\"net\">IRC</span>"), "{time}");
    let (_, _, md) = get(&format!("{page}.md")).await;
    let (_, _, txt) = get(&format!("{page}.txt")).await;
    for (view, text, lines) in [
        (
            "md",
            &md,
            [
                "- **alice (@alice:example.org)** · Matrix (",
                "- **alice (irc)** · IRC (",
                "- **alice (@mallory:example.org)** · Matrix (",
                "- **bob** · IRC (",
                "- **carol** · Matrix (",
            ],
        ),
        (
            "txt",
            &txt,
            [
                "] alice (@alice:example.org) · Matrix: A1: alice on Matrix\n",
                "] alice (irc) · IRC: A1: alice on IRC\n",
                "] alice (@mallory:example.org) · Matrix: A1: trust me, I am alice\n",
                "] bob · IRC (action): nods\n",
                "] carol · Matrix (edited): A1: second thoughts\n",
            ],
        ),
    ] {
        for line in lines {
            assert!(text.contains(line), "{view}: no {line}\n{text}");
        }
        assert!(
            text.contains("20:00 London · 16:00 New York"),
            "{view}: {text}"
        );
        assert!(
            text.contains("5 answers from 5 participants, on IRC and Matrix."),
            "{view}: {text}"
        );
    }
    assert!(md.contains(" (edited): A1: second thoughts\n"), "{md}");
    assert!(md.contains(" (action): nods\n"), "{md}");
    let (_, _, json) = get(&format!("{page}.json")).await;
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let replies = json["questions"][0]["replies"].as_array().unwrap();
    let by = |id: &str| replies.iter().find(|r| r["author_id"] == id).unwrap();
    assert_eq!(by("@mallory:example.org")["author"], "alice");
    assert_eq!(
        by("@mallory:example.org")["label"],
        "alice (@mallory:example.org)"
    );
    assert_eq!(by("irc:alice")["network"], "irc");
    assert_eq!(by("irc:bob")["action"], true);
    assert_eq!(by("@carol:example.org")["action"], false);
    assert_eq!(json["networks"], serde_json::json!(["irc", "matrix"]));

    // In a real browser: the names, the ids and the networks are on the
    // page as a reader gets it (and a screenshot for a person to look at).
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("web")
        .join("cross-network-transcript.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let dom = tokio::task::spawn_blocking({
        let shot = shot.clone();
        move || {
            browse(
                &chromium(),
                &page,
                &[format!("--screenshot={}", shot.display())],
            );
            browse(&chromium(), &page, &["--dump-dom".to_owned()])
        }
    })
    .await
    .unwrap();
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "{} is {size} bytes", shot.display());
    eprintln!("screenshot: {}", shot.display());
    for needle in [
        "alice (@mallory:example.org)",
        "title=\"@mallory:example.org\"",
        "<small class=\"id\" title=\"irc:bob\"><bdi>irc:bob</bdi></small> <span class=\"net\">IRC</span>",
        "5 answers from 5 participants, on IRC and Matrix",
    ] {
        assert!(
            dom.contains(needle),
            "the browser's page has no {needle}:\n{dom}"
        );
    }
}

/// `/healthz` says `starting` (503, with `Retry-After`) while a network has
/// not come up since the start, `ok` (200) once all have, and `unhealthy`
/// (503) when one that was up is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_tells_starting_from_unhealthy() {
    let s = served().await;
    let url = format!("{}/healthz", s.base);
    let status = |body: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        v["status"].as_str().unwrap_or_default().to_owned()
    };
    s.health.set("irc", false, "connecting");
    let (code, headers, body) = get(&url).await;
    assert_eq!((code, status(&body).as_str()), (503, "starting"), "{body}");
    assert_eq!(headers["retry-after"], "5");
    s.health.set("irc", true, "in 1 channel");
    let (code, _, body) = get(&url).await;
    assert_eq!((code, status(&body).as_str()), (200, "ok"), "{body}");
    s.health.set("irc", false, "disconnected: ping timeout");
    let (code, headers, body) = get(&url).await;
    assert_eq!((code, status(&body).as_str()), (503, "unhealthy"), "{body}");
    assert!(headers.get("retry-after").is_none());
    assert!(body.contains("disconnected: ping timeout"), "{body}");
}

/// A debate made private in the schedule is private on the web as soon as
/// the schedule is reloaded, even where its page was just served from
/// memory: without the key a 404 and off the index; with it, the page,
/// whose links carry the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_debate_made_private_is_private_at_once() {
    // A long window: the old answers would be served from memory.
    let s = served_for(Duration::from_secs(600)).await;
    let open = posted_link(&s, "An open debate");
    for suffix in ["", "/time", ".json", ".md", ".txt"] {
        let (status, _, _) = get(&format!("{open}{suffix}")).await;
        assert_eq!(status, 200, "{suffix}");
    }
    let (_, _, index) = get(&format!("{}/", s.base)).await;
    assert!(index.contains("An open debate"), "{index}");
    let private = YAML.replacen("    public: true\n", "", 1);
    assert!(!private.contains("title: An open debate\n    public: true"));
    s.schedule
        .send(bot::schedule(&private, utc("2011-10-01T00:00:00Z")))
        .unwrap();
    let nothing = get(&format!("{}/nothing/here", s.base)).await;
    for suffix in ["", "/time", ".json", ".md", ".txt"] {
        let (status, _, body) = get(&format!("{open}{suffix}")).await;
        assert_eq!(
            (status, body.as_str()),
            (404, nothing.2.as_str()),
            "{suffix}"
        );
    }
    let (_, _, index) = get(&format!("{}/", s.base)).await;
    assert!(!index.contains("An open debate"), "{index}");
    let token = s.store.occurrences_of("open").await.unwrap()[0]
        .token
        .clone();
    let (status, headers, page) = get(&format!("{open}?key={token}")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "private, no-cache");
    assert!(
        page.contains(&format!("./2011-11-01.json?key={token}")),
        "{page}"
    );
}

/// An address answers from memory, for the freshness window, whatever it
/// answered: a page that does not exist is not asked of the store again
/// any more than a private page with a wrong key, so how fast either
/// answers tells nothing; the right key still gets the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_page_and_a_wrong_key_are_both_remembered() {
    let s = served_for(Duration::from_secs(600)).await;
    let missing = format!("{}/transcripts/talk/2011-11-02", s.base);
    let private = posted_link(&s, "A private debate");
    let bare = private.split('?').next().unwrap().to_owned();
    let token = private.rsplit('=').next().unwrap().to_owned();
    let wrong = "0".repeat(32);
    let nothing = get(&format!("{}/nothing/here", s.base)).await;
    // Everything but the date: a guesser learns nothing from the headers.
    let headers = |h: &reqwest::header::HeaderMap| {
        let mut h: Vec<(String, String)> = h
            .iter()
            .filter(|(k, _)| *k != "date")
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        h.sort();
        h
    };
    for url in [
        missing.clone(),
        format!("{missing}?key={wrong}"),
        format!("{bare}?key={wrong}"),
        format!("{bare}.json?key={wrong}"),
        format!("{bare}?key={}", &token[..31]),
        bare.clone(),
    ] {
        let (status, h, body) = get(&url).await;
        assert_eq!((status, body.as_str()), (404, nothing.2.as_str()), "{url}");
        assert_eq!(headers(&h), headers(&nothing.1), "{url}");
    }
    // The missing debate comes to exist (public): within the window the
    // address still answers as it did, as the private page does.
    irc_debate(&s.store).await;
    for url in [missing.clone(), format!("{missing}?key={wrong}")] {
        let (status, _, _) = get(&url).await;
        assert_eq!(status, 404, "{url}: remembered");
    }
    let (status, _, body) = get(&format!("{bare}?key={token}")).await;
    assert_eq!(status, 200, "the right key");
    assert!(body.contains("a private answer"));
    // Another rendering was never asked for: checked now, and there.
    let (status, _, _) = get(&format!("{missing}.json")).await;
    assert_eq!(status, 200);
}

/// A free loopback port (nothing listens on it once this returns).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `podium run` on `data` with `schedule`, as a child process serving its
/// pages on a free loopback port. Its one network is an IRC server that
/// refuses connections (`podium run` needs a network; it keeps trying in
/// the background). With `files`, it runs under `ulimit -n files`.
struct PodiumRun {
    child: std::process::Child,
    base: String,
    log: std::path::PathBuf,
}

impl PodiumRun {
    async fn start(data: &std::path::Path, schedule: &std::path::Path, files: Option<u32>) -> Self {
        let web = format!("127.0.0.1:{}", free_port());
        let log = data.with_extension(format!("run-{}.log", free_port()));
        let bin = env!("CARGO_BIN_EXE_podium");
        let mut cmd = std::process::Command::new("sh");
        let limit = files
            .map(|n| format!("ulimit -n {n} && "))
            .unwrap_or_default();
        cmd.arg("-c")
            .arg(format!("{limit}exec \"$0\" run"))
            .arg(bin);
        for (key, _) in std::env::vars_os() {
            if key.as_encoded_bytes().starts_with(b"PODIUM_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("RUST_LOG", "info")
            .env("PODIUM_DATA_DIR", data)
            .env("PODIUM_SCHEDULE", schedule)
            .env("PODIUM_WEB_ADDR", &web)
            .env("PODIUM_IRC_SERVER", format!("127.0.0.1:{}", free_port()))
            .env("PODIUM_IRC_TLS", "false")
            .env("PODIUM_IRC_NICK", "podium")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let mut run = PodiumRun {
            child: cmd.spawn().expect("podium run starts"),
            base: format!("http://{web}"),
            log,
        };
        let deadline = std::time::Instant::now() + support::WAIT;
        loop {
            let up = reqwest::Client::new()
                .get(format!("{}/healthz", run.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if up.is_ok() {
                return run;
            }
            let exited = run.child.try_wait().unwrap();
            assert!(
                exited.is_none() && std::time::Instant::now() < deadline,
                "podium run never served its pages ({exited:?}):\n{}",
                run.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for PodiumRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The link a rehearsal posts at its end (and prints with the file's
/// path) opens the rehearsal's transcript on a `podium run` started
/// afterwards on the same data directory; without its key, a 404. The
/// transcript file's header gives the start in every listed zone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rehearsal_link_opens_on_podium_run() {
    use support::rehearsal::{Rehearsal, drill, is_link, post_body, question_number};
    let zones = "zones: [Europe/London, America/New_York, Asia/Tokyo]\n";
    let s = support::cli::setup(&format!("{zones}{}", drill("20m", "[One?, Two?]")));
    let (data, schedule) = (s.data.clone(), s.schedule.clone());
    let stderr = s.dir.path().join("rehearse.stderr");
    let (posted, printed, file) = tokio::task::spawn_blocking(move || {
        let mut r = Rehearsal::start(&data, &schedule, &["drill", "--speed", "600"], stderr);
        r.wait_for("Q1", |l| post_body(l).and_then(question_number) == Some(1));
        r.send("dora: A1: an answer to rehearse");
        r.wait_for("the ack", |l| l == "  ✓ saved: dora → Q1");
        let posted = r.wait_for("the link", |l| post_body(l).is_some_and(is_link));
        let file = r.wait_for("the file", |l| l.starts_with("Transcript: "));
        let printed = r.wait_for("the web address", |l| l.starts_with("On the web"));
        r.wait_for("the hint", |l| {
            l.starts_with("(or: podium transcript drill")
        });
        r.finish();
        (posted, printed, file)
    })
    .await
    .unwrap();
    let file = file.trim_start_matches("Transcript: ");
    let md = std::fs::read_to_string(file).unwrap();
    let header = md.lines().nth(2).unwrap_or_default();
    for zone in ["London", "New York", "Tokyo"] {
        assert!(header.contains(zone), "{zone} is not in {header:?}\n{md}");
    }
    let link = posted
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    assert!(
        link.contains("/rehearsals/drill/") && link.contains("?key="),
        "{link}"
    );
    assert!(printed.ends_with(&link), "{printed} vs {link}");
    let run = PodiumRun::start(&s.data, &s.schedule, None).await;
    let url = link.replace("http://127.0.0.1:8080", &run.base);
    let (status, _, page) = get(&url).await;
    assert_eq!(status, 200, "{url}\n{}", run.log());
    assert!(page.contains("A1: an answer to rehearse") && page.contains("rehearsal"));
    let (status, _, md) = get(&url.replace("?key", ".md?key")).await;
    assert_eq!(status, 200);
    assert!(md.contains("**dora**"), "{md}");
    let (status, _, _) = get(url.split('?').next().unwrap()).await;
    assert_eq!(status, 404, "without the key");
}

/// Opens `n` connections to `addr`, each sending part of a request header
/// and then nothing more.
async fn half_sent(addr: &str, n: usize) -> Vec<tokio::net::TcpStream> {
    use tokio::io::AsyncWriteExt as _;
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        let part = format!("GET /transcripts/open/2011-11-01 HTTP/1.1\r\nHost: x\r\nX-Slow-{i}: ");
        c.write_all(part.as_bytes()).await.unwrap();
        held.push(c);
    }
    held
}

/// Whether the server has closed `c` (it reads to its end within `within`;
/// whatever the server said before closing, a 408 say, is skipped).
async fn closed_within(c: &mut tokio::net::TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt as _;
    let mut buf = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match c.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// 500 connections that each send half a request header and stop hold
/// nothing back: while they are open, pages and `/healthz` answer at once
/// (median under 100 ms); past the header timeout the server has closed
/// every one of them, and a kept-alive connection idle that long too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_timed_out_and_hold_nothing_back() {
    let timeout = Duration::from_secs(4);
    let s = served_with(FRESH_FOR, |site| site.limits.header_timeout = timeout).await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let opened = std::time::Instant::now();
    let mut held = half_sent(&addr, 500).await;
    let open = posted_link(&s, "An open debate");
    let health = format!("{}/healthz", s.base);
    let client = client();
    let mut times = Vec::new();
    for _ in 0..10 {
        for url in [&open, &health] {
            let t = std::time::Instant::now();
            let r = client.get(url.as_str()).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200, "{url}");
            r.bytes().await.unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let (median, worst) = support::median_worst(&times);
    eprintln!("with 500 half-sent requests held: median {median:.1} ms, worst {worst:.1} ms");
    assert!(median < 100.0, "median {median:.1} ms");
    assert!(worst < 5_000.0, "worst {worst:.1} ms");
    // Still held while that was measured, unless this machine took the
    // whole timeout to get here.
    if opened.elapsed() < timeout - Duration::from_secs(1) {
        let open_still = held
            .iter()
            .filter(|c| {
                let mut buf = [0u8; 1];
                matches!(c.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            })
            .count();
        assert_eq!(open_still, 500, "the half-sent connections were held");
    }
    for (i, c) in held.iter_mut().enumerate() {
        assert!(
            closed_within(c, timeout + Duration::from_secs(20)).await,
            "half-sent connection {i} is still open"
        );
    }
    // A kept-alive connection, idle after a whole request: closed too.
    use tokio::io::AsyncWriteExt as _;
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let t = std::time::Instant::now();
    assert!(closed_within(&mut idle, timeout + Duration::from_secs(20)).await);
    assert!(
        t.elapsed() >= timeout - Duration::from_millis(500),
        "closed after {:?}: not kept alive",
        t.elapsed()
    );
}

/// Under a limit of 128 open files, 160 connections that each send half a
/// request (the reproduction of issue 15) neither exhaust the process's
/// files nor keep `/healthz` and the pages from answering: at its
/// connection limit the server closes the connections that have waited
/// longest for a request, and says so once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_its_own_file_limit_the_server_keeps_answering() {
    let s = support::cli::setup(YAML);
    std::fs::create_dir_all(&s.data).unwrap();
    let run = PodiumRun::start(&s.data, &s.schedule, Some(128)).await;
    let addr = run.base.trim_start_matches("http://").to_owned();
    let _held = half_sent(&addr, 160).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    for path in ["/healthz", "/", "/healthz"] {
        let r = client.get(format!("{}{path}", run.base)).send().await;
        let status = r.map(|r| r.status().as_u16());
        assert!(
            matches!(status, Ok(200 | 503)),
            "{path}: {status:?}\n{}",
            run.log()
        );
    }
    let log = run.log();
    assert_eq!(
        log.matches("web: at the connection limit").count(),
        1,
        "{log}"
    );
    assert!(!log.contains("Too many open files"), "{log}");
}

/// When the app stops, the web server stops accepting at once but
/// finishes the response it is writing: a client reading a large
/// transcript slowly gets all of it, and the app's `run` (after which
/// `podium run` exits) returns only once it has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_app_finishes_the_response_in_progress() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().unwrap();
    let chat = MemoryChat::new();
    let room = Room::Matrix("#debate:example.org".into());
    let schedule = bot::schedule(YAML, utc("2011-10-01T00:00:00Z"));
    // In real time, just after the `open` debate's first question is due.
    let clock = Clock::starting_at(utc("2011-11-01T20:00:05Z"));
    let mut opts = Options::new(clock, EngineConfig::default(), schedule);
    opts.data_dir = Some(dir.path().to_owned());
    opts.web = Some("127.0.0.1:0".parse().unwrap());
    let app = app::build_with(opts, Arc::new(chat.clone())).await.unwrap();
    let addr = app.web_addr().unwrap();
    let events = app.events();
    let mut notices = app.subscribe();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(app.run(async {
        let _ = stopped.await;
    }));
    loop {
        match notices.recv().await.unwrap() {
            Notice::Posted {
                kind: PostKind::Question,
                ..
            } => break,
            _ => continue,
        }
    }
    // 12 MB of answers, so the JSON transcript is far larger than what
    // the sockets between server and client can hold (the sender's
    // buffer grows up to 4 MB on Linux).
    let long = "x".repeat(512 * 1024);
    for i in 0..24 {
        let event = said(
            &format!("$long{i}"),
            "@bob:example.org",
            "bob",
            &format!("A1: {long}"),
            false,
        );
        let receipt = bot::deliver(&events, &room, event).await.await.unwrap();
        assert!(matches!(receipt, Receipt::Saved { .. }), "{receipt:?}");
    }

    // A client with a small receive window asks for it and reads only the
    // start: the server is left writing the rest.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut client = socket.connect(addr).await.unwrap();
    client
        .write_all(
            b"GET /transcripts/open/2011-11-01.json HTTP/1.1\r\nHost: podium\r\n\
              Connection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut start = [0u8; 512];
    let n = client.read(&mut start).await.unwrap();
    assert!(
        start[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&start[..n])
    );

    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "a stopping server still accepts connections"
    );
    assert!(
        !run.is_finished(),
        "the app stopped with a response still being written"
    );
    let mut response = start[..n].to_vec();
    client.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8(response).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .unwrap_or_else(|| panic!("{head}"))
        .parse()
        .unwrap();
    assert_eq!(body.len(), length, "{head}");
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        json["questions"][0]["replies"].as_array().unwrap().len(),
        24
    );
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the app stops once the response is written")
        .unwrap()
        .unwrap();
}

#[path = "web/live.rs"]
mod live;
