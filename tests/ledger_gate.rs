//! The boundary plan and the ledger gate, driven through the built binaries.
//!
//! `bvisor plan` on the sample bundle, a refused `create` that leaves nothing behind (graded by
//! the state directory and the cgroup filesystem, not by bvisor's word), and the gate binary
//! refusing a planted bad ledger. The gate's checks themselves are unit-tested in
//! `runtime/src/plan/gate`; here the binary's exit codes and messages are graded.

use bvisor_tests::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bin(name: &str) -> PathBuf {
    bvisor_bin().with_file_name(name)
}

/// Every requirement of a `plan --format json` has a chosen mechanism, each proven and citing
/// its proofs.
#[track_caller]
fn every_requirement_proven(reqs: &[Value]) {
    for r in reqs {
        let chosen: Vec<&Value> = r["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["chosen"] == true)
            .collect();
        assert!(!chosen.is_empty(), "{} has no mechanism", r["field"]);
        for c in chosen {
            assert_eq!(c["status"], "proven", "{}", r["field"]);
            assert!(
                !c["proofs"].as_array().unwrap().is_empty(),
                "{} cites no proof",
                r["field"]
            );
        }
    }
}

fn run(prog: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(prog)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", prog.display()));
    (
        exit_code(out.status),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `bvisor plan --bundle DIR --format json`: exit code, stdout, stderr.
fn plan_json(bundle: &Path) -> (i32, String, String) {
    let dir = bundle.to_str().unwrap();
    run(
        &bvisor_bin(),
        &["plan", "--bundle", dir, "--format", "json"],
    )
}

/// Every requirement of the sample bundle has a mechanism whose ledger row is proven and cites
/// its tests. Needs no root: `plan` creates nothing.
#[test]
fn plan_of_the_sample_bundle_lists_every_requirement_proven() {
    let bundle = repo().join("bundles/linux");
    let (code, stdout, stderr) = plan_json(&bundle);
    let plan: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("plan --format json: {e}\n{stdout}\n{stderr}"));
    assert_eq!(code, 0, "refused: {}", plan["refusal"]);
    assert_eq!(plan["admitted"], true);
    let reqs = plan["requirements"].as_array().expect("requirements");
    assert!(reqs.len() > 20, "{} requirements", reqs.len());
    every_requirement_proven(reqs);
    // The table names the same fields.
    let (code, table, _) = run(
        &bvisor_bin(),
        &["plan", "--bundle", bundle.to_str().unwrap()],
    );
    assert_eq!(code, 0);
    for field in [
        "root.path",
        "linux.namespaces[0]",
        "process.rlimits[0]",
        "linux.cgroupsPath",
    ] {
        assert!(table.contains(field), "{field} missing:\n{table}");
    }
    assert!(table.contains("verdict: admitted"), "{table}");
}

/// A refused container exits non-zero naming the field, the requirement and the reason, and
/// leaves no state directory and no cgroup. Control: the same bundle without the refused field
/// is created.
#[test]
fn refused_create_leaves_nothing_behind() {
    if !require_root() {
        return;
    }
    let h = Harness::new("refused_create_leaves_nothing");
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    b.linux()["personality"] = serde_json::json!({"domain": "LINUX"});
    let id = h.id("refused");
    let out = h.create(&b, &id, &[]);
    assert_ne!(out.code, 0, "{out}");
    assert!(
        out.stderr
            .contains("linux.personality: requirement personality: no proven mechanism"),
        "{out}"
    );
    assert!(!h.state_dir(&id).exists(), "state dir left behind");
    assert_eq!(existing_container_cgroups(&id), Vec::<PathBuf>::new());

    // --strict refuses an unknown property the same way
    let mut s = h.bundle();
    s.linux()["frobnicate"] = serde_json::json!(1);
    s.save();
    let sid = h.id("strict");
    let strict = h.run(&[
        "--strict",
        "create",
        "--bundle",
        s.dir.to_str().unwrap(),
        &sid,
    ]);
    assert_ne!(strict.code, 0, "{strict}");
    assert!(
        strict
            .stderr
            .contains("linux.frobnicate: requirement config.unknown_property"),
        "{strict}"
    );
    assert!(!h.state_dir(&sid).exists(), "strict create left state");
    assert_eq!(existing_container_cgroups(&sid), Vec::<PathBuf>::new());

    // Control: without the personality the container is created.
    b.linux().as_object_mut().unwrap().remove("personality");
    let ok_id = h.id("control");
    h.create(&b, &ok_id, &[]).expect_ok();
    assert!(h.state_dir(&ok_id).exists());
    assert!(!existing_container_cgroups(&ok_id).is_empty());
}

/// The gate binary: exit 0 for a proof that passed in the report, 1 naming the row for a
/// planted ledger citing a test that does not exist, and 1 for an applied mechanism without a
/// row.
#[test]
fn gate_binary_refuses_a_planted_ledger() {
    let gate = bin("bvisor-ledger-gate");
    assert!(
        gate.is_file(),
        "{} missing: cargo build --workspace",
        gate.display()
    );
    let dir = scratch_base().join(format!("ledger-gate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let junit = write(
        "junit.xml",
        r#"<testsuites><testsuite name="bvisor-tests::ledger_gate">
             <testcase name="gate_binary_refuses_a_planted_ledger"/>
           </testsuite></testsuites>"#,
    );
    let mechanisms = write("mechanisms.txt", "clone3:CLONE_NEWPID\n");
    let ledger = |proof: &str| {
        format!(
            "[[row]]\nkind = \"namespace.pid\"\nmechanism = \"clone3:CLONE_NEWPID\"\nstatus = \"proven\"\nproofs = [\"{proof}\"]\n"
        )
    };
    let root = repo();
    let args = |ledger: &str, mechanisms: &str| -> Vec<String> {
        [
            "--ledger",
            ledger,
            "--junit",
            &junit,
            "--root",
            root.to_str().unwrap(),
            "--launcher-mechanisms",
            mechanisms,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let call = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        run(&gate, &a)
    };

    let good = write(
        "good.toml",
        &ledger("tests/ledger_gate.rs::gate_binary_refuses_a_planted_ledger"),
    );
    let (code, stdout, stderr) = call(args(&good, &mechanisms));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("ledger gate: ok"), "{stdout}");

    let bad = write("bad.toml", &ledger("tests/ledger_gate.rs::no_such_test"));
    let (code, _, stderr) = call(args(&bad, &mechanisms));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "proven row namespace.pid / clone3:CLONE_NEWPID: proof tests/ledger_gate.rs::no_such_test does not exist"
        ),
        "{stderr}"
    );

    let extra = write("more.txt", "clone3:CLONE_NEWPID\nclone3:CLONE_NEWTIME\n");
    let (code, _, stderr) = call(args(&good, &extra));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("mechanism clone3:CLONE_NEWTIME can be applied but has no ledger row"),
        "{stderr}"
    );

    let (code, _, stderr) = call(args(&write("broken.toml", "[[row]]\n"), &mechanisms));
    assert_eq!(code, 2, "an unreadable ledger is a usage error: {stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 5's bundle that asks for every confinement at once — seccomp with argument rules,
/// exact capabilities, no_new_privs, a process.landlock ruleset (filesystem, network, scope),
/// a user namespace with two id ranges, every namespace, masked and read-only paths, sysctl,
/// and every linux.resources knob this machine's hierarchies hold (memory, cpu, cpuset, pids,
/// blkio throttles, devices) — is admitted here with a proven row for every requirement.
#[test]
fn plan_of_a_bundle_asking_for_everything_is_proven_here() {
    let dir = std::env::temp_dir().join(format!("bvt-everything-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cfg: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("bundles/linux/config.json")).unwrap(),
    )
    .unwrap();
    cfg["root"]["path"] = serde_json::json!(repo().join("bundles/linux/rootfs"));
    cfg["process"]["noNewPrivileges"] = serde_json::json!(true);
    cfg["process"]["capabilities"] = serde_json::json!({
        "bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_CHOWN"],
        "permitted": ["CAP_CHOWN", "CAP_KILL"], "inheritable": [], "ambient": []});
    cfg["process"]["landlock"] = serde_json::json!({
        "ruleset": {"handledAccessFS": ["write_file", "read_file", "read_dir", "execute"],
                    "handledAccessNetwork": ["connect_tcp"], "scoped": ["signal"]},
        "rules": {"pathBeneath": [{"allowedAccess": ["read_file", "read_dir", "execute"], "paths": ["/"]},
                                  {"allowedAccess": ["write_file"], "paths": ["/tmp"]}],
                  "netPort": [{"allowedAccess": ["connect_tcp"], "ports": [443]}]},
        "disableBestEffort": true});
    cfg["process"]["rlimits"] =
        serde_json::json!([{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]);
    cfg["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}, {"type": "network"},
        {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}, {"type": "user"}]);
    let maps = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 1000},
                                  {"containerID": 1000, "hostID": 200000, "size": 1000}]);
    cfg["linux"]["uidMappings"] = maps.clone();
    cfg["linux"]["gidMappings"] = maps;
    cfg["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "0"});
    cfg["linux"]["seccomp"] = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                      "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_NE"}]}]});
    cfg["linux"]["resources"] = serde_json::json!({
        "devices": [{"allow": false, "access": "rwm"}],
        "memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728,
                   "swappiness": 10, "disableOOMKiller": false, "kernelTCP": 1048576},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 10000, "idle": 0,
                "cpus": "0", "mems": "0"},
        "pids": {"limit": 100},
        "blockIO": {"throttleReadBpsDevice": [{"major": 254, "minor": 0, "rate": 1048576}],
                    "throttleWriteIOPSDevice": [{"major": 254, "minor": 0, "rate": 100}]}});
    std::fs::write(dir.join("config.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
    let (code, stdout, stderr) = plan_json(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let plan: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("plan --format json: {e}\n{stdout}\n{stderr}"));
    assert_eq!(code, 0, "refused: {}", plan["refusal"]);
    let reqs = plan["requirements"].as_array().expect("requirements");
    let fields: Vec<&str> = reqs.iter().filter_map(|r| r["field"].as_str()).collect();
    for want in [
        "linux.seccomp",
        "process.landlock",
        "linux.uidMappings",
        "linux.resources.blockIO.throttleReadBpsDevice[0]",
        "linux.resources.cpu.idle",
        "linux.resources.devices",
    ] {
        assert!(
            fields.iter().any(|f| f.starts_with(want)),
            "no requirement for {want}: {fields:?}"
        );
    }
    every_requirement_proven(reqs);
}
