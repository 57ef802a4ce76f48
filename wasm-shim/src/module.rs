//! Reading a module from disk: binary wasm is recognised by its `\0asm` magic, anything else is
//! parsed as the text format (wat).

use crate::error::{one_line, RunError};
use std::fs::File;
use std::io::Read;
use std::path::Path;
use wasmi::{Engine, Module};

/// The four bytes every binary wasm module begins with.
pub const WASM_MAGIC: [u8; 4] = *b"\0asm";

/// True if `bytes` begin with the binary wasm magic.
pub fn is_wasm_bytes(bytes: &[u8]) -> bool {
    bytes.starts_with(&WASM_MAGIC)
}

/// True if the file at `path` begins with the binary wasm magic. Reads four bytes; any error
/// (missing, unreadable, a directory, too short) is `false`. This is the runtime's dispatch test
/// for a bundle whose `process.args[0]` is a wasm module.
pub fn is_wasm_file(path: impl AsRef<Path>) -> bool {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == WASM_MAGIC
}

/// Reads, parses (wat if not binary), validates and compiles the module at `path`.
/// Compilation is lazy (wasmi's default): functions are validated now and translated to wasmi
/// bytecode on their first call, so a large module that runs little starts fast.
pub fn load(engine: &Engine, path: &Path) -> Result<Module, RunError> {
    let bytes = std::fs::read(path).map_err(|source| RunError::Read {
        module: path.to_path_buf(),
        source,
    })?;
    let load_err = |reason: String| RunError::Load {
        module: path.to_path_buf(),
        reason,
    };
    if is_wasm_bytes(&bytes) {
        return Module::new(engine, &bytes).map_err(|e| load_err(one_line(&e.to_string())));
    }
    let binary = wat::parse_bytes(&bytes).map_err(|mut e| {
        e.set_path(path);
        load_err(format!(
            "not a wasm binary, and not valid wat: {}",
            one_line(&e.to_string())
        ))
    })?;
    Module::new(engine, &binary).map_err(|e| load_err(one_line(&e.to_string())))
}
