//! Shared harness for the root-only integration tests.
//!
//! The tests drive the built `bvisor` binary exactly as a person or a supervisor would (its CLI),
//! and grade what it did by reading the world: `/proc/<pid>/…`, the cgroup filesystem, the host's
//! mount table, files on disk. Nothing here asks the runtime whether it did its job.
//!
//! Each test makes a [`Harness`]: a scratch directory of its own, a `--root` of its own and a
//! guard that, on drop (also when the test panics), deletes every container it created with
//! `delete --force`, runs the cleanups the test registered (helper processes it started, SysV
//! objects it made), and removes the scratch directory.
//!
//! The harness builds nothing: it finds `target/{debug,release}/bvisor` (or `BVISOR_BIN`) and
//! fails with a clear message if it is missing. The busybox rootfs is made once, under the
//! target directory, by `bundles/linux/make-rootfs.sh`, and copied into each bundle (`cp -a`
//! of the 2 MB tree takes about 40 ms, so every bundle gets a private, writable rootfs).

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long one `bvisor` invocation may take before the test gives up on it.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a poll for a state of the world waits by default.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Skips

/// `BVISOR_REQUIRE_KERNEL=1`: every skip is a failure.
pub fn skips_are_failures() -> bool {
    std::env::var("BVISOR_REQUIRE_KERNEL").is_ok_and(|v| v == "1")
}

/// Skip (print the reason, return false) or, under `BVISOR_REQUIRE_KERNEL=1`, fail.
pub fn skip(reason: &str) -> bool {
    if skips_are_failures() {
        panic!("BVISOR_REQUIRE_KERNEL=1 and this test would skip: {reason}");
    }
    eprintln!("SKIP: {reason}");
    false
}

/// True when running as root; otherwise the test skips with a printed reason.
pub fn require_root() -> bool {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        true
    } else {
        skip("needs root (the integration tests create namespaces, mounts and cgroups)")
    }
}

/// Why this machine lacks `feature`, or `None` when it has it.
pub fn kernel_lacks(feature: &str) -> Option<String> {
    let exists = |p: &str| Path::new(p).exists();
    let read = |p: &str| fs::read_to_string(p).unwrap_or_default();
    match feature {
        "user_namespaces" => {
            if !exists("/proc/self/ns/user") {
                return Some("no user namespaces (/proc/self/ns/user missing)".into());
            }
            let max = read("/proc/sys/user/max_user_namespaces");
            if max.trim() == "0" {
                return Some("user.max_user_namespaces is 0".into());
            }
            None
        }
        "time_namespaces" => (!exists("/proc/self/ns/time"))
            .then(|| "no time namespaces (/proc/self/ns/time missing)".into()),
        "cgroup_namespaces" => (!exists("/proc/self/ns/cgroup"))
            .then(|| "no cgroup namespaces (/proc/self/ns/cgroup missing)".into()),
        "freezer" => {
            let has_v1 = cgroup_hierarchies()
                .iter()
                .any(|h| h.controllers.iter().any(|c| c == "freezer"));
            let has_v2 = cgroup_hierarchies()
                .iter()
                .any(|h| h.v2 && h.own_dir().join("cgroup.freeze").exists());
            (!has_v1 && !has_v2)
                .then(|| "no cgroup freezer (v1 freezer or v2 cgroup.freeze)".into())
        }
        "sysvipc" => {
            (!exists("/proc/sysvipc/msg")).then(|| "no SysV IPC (/proc/sysvipc/msg missing)".into())
        }
        "kcore" => (!exists("/proc/kcore")).then(|| "/proc/kcore missing on the host".into()),
        "seccomp" => (!exists("/proc/sys/kernel/seccomp/actions_avail"))
            .then(|| "no seccomp filter support (/proc/sys/kernel/seccomp missing)".into()),
        "listmount" => mntns_mount_count(std::process::id() as i32)
            .err()
            .map(|e| format!("listmount(2) on a mount namespace id: {e} (needs Linux 6.11)")),
        other => Some(format!("unknown kernel feature {other:?} (harness bug)")),
    }
}

/// True when the kernel has `feature`; otherwise skip with a printed reason (a failure under
/// `BVISOR_REQUIRE_KERNEL=1`).
pub fn require_kernel(feature: &str) -> bool {
    match kernel_lacks(feature) {
        None => true,
        Some(why) => skip(&format!("kernel feature {feature}: {why}")),
    }
}

/// True when `tool` is on the host's PATH; otherwise skip with a printed reason.
pub fn require_tool(tool: &str) -> bool {
    if which(tool).is_some() {
        true
    } else {
        skip(&format!("host tool {tool:?} is not installed"))
    }
}

pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

// ---------------------------------------------------------------------------------------------
// Binaries and the shared rootfs

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                manifest_dir().join(d)
            }
        }
        None => manifest_dir().join("target"),
    }
}

/// The `bvisor` binary: `BVISOR_BIN`, else `target/debug/bvisor` (what `cargo build
/// --workspace` makes), else `target/release/bvisor`. The tests never build it.
pub fn bvisor_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("BVISOR_BIN") {
            let p = PathBuf::from(p);
            assert!(p.is_file(), "BVISOR_BIN={} does not exist", p.display());
            return p;
        }
        let t = target_dir();
        let bin = ["debug", "release"]
            .iter()
            .map(|p| t.join(p).join("bvisor"))
            .find(|p| p.is_file())
            .unwrap_or_else(|| {
                panic!(
                    "no bvisor binary under {}/{{debug,release}}: run `cargo build --workspace` \
                     first (or set BVISOR_BIN)",
                    t.display()
                )
            });
        eprintln!("harness: testing {}", bin.display());
        let launcher = bin.with_file_name("bvisor-launcher");
        assert!(
            launcher.is_file() || std::env::var_os("BVISOR_LAUNCHER").is_some(),
            "{} missing beside {}: run `cargo build --workspace`",
            launcher.display(),
            bin.display()
        );
        bin
    })
    .clone()
}

/// The busybox rootfs every bundle copies, built once (under a lock, since test processes run
/// in parallel) by `bundles/linux/make-rootfs.sh`.
pub fn shared_rootfs() -> PathBuf {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS
        .get_or_init(|| {
            let t = target_dir();
            fs::create_dir_all(&t).expect("create target dir");
            let dest = t.join("test-rootfs");
            let lock = fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(t.join("test-rootfs.lock"))
                .expect("open rootfs lock");
            // SAFETY: flock on an fd we own; released when `lock` is dropped.
            let r = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
            assert_eq!(r, 0, "flock test-rootfs.lock");
            let script = manifest_dir().join("bundles/linux/make-rootfs.sh");
            let out = Command::new("bash")
                .arg(&script)
                .arg(&dest)
                .output()
                .expect("run make-rootfs.sh");
            assert!(
                out.status.success(),
                "{} {} failed: {}",
                script.display(),
                dest.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            drop(lock);
            dest
        })
        .clone()
}

// ---------------------------------------------------------------------------------------------
// Command output

/// What a command did: exit code (128+n when killed by signal n), stdout, stderr.
#[derive(Debug, Clone)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Where stdout went (a detached container keeps writing there).
    pub stdout_path: PathBuf,
    pub cmdline: String,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.code == 0
    }

    /// Panic with everything known unless the command exited 0.
    #[track_caller]
    pub fn expect_ok(&self) -> &Self {
        assert!(
            self.code == 0,
            "`{}` exited {}\nstdout:\n{}\nstderr:\n{}",
            self.cmdline,
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    /// stdout as it is now (a detached container may have written more since).
    pub fn stdout_now(&self) -> String {
        fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` → exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.cmdline, self.code, self.stdout, self.stderr
        )
    }
}

pub fn exit_code(s: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        _ => -1,
    }
}

/// Wait for `child` at most `limit`; on timeout kill it (it is ours) and panic.
fn wait_child(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{what}` did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Run a host command to completion (stdout/stderr to files, so a daemon it leaves behind cannot
/// hold a pipe open), with a deadline.
pub fn run_host(prog: &str, args: &[&str], scratch: &Path) -> Out {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = scratch.join("out");
    fs::create_dir_all(&dir).expect("out dir");
    let so = dir.join(format!("host-{n}.out"));
    let se = dir.join(format!("host-{n}.err"));
    let cmdline = format!("{prog} {}", args.join(" "));
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&so).expect("stdout file"))
        .stderr(fs::File::create(&se).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmdline}: {e}"));
    finish(&mut child, so, se, cmdline)
}

/// Wait for a command whose output went to files `so` and `se`, and collect it.
fn finish(child: &mut std::process::Child, so: PathBuf, se: PathBuf, cmdline: String) -> Out {
    let status = wait_child(child, COMMAND_TIMEOUT, &cmdline);
    Out {
        code: exit_code(status),
        stdout: fs::read_to_string(&so).unwrap_or_default(),
        stderr: fs::read_to_string(&se).unwrap_or_default(),
        stdout_path: so,
        cmdline,
    }
}

// ---------------------------------------------------------------------------------------------
// Polling

/// Poll `f` until it returns `Some`, at most `limit`; panic naming `what` on timeout.
#[track_caller]
pub fn poll<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    let mut sleep = Duration::from_millis(1);
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(sleep);
        sleep = (sleep * 2).min(Duration::from_millis(20));
    }
}

/// Poll until `f` is true.
#[track_caller]
pub fn poll_true(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    poll(what, limit, || f().then_some(()))
}

// ---------------------------------------------------------------------------------------------
// Host ground truth: /proc

/// `/proc/<pid>/status` as key → value (values trimmed).
pub fn proc_status(pid: i32) -> Option<BTreeMap<String, String>> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(
        text.lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect(),
    )
}

/// One field of `/proc/<pid>/status`.
pub fn status_field(pid: i32, field: &str) -> Option<String> {
    proc_status(pid)?.remove(field)
}

/// The process state letter from `/proc/<pid>/stat` (R, S, D, Z, T, …); None if gone.
pub fn proc_state(pid: i32) -> Option<char> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 2..];
    after.chars().next()
}

/// The pid exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    pid > 0 && matches!(proc_state(pid), Some(s) if s != 'Z' && s != 'X')
}

/// `/proc/<pid>/cmdline` as arguments.
pub fn cmdline(pid: i32) -> Option<Vec<String>> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect(),
    )
}

/// The inode of a namespace file (`/proc/<pid>/ns/<ns>` or a bind-mounted one).
pub fn ns_inode_path(path: &Path) -> Option<u64> {
    fs::metadata(path).ok().map(|m| m.ino())
}

/// The inode of `/proc/<pid>/ns/<ns>` (`ns` as in /proc: mnt, pid, net, ipc, uts, cgroup, user,
/// time).
pub fn ns_inode(pid: i32, ns: &str) -> Option<u64> {
    ns_inode_path(Path::new(&format!("/proc/{pid}/ns/{ns}")))
}

/// The /proc name of an OCI namespace type.
pub fn proc_ns_name(oci: &str) -> &'static str {
    match oci {
        "pid" => "pid",
        "network" => "net",
        "ipc" => "ipc",
        "uts" => "uts",
        "mount" => "mnt",
        "cgroup" => "cgroup",
        "user" => "user",
        "time" => "time",
        other => panic!("unknown namespace type {other}"),
    }
}

pub const ALL_PROC_NS: &[&str] = &["mnt", "pid", "net", "ipc", "uts", "cgroup", "user", "time"];

/// Every pid on the host (numeric /proc entries).
pub fn all_pids() -> Vec<i32> {
    fs::read_dir("/proc")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
                .collect()
        })
        .unwrap_or_default()
}

/// `/proc/<pid>/cgroup` lines as (hierarchy id, controllers, path).
pub fn proc_cgroup(pid: &str) -> Vec<(String, String, String)> {
    fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            Some((
                it.next()?.to_string(),
                it.next()?.to_string(),
                it.next()?.to_string(),
            ))
        })
        .collect()
}

/// Live processes any of whose cgroup paths ends with `/bvisor/<id>` (or lies below it).
pub fn processes_of_container(id: &str) -> Vec<i32> {
    let leaf = format!("/bvisor/{id}");
    all_pids()
        .into_iter()
        .filter(|p| {
            proc_cgroup(&p.to_string())
                .iter()
                .any(|(_, _, path)| path.ends_with(&leaf) || path.contains(&format!("{leaf}/")))
                && pid_alive(*p)
        })
        .collect()
}

/// The host's hostname (uname nodename).
pub fn host_hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Host ground truth: mounts

/// One line of a mountinfo file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mount {
    pub id: u32,
    pub parent: u32,
    pub dev: String,
    pub root: String,
    pub mount_point: String,
    pub options: Vec<String>,
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    pub super_options: Vec<String>,
    pub line: String,
}

impl Mount {
    pub fn has_option(&self, o: &str) -> bool {
        self.options.iter().any(|x| x == o)
    }
    pub fn optional_prefixed(&self, p: &str) -> bool {
        self.optional.iter().any(|x| x.starts_with(p))
    }
}

fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 4])
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse mountinfo text.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            if pre.len() < 6 || post.len() < 2 {
                return None;
            }
            Some(Mount {
                id: pre[0].parse().ok()?,
                parent: pre[1].parse().ok()?,
                dev: pre[2].to_string(),
                root: unescape_octal(pre[3]),
                mount_point: unescape_octal(pre[4]),
                options: pre[5].split(',').map(str::to_string).collect(),
                optional: pre[6..].iter().map(|s| s.to_string()).collect(),
                fstype: post[0].to_string(),
                source: unescape_octal(post[1]),
                super_options: post
                    .get(2)
                    .map(|s| s.split(',').map(str::to_string).collect())
                    .unwrap_or_default(),
                line: line.to_string(),
            })
        })
        .collect()
}

/// The host's (the test process's) mount table.
pub fn host_mounts() -> Vec<Mount> {
    parse_mountinfo(&fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo"))
}

/// A snapshot of the host mount table, as a set of raw lines.
pub fn mount_snapshot() -> BTreeSet<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .expect("read mountinfo")
        .lines()
        .map(str::to_string)
        .collect()
}

/// (lines only in `before`, lines only in `after`).
pub fn mount_diff(
    before: &BTreeSet<String>,
    after: &BTreeSet<String>,
) -> (Vec<String>, Vec<String>) {
    (
        before.difference(after).cloned().collect(),
        after.difference(before).cloned().collect(),
    )
}

/// Whether a mountinfo line is a mount another test made in its own scratch directory (below
/// the scratch base, outside `ours`): tests run in parallel and share the host's mount table.
pub fn foreign_test_mount(line: &str, ours: &Path) -> bool {
    let base = scratch_base();
    parse_mountinfo(line).first().is_some_and(|m| {
        let p = Path::new(&m.mount_point);
        p.starts_with(&base) && !p.starts_with(ours)
    })
}

/// Mount points on the host at or below `dir`.
pub fn host_mounts_under(dir: &Path) -> Vec<String> {
    let d = dir.to_string_lossy().into_owned();
    host_mounts()
        .into_iter()
        .filter(|m| m.mount_point == d || m.mount_point.starts_with(&format!("{d}/")))
        .map(|m| m.mount_point)
        .collect()
}

/// The scratch base every harness lives under; host mounts that other tests make for their own
/// use stay below it, so mount-table comparisons can tell them apart.
pub fn scratch_base() -> PathBuf {
    std::env::temp_dir().join("bvisor-tests")
}

// ---------------------------------------------------------------------------------------------
// Host ground truth: cgroups

/// One mounted cgroup hierarchy and the test process's own cgroup in it, found independently of
/// the runtime from `/proc/self/mountinfo` and `/proc/self/cgroup`.
#[derive(Debug, Clone)]
pub struct CgroupHierarchy {
    pub v2: bool,
    pub mount: PathBuf,
    /// v1 controllers (name=… included); empty for v2.
    pub controllers: Vec<String>,
    /// The `/proc/self/cgroup` key (controllers joined by ',', "" for v2).
    pub key: String,
    /// The test process's own cgroup, relative to the hierarchy root.
    pub own: String,
}

impl CgroupHierarchy {
    pub fn own_dir(&self) -> PathBuf {
        self.mount.join(self.own.trim_start_matches('/'))
    }
    /// Where bvisor must place container `id`: `<own>/bvisor/<id>`.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.own_dir().join("bvisor").join(id)
    }
    /// The path `/proc/<pid>/cgroup` must show for container `id`.
    pub fn container_path(&self, id: &str) -> String {
        let own = self.own.trim_end_matches('/');
        format!("{own}/bvisor/{id}")
    }
    pub fn name(&self) -> String {
        if self.v2 {
            "cgroup2".into()
        } else {
            self.key.clone()
        }
    }
}

/// Every cgroup hierarchy mounted on the host, once each.
pub fn cgroup_hierarchies() -> Vec<CgroupHierarchy> {
    let own = proc_cgroup("self");
    let mut out: Vec<CgroupHierarchy> = Vec::new();
    for m in host_mounts() {
        let (v2, controllers): (bool, Vec<String>) = match m.fstype.as_str() {
            "cgroup2" => (true, Vec::new()),
            "cgroup" => (
                false,
                m.super_options
                    .iter()
                    .filter(|o| {
                        !matches!(
                            o.as_str(),
                            "rw" | "ro"
                                | "noprefix"
                                | "xattr"
                                | "clone_children"
                                | "cpuset_v2_mode"
                        ) && !o.starts_with("release_agent=")
                    })
                    .cloned()
                    .collect(),
            ),
            _ => continue,
        };
        if m.root != "/" {
            continue;
        }
        let entry = own.iter().find(|(_, k, _)| {
            if v2 {
                k.is_empty()
            } else {
                let names: Vec<&str> = k.split(',').collect();
                !controllers.is_empty() && controllers.iter().all(|c| names.contains(&c.as_str()))
            }
        });
        let Some((_, key, path)) = entry else {
            continue;
        };
        if out.iter().any(|h| h.key == *key && h.v2 == v2) {
            continue;
        }
        out.push(CgroupHierarchy {
            v2,
            mount: PathBuf::from(&m.mount_point),
            controllers,
            key: key.clone(),
            own: path.clone(),
        });
    }
    out
}

/// Pids listed in `<dir>/cgroup.procs`.
pub fn cgroup_procs(dir: &Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Container cgroup directories that exist for `id`, in any hierarchy.
pub fn existing_container_cgroups(id: &str) -> Vec<PathBuf> {
    cgroup_hierarchies()
        .iter()
        .map(|h| h.container_dir(id))
        .filter(|d| d.exists())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// SCM_RIGHTS

/// Receive one fd sent with SCM_RIGHTS on `sock` (blocking, with a receive timeout).
pub fn recv_fd(sock: &UnixStream, limit: Duration) -> std::io::Result<OwnedFd> {
    sock.set_read_timeout(Some(limit))?;
    let mut data = [0u8; 256];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // Room for a few fds; only the first is kept.
    let mut cbuf = [0u64; 16];
    // SAFETY: a zeroed msghdr is valid; pointers set below outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf);
    // SAFETY: valid socket and msghdr.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: walking the control buffer the kernel filled, with the libc macros.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let fd: i32 = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                return Ok(OwnedFd::from_raw_fd(fd));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Err(std::io::Error::other(format!(
        "message of {n} bytes carried no SCM_RIGHTS fd"
    )))
}

// ---------------------------------------------------------------------------------------------
// Bundles

/// A bundle directory: `config.json` (edited as JSON) and a private copy of the busybox rootfs.
pub struct Bundle {
    pub dir: PathBuf,
    pub rootfs: PathBuf,
    pub config: Value,
}

impl Bundle {
    /// Write `config.json` (done automatically before each create/run by the harness).
    pub fn save(&self) {
        let text = serde_json::to_string_pretty(&self.config).expect("config serializes");
        fs::write(self.dir.join("config.json"), text).expect("write config.json");
    }

    /// Set `process.args`.
    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.config["process"]["args"] = json!(args);
        self
    }

    /// `process.args = ["sh", "-c", script]`.
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.args(&["sh", "-c", script])
    }

    pub fn process(&mut self) -> &mut Value {
        &mut self.config["process"]
    }

    pub fn linux(&mut self) -> &mut Value {
        &mut self.config["linux"]
    }

    /// The OCI namespace types in the config.
    pub fn namespaces(&self) -> Vec<String> {
        self.config["linux"]["namespaces"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|n| n["type"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn has_namespace(&self, t: &str) -> bool {
        self.namespaces().iter().any(|n| n == t)
    }

    pub fn remove_namespace(&mut self, t: &str) -> &mut Self {
        if let Some(a) = self.config["linux"]["namespaces"].as_array_mut() {
            a.retain(|n| n["type"] != t);
        }
        self
    }

    /// Add (or replace) a namespace entry, with an optional path to join.
    pub fn set_namespace(&mut self, t: &str, path: Option<&Path>) -> &mut Self {
        self.remove_namespace(t);
        let mut e = json!({"type": t});
        if let Some(p) = path {
            e["path"] = json!(p.to_string_lossy());
        }
        if !self.config["linux"]["namespaces"].is_array() {
            self.config["linux"]["namespaces"] = json!([]);
        }
        self.config["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .push(e);
        self
    }

    pub fn add_mount(&mut self, m: Value) -> &mut Self {
        if !self.config["mounts"].is_array() {
            self.config["mounts"] = json!([]);
        }
        self.config["mounts"]
            .as_array_mut()
            .expect("mounts")
            .push(m);
        self
    }

    /// A bind mount of a host path.
    pub fn bind(&mut self, source: &Path, dest: &str, options: &[&str]) -> &mut Self {
        let mut opts = vec!["bind"];
        opts.extend_from_slice(options);
        self.add_mount(json!({
            "destination": dest,
            "type": "bind",
            "source": source.to_string_lossy(),
            "options": opts,
        }))
    }

    /// Remove the mounts whose destination is `dest`.
    pub fn remove_mount(&mut self, dest: &str) -> &mut Self {
        if let Some(a) = self.config["mounts"].as_array_mut() {
            a.retain(|m| m["destination"] != dest);
        }
        self
    }

    /// Give the rootfs to `uid:gid` (as an image prepared for a user namespace is), so the
    /// mapped root can create mount points in it.
    pub fn chown_rootfs(&self, uid: u32, gid: u32) {
        let o = Command::new("chown")
            .arg("-hR")
            .arg(format!("{uid}:{gid}"))
            .arg(&self.rootfs)
            .output()
            .expect("chown rootfs");
        assert!(
            o.status.success(),
            "chown rootfs: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// A path inside the rootfs, on the host.
    pub fn host_path(&self, p: &str) -> PathBuf {
        self.rootfs.join(p.trim_start_matches('/'))
    }
}

/// Capability names of this kernel (0..=cap_last_cap), as the OCI config spells them.
pub fn all_capability_names() -> Vec<&'static str> {
    const NAMES: &[&str] = &[
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];
    let last = cap_last_cap() as usize;
    NAMES[..=last.min(NAMES.len() - 1)].to_vec()
}

/// The kernel's highest capability number.
pub fn cap_last_cap() -> u32 {
    fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// The bit mask of capability names.
pub fn cap_mask(names: &[&str]) -> u64 {
    let all = all_capability_names();
    names.iter().fold(0, |m, n| {
        let i = all
            .iter()
            .position(|c| c == n)
            .unwrap_or_else(|| panic!("unknown capability {n}"));
        m | (1u64 << i)
    })
}

/// The config `bvisor spec` writes, made once per test process.
///
/// If `bvisor spec` itself is broken the harness says so and falls back to the default config
/// the runtime embeds (`runtime/src/cli/default-config.json`), so one broken subcommand does not
/// take every other test down with it; `lifecycle.rs::spec_writes_config` fails on it instead.
pub fn spec_template(scratch: &Path) -> Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let dir = scratch.join("spec-template");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("mkdir spec template");
        let out = run_host(
            &bvisor_bin().to_string_lossy(),
            &["spec", "--bundle", &dir.to_string_lossy()],
            scratch,
        );
        let text = fs::read_to_string(dir.join("config.json"));
        let _ = fs::remove_dir_all(&dir);
        match (out.ok(), text) {
            (true, Ok(t)) => serde_json::from_str(&t).expect("`bvisor spec` output parses"),
            (_, _) => {
                let fallback = manifest_dir().join("runtime/src/cli/default-config.json");
                eprintln!(
                    "harness: `bvisor spec` failed (exit {}: {}); using {} instead",
                    out.code,
                    out.stderr
                        .lines()
                        .find(|l| l.contains("panicked") || l.contains("rror"))
                        .unwrap_or(out.stderr.trim()),
                    fallback.display()
                );
                let t = fs::read_to_string(&fallback).expect("read default-config.json");
                serde_json::from_str(&t).expect("default-config.json parses")
            }
        }
    })
    .clone()
}

// ---------------------------------------------------------------------------------------------
// The harness

/// A container the harness started and whose init is running the workload.
#[derive(Debug, Clone)]
pub struct Container {
    pub id: String,
    /// Host pid of the container init.
    pub pid: i32,
    /// Output of `create` (the container's stdout and stderr land in these files).
    pub create: Out,
}

type Cleanup = Box<dyn FnOnce() + Send>;

/// One test's world: scratch directory, `--root`, and every container and helper it made.
pub struct Harness {
    pub name: String,
    /// Scratch directory (removed on drop).
    pub dir: PathBuf,
    /// `--root` for every bvisor command of this test.
    pub root: PathBuf,
    ids: Mutex<Vec<String>>,
    seq: AtomicUsize,
    cleanups: Mutex<Vec<(String, Cleanup)>>,
    /// Extra environment for every bvisor command (see [`Harness::set_env`]).
    env: Mutex<Vec<(String, String)>>,
}

impl Harness {
    /// How the host's mount table changed since `before`: (lines gone, lines added), leaving
    /// out the mounts other tests running beside this one make in their scratch directories.
    pub fn mount_changes(&self, before: &BTreeSet<String>) -> (Vec<String>, Vec<String>) {
        let (gone, added) = mount_diff(before, &mount_snapshot());
        let mine = |l: &String| !foreign_test_mount(l, &self.dir);
        (
            gone.into_iter().filter(mine).collect(),
            added.into_iter().filter(mine).collect(),
        )
    }

    /// A fresh harness for the test `name`.
    pub fn new(name: &str) -> Harness {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let base = scratch_base();
        fs::create_dir_all(&base).expect("create scratch base");
        let _ = fs::set_permissions(&base, fs::Permissions::from_mode(0o755));
        let dir = base.join(format!("{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create scratch dir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod scratch");
        let root = dir.join("state");
        // Resolve the binaries and the rootfs up front, so a missing build fails clearly.
        let _ = bvisor_bin();
        let _ = shared_rootfs();
        Harness {
            name: name.to_string(),
            dir,
            root,
            ids: Mutex::new(Vec::new()),
            seq: AtomicUsize::new(0),
            cleanups: Mutex::new(Vec::new()),
            env: Mutex::new(Vec::new()),
        }
    }

    /// Set `key=value` in the environment of every later bvisor command of this harness.
    pub fn set_env(&self, key: &str, value: &str) {
        let mut env = self.env.lock().unwrap_or_else(|e| e.into_inner());
        env.retain(|(k, _)| k != key);
        env.push((key.to_string(), value.to_string()));
    }

    fn next(&self) -> usize {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    /// A container id unique to this process and test, registered for `delete --force` on drop.
    pub fn id(&self, tag: &str) -> String {
        let short: String = self.name.chars().take(24).collect();
        let id = format!("{short}-{tag}-{}-{}", std::process::id(), self.next());
        self.track(&id);
        id
    }

    /// Register an id (e.g. one made by hand) for deletion on drop.
    pub fn track(&self, id: &str) {
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_string());
        }
    }

    /// Run `f` when the harness is dropped (in reverse order of registration).
    pub fn on_drop(&self, what: &str, f: impl FnOnce() + Send + 'static) {
        self.cleanups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((what.to_string(), Box::new(f)));
    }

    /// Compile C `source` into a static executable at `out` (a test's attacker programs run in
    /// a rootfs with no libc); panics with gcc's output on failure.
    #[track_caller]
    pub fn compile_static(&self, name: &str, source: &str, out: &Path) {
        let src = self.dir.join(format!("{name}.c"));
        fs::write(&src, source).expect("write C source");
        let cc = run_host(
            "gcc",
            &[
                "-static",
                "-O2",
                "-o",
                &out.to_string_lossy(),
                &src.to_string_lossy(),
            ],
            &self.dir,
        );
        assert!(cc.ok(), "gcc {name}: {cc}");
    }

    /// A new scratch subdirectory.
    pub fn mkdir(&self, tag: &str) -> PathBuf {
        let d = self.dir.join(format!("{tag}-{}", self.next()));
        fs::create_dir_all(&d).expect("mkdir scratch");
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).expect("chmod");
        d
    }

    /// A fresh bundle: a private rootfs copy and the config `bvisor spec` writes, with
    /// `process.terminal` false, `process.args` `["true"]`, and without `linux.resources`.
    ///
    /// `linux.resources` (the default's device-cgroup deny-all) is left out so that every test
    /// depends only on the confinement it grades: the planner refuses a whole container when
    /// any one requirement is not proven, and cgroup device rules are graded by their own test
    /// (`resources.rs`), which put them back.
    pub fn bundle(&self) -> Bundle {
        let dir = self.mkdir("bundle");
        let rootfs = dir.join("rootfs");
        let cp = Command::new("cp")
            .arg("-a")
            .arg(shared_rootfs())
            .arg(&rootfs)
            .output()
            .expect("cp -a rootfs");
        assert!(
            cp.status.success(),
            "cp -a rootfs: {}",
            String::from_utf8_lossy(&cp.stderr)
        );
        let mut config = spec_template(&self.dir);
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(["true"]);
        config["root"]["path"] = json!("rootfs");
        if let Some(l) = config["linux"].as_object_mut() {
            l.remove("resources");
        }
        Bundle {
            dir,
            rootfs,
            config,
        }
    }

    /// Run `bvisor --root <root> ARGS…` to completion; stdout/stderr go to files (so a detached
    /// container cannot keep the call from finishing), stdin is /dev/null.
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_in(&self.dir, args)
    }

    fn command(&self, args: &[&str], cwd: &Path) -> (Command, PathBuf, PathBuf, String) {
        let n = self.next();
        let outdir = self.dir.join("out");
        fs::create_dir_all(&outdir).expect("out dir");
        let so = outdir.join(format!("{n}.out"));
        let se = outdir.join(format!("{n}.err"));
        let mut cmd = Command::new(bvisor_bin());
        cmd.envs(
            self.env
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        cmd.arg("--root")
            .arg(&self.root)
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&so).expect("stdout file"))
            .stderr(fs::File::create(&se).expect("stderr file"));
        let cmdline = format!("bvisor --root {} {}", self.root.display(), args.join(" "));
        (cmd, so, se, cmdline)
    }

    fn run_in(&self, cwd: &Path, args: &[&str]) -> Out {
        let (mut cmd, so, se, cmdline) = self.command(args, cwd);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmdline}: {e}"));
        finish(&mut child, so, se, cmdline)
    }

    /// As [`Harness::run`], with extra environment variables for bvisor.
    pub fn run_env(&self, env: &[(&str, &str)], args: &[&str]) -> Out {
        let (mut cmd, so, se, cmdline) = self.command(args, &self.dir);
        cmd.envs(env.iter().copied());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmdline}: {e}"));
        finish(&mut child, so, se, cmdline)
    }

    /// As [`Harness::run`], with `input` on stdin.
    pub fn run_stdin(&self, args: &[&str], input: &str) -> Out {
        let (mut cmd, so, se, cmdline) = self.command(args, &self.dir);
        cmd.stdin(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmdline}: {e}"));
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("piped stdin");
            let _ = stdin.write_all(input.as_bytes());
        }
        finish(&mut child, so, se, cmdline)
    }

    /// Start `bvisor ARGS…` without waiting (e.g. a foreground `run` the test signals).
    pub fn spawn_bvisor(&self, args: &[&str]) -> RunningCommand {
        let (mut cmd, so, se, cmdline) = self.command(args, &self.dir);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmdline}: {e}"));
        RunningCommand {
            child,
            so,
            se,
            cmdline,
        }
    }

    /// `bvisor create --bundle B ID EXTRA…` (the config is saved first).
    pub fn create(&self, b: &Bundle, id: &str, extra: &[&str]) -> Out {
        b.save();
        self.track(id);
        let bundle = b.dir.to_string_lossy().into_owned();
        let mut args = vec!["create", "--bundle", &bundle];
        args.extend_from_slice(extra);
        args.push(id);
        self.run(&args)
    }

    /// `bvisor run --bundle B ID` in the foreground: the container's exit code and output.
    pub fn run_container(&self, b: &Bundle, tag: &str) -> Out {
        b.save();
        let id = self.id(tag);
        let bundle = b.dir.to_string_lossy().into_owned();
        self.run(&["run", "--bundle", &bundle, &id])
    }

    /// Run the bundle to completion and return its stdout, panicking unless it exited 0.
    #[track_caller]
    pub fn output_of(&self, b: &Bundle, tag: &str) -> String {
        let o = self.run_container(b, tag);
        o.expect_ok();
        o.stdout
    }

    /// create + start; waits until the init has exec'd the workload. Panics on failure.
    #[track_caller]
    pub fn start(&self, b: &Bundle, tag: &str) -> Container {
        self.start_with(b, tag, &[])
    }

    #[track_caller]
    pub fn start_with(&self, b: &Bundle, tag: &str, create_args: &[&str]) -> Container {
        let id = self.id(tag);
        let create = self.create(b, &id, create_args);
        create.expect_ok();
        let pid = self.state_pid(&id);
        self.run(&["start", &id]).expect_ok();
        wait_exec(pid);
        Container { id, pid, create }
    }

    /// `state ID` parsed, or None when the command fails.
    pub fn state(&self, id: &str) -> Option<Value> {
        let o = self.run(&["state", id]);
        if !o.ok() {
            return None;
        }
        serde_json::from_str(&o.stdout).ok()
    }

    /// The pid `state` reports (the caller checks it against /proc).
    #[track_caller]
    pub fn state_pid(&self, id: &str) -> i32 {
        let st = self
            .state(id)
            .unwrap_or_else(|| panic!("state {id} failed: {}", self.run(&["state", id])));
        st["pid"].as_i64().expect("state has a pid") as i32
    }

    pub fn state_status(&self, id: &str) -> Option<String> {
        self.state(id)
            .and_then(|s| s["status"].as_str().map(str::to_string))
    }

    /// `exec ID ARGS…` in the foreground: the process's exit code and output.
    pub fn exec(&self, id: &str, args: &[&str]) -> Out {
        let mut a = vec!["exec", id];
        a.extend_from_slice(args);
        self.run(&a)
    }

    /// `exec --detach --pid-file F ID ARGS…`; returns the pid from the pid file.
    #[track_caller]
    pub fn exec_detached(&self, id: &str, args: &[&str]) -> i32 {
        let pf = self.dir.join(format!("exec-{}.pid", self.next()));
        let pfs = pf.to_string_lossy().into_owned();
        let mut a = vec!["exec", "--detach", "--pid-file", &pfs, id];
        a.extend_from_slice(args);
        self.run(&a).expect_ok();
        let text = fs::read_to_string(&pf).expect("exec wrote the pid file");
        text.trim().parse().expect("pid file holds a pid")
    }

    /// `delete --force ID` (panics on failure).
    #[track_caller]
    pub fn delete_force(&self, id: &str) {
        self.run(&["delete", "--force", id]).expect_ok();
    }

    /// The state directory bvisor keeps for `id`.
    pub fn state_dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }
}

/// Is `pid` still the launcher (before its final execve)? The launcher runs from a sealed
/// memfd copy (`/proc/<pid>/exe` names a memfd) with argv[0] `bvisor-launcher`.
pub fn is_launcher(pid: i32) -> bool {
    let argv0 = cmdline(pid).and_then(|c| c.into_iter().next());
    let exe = fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    argv0.as_deref() == Some("bvisor-launcher") || exe.contains("memfd:bvisor-launcher")
}

/// Wait until `pid` has exec'd the workload (or is gone).
#[track_caller]
pub fn wait_exec(pid: i32) {
    poll_true(
        &format!("pid {pid} to exec the workload"),
        POLL_TIMEOUT,
        || !pid_alive(pid) || !is_launcher(pid),
    );
}

/// A `bvisor` command running in the background.
pub struct RunningCommand {
    pub child: Child,
    so: PathBuf,
    se: PathBuf,
    pub cmdline: String,
}

impl RunningCommand {
    /// Wait for it (at most COMMAND_TIMEOUT) and collect its output.
    pub fn wait(mut self) -> Out {
        let status = wait_child(&mut self.child, COMMAND_TIMEOUT, &self.cmdline);
        Out {
            code: exit_code(status),
            stdout: fs::read_to_string(&self.so).unwrap_or_default(),
            stderr: fs::read_to_string(&self.se).unwrap_or_default(),
            stdout_path: self.so.clone(),
            cmdline: self.cmdline.clone(),
        }
    }

    pub fn stdout_now(&self) -> String {
        fs::read_to_string(&self.so).unwrap_or_default()
    }

    /// Wait (at most POLL_TIMEOUT) until its stdout contains `needle`. Panics with the command's
    /// output so far, and its exit status if it already ended, when that does not happen: a
    /// command that failed at once is reported as such, not as a slow one.
    #[track_caller]
    pub fn await_stdout(&mut self, needle: &str) {
        let deadline = Instant::now() + POLL_TIMEOUT;
        loop {
            if self.stdout_now().contains(needle) {
                return;
            }
            let ended = self.child.try_wait().expect("try_wait");
            if ended.is_some() && self.stdout_now().contains(needle) {
                return;
            }
            if ended.is_some() || Instant::now() > deadline {
                let how = match ended {
                    Some(s) => format!("ended ({s})"),
                    None => format!("still running after {POLL_TIMEOUT:?}"),
                };
                panic!(
                    "`{}` {how} without printing {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
                    self.cmdline,
                    self.stdout_now(),
                    fs::read_to_string(&self.se).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let ids: Vec<String> = self.ids.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for id in ids.iter().rev() {
            if !self.root.join(id).exists() {
                continue;
            }
            let o = self.run(&["delete", "--force", id]);
            if !o.ok() {
                eprintln!("harness cleanup: {o}");
            }
        }
        let cleanups: Vec<(String, Cleanup)> =
            std::mem::take(&mut *self.cleanups.lock().unwrap_or_else(|e| e.into_inner()));
        for (what, f) in cleanups.into_iter().rev() {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
                eprintln!("harness cleanup {what:?} panicked");
            }
        }
        // Never recurse into a mount: if something is still mounted under the scratch dir, leave
        // the directory (and say so) rather than delete through it.
        let mounted = host_mounts_under(&self.dir);
        if mounted.is_empty() {
            let _ = fs::remove_dir_all(&self.dir);
        } else {
            eprintln!(
                "harness cleanup: leaving {} (mounts below it: {mounted:?})",
                self.dir.display()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/// Write `text` to `path`, creating parents.
pub fn write_file(path: &Path, text: &str) {
    if let Some(p) = path.parent() {
        fs::create_dir_all(p).expect("create parents");
    }
    let mut f = fs::File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    f.write_all(text.as_bytes()).expect("write");
}

/// Read everything currently readable from `fd` until `pred(text)` holds or `limit` passes.
pub fn read_until(fd: &OwnedFd, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
    let mut f = fs::File::from(fd.try_clone().expect("dup fd"));
    let deadline = Instant::now() + limit;
    let mut acc = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let mut pfd = libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(100) as i32) };
        if r > 0 {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => acc.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
            if pred(&String::from_utf8_lossy(&acc)) {
                break;
            }
        }
    }
    String::from_utf8_lossy(&acc).into_owned()
}

/// A C string for libc calls.
pub fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

/// A random-ish token unique to this process and call (for markers, hostnames, keys).
pub fn token() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    format!(
        "{:x}{:x}{:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        t & 0xffff
    )
}

// ---------------------------------------------------------------------------------------------
// Mount namespaces as the kernel holds them (listmount)

const SYS_LISTMOUNT: libc::c_long = 458;
const LSMT_ROOT: u64 = u64::MAX;
/// `NS_GET_MNTNS_ID`: `_IOR(0xb7, 0x5, __u64)`.
const NS_GET_MNTNS_ID: libc::c_ulong = (2 << 30) | (8 << 16) | (0xb7 << 8) | 5;

#[repr(C)]
struct MntIdReq {
    size: u32,
    spare: u32,
    mnt_id: u64,
    param: u64,
    mnt_ns_id: u64,
}

/// Every mount the mount namespace of `pid` holds, as the kernel counts them with listmount(2)
/// (Linux ≥ 6.11 for another namespace) — including mounts the process cannot reach from its
/// root, which `/proc/<pid>/mountinfo` leaves out.
pub fn mntns_mount_count(pid: i32) -> std::io::Result<usize> {
    let f = fs::File::open(format!("/proc/{pid}/ns/mnt"))?;
    let mut ns_id: u64 = 0;
    // SAFETY: NS_GET_MNTNS_ID writes a u64.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), NS_GET_MNTNS_ID, &mut ns_id) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let req = MntIdReq {
        size: std::mem::size_of::<MntIdReq>() as u32,
        spare: 0,
        mnt_id: LSMT_ROOT,
        param: 0,
        mnt_ns_id: ns_id,
    };
    let mut ids = vec![0u64; 65536];
    // SAFETY: valid request struct and output buffer of ids.len() entries.
    let n = unsafe {
        libc::syscall(
            SYS_LISTMOUNT,
            &req as *const MntIdReq,
            ids.as_mut_ptr(),
            ids.len(),
            0u32,
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Lines in `/proc/<pid>/mountinfo`: the mounts reachable from the process's root.
pub fn visible_mount_count(pid: i32) -> usize {
    fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}
