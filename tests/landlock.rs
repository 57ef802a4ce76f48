//! Landlock, graded by the world: writes that do or do not reach the rootfs on disk, errnos the
//! workload sees. Each deny check has a control without the confinement.

use bvisor_tests::*;
use serde_json::json;

/// `key=value` lines a workload printed.
fn kv(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(|v| v.trim().to_string())
}

const ALL_CAPS_ADMIN: [&str; 3] = ["CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE", "CAP_CHOWN"];

/// With `root.readonly`, the container holds CAP_SYS_ADMIN and remounts `/` read-write (the
/// mount flag "lost"); the landlock layer still refuses the write, and writes beneath a writable
/// mount (/dev/shm) still work. Control: the same config with a writable root (no landlock
/// layer) takes the write after the remount, and it lands in the rootfs on disk.
#[test]
fn landlock_backs_readonly_root() {
    if !require_root() {
        return;
    }
    let h = Harness::new("landlock_backs_readonly_root");
    let script = "mount -o remount,rw / 2>&1; echo mrc=$?; \
                  touch /bvt-landlock 2>&1; echo rc=$?; \
                  echo x > /dev/shm/bvt-ok; echo shm=$?";
    let caps = json!({
        "bounding": ALL_CAPS_ADMIN, "effective": ALL_CAPS_ADMIN, "permitted": ALL_CAPS_ADMIN,
    });

    let mut b = h.bundle();
    b.config["root"]["readonly"] = json!(true);
    b.process()["capabilities"] = caps.clone();
    b.sh(script);
    let out = h.output_of(&b, "ro");
    // The flag cannot be lost from inside: landlock refuses a sandboxed process any change to
    // the mount topology, and the write stays refused.
    assert_ne!(
        kv(&out, "mrc").as_deref(),
        Some("0"),
        "remount succeeded: {out}"
    );
    assert_ne!(
        kv(&out, "rc").as_deref(),
        Some("0"),
        "touch / succeeded: {out}"
    );
    assert!(
        !b.host_path("/bvt-landlock").exists(),
        "the file reached the rootfs"
    );
    assert_eq!(
        kv(&out, "shm").as_deref(),
        Some("0"),
        "/dev/shm refused: {out}"
    );

    // Without no_new_privs the launcher restricts itself before dropping CAP_SYS_ADMIN: the
    // same domain holds.
    let mut b = h.bundle();
    b.config["root"]["readonly"] = json!(true);
    b.process()["noNewPrivileges"] = json!(false);
    b.process()["capabilities"] = caps.clone();
    b.sh(script);
    let out = h.output_of(&b, "ro-nnp-off");
    assert_ne!(
        kv(&out, "mrc").as_deref(),
        Some("0"),
        "remount succeeded: {out}"
    );
    assert_ne!(
        kv(&out, "rc").as_deref(),
        Some("0"),
        "touch / succeeded: {out}"
    );
    assert!(
        !b.host_path("/bvt-landlock").exists(),
        "the file reached the rootfs"
    );
    assert_eq!(
        kv(&out, "shm").as_deref(),
        Some("0"),
        "/dev/shm refused: {out}"
    );

    // Control: no landlock layer; CAP_SYS_ADMIN remounts and the write lands on disk.
    let mut b = h.bundle();
    b.config["root"]["readonly"] = json!(false);
    b.process()["capabilities"] = caps;
    b.sh(script);
    let out = h.output_of(&b, "rw");
    assert_eq!(
        kv(&out, "mrc").as_deref(),
        Some("0"),
        "control remount: {out}"
    );
    assert_eq!(kv(&out, "rc").as_deref(), Some("0"), "control: {out}");
    assert!(
        b.host_path("/bvt-landlock").is_file(),
        "control: no file in the rootfs"
    );
}

/// `bvisor exec` into a `root.readonly` container gets the same landlock domain: with
/// CAP_SYS_ADMIN it can neither remount `/` read-write nor write there, while /dev/shm takes
/// writes. Control: the same exec into a container with a writable root remounts and writes.
#[test]
fn landlock_applies_to_exec() {
    if !require_root() {
        return;
    }
    let h = Harness::new("landlock_applies_to_exec");
    let script = "mount -o remount,rw / 2>&1; echo mrc=$?; \
                  touch /bvt-exec 2>&1; echo rc=$?; \
                  echo x > /dev/shm/bvt-ok; echo shm=$?";
    let caps = json!({
        "bounding": ALL_CAPS_ADMIN, "effective": ALL_CAPS_ADMIN, "permitted": ALL_CAPS_ADMIN,
    });
    let mut b = h.bundle();
    b.config["root"]["readonly"] = json!(true);
    b.process()["capabilities"] = caps.clone();
    b.args(&["sleep", "100"]);
    let c = h.start(&b, "ro");
    let out = h.run(&["exec", &c.id, "sh", "-c", script]);
    assert_ne!(
        kv(&out.stdout, "mrc").as_deref(),
        Some("0"),
        "exec remounted: {out:?}"
    );
    assert_ne!(
        kv(&out.stdout, "rc").as_deref(),
        Some("0"),
        "exec wrote /: {out:?}"
    );
    assert_eq!(
        kv(&out.stdout, "shm").as_deref(),
        Some("0"),
        "exec /dev/shm: {out:?}"
    );
    assert!(
        !b.host_path("/bvt-exec").exists(),
        "the file reached the rootfs"
    );
    h.delete_force(&c.id);

    // Control: a writable root; the same exec remounts and writes to disk.
    let mut b = h.bundle();
    b.config["root"]["readonly"] = json!(false);
    b.process()["capabilities"] = caps;
    b.args(&["sleep", "100"]);
    let c = h.start(&b, "rw");
    let out = h.run(&["exec", &c.id, "sh", "-c", script]);
    assert_eq!(
        kv(&out.stdout, "mrc").as_deref(),
        Some("0"),
        "control: {out:?}"
    );
    assert_eq!(
        kv(&out.stdout, "rc").as_deref(),
        Some("0"),
        "control: {out:?}"
    );
    assert!(
        b.host_path("/bvt-exec").is_file(),
        "control: no file in the rootfs"
    );
    h.delete_force(&c.id);
}

/// Writes the workload attempts: into the allowed mount and into a second one. Ground truth is
/// which files land on the host.
/// (No `2>/dev/null`: with write_file handled, opening /dev/null for writing is refused too.)
const WRITE_BOTH: &str = "echo a > /allowed/f; echo allowed=$?; echo d > /denied/f; echo denied=$?";

/// `process.landlock` with filesystem rules, at each ABI the planner can pick: writes land only
/// beneath the allowed path (read from the host). Control: without the ruleset both land.
#[test]
fn process_landlock_fs_rules_hold() {
    if !require_root() {
        return;
    }
    let h = Harness::new("process_landlock_fs");
    // (tag, handled rights): ABI 1, 2 (refer), 3 (truncate), 5 (every filesystem right).
    let abi1 = vec!["write_file", "make_reg", "remove_file"];
    let mut abi2 = abi1.clone();
    abi2.push("refer");
    let mut abi3 = abi2.clone();
    abi3.push("truncate");
    let abi5 = vec![
        "execute",
        "write_file",
        "read_file",
        "read_dir",
        "remove_dir",
        "remove_file",
        "make_char",
        "make_dir",
        "make_reg",
        "make_sock",
        "make_fifo",
        "make_block",
        "make_sym",
        "refer",
        "truncate",
        "ioctl_dev",
    ];
    for (tag, handled) in [
        ("abi1", abi1),
        ("abi2", abi2),
        ("abi3", abi3),
        ("abi5", abi5),
    ] {
        let mut b = h.bundle();
        let (allowed, denied) = (h.mkdir(&format!("{tag}-a")), h.mkdir(&format!("{tag}-d")));
        b.bind(&allowed, "/allowed", &["rw"]);
        b.bind(&denied, "/denied", &["rw"]);
        // Everything the shell needs stays allowed beneath /; writes only beneath /allowed.
        let read_side: Vec<&str> = handled
            .iter()
            .copied()
            .filter(|r| ["execute", "read_file", "read_dir"].contains(r))
            .collect();
        let mut rules = vec![json!({"allowedAccess": handled, "paths": ["/allowed"]})];
        if !read_side.is_empty() {
            rules.push(json!({"allowedAccess": read_side, "paths": ["/"]}));
        }
        b.process()["landlock"] = json!({
            "ruleset": {"handledAccessFS": handled},
            "rules": {"pathBeneath": rules},
            "disableBestEffort": true
        });
        b.sh(WRITE_BOTH);
        let out = h.output_of(&b, tag);
        assert_eq!(kv(&out, "allowed").as_deref(), Some("0"), "{tag}: {out}");
        assert_ne!(kv(&out, "denied").as_deref(), Some("0"), "{tag}: {out}");
        assert!(allowed.join("f").is_file(), "{tag}: allowed write missing");
        assert!(!denied.join("f").exists(), "{tag}: denied write landed");
    }
    // Control: no ruleset, both writes land.
    let mut b = h.bundle();
    let (allowed, denied) = (h.mkdir("ctl-a"), h.mkdir("ctl-d"));
    b.bind(&allowed, "/allowed", &["rw"]);
    b.bind(&denied, "/denied", &["rw"]);
    b.sh(WRITE_BOTH);
    let out = h.output_of(&b, "control");
    assert_eq!(kv(&out, "denied").as_deref(), Some("0"), "control: {out}");
    assert!(denied.join("f").is_file(), "control: write missing");
}

/// `process.landlock` network rules (ABI 4): in the host's network namespace, a container whose
/// ruleset handles connect_tcp reaches only the allowed port; the listeners on the host say
/// which connections arrived. Control: without the ruleset both arrive.
#[test]
fn process_landlock_net_rules_hold() {
    if !require_root() {
        return;
    }
    let h = Harness::new("process_landlock_net");
    let run = |tag: &str, landlock: bool| -> (bool, bool) {
        let la = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let ld = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (pa, pd) = (
            la.local_addr().unwrap().port(),
            ld.local_addr().unwrap().port(),
        );
        la.set_nonblocking(true).unwrap();
        ld.set_nonblocking(true).unwrap();
        let mut b = h.bundle();
        b.remove_namespace("network");
        if landlock {
            b.process()["landlock"] = json!({
                "ruleset": {"handledAccessNetwork": ["connect_tcp"]},
                "rules": {"netPort": [{"allowedAccess": ["connect_tcp"], "ports": [pa]}]},
                "disableBestEffort": true
            });
        }
        // The listeners never answer: `timeout` ends each nc once it has connected (or not).
        b.sh(&format!(
            "timeout 1 nc 127.0.0.1 {pa} </dev/null; timeout 1 nc 127.0.0.1 {pd} </dev/null; true"
        ));
        h.output_of(&b, tag);
        let got = |l: &std::net::TcpListener| l.accept().is_ok();
        (got(&la), got(&ld))
    };
    assert_eq!(run("landlock", true), (true, false), "allowed port only");
    assert_eq!(run("control", false), (true, true), "control: both ports");
}

/// `process.landlock` scopes (ABI 6): an exec'd process (a domain of its own) with the signal
/// scope cannot signal the init's child, which lives on (read from /proc). Control: the same
/// kill without the scope takes it down.
#[test]
fn process_landlock_signal_scope_holds() {
    if !require_root() {
        return;
    }
    let h = Harness::new("process_landlock_scope");
    let run = |tag: &str, scoped: bool| -> bool {
        let mut b = h.bundle();
        if scoped {
            b.process()["landlock"] = json!({
                "ruleset": {"scoped": ["signal"]},
                "disableBestEffort": true
            });
        }
        b.sh("sleep 300 & echo $! > /dev/shm/child; wait");
        let c = h.start(&b, tag);
        let pid_in_ns = poll("child pid", POLL_TIMEOUT, || {
            let o = h.exec(&c.id, &["cat", "/dev/shm/child"]);
            o.ok()
                .then(|| o.stdout.trim().to_string())
                .filter(|s| !s.is_empty())
        });
        let host_child = poll("child on the host", POLL_TIMEOUT, || {
            processes_of_container(&c.id)
                .into_iter()
                .find(|p| *p != c.pid && status_field(*p, "Name").as_deref() == Some("sleep"))
        });
        h.exec(&c.id, &["kill", "-KILL", &pid_in_ns]);
        std::thread::sleep(std::time::Duration::from_millis(300));
        let alive = pid_alive(host_child) && proc_state(host_child) != Some('Z');
        h.delete_force(&c.id);
        alive
    };
    assert!(
        run("scoped", true),
        "the exec'd process killed outside its domain"
    );
    assert!(!run("control", false), "control: the kill did not land");
}
