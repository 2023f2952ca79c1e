//! Files holding a secret that other users of the machine can read: the
//! configuration file when a password is written in it, and each file a
//! secret is read from (`PODIUM_..._FILE`, `<key>_file`). Podium still
//! starts (the operator may have reasons, and a container's secrets are
//! often mounted so), but says so at start with the command that fixes it.

use std::path::{Path, PathBuf};

use super::{Config, Origin};

/// A file holding a secret with read permission for group or others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exposed {
    pub path: PathBuf,
    /// Its permission bits, e.g. `0o644`.
    pub mode: u32,
    /// The setting whose secret it holds, e.g. `matrix.password`.
    pub holds: String,
}

impl Exposed {
    /// What the log says of it.
    pub fn message(&self) -> String {
        format!(
            "{} holds a secret ({}) and can be read by other users (mode {:04o}); \
             `chmod 600 {}` makes it private",
            self.path.display(),
            self.holds,
            self.mode,
            self.path.display()
        )
    }
}

impl Config {
    /// Every file holding one of the settings' secrets that others can
    /// read, each once.
    pub fn exposed_secrets(&self) -> Vec<Exposed> {
        let mut found: Vec<Exposed> = Vec::new();
        for s in self.settings.iter().filter(|s| s.key.kind.is_secret()) {
            let path = match &s.origin {
                Origin::File { path, .. } => path,
                Origin::FileRef { secret_file, .. } | Origin::EnvFile { secret_file, .. } => {
                    secret_file
                }
                Origin::Default | Origin::Env(_) | Origin::Flag(_) => continue,
            };
            if found.iter().any(|e| e.path == *path) {
                continue;
            }
            if let Some(mode) = readable_by_others(path) {
                found.push(Exposed {
                    path: path.clone(),
                    mode,
                    holds: s.key.path(),
                });
            }
        }
        found
    }
}

/// The file's permission bits, if group or others may read it.
#[cfg(unix)]
fn readable_by_others(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    (mode & 0o044 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn readable_by_others(_: &Path) -> Option<u32> {
    None
}
