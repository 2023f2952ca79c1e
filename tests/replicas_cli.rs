//! `podium replicas`, the real binary against a real PostgreSQL
//! (`scripts/postgres-up.sh`): the replicas and leases seeded through the
//! store's own API (as running replicas write them) are listed as text and
//! as JSON, each live replica with the debates it leads and their rooms,
//! then the leases no one holds; on SQLite the command refuses with the
//! configuration status, 78.

mod support;

use std::time::Duration;

use podium::store::{Database, Store, Tick};
use serde_json::Value;
use support::cli::{Output, output, podium_in, setup};

const SCHEDULE: &str = r##"timezone: Europe/London
debates:
  - id: alpha
    title: Alpha
    starts: 2030-01-01 20:00
    rooms: ["#alpha:example.org", "irc:#alpha"]
    questions: [One?]
  - id: beta
    title: Beta
    starts: 2030-01-02 20:00
    rooms: ["#beta:example.org"]
    questions: [One?]
  - id: gamma
    title: Gamma
    starts: 2030-01-03 20:00
    rooms: ["#gamma"]
    questions: [One?]
  - id: delta
    title: Delta
    starts: 2030-01-04 20:00
    rooms: ["#delta:example.org"]
    questions: [One?]
  - id: epsilon
    title: Epsilon
    starts: 2030-01-05 20:00
    rooms: ["#epsilon:example.org"]
    questions: [One?]
"##;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// One tick of replica `name`, allowed to take `debates`.
async fn tick(store: &Store, name: &str, ttl: Duration, debates: &[&str]) -> Vec<String> {
    let debates = strings(debates);
    let ticked = store
        .lease_tick(&Tick {
            name,
            session: &format!("{name}-session"),
            ttl,
            debates: &debates,
            shed: &[],
        })
        .await
        .unwrap();
    let mut taken: Vec<String> = ticked.taken.into_iter().map(|(d, _)| d).collect();
    taken.sort();
    taken
}

async fn register(store: &Store, name: &str, ttl: Duration) {
    store
        .register_replica(name, name, &format!("{name}-session"), ttl)
        .await
        .unwrap();
}

fn replicas(url: &str, schedule: &std::path::Path, data: &std::path::Path, json: bool) -> Output {
    let mut cmd = podium_in(data);
    cmd.env("PODIUM_DATABASE_URL", url)
        .env("PODIUM_SCHEDULE", schedule)
        .arg("replicas");
    if json {
        cmd.arg("--json");
    }
    output(cmd)
}

fn json_of(out: &Output) -> Value {
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

/// The text block of one replica: its line and the indented ones after.
fn block<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let mut lines = text
        .lines()
        .skip_while(|l| !l.starts_with(&format!("{name} ")));
    let mut block: Vec<&str> = lines.next().into_iter().collect();
    block.extend(lines.take_while(|l| l.starts_with("  ")));
    block
}

#[tokio::test]
async fn replicas_and_their_leases_are_listed_as_text_and_as_json() {
    let url = support::postgres::database().await;
    let s = setup(SCHEDULE);
    let db = Database {
        url: Some(url.clone()),
        pool: 2,
    };
    let dir = tempfile::tempdir().unwrap();
    // A writer, as `podium run` is: it creates the tables.
    let store = Store::open_at(&db, dir.path()).await.unwrap();

    // Nothing yet.
    let out = replicas(&url, &s.schedule, &s.data, false);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("Replicas: 0 live of 0 known. Leases: 0 held of 0.")
            && out
                .stdout
                .contains("No replica has run against this database"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("podiumpass") && !out.stderr.contains("podiumpass"));
    let v = json_of(&replicas(&url, &s.schedule, &s.data, true));
    assert_eq!(v["replicas"], serde_json::json!([]));
    assert_eq!(v["leases"], serde_json::json!([]));
    assert_eq!(
        v["unleased"],
        serde_json::json!(["alpha", "beta", "gamma", "delta", "epsilon"])
    );
    assert_eq!(v["schedule_read"], true);

    // Leases for four of the schedule's debates and one that has left it;
    // `delta` has none yet.
    store
        .add_leases(&strings(&["alpha", "beta", "gamma", "epsilon", "retired"]))
        .await
        .unwrap();
    let long = Duration::from_secs(120);
    let short = Duration::from_secs(1);
    // podium-a alone: its share is both debates it may take.
    register(&store, "podium-a", long).await;
    assert_eq!(
        tick(&store, "podium-a", long, &["alpha", "beta"]).await,
        ["alpha", "beta"]
    );
    register(&store, "podium-b", long).await;
    assert_eq!(tick(&store, "podium-b", long, &["gamma"]).await, ["gamma"]);
    // podium-c takes `retired` and then goes silent (killed): its lease
    // expires with it.
    register(&store, "podium-c", short).await;
    assert_eq!(
        tick(&store, "podium-c", short, &["retired"]).await,
        ["retired"]
    );
    // podium-d takes `epsilon` and stops cleanly (SIGTERM): handed back.
    register(&store, "podium-d", long).await;
    assert_eq!(
        tick(&store, "podium-d", long, &["epsilon"]).await,
        ["epsilon"]
    );
    assert_eq!(
        store
            .stop_replica("podium-d", "podium-d-session")
            .await
            .unwrap(),
        1
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let leases = store.leases().await.unwrap();
    let rows = store.replicas().await.unwrap();

    // JSON: the documented shape, every value as the store has it.
    let v = json_of(&replicas(&url, &s.schedule, &s.data, true));
    let names: Vec<&str> = v["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["podium-a", "podium-b", "podium-c", "podium-d"]);
    let states: Vec<&str> = v["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["live", "live", "silent", "stopped"]);
    let a = &v["replicas"][0];
    assert_eq!(a["live"], true);
    assert_eq!(a["stopped_at"], Value::Null);
    assert_eq!(
        a["started_at"],
        rows[0]
            .started_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let alpha = leases.iter().find(|l| l.debate == "alpha").unwrap();
    assert_eq!(
        a["leads"],
        serde_json::json!([
            {
                "debate": "alpha",
                "epoch": 1,
                "expires_at": alpha.expires_at.unwrap()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "in_schedule": true,
                "rooms": ["#alpha:example.org", "irc:#alpha"],
            },
            {
                "debate": "beta",
                "epoch": 1,
                "expires_at": leases.iter().find(|l| l.debate == "beta").unwrap()
                    .expires_at.unwrap().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "in_schedule": true,
                "rooms": ["#beta:example.org"],
            },
        ])
    );
    let leads = |i: usize| -> Vec<&str> {
        v["replicas"][i]["leads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["debate"].as_str().unwrap())
            .collect()
    };
    assert_eq!(leads(1), ["gamma"]);
    assert_eq!(
        v["replicas"][1]["leads"][0]["rooms"],
        serde_json::json!(["irc:#gamma"])
    );
    assert!(leads(2).is_empty() && leads(3).is_empty());
    assert!(v["replicas"][3]["stopped_at"].is_string());
    assert_eq!(v["replicas"][2]["stopped_at"], Value::Null);

    let lease = |debate: &str| -> &Value {
        v["leases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["debate"] == debate)
            .unwrap_or_else(|| panic!("no lease for {debate}: {v}"))
    };
    let order: Vec<&str> = v["leases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["debate"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["alpha", "beta", "epsilon", "gamma", "retired"]);
    assert_eq!(lease("alpha")["state"], "held");
    assert_eq!(lease("alpha")["holder"], "podium-a");
    assert_eq!(lease("gamma")["holder"], "podium-b");
    // Expired: the last holder is kept, and the debate has left the
    // schedule, so it has no rooms.
    let retired = lease("retired");
    assert_eq!(retired["state"], "expired");
    assert_eq!(retired["holder"], "podium-c");
    assert_eq!(retired["epoch"], 1);
    assert!(retired["expires_at"].is_string());
    assert_eq!(retired["in_schedule"], false);
    assert_eq!(retired["rooms"], serde_json::json!([]));
    // Handed back: free, no holder, no expiry, its epoch kept.
    let epsilon = lease("epsilon");
    assert_eq!(epsilon["state"], "free");
    assert_eq!(epsilon["holder"], Value::Null);
    assert_eq!(epsilon["expires_at"], Value::Null);
    assert_eq!(epsilon["epoch"], 1);
    assert_eq!(epsilon["in_schedule"], true);
    assert_eq!(
        epsilon["rooms"],
        serde_json::json!(["#epsilon:example.org"])
    );
    assert_eq!(v["unleased"], serde_json::json!(["delta"]));

    // Text: the same, grouped by replica.
    let out = replicas(&url, &s.schedule, &s.data, false);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let text = &out.stdout;
    assert!(
        text.starts_with("Replicas: 2 live of 4 known. Leases: 3 held of 5."),
        "{text}"
    );
    let a = block(text, "podium-a");
    assert!(
        a[0].contains(" live ") && a[0].contains("last seen "),
        "{text}"
    );
    assert_eq!(a[1], "  leads 2 debates:", "{text}");
    assert!(
        a[2].starts_with("    alpha  epoch 1    until ")
            && a[2].ends_with("rooms #alpha:example.org, irc:#alpha"),
        "{text}"
    );
    assert!(
        a[3].starts_with("    beta   epoch 1") && a[3].ends_with("rooms #beta:example.org"),
        "{text}"
    );
    assert_eq!(a.len(), 4, "{text}");
    let b = block(text, "podium-b");
    assert_eq!(b[1], "  leads 1 debate:", "{text}");
    assert!(b[2].ends_with("rooms irc:#gamma"), "{text}");
    let c = block(text, "podium-c");
    assert!(
        c[0].contains(" silent ") && c[0].contains("not seen within its lease time"),
        "{text}"
    );
    assert_eq!(c.len(), 1, "{text}");
    let d = block(text, "podium-d");
    assert!(
        d[0].contains(" stopped ") && d[0].contains("  stopped 20"),
        "{text}"
    );
    assert!(text.contains("\nLeases not held (2):\n"), "{text}");
    let line = |debate: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("  {debate} ")))
            .unwrap_or_else(|| panic!("no line for {debate}: {text}"))
    };
    assert!(
        line("epsilon").contains(" free ")
            && line("epsilon").ends_with("rooms #epsilon:example.org"),
        "{text}"
    );
    assert!(
        line("retired").contains(" expired ")
            && line("retired").contains("(last held by podium-c)")
            && line("retired").ends_with("(not in the schedule)"),
        "{text}"
    );
    assert!(
        text.contains("Debates of the schedule without a lease yet")
            && text.trim_end().ends_with(": delta"),
        "{text}"
    );

    // A schedule that cannot be read: the leases without their rooms, and
    // a note; still a success.
    let missing = s.dir.path().join("nowhere.yaml");
    let out = replicas(&url, &missing, &s.data, true);
    assert!(
        out.stderr.contains("nowhere.yaml could not be read"),
        "{}",
        out.stderr
    );
    let v = json_of(&out);
    assert_eq!(v["schedule_read"], false);
    assert_eq!(v["leases"][0]["in_schedule"], Value::Null);
    assert_eq!(v["leases"][0]["rooms"], serde_json::json!([]));
    assert_eq!(v["unleased"], serde_json::json!([]));
    let out = replicas(&url, &missing, &s.data, false);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains("rooms are not shown") && !out.stdout.contains("rooms #"),
        "{}",
        out.stdout
    );
    drop(store);
}

/// On SQLite (no database.url) there are no replicas: exit 78, saying
/// what to set; the same with --json, which prints nothing on stdout.
#[test]
fn on_sqlite_replicas_are_refused_as_a_configuration_error() {
    let s = setup(SCHEDULE);
    for json in [false, true] {
        let mut cmd = podium_in(&s.data);
        cmd.env("PODIUM_SCHEDULE", &s.schedule).arg("replicas");
        if json {
            cmd.arg("--json");
        }
        let out = output(cmd);
        assert_eq!(out.code, Some(78), "{}", out.stderr);
        assert!(
            out.stderr.contains("replicas need PostgreSQL")
                && out.stderr.contains("PODIUM_DATABASE_URL"),
            "{}",
            out.stderr
        );
        assert_eq!(out.stdout, "");
    }
    // Nothing was created in the data directory.
    assert!(!s.data.exists());
}

/// A database that refuses the command (a wrong password) is a
/// configuration error too, as for `podium run`, shown without the
/// password; and `--help` says what the command shows.
#[tokio::test]
async fn a_database_that_refuses_is_status_78_and_help_explains() {
    let url = support::postgres::database().await;
    let s = setup(SCHEDULE);
    let wrong = url.replace(":podiumpass@", ":wrongpass@");
    let out = replicas(&wrong, &s.schedule, &s.data, false);
    assert_eq!(out.code, Some(78), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("cannot use the database at postgres://podium:***@127.0.0.1:"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("wrongpass"), "{}", out.stderr);

    let mut cmd = support::cli::podium();
    cmd.args(["replicas", "--help"]);
    let out = output(cmd);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for words in [
        "leases",
        "PostgreSQL",
        "--json",
        "exits 78",
        "docs/replicas.md",
    ] {
        assert!(out.stdout.contains(words), "{words}: {}", out.stdout);
    }
    let mut cmd = support::cli::podium();
    cmd.arg("help");
    let out = output(cmd);
    assert!(out.stdout.contains("replicas"), "{}", out.stdout);
}
