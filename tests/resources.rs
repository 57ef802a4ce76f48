//! `linux.resources`, graded by the kernel: the cgroup files of the container's own cgroup read
//! from the host, and the effect on the workload (a fork refused, an allocation killed, a
//! device open refused, the cpus a process may run on). Each deny has its control: the same
//! workload without the knob.

use bvisor_tests::*;
use serde_json::json;
use std::fs;
use std::path::PathBuf;

/// The container's cgroup directory in the v1 hierarchy holding `controller`, if this machine
/// has one (else the test is skipped with a reason, or fails under BVISOR_REQUIRE_KERNEL=1).
fn v1_dir(controller: &str, id: &str) -> Option<PathBuf> {
    cgroup_hierarchies()
        .into_iter()
        .find(|h| !h.v2 && h.controllers.iter().any(|c| c == controller))
        .map(|h| h.container_dir(id))
}

fn has_v1(controller: &str) -> bool {
    cgroup_hierarchies()
        .iter()
        .any(|h| !h.v2 && h.controllers.iter().any(|c| c == controller))
}

fn read(p: PathBuf) -> String {
    fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

/// The default capabilities lack CAP_MKNOD; the device test creates its node inside.
fn with_mknod(b: &mut Bundle) {
    let caps = json!(["CAP_MKNOD", "CAP_DAC_OVERRIDE"]);
    for set in ["bounding", "effective", "permitted"] {
        b.process()["capabilities"][set] = caps.clone();
    }
}

#[test]
fn devices_cgroup_denies_unlisted_device() {
    if !require_root() {
        return;
    }
    if !has_v1("devices") && !skip("no cgroup v1 devices hierarchy") {
        return;
    }
    let h = Harness::new("devices_cgroup_denies_unlisted_device");
    // /dev/kmsg (c 1:11) is readable by root but not among the standard devices: recreated
    // inside, opening it must be refused by the device cgroup, while /dev/null stays usable.
    // Opened for writing: that needs no capability, only the device cgroup's consent.
    let script = "mknod /dev/kmsg2 c 1 11 && ( (: > /dev/kmsg2) 2>/dev/null && echo kmsg-open || echo kmsg-denied); echo x > /dev/null && echo null-ok";
    let mut b = h.bundle();
    b.sh(script);
    with_mknod(&mut b);
    b.linux()["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    let out = h.output_of(&b, "deny");
    assert!(
        out.contains("kmsg-denied"),
        "device cgroup let it open: {out}"
    );
    assert!(out.contains("null-ok"), "standard device refused: {out}");

    // The cgroup file says so too, read from the host while a container lives.
    let mut live = h.bundle();
    live.args(&["sleep", "100"]);
    live.linux()["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    let c = h.start(&live, "live");
    let list = read(v1_dir("devices", &c.id).unwrap().join("devices.list"));
    assert!(
        !list.contains("a *:* rwm"),
        "still allows everything: {list}"
    );
    assert!(list.contains("c 1:3 rwm"), "no /dev/null rule: {list}");

    // Control: without device rules the same open works.
    let mut ctl = h.bundle();
    ctl.sh(script);
    with_mknod(&mut ctl);
    if let Some(r) = ctl.linux().as_object_mut() {
        r.remove("resources");
    }
    let out = h.output_of(&ctl, "control");
    assert!(
        out.contains("kmsg-open"),
        "control could not open /dev/kmsg2: {out}"
    );
}

#[test]
fn pids_limit_caps_forks() {
    if !require_root() {
        return;
    }
    if !has_v1("pids") && !skip("no cgroup v1 pids hierarchy") {
        return;
    }
    let h = Harness::new("pids_limit_caps_forks");
    // A failed fork ends busybox sh ("can't fork"), so reaching the echo means 10 forks worked.
    let script = "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done; echo forked-10";
    let mut b = h.bundle();
    b.sh(script);
    b.linux()["resources"] = json!({"pids": {"limit": 4}});
    let out = h.run_container(&b, "limited");
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("can't fork") && !text.contains("forked-10"),
        "10 forks under pids.max 4 all worked: {text}"
    );

    let mut live = h.bundle();
    live.args(&["sleep", "100"]);
    live.linux()["resources"] = json!({"pids": {"limit": 4}});
    let c = h.start(&live, "live");
    assert_eq!(read(v1_dir("pids", &c.id).unwrap().join("pids.max")), "4");

    let mut ctl = h.bundle();
    ctl.sh(script);
    let out = h.output_of(&ctl, "control");
    assert!(
        out.contains("forked-10"),
        "control could not start 10 processes: {out}"
    );
}

#[test]
fn cpu_knobs_reach_cgroup_files() {
    if !require_root() {
        return;
    }
    if !has_v1("cpu") && !skip("no cgroup v1 cpu hierarchy") {
        return;
    }
    let h = Harness::new("cpu_knobs_reach_cgroup_files");
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    b.linux()["resources"] = json!({"cpu": {"shares": 512, "quota": 20000, "period": 50000}});
    let c = h.start(&b, "cpu");
    let dir = v1_dir("cpu", &c.id).unwrap();
    assert_eq!(read(dir.join("cpu.shares")), "512");
    assert_eq!(read(dir.join("cpu.cfs_quota_us")), "20000");
    assert_eq!(read(dir.join("cpu.cfs_period_us")), "50000");
    // Control: a container without the knobs keeps the kernel defaults.
    let mut ctl = h.bundle();
    ctl.args(&["sleep", "100"]);
    let c2 = h.start(&ctl, "control");
    let dir2 = v1_dir("cpu", &c2.id).unwrap();
    assert_eq!(read(dir2.join("cpu.shares")), "1024");
    assert_eq!(read(dir2.join("cpu.cfs_quota_us")), "-1");
}

#[test]
fn cpuset_restricts_cpus() {
    if !require_root() {
        return;
    }
    if !has_v1("cpuset") && !skip("no cgroup v1 cpuset hierarchy") {
        return;
    }
    let h = Harness::new("cpuset_restricts_cpus");
    let script = "grep Cpus_allowed_list /proc/self/status";
    let mut b = h.bundle();
    b.sh(script);
    b.linux()["resources"] = json!({"cpu": {"cpus": "0", "mems": "0"}});
    let out = h.output_of(&b, "pinned");
    assert!(out.trim().ends_with("\t0"), "not pinned to cpu 0: {out:?}");
    let mut ctl = h.bundle();
    ctl.sh(script);
    let out = h.output_of(&ctl, "control");
    let all = read(PathBuf::from("/proc/self/status"))
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list"))
        .unwrap()
        .to_string();
    assert_eq!(out.trim(), all.trim(), "control differs from the host");
}

#[test]
fn memory_limit_kills_over_allocation() {
    if !require_root() {
        return;
    }
    if !has_v1("memory") && !skip("no cgroup v1 memory hierarchy") {
        return;
    }
    let h = Harness::new("memory_limit_kills_over_allocation");
    // dd holds a 64 MiB buffer: over a 16 MiB limit (+16 MiB swap) the kernel kills it.
    let script = "dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo dd-exit=$?";
    let limit = 16 * 1024 * 1024;
    let mut b = h.bundle();
    b.sh(script);
    b.linux()["resources"] = json!({"memory": {"limit": limit, "swap": 2 * limit, "reservation": limit / 2, "swappiness": 0}});
    let out = h.output_of(&b, "limited");
    assert!(
        out.contains("dd-exit=137"),
        "64 MiB allocation under a 16 MiB limit was not killed: {out}"
    );

    let mut live = h.bundle();
    live.args(&["sleep", "100"]);
    live.linux()["resources"] = json!({"memory": {"limit": limit, "swap": 2 * limit, "reservation": limit / 2, "swappiness": 0}});
    let c = h.start(&live, "live");
    let dir = v1_dir("memory", &c.id).unwrap();
    assert_eq!(read(dir.join("memory.limit_in_bytes")), limit.to_string());
    assert_eq!(
        read(dir.join("memory.memsw.limit_in_bytes")),
        (2 * limit).to_string()
    );
    assert_eq!(
        read(dir.join("memory.soft_limit_in_bytes")),
        (limit / 2).to_string()
    );
    assert_eq!(read(dir.join("memory.swappiness")), "0");

    let mut ctl = h.bundle();
    ctl.sh(script);
    let out = h.output_of(&ctl, "control");
    assert!(
        out.contains("dd-exit=0"),
        "control allocation failed: {out}"
    );
}
