//! The chat networks' sections: a network is on when any of its
//! identifying keys is set, and then everything it needs must be.

use std::collections::HashMap;
use std::net::SocketAddr;

use chrono::Duration;

use super::keys::{KEYS, Key};
use super::secret::Secret;
use super::value::Value;
use super::{ConfigError, IrcConfig, MatrixConfig, Origin, ReplicasConfig};

/// Typed access to the checked values.
pub struct Lookup<'a>(pub &'a HashMap<String, (Value, Origin)>);

impl Lookup<'_> {
    pub fn get(&self, path: &str) -> Option<&Value> {
        self.0.get(path).map(|(v, _)| v)
    }
    pub fn origin(&self, path: &str) -> Option<Origin> {
        self.0.get(path).map(|(_, o)| o.clone())
    }
    pub fn set(&self, path: &str) -> bool {
        self.origin(path).is_some_and(|o| o != Origin::Default)
    }
    pub fn text(&self, path: &str) -> Option<String> {
        match self.get(path)? {
            Value::Text(t) => Some(t.clone()),
            _ => None,
        }
    }
    pub fn bool(&self, path: &str) -> bool {
        matches!(self.get(path), Some(Value::Bool(true)))
    }
    pub fn duration(&self, path: &str) -> Duration {
        match self.get(path) {
            Some(Value::Duration(d)) => *d,
            _ => Duration::zero(),
        }
    }
    pub fn optional_duration(&self, path: &str) -> Option<Duration> {
        match self.get(path) {
            Some(Value::Duration(d)) => Some(*d),
            _ => None,
        }
    }

    pub fn addr(&self, path: &str) -> SocketAddr {
        match self.get(path) {
            Some(Value::Addr(a)) => *a,
            _ => SocketAddr::from(([127, 0, 0, 1], 8080)),
        }
    }
    pub fn optional_addr(&self, path: &str) -> Option<SocketAddr> {
        match self.get(path) {
            Some(Value::Addr(a)) => Some(*a),
            _ => None,
        }
    }
    pub fn count(&self, path: &str) -> u32 {
        match self.get(path) {
            Some(Value::Count(n)) => *n,
            _ => 1,
        }
    }
    /// A database URL, given to the store and to nothing else.
    pub fn database_url(&self, path: &str) -> Option<String> {
        match self.get(path)? {
            Value::DatabaseUrl(s) => Some(s.expose().to_owned()),
            _ => None,
        }
    }
    pub fn secret(&self, path: &str) -> Option<Secret> {
        match self.get(path)? {
            Value::Secret(s) => Some(s.clone()),
            _ => None,
        }
    }
}

/// Matrix is on when any of its identifying keys is set; then all that a
/// login needs must be.
/// Replicas, when enabled: they need PostgreSQL, and a lease time long
/// enough to be renewed at least twice before it runs out.
pub fn replicas(get: &Lookup<'_>, errors: &mut Vec<ConfigError>) -> Option<ReplicasConfig> {
    if !get.bool("replicas.enabled") {
        return None;
    }
    let at = get.origin("replicas.enabled").unwrap_or(Origin::Default);
    if get.database_url("database.url").is_none() {
        errors.push(
            ConfigError::new(
                at.clone(),
                "replicas.enabled needs PostgreSQL: replicas share one database, and the \
                 SQLite store is one file on one machine",
            )
            .hint(
                "set database.url (PODIUM_DATABASE_URL) to a PostgreSQL database, or set \
                 replicas.enabled = false",
            ),
        );
    }
    let renew = get.duration("replicas.renew");
    let ttl = get.duration("replicas.ttl");
    if renew <= Duration::zero() || ttl < renew * 2 {
        errors.push(
            ConfigError::new(
                get.origin("replicas.ttl").unwrap_or(at.clone()),
                format!(
                    "replicas.ttl ({}s) must be at least twice replicas.renew ({}s), so a lease \
                     survives one missed renewal",
                    ttl.num_milliseconds() as f64 / 1000.0,
                    renew.num_milliseconds() as f64 / 1000.0
                ),
            )
            .hint("the defaults are renew = 2s and ttl = 10s"),
        );
    }
    let name = get
        .text("replicas.name")
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(super::default_replica_name);
    Some(ReplicasConfig {
        name,
        renew: renew.to_std().unwrap_or_default(),
        ttl: ttl.to_std().unwrap_or_default(),
    })
}

pub fn matrix(get: &Lookup<'_>, errors: &mut Vec<ConfigError>) -> Option<MatrixConfig> {
    let identity = [
        "matrix.homeserver",
        "matrix.user",
        "matrix.password",
        "matrix.access_token",
    ];
    let first = identity.iter().find(|k| get.set(k))?;
    let at = get.origin(first).unwrap_or(Origin::Default);
    let mut missing = |key: &str, what: &str| {
        errors.push(
            ConfigError::new(
                at.clone(),
                format!("Matrix is configured but {what} is not set"),
            )
            .hint(format!(
                "set {} (or `{}` in [matrix] of podium.toml)",
                env_of(key),
                key.trim_start_matches("matrix.")
            )),
        );
    };
    let homeserver = get.text("matrix.homeserver");
    if homeserver.is_none() {
        missing("matrix.homeserver", "the homeserver");
    }
    let user = get.text("matrix.user");
    if user.is_none() {
        missing("matrix.user", "the bot's user");
    }
    let password = get.secret("matrix.password");
    let access_token = get.secret("matrix.access_token");
    if password.is_none() && access_token.is_none() {
        errors.push(
            ConfigError::new(
                at.clone(),
                "Matrix is configured but neither a password nor an access token is set",
            )
            .hint(
                "set PODIUM_MATRIX_PASSWORD (or PODIUM_MATRIX_PASSWORD_FILE, or `password` in \
                 [matrix]), or PODIUM_MATRIX_ACCESS_TOKEN",
            ),
        );
    }
    Some(MatrixConfig {
        homeserver: homeserver?.trim_end_matches('/').to_owned(),
        user: user?,
        password,
        access_token,
        device_name: get.text("matrix.device_name").unwrap_or_default(),
        moderators_are_organisers: get.bool("matrix.moderators_are_organisers"),
    })
}

pub fn irc(get: &Lookup<'_>, errors: &mut Vec<ConfigError>) -> Option<IrcConfig> {
    let first = ["irc.server", "irc.nick"]
        .into_iter()
        .find(|k| get.set(k))?;
    let at = get.origin(first).unwrap_or(Origin::Default);
    let server = get.text("irc.server");
    let nick = get.text("irc.nick");
    for (key, value, what) in [
        ("irc.server", &server, "the server"),
        ("irc.nick", &nick, "the bot's nick"),
    ] {
        if value.is_none() {
            errors.push(
                ConfigError::new(
                    at.clone(),
                    format!("IRC is configured but {what} is not set"),
                )
                .hint(format!("set {}", env_of(key))),
            );
        }
    }
    let nick = nick?;
    Some(IrcConfig {
        server: server?,
        tls: get.bool("irc.tls"),
        accept_invalid_certs: get.bool("irc.tls_accept_invalid_certs"),
        username: get.text("irc.username").unwrap_or_else(|| nick.clone()),
        realname: get.text("irc.realname").unwrap_or_default(),
        account: get.text("irc.account").unwrap_or_else(|| nick.clone()),
        password: get.secret("irc.password"),
        server_password: get.secret("irc.server_password"),
        send_burst: get.count("irc.send_burst"),
        send_interval: get
            .duration("irc.send_interval")
            .to_std()
            .unwrap_or_default()
            .max(std::time::Duration::from_millis(1)),
        operators_are_organisers: get.bool("irc.operators_are_organisers"),
        replicas: false,
        nick,
    })
}

fn env_of(path: &str) -> String {
    KEYS.iter()
        .find(|k| k.path() == path)
        .map_or_else(|| path.to_owned(), Key::env)
}
