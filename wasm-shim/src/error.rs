//! What can stop a run short of the guest's own exit, and the process exit code for each.
//!
//! WASI preview 1 lets a guest exit only with a status in `0..126` (`proc_exit` refuses anything
//! larger, and that refusal is a trap), so every code the runner uses for itself is 126 or more
//! and can never be mistaken for the guest's.

use std::io;
use std::path::PathBuf;
use thiserror::Error;

/// The module exists but cannot run: not valid wasm or wat, an import the runner does not
/// provide, no `_start`, or instantiation failed (e.g. its initial memory is over the cap).
pub const EXIT_LOAD: i32 = 126;
/// The module file cannot be read (missing, unreadable): the shell's "command not found".
pub const EXIT_READ: i32 = 127;
/// The runner was told something it cannot do: a bad command line, a `--dir` that cannot be
/// opened, a `--cwd` outside every `--dir`, an argument or variable WASI cannot carry.
pub const EXIT_SETUP: i32 = 128;
/// The guest trapped (128 + SIGABRT, what a native program that aborts reports).
pub const EXIT_TRAP: i32 = 134;
/// The guest ran out of fuel (128 + SIGXCPU, what a native program over RLIMIT_CPU reports).
pub const EXIT_OUT_OF_FUEL: i32 = 152;

/// Why a run ended without an exit status from the guest.
#[derive(Debug, Error)]
pub enum RunError {
    #[error("cannot read module {module}: {source}")]
    Read {
        module: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot load module {module}: {reason}")]
    Load { module: PathBuf, reason: String },
    #[error("trap: {reason} in {module}")]
    Trap { module: PathBuf, reason: String },
    #[error("trap: out of fuel ({fuel} units) in {module}")]
    OutOfFuel { module: PathBuf, fuel: u64 },
    #[error("cannot preopen directory {host} as {guest}: {source}")]
    Preopen {
        host: PathBuf,
        guest: String,
        #[source]
        source: io::Error,
    },
    #[error("working directory {cwd}: {reason}")]
    Cwd { cwd: String, reason: String },
    #[error("cannot pass {what} to the guest: {reason}")]
    Wasi { what: String, reason: String },
}

impl RunError {
    /// The exit code the runner process reports for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Read { .. } => EXIT_READ,
            RunError::Load { .. } => EXIT_LOAD,
            RunError::Trap { .. } => EXIT_TRAP,
            RunError::OutOfFuel { .. } => EXIT_OUT_OF_FUEL,
            RunError::Preopen { .. } | RunError::Cwd { .. } | RunError::Wasi { .. } => EXIT_SETUP,
        }
    }
}

/// Error messages from the wasm and wat parsers can span several lines (a source excerpt with a
/// caret); the runner reports every error on one line. Keeps the first line and a `--> file:l:c`
/// location if there is one.
pub(crate) fn one_line(message: &str) -> String {
    let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default().to_string();
    match lines.find_map(|l| l.strip_prefix("--> ")) {
        Some(at) => format!("{first} at {at}"),
        None => first,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_outside_the_guest_range() {
        let codes = [
            EXIT_LOAD,
            EXIT_READ,
            EXIT_SETUP,
            EXIT_TRAP,
            EXIT_OUT_OF_FUEL,
        ];
        for (i, a) in codes.iter().enumerate() {
            assert!(*a >= 126 && *a <= 255, "{a}");
            assert!(codes[i + 1..].iter().all(|b| b != a), "{a} repeats");
        }
    }

    #[test]
    fn one_line_keeps_message_and_location() {
        let wat = "expected `(`\n     --> m.wat:1:1\n      |\n    1 | garbage\n      | ^";
        assert_eq!(one_line(wat), "expected `(` at m.wat:1:1");
        assert_eq!(one_line("plain"), "plain");
        assert_eq!(one_line(""), "");
    }
}
