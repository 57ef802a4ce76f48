//! Load and validate a bundle's `config.json`.

use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid config: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("{field}: {detail}")]
    Field { field: String, detail: String },
}

/// A parsed config with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    pub spec: Spec,
    /// Absolute bundle directory.
    pub bundle: PathBuf,
    /// JSON paths of properties the runtime does not know (ignored as the spec requires, but
    /// named in the log; refused under `--strict`).
    pub unknown: Vec<String>,
}

impl LoadedSpec {
    /// The rootfs as an absolute host path.
    pub fn rootfs(&self) -> PathBuf {
        let root = self
            .spec
            .root()
            .as_ref()
            .map(|r| r.path().clone())
            .unwrap_or_else(|| PathBuf::from("rootfs"));
        if root.is_absolute() {
            root
        } else {
            self.bundle.join(root)
        }
    }
}

/// Most config files are a few KiB; refuse absurd sizes before reading them into memory.
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

pub fn load(bundle: &Path) -> Result<LoadedSpec, SpecError> {
    let bundle = std::path::absolute(bundle).map_err(|source| SpecError::Read {
        path: bundle.to_path_buf(),
        source,
    })?;
    let path = bundle.join("config.json");
    let meta = std::fs::metadata(&path).map_err(|source| SpecError::Read {
        path: path.clone(),
        source,
    })?;
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(SpecError::Parse {
            path,
            detail: format!(
                "{} bytes is larger than the {MAX_CONFIG_BYTES}-byte limit",
                meta.len()
            ),
        });
    }
    let bytes = std::fs::read(&path).map_err(|source| SpecError::Read {
        path: path.clone(),
        source,
    })?;
    parse(&bytes, bundle, &path)
}

/// Parse config bytes (also used by fuzzing and unit tests).
pub fn parse(bytes: &[u8], bundle: PathBuf, path: &Path) -> Result<LoadedSpec, SpecError> {
    let text = std::str::from_utf8(bytes).map_err(|e| SpecError::Parse {
        path: path.to_path_buf(),
        detail: format!("not UTF-8: {e}"),
    })?;
    // serde_json recurses; its default recursion limit (128) turns deep nesting into an error,
    // never a stack overflow.
    let spec: Spec = serde_json::from_str(text).map_err(|e| SpecError::Parse {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    let loaded = LoadedSpec {
        spec,
        bundle,
        unknown: Vec::new(),
    };
    validate(&loaded)?;
    Ok(loaded)
}

fn validate(l: &LoadedSpec) -> Result<(), SpecError> {
    let field = |f: &str, d: &str| SpecError::Field {
        field: f.to_string(),
        detail: d.to_string(),
    };
    if l.spec.root().is_none() {
        return Err(field("root", "is required"));
    }
    let Some(process) = l.spec.process() else {
        return Err(field("process", "is required"));
    };
    match process.args() {
        Some(a) if !a.is_empty() => {}
        _ => {
            return Err(field(
                "process.args",
                "must name at least the program to run",
            ))
        }
    }
    if !process.cwd().is_absolute() {
        return Err(field("process.cwd", "must be an absolute path"));
    }
    Ok(())
}
