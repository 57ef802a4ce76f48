//! bvisor's wasm runner: runs a WASI preview 1 command module on the `wasmi` interpreter.
//!
//! The runtime dispatches a wasm bundle to the `bvisor-wasm` binary (ARCHITECTURE §4); the same
//! code is this library, so the runtime can test a file with [`is_wasm_file`] and benchmarks can
//! call [`run`] in-process.
//!
//! What the guest gets is exactly what [`RunConfig`] says and nothing more: its argv, its
//! environment, the directories it names (none: no filesystem at all), inherited stdio, and
//! optional memory and fuel limits. Its exit status is [`run`]'s `Ok`; everything else is a
//! [`RunError`] with its own exit code (see [`error`]).

#![forbid(unsafe_code)]

pub mod cli;
pub mod error;
mod exec;
mod module;
mod wasi;

pub use error::{RunError, EXIT_LOAD, EXIT_OUT_OF_FUEL, EXIT_READ, EXIT_SETUP, EXIT_TRAP};
pub use module::{is_wasm_bytes, is_wasm_file, WASM_MAGIC};
pub use wasi::PWD;

use std::path::PathBuf;

/// One run of one module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunConfig {
    /// The module to run: binary wasm (begins with `\0asm`) or wat text.
    pub module: PathBuf,
    /// The guest's argv, argv[0] included. The CLI passes the module path as given, then the
    /// arguments after it, as wasmtime does; the runtime passes `process.args` unchanged.
    pub args: Vec<String>,
    /// The guest's whole environment, in order. The host's is never inherited.
    pub env: Vec<(String, String)>,
    /// Preopened directories, host path → guest path, as fds 3, 4, … in this order.
    /// Empty means the guest has no filesystem at all.
    pub dirs: Vec<(PathBuf, String)>,
    /// The guest's working directory: an absolute guest path that must name a directory inside
    /// one of `dirs`. WASI preview 1 has no working directory of its own, so it reaches the
    /// guest as `PWD=<cwd>` in its environment (unless `env` sets `PWD` itself). Go's wasip1
    /// port resolves relative paths against `$PWD`; upstream wasi-libc (C, Rust) ignores it and
    /// always starts at `/`, so for those guests only `/` behaves as a real working directory.
    pub cwd: Option<String>,
    /// Fuel for the whole run; `None` turns metering off (no cost on the default path).
    pub fuel: Option<u64>,
    /// Cap in bytes on each linear memory: `memory.grow` past it returns -1 to the guest.
    /// A module whose initial memory is already over the cap does not load.
    pub max_memory: Option<u64>,
}

/// Runs `cfg.module` to completion and returns the guest's exit status: 0 when `_start`
/// returns, `n` for `proc_exit(n)`. Traps, fuel exhaustion, load and setup failures are errors.
pub fn run(cfg: &RunConfig) -> Result<i32, RunError> {
    exec::run(cfg)
}
