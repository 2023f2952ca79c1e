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

mod file;
pub mod keys;
mod secret;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono::Duration;

use file::FileValue;
pub use keys::{DEFAULT_PUBLIC_URL, KEYS, Key, Kind};
pub use secret::Secret;

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
    pub server: String,
    pub tls: bool,
    pub nick: String,
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
    pub timings: Timings,
    pub matrix: Option<MatrixConfig>,
    pub irc: Option<IrcConfig>,
    /// Every key, in the order of [`KEYS`], for `podium config`.
    pub settings: Vec<Setting>,
}

/// A checked value.
#[derive(Clone, Debug)]
enum Value {
    Text(String),
    Bool(bool),
    Duration(Duration),
    Addr(SocketAddr),
    Secret(Secret),
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
        let mut values: HashMap<String, (Value, Origin)> = HashMap::new();
        let mut settings = Vec::with_capacity(KEYS.len());
        for key in KEYS {
            let (raw, origin) = match raw_value(key, &entries, env, overrides) {
                Ok(Some(found)) => found,
                Ok(None) => {
                    settings.push(Setting {
                        key,
                        shown: None,
                        origin: Origin::Default,
                    });
                    continue;
                }
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            match check(key.kind, &raw) {
                Ok(value) => {
                    let shown = match &value {
                        Value::Secret(s) => s.to_string(),
                        _ => raw.text(),
                    };
                    settings.push(Setting {
                        key,
                        shown: Some(shown),
                        origin: origin.clone(),
                    });
                    values.insert(key.path(), (value, origin));
                }
                Err(message) => errors.push(
                    ConfigError::new(
                        origin,
                        format!(
                            "`{}` must be {}: {message}",
                            key.path(),
                            key.kind.expected()
                        ),
                    )
                    .hint(format!("{}: {}", key.path(), key.doc)),
                ),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let get = Lookup(&values);
        let config = Config {
            file: path,
            data_dir: PathBuf::from(get.text("data_dir").unwrap_or_default()),
            schedule: PathBuf::from(get.text("schedule").unwrap_or_default()),
            public_url: get
                .text("public_url")
                .unwrap_or_else(|| DEFAULT_PUBLIC_URL.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            web_addr: get.addr("web.addr"),
            timings: Timings {
                late_grace: get.duration("engine.late_grace"),
                late_after: get.duration("engine.late_after"),
                collect_grace: get.duration("engine.collect_grace"),
            },
            matrix: matrix(&get, &mut errors),
            irc: irc(&get, &mut errors),
            settings,
        };
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
}

/// Typed access to the checked values.
struct Lookup<'a>(&'a HashMap<String, (Value, Origin)>);

impl Lookup<'_> {
    fn get(&self, path: &str) -> Option<&Value> {
        self.0.get(path).map(|(v, _)| v)
    }
    fn origin(&self, path: &str) -> Option<Origin> {
        self.0.get(path).map(|(_, o)| o.clone())
    }
    fn set(&self, path: &str) -> bool {
        self.origin(path).is_some_and(|o| o != Origin::Default)
    }
    fn text(&self, path: &str) -> Option<String> {
        match self.get(path)? {
            Value::Text(t) => Some(t.clone()),
            _ => None,
        }
    }
    fn bool(&self, path: &str) -> bool {
        matches!(self.get(path), Some(Value::Bool(true)))
    }
    fn duration(&self, path: &str) -> Duration {
        match self.get(path) {
            Some(Value::Duration(d)) => *d,
            _ => Duration::zero(),
        }
    }
    fn addr(&self, path: &str) -> SocketAddr {
        match self.get(path) {
            Some(Value::Addr(a)) => *a,
            _ => SocketAddr::from(([127, 0, 0, 1], 8080)),
        }
    }
    fn secret(&self, path: &str) -> Option<Secret> {
        match self.get(path)? {
            Value::Secret(s) => Some(s.clone()),
            _ => None,
        }
    }
}

/// Matrix is on when any of its identifying keys is set; then all that a
/// login needs must be.
fn matrix(get: &Lookup<'_>, errors: &mut Vec<ConfigError>) -> Option<MatrixConfig> {
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

fn irc(get: &Lookup<'_>, errors: &mut Vec<ConfigError>) -> Option<IrcConfig> {
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
    Some(IrcConfig {
        server: server?,
        tls: get.bool("irc.tls"),
        nick: nick?,
    })
}

fn env_of(path: &str) -> String {
    KEYS.iter()
        .find(|k| k.path() == path)
        .map_or_else(|| path.to_owned(), Key::env)
}

/// A value before it is checked: text from anywhere, or a TOML boolean.
#[derive(Clone, Debug)]
enum Raw {
    Text(String),
    Bool(bool),
}

impl Raw {
    fn text(&self) -> String {
        match self {
            Raw::Text(t) => t.clone(),
            Raw::Bool(b) => b.to_string(),
        }
    }
}

/// Finds a key's value: flag, environment (and `_FILE` for secrets),
/// file (and `<key>_file`), default.
fn raw_value(
    key: &'static Key,
    entries: &HashMap<String, FileValue>,
    env: &dyn Fn(&str) -> Option<String>,
    overrides: &Overrides,
) -> Result<Option<(Raw, Origin)>, ConfigError> {
    let flag = match key.path().as_str() {
        "data_dir" => overrides
            .data_dir
            .as_ref()
            .map(|p| (p.display().to_string(), "--data-dir")),
        "schedule" => overrides
            .schedule
            .as_ref()
            .map(|p| (p.display().to_string(), "--file")),
        "public_url" => overrides.public_url.clone().map(|u| (u, "--public-url")),
        _ => None,
    };
    if let Some((value, flag)) = flag {
        return Ok(Some((Raw::Text(value), Origin::Flag(flag))));
    }
    let var = key.env();
    if let Some(value) = env(&var) {
        return Ok(Some((Raw::Text(value), Origin::Env(var))));
    }
    let secret = key.kind == Kind::Secret;
    if secret && let Some(path) = env(&format!("{var}_FILE")) {
        let origin = Origin::EnvFile {
            var: format!("{var}_FILE"),
            secret_file: PathBuf::from(&path),
        };
        return read_secret(Path::new(&path), origin).map(Some);
    }
    if let Some(v) = entries.get(&key.path()) {
        let origin = v.origin.clone();
        return Ok(Some((
            match &v.value {
                file::Scalar::Bool(b) => Raw::Bool(*b),
                file::Scalar::Text(t) => Raw::Text(t.clone()),
            },
            origin,
        )));
    }
    if secret && let Some(v) = entries.get(&format!("{}_file", key.path())) {
        let file::Scalar::Text(path) = &v.value else {
            return Err(ConfigError::new(
                v.origin.clone(),
                format!("`{}_file` must be a path", key.name),
            ));
        };
        let Origin::File {
            path: cfg,
            line,
            column,
        } = v.origin.clone()
        else {
            return Err(ConfigError::new(v.origin.clone(), "unexpected origin"));
        };
        let origin = Origin::FileRef {
            path: cfg,
            line,
            column,
            secret_file: PathBuf::from(path),
        };
        return read_secret(Path::new(path), origin).map(Some);
    }
    Ok(key
        .default
        .map(|d| (Raw::Text(d.to_owned()), Origin::Default)))
}

/// A secret kept in a file, as container secrets are mounted: the content
/// without its final line break.
fn read_secret(path: &Path, origin: Origin) -> Result<(Raw, Origin), ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let value = text.strip_suffix('\n').unwrap_or(&text);
            let value = value.strip_suffix('\r').unwrap_or(value);
            Ok((Raw::Text(value.to_owned()), origin))
        }
        Err(e) => Err(ConfigError::new(
            origin,
            format!("cannot read the secret file {}: {e}", path.display()),
        )),
    }
}

/// Checks a raw value against its kind; the error says what was wrong.
fn check(kind: Kind, raw: &Raw) -> Result<Value, String> {
    let text = match (kind, raw) {
        (Kind::Bool, Raw::Bool(b)) => return Ok(Value::Bool(*b)),
        (Kind::Bool, Raw::Text(t)) => {
            return match t.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(Value::Bool(true)),
                "false" | "0" | "no" | "off" => Ok(Value::Bool(false)),
                _ => Err(format!("`{t}` is not a boolean")),
            };
        }
        (_, Raw::Bool(b)) => return Err(format!("found the boolean {b}; quote text in TOML")),
        (_, Raw::Text(t)) => t.as_str(),
    };
    let value = text.trim();
    match kind {
        Kind::Bool => unreachable!("booleans are handled above"),
        Kind::Path | Kind::Text if value.is_empty() => Err("it is empty".to_owned()),
        Kind::Path | Kind::Text => Ok(Value::Text(value.to_owned())),
        Kind::Secret if text.is_empty() => Err("it is empty".to_owned()),
        // Passwords may begin or end with spaces: kept as given.
        Kind::Secret => Ok(Value::Secret(Secret::new(text))),
        Kind::Url => check_url(value).map(|()| Value::Text(value.to_owned())),
        Kind::Addr => value
            .parse::<SocketAddr>()
            .map(Value::Addr)
            .map_err(|_| format!("`{value}` is not an IP address and port")),
        Kind::HostPort => check_host_port(value).map(|()| Value::Text(value.to_owned())),
        Kind::Duration => crate::schedule::time::parse_duration(value)
            .map(Value::Duration)
            .map_err(|_| format!("`{value}` is not a duration")),
        Kind::MatrixUser => check_matrix_user(value).map(|()| Value::Text(value.to_owned())),
    }
}

fn check_url(value: &str) -> Result<(), String> {
    let url = url::Url::parse(value).map_err(|e| format!("`{value}` is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{value}` is not an http:// or https:// URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{value}` has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{value}` has a query or fragment; give the base URL"
        ));
    }
    Ok(())
}

fn check_host_port(value: &str) -> Result<(), String> {
    let bad = || format!("`{value}` is not host:port");
    let (host, port) = value.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(bad());
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(format!("`{port}` is not a port number (1-65535)")),
    }
}

fn check_matrix_user(value: &str) -> Result<(), String> {
    let ok = value
        .strip_prefix('@')
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(local, server)| {
            !local.is_empty() && !server.is_empty() && !value.contains(char::is_whitespace)
        });
    if ok {
        Ok(())
    } else {
        Err(format!("`{value}` is not a full user id"))
    }
}

#[cfg(test)]
mod tests;
