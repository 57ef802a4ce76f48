//! Namespaces, graded by the world: ns inodes under /proc, what the container can see of the
//! host (pids, interfaces, SysV objects, cgroup paths, mounts), files on disk and their owners.
//! Every isolation check has a control: the same container without the namespace sees the host.

use bvisor_tests::*;
use serde_json::json;
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

fn numeric_entries(text: &str) -> BTreeSet<i32> {
    text.split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

#[test]
fn pid_ns_sees_only_own_processes() {
    if !require_root() {
        return;
    }
    let h = Harness::new("pid_ns_sees_only_own_processes");
    let me = std::process::id() as i32;

    let mut b = h.bundle();
    assert!(b.has_namespace("pid"));
    b.sh("ls /proc");
    let inside = numeric_entries(&h.output_of(&b, "pidns"));
    assert!(
        inside.contains(&1),
        "the container's init is not pid 1: {inside:?}"
    );
    assert!(
        inside.len() <= 3,
        "the container sees processes beyond its own: {inside:?}"
    );
    assert!(
        !inside.contains(&me),
        "the test process (pid {me}) is visible inside"
    );

    // Control: the same container without a pid namespace sees the host's processes, this
    // test process among them.
    let mut b = h.bundle();
    // Processes come and go on the host while ls reads /proc: ignore its complaints.
    b.remove_namespace("pid").sh("ls /proc 2>/dev/null; true");
    let shared = numeric_entries(&h.output_of(&b, "nopidns"));
    assert!(
        shared.contains(&me),
        "control: without a pid namespace the test process {me} should be visible: {shared:?}"
    );
    assert!(shared.len() > inside.len());
}

#[test]
fn uts_ns_sets_hostname() {
    if !require_root() {
        return;
    }
    let h = Harness::new("uts_ns_sets_hostname");
    let host_before = host_hostname();
    let name = format!("bvt-{}", token());
    assert_ne!(name, host_before);

    let mut b = h.bundle();
    assert!(b.has_namespace("uts"));
    b.config["hostname"] = json!(name);
    b.args(&["sleep", "100"]);
    let c = h.start(&b, "uts");
    // Ground truth from the host: the init's uts namespace is not ours, and in it the hostname
    // is the config's (nsenter reads it through the namespace, not through bvisor).
    assert_ne!(
        ns_inode(c.pid, "uts"),
        ns_inode(std::process::id() as i32, "uts")
    );
    let o = run_host(
        "nsenter",
        &[
            "--uts",
            &format!("--target={}", c.pid),
            "cat",
            "/proc/sys/kernel/hostname",
        ],
        &h.dir,
    );
    assert_eq!(o.stdout.trim(), name, "{o}");
    assert_eq!(host_hostname(), host_before, "the host's hostname changed");
    h.delete_force(&c.id);
    assert_eq!(host_hostname(), host_before, "the host's hostname changed");

    // And as the container itself sees it.
    let mut b = h.bundle();
    b.config["hostname"] = json!(name);
    b.args(&["hostname"]);
    assert_eq!(h.output_of(&b, "utsin").trim(), name);

    // Control: without a uts namespace (and without a hostname) the container sees the host's.
    let mut b = h.bundle();
    b.remove_namespace("uts").args(&["hostname"]);
    if let Some(o) = b.config.as_object_mut() {
        o.remove("hostname");
    }
    assert_eq!(h.output_of(&b, "noutsns").trim(), host_before);

    // A hostname without a uts namespace would rename the host: it must be refused (runc
    // refuses it too). bvisor runs inside a throwaway uts namespace here, so a runtime that
    // does set it renames only that namespace, which the script prints afterwards.
    if !require_tool("unshare") {
        return;
    }
    let mut b = h.bundle();
    b.remove_namespace("uts").args(&["true"]);
    b.config["hostname"] = json!(name);
    b.save();
    let id = h.id("hostnonns");
    let script = format!(
        "{bin} --root {root} run --bundle {bundle} {id}; echo \"rc=$?\"; echo \"after=$(cat /proc/sys/kernel/hostname)\"",
        bin = bvisor_bin().display(),
        root = h.root.display(),
        bundle = b.dir.display(),
    );
    let o = run_host("unshare", &["--uts", "sh", "-c", &script], &h.dir);
    assert!(
        o.stdout.contains(&format!("after={host_before}")),
        "a hostname without a uts namespace changed the (throwaway) host uts namespace: {o}"
    );
    assert!(
        !o.stdout.contains("rc=0"),
        "a hostname without a uts namespace was accepted (runc refuses it): {o}"
    );
    assert_eq!(host_hostname(), host_before);
}

fn interfaces(text: &str) -> BTreeSet<String> {
    text.split_whitespace().map(str::to_string).collect()
}

#[test]
fn net_ns_has_only_lo() {
    if !require_root() {
        return;
    }
    let h = Harness::new("net_ns_has_only_lo");
    let host: BTreeSet<String> = fs::read_dir("/sys/class/net")
        .expect("host /sys/class/net")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if host.len() < 2 {
        skip("the host has no interface besides lo: the control could not tell the difference");
        return;
    }

    let mut b = h.bundle();
    assert!(b.has_namespace("network"));
    b.sh("ls /sys/class/net; echo --; sed 1,2d /proc/net/dev | cut -d: -f1");
    let out = h.output_of(&b, "netns");
    let (sys, proc) = out.split_once("--").expect("both listings");
    assert_eq!(interfaces(sys), BTreeSet::from(["lo".to_string()]), "{out}");
    assert_eq!(
        interfaces(proc),
        BTreeSet::from(["lo".to_string()]),
        "{out}"
    );

    // Control: without the namespace the container sees the host's interfaces.
    let mut b = h.bundle();
    b.remove_namespace("network")
        .sh("ls /sys/class/net; echo --; sed 1,2d /proc/net/dev | cut -d: -f1");
    let out = h.output_of(&b, "nonetns");
    let (sys, proc) = out.split_once("--").expect("both listings");
    assert_eq!(interfaces(sys), host, "control /sys/class/net: {out}");
    assert_eq!(interfaces(proc), host, "control /proc/net/dev: {out}");
}

#[test]
fn user_ns_maps_ids() {
    if !require_root() || !require_kernel("user_namespaces") {
        return;
    }
    let h = Harness::new("user_ns_maps_ids");
    let shared = h.mkdir("shared");
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).expect("chmod 777");

    let mut b = h.bundle();
    b.set_namespace("user", None);
    b.linux()["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.linux()["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.chown_rootfs(100000, 100000);
    b.bind(&shared, "/mnt/shared", &[]);
    b.sh("touch /mnt/shared/by-userns; exec sleep 100");
    let c = h.start(&b, "userns");
    let f = shared.join("by-userns");
    poll_true("the container to create its file", POLL_TIMEOUT, || {
        f.exists()
    });

    // The mapping, read from the host.
    let map = |file: &str| -> Vec<Vec<u64>> {
        fs::read_to_string(format!("/proc/{}/{file}", c.pid))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                l.split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect()
            })
            .collect()
    };
    assert_eq!(map("uid_map"), vec![vec![0, 100000, 65536]]);
    assert_eq!(map("gid_map"), vec![vec![0, 100000, 65536]]);
    assert_ne!(
        ns_inode(c.pid, "user"),
        ns_inode(std::process::id() as i32, "user")
    );
    // The init is root inside, host uid 100000 outside.
    let uid = status_field(c.pid, "Uid").unwrap_or_default();
    assert!(uid.split_whitespace().all(|u| u == "100000"), "Uid: {uid}");
    // The file it made is owned by the mapped ids on the host.
    let m = fs::metadata(&f).expect("stat file");
    assert_eq!(
        (m.uid(), m.gid()),
        (100000, 100000),
        "owner of {}",
        f.display()
    );

    // Control: the same container without a user namespace creates files as host root.
    let mut b = h.bundle();
    b.bind(&shared, "/mnt/shared", &[]);
    b.sh("touch /mnt/shared/by-root");
    h.output_of(&b, "nouserns");
    let m = fs::metadata(shared.join("by-root")).expect("stat control file");
    assert_eq!((m.uid(), m.gid()), (0, 0));
}

#[test]
fn mount_ns_leaves_host_table_unchanged() {
    if !require_root() {
        return;
    }
    let h = Harness::new("mount_ns_leaves_host_table_unchanged");
    let before = mount_snapshot();

    let mut b = h.bundle();
    assert!(b.has_namespace("mount"));
    let marker = format!("/bvt-tmpfs-{}", token());
    b.add_mount(
        json!({"destination": marker, "type": "tmpfs", "source": "bvtmarker",
        "options": ["size=1m"]}),
    );
    b.sh(&format!("echo inside > {marker}/written; exec sleep 100"));
    let c = h.start(&b, "mntns");
    let through = format!("/proc/{}/root{marker}/written", c.pid);
    poll_true("the workload's write into its tmpfs", POLL_TIMEOUT, || {
        Path::new(&through).exists()
    });

    // The container's own table (read from the host) has its mounts…
    let theirs = parse_mountinfo(
        &fs::read_to_string(format!("/proc/{}/mountinfo", c.pid)).expect("container mountinfo"),
    );
    let find = |mp: &str| theirs.iter().find(|m| m.mount_point == mp);
    let t = find(&marker).unwrap_or_else(|| panic!("no {marker} in the container: {theirs:#?}"));
    assert_eq!(
        (t.fstype.as_str(), t.source.as_str()),
        ("tmpfs", "bvtmarker")
    );
    assert_eq!(find("/proc").map(|m| m.fstype.as_str()), Some("proc"));
    assert_ne!(
        ns_inode(c.pid, "mnt"),
        ns_inode(std::process::id() as i32, "mnt")
    );

    // …and the host's has none of them, while it runs and after.
    let (gone, added) = h.mount_changes(&before);
    assert!(
        gone.is_empty() && added.is_empty(),
        "host mount table changed while the container ran:\n removed {gone:#?}\n added {added:#?}"
    );
    assert!(
        !host_mounts().iter().any(|m| m.source == "bvtmarker"),
        "the container's tmpfs is in the host table"
    );
    h.delete_force(&c.id);
    let (gone, added) = h.mount_changes(&before);
    assert!(
        gone.is_empty() && added.is_empty(),
        "host mount table changed after the container:\n removed {gone:#?}\n added {added:#?}"
    );
    // The write went to the container's tmpfs, not to the rootfs directory under it.
    assert!(
        !b.host_path(&format!("{marker}/written")).exists(),
        "the write inside the tmpfs reached the rootfs on disk"
    );

    // Without a mount namespace, mounts would land in the host's table: refused, and nothing
    // lands.
    let mut b = h.bundle();
    b.remove_namespace("mount");
    b.add_mount(json!({"destination": marker, "type": "tmpfs", "source": "bvtmarker"}));
    let id = h.id("nomntns");
    let o = h.create(&b, &id, &[]);
    assert_ne!(
        o.code, 0,
        "mounts without a mount namespace were accepted: {o}"
    );
    assert!(!host_mounts().iter().any(|m| m.source == "bvtmarker"));
    let (gone, added) = h.mount_changes(&before);
    assert!(gone.is_empty() && added.is_empty(), "{gone:#?} {added:#?}");
}

/// Create a SysV message queue on the host; returns its id (removed when the harness drops).
fn host_msg_queue(h: &Harness) -> Option<i32> {
    // SAFETY: msgget with IPC_PRIVATE creates a new queue.
    let id = unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600) };
    if id < 0 {
        return None;
    }
    h.on_drop("remove host message queue", move || {
        // SAFETY: removing the queue we created.
        unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
    });
    Some(id)
}

fn msq_ids(text: &str) -> BTreeSet<i32> {
    // /proc/sysvipc/msg: header, then "key msqid perms …".
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect()
}

#[test]
fn ipc_ns_is_separate() {
    if !require_root() || !require_kernel("sysvipc") {
        return;
    }
    let h = Harness::new("ipc_ns_is_separate");
    let q = host_msg_queue(&h).expect("msgget on the host");
    assert!(
        msq_ids(&fs::read_to_string("/proc/sysvipc/msg").unwrap_or_default()).contains(&q),
        "the host does not list its own queue {q}"
    );

    let mut b = h.bundle();
    assert!(b.has_namespace("ipc"));
    b.args(&["sleep", "100"]);
    let c = h.start(&b, "ipcns");
    assert_ne!(
        ns_inode(c.pid, "ipc"),
        ns_inode(std::process::id() as i32, "ipc")
    );
    h.delete_force(&c.id);

    let mut b = h.bundle();
    b.args(&["cat", "/proc/sysvipc/msg"]);
    let inside = msq_ids(&h.output_of(&b, "ipcin"));
    assert!(
        !inside.contains(&q),
        "host queue {q} is visible inside: {inside:?}"
    );

    // Control: without the namespace the host's queue is visible.
    let mut b = h.bundle();
    b.remove_namespace("ipc")
        .args(&["cat", "/proc/sysvipc/msg"]);
    let shared = msq_ids(&h.output_of(&b, "noipcns"));
    assert!(
        shared.contains(&q),
        "control: host queue {q} not visible: {shared:?}"
    );
}

#[test]
fn cgroup_ns_is_separate() {
    if !require_root() || !require_kernel("cgroup_namespaces") {
        return;
    }
    let h = Harness::new("cgroup_ns_is_separate");
    let mut b = h.bundle();
    assert!(b.has_namespace("cgroup"));
    b.args(&["sleep", "100"]);
    let c = h.start(&b, "cgns");
    assert_ne!(
        ns_inode(c.pid, "cgroup"),
        ns_inode(std::process::id() as i32, "cgroup")
    );
    // From the host, the init's cgroups are the container's.
    for (_, key, path) in proc_cgroup(&c.pid.to_string()) {
        assert!(
            path.ends_with(&format!("/bvisor/{}", c.id)),
            "{key}: {path}"
        );
    }
    h.delete_force(&c.id);

    let mut b = h.bundle();
    b.args(&["cat", "/proc/self/cgroup"]);
    let inside = h.output_of(&b, "cgin");
    let lines: Vec<&str> = inside.lines().filter(|l| !l.is_empty()).collect();
    assert!(!lines.is_empty());
    for l in &lines {
        let path = l.splitn(3, ':').nth(2).unwrap_or_default();
        assert_eq!(
            path, "/",
            "inside, cgroup paths are rooted at the container: {inside}"
        );
    }

    // Control: without the namespace the container sees its real place under the host's tree.
    let mut b = h.bundle();
    b.remove_namespace("cgroup")
        .args(&["cat", "/proc/self/cgroup"]);
    let id = h.id("nocgns");
    b.save();
    let o = h.run(&["run", "--bundle", &b.dir.to_string_lossy(), &id]);
    o.expect_ok();
    for l in o.stdout.lines().filter(|l| !l.is_empty()) {
        let path = l.splitn(3, ':').nth(2).unwrap_or_default();
        assert!(
            path.ends_with(&format!("/bvisor/{id}")),
            "control: expected the host path of the container's cgroup: {l}"
        );
    }
}

/// Bind a new network namespace on a file (util-linux `unshare --net=FILE`), bring its lo up
/// so it is recognisable from inside, and unmount it when the harness drops.
fn persistent_netns(h: &Harness) -> Option<std::path::PathBuf> {
    let f = h.dir.join(format!("netns-{}", token()));
    fs::write(&f, "").ok()?;
    let o = run_host(
        "unshare",
        &[&format!("--net={}", f.display()), "true"],
        &h.dir,
    );
    if !o.ok() {
        eprintln!("unshare --net=FILE failed: {o}");
        return None;
    }
    let fc = f.clone();
    h.on_drop("unmount the persistent netns", move || {
        let p = c(&fc.to_string_lossy());
        // SAFETY: unmounting the nsfs bind this test made.
        unsafe { libc::umount2(p.as_ptr(), libc::MNT_DETACH) };
    });
    let o = run_host(
        "nsenter",
        &[
            &format!("--net={}", f.display()),
            "ip",
            "link",
            "set",
            "lo",
            "up",
        ],
        &h.dir,
    );
    o.expect_ok();
    Some(f)
}

#[test]
fn joins_netns_by_path() {
    if !require_root()
        || !require_tool("unshare")
        || !require_tool("nsenter")
        || !require_tool("ip")
    {
        return;
    }
    let h = Harness::new("joins_netns_by_path");
    let ns = persistent_netns(&h).expect("a persistent network namespace");
    let ns_ino = ns_inode_path(&ns).expect("inode of the netns file");
    assert_ne!(Some(ns_ino), ns_inode(std::process::id() as i32, "net"));

    let mut b = h.bundle();
    b.set_namespace("network", Some(&ns));
    b.sh("cat /sys/class/net/lo/flags; exec sleep 100");
    let c = h.start(&b, "joinnet");
    assert_eq!(
        ns_inode(c.pid, "net"),
        Some(ns_ino),
        "the container is not in the namespace its config names"
    );
    // Its lo is the one we brought up (a fresh namespace's lo is down: flags 0x8).
    let out = poll("the container's lo flags", POLL_TIMEOUT, || {
        let t = c.create.stdout_now();
        (!t.trim().is_empty()).then_some(t)
    });
    let flags = u32::from_str_radix(out.trim().trim_start_matches("0x"), 16).expect("flags hex");
    assert_eq!(
        flags & 1,
        1,
        "lo is down inside: not the joined namespace ({out})"
    );
    h.delete_force(&c.id);

    // Control: a container with a new network namespace is elsewhere, and its lo is down.
    let mut b = h.bundle();
    b.sh("cat /sys/class/net/lo/flags; exec sleep 100");
    let c = h.start(&b, "newnet");
    assert_ne!(ns_inode(c.pid, "net"), Some(ns_ino));
    let out = poll("the control's lo flags", POLL_TIMEOUT, || {
        let t = c.create.stdout_now();
        (!t.trim().is_empty()).then_some(t)
    });
    let flags = u32::from_str_radix(out.trim().trim_start_matches("0x"), 16).expect("flags hex");
    assert_eq!(
        flags & 1,
        0,
        "control: a fresh namespace's lo is up? ({out})"
    );
    h.delete_force(&c.id);

    // A path that is not a network namespace is refused.
    let mut b = h.bundle();
    let not_ns = Path::new("/proc/self/ns/uts");
    b.set_namespace("network", Some(not_ns));
    let id = h.id("wrongns");
    let o = h.create(&b, &id, &[]);
    assert_ne!(
        o.code, 0,
        "a uts namespace file was accepted as a network namespace: {o}"
    );
    assert!(!h.state_dir(&id).exists());
}

/// Joining by path, for every namespace type a runc config may join (ipc, mount, pid, uts,
/// cgroup, network): the container's /proc/<pid>/ns inodes are the holder's. The holder is a
/// plain `unshare` process whose namespaces are its own throwaway ones (private propagation),
/// so the container's mounts land there, never on the host. Control: a container with new
/// namespaces is elsewhere in every one.
#[test]
fn joins_every_namespace_by_path() {
    if !require_root() || !require_tool("unshare") || !require_kernel("cgroup_namespaces") {
        return;
    }
    let h = Harness::new("joins_every_namespace_by_path");
    let mut holder = Command::new("unshare")
        .args([
            "--mount",
            "--uts",
            "--ipc",
            "--net",
            "--pid",
            "--fork",
            "--cgroup",
            "--propagation",
            "private",
            "sleep",
            "100",
        ])
        // Not the test's own output: a holder outliving the test would hold it open.
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start unshare");
    let unshare_pid = holder.id() as i32;
    h.on_drop("holder", move || {
        let _ = holder.kill();
        let _ = holder.wait();
    });
    // The namespaces hold once unshare's child (sleep, pid 1 of the new pid namespace) runs.
    let sleeper: i32 = poll("the holder's child", POLL_TIMEOUT, || {
        fs::read_to_string(format!("/proc/{unshare_pid}/task/{unshare_pid}/children"))
            .ok()
            .and_then(|t| t.split_whitespace().next().and_then(|p| p.parse().ok()))
            .filter(|p: &i32| {
                cmdline(*p).is_some_and(|c| c.first().map(String::as_str) == Some("sleep"))
            })
    });
    let types = [
        ("ipc", "ipc"),
        ("mount", "mnt"),
        ("pid", "pid"),
        ("uts", "uts"),
        ("cgroup", "cgroup"),
        ("network", "net"),
    ];
    let mut b = h.bundle();
    for (oci, proc_name) in types {
        let p = PathBuf::from(format!("/proc/{sleeper}/ns/{proc_name}"));
        b.set_namespace(oci, Some(&p));
    }
    b.args(&["sleep", "100"]);
    let c = h.start(&b, "joined");
    for (_, proc_name) in types {
        assert_eq!(
            ns_inode(c.pid, proc_name),
            ns_inode(sleeper, proc_name),
            "{proc_name}: not the namespace the config names"
        );
    }
    // Control: new namespaces differ from the holder's in every type.
    let mut ctl = h.bundle();
    ctl.args(&["sleep", "100"]);
    let c2 = h.start(&ctl, "new");
    for (_, proc_name) in types {
        assert_ne!(
            ns_inode(c2.pid, proc_name),
            ns_inode(sleeper, proc_name),
            "{proc_name}: control shares the holder's namespace"
        );
    }
}

/// A container with its own network namespace cannot connect to a listener on the host's
/// loopback (ground truth: the listener never accepts). Control: a container sharing the host's
/// network namespace does connect, and the listener accepts it.
#[test]
fn net_ns_cannot_reach_host_loopback() {
    if !require_root() {
        return;
    }
    let h = Harness::new("netns_loopback");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept and close at once (so a connected nc sees EOF and exits), counting connections.
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acceptor = {
        let (count, stop) = (count.clone(), stop.clone());
        std::thread::spawn(move || {
            use std::sync::atomic::Ordering::Relaxed;
            while !stop.load(Relaxed) {
                match listener.accept() {
                    Ok(_) => {
                        count.fetch_add(1, Relaxed);
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        })
    };
    let accepted = || count.load(std::sync::atomic::Ordering::Relaxed);
    let script = format!("nc -w 2 127.0.0.1 {port} </dev/null; echo nc-exit=$?");

    let mut b = h.bundle();
    assert!(b.has_namespace("network"));
    b.sh(&script);
    let out = h.run_container(&b, "own");
    assert!(out.stdout.contains("nc-exit="), "{out}");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(
        accepted(),
        0,
        "the host listener accepted a connection from the netns"
    );

    let mut b = h.bundle();
    b.remove_namespace("network");
    b.sh(&script);
    let out = h.run_container(&b, "host");
    assert!(out.stdout.contains("nc-exit=0"), "control: {out}");
    poll_true("control connection accepted", POLL_TIMEOUT, || {
        accepted() > 0
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    acceptor.join().unwrap();
}
