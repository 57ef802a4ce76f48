//! Container lifecycle: create, start, state, kill, delete, exec, pause/resume, on the state
//! directory and the launcher. Used by the CLI (and the containerd shim).

pub mod create;
pub mod launch;
pub mod ops;
pub mod seccomp;
pub mod spawn;
pub mod state;
pub mod wasm;

pub use create::{check_new_id, create, create_loaded, CreateOpts};
pub use ops::*;
pub use state::{State, StateDir, StateError, Status};

use crate::plan::Refusal;
use crate::spec::SpecError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("refused: {0}")]
    Refused(Refusal),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Launch(#[from] launch::LaunchError),
    #[error("launcher step {n} ({name}) failed: {detail}")]
    Step {
        n: u32,
        name: String,
        errno: Option<i32>,
        detail: String,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    /// A signal for a container whose init has exited (containerd's shim maps it to NotFound).
    #[error("container not running")]
    NotRunning,
    #[error("{0}")]
    Other(String),
}

// Not `#[from]`: that would also make the refusal the error's source, and `{:#}` would print
// it twice.
impl From<Refusal> for Error {
    fn from(r: Refusal) -> Error {
        Error::Refused(r)
    }
}

pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

pub type Result<T> = std::result::Result<T, Error>;

/// The launcher binary: `BVISOR_LAUNCHER`, else `bvisor-launcher` beside the running binary.
pub fn launcher_path() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("BVISOR_LAUNCHER") {
        return p.into();
    }
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("bvisor-launcher")))
        .unwrap_or_else(|| "bvisor-launcher".into())
}
