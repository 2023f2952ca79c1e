//! Checking one setting's text against its kind: the URL, address, user id
//! or duration it must be, with a message saying what was wrong.

use std::net::SocketAddr;

use chrono::Duration;

use super::keys::Kind;
use super::secret::Secret;

/// A checked value.
#[derive(Clone, Debug)]
pub enum Value {
    Text(String),
    Bool(bool),
    Duration(Duration),
    Addr(SocketAddr),
    Secret(Secret),
    Count(u32),
    /// A database URL: secret, shown without its password.
    DatabaseUrl(Secret),
}

/// A value before it is checked: text from anywhere, or a TOML boolean.
#[derive(Clone, Debug)]
pub enum Raw {
    Text(String),
    Bool(bool),
}

impl Raw {
    pub fn text(&self) -> String {
        match self {
            Raw::Text(t) => t.clone(),
            Raw::Bool(b) => b.to_string(),
        }
    }
}

/// Checks a raw value against its kind; the error says what was wrong.
pub fn check(kind: Kind, raw: &Raw) -> Result<Value, String> {
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
        Kind::DatabaseUrl => {
            check_database_url(value).map(|()| Value::DatabaseUrl(Secret::new(value)))
        }
        Kind::Count => match value.parse::<u32>() {
            Ok(n) if n > 0 => Ok(Value::Count(n)),
            _ => Err(format!("`{value}` is not a whole number from 1 up")),
        },
    }
}

/// A PostgreSQL URL; the messages show it without its password.
fn check_database_url(value: &str) -> Result<(), String> {
    let shown = crate::store::redact(value);
    let url = url::Url::parse(value).map_err(|e| format!("`{shown}` is not a URL ({e})"))?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err(format!(
            "`{shown}` is not a postgres:// URL (leave it unset for SQLite in the data directory)"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{shown}` names no host"));
    }
    Ok(())
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
