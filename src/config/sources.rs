//! Where a setting's text comes from, in order: a command-line flag, the
//! environment (and `PODIUM_..._FILE` for secrets), the file (and
//! `<key>_file`), the default.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::file::{self, FileValue};
use super::keys::{Key, Kind};
use super::value::Raw;
use super::{ConfigError, Origin, Overrides};

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
