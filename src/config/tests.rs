use std::collections::HashMap;

use super::*;

/// Loads `toml` (if any) with `env` as the whole environment.
fn load(toml: Option<&str>, env: &[(&str, &str)]) -> Result<Config, Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("podium.toml");
    if let Some(t) = toml {
        std::fs::write(&path, t).unwrap();
    }
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let file = toml.map(|_| path.as_path());
    Config::load(file, &|k| env.get(k).cloned(), &Overrides::default()).map_err(|errors| {
        errors
            .iter()
            .map(|e| {
                e.to_string()
                    .replace(&format!("{}", path.display()), "podium.toml")
            })
            .collect()
    })
}

fn origin_of(config: &Config, path: &str) -> String {
    config
        .settings
        .iter()
        .find(|s| s.key.path() == path)
        .map(|s| s.origin.to_string())
        .unwrap()
}

#[test]
fn with_nothing_set_the_defaults_apply() {
    let c = load(None, &[]).unwrap();
    assert_eq!(c.data_dir, PathBuf::from("data"));
    assert_eq!(c.schedule, PathBuf::from("debates.yaml"));
    assert_eq!(c.public_url, DEFAULT_PUBLIC_URL);
    assert_eq!(c.web_addr.to_string(), "127.0.0.1:8080");
    assert_eq!(c.timings.late_grace, Duration::minutes(15));
    assert_eq!(c.timings.collect_grace, Duration::minutes(10));
    assert!(c.matrix.is_none() && c.irc.is_none());
    assert_eq!(origin_of(&c, "data_dir"), "default");
}

const FILE: &str = r#"
data_dir = "/var/lib/podium"
public_url = "https://podium.example.org/"

[engine]
late_grace = "5m"

[matrix]
homeserver = "http://127.0.0.1:8008"
user = "@podium:localhost"
password = "from-the-file"
"#;

#[test]
fn the_file_is_read_and_the_environment_overrides_it() {
    let c = load(Some(FILE), &[]).unwrap();
    assert_eq!(c.data_dir, PathBuf::from("/var/lib/podium"));
    assert_eq!(c.public_url, "https://podium.example.org");
    assert_eq!(c.timings.late_grace, Duration::minutes(5));
    let m = c.matrix.as_ref().unwrap();
    assert_eq!(m.homeserver, "http://127.0.0.1:8008");
    assert_eq!(m.password.as_ref().unwrap().expose(), "from-the-file");
    let file = c.file.as_ref().unwrap().display().to_string();
    assert_eq!(origin_of(&c, "matrix.user"), format!("{file}:10:8"));

    let c = load(
        Some(FILE),
        &[
            ("PODIUM_DATA_DIR", "/srv/podium"),
            ("PODIUM_MATRIX_PASSWORD", "from-the-env"),
            ("PODIUM_ENGINE_LATE_GRACE", "20m"),
            ("PODIUM_WEB_ADDR", "[::1]:9000"),
        ],
    )
    .unwrap();
    assert_eq!(c.data_dir, PathBuf::from("/srv/podium"));
    assert_eq!(c.timings.late_grace, Duration::minutes(20));
    assert_eq!(c.web_addr.to_string(), "[::1]:9000");
    let m = c.matrix.as_ref().unwrap();
    assert_eq!(m.password.as_ref().unwrap().expose(), "from-the-env");
    assert_eq!(origin_of(&c, "matrix.password"), "PODIUM_MATRIX_PASSWORD");
    assert_eq!(origin_of(&c, "data_dir"), "PODIUM_DATA_DIR");
}

#[test]
fn a_secret_can_come_from_a_file_and_is_never_formatted() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("pw");
    std::fs::write(&secret, "s3cret-value\n").unwrap();
    let c = load(
        None,
        &[
            ("PODIUM_MATRIX_HOMESERVER", "http://127.0.0.1:8008"),
            ("PODIUM_MATRIX_USER", "@podium:localhost"),
            ("PODIUM_MATRIX_PASSWORD_FILE", secret.to_str().unwrap()),
        ],
    )
    .unwrap();
    let m = c.matrix.as_ref().unwrap();
    assert_eq!(m.password.as_ref().unwrap().expose(), "s3cret-value");
    let shown = format!("{c:?} {c:#?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    let setting = c
        .settings
        .iter()
        .find(|s| s.key.path() == "matrix.password")
        .unwrap();
    assert_eq!(setting.shown.as_deref(), Some("***"));
}

#[test]
fn every_problem_is_reported_where_it_was_written() {
    let errors = load(
        Some(
            "data_dir = \"d\"\nschedul = \"x.yaml\"\n[matrix]\nhomeservr = \"http://x\"\n\
             user = \"podium\"\n[irc]\ntls = \"yes\"\nserver = 6667\n[web]\naddr = \"localhost\"\n\
             [webb]\nx = 1\n",
        ),
        &[("PODIUM_PUBLIC_URL", "ftp://example.org")],
    )
    .unwrap_err();
    let text = errors.join("\n");
    for want in [
        "podium.toml:2:1: error: unknown key `schedul` at the top level\n    hint: did you mean `schedule`?",
        "podium.toml:4:1: error: unknown key `homeservr` in [matrix]\n    hint: did you mean `homeserver`?",
        "podium.toml:7:7: error: `irc.tls` must be true or false, not text",
        "podium.toml:8:10: error: `irc.server` must be text in quotes, not a number",
        "podium.toml:11:2: error: unknown section [webb]\n    hint: did you mean [web]?",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    // The file's structure is reported first; values are checked once it
    // reads.
    let errors = load(
        Some("[matrix]\nuser = \"podium\"\n[web]\naddr = \"localhost\"\n"),
        &[("PODIUM_PUBLIC_URL", "ftp://example.org")],
    )
    .unwrap_err()
    .join("\n");
    for want in [
        "PODIUM_PUBLIC_URL: error: `public_url` must be a URL such as http://127.0.0.1:8008: \
         `ftp://example.org` is not an http:// or https:// URL",
        "podium.toml:4:8: error: `web.addr` must be an address such as 127.0.0.1:8080 or \
         [::1]:8080: `localhost` is not an IP address and port",
        "podium.toml:2:8: error: `matrix.user` must be a Matrix user id such as \
         @podium:example.org: `podium` is not a full user id",
    ] {
        assert!(errors.contains(want), "missing {want:?} in:\n{errors}");
    }
}

#[test]
fn a_user_without_a_password_is_an_error_naming_the_settings() {
    let errors = load(
        None,
        &[
            ("PODIUM_MATRIX_HOMESERVER", "http://127.0.0.1:8008"),
            ("PODIUM_MATRIX_USER", "@podium:localhost"),
        ],
    )
    .unwrap_err()
    .join("\n");
    assert!(
        errors.starts_with(
            "PODIUM_MATRIX_HOMESERVER: error: Matrix is configured but neither a password nor an \
             access token is set\n    hint: set PODIUM_MATRIX_PASSWORD"
        ),
        "{errors}"
    );
    let errors = load(None, &[("PODIUM_IRC_NICK", "podium")])
        .unwrap_err()
        .join("\n");
    assert!(
        errors.contains("PODIUM_IRC_NICK: error: IRC is configured but the server is not set"),
        "{errors}"
    );
}

#[test]
fn invalid_toml_is_located() {
    let errors = load(Some("data_dir = \"a\"\ndata_dir = \"b\"\n"), &[]).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("podium.toml:2:1: error: invalid TOML: "),
        "{errors:?}"
    );
}

#[test]
fn the_example_file_is_valid_and_documents_every_key() {
    let text = include_str!("../../podium.example.toml");
    let c = load(Some(text), &[]).unwrap();
    assert!(c.matrix.is_none() && c.irc.is_none());
    for key in KEYS {
        assert!(
            text.contains(&format!("{} = ", key.name)),
            "podium.example.toml lacks `{}`",
            key.path()
        );
        assert!(
            text.contains(&key.env()),
            "podium.example.toml does not name {}",
            key.env()
        );
    }
    // Uncommented, the network sections are complete examples.
    let on = text
        .replace("# homeserver", "homeserver")
        .replace("# user", "user")
        .replace("# password = ", "password = ")
        .replace("# server", "server")
        .replace("# nick", "nick");
    let c = load(Some(&on), &[]).unwrap();
    assert_eq!(c.matrix.unwrap().user, "@podium:example.org");
    assert_eq!(c.irc.unwrap().server, "irc.libera.chat:6697");
}
