//! The `bvisor-wasm` command line.
//!
//! ```text
//! bvisor-wasm [--dir HOST[::GUEST]]… [--env K=V]… [--fuel N] [--max-memory BYTES[K|M|G]]
//!             [--cwd GUEST_DIR] [--] MODULE [ARGS…]
//! ```
//!
//! Options end at MODULE (or at `--`): everything after it goes to the guest. The guest's
//! argv[0] is MODULE exactly as given, as wasmtime does.

use crate::RunConfig;
use std::ffi::OsString;
use std::path::PathBuf;
use thiserror::Error;

pub const USAGE: &str = "usage: bvisor-wasm [--dir HOST[::GUEST]]... [--env K=V]... [--fuel N] \
[--max-memory BYTES[K|M|G]] [--cwd GUEST_DIR] [--] MODULE [ARGS...]";

/// A command line the runner cannot act on.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum UsageError {
    #[error("option {0} needs a value")]
    MissingValue(String),
    #[error("unknown option {0}")]
    UnknownOption(String),
    #[error("no module given")]
    NoModule,
    #[error("argument {0:?} is not valid UTF-8")]
    NotUtf8(String),
    #[error("--env {0:?}: expected K=V with a non-empty K")]
    BadEnv(String),
    #[error("--dir {0:?}: expected HOST or HOST::GUEST")]
    BadDir(String),
    #[error("{option} {value:?}: {reason}")]
    BadNumber {
        option: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("help requested")]
    Help,
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<RunConfig, UsageError> {
    let mut cfg = RunConfig::default();
    let mut it = args.into_iter();
    let module = loop {
        let Some(arg) = it.next() else {
            return Err(UsageError::NoModule);
        };
        let text = match arg.to_str() {
            Some(t) => t.to_string(),
            // Only MODULE may be non-UTF-8 (it is a host path).
            None if !arg.to_string_lossy().starts_with('-') => break arg,
            None => return Err(UsageError::NotUtf8(arg.to_string_lossy().into_owned())),
        };
        let (name, inline) = match text.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (text.clone(), None),
        };
        let mut value = || -> Result<String, UsageError> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .ok_or_else(|| UsageError::MissingValue(name.clone()))?
                    .into_string()
                    .map_err(|v| UsageError::NotUtf8(v.to_string_lossy().into_owned())),
            }
        };
        match name.as_str() {
            "--" => break it.next().ok_or(UsageError::NoModule)?,
            "-h" | "--help" => return Err(UsageError::Help),
            "--dir" => cfg.dirs.push(parse_dir(&value()?)?),
            "--env" => cfg.env.push(parse_env(&value()?)?),
            "--cwd" => cfg.cwd = Some(value()?),
            "--fuel" => cfg.fuel = Some(parse_number("--fuel", &value()?, false)?),
            "--max-memory" => cfg.max_memory = Some(parse_number("--max-memory", &value()?, true)?),
            _ if text.starts_with('-') && text != "-" => {
                return Err(UsageError::UnknownOption(text))
            }
            _ => break arg,
        }
    };
    cfg.args.push(module.to_string_lossy().into_owned());
    for arg in it {
        let arg = arg
            .into_string()
            .map_err(|a| UsageError::NotUtf8(a.to_string_lossy().into_owned()))?;
        cfg.args.push(arg);
    }
    cfg.module = PathBuf::from(module);
    Ok(cfg)
}

fn parse_dir(spec: &str) -> Result<(PathBuf, String), UsageError> {
    let (host, guest) = spec.split_once("::").unwrap_or((spec, spec));
    if host.is_empty() || guest.is_empty() {
        return Err(UsageError::BadDir(spec.to_string()));
    }
    Ok((PathBuf::from(host), guest.to_string()))
}

fn parse_env(spec: &str) -> Result<(String, String), UsageError> {
    match spec.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(UsageError::BadEnv(spec.to_string())),
    }
}

/// A decimal count; with `suffixes`, optionally followed by K, M or G (powers of 1024).
fn parse_number(option: &'static str, value: &str, suffixes: bool) -> Result<u64, UsageError> {
    let bad = |reason| UsageError::BadNumber {
        option,
        value: value.to_string(),
        reason,
    };
    let (digits, scale) = match value.char_indices().last() {
        Some((i, c)) if suffixes && c.is_ascii_alphabetic() => {
            let scale = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(bad("unknown suffix (K, M or G)")),
            };
            (&value[..i], scale)
        }
        _ => (value, 1),
    };
    let n: u64 = digits.parse().map_err(|_| bad("not a number"))?;
    n.checked_mul(scale).ok_or_else(|| bad("too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<RunConfig, UsageError> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn options_stop_at_the_module() {
        let c = p(&[
            "--dir",
            "/tmp::/t",
            "--env",
            "A=b=c",
            "--fuel=10",
            "m.wasm",
            "--env",
            "x",
        ])
        .unwrap();
        assert_eq!(c.module, PathBuf::from("m.wasm"));
        assert_eq!(c.args, ["m.wasm", "--env", "x"]);
        assert_eq!(c.env, [("A".to_string(), "b=c".to_string())]);
        assert_eq!(c.dirs, [(PathBuf::from("/tmp"), "/t".to_string())]);
        assert_eq!(c.fuel, Some(10));
    }

    #[test]
    fn dir_without_guest_maps_to_itself() {
        let c = p(&["--dir", "/etc", "m"]).unwrap();
        assert_eq!(c.dirs, [(PathBuf::from("/etc"), "/etc".to_string())]);
    }

    #[test]
    fn double_dash_ends_options() {
        let c = p(&["--", "-weird.wasm", "a"]).unwrap();
        assert_eq!(c.module, PathBuf::from("-weird.wasm"));
        assert_eq!(c.args, ["-weird.wasm", "a"]);
    }

    #[test]
    fn memory_suffixes() {
        assert_eq!(
            p(&["--max-memory", "64K", "m"]).unwrap().max_memory,
            Some(65536)
        );
        assert_eq!(
            p(&["--max-memory", "2m", "m"]).unwrap().max_memory,
            Some(2 << 20)
        );
        assert!(p(&["--max-memory", "2X", "m"]).is_err());
        assert!(p(&["--fuel", "2K", "m"]).is_err());
        assert!(p(&["--max-memory", "99999999999999999999G", "m"]).is_err());
    }

    #[test]
    fn errors() {
        assert_eq!(p(&[]), Err(UsageError::NoModule));
        assert_eq!(
            p(&["--fuel"]),
            Err(UsageError::MissingValue("--fuel".into()))
        );
        assert_eq!(
            p(&["--nope", "m"]),
            Err(UsageError::UnknownOption("--nope".into()))
        );
        assert_eq!(
            p(&["--env", "=v", "m"]),
            Err(UsageError::BadEnv("=v".into()))
        );
        assert_eq!(p(&["--env", "K", "m"]), Err(UsageError::BadEnv("K".into())));
        assert_eq!(
            p(&["--dir", "::/x", "m"]),
            Err(UsageError::BadDir("::/x".into()))
        );
    }
}
