//! The guest's WASI view of the world: argv, environment, stdio and preopened directories.
//! Nothing is inherited implicitly: no host environment, no host arguments, and no directory
//! that was not named in [`RunConfig::dirs`].

use crate::error::RunError;
use crate::RunConfig;
use std::path::{Component, Path};
use wasmi_wasi::{ambient_authority, Dir, WasiCtx, WasiCtxBuilder};

/// The variable that carries `--cwd` to the guest (see [`RunConfig::cwd`]).
pub const PWD: &str = "PWD";

/// Builds the WASI context for `cfg`. Stdio is inherited.
pub fn context(cfg: &RunConfig) -> Result<WasiCtx, RunError> {
    let mut b = WasiCtxBuilder::new();
    b.inherit_stdio();
    for arg in &cfg.args {
        b.arg(arg)
            .map_err(|e| wasi_err(format!("argument {arg:?}"), e))?;
    }
    for (key, value) in &cfg.env {
        if key.is_empty() || key.contains('=') {
            return Err(RunError::Wasi {
                what: format!("environment variable {key:?}"),
                reason: "a name must be non-empty and contain no '='".into(),
            });
        }
        b.env(key, value)
            .map_err(|e| wasi_err(format!("environment variable {key}"), e))?;
    }
    let mut dirs = Vec::with_capacity(cfg.dirs.len());
    for (host, guest) in &cfg.dirs {
        let dir = Dir::open_ambient_dir(host, ambient_authority()).map_err(|source| {
            RunError::Preopen {
                host: host.clone(),
                guest: guest.clone(),
                source,
            }
        })?;
        dirs.push((dir, guest.as_str()));
    }
    if let Some(cwd) = &cfg.cwd {
        check_cwd(cwd, &dirs)?;
        if !cfg.env.iter().any(|(k, _)| k == PWD) {
            b.env(PWD, cwd)
                .map_err(|e| wasi_err(format!("working directory {cwd}"), e))?;
        }
    }
    // Preopens get fds 3, 4, … in the order given; guests that treat the first as the root
    // (Go) see the first --dir as such.
    for (dir, guest) in dirs {
        b.preopened_dir(dir, guest).map_err(|e| RunError::Wasi {
            what: format!("directory {guest}"),
            reason: e.to_string(),
        })?;
    }
    Ok(b.build())
}

fn wasi_err(what: String, e: impl std::fmt::Display) -> RunError {
    RunError::Wasi {
        what,
        reason: e.to_string(),
    }
}

/// `cwd` must be an absolute guest path naming a directory inside one of the preopens
/// (the longest matching guest path wins, as wasi-libc and Go resolve it).
fn check_cwd(cwd: &str, dirs: &[(Dir, &str)]) -> Result<(), RunError> {
    let err = |reason: &str| RunError::Cwd {
        cwd: cwd.to_string(),
        reason: reason.to_string(),
    };
    if !cwd.starts_with('/') {
        return Err(err("not an absolute path"));
    }
    let (dir, rel) = dirs
        .iter()
        .filter_map(|(dir, guest)| guest_relative(cwd, guest).map(|rel| (dir, rel)))
        .max_by_key(|(_, rel)| std::cmp::Reverse(rel.len()))
        .ok_or_else(|| err("not under any preopened directory (--dir)"))?;
    let rel = if rel.is_empty() { "." } else { rel };
    match dir.metadata(rel) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(err("not a directory")),
        Err(e) => Err(err(&e.to_string())),
    }
}

/// The part of absolute guest path `path` below preopen `guest`, or None if it is not below it.
/// Compares whole components: `/etc` holds `/etc/x` but not `/etcx`.
fn guest_relative<'a>(path: &'a str, guest: &str) -> Option<&'a str> {
    let guest = Path::new(guest);
    if !guest.has_root() {
        return None;
    }
    let below = Path::new(path).strip_prefix(guest).ok()?;
    if below.components().any(|c| c == Component::ParentDir) {
        return None;
    }
    below.to_str()
}

#[cfg(test)]
mod tests {
    use super::guest_relative;

    #[test]
    fn guest_relative_matches_whole_components() {
        assert_eq!(guest_relative("/", "/"), Some(""));
        assert_eq!(guest_relative("/app/src", "/"), Some("app/src"));
        assert_eq!(guest_relative("/app/src", "/app"), Some("src"));
        assert_eq!(guest_relative("/app/", "/app"), Some(""));
        assert_eq!(guest_relative("/appx", "/app"), None);
        assert_eq!(guest_relative("/app/../etc", "/app"), None);
        assert_eq!(guest_relative("/x", "x"), None);
    }
}
