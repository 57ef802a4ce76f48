//! Cgroups, graded by the cgroup filesystem and /proc/<pid>/cgroup: where the container is
//! placed in every hierarchy, that the directories go away with it, and that the freezer stops
//! the container's work (a counter it writes to disk stops advancing).

use bvisor_tests::*;
use serde_json::json;
use std::fs;
use std::time::Duration;

#[test]
fn container_placed_in_own_cgroups() {
    if !require_root() {
        return;
    }
    let h = Harness::new("container_placed_in_own_cgroups");
    let hier = cgroup_hierarchies();
    assert!(!hier.is_empty(), "no cgroup hierarchy mounted");
    let my_cgroups_before = proc_cgroup("self");

    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    let c = h.start(&b, "placed");
    let lines = proc_cgroup(&c.pid.to_string());
    for hh in &hier {
        let (_, _, path) = lines
            .iter()
            .find(|(_, k, _)| *k == hh.key)
            .unwrap_or_else(|| panic!("{}: no line in /proc/{}/cgroup", hh.name(), c.pid));
        assert_eq!(
            *path,
            hh.container_path(&c.id),
            "{}: not under the caller's own cgroup {}",
            hh.name(),
            hh.own
        );
        let dir = hh.container_dir(&c.id);
        assert!(dir.starts_with(hh.own_dir()));
        assert!(
            cgroup_procs(&dir).contains(&c.pid),
            "{}: {} does not list {}",
            hh.name(),
            dir.display(),
            c.pid
        );
    }
    // The runtime did not move us (the caller).
    assert_eq!(proc_cgroup("self"), my_cgroups_before);

    h.run(&["delete", "--force", &c.id]).expect_ok();
    for hh in &hier {
        let dir = hh.container_dir(&c.id);
        assert!(
            !dir.exists(),
            "{}: {} survives delete",
            hh.name(),
            dir.display()
        );
    }
    assert!(processes_of_container(&c.id).is_empty());
}

/// cgroup v2: `frozen 1` in the container's cgroup.events.
fn v2_frozen(id: &str) -> bool {
    cgroup_hierarchies().iter().filter(|h| h.v2).any(|h| {
        fs::read_to_string(h.container_dir(id).join("cgroup.events"))
            .unwrap_or_default()
            .lines()
            .any(|l| l.trim() == "frozen 1")
    })
}

/// The counter the workload writes, read from the rootfs on disk.
fn count(path: &std::path::Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Wait until the counter moves past `from`.
fn advances(path: &std::path::Path, from: u64) -> u64 {
    poll("the counter to advance", POLL_TIMEOUT, || {
        count(path).filter(|n| *n > from)
    })
}

#[test]
fn pause_resume_freezes() {
    if !require_root() || !require_kernel("freezer") {
        return;
    }
    let h = Harness::new("pause_resume_freezes");
    let mut b = h.bundle();
    b.config["root"]["readonly"] = json!(false);
    b.sh("i=0; while :; do i=$((i+1)); echo $i > /count.tmp; mv /count.tmp /count; usleep 5000; done");
    let c = h.start(&b, "freeze");
    let counter = b.host_path("/count");
    let freezer = cgroup_hierarchies()
        .into_iter()
        .find(|hh| hh.controllers.iter().any(|x| x == "freezer"));

    // Control: running, the counter advances.
    let n0 = advances(&counter, 0);
    let n1 = advances(&counter, n0);
    assert!(n1 > n0);

    h.run(&["pause", &c.id]).expect_ok();
    match &freezer {
        Some(f) => {
            let st = fs::read_to_string(f.container_dir(&c.id).join("freezer.state"))
                .unwrap_or_default();
            assert_eq!(st.trim(), "FROZEN", "freezer.state");
        }
        None => assert!(v2_frozen(&c.id), "cgroup.events: not frozen"),
    }
    // Every process of the container is frozen: the counter stands still.
    let frozen_at = count(&counter).expect("counter readable");
    std::thread::sleep(Duration::from_millis(300));
    let later = count(&counter).expect("counter readable");
    assert_eq!(later, frozen_at, "the counter advanced while paused");
    assert!(pid_alive(c.pid));
    assert_eq!(h.state_status(&c.id).as_deref(), Some("paused"));

    h.run(&["resume", &c.id]).expect_ok();
    match &freezer {
        Some(f) => {
            let st = fs::read_to_string(f.container_dir(&c.id).join("freezer.state"))
                .unwrap_or_default();
            assert_eq!(st.trim(), "THAWED", "freezer.state");
        }
        None => assert!(!v2_frozen(&c.id), "cgroup.events: still frozen"),
    }
    advances(&counter, later);
    assert_eq!(h.state_status(&c.id).as_deref(), Some("running"));
}
