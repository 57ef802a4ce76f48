//! `process.landlock` (the runtime-spec proposal's shape): one requirement per kind of right the
//! ruleset handles, needing the mechanism of the lowest landlock ABI that has every right asked.

use super::{Requirement, Scope};
use crate::spec::key_path;

/// (access right, the landlock ABI that introduced it).
pub const LANDLOCK_FS_RIGHTS: &[(&str, u32)] = &[
    ("execute", 1),
    ("write_file", 1),
    ("read_file", 1),
    ("read_dir", 1),
    ("remove_dir", 1),
    ("remove_file", 1),
    ("make_char", 1),
    ("make_dir", 1),
    ("make_reg", 1),
    ("make_sock", 1),
    ("make_fifo", 1),
    ("make_block", 1),
    ("make_sym", 1),
    ("refer", 2),
    ("truncate", 3),
    ("ioctl_dev", 5),
];
pub const LANDLOCK_NET_RIGHTS: &[(&str, u32)] = &[("bind_tcp", 4), ("connect_tcp", 4)];
pub const LANDLOCK_SCOPES: &[(&str, u32)] = &[("abstract_unix_socket", 6), ("signal", 6)];

/// A ruleset handling every right the proposal knows.
pub(super) fn landlock_everything() -> serde_json::Value {
    let names =
        |t: &[(&'static str, u32)]| -> Vec<&'static str> { t.iter().map(|r| r.0).collect() };
    serde_json::json!({"ruleset": {
        "handledAccessFS": names(LANDLOCK_FS_RIGHTS),
        "handledAccessNetwork": names(LANDLOCK_NET_RIGHTS),
        "scoped": names(LANDLOCK_SCOPES),
    }})
}

/// The landlock requirements of a `process.landlock` value: one per kind of right it handles,
/// each needing the mechanism of the lowest ABI that has every right asked
/// (`landlock:fs:abi3` for `truncate`). An unknown right is unenforceable.
pub fn landlock_requirements(field: &str, v: &serde_json::Value) -> Vec<Requirement> {
    let mut out = Vec::new();
    let ruleset = &v["ruleset"];
    for (key, family, kind, table) in [
        ("handledAccessFS", "fs", "landlock.fs", LANDLOCK_FS_RIGHTS),
        (
            "handledAccessNetwork",
            "net",
            "landlock.net",
            LANDLOCK_NET_RIGHTS,
        ),
        ("scoped", "scope", "landlock.scope", LANDLOCK_SCOPES),
    ] {
        let Some(rights) = ruleset[key].as_array() else {
            continue;
        };
        let f = key_path(&key_path(field, "ruleset"), key);
        let names: Vec<&str> = rights.iter().filter_map(|r| r.as_str()).collect();
        if names.len() != rights.len() {
            out.push(unenforceable(kind, &f, "rights must be strings"));
            continue;
        }
        let mut abi = 0;
        let mut bad = None;
        for n in &names {
            match table.iter().find(|(r, _)| r == n) {
                Some((_, a)) => abi = abi.max(*a),
                None => bad = Some(*n),
            }
        }
        if let Some(b) = bad {
            out.push(unenforceable(
                kind,
                &f,
                &format!("{b:?} is not a landlock right bvisor knows"),
            ));
        } else if abi > 0 {
            out.push(Requirement {
                kind: kind.to_string(),
                field: f,
                detail: names.join(","),
                mechanisms: vec![format!("landlock:{family}:abi{abi}")],
                scope: Scope::Any,
                unenforceable: None,
            });
        }
    }
    out
}

fn unenforceable(kind: &str, field: &str, why: &str) -> Requirement {
    Requirement {
        kind: kind.to_string(),
        field: field.to_string(),
        detail: String::new(),
        mechanisms: Vec::new(),
        scope: Scope::Any,
        unenforceable: Some(why.to_string()),
    }
}
