//! Configuration through the binary: podium.toml, the environment over it,
//! every kind of mistake reported where it was written with exit 78,
//! secrets never shown (not by `podium config`, not in any log line at any
//! level), `podium run` without a network, and a clean stop on SIGTERM.

mod support;

use std::path::Path;
use std::process::Command;

use support::WAIT;
use support::cli::{Output, output, podium, setup};
use support::rehearsal::{Rehearsal, drill, post_body, question_number, transcript_json};

const SECRET: &str = "correct-horse-battery-staple";

/// `podium ARGS` in `dir` with `env` set.
fn podium_at(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd: Command = podium();
    cmd.current_dir(dir).envs(env.iter().copied()).args(args);
    output(cmd)
}

/// A temporary directory holding `podium.toml` with `toml`.
fn with_file(toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("podium.toml"), toml).unwrap();
    dir
}

/// The `podium config` line of a key (`name = value  # origin`).
fn line_of<'a>(out: &'a Output, key: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no `{key}` in:\n{}", out.stdout))
}

const FILE: &str = "data_dir = \"/srv/podium\"\npublic_url = \"https://podium.example.org\"\n\n\
[web]\naddr = \"127.0.0.1:9090\"\n\n[engine]\nlate_grace = \"5m\"\n";

#[test]
fn values_come_from_the_file_and_the_environment_wins() {
    let dir = with_file(FILE);
    let out = podium_at(dir.path(), &[], &["config"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        line_of(&out, "data_dir"),
        "data_dir = \"/srv/podium\"  # podium.toml:1:12"
    );
    assert_eq!(
        line_of(&out, "addr"),
        "addr = \"127.0.0.1:9090\"  # podium.toml:5:8"
    );
    assert_eq!(
        line_of(&out, "late_grace"),
        "late_grace = \"5m\"  # podium.toml:8:14"
    );
    assert_eq!(
        line_of(&out, "schedule"),
        "schedule = \"debates.yaml\"  # default; PODIUM_SCHEDULE overrides"
    );

    let env = [
        ("PODIUM_DATA_DIR", "/var/lib/podium"),
        ("PODIUM_ENGINE_LATE_GRACE", "20m"),
        ("PODIUM_SCHEDULE", "/etc/podium/debates.yaml"),
    ];
    let out = podium_at(dir.path(), &env, &["config"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        line_of(&out, "data_dir"),
        "data_dir = \"/var/lib/podium\"  # PODIUM_DATA_DIR"
    );
    assert_eq!(
        line_of(&out, "late_grace"),
        "late_grace = \"20m\"  # PODIUM_ENGINE_LATE_GRACE"
    );
    assert_eq!(
        line_of(&out, "schedule"),
        "schedule = \"/etc/podium/debates.yaml\"  # PODIUM_SCHEDULE"
    );
    // A flag wins over both.
    let out = podium_at(dir.path(), &env, &["--data-dir", "/tmp/flag", "config"]);
    assert_eq!(
        line_of(&out, "data_dir"),
        "data_dir = \"/tmp/flag\"  # --data-dir"
    );
    // The output is a configuration file itself.
    let copy = tempfile::tempdir().unwrap();
    std::fs::write(copy.path().join("podium.toml"), &out.stdout).unwrap();
    assert_eq!(podium_at(copy.path(), &[], &["config"]).code, Some(0));
}

#[test]
fn an_explicit_config_file_is_used_and_must_exist() {
    let dir = with_file(FILE);
    let elsewhere = tempfile::tempdir().unwrap();
    let file = dir.path().join("podium.toml");
    let out = podium_at(
        elsewhere.path(),
        &[],
        &["--config", file.to_str().unwrap(), "config"],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(line_of(&out, "data_dir").contains("/srv/podium"));
    let out = podium_at(
        elsewhere.path(),
        &[],
        &["--config", "missing.toml", "config"],
    );
    assert_eq!(out.code, Some(78));
    assert!(
        out.stderr
            .starts_with("podium: error: cannot read the configuration file missing.toml: "),
        "{}",
        out.stderr
    );
}

/// A podium.toml, the environment, and the start of what is reported.
type Case = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

/// Each mistake, with where it is reported and the exit status.
#[test]
fn every_mistake_is_located_and_exits_78() {
    let cases: &[Case] = &[
        (
            "[matrix]\nhomeservr = \"http://127.0.0.1:8008\"\n",
            &[],
            "podium.toml:2:1: error: unknown key `homeservr` in [matrix]\n    hint: did you mean `homeserver`?",
        ),
        (
            "[irc]\ntls = \"yes\"\n",
            &[],
            "podium.toml:2:7: error: `irc.tls` must be true or false, not text",
        ),
        (
            "[web]\naddr = \"localhost\"\n",
            &[],
            "podium.toml:2:8: error: `web.addr` must be an address such as 127.0.0.1:8080 or \
             [::1]:8080: `localhost` is not an IP address and port",
        ),
        (
            "",
            &[("PODIUM_PUBLIC_URL", "podium.example.org")],
            "PODIUM_PUBLIC_URL: error: `public_url` must be a URL such as http://127.0.0.1:8008: \
             `podium.example.org` is not a URL (relative URL without a base)",
        ),
        (
            "",
            &[("PODIUM_ENGINE_COLLECT_GRACE", "ten minutes")],
            "PODIUM_ENGINE_COLLECT_GRACE: error: `engine.collect_grace` must be a duration such \
             as 15m or 1h 30m: `ten minutes` is not a duration",
        ),
        (
            "[matrix]\nhomeserver = \"http://127.0.0.1:8008\"\nuser = \"@podium:localhost\"\n",
            &[],
            "podium.toml:2:14: error: Matrix is configured but neither a password nor an access \
             token is set\n    hint: set PODIUM_MATRIX_PASSWORD",
        ),
        (
            "",
            &[("PODIUM_MATRIX_USER", "podium")],
            "PODIUM_MATRIX_USER: error: `matrix.user` must be a Matrix user id such as \
             @podium:example.org: `podium` is not a full user id",
        ),
        (
            "",
            &[
                ("PODIUM_MATRIX_HOMESERVER", "http://127.0.0.1:8008"),
                ("PODIUM_MATRIX_USER", "@podium:localhost"),
                ("PODIUM_MATRIX_PASSWORD_FILE", "/nonexistent/secret"),
            ],
            "PODIUM_MATRIX_PASSWORD_FILE (/nonexistent/secret): error: cannot read the secret \
             file /nonexistent/secret: No such file or directory",
        ),
        (
            "data_dir = \"a\"\ndata_dir = \"b\"\n",
            &[],
            "podium.toml:2:1: error: invalid TOML: ",
        ),
        (
            "[webb]\naddr = \"127.0.0.1:1\"\n",
            &[],
            "podium.toml:1:2: error: unknown section [webb]\n    hint: did you mean [web]?",
        ),
    ];
    for (toml, env, want) in cases {
        let dir = with_file(toml);
        let out = podium_at(dir.path(), env, &["config"]);
        assert_eq!(out.code, Some(78), "{toml:?} {env:?}: {}", out.stderr);
        assert!(
            out.stderr.starts_with(want),
            "{toml:?} {env:?}:\nwanted {want:?}\ngot    {:?}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{}", out.stdout);
        // Every command that reads the configuration refuses the same way.
        let out = podium_at(dir.path(), env, &["run"]);
        assert_eq!(
            out.code,
            Some(78),
            "run with {toml:?} {env:?}: {}",
            out.stderr
        );
    }
}

/// A secret given both as a value and as a file (`password` and
/// `password_file`, or `PODIUM_..._PASSWORD` and `PODIUM_..._PASSWORD_FILE`)
/// used to be resolved silently, one of them ignored: which one is meant is
/// the operator's to say. (Across layers the environment still wins over
/// the file, as for every setting.)
#[test]
fn a_secret_given_both_as_a_value_and_as_a_file_is_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "from-the-file\n").unwrap();
    let secret = secret.to_str().unwrap();
    let matrix = "[matrix]\nhomeserver = \"http://127.0.0.1:8008\"\nuser = \"@podium:localhost\"\n";
    // (podium.toml, environment, the start of what is reported)
    type Twice<'a> = (String, Vec<(&'a str, &'a str)>, String);
    let cases: Vec<Twice> = vec![
        (
            format!("{matrix}password = \"{SECRET}\"\npassword_file = \"{secret}\"\n"),
            vec![],
            "podium.toml:5:17: error: `matrix.password` is given twice: as `password_file` here \
             and as `password` at podium.toml:4:12\n    hint: keep one of them"
                .to_owned(),
        ),
        (
            format!("{matrix}password = \"x\"\naccess_token_file = \"{secret}\"\naccess_token = \"t\"\n"),
            vec![],
            "podium.toml:5:21: error: `matrix.access_token` is given twice: as `access_token_file` \
             here and as `access_token` at podium.toml:6:16\n    hint: keep one of them"
                .to_owned(),
        ),
        (
            "[irc]\nserver = \"127.0.0.1:6667\"\nnick = \"podium\"\n".to_owned(),
            vec![
                ("PODIUM_IRC_PASSWORD", SECRET),
                ("PODIUM_IRC_PASSWORD_FILE", secret),
            ],
            "PODIUM_IRC_PASSWORD_FILE: error: `irc.password` is given twice: as \
             PODIUM_IRC_PASSWORD_FILE and as PODIUM_IRC_PASSWORD\n    hint: unset one of them"
                .to_owned(),
        ),
        (
            format!("[irc]\nserver = \"127.0.0.1:6667\"\nnick = \"podium\"\nserver_password_file = \"{secret}\"\nserver_password = \"{SECRET}\"\n"),
            vec![],
            "podium.toml:4:24: error: `irc.server_password` is given twice: as \
             `server_password_file` here and as `server_password` at podium.toml:5:19\n    \
             hint: keep one of them"
                .to_owned(),
        ),
    ];
    for (toml, env, want) in &cases {
        let dir = with_file(toml);
        for command in ["config", "run"] {
            let out = podium_at(dir.path(), env, &[command]);
            assert_eq!(
                out.code,
                Some(78),
                "{command} {toml:?} {env:?}: {}",
                out.stderr
            );
            assert!(
                out.stderr.starts_with(want.as_str()),
                "{command} {toml:?} {env:?}:\nwanted {want:?}\ngot    {:?}",
                out.stderr
            );
            assert!(!out.stderr.contains(SECRET), "{}", out.stderr);
        }
    }
    // The environment over the file is precedence, not a conflict.
    let dir = with_file(&format!("{matrix}password_file = \"{secret}\"\n"));
    let out = podium_at(
        dir.path(),
        &[("PODIUM_MATRIX_PASSWORD", SECRET)],
        &["config"],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        line_of(&out, "password"),
        "password = \"***\"  # PODIUM_MATRIX_PASSWORD"
    );
}

#[test]
fn run_without_a_network_says_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let out = podium_at(dir.path(), &[], &["run"]);
    assert_eq!(out.code, Some(78));
    for needed in [
        "no chat network is configured",
        "PODIUM_MATRIX_HOMESERVER, PODIUM_MATRIX_USER and PODIUM_MATRIX_PASSWORD",
        "PODIUM_IRC_SERVER",
        "PODIUM_IRC_NICK",
    ] {
        assert!(out.stderr.contains(needed), "{needed}: {}", out.stderr);
    }
}

fn the_drill() -> String {
    drill("2h", "[One?, {text: Two?, at: 1h}]")
}

fn matrix_env(secret_file: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("PODIUM_MATRIX_HOMESERVER", "http://127.0.0.1:8008".into()),
        ("PODIUM_MATRIX_USER", "@podium:localhost".into()),
        ("PODIUM_MATRIX_ACCESS_TOKEN", SECRET.into()),
        (
            "PODIUM_MATRIX_PASSWORD_FILE",
            secret_file.display().to_string(),
        ),
        ("RUST_LOG", "trace".into()),
    ]
}

/// `podium run` for three seconds, then SIGTERM: it must exit 0 within ten.
/// Returns its stderr.
fn run_then_terminate(dir: &Path, env: &[(&str, &str)]) -> String {
    let log = dir.join("run.log");
    let mut child = podium()
        .current_dir(dir)
        .envs(env.iter().copied())
        .arg("run")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("podium run did not stop within 10 s of SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}: {text}");
    text
}

/// Secrets set every way (environment, a secret file, the file) never
/// appear in `podium config`, nor in the logs of `run` and `rehearse` at
/// the most verbose level.
#[test]
fn secrets_are_never_printed() {
    let s = setup(&the_drill());
    let secret_file = s.dir.path().join("password");
    std::fs::write(&secret_file, format!("{SECRET}-file\n")).unwrap();
    let toml = format!("[matrix]\npassword = \"{SECRET}-toml\"\n");
    std::fs::write(s.dir.path().join("podium.toml"), toml).unwrap();
    let env = matrix_env(&secret_file);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let out = podium_at(s.dir.path(), &env, &["config"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        line_of(&out, "password").starts_with("password = \"***\"  # PODIUM_MATRIX_PASSWORD_FILE")
    );
    assert!(line_of(&out, "access_token").starts_with("access_token = \"***\""));
    // `run` tries to reach the (absent) homeserver until SIGTERM stops it,
    // which must work then too.
    let run = run_then_terminate(s.dir.path(), &env);
    for (what, text) in [
        ("config stdout", &out.stdout),
        ("config stderr", &out.stderr),
        ("run stderr", &run),
    ] {
        assert!(!text.contains(SECRET), "{what} shows the secret:\n{text}");
    }

    let stderr = s.dir.path().join("rehearse.stderr");
    let mut r = Rehearsal::start_with_env(
        &s.data,
        &s.schedule,
        &["drill", "--speed", "300"],
        stderr.clone(),
        &env,
    );
    r.wait_for("Q1", |l| post_body(l).and_then(question_number) == Some(1));
    r.send("A1: an answer");
    r.wait_for("the ack", |l| l == "  ✓ saved: you → Q1");
    r.send("!end");
    r.wait_for("the hint", |l| l.starts_with("(or: podium transcript"));
    r.finish();
    let logs = std::fs::read_to_string(&stderr).unwrap();
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "the logs were verbose"
    );
    assert!(
        !logs.contains(SECRET),
        "the rehearsal's log shows the secret"
    );
    assert!(!r.lines().any(|l| l.contains(SECRET)));
}

/// SIGTERM (docker stop, systemd) stops a rehearsal cleanly: exit 0, every
/// acknowledged answer stored, and the same command resumes it.
#[test]
fn sigterm_stops_a_rehearsal_with_every_acknowledged_answer_stored() {
    let s = setup(&the_drill());
    let mut r = Rehearsal::start(
        &s.data,
        &s.schedule,
        &["drill", "--speed", "300"],
        s.dir.path().join("r.stderr"),
    );
    r.wait_for("Q1", |l| post_body(l).and_then(question_number) == Some(1));
    let names = ["ann", "bob", "cat", "dan", "eve", "fay", "gus", "hal"];
    for name in names {
        r.send(&format!("{name}: A1: answer from {name}"));
    }
    for name in names {
        let want = format!("  ✓ saved: {name} → Q1");
        r.wait_for("an ack", |l| l == want);
    }
    r.terminate();
    let status = r.wait_exit(WAIT).expect("exits after SIGTERM");
    assert!(status.success(), "exit status {status}\n{}", r.dump());
    let rest = r.drain();
    assert!(
        rest.iter()
            .chain(r.lines().map(str::to_owned).collect::<Vec<_>>().iter())
            .any(|l| l.starts_with("Stopped. Run the same command again")),
        "{}",
        r.dump()
    );
    let t = transcript_json(&s.data, None);
    let authors: Vec<&str> = t["questions"][0]["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["author"].as_str().unwrap())
        .collect();
    assert_eq!(authors, names, "{t:#}");
}

/// A configuration file holding a password, or a secret file, that other
/// users can read is named at start by `podium run` (and by `podium
/// config`), with its mode and the fix; once private, nothing is said.
#[cfg(unix)]
#[test]
fn secrets_readable_by_others_are_warned_of() {
    use std::os::unix::fs::PermissionsExt;
    let s = setup(&the_drill());
    let secret_file = s.dir.path().join("password");
    std::fs::write(&secret_file, format!("{SECRET}-file\n")).unwrap();
    let toml = s.dir.path().join("podium.toml");
    std::fs::write(&toml, format!("[irc]\nserver = \"127.0.0.1:1\"\nnick = \"podium\"\ntls = false\npassword = \"{SECRET}\"\n")).unwrap();
    let chmod = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    chmod(&secret_file, 0o644);
    chmod(&toml, 0o640);
    let env = matrix_env(&secret_file);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let env: Vec<(&str, &str)> = env
        .into_iter()
        .filter(|(k, _)| *k != "PODIUM_MATRIX_ACCESS_TOKEN")
        // Any free port: another test's `podium run` may hold the default.
        .chain([("PODIUM_WEB_ADDR", "127.0.0.1:0")])
        .collect();

    let run = run_then_terminate(s.dir.path(), &env);
    let warned = |log: &str, path: &Path, holds: &str, mode: &str| {
        log.lines().any(|l| {
            l.contains(&format!(
                "{} holds a secret ({holds}) and can be read by other users (mode {mode}); \
                 `chmod 600 {}` makes it private",
                path.display(),
                path.display()
            ))
        })
    };
    assert!(
        warned(&run, &secret_file, "matrix.password", "0644"),
        "{run}"
    );
    assert!(
        warned(&run, Path::new("podium.toml"), "irc.password", "0640"),
        "{run}"
    );
    let out = podium_at(s.dir.path(), &env, &["config"]);
    assert!(
        warned(&out.stderr, &secret_file, "matrix.password", "0644"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("chmod"), "stdout stays a podium.toml");

    chmod(&secret_file, 0o600);
    chmod(&toml, 0o600);
    let run = run_then_terminate(s.dir.path(), &env);
    assert!(!run.contains("can be read by other users"), "{run}");
    // A file without a secret in it may be read by anyone.
    std::fs::write(&toml, "[web]\naddr = \"127.0.0.1:0\"\n").unwrap();
    chmod(&toml, 0o644);
    let out = podium_at(s.dir.path(), &env, &["config"]);
    assert!(
        !out.stderr.contains("can be read by other users"),
        "{}",
        out.stderr
    );
}
