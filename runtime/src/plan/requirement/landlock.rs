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

/// The launcher's ruleset for a `process.landlock` value, or the first field it cannot take
/// (field path, why). Pure: the planner refuses with the error before anything exists, and the
/// launch plan builder calls it again on the admitted value. Bits follow the tables' order,
/// which is landlock's: right `i` of a table is bit `i`.
pub fn landlock_plan(
    field: &str,
    v: &serde_json::Value,
) -> Result<bvisor_launcher::LandlockPlan, (String, String)> {
    use serde_json::Value;
    let at = |f: &str| key_path(field, f);
    let bad = |f: String, why: &str| Err((f, why.to_string()));
    let keys = |v: &Value, f: &str, allowed: &[&str]| -> Result<(), (String, String)> {
        match v {
            Value::Object(m) => match m.keys().find(|k| !allowed.contains(&k.as_str())) {
                Some(k) => Err((key_path(f, k), "bvisor does not know this property".into())),
                None => Ok(()),
            },
            Value::Null => Ok(()),
            _ => Err((f.to_string(), "must be an object".into())),
        }
    };
    let bits =
        |list: &Value, f: &str, table: &[(&str, u32)]| -> Result<(u64, u32), (String, String)> {
            let Some(items) = list.as_array() else {
                return Err((f.to_string(), "must be an array of right names".into()));
            };
            let (mut b, mut abi) = (0u64, 0u32);
            for (i, n) in items.iter().enumerate() {
                let name = n.as_str().unwrap_or("");
                match table.iter().position(|(r, _)| *r == name) {
                    Some(p) => {
                        b |= 1 << p;
                        abi = abi.max(table[p].1);
                    }
                    None => {
                        return Err((
                            format!("{f}[{i}]"),
                            format!("{n} is not a landlock right bvisor knows"),
                        ))
                    }
                }
            }
            Ok((b, abi))
        };
    keys(v, field, &["ruleset", "rules", "disableBestEffort"])?;
    if v["disableBestEffort"].as_bool() == Some(false) {
        // Best effort would silently drop rights the kernel lacks: bvisor never does.
        return bad(
            at("disableBestEffort"),
            "false asks for best effort; bvisor enforces landlock rulesets fully or refuses them",
        );
    }
    let rs = &v["ruleset"];
    let rsf = at("ruleset");
    keys(
        rs,
        &rsf,
        &["handledAccessFS", "handledAccessNetwork", "scoped"],
    )?;
    let mut plan = bvisor_launcher::LandlockPlan::default();
    let mut abi = 1;
    let opt = |k: &str, table| -> Result<(u64, u32), (String, String)> {
        match &rs[k] {
            Value::Null => Ok((0, 0)),
            l => bits(l, &key_path(&rsf, k), table),
        }
    };
    let (fs, a) = opt("handledAccessFS", LANDLOCK_FS_RIGHTS)?;
    abi = abi.max(a);
    let (net, a) = opt("handledAccessNetwork", LANDLOCK_NET_RIGHTS)?;
    abi = abi.max(a);
    let (sc, a) = opt("scoped", LANDLOCK_SCOPES)?;
    abi = abi.max(a);
    if fs == 0 && net == 0 && sc == 0 {
        return bad(
            rsf,
            "handles nothing: a ruleset must handle some right or scope",
        );
    }
    (plan.handled_fs, plan.handled_net, plan.scoped) = (fs, net, sc);
    let rules = &v["rules"];
    let rf = at("rules");
    keys(rules, &rf, &["pathBeneath", "netPort"])?;
    for (kind, table, handled) in [
        ("pathBeneath", LANDLOCK_FS_RIGHTS, fs),
        ("netPort", LANDLOCK_NET_RIGHTS, net),
    ] {
        let list = match &rules[kind] {
            Value::Null => continue,
            Value::Array(a) => a,
            _ => return bad(key_path(&rf, kind), "must be an array of rules"),
        };
        for (i, r) in list.iter().enumerate() {
            let f = format!("{}[{i}]", key_path(&rf, kind));
            let targets = if kind == "pathBeneath" {
                "paths"
            } else {
                "ports"
            };
            keys(r, &f, &["allowedAccess", targets])?;
            let (access, _) = bits(&r["allowedAccess"], &key_path(&f, "allowedAccess"), table)?;
            if access & !handled != 0 {
                return bad(
                    key_path(&f, "allowedAccess"),
                    "allows a right the ruleset does not handle",
                );
            }
            let Some(ts) = r[targets].as_array().filter(|t| !t.is_empty()) else {
                return bad(key_path(&f, targets), "must be a non-empty array");
            };
            for (j, t) in ts.iter().enumerate() {
                let tf = format!("{}[{j}]", key_path(&f, targets));
                if kind == "pathBeneath" {
                    match t.as_str() {
                        Some(p) if p.starts_with('/') => {
                            plan.path_rules.push(bvisor_launcher::LandlockPathRule {
                                path: p.to_string(),
                                access,
                            })
                        }
                        _ => return bad(tf, "must be an absolute path in the container"),
                    }
                } else {
                    match t.as_u64().and_then(|p| u16::try_from(p).ok()) {
                        Some(port) => plan
                            .net_rules
                            .push(bvisor_launcher::LandlockNetRule { port, access }),
                        None => return bad(tf, "must be a TCP port number (0-65535)"),
                    }
                }
            }
        }
    }
    plan.abi = abi;
    Ok(plan)
}
