//! A runtime killed in the middle of `create` loses nothing and leaks nothing.
//!
//! The bvisor binary the tests drive is built with the `fault-injection` feature (the root test
//! package turns it on; debug builds only): `BVISOR_FAULT=<point>` makes `create` SIGKILL
//! itself at that point (runtime/src/fault.rs). For every point the test checks, from ground
//! truth, that `state` and `list` never call the half-made container running, and that
//! `delete --force` then removes every process (found by cgroup), cgroup directory, mount and
//! the state directory.

use bvisor_tests::*;
use std::path::PathBuf;

fn statuses(h: &Harness, id: &str) -> (Option<String>, String) {
    let state = h.state_status(id);
    let list = h.run(&["list", "--format", "json"]);
    let listed = serde_json::from_str::<serde_json::Value>(&list.stdout)
        .ok()
        .and_then(|v| {
            v.as_array()?
                .iter()
                .find(|c| c["id"] == id)
                .map(|c| c["status"].as_str().unwrap_or("").to_string())
        })
        .unwrap_or_default();
    (state, listed)
}

#[test]
fn killed_create_is_cleaned_by_delete_force() {
    if !require_root() {
        return;
    }
    let h = Harness::new("killed_create");
    for point in bvisor::fault::POINTS {
        let mut b = h.bundle();
        b.args(&["sleep", "100"]);
        let id = h.id(point);
        b.save();
        h.track(&id);
        let bundle = b.dir.to_string_lossy().into_owned();
        let out = h.run_env(
            &[("BVISOR_FAULT", point)],
            &["create", "--bundle", &bundle, &id],
        );
        assert_eq!(
            out.code, 137,
            "create did not die at fault point {point} (is target/debug/bvisor built with \
             `cargo build --workspace`, which turns on the fault-injection feature?)\n{out}"
        );
        // Whatever it left is never reported running: nothing was started.
        let (state, listed) = statuses(&h, &id);
        assert_ne!(state.as_deref(), Some("running"), "state at {point}");
        assert_ne!(listed, "running", "list at {point}");
        // What exists now, to show the cleanup below removes something real.
        let recorded_pid = h.state(&id).and_then(|s| s["pid"].as_i64()).unwrap_or(0) as i32;

        let del = h.run(&["delete", "--force", &id]);
        assert!(
            del.ok() || del.stderr.contains("does not exist"),
            "delete --force after a crash at {point}: {del}"
        );
        assert!(!h.state_dir(&id).exists(), "state dir left at {point}");
        assert_eq!(
            existing_container_cgroups(&id),
            Vec::<PathBuf>::new(),
            "cgroups left at {point}"
        );
        poll_true(&format!("processes of {id} gone"), POLL_TIMEOUT, || {
            processes_of_container(&id).is_empty()
        });
        if recorded_pid > 0 {
            assert!(
                !pid_alive(recorded_pid),
                "init {recorded_pid} alive at {point}"
            );
        }
        assert_eq!(
            host_mounts_under(&b.dir),
            Vec::<String>::new(),
            "host mounts left under the bundle at {point}"
        );
    }
}

/// Control for the test above: without the fault switch, the same create makes exactly the
/// things the crash test looks for (so their absence there means they were cleaned up).
#[test]
fn uninterrupted_create_makes_what_the_crash_test_checks() {
    if !require_root() {
        return;
    }
    let h = Harness::new("uninterrupted_create");
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    let id = h.id("whole");
    h.create(&b, &id, &[]).expect_ok();
    assert!(h.state_dir(&id).exists());
    assert!(!existing_container_cgroups(&id).is_empty());
    assert!(!processes_of_container(&id).is_empty());
    assert_eq!(h.state_status(&id).as_deref(), Some("created"));
    h.run(&["delete", "--force", &id]).expect_ok();
    assert!(!h.state_dir(&id).exists());
}

/// A recorded pid that now belongs to another process (pid reuse) is not the container: the
/// container reads as stopped, and `delete --force` leaves that process alone.
#[test]
fn reused_pid_is_not_taken_for_the_container() {
    if !require_root() {
        return;
    }
    let h = Harness::new("reused_pid");
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    let id = h.id("reuse");
    h.create(&b, &id, &[]).expect_ok();
    let pid = h.state_pid(&id);
    // An unrelated process of ours stands in for whatever got the pid next.
    let mut other = std::process::Command::new("sleep")
        .arg("100")
        .spawn()
        .expect("spawn sleep");
    let other_pid = other.id() as i32;
    // The container's init dies; its state file is made to name the other process's pid,
    // keeping the recorded start time (what a reused pid looks like to the runtime).
    // SAFETY: signalling the container init this test created.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    poll_true("init gone", POLL_TIMEOUT, || !pid_alive(pid));
    let sf = h.state_dir(&id).join("state.json");
    let mut st: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sf).unwrap()).unwrap();
    st["pid"] = serde_json::json!(other_pid);
    std::fs::write(&sf, serde_json::to_vec(&st).unwrap()).unwrap();

    assert_eq!(h.state_status(&id).as_deref(), Some("stopped"));
    h.run(&["delete", "--force", &id]).expect_ok();
    assert!(
        pid_alive(other_pid),
        "delete --force killed a process that reused the pid"
    );
    // Control: the stand-in is a live, killable process of ours.
    other.kill().unwrap();
    other.wait().unwrap();
    assert!(!pid_alive(other_pid));
}

/// The launcher is started before the cgroups and the plan exist and waits for the runtime's
/// handover (runtime/src/container/spawn.rs), and after it waits for the cgroups the runtime
/// makes meanwhile. A runtime killed in either window must not leave it waiting forever: it
/// reads EOF on its control socket and exits. Ground truth: this test
/// process is a child subreaper, so the orphaned launcher becomes its child, and is reaped
/// here with its own exit status. Control: a create that is not killed leaves one orphan, the
/// container's init (its launcher parent exited), ended by `delete`'s SIGKILL: the runtime
/// reaped its launcher, so an orphan that exits by itself below is the killed runtime's.
/// (nextest runs each test in a process of its own, so no other test's orphans come here.)
#[test]
fn launcher_waiting_for_its_plan_exits_when_the_runtime_dies() {
    if !require_root() {
        return;
    }
    // SAFETY: prctl with integer arguments.
    assert_eq!(
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) },
        0
    );
    // Every orphan that ends within `wait` of the first (or of the start), with its wait status.
    let reap_orphans = |wait: std::time::Duration| {
        let mut deadline = std::time::Instant::now() + wait;
        let mut reaped = Vec::new();
        loop {
            let mut status = 0;
            // SAFETY: status is a valid out pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid > 0 {
                if reaped.is_empty() {
                    // Give any second orphan a moment, then stop.
                    deadline = std::time::Instant::now() + std::time::Duration::from_millis(300);
                }
                reaped.push((pid, status));
                continue;
            }
            if std::time::Instant::now() >= deadline {
                return reaped;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    };
    let h = Harness::new("orphan_launcher");
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    b.save();
    let bundle = b.dir.to_string_lossy().into_owned();

    let id = h.id("whole");
    h.track(&id);
    h.run(&["create", "--bundle", &bundle, &id]).expect_ok();
    let init = h.state_pid(&id);
    h.run(&["delete", "--force", &id]).expect_ok();
    assert_eq!(
        reap_orphans(std::time::Duration::from_secs(10)),
        vec![(init, libc::SIGKILL)],
        "the only orphan of an uninterrupted create is its init"
    );

    // Killed while the launcher waits for its plan ("launcher"), and after the handover while
    // it waits for the cgroups the runtime is making ("launched").
    for point in ["launcher", "launched"] {
        let id = h.id(point);
        h.track(&id);
        let out = h.run_env(
            &[("BVISOR_FAULT", point)],
            &["create", "--bundle", &bundle, &id],
        );
        assert_eq!(out.code, 137, "create did not die at {point}\n{out}");
        let orphans = reap_orphans(std::time::Duration::from_secs(10));
        assert_eq!(
            orphans.len(),
            1,
            "one orphaned launcher at {point}: {orphans:?}"
        );
        let (pid, status) = orphans[0];
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 1,
            "launcher {pid} ended with wait status {status:#x}, not exit 1, at {point}"
        );
        h.run(&["delete", "--force", &id]).expect_ok();
    }
}
