//! The transcript page of a large debate: how long it takes to render, and
//! to produce uncached as a request would (load from the store, then
//! render). Run with `cargo bench --bench web [-- ANSWERS [RUNS]]`
//! (default 10,000 answers, 30 timed runs after 3 warm-up runs); results
//! are recorded in docs/benchmarks.md.
//!
//! `cargo bench --bench web -- serve DIR [ANSWERS]` instead writes a
//! finished public debate (default 300 answers) and its `debates.yaml` into
//! the data directory DIR, and serves it on a free loopback port exactly as
//! `podium run` serves its pages (the same router, read-only connections
//! and page cache; `podium run` itself will not start without a chat
//! network). It prints the page's address and serves until killed:
//! `scripts/bench-web.sh` uses it to compare with nginx.
//!
//! `cargo bench --bench web -- held [HELD]` serves a finished debate (300
//! answers) as `podium run` does and times the page and `/healthz` (200
//! requests each, one at a time) with no other connection open, then while
//! HELD connections (default 500) have each sent half a request header and
//! stopped: the server's header timeout and connection limit at work.
//!
//! The debate: eight questions over two hours, answers from 300 people
//! (some far more active than others), bodies from a few words to a few
//! paragraphs in several scripts (Latin with accents, Cyrillic, Greek,
//! Japanese, Arabic, emoji, and some `<`, `&` and quotes to escape); 12%
//! reply to an earlier answer (some to a reply) a little after it, 5% were
//! edited, and a further one in 200 was deleted (not shown, not counted).
//! Generated from a fixed seed, so every run measures the same transcript.
//!
//! `cargo bench --bench web -- postgres [ANSWERS [RUNS]]` measures the same
//! on PostgreSQL (a real server on loopback, `scripts/postgres-up.sh`, with
//! a database of its own), then serves the page from there as `podium run`
//! does and counts the transactions the database ran (its own
//! `pg_stat_database.xact_commit`) for cached requests between two checks,
//! and under load. `serve DIR [ANSWERS] postgres` serves from PostgreSQL
//! too (`BACKEND=postgres scripts/bench-web.sh`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use podium::clock::Clock;
use podium::domain::AttributedBy;
use podium::health::Health;
use podium::store::{
    Database, NewOccurrence, NewPost, NewReply, OccurrenceRow, PostKind, PostStatus, Store, WriteOp,
};
use podium::transcript::{self, html};
use podium::web::{Site, serve};

#[path = "../tests/support/mod.rs"]
mod support;

const DEBATE: &str = "bench";
const TITLE: &str = "What makes a city good to live in?";
const TZ: &str = "Europe/London";
const ZONES: [&str; 3] = ["Europe/London", "America/New_York", "Asia/Tokyo"];
const ROOM: &str = "#debate:example.org";
/// Local date of the debate (GMT in November, so the same in UTC).
const DATE: &str = "2026-11-20";
const START: &str = "2026-11-20T19:00:00Z";
/// Minutes from the start at which each question is posted.
const QUESTION_AT: [i64; 8] = [5, 19, 33, 47, 61, 75, 89, 103];
const QUESTIONS: [&str; 8] = [
    "What do you notice first when you arrive in a new city?",
    "Public transport or bicycles: which matters more, and why?",
    "How should a city treat the people who cannot afford to live in it?",
    "What is the best public space you know, and what makes it work?",
    "Should cars be kept out of city centres altogether?",
    "Who should decide what gets built: residents, experts or elected councils?",
    "What does a city owe to the night: workers, venues, noise, light?",
    "If you could change one thing about your own city tomorrow, what would it be?",
];
/// People who answer before Q1 (replies to the intro).
const BEFORE_Q1: usize = 40;
const AUTHORS: usize = 300;

const FIRST: [&str; 30] = [
    "Ann",
    "Zoë",
    "Ólafur",
    "Søren",
    "Małgorzata",
    "Дмитрий",
    "Νίκος",
    "さくら",
    "محمد",
    "José",
    "Chloé",
    "Łukasz",
    "Björn",
    "Ana",
    "Ngozi",
    "Priya",
    "Wei",
    "Hannah",
    "İbrahim",
    "Tomás",
    "Ærin",
    "Kofi",
    "Yuki",
    "François",
    "Đorđe",
    "Siobhán",
    "Rahel",
    "Mateus",
    "Léa",
    "Ayşe",
];
const LAST: [&str; 10] = [
    "Smith",
    "Müller",
    "Øvergaard",
    "Kowalczyk",
    "Иванова",
    "田中",
    "Núñez",
    "O'Brien",
    "🌍",
    "Dubois",
];

const SENTENCES: [&str; 32] = [
    "I think the first thing is whether you can walk anywhere without feeling like an intruder.",
    "Honestly it depends on the weather more than anyone admits.",
    "Trams, every time: they tell you the city means to stay.",
    "We tried that in our neighbourhood & it worked for about two years, then the money ran out.",
    "Benches. Free toilets. Shade. Water fountains. That's the whole list.",
    "Ça dépend du quartier : à Lyon, la Croix-Rousse n'a rien à voir avec la Part-Dieu.",
    "In Kraków the old town is lovely but nobody can afford to live there any more.",
    "Städte gehören den Menschen, nicht den Parkplätzen – so einfach ist das.",
    "Москва удобна, если живёшь у метро; если нет, то это совсем другой город.",
    "東京の良いところは、どこでも歩いて行ける小さな商店街があることだと思う。",
    "المدينة الجيدة هي التي يستطيع فيها الأطفال اللعب في الشارع بأمان.",
    "Η Αθήνα είναι χαοτική, αλλά οι πλατείες της είναι γεμάτες ζωή κάθε βράδυ.",
    "The rent is the answer to almost every one of these questions 🙃",
    "Cycling is great until you need to carry a week of shopping up a hill.",
    "Residents know what they need; experts know what it costs; councils know neither.",
    "We need more trees, and fewer \"smart city\" dashboards nobody reads.",
    "Noise complaints killed half the venues in my town <sigh>.",
    "Night buses are a lifeline: nurses, cleaners, bakers, all of them depend on them.",
    "A square with cafés on three sides and a market on Saturdays – that's it.",
    "I'd ban through traffic, not cars: deliveries and taxis still have to get in.",
    "Libraries! Warm, free, open late, nobody asks you to buy anything.",
    "Agree with the point above about benches 👍",
    "I moved from São Paulo to Lisbon and the difference is the pavements, literally.",
    "Why is it always 'either/or'? Most good cities have buses AND bikes AND metros.",
    "Price caps don't build houses; building houses builds houses.",
    "The best public space I know is a car park that turns into a market at night 🌙",
    "In Reykjavík the pools are the public space: everyone goes, every day.",
    "Light pollution is real; I haven't seen the Milky Way in ten years.",
    "Give people a reason to linger and they will look after the place.",
    "More bins. Seriously. So many problems start with nowhere to put things.",
    "If the mayor had to commute by bus for a month, things would change fast.",
    "Councils answer to voters; developers answer to lenders. Guess who wins.",
];

/// A small, fixed-seed generator (splitmix64): the same debate every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// A Matrix-like event id: `$` and 43 base64 characters.
    fn event_id(&mut self) -> String {
        const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut id = String::with_capacity(44);
        id.push('$');
        for _ in 0..43 {
            id.push(char::from(B64[self.below(64)]));
        }
        id
    }
}

fn seconds(n: usize) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(n).unwrap_or(0))
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().expect("a valid instant")
}

/// A chat answer: a few sentences, sometimes tagged, sometimes on several
/// lines, now and then a long one.
fn body(rng: &mut Rng, question: Option<usize>) -> String {
    let sentences = if rng.chance(3) {
        8 + rng.below(8)
    } else {
        1 + rng.below(3)
    };
    let mut out = String::new();
    if let Some(q) = question.filter(|_| rng.chance(60)) {
        out.push_str(&format!("A{}: ", q + 1));
    }
    for i in 0..sentences {
        if i > 0 {
            out.push_str(if rng.chance(10) { "\n" } else { " " });
        }
        out.push_str(SENTENCES[rng.below(SENTENCES.len())]);
    }
    out
}

/// An author: a few people answer far more than the rest.
fn author(rng: &mut Rng) -> (String, String) {
    let r = rng.below(1_000_000) as f64 / 1_000_000.0;
    let k = ((r * r * AUTHORS as f64) as usize).min(AUTHORS - 1);
    (
        format!("@{}:example.org", 1000 + k),
        format!("{} {}", FIRST[k % FIRST.len()], LAST[k / FIRST.len()]),
    )
}

fn yaml() -> String {
    let questions: Vec<String> = QUESTIONS
        .iter()
        .zip(QUESTION_AT)
        .map(|(q, at)| format!("      - {{text: \"{q}\", at: {at}m}}"))
        .collect();
    format!(
        "timezone: {TZ}\nzones: [{}]\nrooms: [\"{ROOM}\"]\ndebates:\n  - id: {DEBATE}\n    \
         title: \"{TITLE}\"\n    public: true\n    starts: 2026-11-20 19:00\n    duration: 2h\n    \
         questions:\n{}\n",
        ZONES.join(", "),
        questions.join("\n")
    )
}

/// Writes `debates.yaml` into `dir` and a finished public debate with
/// `answers` shown answers into the store (`db`, or SQLite in `dir`),
/// through the store's own API.
async fn populate(db: &Database, dir: &Path, answers: usize) -> OccurrenceRow {
    std::fs::create_dir_all(dir).expect("data dir");
    std::fs::write(dir.join("debates.yaml"), yaml()).expect("debates.yaml");
    let start = utc(START);
    let store = Store::open_at(db, dir).await.expect("store");
    let occ = store
        .occurrence(&NewOccurrence {
            debate: DEBATE,
            scheduled_start: start,
            title: TITLE,
            timezone: TZ,
            questions: QUESTIONS.to_vec(),
            zones: ZONES.to_vec(),
            public: true,
            rehearsal_clock: None,
            now: start - chrono::Duration::days(1),
            duration: chrono::Duration::hours(2),
            collect_grace: chrono::Duration::minutes(10),
        })
        .await
        .expect("occurrence");
    let mut seq = 0;
    let mut post = |kind, n: i64, body: String, text: Option<&'static str>, at| {
        seq += 1;
        let store = store.clone();
        let id = occ.id;
        let event = format!("$post{seq}");
        async move {
            let (row, _) = store
                .claim_post(&NewPost {
                    occurrence_id: id,
                    room: ROOM,
                    kind,
                    seq: n,
                    body: &body,
                    question_text: text,
                    due_at: at,
                    late: false,
                    status: PostStatus::Sending,
                })
                .await
                .expect("post");
            store.mark_sent(row.id, at, &event).await.expect("sent");
        }
    };
    post(
        PostKind::Intro,
        0,
        format!("Welcome to “{TITLE}”: answer each question with A1:, A2: ..."),
        None,
        start,
    )
    .await;
    for (i, (q, at)) in QUESTIONS.iter().zip(QUESTION_AT).enumerate() {
        let n = i64::try_from(i + 1).unwrap_or(0);
        let at = start + chrono::Duration::minutes(at);
        post(PostKind::Question, n, format!("Q{n}: {q}"), Some(q), at).await;
    }

    let mut rng = Rng(0x5eed);
    let mut ops = Vec::new();
    let mut edits = Vec::new();
    // Each question's answers so far (id, when), for replies to pick from.
    let mut earlier: Vec<Vec<(String, DateTime<Utc>)>> = vec![Vec::new(); QUESTIONS.len()];
    let mut deleted = 0;
    let mut i = 0;
    while i < answers {
        let question = (i >= BEFORE_Q1).then(|| rng.below(QUESTIONS.len()));
        // When: before Q1, or between its question and three minutes
        // after the next.
        let mut sent = match question {
            None => start + seconds(20 + 13 * i % 270),
            Some(q) => {
                let from = QUESTION_AT[q] * 60 + 10;
                let span =
                    (QUESTION_AT.get(q + 1).copied().unwrap_or(120) - QUESTION_AT[q] + 3) * 60;
                start
                    + seconds(
                        usize::try_from(from).unwrap_or(0)
                            + rng.below(usize::try_from(span).unwrap_or(1)),
                    )
            }
        };
        let (sender_id, sender_name) = author(&mut rng);
        let id = rng.event_id();
        let mut reply = NewReply {
            occurrence_id: occ.id,
            network: "matrix".into(),
            room: ROOM.into(),
            sender_id,
            sender_name,
            body: body(&mut rng, question),
            question: question.map(|q| u32::try_from(q + 1).unwrap_or(0)),
            attributed_by: if question.is_some() {
                AttributedBy::Tag
            } else {
                AttributedBy::Intro
            },
            network_id: id.clone(),
            in_reply_to: None,
            server_ts: None,
            received_at: sent,
            action: false,
            led: true,
        };
        if let Some(q) = question {
            let before = &earlier[q];
            if before.len() > 5 && rng.chance(12) {
                // A reply to an earlier answer (or reply), sent a little
                // after it.
                let (parent, at) = &before[rng.below(before.len())];
                reply.in_reply_to = Some(parent.clone());
                reply.attributed_by = AttributedBy::Reply;
                let who = FIRST[rng.below(FIRST.len())];
                reply.body = format!("@{who} {}", body(&mut rng, None));
                sent = *at + seconds(15 + rng.below(600));
            }
            earlier[q].push((id.clone(), sent));
        }
        reply.server_ts = Some(sent);
        reply.received_at = sent + chrono::Duration::milliseconds(300);
        if rng.chance(5) {
            edits.push(WriteOp::Edit {
                network: "matrix".into(),
                room: ROOM.into(),
                target: id.clone(),
                sender: reply.sender_id.clone(),
                body: format!("{} (edit: typo fixed — ça va mieux)", reply.body),
                question: None,
                at: sent + chrono::Duration::seconds(40),
            });
        }
        ops.push(WriteOp::Insert(reply.clone()));
        i += 1;
        if i % 200 == 100 {
            // One in 200 is said and then deleted: not shown, not counted.
            let gone = rng.event_id();
            reply.network_id = gone.clone();
            reply.in_reply_to = None;
            ops.push(WriteOp::Insert(reply));
            edits.push(WriteOp::Delete {
                network: "matrix".into(),
                room: ROOM.into(),
                target: gone,
                only_by: None,
                at: sent + chrono::Duration::seconds(30),
            });
            deleted += 1;
        }
    }
    ops.extend(edits);
    for chunk in ops.chunks(1024) {
        store.write_batch(chunk, &[]).await.expect("replies");
    }
    store
        .set_ended(occ.id, start + chrono::Duration::hours(2))
        .await
        .expect("ended");
    eprintln!(
        "stored: {answers} answers ({deleted} more deleted), {} questions, up to {AUTHORS} authors",
        QUESTIONS.len()
    );
    store
        .find_occurrence(DEBATE, start)
        .await
        .expect("find")
        .expect("the occurrence")
}

/// Median, 90th percentile and maximum, in milliseconds.
fn summary(mut times: Vec<Duration>) -> (f64, f64, f64) {
    times.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| {
        let i = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
        ms(times[i])
    };
    (at(0.5), at(0.9), ms(times[times.len() - 1]))
}

/// CPU time used so far by all of this process's threads (the SQLite
/// workers too), from `/proc/self/task/*/schedstat` (Linux; `None`
/// elsewhere). On a busy machine it shows what the work cost apart from
/// waiting for a core, which wall time includes.
fn cpu_time() -> Option<Duration> {
    let mut ns = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        // A thread may end between the listing and the read.
        if let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) {
            ns += stat.split_whitespace().next()?.parse::<u64>().ok()?;
        }
    }
    Some(Duration::from_nanos(ns))
}

/// The machine's 1-minute load average, as a note on how busy it was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

/// Wall and CPU times of `runs` calls of `f` after `warmup` calls, and
/// what the last call returned.
async fn time<F, Fut, T>(warmup: usize, runs: usize, mut f: F) -> (Vec<Duration>, Vec<Duration>, T)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    for _ in 0..warmup {
        std::hint::black_box(f().await);
    }
    let mut wall = Vec::with_capacity(runs);
    let mut cpu = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let cpu_before = cpu_time();
        let started = Instant::now();
        let out = std::hint::black_box(f().await);
        wall.push(started.elapsed());
        if let (Some(before), Some(after)) = (cpu_before, cpu_time()) {
            cpu.push(after.saturating_sub(before));
        }
        last = Some(out);
    }
    (wall, cpu, last.expect("at least one run"))
}

async fn render_bench(db: &Database, answers: usize, runs: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let occ = populate(db, dir.path(), answers).await;
    // As `podium run` reads for its pages: four read-only connections.
    let store = Store::open_readers_at(db, dir.path(), 4)
        .await
        .expect("readers");
    let day: NaiveDate = DATE.parse().expect("date");
    let now = Utc::now();
    let links = html::Links::served(DATE, None);
    let t = transcript::build(&store, &occ, chrono::Utc::now())
        .await
        .expect("transcript");
    let shown = t.unattributed.len() + t.questions.iter().map(|q| q.replies.len()).sum::<usize>();
    let authors = {
        let mut ids: Vec<&str> = t
            .unattributed
            .iter()
            .chain(t.questions.iter().flat_map(|q| q.replies.iter()))
            .map(|r| r.author_id.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    };
    let text: usize = t
        .unattributed
        .iter()
        .chain(t.questions.iter().flat_map(|q| q.replies.iter()))
        .map(|r| r.body.len())
        .sum();

    let (by_question, by_question_cpu, page) = time(3, runs, || async {
        html::page(&t, html::View::ByQuestion, &links)
    })
    .await;
    let (in_time, in_time_cpu, time_page) = time(3, runs, || async {
        html::page(&t, html::View::Chronological, &links)
    })
    .await;
    let (load, load_cpu, _) = time(3, runs, || async {
        let occ = transcript::find(&store, DEBATE, Some(day), now, false)
            .await
            .expect("find")
            .expect("the occurrence");
        let fingerprint = store.fingerprint(occ.id).await.expect("fingerprint");
        (
            fingerprint,
            transcript::build(&store, &occ, chrono::Utc::now())
                .await
                .expect("build"),
        )
    })
    .await;
    let (whole, whole_cpu, _) = time(3, runs, || async {
        let occ = transcript::find(&store, DEBATE, Some(day), now, false)
            .await
            .expect("find")
            .expect("the occurrence");
        let fingerprint = store.fingerprint(occ.id).await.expect("fingerprint");
        let t = transcript::build(&store, &occ, chrono::Utc::now())
            .await
            .expect("build");
        (fingerprint, html::page(&t, html::View::ByQuestion, &links))
    })
    .await;
    let (fingerprint, fingerprint_cpu, _) = time(3, runs, || async {
        let occ = transcript::find(&store, DEBATE, Some(day), now, false)
            .await
            .expect("find")
            .expect("the occurrence");
        store.fingerprint(occ.id).await.expect("fingerprint")
    })
    .await;

    println!("store: {}", store.backend_name());
    println!(
        "transcript: {shown} answers shown, {authors} authors, {} questions, {:.1} KB of answer text",
        t.questions.len(),
        text as f64 / 1000.0
    );
    println!(
        "page: {:.1} KB by question, {:.1} KB in time order",
        page.len() as f64 / 1000.0,
        time_page.len() as f64 / 1000.0
    );
    println!(
        "{runs} timed runs each, after 3 warm-up runs; milliseconds; load average {}",
        load_average()
    );
    println!(
        "{:<54} {:>8} {:>8} {:>8} {:>11}",
        "", "median", "p90", "max", "CPU median"
    );
    for (name, wall, cpu) in [
        (
            "render the page, by question (loaded data)",
            by_question,
            by_question_cpu,
        ),
        (
            "render the page, in time order (loaded data)",
            in_time,
            in_time_cpu,
        ),
        ("load: find + fingerprint + build", load, load_cpu),
        (
            "uncached request: find + fingerprint + build + render",
            whole,
            whole_cpu,
        ),
        (
            "a cached request's queries: find + fingerprint",
            fingerprint,
            fingerprint_cpu,
        ),
    ] {
        let (median, p90, max) = summary(wall);
        let cpu = if cpu.is_empty() {
            "-".to_owned()
        } else {
            format!("{:.2}", summary(cpu).0)
        };
        println!("{name:<54} {median:>8.2} {p90:>8.2} {max:>8.2} {cpu:>11}");
    }
    println!("target: rendering under 50 ms");
}

/// The site `podium run` serves from the store at `db` (or SQLite in
/// `dir`) and `dir`'s `debates.yaml`, on four read-only connections.
async fn site(db: &Database, dir: &Path) -> Site {
    let (schedule, _) = podium::schedule::load(&dir.join("debates.yaml"), Utc::now())
        .unwrap_or_else(|e| panic!("debates.yaml: {e:?}"));
    // The schedule never changes here: the sender may go.
    let (_tx, rx) = tokio::sync::watch::channel(Arc::new(schedule));
    let readers = Store::open_readers_at(db, dir, 4).await.expect("readers");
    Site::new(readers, rx, Health::default(), Clock::System)
}

/// Serves `site` on a free loopback port, in the background: its address.
async fn serve_site(site: Site) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("address");
    assert!(addr.ip().is_loopback());
    tokio::spawn(serve(listener, Arc::new(site), std::future::pending()));
    addr
}

/// Serves a finished debate of `answers` answers written into `dir` (and
/// `db`) on a free loopback port, as `podium run` does, until killed.
async fn serve_debate(db: &Database, dir: &Path, answers: usize) {
    populate(db, dir, answers).await;
    let addr = serve_site(site(db, dir).await).await;
    println!("http://{addr}/transcripts/{DEBATE}/{DATE}");
    std::future::pending::<()>().await;
}

/// Transactions committed in database `name` so far, as the server counts
/// them, read over `monitor`, a connection to another database of the
/// server (so that reading them does not count). A backend reports its
/// counts when it goes idle, but at most once a second, and one that
/// reported less than a second before holds them for up to 10 s: so this
/// first waits [`QUIET`] with nothing asked of the database. Also the
/// sessions opened in it so far (a new pooled connection's start is a
/// transaction too).
async fn commits(monitor: &mut sqlx::PgConnection, name: &str) -> Counted {
    tokio::time::sleep(QUIET).await;
    let (transactions, sessions) = sqlx::query_as(
        "SELECT xact_commit + xact_rollback, sessions FROM pg_stat_database WHERE datname = $1",
    )
    .bind(name)
    .fetch_one(monitor)
    .await
    .expect("pg_stat_database");
    Counted {
        transactions,
        sessions,
    }
}

/// What [`commits`] reads.
#[derive(Clone, Copy)]
struct Counted {
    transactions: i64,
    sessions: i64,
}

impl std::ops::Sub for Counted {
    type Output = String;

    /// What happened between two readings, for the report.
    fn sub(self, before: Counted) -> String {
        format!(
            "{} transactions, {} new sessions",
            self.transactions - before.transactions,
            self.sessions - before.sessions
        )
    }
}

/// Long enough for every backend to have reported its counts.
const QUIET: Duration = Duration::from_secs(11);

/// A debate of `answers` answers on PostgreSQL, served as `podium run`
/// serves it, asked for with `Accept-Encoding: gzip` as browsers ask; the
/// database's transactions counted (see [`commits`]) for concurrent
/// requests under load for a few seconds, then, twice each, for one check
/// of the page against the database alone and for one check followed by
/// as many cached requests as fit in the rest of the page's freshness
/// window. The load comes first so that every pooled connection has
/// already prepared the statements it will use (a connection's first
/// `PREPARE` of a statement is a transaction of its own).
async fn cached_bench(answers: usize) {
    use sqlx::Connection as _;
    let server = support::postgres::postgres();
    let url = support::postgres::database().await;
    let name = url.rsplit('/').next().expect("a database name").to_owned();
    let db = Database {
        url: Some(url.clone()),
        pool: 0,
    };
    let dir = tempfile::tempdir().expect("temp dir");
    populate(&db, dir.path(), answers).await;
    // Autovacuum's own transactions in the database would count too:
    // leave it nothing to do.
    let mut owner = sqlx::PgConnection::connect(&url).await.expect("connect");
    sqlx::query("VACUUM ANALYZE")
        .execute(&mut owner)
        .await
        .expect("vacuum");
    owner.close().await.ok();
    // Every statement a session of this database runs from now on is
    // written to the server's log (autovacuum's work is not: it runs no
    // statements).
    let mut superuser = sqlx::PgConnection::connect(&server.superuser_url("postgres"))
        .await
        .expect("connect as the superuser");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {name} SET log_statement = 'all'"
    )))
    .execute(&mut superuser)
    .await
    .expect("log_statement");
    superuser.close().await.ok();
    let log = server.data.join("postgres.log");
    let statements = || -> Vec<String> {
        std::fs::read_to_string(&log)
            .expect("postgres.log")
            .lines()
            .filter_map(|l| {
                l.split_once("LOG:  statement: ")
                    .or_else(|| l.split_once("LOG:  execute "))
                    .map(|(_, s)| s.chars().take(110).collect())
            })
            .collect()
    };
    let logged = || statements().len();
    let mut monitor = sqlx::PgConnection::connect(&server.url)
        .await
        .expect("connect");
    let addr = serve_site(site(&db, dir.path()).await).await;
    let page = format!("http://{addr}/transcripts/{DEBATE}/{DATE}");
    // The gzip bytes as they come, not decompressed (another dependency
    // turns reqwest's decompression on).
    let client = reqwest::Client::builder()
        .no_gzip()
        .build()
        .expect("client");
    let get = |client: reqwest::Client, page: String| async move {
        let r = client
            .get(&page)
            .header("accept-encoding", "gzip")
            .send()
            .await
            .expect("get");
        assert!(r.status().is_success(), "{page}: {}", r.status());
        r.bytes().await.expect("body").len()
    };
    let fresh = podium::web::FRESH_FOR;
    println!(
        "PostgreSQL, served: {answers} answers; statements: those the server logged for the \
         debate's database (log_statement = all); transactions: the database's as the server \
         counts them (pg_stat_database, xact_commit + xact_rollback, each read after {} s of \
         quiet); a page is fresh for {} ms after a check; load average {}",
        QUIET.as_secs(),
        fresh.as_millis(),
        load_average()
    );
    // The first request loads and renders the page.
    let started = Instant::now();
    let bytes = get(client.clone(), page.clone()).await;
    println!(
        "  page: {bytes} bytes gzipped; first request (find, fingerprint, load, render, gzip) {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    // Under load: 32 clients at once for five seconds.
    let c = commits(&mut monitor, &name).await;
    let l = logged();
    let load_for = Duration::from_secs(5);
    let started = Instant::now();
    let clients: Vec<_> = (0..32)
        .map(|_| {
            let (client, page) = (client.clone(), page.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while started.elapsed() < load_for {
                    get(client.clone(), page.clone()).await;
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut served = 0;
    for c in clients {
        served += c.await.expect("client");
    }
    let loaded = started.elapsed();
    let mut logged_before = logged();
    let mut before = commits(&mut monitor, &name).await;
    println!(
        "  under load, 32 clients for {:.2} s: {served} requests ({:.0}/s): {} statements, {}",
        loaded.as_secs_f64(),
        served as f64 / loaded.as_secs_f64(),
        logged_before - l,
        before - c
    );
    for round in 1..=2 {
        // A check alone (the page is no longer fresh after the quiet).
        let started = Instant::now();
        get(client.clone(), page.clone()).await;
        let check = started.elapsed();
        let logged_after = logged();
        let after = commits(&mut monitor, &name).await;
        println!(
            "  round {round}: one request, a check (page unchanged, {:.1} ms): {} statements, {}",
            check.as_secs_f64() * 1000.0,
            logged_after - logged_before,
            after - before
        );
        if round == 1 {
            for s in &statements()[logged_before..] {
                println!("      {s}");
            }
        }
        before = after;
        logged_before = logged_after;
        // A check, then cached requests until 80% of the window has gone.
        let started = Instant::now();
        let mut cached = 0;
        get(client.clone(), page.clone()).await;
        while started.elapsed() < fresh.mul_f64(0.8) {
            get(client.clone(), page.clone()).await;
            cached += 1;
        }
        let window = started.elapsed();
        let logged_after = logged();
        let after = commits(&mut monitor, &name).await;
        println!(
            "  round {round}: a check + {cached} cached requests, all within {:.0} ms: {} statements, {}",
            window.as_secs_f64() * 1000.0,
            logged_after - logged_before,
            after - before
        );
        before = after;
        logged_before = logged_after;
    }
}

/// Times the page and `/healthz` with no connection held, then with `held`
/// half-sent requests held open.
async fn held_bench(held: usize) {
    use tokio::io::AsyncWriteExt as _;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Database::default();
    populate(&db, dir.path(), 300).await;
    let site = site(&db, dir.path()).await;
    let max = site.limits.max_connections;
    let addr = serve_site(site).await;
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let mut open = Vec::new();
    for round in [0, held] {
        while open.len() < round {
            let mut c = tokio::net::TcpStream::connect(addr).await.expect("connect");
            c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .await
                .expect("half a header");
            open.push(c);
        }
        println!(
            "{round} half-sent requests held (connection limit {max}), load average {}",
            load_average()
        );
        for path in [
            format!("/transcripts/{DEBATE}/{DATE}"),
            "/healthz".to_owned(),
        ] {
            let (times, _, ()) = time(20, 200, || async {
                let r = client
                    .get(format!("{base}{path}"))
                    .send()
                    .await
                    .expect("get");
                assert!(r.status().is_success(), "{path}: {}", r.status());
                r.bytes().await.expect("body");
            })
            .await;
            let (median, p90, max) = summary(times);
            println!("  {path:<40} median {median:>6.2} ms  p90 {p90:>6.2} ms  max {max:>7.2} ms");
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; the rest are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if args.first().map(String::as_str) == Some("serve") {
        let dir = args
            .get(1)
            .expect("usage: web serve DIR [ANSWERS] [postgres]");
        let answers = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(300);
        let db = if args.iter().any(|a| a == "postgres") {
            Database {
                url: Some(rt.block_on(support::postgres::database())),
                pool: 0,
            }
        } else {
            Database::default()
        };
        rt.block_on(serve_debate(&db, Path::new(dir), answers));
        return;
    }
    if args.first().map(String::as_str) == Some("postgres") {
        let answers = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
        let runs = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(30);
        let db = Database {
            url: Some(rt.block_on(support::postgres::database())),
            pool: 0,
        };
        rt.block_on(render_bench(&db, answers, runs));
        rt.block_on(cached_bench(answers));
        return;
    }
    if args.first().map(String::as_str) == Some("held") {
        let held = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(500);
        rt.block_on(held_bench(held));
        return;
    }
    let answers = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let runs = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(30);
    rt.block_on(render_bench(&Database::default(), answers, runs));
}
