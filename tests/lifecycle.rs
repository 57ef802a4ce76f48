//! The container lifecycle through the runc-compatible CLI, graded by the world: the init's
//! /proc entry, the state directory on disk, cgroup.procs, the host mount table, the pty.

use bvisor_tests::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixListener;
use std::time::Duration;

/// The last NSpid entry: the pid as the process's own pid namespace sees it.
fn inner_pid(pid: i32) -> Option<i32> {
    status_field(pid, "NSpid")?
        .split_whitespace()
        .last()?
        .parse()
        .ok()
}

fn listed_ids(h: &Harness) -> Vec<String> {
    let o = h.run(&["list", "--format", "json"]);
    o.expect_ok();
    let v: Value = serde_json::from_str(o.stdout.trim()).unwrap_or(json!([]));
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn create_start_kill_delete() {
    if !require_root() {
        return;
    }
    let h = Harness::new("create_start_kill_delete");
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    let id = h.id("c");

    h.create(&b, &id, &[]).expect_ok();
    assert_eq!(h.state_status(&id).as_deref(), Some("created"));
    let pid = h.state_pid(&id);
    assert!(
        pid_alive(pid),
        "state says pid {pid}, but /proc has no live process"
    );
    assert_eq!(
        inner_pid(pid),
        Some(1),
        "pid {pid} is not the init of its own pid namespace"
    );
    assert_ne!(
        cmdline(pid).unwrap_or_default(),
        vec!["sleep", "100"],
        "the workload ran before start"
    );
    assert!(h.state_dir(&id).is_dir(), "no state dir after create");
    assert!(listed_ids(&h).contains(&id), "list does not show {id}");

    h.run(&["start", &id]).expect_ok();
    wait_exec(pid);
    poll_true("init to exec `sleep 100`", POLL_TIMEOUT, || {
        cmdline(pid).unwrap_or_default() == ["sleep", "100"]
    });
    assert_eq!(h.state_status(&id).as_deref(), Some("running"));
    assert_eq!(h.state_pid(&id), pid);

    h.run(&["kill", &id, "KILL"]).expect_ok();
    poll_true(
        &format!("pid {pid} to die after kill"),
        POLL_TIMEOUT,
        || !pid_alive(pid),
    );
    assert_eq!(h.state_status(&id).as_deref(), Some("stopped"));

    h.run(&["delete", &id]).expect_ok();
    assert!(
        !h.state_dir(&id).exists(),
        "state dir {} survives delete",
        h.state_dir(&id).display()
    );
    assert!(!listed_ids(&h).contains(&id), "list still shows {id}");
    assert!(h.state(&id).is_none(), "state still answers for {id}");
    assert_eq!(
        existing_container_cgroups(&id),
        Vec::<std::path::PathBuf>::new()
    );
}

#[test]
fn run_returns_exit_code() {
    if !require_root() {
        return;
    }
    let h = Harness::new("run_returns_exit_code");

    // A plain exit status passes through, and is not a constant.
    let mut b = h.bundle();
    b.sh("exit 3");
    assert_eq!(h.run_container(&b, "exit3").code, 3);
    b.sh("exit 0");
    assert_eq!(h.run_container(&b, "exit0").code, 0);

    // Killed by a signal: 128+n. Without a pid namespace the shell can kill itself.
    let mut b = h.bundle();
    b.remove_namespace("pid").sh("kill -KILL $$");
    assert_eq!(h.run_container(&b, "selfkill").code, 128 + libc::SIGKILL);

    // With a pid namespace, the init is killed from outside while `run` waits for it.
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    b.save();
    let id = h.id("ext");
    let bundle = b.dir.to_string_lossy().into_owned();
    let running = h.spawn_bvisor(&["run", "--bundle", &bundle, &id]);
    let pid = poll("the container to run", POLL_TIMEOUT, || {
        let st = h.state(&id)?;
        (st["status"] == "running").then(|| st["pid"].as_i64().unwrap_or(0) as i32)
    });
    wait_exec(pid);
    h.run(&["kill", &id, "KILL"]).expect_ok();
    let out = running.wait();
    assert_eq!(out.code, 128 + libc::SIGKILL, "{out}");
    assert!(!pid_alive(pid));
}

#[test]
fn pid_file_written() {
    if !require_root() {
        return;
    }
    let h = Harness::new("pid_file_written");
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    let id = h.id("c");
    let pf = h.dir.join("init.pid");
    h.create(&b, &id, &["--pid-file", &pf.to_string_lossy()])
        .expect_ok();
    let text = fs::read_to_string(&pf).expect("pid file exists after create");
    let pid: i32 = text.trim().parse().expect("pid file holds a number");
    assert_eq!(pid, h.state_pid(&id), "pid file and state disagree");
    assert!(pid_alive(pid), "pid {pid} from the pid file is not alive");
    assert_eq!(
        inner_pid(pid),
        Some(1),
        "pid {pid} is not the container init"
    );
    // The pid is the container's: it sits in the container's cgroup.
    let hier = cgroup_hierarchies();
    assert!(!hier.is_empty());
    for hh in &hier {
        assert!(
            cgroup_procs(&hh.container_dir(&id)).contains(&pid),
            "pid {pid} not in {}",
            hh.container_dir(&id).display()
        );
    }
    h.run(&["start", &id]).expect_ok();
    poll_true(
        "the pid from the pid file to exec sleep",
        POLL_TIMEOUT,
        || cmdline(pid).unwrap_or_default() == ["sleep", "100"],
    );
}

#[test]
fn console_socket_gets_pty() {
    if !require_root() {
        return;
    }
    let h = Harness::new("console_socket_gets_pty");
    let mut b = h.bundle();
    b.config["process"]["terminal"] = json!(true);
    b.args(&["sh"]);
    let sock = h.dir.join("console.sock");
    let listener = UnixListener::bind(&sock).expect("bind console socket");
    let id = h.id("c");
    h.create(&b, &id, &["--console-socket", &sock.to_string_lossy()])
        .expect_ok();
    listener.set_nonblocking(false).expect("blocking listener");
    let (conn, _) = listener
        .accept()
        .expect("runtime connected to the console socket");
    let master = recv_fd(&conn, Duration::from_secs(10)).expect("pty master via SCM_RIGHTS");

    // Ground truth about the fd we received: a pty master (ptmx, major 5 minor 2), and its
    // number.
    let mut ptn: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes an unsigned int.
    let r = unsafe {
        libc::ioctl(
            std::os::fd::AsRawFd::as_raw_fd(&master),
            libc::TIOCGPTN,
            &mut ptn,
        )
    };
    assert_eq!(
        r, 0,
        "the received fd is not a pty master (TIOCGPTN failed)"
    );

    let pid = h.state_pid(&id);
    h.run(&["start", &id]).expect_ok();
    wait_exec(pid);

    // The init's stdin is that pty's slave: a char device of devpts (major 136..143) with the
    // master's number.
    let meta = fs::metadata(format!("/proc/{pid}/fd/0")).expect("stat init's fd 0");
    assert!(
        meta.file_type().is_char_device(),
        "fd 0 is not a char device"
    );
    let rdev = meta.rdev();
    let (major, minor) = (libc::major(rdev), libc::minor(rdev));
    assert!(
        (136..=143).contains(&major),
        "fd 0 is not a pts (major {major})"
    );
    assert_eq!(
        minor, ptn,
        "fd 0 is /dev/pts/{minor}, the master is pts {ptn}"
    );

    // Talk to the shell through the master: the arithmetic shows the command ran (the echo of
    // our own input would not contain 42).
    let mut w = fs::File::from(master.try_clone().expect("dup master"));
    w.write_all(b"tty; echo marker-$((40+2))\n")
        .expect("write to master");
    let text = read_until(&master, Duration::from_secs(10), |t| {
        t.contains("marker-42")
    });
    assert!(
        text.contains("marker-42"),
        "no command output on the pty: {text:?}"
    );
    assert!(
        text.contains(&format!("/dev/pts/{ptn}")),
        "`tty` inside did not print /dev/pts/{ptn}: {text:?}"
    );
}

#[test]
fn exec_joins_every_namespace() {
    if !require_root() {
        return;
    }
    let h = Harness::new("exec_joins_every_namespace");
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    let mut with_user = false;
    if kernel_lacks("user_namespaces").is_none() {
        b.set_namespace("user", None);
        b.linux()["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        b.linux()["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        b.chown_rootfs(200000, 200000);
        with_user = true;
    } else {
        eprintln!("note: no user namespaces here; checking the other namespaces only");
    }
    let c = h.start(&b, "c");
    let exec_pid = h.exec_detached(&c.id, &["sleep", "200"]);
    poll_true("the exec'd process to run sleep 200", POLL_TIMEOUT, || {
        cmdline(exec_pid).unwrap_or_default() == ["sleep", "200"]
    });
    let me = std::process::id() as i32;
    let mut checked = Vec::new();
    for ns in b.namespaces() {
        let n = proc_ns_name(&ns);
        let init = ns_inode(c.pid, n).expect("init ns inode");
        let ex = ns_inode(exec_pid, n).expect("exec ns inode");
        let host = ns_inode(me, n).expect("host ns inode");
        // Control: the container really has its own namespace, so equality below means
        // something.
        assert_ne!(init, host, "{ns}: the init shares the host's namespace");
        assert_eq!(
            ex, init,
            "{ns}: the exec'd process is not in the init's namespace"
        );
        checked.push(ns);
    }
    // Namespaces the config does not ask for are the host's for both.
    for n in ALL_PROC_NS {
        if let (Some(init), Some(ex)) = (ns_inode(c.pid, n), ns_inode(exec_pid, n)) {
            assert_eq!(ex, init, "{n}: exec and init differ");
        }
    }
    if with_user {
        assert!(checked.iter().any(|n| n == "user"));
        assert_eq!(
            status_field(exec_pid, "Uid")
                .unwrap_or_default()
                .split_whitespace()
                .next(),
            Some("200000"),
            "the exec'd process does not run as the mapped root"
        );
    }
    // The exec'd process is in the container's cgroups too.
    for hh in cgroup_hierarchies() {
        assert!(
            cgroup_procs(&hh.container_dir(&c.id)).contains(&exec_pid),
            "exec pid {exec_pid} not in {}",
            hh.container_dir(&c.id).display()
        );
    }
}

#[test]
fn ps_lists_processes() {
    if !require_root() {
        return;
    }
    let h = Harness::new("ps_lists_processes");
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    let c = h.start(&b, "c");
    let exec_pid = h.exec_detached(&c.id, &["sleep", "200"]);
    poll_true("the exec'd sleep to run", POLL_TIMEOUT, || {
        cmdline(exec_pid).unwrap_or_default() == ["sleep", "200"]
    });
    let o = h.run(&["ps", "--format", "json", &c.id]);
    o.expect_ok();
    let pids: Vec<i32> = serde_json::from_str(o.stdout.trim()).expect("ps json is a pid list");
    let got: BTreeSet<i32> = pids.iter().copied().collect();
    // Ground truth: the processes that really are in the container's cgroup, and what they run.
    let truth: BTreeSet<i32> = processes_of_container(&c.id).into_iter().collect();
    assert_eq!(
        truth,
        BTreeSet::from([c.pid, exec_pid]),
        "cgroup membership"
    );
    assert_eq!(got, truth, "ps --format json disagrees with the cgroup");
    assert_eq!(cmdline(c.pid).unwrap_or_default(), ["sleep", "100"]);

    // The table form lists both pids too.
    let o = h.run(&["ps", &c.id]);
    o.expect_ok();
    for p in [c.pid, exec_pid] {
        assert!(
            o.stdout
                .lines()
                .skip(1)
                .any(|l| l.split_whitespace().any(|f| f == p.to_string())),
            "ps table lacks pid {p}:\n{}",
            o.stdout
        );
    }
}

/// Every trace of a container that failed to be created.
fn assert_nothing_left(h: &Harness, id: &str, before: &BTreeSet<String>, what: &str) {
    assert!(
        !h.state_dir(id).exists(),
        "{what}: state dir {} survives",
        h.state_dir(id).display()
    );
    let cg = existing_container_cgroups(id);
    assert!(cg.is_empty(), "{what}: cgroup dirs survive: {cg:?}");
    let procs = processes_of_container(id);
    assert!(
        procs.is_empty(),
        "{what}: processes survive in its cgroups: {procs:?}"
    );
    assert!(
        !listed_ids(h).iter().any(|i| i == id),
        "{what}: list still shows it"
    );
    let (gone, added) = h.mount_changes(before);
    assert!(
        gone.is_empty() && added.is_empty(),
        "{what}: host mount table changed\n removed: {gone:#?}\n added: {added:#?}"
    );
}

#[test]
fn failed_step_leaves_nothing() {
    if !require_root() {
        return;
    }
    let h = Harness::new("failed_step_leaves_nothing");

    // Control: the same bundle without the broken field is created fine (so the failure below
    // is the broken field's, and the checks below can see a container when there is one).
    let mut good = h.bundle();
    good.args(&["sleep", "100"]);
    good.add_mount(json!({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs"}));
    let gid = h.id("good");
    h.create(&good, &gid, &[]).expect_ok();
    assert!(h.state_dir(&gid).exists());
    assert!(!existing_container_cgroups(&gid).is_empty());
    assert!(!processes_of_container(&gid).is_empty());
    h.delete_force(&gid);

    // A mount of a filesystem type the kernel does not have: step 3 (rootfs) fails.
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    b.add_mount(json!({"destination": "/mnt/t", "type": "bvisornosuchfs", "source": "none"}));
    let id = h.id("badfs");
    let before = mount_snapshot();
    let o = h.create(&b, &id, &[]);
    assert_ne!(o.code, 0, "create with a bogus fs type succeeded: {o}");
    assert_nothing_left(&h, &id, &before, "bad fs type");

    // A cwd that does not exist in the rootfs: step 5 (identity) fails, after the mounts.
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    b.process()["cwd"] = json!("/no/such/dir");
    let id = h.id("badcwd");
    let before = mount_snapshot();
    let o = h.create(&b, &id, &[]);
    assert_ne!(o.code, 0, "create with a missing cwd succeeded: {o}");
    assert_nothing_left(&h, &id, &before, "missing cwd");

    // A program that does not exist: fails create (step 7), not start.
    let mut b = h.bundle();
    b.args(&["/no/such/program"]);
    let id = h.id("badprog");
    let before = mount_snapshot();
    let o = h.create(&b, &id, &[]);
    assert_ne!(o.code, 0, "create with a missing program succeeded: {o}");
    assert_nothing_left(&h, &id, &before, "missing program");
}

#[test]
fn duplicate_id_refused() {
    if !require_root() {
        return;
    }
    let h = Harness::new("duplicate_id_refused");
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    let c = h.start(&b, "c");

    let mut b2 = h.bundle();
    b2.args(&["sleep", "300"]);
    let o = h.create(&b2, &c.id, &[]);
    assert_ne!(o.code, 0, "a second create of {} succeeded", c.id);
    let o = h.run(&["run", "--bundle", &b2.dir.to_string_lossy(), &c.id]);
    assert_ne!(o.code, 0, "a run with the existing id {} succeeded", c.id);

    // The first container is untouched: same init, alone in its cgroup, still reachable.
    assert!(pid_alive(c.pid), "the first container's init died");
    assert_eq!(cmdline(c.pid).unwrap_or_default(), ["sleep", "100"]);
    assert_eq!(processes_of_container(&c.id), vec![c.pid]);
    assert_eq!(h.state_pid(&c.id), c.pid);
    assert!(h.state_dir(&c.id).is_dir());
    h.run(&["kill", &c.id, "KILL"]).expect_ok();
    poll_true("the first container to stop", POLL_TIMEOUT, || {
        !pid_alive(c.pid)
    });
}

#[test]
fn concurrent_create_one_wins() {
    if !require_root() {
        return;
    }
    let h = Harness::new("concurrent_create_one_wins");
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    b.save();
    let id = h.id("race");
    let bundle = b.dir.to_string_lossy().into_owned();
    let running: Vec<RunningCommand> = (0..20)
        .map(|_| h.spawn_bvisor(&["create", "--bundle", &bundle, &id]))
        .collect();
    let outs: Vec<Out> = running.into_iter().map(RunningCommand::wait).collect();
    let winners: Vec<&Out> = outs.iter().filter(|o| o.ok()).collect();
    assert_eq!(
        winners.len(),
        1,
        "{} of 20 concurrent creates succeeded; failures:\n{}",
        winners.len(),
        outs.iter()
            .filter(|o| !o.ok())
            .map(|o| o.stderr.trim().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Ground truth: exactly one init in the container's cgroups, and it is the one state names.
    let pid = h.state_pid(&id);
    assert!(pid_alive(pid));
    assert_eq!(
        processes_of_container(&id),
        vec![pid],
        "processes in the container's cgroup"
    );
    for hh in cgroup_hierarchies() {
        assert_eq!(
            cgroup_procs(&hh.container_dir(&id)),
            vec![pid],
            "{}",
            hh.name()
        );
    }
    // The winner's container is whole: it starts and runs.
    h.run(&["start", &id]).expect_ok();
    poll_true("the winner to run sleep", POLL_TIMEOUT, || {
        cmdline(pid).unwrap_or_default() == ["sleep", "100"]
    });
}

/// Not a confinement test: the harness builds every bundle from `bvisor spec`, and falls back to
/// the embedded default when `spec` is broken; this test is where such a break shows.
#[test]
fn spec_writes_config() {
    if !require_root() {
        return;
    }
    let h = Harness::new("spec_writes_config");
    let dir = h.mkdir("spec");
    let o = h.run(&["spec", "--bundle", &dir.to_string_lossy()]);
    assert_eq!(o.code, 0, "{o}");
    let text = fs::read_to_string(dir.join("config.json")).expect("spec wrote config.json");
    let v: Value = serde_json::from_str(&text).expect("config.json parses");
    assert_eq!(v["root"]["path"], "rootfs");
    assert!(v["process"]["args"].is_array());
    // Refuses to overwrite.
    let o = h.run(&["spec", "--bundle", &dir.to_string_lossy()]);
    assert_ne!(o.code, 0, "spec overwrote an existing config.json");
}

/// Every hook kind runs at its point, in order, with the state on stdin: each appends its name,
/// the status and pid it was handed, and (for the in-container ones) its own view, to a log in a
/// host directory the container also sees at /hooks. A createRuntime hook that overruns its
/// timeout fails the create, which leaves nothing behind.
#[test]
fn hooks_run_at_their_points() {
    if !require_root() {
        return;
    }
    let h = Harness::new("hooks_run_at_their_points");
    let dir = h.mkdir("hooks");
    let log = dir.join("log");
    // sed pulls "status" and "pid" out of the state JSON on stdin.
    let hook = |name: &str, log: &str| {
        json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!(
                "s=$(cat); st=$(echo \"$s\" | sed -n 's/.*\"status\": *\"\\([a-z]*\\)\".*/\\1/p'); \
                 pid=$(echo \"$s\" | sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p'); \
                 echo \"{name} $st $pid $(hostname)\" >> {log}")],
        })
    };
    let host_log = log.to_string_lossy().into_owned();
    let mut b = h.bundle();
    b.bind(&dir, "/hooks", &["rw"]);
    b.config["hostname"] = json!("inside");
    b.args(&["sh", "-c", "echo workload >> /hooks/log"]);
    b.config["hooks"] = json!({
        "prestart": [hook("prestart", &host_log)],
        "createRuntime": [hook("createRuntime", &host_log)],
        "createContainer": [hook("createContainer", &host_log)],
        // Resolved and run inside the container, after pivot_root: the host path is not there.
        "startContainer": [hook("startContainer", "/hooks/log")],
        "poststart": [hook("poststart", &host_log)],
        "poststop": [hook("poststop", &host_log)],
    });
    let out = h.run_container(&b, "order");
    assert!(out.ok(), "{out:?}");
    let text = fs::read_to_string(&log).expect("hook log");
    let names: Vec<&str> = text
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    // poststart runs after start released the workload: the two may interleave.
    let mut before_poststop: Vec<&str> = names[..names.len() - 1].to_vec();
    before_poststop.retain(|n| *n != "poststart" && *n != "workload");
    assert_eq!(
        before_poststop,
        vec![
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer"
        ],
        "{text}"
    );
    assert!(
        names.contains(&"poststart") && names.contains(&"workload"),
        "{text}"
    );
    assert_eq!(names.last(), Some(&"poststop"), "{text}");
    let line = |n: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{n} ")))
            .unwrap()
            .to_string()
    };
    // The runtime's hooks see the host's hostname, the container's see the container's.
    let host = host_hostname();
    assert!(line("prestart").ends_with(&host), "{text}");
    assert!(line("createContainer").ends_with(" inside"), "{text}");
    assert!(line("startContainer").ends_with(" inside"), "{text}");
    assert!(line("createRuntime").contains(" creating "), "{text}");
    assert!(line("poststop").contains(" stopped "), "{text}");
    let pid: i32 = line("createRuntime")
        .split_whitespace()
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    assert!(pid > 0, "{text}");

    // A createRuntime hook past its timeout fails the create, and nothing is left.
    let mut slow = h.bundle();
    slow.config["hooks"] =
        json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]});
    let id = h.id("timeout");
    let o = h.create(&slow, &id, &[]);
    assert_ne!(o.code, 0, "a hook past its timeout did not fail create");
    assert!(o.stderr.contains("timed out"), "{o:?}");
    assert!(!h.state_dir(&id).exists(), "state dir left behind");
    assert!(
        existing_container_cgroups(&id).is_empty(),
        "cgroups left behind"
    );
    // Control: the same hook with room to finish.
    let mut quick = h.bundle();
    quick.config["hooks"] =
        json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "0"], "timeout": 5}]});
    let id = h.id("quick");
    assert_eq!(h.create(&quick, &id, &[]).code, 0);
}
