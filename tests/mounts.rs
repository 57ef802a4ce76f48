//! The container's filesystem, graded by the world: the host's directories and mount table, the
//! container's mountinfo (read from the host through /proc/<pid>), stat of device nodes, writes
//! that do or do not reach the disk. Each deny check has a control without the confinement.

use bvisor_tests::*;
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The container's mount table, read from the host.
fn container_mounts(pid: i32) -> Vec<Mount> {
    parse_mountinfo(
        &fs::read_to_string(format!("/proc/{pid}/mountinfo")).expect("read container mountinfo"),
    )
}

/// `key=value` lines a workload printed.
fn kv(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
}

#[test]
fn symlinked_mount_destination_stays_in_rootfs() {
    if !require_root() {
        return;
    }
    let h = Harness::new("symlinked_mount_destination_stays_in_rootfs");
    let tok = token();
    let host_x = PathBuf::from(format!("/bvt-x-{tok}"));
    assert!(
        !host_x.exists(),
        "{} exists before the test",
        host_x.display()
    );
    // A host directory the second symlink points at, with a canary in it.
    let marker_name = format!("bvt-marker-{tok}");
    let host_marker = Path::new("/tmp").join(&marker_name);
    fs::create_dir_all(&host_marker).expect("host marker dir");
    fs::write(host_marker.join("canary"), "host").expect("canary");
    {
        let (x, m) = (host_x.clone(), host_marker.clone());
        h.on_drop("remove host marker dirs", move || {
            let _ = fs::remove_dir_all(&m);
            // Only ever an empty directory a broken runtime made.
            let _ = fs::remove_dir(&x);
        });
    }

    let mut b = h.bundle();
    std::os::unix::fs::symlink("/", b.host_path("/evil")).expect("symlink /evil");
    std::os::unix::fs::symlink(
        format!("../../../../tmp/{marker_name}"),
        b.host_path("/evil2"),
    )
    .expect("symlink /evil2");
    // The symlink's target inside the rootfs, where a mount through it must land.
    fs::create_dir_all(b.host_path(&format!("/tmp/{marker_name}"))).expect("in-rootfs target");
    b.add_mount(
        json!({"destination": format!("/evil/bvt-x-{tok}"), "type": "tmpfs",
        "source": "bvtevil1", "options": ["size=1m"]}),
    );
    b.add_mount(
        json!({"destination": "/evil2", "type": "tmpfs", "source": "bvtevil2",
        "options": ["size=1m"]}),
    );
    b.sh(&format!(
        "echo inside > /evil/bvt-x-{tok}/probe; echo inside > /evil2/probe; exec sleep 100"
    ));
    let before = mount_snapshot();
    let c = h.start(&b, "symlink");

    // Inside, the mounts sit at the symlinks' targets resolved within the rootfs.
    let mounts = container_mounts(c.pid);
    let at = |src: &str| {
        mounts
            .iter()
            .find(|m| m.source == src)
            .map(|m| m.mount_point.clone())
    };
    assert_eq!(at("bvtevil1"), Some(format!("/bvt-x-{tok}")), "{mounts:#?}");
    assert_eq!(
        at("bvtevil2"),
        Some(format!("/tmp/{marker_name}")),
        "{mounts:#?}"
    );
    // The mount point made for /evil/x is a directory of the rootfs on disk.
    assert!(b.host_path(&format!("/bvt-x-{tok}")).is_dir());
    poll_true("the workload's probes", POLL_TIMEOUT, || {
        fs::read_to_string(format!("/proc/{}/root/tmp/{marker_name}/probe", c.pid)).is_ok()
    });

    // The host is untouched: no /bvt-x-…, the marker dir holds only its canary, no new mounts.
    assert!(
        !host_x.exists(),
        "{} appeared on the host",
        host_x.display()
    );
    let entries: Vec<String> = fs::read_dir(&host_marker)
        .expect("marker dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        entries,
        vec!["canary".to_string()],
        "host marker dir changed"
    );
    assert_eq!(
        fs::read_to_string(host_marker.join("canary")).unwrap(),
        "host"
    );
    let (gone, added) = h.mount_changes(&before);
    let ours = |l: &String| l.contains("bvtevil") || l.contains(&tok);
    assert!(
        !gone.iter().any(ours) && !added.iter().any(ours),
        "host mount table: removed {gone:#?} added {added:#?}"
    );
}

#[test]
fn readonly_root_refuses_write() {
    if !require_root() {
        return;
    }
    let h = Harness::new("readonly_root_refuses_write");
    let script = "touch /bvt-written; echo rc=$?";

    let mut b = h.bundle();
    b.config["root"]["readonly"] = json!(true);
    b.sh(script);
    let out = h.output_of(&b, "ro");
    assert_ne!(
        kv(&out, "rc").as_deref(),
        Some("0"),
        "touch / succeeded: {out}"
    );
    assert!(
        !b.host_path("/bvt-written").exists(),
        "the file reached the rootfs"
    );

    // Control: a writable root takes the write, and it lands in the rootfs on disk.
    let mut b = h.bundle();
    b.config["root"]["readonly"] = json!(false);
    b.sh(script);
    let out = h.output_of(&b, "rw");
    assert_eq!(kv(&out, "rc").as_deref(), Some("0"), "control: {out}");
    assert!(
        b.host_path("/bvt-written").is_file(),
        "control: no file in the rootfs"
    );
}

#[test]
fn masked_paths_are_hidden() {
    if !require_root() {
        return;
    }
    let h = Harness::new("masked_paths_are_hidden");
    let b = h.bundle();
    let masked: Vec<String> =
        serde_json::from_value(b.config["linux"]["maskedPaths"].clone()).unwrap_or_default();
    // A masked file the kernel has here and that has content when unmasked (kcore is not
    // readable without CAP_SYS_RAWIO, so it comes last), and a masked directory.
    let Some(file) = ["/proc/timer_list", "/proc/keys", "/proc/kcore"]
        .into_iter()
        .find(|p| masked.iter().any(|m| m == p) && Path::new(p).is_file())
    else {
        skip("none of the default maskedPaths files exists on this kernel");
        return;
    };
    let dir = "/sys/firmware";
    assert!(masked.iter().any(|m| m == dir));
    let host_dir = fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    let script = format!(
        "stat -c 'f=%F|%t:%T|%s' {file}; echo \"n=$(head -c 64 {file} 2>/dev/null | wc -c)\"; \
         echo \"d=$(ls -A {dir} | wc -l)\""
    );

    let mut b = h.bundle();
    b.sh(&script);
    let out = h.output_of(&b, "masked");
    let f = kv(&out, "f").unwrap_or_default();
    assert!(
        f.starts_with("character special file|1:3|"),
        "{file} is not /dev/null inside: {out}"
    );
    assert_eq!(
        kv(&out, "n").as_deref(),
        Some("0"),
        "{file} has content inside: {out}"
    );
    assert_eq!(
        kv(&out, "d").as_deref(),
        Some("0"),
        "{dir} not empty inside: {out}"
    );

    // Control: without maskedPaths the same file is the kernel's, with content, and the
    // directory lists the host's entries.
    let mut b = h.bundle();
    b.linux()["maskedPaths"] = json!([]);
    b.sh(&script);
    let out = h.output_of(&b, "unmasked");
    let f = kv(&out, "f").unwrap_or_default();
    assert!(f.starts_with("regular"), "control: {out}");
    if file == "/proc/kcore" {
        let size: u64 = f
            .rsplit('|')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        assert!(size > 0, "control: kcore size {size}: {out}");
    } else {
        assert_ne!(
            kv(&out, "n").as_deref(),
            Some("0"),
            "control: {file} empty: {out}"
        );
    }
    if host_dir > 0 {
        assert_eq!(kv(&out, "d"), Some(host_dir.to_string()), "control: {out}");
    }
}

#[test]
fn readonly_paths_refuse_write() {
    if !require_root() {
        return;
    }
    let h = Harness::new("readonly_paths_refuse_write");
    let host_dom = fs::read_to_string("/proc/sys/kernel/domainname").unwrap_or_default();
    let want = format!("bvt{}", token());
    let script = format!(
        "echo {want} > /proc/sys/kernel/domainname; echo rc=$?; echo dom=$(cat /proc/sys/kernel/domainname)"
    );

    let mut b = h.bundle();
    assert!(
        b.has_namespace("uts"),
        "the write must stay in the container's uts namespace"
    );
    let ro: Vec<String> =
        serde_json::from_value(b.config["linux"]["readonlyPaths"].clone()).unwrap_or_default();
    assert!(ro.iter().any(|p| p == "/proc/sys"));
    b.sh(&script);
    let out = h.output_of(&b, "ro");
    assert_ne!(
        kv(&out, "rc").as_deref(),
        Some("0"),
        "write to /proc/sys succeeded: {out}"
    );
    assert_ne!(kv(&out, "dom"), Some(want.clone()), "{out}");

    // Control: without readonlyPaths the same write lands (in the container's uts namespace).
    let mut b = h.bundle();
    b.linux()["readonlyPaths"] = json!([]);
    b.sh(&script);
    let out = h.output_of(&b, "rw");
    assert_eq!(kv(&out, "rc").as_deref(), Some("0"), "control: {out}");
    assert_eq!(kv(&out, "dom"), Some(want.clone()), "control: {out}");
    assert_eq!(
        fs::read_to_string("/proc/sys/kernel/domainname").unwrap_or_default(),
        host_dom,
        "the host's domainname changed"
    );
}

#[test]
fn bind_mount_flags_hold() {
    if !require_root() {
        return;
    }
    let h = Harness::new("bind_mount_flags_hold");
    let d = h.mkdir("bind");
    // Named busybox so it runs as busybox (it dispatches on argv[0]).
    let bb = d.join("busybox");
    fs::copy(shared_rootfs().join("bin/busybox"), &bb).expect("copy busybox");
    fs::set_permissions(&bb, fs::Permissions::from_mode(0o755)).expect("chmod");

    let mut b = h.bundle();
    b.bind(&d, "/ro", &["ro"]);
    b.bind(&d, "/rw", &[]);
    b.bind(&d, "/nx", &["noexec", "nosuid", "nodev"]);
    b.sh("touch /ro/f-ro; echo ro=$?; touch /rw/f-rw; echo rw=$?; \
         /nx/busybox true; echo nx=$?; /rw/busybox true; echo x=$?; echo done=1; exec sleep 100");
    let c = h.start(&b, "flags");
    let out = poll("the workload's report", POLL_TIMEOUT, || {
        let t = c.create.stdout_now();
        t.contains("done=1").then_some(t)
    });
    // Read-only bind: the write fails and nothing reaches the host dir; the writable one lands.
    assert_ne!(kv(&out, "ro").as_deref(), Some("0"), "{out}");
    assert!(
        !d.join("f-ro").exists(),
        "a write through the ro bind reached the host"
    );
    assert_eq!(kv(&out, "rw").as_deref(), Some("0"), "control: {out}");
    assert!(
        d.join("f-rw").is_file(),
        "control: the rw bind's write is not on the host"
    );
    // noexec: the same binary does not run from the noexec bind, runs from the other.
    assert_ne!(
        kv(&out, "nx").as_deref(),
        Some("0"),
        "exec from a noexec bind worked: {out}"
    );
    assert_eq!(
        kv(&out, "x").as_deref(),
        Some("0"),
        "control: exec from the plain bind: {out}"
    );
    // The flags as the kernel shows them in the container's table.
    let mounts = container_mounts(c.pid);
    let at = |mp: &str| {
        mounts
            .iter()
            .find(|m| m.mount_point == mp)
            .unwrap_or_else(|| panic!("no mount at {mp}: {mounts:#?}"))
    };
    assert!(at("/ro").has_option("ro"), "{}", at("/ro").line);
    assert!(at("/rw").has_option("rw"), "{}", at("/rw").line);
    for o in ["noexec", "nosuid", "nodev"] {
        assert!(at("/nx").has_option(o), "{o} missing: {}", at("/nx").line);
        assert!(
            !at("/rw").has_option(o),
            "control has {o}: {}",
            at("/rw").line
        );
    }
}

#[test]
fn standard_filesystems_mounted() {
    if !require_root() {
        return;
    }
    let h = Harness::new("standard_filesystems_mounted");
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    let c = h.start(&b, "std");
    let mounts = container_mounts(c.pid);
    let fstype = |mp: &str| {
        mounts
            .iter()
            .rev()
            .find(|m| m.mount_point == mp)
            .map(|m| m.fstype.clone())
    };
    for (mp, t) in [
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
        ("/sys", "sysfs"),
    ] {
        assert_eq!(fstype(mp).as_deref(), Some(t), "{mp}: {mounts:#?}");
    }
    assert!(
        fstype("/sys/fs/cgroup").is_some(),
        "no /sys/fs/cgroup: {mounts:#?}"
    );
    let sys = mounts
        .iter()
        .rev()
        .find(|m| m.mount_point == "/sys")
        .unwrap();
    assert!(sys.has_option("ro"), "/sys is not read-only: {}", sys.line);
    // /proc is the container's: its pid 1 is the container init.
    let init_comm =
        fs::read_to_string(format!("/proc/{}/root/proc/1/comm", c.pid)).expect("container /proc/1");
    assert_eq!(init_comm.trim(), "sleep");

    // /sys/fs/cgroup shows the container's own cgroup in every hierarchy: the very directory
    // (same device and inode) bvisor made under our cgroup, listing the init.
    let hier = cgroup_hierarchies();
    assert!(!hier.is_empty());
    let cg_root = PathBuf::from(format!("/proc/{}/root/sys/fs/cgroup", c.pid));
    let names: Vec<String> = fs::read_dir(&cg_root)
        .expect("list /sys/fs/cgroup inside")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for hh in &hier {
        let host = fs::metadata(hh.container_dir(&c.id)).expect("host container cgroup");
        let found = names.iter().any(|n| {
            fs::metadata(cg_root.join(n))
                .is_ok_and(|m| (m.dev(), m.ino()) == (host.dev(), host.ino()))
        });
        assert!(
            found,
            "{}: the container's cgroup {} is not under /sys/fs/cgroup inside ({names:?})",
            hh.name(),
            hh.container_dir(&c.id).display()
        );
    }
}

#[test]
fn devices_created() {
    if !require_root() {
        return;
    }
    let h = Harness::new("devices_created");
    let mut b = h.bundle();
    // /dev/sg0 carries set-id bits, which chown clears: the launcher restores them through an
    // O_PATH fd of the node it made, never by name.
    b.linux()["devices"] = json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
        "fileMode": 0o640, "uid": 1234, "gid": 5678},
        {"path": "/dev/sg0", "type": "c", "major": 1, "minor": 3,
        "fileMode": 0o6640, "uid": 1234, "gid": 5678}]);
    b.sh("echo x > /dev/null; echo null=$?; echo z=$(head -c 4 /dev/zero | wc -c); echo done=1; exec sleep 100");
    let c = h.start(&b, "dev");
    let dev = |n: &str| fs::symlink_metadata(format!("/proc/{}/root/dev/{n}", c.pid));
    for (n, maj, min) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let m = dev(n).unwrap_or_else(|e| panic!("/dev/{n} inside: {e}"));
        assert!(
            m.file_type().is_char_device(),
            "/dev/{n} is not a char device"
        );
        assert_eq!(
            (libc::major(m.rdev()), libc::minor(m.rdev())),
            (maj, min),
            "/dev/{n}"
        );
        assert_eq!(m.mode() & 0o777, 0o666, "/dev/{n} mode {:o}", m.mode());
    }
    let fuse = dev("fuse").expect("/dev/fuse inside");
    assert!(fuse.file_type().is_char_device());
    assert_eq!(
        (libc::major(fuse.rdev()), libc::minor(fuse.rdev())),
        (10, 229)
    );
    assert_eq!(fuse.mode() & 0o7777, 0o640, "mode {:o}", fuse.mode());
    assert_eq!((fuse.uid(), fuse.gid()), (1234, 5678));
    let sg = dev("sg0").expect("/dev/sg0 inside");
    assert_eq!(sg.mode() & 0o7777, 0o6640, "mode {:o}", sg.mode());
    assert_eq!((sg.uid(), sg.gid()), (1234, 5678));
    // The nodes work (device cgroup lets the standard ones through).
    let out = poll("the workload's report", POLL_TIMEOUT, || {
        let t = c.create.stdout_now();
        t.contains("done=1").then_some(t)
    });
    assert_eq!(kv(&out, "null").as_deref(), Some("0"), "{out}");
    assert_eq!(kv(&out, "z").as_deref(), Some("4"), "{out}");
    // Devices nobody asked for are absent (the host has /dev/mem; the container does not).
    if Path::new("/dev/mem").exists() {
        assert!(dev("mem").is_err(), "/dev/mem exists inside");
    }
}

#[test]
fn sysctl_applied() {
    if !require_root() {
        return;
    }
    let h = Harness::new("sysctl_applied");
    let read_host = |k: &str| {
        fs::read_to_string(format!("/proc/sys/net/ipv4/{k}"))
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let host_before = (read_host("ip_forward"), read_host("ip_default_ttl"));
    let script = "echo fwd=$(cat /proc/sys/net/ipv4/ip_forward); echo ttl=$(cat /proc/sys/net/ipv4/ip_default_ttl)";

    let mut b = h.bundle();
    assert!(b.has_namespace("network"));
    b.linux()["sysctl"] = json!({"net.ipv4.ip_forward": "1", "net.ipv4.ip_default_ttl": "77"});
    b.sh(script);
    let out = h.output_of(&b, "sysctl");
    assert_eq!(kv(&out, "fwd").as_deref(), Some("1"), "{out}");
    assert_eq!(kv(&out, "ttl").as_deref(), Some("77"), "{out}");
    assert_eq!(
        (read_host("ip_forward"), read_host("ip_default_ttl")),
        host_before
    );

    // Control: without linux.sysctl the namespace has the kernel's defaults.
    let mut b = h.bundle();
    b.sh(script);
    let out = h.output_of(&b, "nosysctl");
    assert_ne!(kv(&out, "ttl").as_deref(), Some("77"), "control: {out}");
    assert_ne!(kv(&out, "fwd").as_deref(), Some("1"), "control: {out}");

    // A net sysctl without a network namespace would set the host's: refused. bvisor runs in a
    // throwaway network namespace here, so a runtime that does apply it changes only that.
    if !require_tool("unshare") {
        return;
    }
    let mut b = h.bundle();
    b.remove_namespace("network");
    b.linux()["sysctl"] = json!({"net.ipv4.ip_default_ttl": "77"});
    b.args(&["true"]);
    b.save();
    let id = h.id("nonetns");
    let script = format!(
        "{bin} --root {root} run --bundle {bundle} {id}; echo \"rc=$?\"; echo \"ttl=$(cat /proc/sys/net/ipv4/ip_default_ttl)\"",
        bin = bvisor_bin().display(),
        root = h.root.display(),
        bundle = b.dir.display(),
    );
    let o = run_host("unshare", &["--net", "sh", "-c", &script], &h.dir);
    assert_ne!(
        kv(&o.stdout, "ttl").as_deref(),
        Some("77"),
        "applied without a netns: {o}"
    );
    assert_ne!(
        kv(&o.stdout, "rc").as_deref(),
        Some("0"),
        "accepted without a netns: {o}"
    );
    assert_eq!(
        (read_host("ip_forward"), read_host("ip_default_ttl")),
        host_before
    );
}

#[test]
fn no_pivot_uses_chroot() {
    if !require_root() || !require_kernel("listmount") {
        return;
    }
    let h = Harness::new("no_pivot_uses_chroot");
    let host_mounts = mntns_mount_count(std::process::id() as i32).expect("listmount host");

    // --no-pivot: the container runs, but its mount namespace still holds the host's mounts
    // under the moved root (the kernel counts them; the container's mountinfo cannot see them).
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    let c = h.start_with(&b, "nopivot", &["--no-pivot"]);
    assert_eq!(cmdline(c.pid).unwrap_or_default(), ["sleep", "100"]);
    let held = mntns_mount_count(c.pid).expect("listmount container");
    let visible = visible_mount_count(c.pid);
    assert!(visible > 0);
    assert!(
        held - visible >= host_mounts / 2,
        "--no-pivot: {held} mounts in the namespace, {visible} visible; expected the host's \
         {host_mounts} to remain beneath the root"
    );
    // The root the container sees is its rootfs all the same.
    assert!(Path::new(&format!("/proc/{}/root/.bvisor-rootfs", c.pid)).exists());
    h.delete_force(&c.id);

    // Control: with pivot_root the old root is gone from the namespace.
    let c = h.start(&b, "pivot");
    let held = mntns_mount_count(c.pid).expect("listmount container");
    let visible = visible_mount_count(c.pid);
    assert!(
        held <= visible + 1,
        "pivot_root: {held} mounts held, {visible} visible: the old root is still there"
    );
}

#[test]
fn mount_propagation_applied() {
    if !require_root() {
        return;
    }
    let h = Harness::new("mount_propagation_applied");
    let peer_group = |m: &Mount, p: &str| {
        m.optional
            .iter()
            .find_map(|o| o.strip_prefix(p).map(str::to_string))
    };

    // rootfsPropagation shared, and per-mount shared / private / rslave / rprivate.
    let mut b = h.bundle();
    let rootfs = b.rootfs.to_string_lossy().into_owned();
    // The bind source must exist when the runtime checks it; the tmpfs covers it inside.
    fs::create_dir_all(b.host_path("/psh")).expect("mkdir rootfs/psh");
    b.linux()["rootfsPropagation"] = json!("shared");
    b.add_mount(
        json!({"destination": "/psh", "type": "tmpfs", "source": "bvtpsh",
        "options": ["shared"]}),
    );
    b.add_mount(
        json!({"destination": "/ppr", "type": "tmpfs", "source": "bvtppr",
        "options": ["private"]}),
    );
    // Binds of the shared tmpfs (through its path in the rootfs, where it is mounted before
    // these run): rslave makes a slave of its peer group, rprivate cuts it off.
    b.add_mount(json!({"destination": "/pslave", "type": "bind",
        "source": format!("{rootfs}/psh"), "options": ["rbind", "rslave"]}));
    b.add_mount(json!({"destination": "/pcut", "type": "bind",
        "source": format!("{rootfs}/psh"), "options": ["rbind", "rprivate"]}));
    b.args(&["sleep", "100"]);
    let c = h.start(&b, "shared");
    let mounts = container_mounts(c.pid);
    let at = |mp: &str| {
        mounts
            .iter()
            .rev()
            .find(|m| m.mount_point == mp)
            .unwrap_or_else(|| panic!("no mount at {mp}: {mounts:#?}"))
            .clone()
    };
    assert!(
        at("/").optional_prefixed("shared:"),
        "/ not shared: {}",
        at("/").line
    );
    let psh = at("/psh");
    let group = peer_group(&psh, "shared:").unwrap_or_else(|| {
        panic!(
            "/psh was mounted with \"shared\" but has no peer group: {}",
            psh.line
        )
    });
    let ppr = at("/ppr");
    assert!(
        ppr.optional.is_empty(),
        "/ppr should be private: {}",
        ppr.line
    );
    let slave = at("/pslave");
    assert_eq!(
        peer_group(&slave, "master:"),
        Some(group.clone()),
        "/pslave is not a slave of /psh's group: {}",
        slave.line
    );
    assert!(!slave.optional_prefixed("shared:"), "{}", slave.line);
    let cut = at("/pcut");
    assert!(
        cut.optional.is_empty(),
        "/pcut should be private: {}",
        cut.line
    );
    h.delete_force(&c.id);

    // Control: rootfsPropagation private leaves / without a peer group or master.
    let mut b = h.bundle();
    b.linux()["rootfsPropagation"] = json!("private");
    b.args(&["sleep", "100"]);
    let c = h.start(&b, "private");
    let mounts = container_mounts(c.pid);
    let root = mounts
        .iter()
        .find(|m| m.mount_point == "/")
        .expect("/ in mountinfo");
    assert!(
        !root.optional_prefixed("shared:") && !root.optional_prefixed("master:"),
        "control: / should be private: {}",
        root.line
    );
}

/// Mounts at and under /sys/fs/cgroup in a container's mountinfo, read from the host.
fn cgroup_tree_mounts(pid: i32) -> Vec<Mount> {
    container_mounts(pid)
        .into_iter()
        .filter(|m| {
            m.mount_point == "/sys/fs/cgroup" || m.mount_point.starts_with("/sys/fs/cgroup/")
        })
        .collect()
}

/// The workload tries to make a cgroup in /sys/fs/cgroup and in each directory under it (the
/// container's own cgroup in each hierarchy), removing any it made: `made=DIR` or `refused=DIR`.
const CGROUP_PROBE: &str = "for d in /sys/fs/cgroup /sys/fs/cgroup/*/; do \
    if mkdir \"$d/bvisor-probe\" 2>/dev/null; then rmdir \"$d/bvisor-probe\"; echo made=$d; \
    else echo refused=$d; fi; done";

/// /sys/fs/cgroup is read-only all the way down, as its `ro` option asks: every mount at or
/// under it is `ro` in the container's mountinfo (bvisor sets the flags of the whole tree with
/// one recursive mount_setattr), and root inside cannot make a cgroup anywhere in it. Control:
/// the same mount with `rw` is writable in the same places, so the refusals are the option's.
#[test]
fn the_cgroup_mount_is_read_only_all_the_way_down() {
    if !require_root() {
        return;
    }
    let h = Harness::new("cgroup_mount_ro");
    let with_option = |opt: &str| {
        let mut b = h.bundle();
        let mounts = b.config["mounts"].as_array_mut().expect("mounts");
        let cg = mounts
            .iter_mut()
            .find(|m| m["type"] == "cgroup")
            .expect("the template mounts cgroup");
        let mut options: Vec<Value> = cg["options"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|o| o != "ro" && o != "rw")
            .collect();
        options.push(json!(opt));
        cg["options"] = json!(options);
        b
    };
    let probe = |opt: &str| -> (Vec<Mount>, String) {
        let mut b = with_option(opt);
        b.sh(&format!("{CGROUP_PROBE}; echo probed=1; exec sleep 100"));
        let c = h.start(&b, opt);
        let out = poll(
            "the probe's output",
            std::time::Duration::from_secs(10),
            || {
                let o = c.create.stdout_now();
                o.contains("probed=1").then_some(o)
            },
        );
        let mounts = cgroup_tree_mounts(c.pid);
        h.delete_force(&c.id);
        (mounts, out)
    };

    let (mounts, out) = probe("ro");
    // A tmpfs with a bind per hierarchy, or (cgroup2 and a cgroup namespace) one cgroup2 mount.
    assert!(!mounts.is_empty(), "no mount at /sys/fs/cgroup");
    for m in &mounts {
        assert!(m.has_option("ro"), "not read-only: {}", m.line);
    }
    assert!(
        !out.contains("made="),
        "a cgroup was made under a ro mount:\n{out}"
    );
    let refused = out.matches("refused=").count();
    assert!(refused >= 1, "{out}");

    let (mounts, out) = probe("rw");
    for m in &mounts {
        assert!(m.has_option("rw"), "control: read-only: {}", m.line);
    }
    assert!(
        !out.contains("refused="),
        "control: refused under rw:\n{out}"
    );
    assert_eq!(out.matches("made=").count(), refused, "{out}");
}
