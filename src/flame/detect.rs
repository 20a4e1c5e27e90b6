//! Which profiler fits a target: Python processes get py-spy, the rest perf.

use std::path::PathBuf;

/// True for a file name like `python`, `python3`, `python3.11`.
pub fn is_python_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("python") else {
        return false;
    };
    rest.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// True when a running process is a Python interpreter: its executable is
/// `python*` (uvicorn, gunicorn and celery scripts run on one), or it has
/// libpython mapped (uWSGI and other embedders). Another user's process
/// hides both, so then its command line's program name decides.
pub fn pid_is_python(pid: u32) -> bool {
    match std::fs::read_link(format!("/proc/{pid}/exe")) {
        Ok(exe) => {
            exe.file_name().and_then(|n| n.to_str()).is_some_and(is_python_name)
                || std::fs::read_to_string(format!("/proc/{pid}/maps")).is_ok_and(|maps| maps.contains("/libpython"))
        }
        Err(_) => std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|raw| {
            let argv0 = raw.split(|&b| b == 0).next().unwrap_or_default();
            let argv0 = String::from_utf8_lossy(argv0);
            is_python_name(argv0.rsplit('/').next().unwrap_or_default())
        }),
    }
}

/// Finds `program` the way the shell would: as given when it has a `/`,
/// else on `PATH`.
pub fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// True when a command runs Python: the program is `python*`, or a script
/// whose `#!` line names Python (how `uvicorn`, `gunicorn`, `celery` and
/// other console scripts are installed).
pub fn command_is_python(argv: &[String]) -> bool {
    let Some(program) = argv.first() else {
        return false;
    };
    let base = program.rsplit('/').next().unwrap_or(program);
    if is_python_name(base) {
        return true;
    }
    if base == "env"
        && let Some(next) = argv.iter().skip(1).find(|a| !a.starts_with('-') && !a.contains('='))
    {
        return command_is_python(std::slice::from_ref(next));
    }
    let Some(path) = which(program) else {
        return false;
    };
    let mut head = [0u8; 256];
    let n = std::fs::File::open(&path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    let head = &head[..n];
    head.starts_with(b"#!") && {
        let first = head.split(|&b| b == b'\n').next().unwrap_or(head);
        String::from_utf8_lossy(first).contains("python")
    }
}

/// True when `pid` belongs to another user and loadprof is not root: then
/// ptrace is refused whatever the profiler's message says.
pub fn foreign(pid: u32) -> bool {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    me != 0
        && std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|st| {
            st.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1))
                .and_then(|euid| euid.parse::<u32>().ok())
                .is_some_and(|owner| owner != me)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_names() {
        for yes in ["python", "python3", "python3.11", "python3.12"] {
            assert!(is_python_name(yes), "{yes}");
        }
        for no in ["pythonw-not", "ipython", "py", "python3-config", "node"] {
            assert!(!is_python_name(no), "{no}");
        }
    }

    #[test]
    fn commands_that_run_python() {
        let argv = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(command_is_python(&argv(&["python3", "app.py"])));
        assert!(command_is_python(&argv(&[
            "/usr/bin/env",
            "PYTHONUNBUFFERED=1",
            "python3",
            "x.py"
        ])));
        assert!(!command_is_python(&argv(&["sleep", "1"])));
        assert!(!command_is_python(&argv(&[])));
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("uvicorn");
        std::fs::write(&script, "#!/opt/venv/bin/python3.11\nimport sys\n").unwrap();
        assert!(command_is_python(&[script.display().to_string()]));
        let sh = dir.path().join("run.sh");
        std::fs::write(&sh, "#!/bin/sh\nexec ./server\n").unwrap();
        assert!(!command_is_python(&[sh.display().to_string()]));
    }

    #[test]
    fn this_test_process_is_not_python() {
        assert!(!pid_is_python(std::process::id()));
    }
}
