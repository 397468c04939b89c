//! Reading a file that a model, a plugin or a command could have replaced
//! with a FIFO or a device (whose open or read may never end) or made huge:
//! opened without waiting, refused unless it is a regular file, and read no
//! further than a limit.

use std::io::{self, Read as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

/// The bytes of the regular file at `path` (symbolic links followed), or an
/// error: not a regular file (`InvalidInput`), longer than `limit` bytes
/// (`FileTooLarge`), or what the system said.
pub fn read(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let (file, len) = open(path)?;
    if len > limit {
        return Err(too_large(format!("it is {len} bytes; the limit is {limit} bytes")));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // The file may grow after the look: read no more than the limit allows.
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(format!("it grew past the limit of {limit} bytes while being read")));
    }
    Ok(bytes)
}

/// The UTF-8 text at the start of the regular file at `path`: at most
/// `limit` bytes of it (cut at a character boundary) and whether it went on.
/// An error for a file that is not regular, or not UTF-8 before the cut.
pub fn read_text_prefix(path: &Path, limit: usize) -> io::Result<(String, bool)> {
    let (file, _) = open(path)?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1).read_to_end(&mut bytes)?;
    let cut = bytes.len() > limit;
    bytes.truncate(limit);
    match String::from_utf8(bytes) {
        Ok(text) => Ok((text, cut)),
        // A character the cut split in two is left out.
        Err(e) if cut && e.utf8_error().error_len().is_none() => {
            let valid = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            bytes.truncate(valid);
            Ok((String::from_utf8(bytes).expect("valid up to here"), true))
        }
        Err(_) => Err(io::Error::new(io::ErrorKind::InvalidData, "the file is not UTF-8 text")),
    }
}

/// Opens `path` for reading without waiting for a FIFO's writer, and its
/// length if it is a regular file.
fn open(path: &Path) -> io::Result<(std::fs::File, u64)> {
    // O_NONBLOCK changes nothing for a regular file's reads.
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
    }
    Ok((file, meta.len()))
}

fn too_large(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::FileTooLarge, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifos_and_devices_are_refused_at_once_and_sizes_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        for special in [fifo.as_path(), Path::new("/dev/zero"), dir.path()] {
            assert_eq!(read(special, 10).unwrap_err().kind(), io::ErrorKind::InvalidInput, "{}", special.display());
            assert_eq!(read_text_prefix(special, 10).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        }

        let file = dir.path().join("text");
        std::fs::write(&file, "héllo").unwrap(); // 6 bytes
        assert_eq!(read(&file, 6).unwrap(), "héllo".as_bytes());
        let err = read(&file, 5).unwrap_err();
        assert_eq!(
            (err.kind(), err.to_string()),
            (io::ErrorKind::FileTooLarge, "it is 6 bytes; the limit is 5 bytes".into())
        );

        assert_eq!(read_text_prefix(&file, 6).unwrap(), ("héllo".into(), false));
        assert_eq!(read_text_prefix(&file, 3).unwrap(), ("hé".into(), true));
        // The cut falls inside `é`: the half character is left out.
        assert_eq!(read_text_prefix(&file, 2).unwrap(), ("h".into(), true));
        std::fs::write(&file, b"a\xffb").unwrap();
        assert_eq!(read_text_prefix(&file, 10).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
