//! Typed configuration for the long-running bot: a TOML file (`--config
//! FILE`, or `./podium.toml` when present) whose every key can be
//! overridden by an environment variable `PODIUM_<SECTION>_<KEY>` (top-level
//! keys: `PODIUM_<KEY>`), and a few by command-line flags. Precedence:
//! flag, environment, file, default.
//!
//! Bad configuration is reported like a bad schedule: every problem at
//! once, each located (`podium.toml:7:12: error: ...`, or the environment
//! variable's name), with the nearest known key for a misspelt one. The
//! caller exits with status 78 (EX_CONFIG).

mod exposure;
mod file;
pub mod keys;
mod networks;
mod secret;
mod sources;
mod value;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono::Duration;

pub use keys::{DEFAULT_PUBLIC_URL, KEYS, Key, Kind};
use networks::Lookup;
pub use secret::Secret;
use value::Value;

pub use exposure::Exposed;

/// The name looked for in the working directory when `--config` is not given.
pub const DEFAULT_FILE: &str = "podium.toml";

/// Where a setting's value came from, for `podium config` and for errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Default,
    File {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    /// A `<key>_file` entry in the file: the value is that file's content.
    FileRef {
        path: PathBuf,
        line: usize,
        column: usize,
        secret_file: PathBuf,
    },
    Env(String),
    /// `PODIUM_..._FILE`: the value is that file's content.
    EnvFile {
        var: String,
        secret_file: PathBuf,
    },
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File { path, line, column } => {
                write!(f, "{}:{line}:{column}", path.display())
            }
            Origin::FileRef {
                path,
                line,
                column,
                secret_file,
            } => write!(
                f,
                "{}:{line}:{column} ({})",
                path.display(),
                secret_file.display()
            ),
            Origin::Env(var) => f.write_str(var),
            Origin::EnvFile { var, secret_file } => {
                write!(f, "{var} ({})", secret_file.display())
            }
            Origin::Flag(flag) => f.write_str(flag),
        }
    }
}

/// One problem with the configuration, located where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub origin: Origin,
    pub message: String,
    pub hint: Option<String>,
}

impl ConfigError {
    fn new(origin: Origin, message: impl Into<String>) -> Self {
        ConfigError {
            origin,
            message: message.into(),
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ConfigError {
    /// `WHERE: error: MESSAGE`, as `podium check` prints schedule errors.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::Default => write!(f, "podium: error: {}", self.message)?,
            Origin::FileRef {
                path, line, column, ..
            } => write!(
                f,
                "{}:{line}:{column}: error: {}",
                path.display(),
                self.message
            )?,
            origin => write!(f, "{origin}: error: {}", self.message)?,
        }
        if let Some(h) = &self.hint {
            write!(f, "\n    hint: {h}")?;
        }
        Ok(())
    }
}

/// The engine's timings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timings {
    pub late_grace: Duration,
    pub late_after: Duration,
    pub collect_grace: Duration,
}

/// This Podium as one of several replicas sharing a PostgreSQL database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicasConfig {
    /// Unique among the live replicas; shown in logs, `/healthz` and
    /// `podium replicas`.
    pub name: String,
    /// How often leases are renewed.
    pub renew: std::time::Duration,
    /// How long an unrenewed lease lasts before another replica takes it.
    pub ttl: std::time::Duration,
}

/// The default replica name: the host's name and this process's id, unique
/// on a network of machines without any setting (but not stable across
/// restarts: see docs/replicas.md).
#[must_use]
pub fn default_replica_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "podium".to_owned());
    format!("{host}-{}", std::process::id())
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatrixConfig {
    pub homeserver: String,
    pub user: String,
    pub password: Option<Secret>,
    pub access_token: Option<Secret>,
    pub device_name: String,
    pub moderators_are_organisers: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IrcConfig {
    /// `host:port`.
    pub server: String,
    pub tls: bool,
    pub accept_invalid_certs: bool,
    pub nick: String,
    pub username: String,
    pub realname: String,
    /// The services account SASL or NickServ logs in to.
    pub account: String,
    pub password: Option<Secret>,
    pub server_password: Option<Secret>,
    /// Flood protection: lines sent at once, then one per `send_interval`.
    pub send_burst: u32,
    pub send_interval: std::time::Duration,
    pub operators_are_organisers: bool,
    /// One of several replicas, each with its own connection: they take
    /// the nick and its numbered forms (`podium`, `podium-2`, ...), and
    /// ignore what the others say (see [`crate::chat::irc::is_sibling`]).
    /// Set by the app from `[replicas]`, not a setting of its own.
    pub replicas: bool,
}

/// Values given on the command line, which win over everything else.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub schedule: Option<PathBuf>,
    pub public_url: Option<String>,
}

/// One key's effective value (secrets as `***`) and where it came from.
#[derive(Clone, Debug)]
pub struct Setting {
    pub key: &'static Key,
    pub shown: Option<String>,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct Config {
    /// The file read, if any.
    pub file: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub schedule: PathBuf,
    pub public_url: String,
    pub web_addr: SocketAddr,
    /// Where the Prometheus metrics are served, if they are.
    pub metrics_addr: Option<SocketAddr>,
    /// Answers are purged this long after their debate's start.
    pub retention: Option<Duration>,
    pub timings: Timings,
    /// Where the store is: SQLite in the data directory, or PostgreSQL.
    pub database: crate::store::Database,
    /// Several Podiums on one PostgreSQL database (`None`: this one alone).
    pub replicas: Option<ReplicasConfig>,
    pub matrix: Option<MatrixConfig>,
    pub irc: Option<IrcConfig>,
    /// Every key, in the order of [`KEYS`], for `podium config`.
    pub settings: Vec<Setting>,
}

impl Config {
    /// Reads the configuration: `file` (from `--config`, which must exist)
    /// or `./podium.toml` when present, the environment through `env`, and
    /// `overrides`.
    ///
    /// # Errors
    /// Every problem found, located.
    pub fn load(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        overrides: &Overrides,
    ) -> Result<Config, Vec<ConfigError>> {
        let path = match file {
            Some(p) => Some(p.to_owned()),
            None => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.is_file()),
        };
        let mut errors = Vec::new();
        let entries = match &path {
            Some(p) => file::read(p).unwrap_or_else(|e| {
                errors.extend(e);
                HashMap::new()
            }),
            None => HashMap::new(),
        };
        let mut values = HashMap::new();
        let mut settings = Vec::with_capacity(KEYS.len());
        for key in KEYS {
            match resolve(key, &entries, env, overrides) {
                Ok((setting, value)) => {
                    if let Some(value) = value {
                        values.insert(key.path(), (value, setting.origin.clone()));
                    }
                    settings.push(setting);
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let config = Config::assemble(path, &Lookup(&values), settings, &mut errors);
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }

    /// From the process's environment.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn from_env(
        file: Option<&Path>,
        overrides: &Overrides,
    ) -> Result<Config, Vec<ConfigError>> {
        Config::load(file, &|k| std::env::var(k).ok(), overrides)
    }

    /// The typed configuration from checked values; what the networks
    /// lack goes to `errors`.
    fn assemble(
        file: Option<PathBuf>,
        get: &Lookup<'_>,
        settings: Vec<Setting>,
        errors: &mut Vec<ConfigError>,
    ) -> Config {
        Config {
            file,
            data_dir: PathBuf::from(get.text("data_dir").unwrap_or_default()),
            schedule: PathBuf::from(get.text("schedule").unwrap_or_default()),
            public_url: get
                .text("public_url")
                .unwrap_or_else(|| DEFAULT_PUBLIC_URL.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            web_addr: get.addr("web.addr"),
            metrics_addr: get.optional_addr("metrics.addr"),
            retention: get.optional_duration("retention"),
            timings: Timings {
                late_grace: get.duration("engine.late_grace"),
                late_after: get.duration("engine.late_after"),
                collect_grace: get.duration("engine.collect_grace"),
            },
            database: crate::store::Database {
                url: get.database_url("database.url"),
                pool: get.count("database.pool"),
            },
            replicas: networks::replicas(get, errors),
            matrix: networks::matrix(get, errors),
            irc: networks::irc(get, errors),
            settings,
        }
    }
}

/// One key: where its text comes from, checked against its kind.
fn resolve(
    key: &'static Key,
    entries: &HashMap<String, file::FileValue>,
    env: &dyn Fn(&str) -> Option<String>,
    overrides: &Overrides,
) -> Result<(Setting, Option<Value>), ConfigError> {
    let Some((raw, origin)) = sources::raw_value(key, entries, env, overrides)? else {
        let unset = Setting {
            key,
            shown: None,
            origin: Origin::Default,
        };
        return Ok((unset, None));
    };
    match value::check(key.kind, &raw) {
        Ok(value) => {
            let shown = match &value {
                Value::Secret(s) => s.to_string(),
                Value::DatabaseUrl(url) => crate::store::redact(url.expose()),
                _ => raw.text(),
            };
            let setting = Setting {
                key,
                shown: Some(shown),
                origin,
            };
            Ok((setting, Some(value)))
        }
        Err(message) => Err(ConfigError::new(
            origin,
            format!(
                "`{}` must be {}: {message}",
                key.path(),
                key.kind.expected()
            ),
        )
        .hint(format!("{}: {}", key.path(), key.doc))),
    }
}

#[cfg(test)]
mod tests;
