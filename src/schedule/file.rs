//! Reading the schedule file (and the configuration's files), bounded.
//! `podium check /dev/zero` used to read until memory ran out and a FIFO
//! with no writer made every command wait for ever: the size limit only
//! applied to what had been read. Here a file is refused from what it is
//! before a byte is read, and never more than the limit plus one byte is
//! read, whatever happens to the file meanwhile.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// The largest schedule Podium reads: far above any real debates.yaml
/// (10,000 debates with every field take a few megabytes), far below what
/// would hurt a small server.
pub const MAX_BYTES: u64 = 50 * 1024 * 1024;

/// The schedule's bytes, or why it is not read: not a regular file (a
/// FIFO, a device, a socket, a directory), or over [`MAX_BYTES`].
///
/// # Errors
/// The reason, as an [`io::Error`] whose message reads after "cannot read
/// FILE: ".
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    read_limited(path, MAX_BYTES, "a schedule")
}

/// The bytes of a regular file of at most `max` bytes; `what` names what
/// the file should be in the reasons ("a schedule").
///
/// # Errors
/// As [`read`].
pub fn read_limited(path: &Path, max: u64, what: &str) -> io::Result<Vec<u8>> {
    let limits = Limits { max, what };
    // Checked before opening: opening a FIFO to read waits for a writer.
    limits.check(&std::fs::metadata(path)?)?;
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        // Should the name be swapped for a FIFO since the check, opening
        // it still returns at once; it is then refused below.
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits().cast_signed());
    }
    let file: File = options.open(path)?;
    limits.check(&file.metadata()?)?;
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        // It grew after it was measured.
        return Err(limits.too_large(None));
    }
    Ok(bytes)
}

struct Limits<'a> {
    max: u64,
    what: &'a str,
}

impl Limits<'_> {
    fn check(&self, meta: &Metadata) -> io::Result<()> {
        let kind = meta.file_type();
        if kind.is_file() {
            return if meta.len() > self.max {
                Err(self.too_large(Some(meta.len())))
            } else {
                Ok(())
            };
        }
        let found = if kind.is_dir() {
            "a directory"
        } else {
            special_kind(&kind)
        };
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is {found}, not a file ({} is a text file)", self.what),
        ))
    }

    /// "it is 60 MiB, over the 50 MiB limit for a schedule": sizes rounded
    /// up to a tenth, so a file just over the limit never reads as being at
    /// it.
    fn too_large(&self, len: Option<u64>) -> io::Error {
        let size = len.map_or_else(|| "larger".to_owned(), human_size);
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "it is {size}, over the {} limit for {}",
                human_size(self.max),
                self.what
            ),
        )
    }
}

#[cfg(unix)]
fn special_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(not(unix))]
fn special_kind(_kind: &std::fs::FileType) -> &'static str {
    "not a regular file"
}

/// `n` bytes in KiB or MiB, rounded up to a tenth.
fn human_size(n: u64) -> String {
    let (unit, name) = if n >= 1024 * 1024 {
        (1024 * 1024, "MiB")
    } else {
        (1024, "KiB")
    };
    let tenths = n.saturating_mul(10).div_ceil(unit);
    match tenths % 10 {
        0 => format!("{} {name}", tenths / 10),
        t => format!("{}.{t} {name}", tenths / 10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_at_the_limit_is_read_and_one_byte_more_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.yaml");
        let f = File::create(&path).unwrap();
        f.set_len(MAX_BYTES).unwrap();
        assert_eq!(read(&path).unwrap().len() as u64, MAX_BYTES);
        f.set_len(MAX_BYTES + 1).unwrap();
        assert_eq!(
            read(&path).unwrap_err().to_string(),
            "it is 50.1 MiB, over the 50 MiB limit for a schedule"
        );
    }

    #[test]
    fn a_directory_is_not_a_schedule() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            read(dir.path()).unwrap_err().to_string(),
            "it is a directory, not a file (a schedule is a text file)"
        );
    }
}
