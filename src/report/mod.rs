//! Everything that talks to the user or writes results: the result.json
//! schema, the CSV writers, the human summary, the HTML pages and the live
//! progress line.
//! Writers take a `Write`, so each format is testable without a terminal.

pub mod csv;
pub mod flame;
pub mod heap;
pub mod html;
pub mod leak;
pub mod llm;
pub mod load;
pub mod load_text;
pub mod metrics;
pub mod progress;
pub mod scenarios;
pub mod schema;
pub mod text;
pub mod verdicts;
pub mod workers;

/// Writes `bytes` to `path` through a temporary file in the same folder
/// and a rename, so a reader never sees half a file.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// [`write_atomic`] for output produced piece by piece by `write`.
pub fn write_atomic_with(
    path: &std::path::Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    write(tmp.as_file_mut())?;
    // Temporary files are private (0600); a result is an ordinary file,
    // with the mode the user's umask gives new files.
    tmp.as_file()
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666 & !umask()))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The process's file mode mask, read without changing it (Linux reports
/// it in /proc/self/status); the usual 022 where it cannot be read.
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|st| {
            st.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|m| u32::from_str_radix(m.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn written_files_follow_the_umask_not_the_temp_files_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/result.json");
        super::write_atomic(&path, b"{}").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !super::umask());
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
    }
}
