//! The planner over synthetic profiles: no landlock, landlock ABI 3, no user namespaces,
//! cgroup v1 only, v2 only, and hybrid like the development machine.

use super::*;
use crate::plan::profile::{synthetic, KernelVersion};
use crate::plan::requirement::{landlock_requirements, map};
use crate::plan::AdmitOptions;
use crate::spec::LoadedSpec;
use std::path::{Path, PathBuf};

const SAMPLE_BUNDLE: &str = include_str!("../../../../bundles/linux/config.json");
const DEFAULT_CONFIG: &str = include_str!("../../cli/default-config.json");

fn embedded() -> Ledger {
    Ledger::embedded().unwrap()
}

fn load(json: &str) -> LoadedSpec {
    crate::spec::parse(
        json.as_bytes(),
        PathBuf::from("/b"),
        Path::new("/b/config.json"),
    )
    .unwrap()
}

fn reqs(json: &str) -> Vec<Requirement> {
    map(&load(json), &AdmitOptions::default()).requirements
}

/// The sample bundle with `edit` applied to its JSON.
fn sample_with(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<Requirement> {
    let mut v: serde_json::Value = serde_json::from_str(SAMPLE_BUNDLE).unwrap();
    edit(&mut v);
    reqs(&v.to_string())
}

fn refusal_of(r: Result<BoundaryPlan, Refusal>) -> Refusal {
    match r {
        Ok(p) => panic!("admitted: {:#?}", p.mechanisms()),
        Err(e) => e,
    }
}

fn mechanisms_for<'a>(p: &'a BoundaryPlan, kind: &str) -> Vec<&'a str> {
    p.requirements
        .iter()
        .filter(|r| r.kind == kind)
        .flat_map(|r| r.mechanisms.iter().map(|m| m.mechanism.as_str()))
        .collect()
}

#[test]
fn sample_bundle_is_admitted_with_proven_rows_everywhere() {
    for (name, profile) in [
        ("hybrid", synthetic::hybrid()),
        ("v2 only", synthetic::v2_only()),
        ("v1 only", synthetic::v1_only()),
        ("no landlock", synthetic::no_landlock()),
        ("no user namespaces", synthetic::no_user_namespaces()),
    ] {
        let p = plan(&reqs(SAMPLE_BUNDLE), &embedded(), &profile)
            .unwrap_or_else(|e| panic!("{name}: refused: {e}"));
        for r in &p.requirements {
            assert!(
                !r.mechanisms.is_empty(),
                "{name}: {} has no mechanism",
                r.field
            );
            for m in &r.mechanisms {
                assert_eq!(m.status, Status::Proven, "{name}: {}", r.field);
                assert!(!m.proofs.is_empty(), "{name}: {}", r.field);
            }
        }
        assert!(p.uses("pivot_root") && p.uses("clone3:CLONE_NEWPID"));
    }
}

#[test]
fn placement_uses_every_mounted_hierarchy() {
    let e = embedded();
    let r = reqs(SAMPLE_BUNDLE);
    let hybrid = plan(&r, &e, &synthetic::hybrid()).unwrap();
    assert_eq!(
        mechanisms_for(&hybrid, "cgroup.placement"),
        vec!["cgroup-v1:tasks", "cgroup-v2:clone-into-cgroup"]
    );
    let v2 = plan(&r, &e, &synthetic::v2_only()).unwrap();
    assert_eq!(
        mechanisms_for(&v2, "cgroup.placement"),
        vec!["cgroup-v2:clone-into-cgroup"]
    );
    let v1 = plan(&r, &e, &synthetic::v1_only()).unwrap();
    assert_eq!(
        mechanisms_for(&v1, "cgroup.placement"),
        vec!["cgroup-v1:tasks"]
    );
    let none = Profile {
        cgroup: crate::plan::profile::CgroupProfile::none(),
        ..synthetic::v2_only()
    };
    let e = refusal_of(plan(&r, &embedded(), &none)).to_string();
    assert!(
        e.contains("linux.cgroupsPath: requirement cgroup.placement: no mechanism applies"),
        "{e}"
    );
}

#[test]
fn no_user_namespaces_refuses_a_user_namespace_only() {
    let rootless = sample_with(|v| {
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
        v["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        v["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
    });
    assert!(plan(&rootless, &embedded(), &synthetic::v2_only()).is_ok());
    let e = refusal_of(plan(
        &rootless,
        &embedded(),
        &synthetic::no_user_namespaces(),
    ));
    let fields: Vec<&str> = e.refused().iter().map(|r| r.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "linux.namespaces[6]",
            "linux.uidMappings",
            "linux.gidMappings"
        ]
    );
    assert!(e.to_string().contains(
        "linux.namespaces[6]: requirement namespace.user: no proven mechanism on this machine: clone3:CLONE_NEWUSER needs user namespaces, which this machine lacks"
    ));
}

#[test]
fn memory_swap_without_memsw_names_the_missing_files() {
    let r = sample_with(|v| {
        v["linux"]["resources"] = serde_json::json!({"memory": {"swap": 1048576}});
    });
    let mut no_memsw = synthetic::hybrid();
    no_memsw.cgroup.v1_memsw = false;
    let e = refusal_of(plan(&r, &embedded(), &no_memsw)).to_string();
    assert_eq!(
        e,
        "linux.resources.memory.swap: requirement cgroup.memory.swap: no proven mechanism on this machine: \
         cgroup-v1:memory.memsw.limit_in_bytes needs the memory.memsw.* files, which this kernel lacks; \
         cgroup-v2:memory.swap.max needs cgroup v2 with the memory controller, which this machine lacks"
    );
}

#[test]
fn unproven_knobs_and_lsms_are_refused_by_field_today() {
    let r = sample_with(|v| {
        v["linux"]["resources"] = serde_json::json!({"blockIO": {"weight": 10}});
        v["linux"]["seccomp"] =
            serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO", "listenerPath": "/run/l.sock"});
        v["process"]["apparmorProfile"] = serde_json::json!("docker-default");
    });
    let e = refusal_of(plan(&r, &embedded(), &synthetic::hybrid()));
    let fields: Vec<&str> = e.refused().iter().map(|r| r.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "process.apparmorProfile",
            "linux.resources.blockIO.weight",
            "linux.seccomp.listenerPath"
        ]
    );
    let s = e.to_string();
    assert!(s.contains("cgroup-v1:blkio.weight is fail_closed"), "{s}");
    assert!(
        s.contains("apparmor:exec-profile needs AppArmor, which this machine lacks"),
        "{s}"
    );
}

/// runc's default config (and every runtime-tools validation config) carries a deny-all
/// device rule: the v1 device cgroup where there is one, an eBPF device program on pure v2.
#[test]
fn default_config_device_rules_on_v1_and_v2() {
    let p = plan(&reqs(DEFAULT_CONFIG), &embedded(), &synthetic::hybrid()).unwrap();
    assert_eq!(
        mechanisms_for(&p, "cgroup.devices"),
        vec!["cgroup-v1:devices.allow"]
    );
    assert!(plan(&reqs(DEFAULT_CONFIG), &embedded(), &synthetic::v1_only()).is_ok());
    let p = plan(&reqs(DEFAULT_CONFIG), &embedded(), &synthetic::v2_only()).unwrap();
    assert_eq!(
        mechanisms_for(&p, "cgroup.devices"),
        vec!["cgroup-v2:devices.bpf"]
    );
}

#[test]
fn old_kernels_fail_the_floors_they_miss() {
    let old = Profile {
        kernel: KernelVersion::new(5, 4, 0),
        ..synthetic::v1_only()
    };
    let e = refusal_of(plan(&reqs(SAMPLE_BUNDLE), &embedded(), &old)).to_string();
    assert!(
        e.contains("root.path: requirement rootfs.pivot_root: no proven mechanism on this machine: pivot_root needs kernel ≥ 5.6, this machine runs 5.4.0"),
        "{e}"
    );
}

#[test]
fn unenforceable_requirements_are_refused_whole() {
    let r = sample_with(|v| {
        v["linux"]["sysctl"] = serde_json::json!({"vm.overcommit_memory": "1"});
    });
    let e = refusal_of(plan(&r, &embedded(), &synthetic::hybrid()));
    assert_eq!(e.refused().len(), 1);
    assert_eq!(
        e.to_string(),
        "linux.sysctl[\"vm.overcommit_memory\"]: requirement sysctl: no mechanism can enforce it: it is not namespaced: writing it would change the host"
    );
}

#[test]
fn strict_refuses_unknown_properties_by_path() {
    let mut v: serde_json::Value = serde_json::from_str(SAMPLE_BUNDLE).unwrap();
    v["linux"]["frobnicate"] = serde_json::json!(true);
    let l = load(&v.to_string());
    let lax = map(&l, &AdmitOptions::default());
    assert_eq!(lax.ignored, vec!["linux.frobnicate"]);
    assert!(plan(&lax.requirements, &embedded(), &synthetic::hybrid()).is_ok());
    let strict = map(
        &l,
        &AdmitOptions {
            strict: true,
            ..AdmitOptions::default()
        },
    );
    let e = refusal_of(plan(
        &strict.requirements,
        &embedded(),
        &synthetic::hybrid(),
    ));
    assert_eq!(e.refused()[0].field, "linux.frobnicate");
    assert_eq!(e.refused()[0].kind, "config.unknown_property");
}

// ---- a ledger of our own, where the not-yet-built mechanisms are proven ----

fn test_ledger() -> Ledger {
    Ledger::parse(
        r#"
[[row]]
kind = "landlock.fs"
mechanism = "landlock:fs:abi1"
floor = { landlock_abi = 1 }
status = "proven"
proofs = ["tests/landlock.rs::fs_abi1"]
[[row]]
kind = "landlock.fs"
mechanism = "landlock:fs:abi3"
floor = { landlock_abi = 3 }
status = "proven"
proofs = ["tests/landlock.rs::fs_abi3"]
[[row]]
kind = "landlock.net"
mechanism = "landlock:net:abi4"
floor = { landlock_abi = 4 }
status = "proven"
proofs = ["tests/landlock.rs::net"]
[[row]]
kind = "cgroup.memory.limit"
mechanism = "cgroup-v1:memory.limit_in_bytes"
floor = { cgroup_v1 = ["memory"] }
status = "proven"
proofs = ["tests/cgroups.rs::memory_v1"]
[[row]]
kind = "cgroup.memory.limit"
mechanism = "cgroup-v2:memory.max"
floor = { cgroup_v2 = ["memory"] }
status = "proven"
proofs = ["tests/cgroups.rs::memory_v2"]
[[row]]
kind = "cgroup.placement"
mechanism = "cgroup-v1:tasks"
floor = { cgroup_v1 = [] }
status = "proven"
proofs = ["tests/cgroups.rs::placed"]
[[row]]
kind = "cgroup.placement"
mechanism = "cgroup-v2:clone-into-cgroup"
floor = { cgroup_v2 = [] }
status = "incomplete"
"#,
    )
    .unwrap()
}

fn landlock(rights: &[&str], key: &str) -> Vec<Requirement> {
    landlock_requirements(
        "process.landlock",
        &serde_json::json!({"ruleset": {key: rights}}),
    )
}

#[test]
fn landlock_admission_follows_the_kernel_abi() {
    let l = test_ledger();
    let fs1 = landlock(&["execute", "read_file"], "handledAccessFS");
    let fs3 = landlock(&["execute", "truncate"], "handledAccessFS");
    let net = landlock(&["connect_tcp"], "handledAccessNetwork");

    let e = refusal_of(plan(&fs1, &l, &synthetic::no_landlock())).to_string();
    assert!(
        e.ends_with("landlock:fs:abi1 needs landlock ABI ≥ 1, this kernel has no landlock"),
        "{e}"
    );

    let abi3 = synthetic::landlock_abi3();
    assert_eq!(
        plan(&fs1, &l, &abi3).unwrap().mechanisms(),
        vec!["landlock:fs:abi1"]
    );
    assert_eq!(
        plan(&fs3, &l, &abi3).unwrap().mechanisms(),
        vec!["landlock:fs:abi3"]
    );
    let e = refusal_of(plan(&net, &l, &abi3)).to_string();
    assert_eq!(
        e,
        "process.landlock.ruleset.handledAccessNetwork: requirement landlock.net: no proven mechanism on this machine: landlock:net:abi4 needs landlock ABI ≥ 4, this kernel has 3"
    );
    assert!(
        plan(&net, &l, &synthetic::v2_only()).is_ok(),
        "ABI 4 machine"
    );
    // the embedded ledger proves process.landlock's rows: admitted where the ABI holds
    assert_eq!(
        plan(&fs1, &embedded(), &synthetic::v2_only())
            .unwrap()
            .mechanisms(),
        vec!["landlock:fs:abi1"]
    );
}

#[test]
fn a_knob_takes_the_hierarchy_that_holds_its_controller() {
    let l = test_ledger();
    let mem = sample_with(|v| {
        v["linux"]["resources"] = serde_json::json!({"memory": {"limit": 1 << 26}});
    });
    let mem: Vec<Requirement> = mem
        .into_iter()
        .filter(|r| r.kind == "cgroup.memory.limit")
        .collect();
    assert_eq!(
        plan(&mem, &l, &synthetic::hybrid()).unwrap().mechanisms(),
        vec!["cgroup-v1:memory.limit_in_bytes"]
    );
    assert_eq!(
        plan(&mem, &l, &synthetic::v1_only()).unwrap().mechanisms(),
        vec!["cgroup-v1:memory.limit_in_bytes"]
    );
    assert_eq!(
        plan(&mem, &l, &synthetic::v2_only()).unwrap().mechanisms(),
        vec!["cgroup-v2:memory.max"]
    );
}

#[test]
fn each_scope_needs_every_applicable_mechanism_proven() {
    let l = test_ledger();
    let placement: Vec<Requirement> = reqs(SAMPLE_BUNDLE)
        .into_iter()
        .filter(|r| r.kind == "cgroup.placement")
        .collect();
    assert_eq!(
        plan(&placement, &l, &synthetic::v1_only())
            .unwrap()
            .mechanisms(),
        vec!["cgroup-v1:tasks"],
        "v2 does not apply on a v1-only machine"
    );
    let e = refusal_of(plan(&placement, &l, &synthetic::hybrid())).to_string();
    assert!(
        e.contains("a mechanism that applies on this machine is not proven: cgroup-v2:clone-into-cgroup is incomplete"),
        "{e}"
    );
}

#[test]
fn a_candidate_without_a_row_is_named() {
    let r = sample_with(|v| {
        v["mounts"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"destination": "/x", "type": "overlay", "source": "overlay"}));
    });
    let e = refusal_of(plan(&r, &embedded(), &synthetic::hybrid())).to_string();
    assert_eq!(
        e,
        "mounts[7]: requirement mount.overlay: no proven mechanism on this machine: mount:overlay has no ledger row"
    );
}

#[test]
fn evaluate_keeps_every_decision() {
    let r = sample_with(|v| {
        v["linux"]["resources"] = serde_json::json!({"blockIO": {"weight": 10}});
    });
    let d = evaluate(&r, &embedded(), &synthetic::hybrid());
    assert_eq!(d.len(), r.len());
    let refused: Vec<&Decision> = d.iter().filter(|d| !d.admitted()).collect();
    assert_eq!(refused.len(), 1);
    assert!(d
        .iter()
        .filter(|d| d.admitted())
        .all(|d| d.candidates.iter().any(|c| c.chosen)));
}

/// On a pure cgroup v2 machine every resource knob bvisor writes is admitted through its v2
/// file (proven in the pure-v2 guest, tests/cgroup2_vm.rs); on the hybrid machine the same
/// config takes the v1 files, and the v2-only ones (unified) are refused by field.
#[test]
fn pure_v2_admits_the_v2_knobs() {
    let r = sample_with(|v| {
        v["linux"]["resources"] = serde_json::json!({
            "memory": {"limit": 16777216, "swap": 16777216, "reservation": 8388608},
            "pids": {"limit": 4},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 20000,
                    "idle": 1, "cpus": "0", "mems": "0"},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
            "unified": {"memory.high": "33554432"}});
    });
    let p = plan(&r, &embedded(), &synthetic::v2_only()).unwrap();
    for (kind, mech) in [
        ("cgroup.memory.limit", "cgroup-v2:memory.max"),
        ("cgroup.memory.swap", "cgroup-v2:memory.swap.max"),
        ("cgroup.memory.reservation", "cgroup-v2:memory.low"),
        ("cgroup.pids.limit", "cgroup-v2:pids.max"),
        ("cgroup.cpu.shares", "cgroup-v2:cpu.weight"),
        ("cgroup.cpu.quota", "cgroup-v2:cpu.max"),
        ("cgroup.cpu.burst", "cgroup-v2:cpu.max.burst"),
        ("cgroup.cpu.idle", "cgroup-v2:cpu.idle"),
        ("cgroup.cpuset.cpus", "cgroup-v2:cpuset.cpus"),
        ("cgroup.hugetlb.limit", "cgroup-v2:hugetlb.max"),
        ("cgroup.unified", "cgroup-v2:unified:memory"),
    ] {
        assert_eq!(mechanisms_for(&p, kind), vec![mech], "{kind}");
    }
    let e = refusal_of(plan(&r, &embedded(), &synthetic::hybrid()));
    let fields: Vec<&str> = e.refused().iter().map(|r| r.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "linux.resources.hugepageLimits[0]",
            "linux.resources.unified[\"memory.high\"]"
        ]
    );
}
