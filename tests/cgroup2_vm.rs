//! The cgroup v2 knobs on a pure cgroup v2 machine. This host's cgroup2 hierarchy holds only
//! hugetlb (every other controller is bound to v1), so the v2 rows of the ledger are proven in a
//! guest: integration/cgroup2-vm.sh boots Debian 12's own kernel under qemu with only cgroup2
//! mounted and every controller enabled, runs bvisor there, and the guest grades each case from
//! ground truth (the container's cgroup v2 files, /proc of its processes, the fate of a memory
//! hog or a fork loop, each deny with its control). This test demands every case by name, so a
//! case that silently stops running fails here.

use bvisor_tests::*;

const CASES: &[&str] = &[
    "v2-memory-kills",
    "v2-memory-control",
    "v2-memory.max",
    "v2-memory.low",
    "v2-memory.swap.max",
    "v2-pids-limit",
    "v2-pids-control",
    "v2-pids.max",
    "v2-cpu.weight",
    "v2-cpu.max",
    "v2-cpu.max.burst",
    "v2-cpuset.cpus",
    "v2-cpuset.mems",
    "v2-cpus-allowed",
    "v2-unified-memory.high",
    "v2-cpu.idle",
    "v2-hugetlb.2MB.max",
    "v2-devices-deny",
    "v2-devices-standard",
    "v2-devices-control",
    "v2-freeze-events",
    "v2-frozen-still",
    "v2-resumed-moves",
    "v2-kill-control",
    "v2-kill-all",
    "v2-cleanup",
];

#[test]
fn pure_cgroup_v2_machine_enforces_resources() {
    if !require_root() || !require_tool("qemu-system-x86_64") {
        return;
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/cgroup2-vm.sh");
    let out = std::process::Command::new(&script)
        .output()
        .expect("run integration/cgroup2-vm.sh");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let missing: Vec<&&str> = CASES
        .iter()
        .filter(|c| !text.lines().any(|l| l == format!("BVT PASS {c}")))
        .collect();
    assert!(
        out.status.success() && missing.is_empty(),
        "not passed in the guest: {missing:?}\n{text}"
    );
}
