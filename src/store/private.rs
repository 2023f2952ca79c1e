//! The data directory holds every answer and every private transcript's
//! key, so it is the owner's alone: the directory 0700, each file Podium
//! keeps there 0600, whatever the umask Podium was started with (022, the
//! usual default, would leave them readable by every account on the
//! machine). A directory the operator made looser is theirs to decide
//! about: it is left as it is, with one warning at start.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

/// Files and directories made from now on by this process (matrix-sdk's
/// stores, SQLite's write-ahead log) are its owner's only, whatever the
/// umask it inherited. For the commands that write to the data directory;
/// called before any thread is started, as the umask is the process's.
pub fn keep_new_files_private() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o077));
}

/// Creates `dir` (and its missing parents) owner-only; an existing one
/// that others can read or enter is warned about (see [`warn_if_open`]).
///
/// # Errors
/// The directory cannot be created.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        warn_if_open(dir);
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Logs once (at the call) that others can read `dir`, with its mode and
/// the command that makes it private. Not changed here: the operator may
/// share it on purpose (a group of administrators), and Podium's files in
/// it are private anyway.
fn warn_if_open(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(dir) else {
            return;
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                "the data directory {} can be read by other users (mode {mode:04o}), and it \
                 holds every answer and private transcript key; `chmod 700 {}` makes it private",
                dir.display(),
                shell_word(dir)
            );
        }
    }
}

/// `path` as one shell word, quoted when it needs to be.
fn shell_word(path: &Path) -> String {
    let s = path.display().to_string();
    let plain = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c));
    if plain {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Makes `path` owner-only if it exists and is looser (a database left by
/// an older Podium, or made under another umask); creates it empty and
/// owner-only if `create` and it does not exist. SQLite gives the files it
/// makes beside a database (`-wal`, `-shm`) the database's own mode, so a
/// private `podium.db` keeps them private too.
///
/// # Errors
/// The file cannot be created or its mode changed.
pub fn private_file(path: &Path, create: bool) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        match std::fs::metadata(path) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            }
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)
                .map(drop),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
    #[cfg(not(unix))]
    {
        if create && !path.exists() {
            std::fs::File::create(path)?;
        }
        Ok(())
    }
}

/// Writes `bytes` to a new owner-only file at `path` (replacing one there).
///
/// # Errors
/// The file cannot be written.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let _ = std::fs::remove_file(path);
    private_file(path, true)?;
    let mut file = OpenOptions::new().write(true).truncate(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn made_owner_only_and_looser_files_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/data");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let db = dir.join("podium.db");
        private_file(&db, true).unwrap();
        assert_eq!(mode(&db), 0o600);
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        private_file(&db, false).unwrap();
        assert_eq!(mode(&db), 0o600);
        private_file(&dir.join("absent"), false).unwrap();
        assert!(!dir.join("absent").exists());
        write_private(&dir.join("t.md"), b"x").unwrap();
        assert_eq!(mode(&dir.join("t.md")), 0o600);
    }

    #[test]
    fn paths_are_quoted_for_the_shell_when_they_need_it() {
        assert_eq!(shell_word(Path::new("/srv/podium")), "/srv/podium");
        assert_eq!(shell_word(Path::new("/srv/my data")), "'/srv/my data'");
        assert_eq!(shell_word(Path::new("/it's")), r"'/it'\''s'");
    }
}
