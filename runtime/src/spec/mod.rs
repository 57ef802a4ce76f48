//! Load and validate a bundle's `config.json`.

pub mod de;

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
    /// JSON paths of properties `oci-spec` does not parse (ignored as the spec requires, but
    /// named in the log; refused under `--strict`). The [`EXTENSIONS`] among them are not
    /// ignored: the planner maps them to requirements. [`LoadedSpec::ignored`] is the rest.
    pub unknown: Vec<String>,
    /// The value of `process.landlock` (an [`EXTENSIONS`] property oci-spec drops).
    pub landlock: Option<serde_json::Value>,
}

/// Properties of runtime-spec proposals that `oci-spec` does not parse yet but that restrict the
/// container, so they must never be ignored: the planner turns them into requirements.
pub const EXTENSIONS: &[&str] = &["process.landlock"];

/// Properties `oci-spec` parses that the runtime spec does not have (its deprecated top-level
/// id mappings): bvisor does not act on them, so they are reported like unknown ones.
const NOT_IN_RUNTIME_SPEC: &[&str] = &["uidMappings", "gidMappings"];

impl LoadedSpec {
    /// The unknown properties bvisor ignores: everything in `unknown` but the [`EXTENSIONS`].
    pub fn ignored(&self) -> Vec<&str> {
        self.unknown
            .iter()
            .map(String::as_str)
            .filter(|u| !is_extension(u))
            .collect()
    }

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
    let parse_error = |detail: String| SpecError::Parse {
        path: path.to_path_buf(),
        detail,
    };
    // One pass names the properties oci-spec's types do not take (serde_ignored reports each
    // key the deserializer skips) and the path of a bad value (serde_path_to_error). It used to
    // be three: this parse, the file again as a `serde_json::Value`, and the parsed `Spec`
    // re-serialized to diff the two; that was most of the parse, and with a default seccomp
    // profile (434 names) about 0.5 ms of every `create`.
    // serde_json recurses; its default recursion limit (128) turns deep nesting into an error,
    // never a stack overflow; a non-UTF-8 string is an error at its field. The error names the
    // JSON path of the bad value (a type-confused `process.user.uid` says so), with serde_json's
    // line and column.
    //
    // The path costs on every value, so only a config that fails is parsed a second time with
    // it; the same bytes fail at the same place, now with the path named.
    let mut unknown = Vec::new();
    let mut record = |p: serde_ignored::Path| unknown.push(json_path(&p));
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let spec = match <de::SpecDe as serde::Deserialize>::deserialize(
        serde_ignored::Deserializer::new(&mut json, &mut record),
    ) {
        Ok(spec) => spec,
        Err(first) => {
            return Err(parse_error(
                error_with_path(bytes).unwrap_or_else(|| first.to_string()),
            ))
        }
    };
    json.end().map_err(|e| parse_error(e.to_string()))?;
    let spec = spec.0;
    for (k, set) in [
        ("uidMappings", spec.uid_mappings().is_some()),
        ("gidMappings", spec.gid_mappings().is_some()),
    ] {
        if set && NOT_IN_RUNTIME_SPEC.contains(&k) {
            unknown.push(k.to_string());
        }
    }
    let mut seen = std::collections::HashSet::new();
    unknown.retain(|u| seen.insert(u.clone()));
    // The extension's value: oci-spec dropped it, so it is read on its own, only when present.
    let landlock = if unknown.iter().any(|u| u == "process.landlock") {
        landlock_of(bytes).map_err(|e| parse_error(e.to_string()))?
    } else {
        None
    };
    let loaded = LoadedSpec {
        spec,
        bundle,
        unknown,
        landlock,
    };
    validate(&loaded)?;
    Ok(loaded)
}

/// The error of a config that failed to parse, with the JSON path of the bad value (a
/// type-confused `process.user.uid` says so) and serde_json's line and column. None if this
/// parse succeeds after all.
fn error_with_path(bytes: &[u8]) -> Option<String> {
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let e = serde_path_to_error::deserialize::<_, de::SpecDe>(serde_ignored::Deserializer::new(
        &mut json,
        &mut |_| {},
    ))
    .err()?;
    Some(match e.path().to_string().as_str() {
        "." => e.inner().to_string(),
        p => format!("{p}: {}", e.inner()),
    })
}

/// `process.landlock` of a config that has the property, as JSON, `null` included (the
/// planner refuses a null ruleset by field rather than treating it as absent); every other
/// property is skipped.
fn landlock_of(bytes: &[u8]) -> serde_json::Result<Option<serde_json::Value>> {
    #[derive(serde::Deserialize)]
    struct Config {
        process: Option<ProcessExt>,
    }
    #[derive(serde::Deserialize)]
    struct ProcessExt {
        #[serde(default)]
        landlock: serde_json::Value,
    }
    let c: Config = serde_json::from_slice(bytes)?;
    Ok(c.process.map(|p| p.landlock))
}

/// A path serde_ignored reports, as bvisor writes JSON paths ([`key_path`], [`index_path`]).
fn json_path(p: &serde_ignored::Path) -> String {
    use serde_ignored::Path;
    match p {
        Path::Root => String::new(),
        Path::Seq { parent, index } => index_path(&json_path(parent), *index),
        Path::Map { parent, key } => key_path(&json_path(parent), key),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => json_path(parent),
    }
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

/// Whether `path` is one of the [`EXTENSIONS`] or inside one.
pub fn is_extension(path: &str) -> bool {
    EXTENSIONS.iter().any(|e| is_within(path, e))
}

/// `path` is `prefix` or a property or element below it (`mounts[1].options` is within
/// `mounts[1]` and `mounts`, not within `mount`).
pub fn is_within(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('.') || rest.starts_with('['),
        None => false,
    }
}

/// The JSON path of property `key` of the object at `base`: `linux.sysctl` + `kernel.shmmax`
/// → `linux.sysctl["kernel.shmmax"]`, `process` + `args` → `process.args`. Used for every
/// field path bvisor prints, so requirement fields and unknown-property reports agree.
pub fn key_path(base: &str, key: &str) -> String {
    let ident = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ident {
        if base.is_empty() {
            key.to_string()
        } else {
            format!("{base}.{key}")
        }
    } else {
        let quoted = serde_json::to_string(key).expect("a string serializes");
        format!("{base}[{quoted}]")
    }
}

/// The JSON path of element `i` of the array at `base`.
pub fn index_path(base: &str, i: usize) -> String {
    format!("{base}[{i}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(json: &str) -> Result<LoadedSpec, SpecError> {
        parse(
            json.as_bytes(),
            PathBuf::from("/b"),
            Path::new("/b/config.json"),
        )
    }

    const MINIMAL: &str =
        r#""process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}},"root":{"path":"rootfs"}"#;

    #[test]
    fn known_config_has_no_unknown_properties() {
        let l = parse_str(include_str!("../cli/default-config.json")).unwrap();
        assert!(l.unknown.is_empty(), "{:?}", l.unknown);
    }

    /// The single pass names what it skips anywhere (inside arrays of objects, under keys that
    /// are not identifiers, once each), keeps the landlock extension's value, and still refuses
    /// what follows the document.
    #[test]
    fn one_pass_names_skipped_properties_and_keeps_the_extension() {
        let json = format!(
            r#"{{{MINIMAL},"linux":{{"seccomp":{{"defaultAction":"SCMP_ACT_ALLOW",
                 "syscalls":[{{"names":["uname"],"action":"SCMP_ACT_ERRNO"}},
                             {{"names":["read"],"action":"SCMP_ACT_ALLOW","comment":"x"}}]}}}},
               "annotations":{{"a.b/c":"d"}},"x-y":{{"z":1}},"x-y":{{"z":2}}}}"#
        );
        let json = json.replacen(
            r#""cwd":"/""#,
            r#""cwd":"/","landlock":{"ruleset":{"handledAccessFS":["execute"]}}"#,
            1,
        );
        let l = parse_str(&json).unwrap();
        assert_eq!(
            l.unknown,
            vec![
                "process.landlock",
                "linux.seccomp.syscalls[1].comment",
                r#"["x-y"]"#,
            ]
        );
        assert_eq!(
            l.ignored(),
            vec!["linux.seccomp.syscalls[1].comment", r#"["x-y"]"#]
        );
        assert_eq!(
            l.landlock,
            Some(serde_json::json!({"ruleset": {"handledAccessFS": ["execute"]}}))
        );
        // Present but null: kept as null, for the planner to refuse by field (not as absent).
        let null = parse_str(&format!("{{{MINIMAL}}}").replacen(
            r#""cwd":"/""#,
            r#""cwd":"/","landlock":null"#,
            1,
        ))
        .unwrap();
        assert_eq!(null.landlock, Some(serde_json::Value::Null));
        assert_eq!(null.unknown, vec!["process.landlock"]);
        let e = parse_str(&format!("{{{MINIMAL}}} trailing")).unwrap_err();
        assert!(e.to_string().contains("trailing characters"), "{e}");
    }

    #[test]
    fn unknown_properties_are_named_by_json_path() {
        let json = format!(
            r#"{{"ociVersion":"1.0.2",{MINIMAL},"frobnicate":1,
               "linux":{{"sysctl":{{"net.ipv4.ip_forward":"1"}},"namespaces":[{{"type":"pid","flavour":"x"}}],
                         "resources":{{"memory":{{"limit":1,"turbo":true}}}}}},
               "mounts":[{{"destination":"/x","type":"tmpfs","extra":{{"a":1}}}}],
               "process2":null,"hostname":null,
               "uidMappings":[{{"containerID":0,"hostID":1000,"size":1}}]}}"#
        );
        // An unknown property is named even when null (it is still a property bvisor does not
        // act on); a known one set to null is simply unset.
        let l = parse_str(&json).unwrap();
        let mut u = l.unknown.clone();
        u.sort();
        assert_eq!(
            u,
            vec![
                "frobnicate",
                "linux.namespaces[0].flavour",
                "linux.resources.memory.turbo",
                "mounts[0].extra",
                "process2",
                "uidMappings",
            ]
        );
    }

    #[test]
    fn extensions_are_reported_but_not_ignored() {
        let json = format!(
            r#"{{"ociVersion":"1.0.2",{}, "landlock":{{"ruleset":{{"handledAccessFS":["execute"]}}}}}},"root":{{"path":"rootfs"}}, "x":1}}"#,
            r#""process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}"#
        );
        let l = parse_str(&json).unwrap();
        assert!(l.unknown.iter().any(|u| u == "process.landlock"));
        assert_eq!(l.ignored(), vec!["x"]);
    }

    #[test]
    fn paths_quote_keys_that_are_not_identifiers() {
        assert_eq!(key_path("", "linux"), "linux");
        assert_eq!(key_path("linux", "sysctl"), "linux.sysctl");
        assert_eq!(
            key_path("linux.sysctl", "net.ipv4.ip_forward"),
            r#"linux.sysctl["net.ipv4.ip_forward"]"#
        );
        assert_eq!(key_path("a", "x\"y"), r#"a["x\"y"]"#);
        assert_eq!(index_path("mounts", 3), "mounts[3]");
        assert!(is_within("mounts[1].options", "mounts"));
        assert!(is_within("mounts[1].options", "mounts[1]"));
        assert!(!is_within("mountsx", "mounts"));
        assert!(is_within("process.landlock.rules", "process.landlock"));
    }
}
