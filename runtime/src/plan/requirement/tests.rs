use super::*;
use crate::spec::is_within;
use std::path::{Path, PathBuf};

const EVERY_FIELD: &str = include_str!("../testdata/every-field.json");
const DEFAULT_CONFIG: &str = include_str!("../../cli/default-config.json");

fn load(json: &str) -> LoadedSpec {
    crate::spec::parse(
        json.as_bytes(),
        PathBuf::from("/b"),
        Path::new("/b/config.json"),
    )
    .expect("config parses")
}

fn strict() -> AdmitOptions {
    AdmitOptions {
        strict: true,
        ..AdmitOptions::default()
    }
}

/// The fixture really sets every field `oci-spec` knows: serializing it through a recorder
/// catches each `skip_serializing_if` field left `None`. When oci-spec grows a field, this
/// fails until the fixture (and so the mapping test below) covers it.
#[test]
fn fixture_sets_every_field_of_the_spec() {
    let l = load(EVERY_FIELD);
    let skipped = recorder::skipped_fields(&l.spec);
    assert!(skipped.is_empty(), "fields left unset: {skipped:#?}");
    let mut unknown = l.unknown.clone();
    unknown.sort();
    assert_eq!(
        unknown,
        vec!["gidMappings", "process.landlock", "uidMappings"],
        "the fixture has no misspelt property"
    );
}

/// Every leaf of the config lands somewhere: a requirement, launch data, or (without
/// --strict) the ignored list; with --strict an unknown property is a refusal.
#[test]
fn every_field_lands_somewhere() {
    let l = load(EVERY_FIELD);
    let mut leaves = Vec::new();
    leaf_paths(&serde_json::to_value(&l.spec).unwrap(), "", &mut leaves);
    leaves.extend(l.unknown.iter().cloned());
    for opts in [strict(), AdmitOptions::default()] {
        let m = map(&l, &opts);
        let homes: Vec<&str> = m
            .requirements
            .iter()
            .map(|r| r.field.as_str())
            .chain(m.launch_data.iter().map(|d| d.field.as_str()))
            .chain(m.ignored.iter().map(String::as_str))
            .collect();
        let lost: Vec<&String> = leaves
            .iter()
            .filter(|leaf| !homes.iter().any(|h| is_within(leaf, h)))
            .collect();
        assert!(
            lost.is_empty(),
            "strict={}: fields with no home: {lost:#?}",
            opts.strict
        );
        for r in &m.requirements {
            assert!(
                !r.mechanisms.is_empty() || r.unenforceable.is_some(),
                "{} at {} has neither a mechanism nor a reason",
                r.kind,
                r.field
            );
        }
    }
    let strict_map = map(&l, &strict());
    assert!(strict_map.ignored.is_empty());
    assert!(strict_map
        .requirements
        .iter()
        .any(|r| r.kind == "config.unknown_property" && r.field == "uidMappings"));
}

/// Every (kind, mechanism) a requirement can name has a ledger row, so a missing row is a
/// ledger edit, never a surprise "no ledger row" refusal.
#[test]
fn every_candidate_mechanism_has_a_ledger_row() {
    let ledger = super::super::ledger::Ledger::embedded().unwrap();
    let mut configs = vec![load(EVERY_FIELD), load(DEFAULT_CONFIG)];
    let mut v: serde_json::Value = serde_json::from_str(EVERY_FIELD).unwrap();
    // the variants the fixture cannot hold at once: new network ns, no user ns, no landlock
    v["linux"]["namespaces"][1] = serde_json::json!({"type": "network"});
    v["linux"]["namespaces"].as_array_mut().unwrap().remove(5);
    v["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "user", "path": "/proc/1/ns/user"}));
    for (i, t) in ["pid", "ipc", "uts", "mount"].iter().enumerate() {
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": t, "path": format!("/proc/{i}/ns/x")}));
    }
    configs.push(load(&v.to_string()));
    let mut missing = Vec::new();
    for l in &configs {
        for no_pivot in [false, true] {
            let opts = AdmitOptions {
                no_pivot,
                ..AdmitOptions::default()
            };
            for r in map(l, &opts).requirements {
                for m in &r.mechanisms {
                    if ledger.row(&r.kind, m).is_none() {
                        missing.push(format!("{} / {m}", r.kind));
                    }
                }
            }
        }
    }
    // landlock rights of every ABI
    for (rights, kind) in [
        (vec!["execute"], "handledAccessFS"),
        (vec!["refer"], "handledAccessFS"),
        (vec!["truncate"], "handledAccessFS"),
        (vec!["ioctl_dev"], "handledAccessFS"),
        (vec!["bind_tcp"], "handledAccessNetwork"),
        (vec!["signal"], "scoped"),
    ] {
        let v = serde_json::json!({"ruleset": {kind: rights}});
        for r in landlock_requirements("process.landlock", &v) {
            for m in &r.mechanisms {
                if ledger.row(&r.kind, m).is_none() {
                    missing.push(format!("{} / {m}", r.kind));
                }
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(missing.is_empty(), "no ledger row for: {missing:#?}");
}

#[test]
fn runc_default_config_maps_to_the_expected_requirements() {
    let m = map(&load(DEFAULT_CONFIG), &AdmitOptions::default());
    let kinds: Vec<&str> = m.requirements.iter().map(|r| r.kind.as_str()).collect();
    for k in [
        "identity.user",
        "identity.groups",
        "capabilities.bounding",
        "capabilities.inheritable",
        "rlimit",
        "no_new_privileges",
        "rootfs.pivot_root",
        "mount.proc",
        "mount.tmpfs",
        "mount.devpts",
        "mount.mqueue",
        "mount.sysfs",
        "mount.cgroup",
        "mount.destination",
        "mount.flags",
        "namespace.pid",
        "namespace.network",
        "namespace.ipc",
        "namespace.uts",
        "namespace.mount",
        "masked_paths",
        "readonly_paths",
        "cgroup.placement",
        "cgroup.devices",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert!(m.requirements.iter().all(|r| r.unenforceable.is_none()));
    assert!(m.ignored.is_empty());
    let rl = m.requirements.iter().find(|r| r.kind == "rlimit").unwrap();
    assert_eq!(rl.field, "process.rlimits[0]");
    assert_eq!(rl.detail, "RLIMIT_NOFILE soft 1024 hard 1024");
    let placement = m
        .requirements
        .iter()
        .find(|r| r.kind == "cgroup.placement")
        .unwrap();
    assert_eq!(placement.scope, Scope::Each);
}

fn config(linux: serde_json::Value, extra: serde_json::Value) -> LoadedSpec {
    let mut v = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
        "root": {"path": "rootfs"},
        "linux": linux,
    });
    for (k, x) in extra.as_object().into_iter().flatten() {
        v[k] = x.clone();
    }
    load(&v.to_string())
}

fn find<'a>(m: &'a Mapping, field: &str) -> &'a Requirement {
    m.requirements
        .iter()
        .find(|r| r.field == field)
        .unwrap_or_else(|| panic!("no requirement at {field}: {:#?}", m.requirements))
}

#[test]
fn sysctls_that_would_change_the_host_are_unenforceable() {
    let l = config(
        serde_json::json!({
            "namespaces": [{"type": "mount"}, {"type": "ipc"}],
            "sysctl": {"kernel.shmmax": "1", "net.ipv4.ip_forward": "1", "vm.swappiness": "1"}
        }),
        serde_json::json!({}),
    );
    let m = map(&l, &AdmitOptions::default());
    let ok = find(&m, r#"linux.sysctl["kernel.shmmax"]"#);
    assert_eq!(ok.mechanisms, vec!["procfs:sysctl"]);
    let net = find(&m, r#"linux.sysctl["net.ipv4.ip_forward"]"#);
    assert!(net
        .unenforceable
        .as_deref()
        .unwrap()
        .contains("network namespace"));
    let vm = find(&m, r#"linux.sysctl["vm.swappiness"]"#);
    assert!(vm
        .unenforceable
        .as_deref()
        .unwrap()
        .contains("not namespaced"));
}

#[test]
fn hostname_needs_a_uts_namespace() {
    let l = config(
        serde_json::json!({"namespaces": [{"type": "mount"}]}),
        serde_json::json!({"hostname": "box"}),
    );
    let m = map(&l, &AdmitOptions::default());
    assert!(find(&m, "hostname")
        .unenforceable
        .as_deref()
        .unwrap()
        .contains("rename the host"));
    let l = config(
        serde_json::json!({"namespaces": [{"type": "uts"}, {"type": "mount"}]}),
        serde_json::json!({"hostname": "box"}),
    );
    let m = map(&l, &AdmitOptions::default());
    assert!(m.launch_data.iter().any(|d| d.field == "hostname"));
}

#[test]
fn without_a_mount_namespace_rootfs_work_is_unenforceable() {
    let l = config(
        serde_json::json!({"namespaces": [{"type": "pid"}], "maskedPaths": ["/proc/kcore"]}),
        serde_json::json!({"mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}]}),
    );
    let m = map(&l, &AdmitOptions::default());
    for f in ["root.path", "mounts[0]", "linux.maskedPaths"] {
        assert!(find(&m, f).unenforceable.is_some(), "{f}");
    }
}

#[test]
fn namespaces_new_joined_and_duplicate() {
    let l = config(
        serde_json::json!({"namespaces": [
            {"type": "pid"}, {"type": "network", "path": "/run/netns/a"}, {"type": "pid"},
            {"type": "mount"}
        ]}),
        serde_json::json!({}),
    );
    let m = map(&l, &AdmitOptions::default());
    let pid = find(&m, "linux.namespaces[0]");
    assert_eq!(
        (pid.kind.as_str(), pid.mechanisms.clone()),
        ("namespace.pid", vec!["clone3:CLONE_NEWPID".to_string()])
    );
    let net = find(&m, "linux.namespaces[1]");
    assert_eq!(
        (net.kind.as_str(), net.mechanisms.clone()),
        (
            "namespace.network.join",
            vec!["setns:CLONE_NEWNET".to_string()]
        )
    );
    assert!(find(&m, "linux.namespaces[2]").unenforceable.is_some());
}

#[test]
fn user_namespace_needs_its_mappings_and_mappings_need_it() {
    let userns = config(
        serde_json::json!({"namespaces": [{"type": "user"}, {"type": "mount"}],
                           "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}),
        serde_json::json!({}),
    );
    let m = map(&userns, &AdmitOptions::default());
    assert_eq!(
        find(&m, "linux.uidMappings").mechanisms,
        vec!["procfs:uid_map"]
    );
    assert!(find(&m, "linux.gidMappings").unenforceable.is_some());
    let no_userns = config(
        serde_json::json!({"namespaces": [{"type": "mount"}],
                           "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}),
        serde_json::json!({}),
    );
    let m = map(&no_userns, &AdmitOptions::default());
    assert!(find(&m, "linux.uidMappings").unenforceable.is_some());
}

#[test]
fn no_pivot_asks_for_move_and_chroot() {
    let l = config(
        serde_json::json!({"namespaces": [{"type": "mount"}]}),
        serde_json::json!({}),
    );
    let opts = AdmitOptions {
        no_pivot: true,
        ..AdmitOptions::default()
    };
    let r = find(&map(&l, &opts), "root.path").clone();
    assert_eq!(r.kind, "rootfs.chroot");
    assert_eq!(r.mechanisms, vec!["ms_move+chroot"]);
}

#[test]
fn mount_options_split_into_requirements() {
    let l = config(
        serde_json::json!({"namespaces": [{"type": "mount"}]}),
        serde_json::json!({"mounts": [
            {"destination": "/data", "type": "none", "source": "/srv", "options": ["rbind", "ro", "rprivate"]},
            {"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["nosymfollow", "size=1k"]},
            {"destination": "/b", "type": "bind", "source": "/srv", "options": ["size=1k"]}
        ]}),
    );
    let m = map(&l, &AdmitOptions::default());
    assert_eq!(find(&m, "mounts[0]").kind, "mount.bind");
    let flags: Vec<&Requirement> = m
        .requirements
        .iter()
        .filter(|r| r.field == "mounts[0].options")
        .collect();
    assert_eq!(flags.len(), 2, "flags and propagation: {flags:#?}");
    assert_eq!(find(&m, "mounts[1]").detail, "/t tmpfs (size=1k)");
    assert_eq!(find(&m, "mounts[1].options[0]").kind, "mount.nosymfollow");
    assert_eq!(find(&m, "mounts[2]").kind, "mount.bind");
    assert!(m
        .launch_data
        .iter()
        .any(|d| d.field == "mounts[2].options" && d.note.contains("ignored")));
}

/// The planner's option table and the launch-plan builder's parser agree on every option,
/// so a mount flag is never planned as data or the other way round.
#[test]
fn option_table_agrees_with_the_launch_plan_builder() {
    use crate::container::launch::parse_options;
    for o in FLAG_OPTIONS {
        let (set, clear, prop, bind, _, data) = parse_options(&[o.to_string()]);
        assert!(
            set | clear != 0 && prop == 0 && !bind && data.is_empty(),
            "{o}"
        );
    }
    for o in PROPAGATION_OPTIONS {
        let (_, _, prop, _, _, data) = parse_options(&[o.to_string()]);
        assert!(prop != 0 && data.is_empty(), "{o}");
    }
    for o in BIND_OPTIONS {
        let (_, _, _, bind, _, _) = parse_options(&[o.to_string()]);
        assert!(bind, "{o}");
    }
}

#[test]
fn landlock_needs_the_abi_of_its_newest_right() {
    let v = serde_json::json!({"ruleset": {
        "handledAccessFS": ["execute", "truncate"],
        "handledAccessNetwork": ["connect_tcp"]
    }});
    let r = landlock_requirements("process.landlock", &v);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].kind, "landlock.fs");
    assert_eq!(r[0].field, "process.landlock.ruleset.handledAccessFS");
    assert_eq!(r[0].mechanisms, vec!["landlock:fs:abi3"]);
    assert_eq!(r[1].mechanisms, vec!["landlock:net:abi4"]);
    let bad = serde_json::json!({"ruleset": {"handledAccessFS": ["teleport"]}});
    assert!(landlock_requirements("p", &bad)[0].unenforceable.is_some());
}

#[test]
fn landlock_in_a_config_is_a_requirement_not_an_ignored_property() {
    let l = load(EVERY_FIELD);
    let m = map(&l, &AdmitOptions::default());
    assert!(!m.ignored.iter().any(|u| u.starts_with("process.landlock")));
    let kinds: Vec<&str> = m
        .requirements
        .iter()
        .filter(|r| r.kind.starts_with("landlock."))
        .map(|r| r.kind.as_str())
        .collect();
    // The fixture's ruleset handles filesystem rights only.
    assert_eq!(kinds, vec!["landlock.fs"]);
}

#[test]
fn landlock_plan_maps_rights_to_landlock_bits() {
    let v = serde_json::json!({
        "ruleset": {
            "handledAccessFS": ["execute", "write_file", "make_reg", "truncate"],
            "handledAccessNetwork": ["connect_tcp"],
            "scoped": ["signal"]
        },
        "rules": {
            "pathBeneath": [{"allowedAccess": ["write_file", "make_reg"], "paths": ["/out"]}],
            "netPort": [{"allowedAccess": ["connect_tcp"], "ports": [8080]}]
        },
        "disableBestEffort": true
    });
    let p = landlock_plan("process.landlock", &v).unwrap();
    // execute = bit 0, write_file = 1, make_reg = 8, truncate = 14 (landlock's own numbering)
    assert_eq!(p.handled_fs, 1 | 1 << 1 | 1 << 8 | 1 << 14);
    assert_eq!(p.handled_net, 1 << 1);
    assert_eq!(p.scoped, 1 << 1);
    assert_eq!(p.abi, 6);
    assert_eq!(p.path_rules[0].path, "/out");
    assert_eq!(p.path_rules[0].access, 1 << 1 | 1 << 8);
    assert_eq!((p.net_rules[0].port, p.net_rules[0].access), (8080, 1 << 1));
}

#[test]
fn landlock_plan_names_the_field_it_cannot_take() {
    let cases = [
        (
            serde_json::json!({"ruleset": {"handledAccessFS": ["execute"]}, "rules": {"pathBeneath": [{"allowedAccess": ["write_file"], "paths": ["/x"]}]}}),
            "process.landlock.rules.pathBeneath[0].allowedAccess",
        ),
        (
            serde_json::json!({"ruleset": {"handledAccessFS": ["execute"]}, "rules": {"pathBeneath": [{"allowedAccess": ["execute"], "paths": ["rel"]}]}}),
            "process.landlock.rules.pathBeneath[0].paths[0]",
        ),
        (
            serde_json::json!({"ruleset": {"handledAccessNetwork": ["bind_tcp"]}, "rules": {"netPort": [{"allowedAccess": ["bind_tcp"], "ports": [70000]}]}}),
            "process.landlock.rules.netPort[0].ports[0]",
        ),
        (
            serde_json::json!({"ruleset": {"handledAccessFS": ["execute"]}, "disableBestEffort": false}),
            "process.landlock.disableBestEffort",
        ),
        (
            serde_json::json!({"ruleset": {"handledAccessFS": ["execute"]}, "rulez": {}}),
            "process.landlock.rulez",
        ),
        (
            serde_json::json!({"ruleset": {}}),
            "process.landlock.ruleset",
        ),
    ];
    for (v, field) in cases {
        let (f, why) = landlock_plan("process.landlock", &v).unwrap_err();
        assert_eq!(f, field, "{why}");
    }
}

fn leaf_paths(v: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(o) if !o.is_empty() => {
            for (k, x) in o {
                leaf_paths(x, &key_path(path, k), out);
            }
        }
        serde_json::Value::Array(a) if !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                leaf_paths(x, &index_path(path, i), out);
            }
        }
        _ => out.push(path.to_string()),
    }
}

/// A serde serializer that records the fields a struct skipped (`skip_serializing_if`).
mod recorder {
    use serde::ser::{self, Serialize};
    use std::cell::RefCell;

    type Error = serde_json::Error;

    /// Fields skipped wherever they occur: a field of array elements counts as set when any
    /// element sets it (`linux.namespaces[].path` is set on one namespace only).
    pub fn skipped_fields<T: Serialize>(v: &T) -> Vec<String> {
        let rec = Recorded::default();
        v.serialize(Rec {
            path: "",
            rec: &rec,
        })
        .expect("serializes");
        let strip = |p: &String| {
            let mut out = String::new();
            let mut depth = 0;
            for c in p.chars() {
                match c {
                    '[' => depth += 1,
                    ']' => depth -= 1,
                    _ if depth == 0 => out.push(c),
                    _ => {}
                }
            }
            out
        };
        let seen: Vec<String> = rec.seen.borrow().iter().map(strip).collect();
        let mut skipped: Vec<String> = rec
            .skipped
            .borrow()
            .iter()
            .map(strip)
            .filter(|s| !seen.contains(s))
            .collect();
        skipped.sort();
        skipped.dedup();
        skipped
    }

    #[derive(Default)]
    struct Recorded {
        seen: RefCell<Vec<String>>,
        skipped: RefCell<Vec<String>>,
    }

    #[derive(Clone, Copy)]
    struct Rec<'a> {
        path: &'a str,
        rec: &'a Recorded,
    }

    struct Compound<'a> {
        path: String,
        rec: &'a Recorded,
        index: usize,
        key: String,
    }

    impl<'a> Compound<'a> {
        fn new(r: Rec<'a>) -> Self {
            Compound {
                path: r.path.to_string(),
                rec: r.rec,
                index: 0,
                key: String::new(),
            }
        }

        fn element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), Error> {
            let p = format!("{}[{}]", self.path, self.index);
            self.index += 1;
            v.serialize(Rec {
                path: &p,
                rec: self.rec,
            })
        }

        fn path_of(&self, k: &str) -> String {
            if self.path.is_empty() {
                k.to_string()
            } else {
                format!("{}.{k}", self.path)
            }
        }

        fn field<T: ?Sized + Serialize>(&mut self, k: &str, v: &T) -> Result<(), Error> {
            let p = self.path_of(k);
            self.rec.seen.borrow_mut().push(p.clone());
            v.serialize(Rec {
                path: &p,
                rec: self.rec,
            })
        }

        fn skip(&mut self, k: &str) -> Result<(), Error> {
            let p = self.path_of(k);
            self.rec.skipped.borrow_mut().push(p);
            Ok(())
        }
    }

    macro_rules! leaf {
        ($($f:ident: $t:ty),*) => {
            $(fn $f(self, _: $t) -> Result<(), Error> { Ok(()) })*
        };
    }

    impl<'a> ser::Serializer for Rec<'a> {
        type Ok = ();
        type Error = Error;
        type SerializeSeq = Compound<'a>;
        type SerializeTuple = Compound<'a>;
        type SerializeTupleStruct = Compound<'a>;
        type SerializeTupleVariant = Compound<'a>;
        type SerializeMap = Compound<'a>;
        type SerializeStruct = Compound<'a>;
        type SerializeStructVariant = Compound<'a>;

        leaf!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
              serialize_i64: i64, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
              serialize_u64: u64, serialize_f32: f32, serialize_f64: f64, serialize_char: char,
              serialize_str: &str, serialize_bytes: &[u8], serialize_unit_struct: &'static str);

        fn serialize_none(self) -> Result<(), Error> {
            Ok(())
        }
        fn serialize_some<T: ?Sized + Serialize>(self, v: &T) -> Result<(), Error> {
            v.serialize(self)
        }
        fn serialize_unit(self) -> Result<(), Error> {
            Ok(())
        }
        fn serialize_unit_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
        ) -> Result<(), Error> {
            Ok(())
        }
        fn serialize_newtype_struct<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            v: &T,
        ) -> Result<(), Error> {
            v.serialize(self)
        }
        fn serialize_newtype_variant<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            v: &T,
        ) -> Result<(), Error> {
            v.serialize(self)
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a>, Error> {
            Ok(Compound::new(self))
        }
        fn serialize_tuple(self, _: usize) -> Result<Compound<'a>, Error> {
            Ok(Compound::new(self))
        }
        fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, Error> {
            Ok(Compound::new(self))
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Compound<'a>, Error> {
            Ok(Compound::new(self))
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a>, Error> {
            Ok(Compound::new(self))
        }
        fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, Error> {
            Ok(Compound::new(self))
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Compound<'a>, Error> {
            Ok(Compound::new(self))
        }
    }

    impl ser::SerializeSeq for Compound<'_> {
        type Ok = ();
        type Error = Error;
        fn serialize_element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), Error> {
            self.element(v)
        }
        fn end(self) -> Result<(), Error> {
            Ok(())
        }
    }
    impl ser::SerializeTuple for Compound<'_> {
        type Ok = ();
        type Error = Error;
        fn serialize_element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), Error> {
            self.element(v)
        }
        fn end(self) -> Result<(), Error> {
            Ok(())
        }
    }
    impl ser::SerializeTupleStruct for Compound<'_> {
        type Ok = ();
        type Error = Error;
        fn serialize_field<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), Error> {
            self.element(v)
        }
        fn end(self) -> Result<(), Error> {
            Ok(())
        }
    }
    impl ser::SerializeTupleVariant for Compound<'_> {
        type Ok = ();
        type Error = Error;
        fn serialize_field<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), Error> {
            self.element(v)
        }
        fn end(self) -> Result<(), Error> {
            Ok(())
        }
    }
    impl ser::SerializeMap for Compound<'_> {
        type Ok = ();
        type Error = Error;
        fn serialize_key<T: ?Sized + Serialize>(&mut self, k: &T) -> Result<(), Error> {
            self.key = match serde_json::to_value(k)? {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            Ok(())
        }
        fn serialize_value<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), Error> {
            let k = std::mem::take(&mut self.key);
            self.field(&k, v)
        }
        fn end(self) -> Result<(), Error> {
            Ok(())
        }
    }
    impl ser::SerializeStruct for Compound<'_> {
        type Ok = ();
        type Error = Error;
        fn serialize_field<T: ?Sized + Serialize>(
            &mut self,
            k: &'static str,
            v: &T,
        ) -> Result<(), Error> {
            self.field(k, v)
        }
        fn skip_field(&mut self, k: &'static str) -> Result<(), Error> {
            self.skip(k)
        }
        fn end(self) -> Result<(), Error> {
            Ok(())
        }
    }
    impl ser::SerializeStructVariant for Compound<'_> {
        type Ok = ();
        type Error = Error;
        fn serialize_field<T: ?Sized + Serialize>(
            &mut self,
            k: &'static str,
            v: &T,
        ) -> Result<(), Error> {
            self.field(k, v)
        }
        fn skip_field(&mut self, k: &'static str) -> Result<(), Error> {
            self.skip(k)
        }
        fn end(self) -> Result<(), Error> {
            Ok(())
        }
    }
}
