//! Everything that talks to the user or writes results: the result.json
//! schema, the CSV writers, the human summary and the live progress line.
//! Writers take a `Write`, so each format is testable without a terminal.

pub mod csv;
pub mod flame;
pub mod leak;
pub mod load;
pub mod load_text;
pub mod progress;
pub mod schema;
pub mod text;

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
    // Temporary files are private (0600); a result is an ordinary file.
    tmp.as_file()
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
