//! One writer per data directory.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;

use super::{Result, StoreError};

/// An exclusive lock on a data directory, held while a store writes to it:
/// two rehearsals (or a rehearsal and `podium run`) on one directory would
/// split one debate's posts between them. The operating system releases it
/// when the process ends, however it ends.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// The lock file in a data directory; it holds the owner's pid and command.
pub const LOCK_FILE: &str = "podium.lock";

impl DataDirLock {
    /// Takes the lock on `dir` (which must exist), or says who holds it.
    ///
    /// # Errors
    /// [`StoreError::Locked`] when another process holds it.
    pub fn acquire(dir: &Path) -> Result<DataDirLock> {
        let lock_err = |cause| StoreError::Lock {
            dir: dir.to_owned(),
            cause,
        };
        let path = dir.join(LOCK_FILE);
        // Owner-only like the rest: it names the command that holds it.
        super::private_file(&path, true).map_err(lock_err)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(lock_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(StoreError::Locked {
                    dir: dir.to_owned(),
                    holder: if holder.is_empty() {
                        "another process".to_owned()
                    } else {
                        holder.to_owned()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(lock_err(e)),
        }
        // Who holds it, for the message a second process prints.
        let me = format!(
            "process {}: {}",
            std::process::id(),
            std::env::args().collect::<Vec<_>>().join(" ")
        );
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(me.as_bytes()))
            .and_then(|()| file.flush())
            .map_err(lock_err)?;
        Ok(DataDirLock { _file: file })
    }
}
