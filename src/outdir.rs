//! One writer per output folder. `run`, `demo` and `llm` write a folder of
//! files over minutes; a second run given the same folder would interleave
//! its rows with the first's and the report would render the mix. A run
//! claims its folder with an exclusive, non-blocking `flock` on a lock
//! file inside it that names its pid; a second claim fails, naming that
//! pid. The kernel drops the lock when the process ends, however it ends,
//! so a crashed run never leaves a folder claimed.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The lock file's name inside a claimed folder; removed when the claim ends.
pub const LOCK_FILE: &str = ".loadprof.lock";

/// A folder this process writes; the claim lasts until it is dropped.
#[derive(Debug)]
pub struct OutDir {
    dir: PathBuf,
    lock: PathBuf,
    file: Option<File>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("another loadprof{} is writing to this folder; wait for it to end or choose another folder", .pid.map_or(String::new(), |p| format!(" (pid {p})")))]
    Busy { pid: Option<u32> },
    #[error("cannot create the output folder: {0}")]
    Create(std::io::Error),
    #[error("cannot lock the output folder ({LOCK_FILE}): {0}")]
    Lock(std::io::Error),
}

impl OutDir {
    /// Creates `dir` if needed and claims it for this process.
    pub fn claim(dir: &Path) -> Result<OutDir, ClaimError> {
        std::fs::create_dir_all(dir).map_err(ClaimError::Create)?;
        let lock = dir.join(LOCK_FILE);
        // A claim ending removes the lock file while it still holds the
        // lock; a process that opened the old file meanwhile finds, once
        // it holds the lock, that the path names another file, and tries
        // again on the new one.
        for _ in 0..100 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&lock)
                .map_err(ClaimError::Lock)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let mut text = String::new();
                    let _ = (&file).take(32).read_to_string(&mut text);
                    return Err(ClaimError::Busy {
                        pid: text.trim().parse().ok(),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(ClaimError::Lock(e)),
            }
            let same = match (file.metadata(), std::fs::metadata(&lock)) {
                (Ok(held), Ok(named)) => held.ino() == named.ino() && held.dev() == named.dev(),
                _ => false,
            };
            if !same {
                continue;
            }
            file.set_len(0).map_err(ClaimError::Lock)?;
            file.rewind().map_err(ClaimError::Lock)?;
            write!(file, "{}", std::process::id()).map_err(ClaimError::Lock)?;
            return Ok(OutDir {
                dir: dir.to_path_buf(),
                lock,
                file: Some(file),
            });
        }
        Err(ClaimError::Lock(std::io::Error::other(
            "the lock file kept being replaced",
        )))
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        // Removed while still locked, then unlocked by closing.
        let _ = std::fs::remove_file(&self.lock);
        drop(self.file.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claimed_folder_cannot_be_claimed_again_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a/b");
        let first = OutDir::claim(&out).unwrap();
        assert!(out.join(LOCK_FILE).is_file());
        // flock conflicts between two open files even in one process.
        match OutDir::claim(&out) {
            Err(ClaimError::Busy { pid }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        drop(first);
        assert!(!out.join(LOCK_FILE).exists(), "the lock file goes with the claim");
        let again = OutDir::claim(&out).unwrap();
        assert_eq!(again.path(), out);
    }

    #[test]
    fn a_stale_lock_file_left_by_a_killed_run_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), "999999").unwrap();
        let claim = OutDir::claim(dir.path()).unwrap();
        let pid = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert_eq!(pid, std::process::id().to_string());
        drop(claim);
    }

    #[test]
    fn the_busy_error_names_the_pid() {
        let e = ClaimError::Busy { pid: Some(42) }.to_string();
        assert!(e.contains("(pid 42)"), "{e}");
    }
}
