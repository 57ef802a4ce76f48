//! seccomp, graded by the kernel's answer: a filtered syscall returns an errno the kernel never
//! returns for it by itself (as rust-vmm's seccompiler tests do), the `Seccomp:` line of
//! /proc/<pid>/status, and the same filter on processes joined with `exec`. Controls: the same
//! workload without the filter.

use bvisor_tests::*;
use serde_json::json;

/// mkdir(2) cannot fail with EADDRNOTAVAIL (99) on its own: busybox prints strerror(99).
fn deny_mkdir() -> serde_json::Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99}]
    })
}

const MKDIR: &str = "mkdir /dev/shm/d 2>&1 && echo made";

#[test]
fn seccomp_filter_denies_syscall() {
    if !require_root() || !require_kernel("seccomp") {
        return;
    }
    let h = Harness::new("seccomp_filter_denies_syscall");
    let script = "mkdir /dev/shm/d 2>&1 && echo made; grep '^Seccomp:' /proc/self/status";
    // The compiled program is kept in the state root's cache after the first container; the
    // second (same profile) runs from that entry, untouched (same inode: not compiled and
    // stored again), and is filtered all the same.
    let cache = h.root.join("@seccomp");
    let entries = || -> Vec<(std::path::PathBuf, u64)> {
        use std::os::unix::fs::MetadataExt;
        std::fs::read_dir(&cache)
            .map(|d| {
                d.flatten()
                    .map(|e| (e.path(), e.metadata().unwrap().ino()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut cached = None;
    for nnp in [true, false] {
        let mut b = h.bundle();
        b.sh(script);
        b.process()["noNewPrivileges"] = json!(nnp);
        b.linux()["seccomp"] = deny_mkdir();
        let out = h.output_of(&b, "filtered");
        assert!(
            out.contains("Cannot assign requested address"),
            "mkdir was not filtered (noNewPrivileges {nnp}): {out}"
        );
        assert!(out.contains("Seccomp:\t2"), "no filter in /proc: {out}");
        let now = entries();
        assert_eq!(now.len(), 1, "one cached program: {now:?}");
        match &cached {
            None => cached = Some(now),
            Some(first) => assert_eq!(&now, first, "the second container compiled again"),
        }
    }
    // Control: without the filter mkdir works and no filter is installed.
    let mut ctl = h.bundle();
    ctl.sh(script);
    let out = h.output_of(&ctl, "control");
    assert!(out.contains("made"), "{out}");
    assert!(out.contains("Seccomp:\t0"), "{out}");
}

#[test]
fn seccomp_applies_to_exec() {
    if !require_root() || !require_kernel("seccomp") {
        return;
    }
    let h = Harness::new("seccomp_applies_to_exec");
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    b.linux()["seccomp"] = deny_mkdir();
    let c = h.start(&b, "exec");
    let out = h.run(&["exec", &c.id, "sh", "-c", MKDIR]);
    assert!(
        out.stdout.contains("Cannot assign requested address"),
        "exec'd process escaped the filter: {out:?}"
    );
    assert_eq!(status_field(c.pid, "Seccomp").as_deref(), Some("2"));
    // Control: a container without the filter.
    let mut ctl = h.bundle();
    ctl.args(&["sleep", "100"]);
    let c2 = h.start(&ctl, "control");
    let out = h.run(&["exec", &c2.id, "sh", "-c", MKDIR]);
    assert!(out.stdout.contains("made"), "{out:?}");
    assert_eq!(status_field(c2.pid, "Seccomp").as_deref(), Some("0"));
}
