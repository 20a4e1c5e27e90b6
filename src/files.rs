//! Reading the files a user names (profiles, query and prompt files,
//! samples CSVs, folded stacks, saved profiles, result files), each up to a
//! limit for its kind (DESIGN.md, "Promises to keep": everything read from
//! a file is bounded).
//!
//! Written by hand rather than with `std::fs::read`: that reads until the
//! end of the file, so `/dev/zero` grows memory without bound, and opening
//! a FIFO blocks until a writer comes, so `loadprof validate` would hang.
//! Here the file is opened without blocking (`O_NONBLOCK`), anything that
//! is not a regular file is refused by its kind before a byte is read, and
//! reading stops one byte past the limit.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// A profile (TOML).
pub const PROFILE_LIMIT: u64 = 16 << 20;
/// A query file read by `{{line FILE}}`.
pub const LINES_LIMIT: u64 = 64 << 20;
/// Most lines a query file may hold.
pub const LINES_MAX_COUNT: usize = 1_000_000;
/// Longest line of a query file.
pub const LINE_MAX_BYTES: usize = 1 << 20;
/// A prompts file or a quality checks file (`llm --prompts`, `--checks`).
pub const PROMPTS_LIMIT: u64 = 16 << 20;
/// A samples CSV (`loadprof leak`, the report's charts): days of samples
/// at 10 per second.
pub const SAMPLES_LIMIT: u64 = 512 << 20;
/// A result.json (`report`, `gate`, `merge`, `--baseline`), and the files
/// the report reads beside it.
pub const RESULT_LIMIT: u64 = 256 << 20;
/// Folded stacks (`flame render`, `flame diff`).
pub const FOLDED_LIMIT: u64 = 256 << 20;
/// A saved pprof profile, as sent (it is unpacked with its own limit).
pub const PPROF_LIMIT: u64 = crate::flame::pprof::COMPRESSED_LIMIT as u64;

/// `limit` bytes for a person: `16 MiB`, `512 KiB`, `100 bytes`.
pub fn show_limit(limit: u64) -> String {
    if limit >= 1 << 20 && limit.is_multiple_of(1 << 20) {
        format!("{} MiB", limit >> 20)
    } else if limit >= 1 << 10 && limit.is_multiple_of(1 << 10) {
        format!("{} KiB", limit >> 10)
    } else {
        format!("{limit} bytes")
    }
}

/// What a file that is not a regular file is, for a message.
fn kind_of(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Reads the regular file at `path`, refusing more than `limit` bytes.
/// `what` names the kind of file for messages ("profile", "query file").
/// Every error starts with the path.
pub fn read_bounded(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("{shown}: cannot read the {what}: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("{shown}: cannot read the {what}: {e}"))?;
    if !meta.file_type().is_file() {
        return Err(format!(
            "{shown}: is {}; the {what} must be a regular file",
            kind_of(meta.file_type())
        ));
    }
    read_up_to(file, meta.len(), limit).map_err(|e| match e {
        Bounded::Io(e) => format!("{shown}: cannot read the {what}: {e}"),
        Bounded::TooLarge => format!(
            "{shown}: the {what} is larger than {}, the most loadprof reads",
            show_limit(limit)
        ),
    })
}

enum Bounded {
    Io(std::io::Error),
    TooLarge,
}

fn read_up_to(file: File, size_hint: u64, limit: u64) -> Result<Vec<u8>, Bounded> {
    let mut bytes = Vec::with_capacity(size_hint.min(limit) as usize + 1);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(Bounded::Io)?;
    if bytes.len() as u64 > limit {
        return Err(Bounded::TooLarge);
    }
    Ok(bytes)
}

/// [`read_bounded`] for UTF-8 text; a leading byte-order mark is dropped.
/// Text that is not UTF-8 is refused, naming the line.
pub fn read_text_bounded(path: &Path, limit: u64, what: &str) -> Result<String, String> {
    let bytes = read_bounded(path, limit, what)?;
    text_of(bytes).map_err(|line| format!("{}:{line}: the {what} is not UTF-8 text", path.display()))
}

/// `bytes` as text without a byte-order mark, or the 1-based line of the
/// first byte that is not UTF-8.
fn text_of(mut bytes: Vec<u8>) -> Result<String, usize> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.into_bytes();
        bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo").arg(path).status().unwrap();
        assert!(status.success());
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("q.fifo");
        mkfifo(&fifo);
        let t0 = std::time::Instant::now();
        let e = read_bounded(&fifo, 100, "query file").unwrap_err();
        assert!(t0.elapsed() < std::time::Duration::from_secs(2));
        assert!(e.contains("q.fifo") && e.contains("a FIFO"), "{e}");
        assert!(e.contains("the query file must be a regular file"), "{e}");
    }

    #[test]
    fn devices_and_directories_are_refused() {
        let e = read_bounded(Path::new("/dev/zero"), 100, "profile").unwrap_err();
        assert_eq!(
            e,
            "/dev/zero: is a character device; the profile must be a regular file"
        );
        let dir = tempfile::tempdir().unwrap();
        let e = read_bounded(dir.path(), 100, "profile").unwrap_err();
        assert!(e.contains("is a directory"), "{e}");
        let e = read_bounded(&dir.path().join("none"), 100, "profile").unwrap_err();
        assert!(e.contains("none: cannot read the profile:"), "{e}");
    }

    #[test]
    fn reading_stops_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.csv");
        std::fs::write(&p, vec![b'x'; 2049]).unwrap();
        let e = read_bounded(&p, 2048, "samples CSV").unwrap_err();
        assert!(e.contains("big.csv: the samples CSV is larger than 2 KiB"), "{e}");
        assert_eq!(read_bounded(&p, 2049, "x").unwrap().len(), 2049);
        assert_eq!(show_limit(PROFILE_LIMIT), "16 MiB");
        assert_eq!(show_limit(100), "100 bytes");
    }

    #[test]
    fn text_drops_a_byte_order_mark_and_names_the_line_of_bad_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.txt");
        std::fs::write(&p, b"\xEF\xBB\xBFa,b\n").unwrap();
        assert_eq!(read_text_bounded(&p, 100, "x").unwrap(), "a,b\n");
        std::fs::write(&p, b"one\ntwo\nthr\xFFee\n").unwrap();
        let e = read_text_bounded(&p, 100, "query file").unwrap_err();
        assert!(e.ends_with("t.txt:3: the query file is not UTF-8 text"), "{e}");
    }
}
