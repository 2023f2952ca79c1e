//! Every configuration key, in one table: its section, type, default, the
//! environment variable that overrides it, and the line `podium.example.toml`
//! and `podium config` document it with. Adding a setting is one row here
//! and one field in [`super::Config`].

/// What a key holds; how its text is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A file or directory path.
    Path,
    /// An `http://` or `https://` URL.
    Url,
    /// A socket address to listen on, `127.0.0.1:8080` or `[::1]:8080`.
    Addr,
    /// A server to connect to, `host:port`.
    HostPort,
    Bool,
    /// A duration such as `15m` or `1h 30m`.
    Duration,
    Text,
    /// A full Matrix user id, `@podium:example.org`.
    MatrixUser,
    /// A password or token: shown as `***`, and may also be read from a
    /// file (`<KEY>_FILE` in the environment, `<key>_file` in the file).
    Secret,
    /// A whole number from 1 up.
    Count,
    /// A PostgreSQL URL, which may hold a password: read like a secret
    /// (also from a file), shown without its password.
    DatabaseUrl,
}

impl Kind {
    /// "a URL such as ...", for messages.
    pub fn expected(self) -> &'static str {
        match self {
            Kind::Path => "a path",
            Kind::Url => "a URL such as http://127.0.0.1:8008",
            Kind::Addr => "an address such as 127.0.0.1:8080 or [::1]:8080",
            Kind::HostPort => "a server as host:port, such as irc.libera.chat:6697",
            Kind::Bool => "true or false",
            Kind::Duration => "a duration such as 15m or 1h 30m",
            Kind::Text => "text",
            Kind::MatrixUser => "a Matrix user id such as @podium:example.org",
            Kind::Secret => "text",
            Kind::Count => "a whole number from 1 up",
            Kind::DatabaseUrl => {
                "a PostgreSQL URL such as postgres://podium:PASSWORD@127.0.0.1:5432/podium"
            }
        }
    }

    /// Whether the value may be read from a file (`<KEY>_FILE`,
    /// `<key>_file`) and is never shown whole.
    pub fn is_secret(self) -> bool {
        matches!(self, Kind::Secret | Kind::DatabaseUrl)
    }

    /// Whether the TOML value is a boolean rather than a string.
    pub fn is_bool(self) -> bool {
        self == Kind::Bool
    }
}

#[derive(Debug)]
pub struct Key {
    /// `None` for top-level keys.
    pub section: Option<&'static str>,
    pub name: &'static str,
    pub kind: Kind,
    pub default: Option<&'static str>,
    /// One line for `podium.example.toml` and `podium config`.
    pub doc: &'static str,
}

impl Key {
    /// `matrix.user`, or `data_dir` at the top level.
    pub fn path(&self) -> String {
        match self.section {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.to_owned(),
        }
    }

    /// `PODIUM_<SECTION>_<KEY>`, or `PODIUM_<KEY>` at the top level.
    pub fn env(&self) -> String {
        let mut v = String::from("PODIUM_");
        if let Some(s) = self.section {
            v.push_str(&s.to_ascii_uppercase());
            v.push('_');
        }
        v.push_str(&self.name.to_ascii_uppercase());
        v
    }
}

/// The default base of transcript links, and the default web address it
/// points at.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

const fn key(
    section: Option<&'static str>,
    name: &'static str,
    kind: Kind,
    default: Option<&'static str>,
    doc: &'static str,
) -> Key {
    Key {
        section,
        name,
        kind,
        default,
        doc,
    }
}

pub const SECTIONS: &[&str] = &[
    "web", "metrics", "engine", "database", "replicas", "matrix", "irc",
];

pub const KEYS: &[Key] = &[
    key(
        None,
        "data_dir",
        Kind::Path,
        Some("data"),
        "where the database (podium.db) and rehearsal logs live",
    ),
    key(
        None,
        "schedule",
        Kind::Path,
        Some("debates.yaml"),
        "the debates file; re-read when it changes and on SIGHUP",
    ),
    key(
        None,
        "public_url",
        Kind::Url,
        Some(DEFAULT_PUBLIC_URL),
        "base of the transcript links Podium posts",
    ),
    key(
        None,
        "retention",
        Kind::Duration,
        None,
        "answers are removed this long after their debate started (not set: kept)",
    ),
    key(
        Some("web"),
        "addr",
        Kind::Addr,
        Some("127.0.0.1:8080"),
        "where the transcript pages are served",
    ),
    key(
        Some("metrics"),
        "addr",
        Kind::Addr,
        None,
        "where Prometheus metrics are served, at /metrics (not set: not served); an address \
         only the monitoring can reach, such as 127.0.0.1:9184",
    ),
    key(
        Some("engine"),
        "late_grace",
        Kind::Duration,
        Some("15m"),
        "a post that fell due while Podium was down is still sent this long after its time",
    ),
    key(
        Some("engine"),
        "late_after",
        Kind::Duration,
        Some("1m"),
        "a post sent this long after its time says it is late",
    ),
    key(
        Some("engine"),
        "collect_grace",
        Kind::Duration,
        Some("10m"),
        "replies are collected this long after the closing",
    ),
    key(
        Some("database"),
        "url",
        Kind::DatabaseUrl,
        None,
        "PostgreSQL instead of SQLite: postgres://USER:PASSWORD@HOST:PORT/DB (not set: SQLite \
         in the data directory)",
    ),
    key(
        Some("database"),
        "pool",
        Kind::Count,
        Some("4"),
        "connections to PostgreSQL at most",
    ),
    key(
        Some("replicas"),
        "enabled",
        Kind::Bool,
        Some("false"),
        "several Podiums share this PostgreSQL database, each debate led by one (docs/replicas.md)",
    ),
    key(
        Some("replicas"),
        "name",
        Kind::Text,
        None,
        "this replica's name, unique among the live ones (not set: host name and process id)",
    ),
    key(
        Some("replicas"),
        "renew",
        Kind::Duration,
        Some("2s"),
        "how often a replica renews its leases and looks for free ones",
    ),
    key(
        Some("replicas"),
        "ttl",
        Kind::Duration,
        Some("10s"),
        "a lease not renewed for this long is taken over by another replica",
    ),
    key(
        Some("matrix"),
        "homeserver",
        Kind::Url,
        None,
        "the homeserver's client URL, e.g. https://matrix.example.org",
    ),
    key(
        Some("matrix"),
        "user",
        Kind::MatrixUser,
        None,
        "the bot's full user id, e.g. @podium:example.org",
    ),
    key(
        Some("matrix"),
        "password",
        Kind::Secret,
        None,
        "the bot's password (or set access_token)",
    ),
    key(
        Some("matrix"),
        "access_token",
        Kind::Secret,
        None,
        "an access token, instead of the password",
    ),
    key(
        Some("matrix"),
        "device_name",
        Kind::Text,
        Some("Podium"),
        "the name of the bot's device, shown in clients' session lists",
    ),
    key(
        Some("matrix"),
        "moderators_are_organisers",
        Kind::Bool,
        Some("true"),
        "room moderators (power level 50 and up) may use the organiser commands",
    ),
    key(
        Some("irc"),
        "server",
        Kind::HostPort,
        None,
        "the IRC server, host:port",
    ),
    key(
        Some("irc"),
        "tls",
        Kind::Bool,
        Some("true"),
        "connect with TLS",
    ),
    key(
        Some("irc"),
        "tls_accept_invalid_certs",
        Kind::Bool,
        Some("false"),
        "accept any TLS certificate: only for a test server with a self-signed one",
    ),
    key(Some("irc"), "nick", Kind::Text, None, "the bot's nick"),
    key(
        Some("irc"),
        "username",
        Kind::Text,
        None,
        "the user name (ident) sent at registration (default: the nick)",
    ),
    key(
        Some("irc"),
        "realname",
        Kind::Text,
        Some("Podium, a debate host"),
        "the real name shown by WHOIS",
    ),
    key(
        Some("irc"),
        "account",
        Kind::Text,
        None,
        "the bot's services account (default: the nick)",
    ),
    key(
        Some("irc"),
        "password",
        Kind::Secret,
        None,
        "the account's password: SASL PLAIN where offered, else NickServ IDENTIFY",
    ),
    key(
        Some("irc"),
        "server_password",
        Kind::Secret,
        None,
        "the server's own password (PASS), where it needs one",
    ),
    key(
        Some("irc"),
        "send_burst",
        Kind::Count,
        Some("4"),
        "lines sent at once before the bot slows down (flood protection)",
    ),
    key(
        Some("irc"),
        "send_interval",
        Kind::Duration,
        Some("1500ms"),
        "then one line per this long (flood protection)",
    ),
    key(
        Some("irc"),
        "operators_are_organisers",
        Kind::Bool,
        Some("true"),
        "channel operators may use the organiser commands",
    ),
];

/// The key at `section.name`, if there is one.
pub fn find(section: Option<&str>, name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.section == section && k.name == name)
}

/// The closest known name to a misspelt one, for "did you mean" hints.
pub fn nearest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    known
        .map(|k| (strsim::damerau_levenshtein(name, k), k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_names_follow_the_documented_pattern() {
        let env: Vec<String> = KEYS.iter().map(Key::env).collect();
        for name in [
            "PODIUM_DATA_DIR",
            "PODIUM_SCHEDULE",
            "PODIUM_PUBLIC_URL",
            "PODIUM_WEB_ADDR",
            "PODIUM_MATRIX_HOMESERVER",
            "PODIUM_MATRIX_USER",
            "PODIUM_MATRIX_PASSWORD",
            "PODIUM_IRC_SERVER",
            "PODIUM_IRC_TLS",
            "PODIUM_IRC_NICK",
        ] {
            assert!(env.iter().any(|e| e == name), "{name} is missing");
        }
        for k in KEYS {
            assert!(
                k.section.is_none_or(|s| SECTIONS.contains(&s)),
                "{}",
                k.path()
            );
        }
    }

    #[test]
    fn misspelt_names_find_the_nearest_key() {
        let names = || KEYS.iter().map(|k| k.name);
        assert_eq!(nearest("homeservr", names()), Some("homeserver"));
        assert_eq!(nearest("pasword", names()), Some("password"));
        assert_eq!(nearest("zzzzzzzz", names()), None);
    }
}
