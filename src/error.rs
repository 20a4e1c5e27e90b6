//! The two ways a command fails, each with its exit code (DESIGN.md):
//! the user's input was wrong (2), or the run could not be carried out (3).

/// A failed command. The message names the flag, file or key at fault and
/// what would be valid.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: usage, profile, file, a pid or pattern that matches nothing.
    #[error("{0:#}")]
    BadInput(anyhow::Error),
    /// The run could not be carried out: the target would not start, an
    /// output could not be written mid-run, a required component is missing.
    #[error("{0:#}")]
    CannotRun(anyhow::Error),
}

impl Error {
    pub fn bad_input(e: impl Into<anyhow::Error>) -> Error {
        Error::BadInput(e.into())
    }

    pub fn cannot_run(e: impl Into<anyhow::Error>) -> Error {
        Error::CannotRun(e.into())
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::BadInput(_) => 2,
            Error::CannotRun(_) => 3,
        }
    }
}

/// How a command that ran to its end exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Ran, and every gate passed.
    Success,
    /// Ran, and a gate failed.
    GateFailed,
    /// Stopped by Ctrl-C or SIGTERM after writing what it measured.
    Interrupted,
    /// Wrote what it measured, but the run could not be carried out to its
    /// end (the target exited or never became ready); the reason was said.
    RunFailed,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::GateFailed => 1,
            Exit::Interrupted => 130,
            Exit::RunFailed => 3,
        }
    }
}
