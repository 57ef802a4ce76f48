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
