//! Live pages (issue 19, point 5): the page of a debate still running
//! loads Podium's own script and listens to its event stream, which tells
//! of every change; the stream has the page's privacy, is bounded, ends
//! with the debate and with the server. In headless Chromium (driven over
//! WebDriver by chromedriver), an answer sent to the room is on the open
//! page within 2 seconds, and hostile proposals run nothing.

use super::*;
use support::browser::{Driver, js};

use podium::chat::{Event, Incoming, Sender};
use podium::web::{HEARTBEAT, script_name};
use tokio::sync::{broadcast, mpsc, oneshot};

const LIVE: &str = r##"
timezone: Europe/London
zones: [Europe/London]
organisers: ["@host:example.org"]
debates:
  - id: now
    title: A debate in progress
    public: true
    starts: 2011-11-01 20:00
    duration: 1h
    rooms: ["#now:example.org"]
    questions: [What now?, {text: And then?, at: 30m}]
  - id: hush
    title: A private debate in progress
    starts: 2011-11-01 20:00
    duration: 1h
    rooms: ["#hush:example.org"]
    questions: [Quietly?]
"##;

/// The two debates of [`LIVE`] running in real time (it is 20:00:05 when
/// they start), on an app that serves its pages on loopback as `podium
/// run` does.
struct LiveApp {
    dir: tempfile::TempDir,
    base: String,
    store: Store,
    schedule: Arc<Schedule>,
    /// Sending a new schedule here is a reload.
    reload: watch::Sender<Arc<Schedule>>,
    clock: Clock,
    events: mpsc::Sender<Incoming>,
    stop: Option<oneshot::Sender<()>>,
    run: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl LiveApp {
    async fn start() -> LiveApp {
        let dir = tempfile::tempdir().unwrap();
        let schedule = bot::schedule(LIVE, utc("2011-10-01T00:00:00Z"));
        let clock = Clock::starting_at(utc("2011-11-01T20:00:05Z"));
        let mut opts = Options::new(clock.clone(), EngineConfig::default(), schedule.clone());
        opts.data_dir = Some(dir.path().to_owned());
        opts.web = Some("127.0.0.1:0".parse().unwrap());
        let app = app::build_with(opts, Arc::new(MemoryChat::new()))
            .await
            .unwrap();
        let base = format!("http://{}", app.web_addr().unwrap());
        let store = app.store().clone();
        let events = app.events();
        let reload = app.schedule();
        let mut notices = app.subscribe();
        let (stop, stopped) = oneshot::channel::<()>();
        let run = tokio::spawn(app.run(async {
            let _ = stopped.await;
        }));
        // Both debates' first question is out.
        let mut asked = 0;
        while asked < 2 {
            match notices.recv().await {
                Ok(Notice::Posted {
                    kind: PostKind::Question,
                    ..
                }) => asked += 1,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("the engine stopped: {e}"),
            }
        }
        LiveApp {
            dir,
            base,
            store,
            schedule,
            reload,
            clock,
            events,
            stop: Some(stop),
            run: Some(run),
        }
    }

    fn page(&self) -> String {
        format!("{}/transcripts/now/2011-11-01", self.base)
    }

    async fn token(&self, debate: &str) -> String {
        self.store.occurrences_of(debate).await.unwrap()[0]
            .token
            .clone()
    }

    /// `who` says `body` in the debate's room; the engine's receipt, once
    /// it is stored.
    async fn say(&self, debate: &str, id: &str, who: &str, body: &str) -> Receipt {
        let room = Room::Matrix(format!("#{debate}:example.org"));
        let event = Event::Message {
            id: id.to_owned(),
            sender: Sender {
                id: format!("@{who}:example.org"),
                name: who.to_owned(),
                verified: true,
            },
            body: body.to_owned(),
            in_reply_to: None,
            server_ts: None,
            action: false,
        };
        bot::deliver(&self.events, &room, event)
            .await
            .await
            .unwrap()
    }

    /// Another server of the same data (as a second replica's would be),
    /// with `adjust` having its say on its limits; the site, to count its
    /// streams.
    async fn another_site(&self, adjust: impl FnOnce(&mut Site)) -> (String, Arc<Site>) {
        let readers = Store::open_readers(self.dir.path(), 2).await.unwrap();
        // The schedule as it is (a receiver keeps the last one sent).
        let (_, rx) = watch::channel(self.schedule.clone());
        let mut site = Site::new(readers, rx, Health::default(), self.clock.clone());
        adjust(&mut site);
        let site = Arc::new(site);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(serve(listener, site.clone(), std::future::pending()));
        (base, site)
    }

    /// Stops the app; how long its `run` took to return.
    async fn stop(&mut self) -> Duration {
        let t = std::time::Instant::now();
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(30), self.run.take().unwrap())
            .await
            .expect("the app stops")
            .unwrap()
            .unwrap();
        t.elapsed()
    }
}

/// An event stream as a client reads it.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(url: &str) -> Events {
        let response = streams().get(url).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{url}");
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Events {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (its name and data), comments skipped; `None` when
    /// the stream ends. Fails if none comes within `within`.
    async fn next(&mut self, within: Duration) -> Option<(String, String)> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(at) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..at + 2).collect();
                let mut name = None;
                let mut data = None;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        name = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = Some(v.to_owned());
                    }
                }
                if let Some(name) = name {
                    return Some((name, data.unwrap_or_default()));
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .expect("an event in time");
            match chunk {
                Ok(Some(bytes)) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(None) | Err(_) => return None,
            }
        }
    }
}

/// A client for streams: without a timeout on the whole response (each
/// read has its own).
fn streams() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The `data-version` of a page's `<main>`.
fn version_of(page: &str) -> String {
    let at = page.find("data-version=\"").expect("a live page") + "data-version=\"".len();
    page[at..].split('"').next().unwrap().to_owned()
}

/// A live page loads the one script, from this server, under a name that
/// changes with its content, and refreshes itself every 30 s without
/// scripts; its policy allows that script and its stream, from this
/// origin, and nothing inline. A finished debate's page has no script, and
/// the policy of every other response allows none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_page_has_its_script_and_a_finished_one_none() {
    let app = LiveApp::start().await;
    let script = script_name();
    let (status, headers, page) = get(&app.page()).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; \
         img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    for needle in [
        format!("<script src=\"../../assets/{script}\" defer></script>\n"),
        "<noscript><meta http-equiv=\"refresh\" content=\"30\"></noscript>\n</head>".to_owned(),
        "<main id=\"transcript\" data-events=\"./2011-11-01.events\" data-version=\"".to_owned(),
        "This debate is live: new answers appear as they come\
         <span class=\"noscript-hint\"> (reload to see them without scripts)</span>."
            .to_owned(),
    ] {
        assert!(page.contains(&needle), "no {needle}\n{page}");
    }
    // One script element, and no inline script or handler.
    assert_eq!(page.matches("<script").count(), 1, "{page}");
    for handler in ["onload=", "onerror=", "onclick=", "javascript:"] {
        assert!(!page.contains(handler), "{handler}");
    }
    // Its 304 keeps the policy (a browser takes the 304's headers).
    let again = client()
        .get(app.page())
        .header("if-none-match", headers["etag"].to_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);
    assert_eq!(
        again.headers()["content-security-policy"],
        headers["content-security-policy"]
    );
    // The time-ordered view, one level down.
    let (_, headers, time) = get(&format!("{}/time", app.page())).await;
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert!(time.contains(&format!("<script src=\"../../../assets/{script}\" defer>")));
    assert!(
        time.contains("data-events=\"../2011-11-01.events\""),
        "{time}"
    );
    // A private one: its stream needs the key too.
    let token = app.token("hush").await;
    let hush = format!("{}/transcripts/hush/2011-11-01?key={token}", app.base);
    let (status, _, page) = get(&hush).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("data-events=\"./2011-11-01.events?key={token}\"")),
        "{page}"
    );
    // Other renderings are not pages: no script, the strict policy.
    let (_, headers, _) = get(&format!("{}.json", app.page())).await;
    assert!(
        !headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script")
    );

    // The script: JavaScript, cached for good under its name; no other.
    let r = client()
        .get(format!("{}/assets/{script}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let js = r.text().await.unwrap();
    assert!(js.contains("DOMParser") && js.contains("EventSource"));
    let nothing = get(&format!("{}/nothing/here", app.base)).await;
    for other in ["live.js", "live.0000000000000000.js", "../Cargo.toml"] {
        let (status, _, body) = get(&format!("{}/assets/{other}", app.base)).await;
        assert_eq!(
            (status, body.as_str()),
            (404, nothing.2.as_str()),
            "{other}"
        );
    }

    // A finished debate's page: no script, no refresh, no live line.
    let s = served().await;
    let open = posted_link(&s, "An open debate");
    for url in [open.clone(), format!("{open}/time")] {
        let (status, headers, page) = get(&url).await;
        assert_eq!(status, 200);
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(!csp.contains("script") && !csp.contains("connect"), "{csp}");
        assert!(
            !page.contains("<script") && !page.contains("<noscript"),
            "{page}"
        );
        assert!(!page.contains("data-events") && !page.contains("is live"));
        assert!(page.contains("<main id=\"transcript\">"), "{page}");
    }
}

/// The stream is the page's to open: a wrong key, none, or an address that
/// does not exist get the page's very 404; the right key, the stream. A
/// finished debate's stream says `end` at once and closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_answers_as_the_page_does() {
    let app = LiveApp::start().await;
    let token = app.token("hush").await;
    let wrong: String = token
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    let bare = format!("{}/transcripts/hush/2011-11-01", app.base);
    let nothing = get(&format!("{}/nothing/here", app.base)).await;
    for url in [
        format!("{bare}.events"),
        format!("{bare}.events?key={wrong}"),
        format!("{bare}.events?key="),
        format!("{bare}.events?key={}", &token[1..]),
        format!("{}/transcripts/hush/2011-11-09.events", app.base),
        format!("{}/transcripts/nosuch/2011-11-01.events", app.base),
        format!("{}/transcripts/now/2011-13-01.events", app.base),
        format!("{}/rehearsals/hush/20111101T200000000.events", app.base),
    ] {
        let (status, _, body) = get(&url).await;
        assert_eq!((status, body.as_str()), (404, nothing.2.as_str()), "{url}");
        // The page itself answers the same.
        let page = url.replace(".events", "");
        let (status, _, body) = get(&page).await;
        assert_eq!((status, body.as_str()), (404, nothing.2.as_str()), "{page}");
    }
    let mut stream = Events::open(&format!("{bare}.events?key={token}")).await;
    let (name, version) = stream.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(name, "change");
    let (_, _, page) = get(&format!("{bare}?key={token}")).await;
    assert_eq!(version, version_of(&page), "the page's own version first");
    let r = streams()
        .get(format!("{bare}.events?key={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["cache-control"], "private, no-store");

    // Finished debates: `end`, and the stream closes.
    let s = served().await;
    let open = posted_link(&s, "An open debate");
    let mut stream = Events::open(&format!("{open}.events")).await;
    assert_eq!(
        stream.next(Duration::from_secs(5)).await,
        Some(("end".into(), "over".into()))
    );
    assert_eq!(stream.next(Duration::from_secs(5)).await, None);
    let private = posted_link(&s, "A private debate");
    let bare = private.split('?').next().unwrap();
    let nothing = get(&format!("{}/nothing/here", s.base)).await;
    let (status, _, body) = get(&format!("{bare}.events")).await;
    assert_eq!((status, body.as_str()), (404, nothing.2.as_str()));
    let mut stream = Events::open(&private.replace("?key", ".events?key")).await;
    assert_eq!(stream.next(Duration::from_secs(5)).await.unwrap().0, "end");
}

/// The stream tells of a new answer within two seconds of it being stored
/// (and the page fetched on that news already has it, though the page was
/// checked against the store less than a second before), of a vote, and
/// says `end` once the debate no longer collects answers; the page is then
/// without its script.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_tells_of_each_change_and_of_the_end() {
    let app = LiveApp::start().await;
    let events = format!("{}/transcripts/now/2011-11-01.events", app.base);
    let mut stream = Events::open(&events).await;
    let (name, first) = stream.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(name, "change");
    let mut version = first;
    for (i, (who, body, shows)) in [
        ("ann", "A1: streamed at once", "streamed at once"),
        ("bob", "!propose Why stream?", "Why stream?"),
        ("cat", "!vote P1", "1 vote"),
    ]
    .into_iter()
    .enumerate()
    {
        // The page, just checked: fresh in memory for a second.
        let (_, _, page) = get(&app.page()).await;
        assert!(!page.contains(shows), "{page}");
        let receipt = app.say("now", &format!("$live{i}"), who, body).await;
        let stored = std::time::Instant::now();
        assert!(
            matches!(receipt, Receipt::Saved { .. } | Receipt::Command),
            "{receipt:?}"
        );
        let (name, next) = stream.next(Duration::from_secs(5)).await.unwrap();
        let delay = stored.elapsed();
        eprintln!(
            "{body:?}: told of it {} ms after it was stored",
            delay.as_millis()
        );
        assert_eq!(name, "change");
        assert_ne!(next, version);
        assert!(delay < Duration::from_secs(2), "{delay:?}");
        let (_, _, page) = get(&app.page()).await;
        assert!(page.contains(shows), "{shows} is not on the page\n{page}");
        assert_eq!(version_of(&page), next);
        version = next;
    }
    // Over: ended long enough ago that the collect grace has passed too.
    let occ = app.store.occurrences_of("now").await.unwrap().remove(0);
    let grace = occ.collect_grace.unwrap();
    let ended = app.clock.now() - grace - chrono::Duration::seconds(1);
    app.store.set_ended(occ.id, ended).await.unwrap();
    let t = std::time::Instant::now();
    loop {
        match stream.next(Duration::from_secs(5)).await {
            Some((name, _)) if name == "change" => continue,
            Some((name, data)) => {
                assert_eq!((name.as_str(), data.as_str()), ("end", "over"));
                break;
            }
            None => panic!("the stream closed without `end`"),
        }
    }
    eprintln!(
        "`end` {} ms after the debate was over",
        t.elapsed().as_millis()
    );
    assert_eq!(stream.next(Duration::from_secs(5)).await, None, "closed");
    let (_, headers, page) = get(&app.page()).await;
    assert!(
        !page.contains("<script") && !page.contains("data-events"),
        "{page}"
    );
    assert!(
        !headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script")
    );
}

/// A debate made private keeps no stream opened without its key: the
/// reload ends every stream, and opening it again is the page's 404;
/// with the key it opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_debate_made_private_keeps_no_stream_without_its_key() {
    let app = LiveApp::start().await;
    let events = format!("{}.events", app.page());
    let mut stream = Events::open(&events).await;
    assert_eq!(
        stream.next(Duration::from_secs(5)).await.unwrap().0,
        "change"
    );
    let private = LIVE.replacen("    public: true\n", "", 1);
    app.reload
        .send(bot::schedule(&private, utc("2011-10-01T00:00:00Z")))
        .unwrap();
    assert_eq!(stream.next(Duration::from_secs(5)).await, None, "ended");
    let nothing = get(&format!("{}/nothing/here", app.base)).await;
    let (status, _, body) = get(&events).await;
    assert_eq!((status, body.as_str()), (404, nothing.2.as_str()));
    let token = app.token("now").await;
    let mut keyed = Events::open(&format!("{events}?key={token}")).await;
    assert_eq!(
        keyed.next(Duration::from_secs(5)).await.unwrap().0,
        "change"
    );
}

/// Streams are bounded per debate and in all: past either bound a 503
/// (the script then fetches the page now and then); a place is given back
/// when its reader leaves. The access check comes first: a wrong key is
/// still the 404, whatever the load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_are_bounded() {
    let app = LiveApp::start().await;
    let (base, site) = app
        .another_site(|site| {
            site.limits.max_streams = 3;
            site.limits.max_streams_per_debate = 2;
        })
        .await;
    let now = format!("{base}/transcripts/now/2011-11-01.events");
    let token = app.token("hush").await;
    let hush = format!("{base}/transcripts/hush/2011-11-01.events?key={token}");
    let refused = |url: String| async move {
        let r = streams().get(&url).send().await.unwrap();
        let status = r.status().as_u16();
        let retry = r.headers().get("retry-after").cloned();
        (status, retry)
    };
    let mut first = Events::open(&now).await;
    let mut second = Events::open(&now).await;
    for s in [&mut first, &mut second] {
        assert_eq!(s.next(Duration::from_secs(5)).await.unwrap().0, "change");
    }
    let (status, retry) = refused(now.clone()).await;
    assert_eq!(status, 503, "a third on one debate");
    assert_eq!(retry.unwrap(), "30");
    let mut third = Events::open(&hush).await;
    assert_eq!(
        third.next(Duration::from_secs(5)).await.unwrap().0,
        "change"
    );
    assert_eq!(site.live_streams(), 3);
    assert_eq!(refused(hush.clone()).await.0, 503, "a fourth in all");
    let wrong = hush.replace(&token, &"0".repeat(32));
    assert_eq!(refused(wrong).await.0, 404, "the key first");
    // A reader leaves: its place is free once the server sees it gone.
    drop(first);
    let left = std::time::Instant::now();
    // At the latest when its next heartbeat finds the connection closed.
    let deadline = left + HEARTBEAT + Duration::from_secs(10);
    while site.live_streams() > 2 {
        assert!(std::time::Instant::now() < deadline, "the place was kept");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "a place given back {} ms after its reader left",
        left.elapsed().as_millis()
    );
    let mut again = Events::open(&now).await;
    assert_eq!(
        again.next(Duration::from_secs(5)).await.unwrap().0,
        "change"
    );
    drop((second, third, again));
}

/// Open streams do not hold up a clean shutdown: the app stops as fast
/// with one open as without, and the stream ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_stream_does_not_hold_up_stopping() {
    let mut app = LiveApp::start().await;
    let mut stream = Events::open(&format!("{}.events", app.page())).await;
    assert_eq!(
        stream.next(Duration::from_secs(5)).await.unwrap().0,
        "change"
    );
    let took = app.stop().await;
    eprintln!("stopped in {} ms with a stream open", took.as_millis());
    // The server would wait 5 s for a response still being written.
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert_eq!(stream.next(Duration::from_secs(5)).await, None, "ended");
}

/// In headless Chromium, the open page of a running debate shows an answer
/// sent to the room within 2 seconds of it being stored, and a vote; a
/// hostile proposal, there when the page opened or arriving with a live
/// update, is shown as text and runs nothing. The page keeps the reader's
/// scroll position across updates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_real_browser_a_live_page_shows_new_answers_within_2_seconds() {
    let app = LiveApp::start().await;
    let title = "A debate in progress · transcript";
    let hostile_before = "<img src=x onerror=\"document.title='PWNED'\"> <b>bold</b>";
    let hostile_after =
        "<script>document.title='PWNED'</script><img src=x onerror=\"window.pwned=1\">";
    let r = app
        .say(
            "now",
            "$p1",
            "mallory",
            &format!("!propose {hostile_before}"),
        )
        .await;
    assert!(matches!(r, Receipt::Command), "{r:?}");
    let driver = Driver::start().await;
    driver.go(&app.page()).await;
    // The script ran (it marks the document), and the page is as served.
    let started = std::time::Instant::now();
    let ran = driver
        .until(
            "return document.documentElement.classList.contains('live-js');",
            started,
            Duration::from_secs(10),
        )
        .await;
    assert!(ran.is_some(), "the live script did not run");
    let has = |text: &str| {
        format!(
            "return document.getElementById('transcript').textContent.includes({});",
            js(text)
        )
    };
    assert_eq!(driver.run(&has(hostile_before)).await, true);
    // Room to scroll: a reader halfway down stays there.
    for i in 0..40 {
        let body = format!("A1: an earlier answer, number {i}, to make the page long");
        app.say("now", &format!("$e{i}"), &format!("p{i}"), &body)
            .await;
    }
    let at = std::time::Instant::now();
    assert!(
        driver
            .until(&has("number 39,"), at, Duration::from_secs(10))
            .await
            .is_some()
    );
    driver.run("window.scrollTo(0, 300); return true;").await;

    // The answer: stored, then on the page.
    let answer = "A1: seen live in the browser";
    let receipt = app.say("now", "$seen", "zoe", answer).await;
    let stored = std::time::Instant::now();
    assert!(matches!(receipt, Receipt::Saved { .. }), "{receipt:?}");
    let delay = driver
        .until(&has(answer), stored, Duration::from_secs(10))
        .await;
    let delay = delay.expect("the answer never appeared on the open page");
    eprintln!(
        "live page: the answer was on the open page {} ms after it was stored",
        delay.as_millis()
    );
    assert!(delay < Duration::from_secs(2), "{delay:?}");
    let y = driver.run("return window.pageYOffset;").await;
    assert_eq!(y, 300, "the reader's scroll position");

    // A vote, and a hostile proposal arriving with a live update.
    app.say("now", "$v1", "cat", "!vote P1").await;
    let r = app
        .say("now", "$p2", "eve", &format!("!propose {hostile_after}"))
        .await;
    assert!(matches!(r, Receipt::Command), "{r:?}");
    let t = std::time::Instant::now();
    let shown = driver
        .until(&has(hostile_after), t, Duration::from_secs(10))
        .await;
    assert!(shown.is_some(), "the second proposal never appeared");
    assert_eq!(driver.run(&has("1 vote")).await, true);
    // Nothing in either ran or became markup.
    let state = driver
        .run(
            "var m = document.getElementById('transcript');
             return [document.title, typeof window.pwned,
                     m.querySelectorAll('img, script, b').length,
                     document.querySelectorAll('script').length];",
        )
        .await;
    assert_eq!(
        state,
        serde_json::json!([title, "undefined", 0, 1]),
        "{state}"
    );
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("web")
        .join("live-transcript.png");
    driver.run("window.scrollTo(0, 0); return true;").await;
    driver.screenshot(&shot).await;
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "{} is {size} bytes", shot.display());
    eprintln!("screenshot: {}", shot.display());
    driver.quit().await;
}
