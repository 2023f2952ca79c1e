//! Where a setting's text comes from, in order: a command-line flag, the
//! environment (and `PODIUM_..._FILE` for secrets), the file (and
//! `<key>_file`), the default.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::file::{self, FileValue};
use super::keys::Key;
use super::value::Raw;
use super::{ConfigError, Origin, Overrides};
use crate::schedule::file::read_limited;

/// Finds a key's value: flag, environment (and `_FILE` for secrets),
/// file (and `<key>_file`), default.
pub fn raw_value(
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
    let secret = key.kind.is_secret();
    if secret {
        given_twice(key, entries, env)?;
    }
    if let Some(value) = env(&var) {
        return Ok(Some((Raw::Text(value), Origin::Env(var))));
    }
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

/// A secret given both as a value and as a file in one place (the
/// environment, or the file) is an error: which one is meant is the
/// operator's to say, and quietly taking one could log in with a stale
/// password. Across places the usual precedence decides.
fn given_twice(
    key: &'static Key,
    entries: &HashMap<String, FileValue>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let var = key.env();
    let var_file = format!("{var}_FILE");
    if env(&var).is_some() && env(&var_file).is_some() {
        return Err(ConfigError::new(
            Origin::Env(var_file.clone()),
            format!(
                "`{}` is given twice: as {var_file} and as {var}",
                key.path()
            ),
        )
        .hint("unset one of them"));
    }
    let by_file = format!("{}_file", key.path());
    if let (Some(value), Some(file)) = (entries.get(&key.path()), entries.get(&by_file)) {
        return Err(ConfigError::new(
            file.origin.clone(),
            format!(
                "`{}` is given twice: as `{}_file` here and as `{}` at {}",
                key.path(),
                key.name,
                key.name,
                value.origin
            ),
        )
        .hint("keep one of them"));
    }
    Ok(())
}

/// A secret kept in a file, as container secrets are mounted: the content
/// without its final line break.
fn read_secret(path: &Path, origin: Origin) -> Result<(Raw, Origin), ConfigError> {
    // A password or token is short; a secret file pointed at a device or a
    // FIFO by mistake must not hang or fill memory.
    let text = read_limited(path, 64 * 1024, "a secret file").and_then(|bytes| {
        String::from_utf8(bytes).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text")
        })
    });
    match text {
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
