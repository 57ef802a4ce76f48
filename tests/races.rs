//! Concurrency and the container's process tree: parallel lifecycles leak nothing, `kill --all`
//! reaches every process, `run` forwards signals and reaps orphans, and a container process
//! cannot ptrace the launcher while `bvisor exec` joins the container.

use bvisor_tests::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// 20 create/start/kill/delete cycles of different ids at once; afterwards the host holds
/// nothing of any of them.
#[test]
fn parallel_cycles_leave_nothing() {
    if !require_root() {
        return;
    }
    let h = std::sync::Arc::new(Harness::new("parallel_cycles"));
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    b.save();
    let bundle = b.dir.to_string_lossy().into_owned();
    let ids: Vec<String> = (0..20).map(|i| h.id(&format!("c{i}"))).collect();
    for id in &ids {
        h.track(id);
    }
    let threads: Vec<_> = ids
        .iter()
        .cloned()
        .map(|id| {
            let (h, bundle) = (h.clone(), bundle.clone());
            std::thread::spawn(move || {
                h.run(&["create", "--bundle", &bundle, &id]).expect_ok();
                h.run(&["start", &id]).expect_ok();
                // Control: mid-cycle the things the final scan looks for do exist.
                assert!(h.state_dir(&id).exists(), "{id}: no state dir");
                assert!(
                    !existing_container_cgroups(&id).is_empty(),
                    "{id}: no cgroups"
                );
                assert!(
                    !processes_of_container(&id).is_empty(),
                    "{id}: no processes"
                );
                h.run(&["kill", &id, "KILL"]).expect_ok();
                // delete waits briefly for a just-killed init; retry a loaded machine.
                let deadline = Instant::now() + Duration::from_secs(20);
                loop {
                    let d = h.run(&["delete", &id]);
                    if d.ok() {
                        break;
                    }
                    assert!(Instant::now() < deadline, "delete never succeeded: {d}");
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("cycle thread");
    }
    for id in &ids {
        assert!(!h.state_dir(id).exists(), "state dir of {id} left");
        assert_eq!(
            existing_container_cgroups(id),
            Vec::<PathBuf>::new(),
            "{id}"
        );
        assert_eq!(processes_of_container(id), Vec::<i32>::new(), "{id}");
    }
    assert_eq!(host_mounts_under(&h.dir), Vec::<String>::new());
    let listed = h.run(&["list", "-q"]);
    assert!(listed.stdout.trim().is_empty(), "list not empty: {listed}");
}

/// `kill --all` reaches processes outside the init's process tree: a daemonised (setsid,
/// re-parented) process and an exec'd one, in a container without its own pid namespace
/// (where killing the init would not take the others down with it).
#[test]
fn kill_all_reaches_every_process() {
    if !require_root() {
        return;
    }
    let h = Harness::new("kill_all");
    let mut b = h.bundle();
    b.remove_namespace("pid");
    b.sh("setsid sleep 300 & sleep 300");
    let c = h.start(&b, "all");
    let exec_pid = h.exec_detached(&c.id, &["sleep", "300"]);
    let procs = poll("three processes in the cgroup", POLL_TIMEOUT, || {
        let p = processes_of_container(&c.id);
        (p.len() >= 3).then_some(p)
    });
    assert!(procs.contains(&exec_pid), "{procs:?}");
    // Control: killing the init alone leaves the others running.
    let init = c.pid;
    h.run(&["kill", &c.id, "KILL"]).expect_ok();
    poll_true("init gone", POLL_TIMEOUT, || !pid_alive(init));
    let left = processes_of_container(&c.id);
    assert!(
        left.len() >= 2,
        "control: the other processes should outlive the init: {left:?}"
    );
    h.run(&["kill", "--all", &c.id, "KILL"]).expect_ok();
    poll_true("every process gone", POLL_TIMEOUT, || {
        processes_of_container(&c.id).is_empty()
    });
}

/// `kill --all KILL` ends a container whose processes keep forking (each loop iteration leaves
/// an orphan): on v1 the cgroup is frozen, every pid signalled, then thawed, so no child born
/// during the walk survives. Ground truth: the cgroup's process list empties. Control: before
/// the kill the fork loop has filled it.
#[test]
fn kill_all_stops_a_fork_loop() {
    if !require_root() {
        return;
    }
    let h = Harness::new("kill_all_forks");
    let mut b = h.bundle();
    b.sh("while :; do (sleep 300 &); done");
    b.linux()["resources"] = serde_json::json!({"pids": {"limit": 64}});
    let c = h.start(&b, "forks");
    poll_true("the fork loop fills the cgroup", POLL_TIMEOUT, || {
        processes_of_container(&c.id).len() >= 32
    });
    h.run(&["kill", "--all", &c.id, "KILL"]).expect_ok();
    poll_true("every process gone", POLL_TIMEOUT, || {
        processes_of_container(&c.id).is_empty()
    });
}

/// A foreground `run` forwards the signals it gets to the container's init.
#[test]
fn run_forwards_signals() {
    if !require_root() {
        return;
    }
    let h = Harness::new("run_forwards");
    let mut b = h.bundle();
    b.sh("trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done");
    b.save();
    let id = h.id("fwd");
    h.track(&id);
    let bundle = b.dir.to_string_lossy().into_owned();
    let mut run = h.spawn_bvisor(&["run", "--bundle", &bundle, &id]);
    run.await_stdout("ready");
    // SAFETY: signalling the bvisor process this test started.
    unsafe { libc::kill(run.child.id() as i32, libc::SIGTERM) };
    let out = run.wait();
    assert_eq!(out.code, 7, "{out}");
    assert!(out.stdout.contains("got TERM"), "{out}");
}

/// Orphans re-parented to a foreground `run` (a container without a pid namespace, so the
/// runtime is their nearest subreaper) are reaped while the container still runs.
#[test]
fn run_reaps_orphans() {
    if !require_root() {
        return;
    }
    let h = Harness::new("run_reaps");
    let mut b = h.bundle();
    b.remove_namespace("pid");
    // Three short-lived orphans, then the init lives on for a while.
    b.sh("for i in 1 2 3; do (sleep 0.2 &); done; echo spawned; sleep 3");
    b.save();
    let id = h.id("orph");
    h.track(&id);
    let bundle = b.dir.to_string_lossy().into_owned();
    let mut run = h.spawn_bvisor(&["run", "--bundle", &bundle, &id]);
    let runtime = run.child.id() as i32;
    run.await_stdout("spawned");
    // Ground truth: the orphans were re-parented to the runtime (seen while they live) ...
    let orphans = poll("orphans re-parented to run", POLL_TIMEOUT, || {
        let o = children_of(runtime, "sleep");
        (!o.is_empty()).then_some(o)
    });
    // ... and once they exit, none stays a zombie under it.
    std::thread::sleep(Duration::from_millis(800));
    let zombies: Vec<i32> = orphans
        .iter()
        .copied()
        .filter(|p| proc_state(*p) == Some('Z'))
        .collect();
    assert!(zombies.is_empty(), "unreaped orphans: {zombies:?}");
    assert_eq!(run.wait().code, 0);
}

fn children_of(ppid: i32, comm: &str) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|p| {
            status_field(*p, "PPid").is_some_and(|v| v == ppid.to_string())
                && status_field(*p, "Name").is_some_and(|n| n == comm)
        })
        .collect()
}

const ATTACKER: &str = r#"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
/* Attach to every process that appears, for argv[1] seconds. Log each success with what the
   process was (its exe link and comm) to argv[2]. */
int main(int argc, char **argv) {
    int secs = atoi(argv[1]);
    FILE *log = fopen(argv[2], "w");
    static char seen[1 << 22];
    time_t end = time(NULL) + secs;
    fprintf(log, "start\n"); fflush(log);
    while (time(NULL) < end) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            int pid = atoi(e->d_name);
            if (pid <= 1 || pid == getpid() || pid >= (1 << 22) || seen[pid]) continue;
            if (ptrace(PTRACE_SEIZE, pid, 0, 0) == 0) {
                char p[64], exe[256] = "?", comm[64] = "?";
                snprintf(p, sizeof p, "/proc/%d/exe", pid);
                ssize_t n = readlink(p, exe, sizeof exe - 1);
                if (n > 0) exe[n] = 0;
                snprintf(p, sizeof p, "/proc/%d/comm", pid);
                FILE *c = fopen(p, "r");
                if (c) { if (fgets(comm, sizeof comm, c)) comm[strcspn(comm, "\n")] = 0; fclose(c); }
                fprintf(log, "attached %d %s %s\n", pid, comm, exe); fflush(log);
                ptrace(PTRACE_DETACH, pid, 0, 0);
                seen[pid] = 1;
            }
        }
        if (d) closedir(d);
    }
    fprintf(log, "end\n");
    fclose(log);
    return 0;
}
"#;

/// While `bvisor exec` joins, a container process that tries to attach to every new pid never
/// gets the launcher (non-dumpable until it execs the workload); it does get the workload.
#[test]
fn exec_cannot_be_ptraced_while_joining() {
    if !require_root() || !require_tool("gcc") {
        return;
    }
    let h = Harness::new("exec_ptrace");
    let mut b = h.bundle();
    h.compile_static("attacker", ATTACKER, &b.rootfs.join("attacker"));
    // CAP_SYS_PTRACE is not in the default set: the attacker is an ordinary container root.
    // A read-only root adds a landlock domain per process, and landlock already forbids
    // ptrace across domains (exec'd processes get their own): without it, what stands
    // between the attacker and a joining launcher is the launcher being non-dumpable.
    b.config["root"]["readonly"] = serde_json::json!(false);
    let out = h.mkdir("out");
    b.bind(&out, "/out", &["rw"]);
    b.args(&["/attacker", "6", "/out/attacks.log"]);
    let c = h.start(&b, "ptrace");
    let log = out.join("attacks.log");
    poll_true("attacker running", POLL_TIMEOUT, || log.exists());
    // Joins, each ending in a workload that lives long enough to be attached to (the control).
    let mut execs = 0;
    let deadline = Instant::now() + Duration::from_secs(4);
    while Instant::now() < deadline {
        h.exec(&c.id, &["sleep", "0.05"]);
        execs += 1;
    }
    poll_true("attacker finished", Duration::from_secs(10), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("end"))
    });
    let text = std::fs::read_to_string(&log).unwrap();
    let hits: Vec<&str> = text.lines().filter(|l| l.starts_with("attached")).collect();
    let launcher: Vec<&&str> = hits
        .iter()
        .filter(|l| l.contains("bvisor-launcher") || l.contains("memfd:"))
        .collect();
    assert!(
        launcher.is_empty(),
        "the attacker got the launcher during exec: {launcher:?}"
    );
    // Control: the attacker does attach to the exec'd workloads once they are themselves.
    assert!(
        hits.iter().any(|l| l.contains(" sleep ")),
        "control: no attach to any workload in {execs} execs:\n{text}"
    );
}
