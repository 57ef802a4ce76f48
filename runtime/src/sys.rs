//! The runtime's OS calls, each behind a narrow function so the logic around them is testable.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cvt(r: i64) -> io::Result<i64> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))
}

/// A memfd holding `data`, sealed against every change (write, grow, shrink, further seals).
pub fn sealed_memfd(name: &str, data: &[u8]) -> io::Result<OwnedFd> {
    let fd = memfd(name)?;
    let mut f = File::from(fd);
    f.write_all(data)?;
    seal(f.as_raw_fd())?;
    Ok(OwnedFd::from(f))
}

fn memfd(name: &str) -> io::Result<OwnedFd> {
    let c = CString::new(name).expect("no NUL");
    // SAFETY: valid name; flags are constants.
    let fd =
        cvt(
            unsafe { libc::memfd_create(c.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) }
                as i64,
        )?;
    // SAFETY: fresh fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn seal(fd: RawFd) -> io::Result<()> {
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    retry_busy(SEAL_TRIES, || {
        // SAFETY: fcntl on an fd we own.
        cvt(unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) } as i64).map(|_| ())
    })
}

/// How often F_SEAL_WRITE is tried before its EBUSY is the answer.
const SEAL_TRIES: u32 = 8;

/// Call `f` until it answers anything but EBUSY, at most `tries` times, sleeping a little longer
/// each time. F_SEAL_WRITE refuses with EBUSY while any page of the memfd holds a reference
/// beyond the page cache's own; the kernel waits about 150 ms for those to go, but on a loaded
/// machine page migration or compaction can hold one longer (seen once in 500 starts in CI,
/// with a VM test running beside). Nobody else has the fd, so such a reference is transient.
fn retry_busy(tries: u32, mut f: impl FnMut() -> io::Result<()>) -> io::Result<()> {
    let mut attempt = 1;
    loop {
        match f() {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < tries => {
                std::thread::sleep(std::time::Duration::from_millis(1 << attempt.min(6)));
                attempt += 1;
            }
            r => return r,
        }
    }
}

/// A sealed, executable copy of the file at `path`, copied inside the kernel. The container can
/// never write to it: there is no writable path or fd to it anywhere.
pub fn sealed_copy_of(path: &Path, name: &str) -> io::Result<OwnedFd> {
    let src = File::open(path)?;
    let len = src.metadata()?.len();
    let fd = memfd(name)?;
    let mut left = len as usize;
    while left > 0 {
        // sendfile works from any file into a memfd (copy_file_range refuses across
        // filesystems).
        // SAFETY: both fds are valid; a null offset uses and advances the source offset.
        let n = cvt(unsafe {
            libc::sendfile(fd.as_raw_fd(), src.as_raw_fd(), std::ptr::null_mut(), left)
        } as i64)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short copy"));
        }
        left -= n as usize;
    }
    seal(fd.as_raw_fd())?;
    Ok(fd)
}

/// How [`exec_image_of`] protected the binary it hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecImage {
    /// A read-only overlayfs view attached nowhere ([`readonly_view_of`]).
    Overlay,
    /// A sealed memfd copy ([`sealed_copy_of`]).
    Memfd,
}

/// The binary at `path` in a form no container can write to: a read-only overlayfs view when
/// this process may make one (no copy: the text stays shared page cache), else a sealed memfd
/// copy (rootless callers, kernels without fsopen or overlayfs). `spare` is a directory of ours
/// that does not overlap the binary's (overlayfs wants a second layer when it has no upper).
pub fn exec_image_of(path: &Path, name: &str, spare: &Path) -> io::Result<(OwnedFd, ExecImage)> {
    let why = if crate::fault::refused("overlay-exec-image") {
        "refused by BVISOR_FAULT".to_string()
    } else {
        match readonly_view_of(path, spare) {
            Ok(fd) => return Ok((fd, ExecImage::Overlay)),
            Err(e) => e.to_string(),
        }
    };
    crate::cli::log::debug(&format!(
        "no overlay view of {} ({why}): using a sealed copy",
        path.display()
    ));
    Ok((sealed_copy_of(path, name)?, ExecImage::Memfd))
}

/// overlayfs's `f_type` (linux/magic.h).
const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;

/// The file at `path`, opened through a private overlayfs mount attached nowhere, whose only
/// layers are two lower ones (the binary's directory on top, `spare` below): an overlay without
/// an upper layer refuses every write whatever its mount flags, so no path to this file (its
/// `/proc/<pid>/exe`, its `map_files`, a clone of its mount) opens it for writing, and nothing
/// can reach the real file beneath. runc 1.2 protects its binary the same way.
pub fn readonly_view_of(path: &Path, spare: &Path) -> io::Result<OwnedFd> {
    // The real directory: a symlink's target outside the overlay would escape it.
    let real = std::fs::canonicalize(path)?;
    let (dir, name) = match (real.parent(), real.file_name()) {
        (Some(d), Some(n)) => (d, n),
        _ => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
    };
    let mut lower = escape_lowerdir(dir.as_os_str().as_bytes());
    lower.push(b':');
    lower.extend(escape_lowerdir(
        std::fs::canonicalize(spare)?.as_os_str().as_bytes(),
    ));
    const FSOPEN_CLOEXEC: u32 = 1;
    const FSCONFIG_SET_STRING: u32 = 1;
    const FSCONFIG_CMD_CREATE: u32 = 6;
    const FSMOUNT_CLOEXEC: u32 = 1;
    const MOUNT_ATTR_RDONLY: u32 = 1;
    const MOUNT_ATTR_NOSUID: u32 = 2;
    const MOUNT_ATTR_NODEV: u32 = 4;
    let fstype = cstr("overlay")?;
    // SAFETY: a valid C string and flags.
    let ctx = cvt(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) })?;
    // SAFETY: fresh fd we own.
    let ctx = unsafe { OwnedFd::from_raw_fd(ctx as RawFd) };
    let set = |key: &str, value: &[u8]| -> io::Result<()> {
        let (k, v) = (cstr(key)?, cstr(value)?);
        // SAFETY: valid fd and C strings.
        cvt(unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                ctx.as_raw_fd(),
                FSCONFIG_SET_STRING,
                k.as_ptr(),
                v.as_ptr(),
                0,
            )
        })
        .map(|_| ())
    };
    set("lowerdir", &lower)?;
    // Features a read-only view has no use for, off so that a kernel or module default that
    // enables them neither refuses these layers nor logs about them for every container (each
    // may be unknown to an older kernel: ignored).
    for (key, value) in [
        ("xino", "off"),
        ("index", "off"),
        ("nfs_export", "off"),
        ("metacopy", "off"),
    ] {
        let _ = set(key, value.as_bytes());
    }
    // SAFETY: valid fd; CMD_CREATE takes no key or value.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    })?;
    let attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    // SAFETY: valid fd and flags.
    let mnt =
        cvt(unsafe { libc::syscall(libc::SYS_fsmount, ctx.as_raw_fd(), FSMOUNT_CLOEXEC, attrs) })?;
    // SAFETY: fresh fd we own.
    let mnt = unsafe { OwnedFd::from_raw_fd(mnt as RawFd) };
    let n = cstr(name.as_bytes())?;
    // SAFETY: valid fd and C string.
    let fd = cvt(unsafe {
        libc::openat(
            mnt.as_raw_fd(),
            n.as_ptr(),
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    } as i64)?;
    // SAFETY: fresh fd we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    // What we hand out must be a regular file on that overlay, nothing else.
    // SAFETY: statfs is plain old data; all zeroes is a valid value.
    let mut sfs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and out pointer.
    cvt(unsafe { libc::fstatfs(fd.as_raw_fd(), &mut sfs) } as i64)?;
    let meta = File::from(fd.try_clone()?).metadata()?;
    if sfs.f_type as i64 != OVERLAYFS_SUPER_MAGIC || !meta.is_file() {
        return Err(io::Error::from_raw_os_error(libc::EXDEV));
    }
    Ok(fd)
}

/// overlayfs separates lower layers with `:` and escapes with a backslash.
fn escape_lowerdir(p: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.len());
    for &b in p {
        if b == b'\\' || b == b':' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

fn cstr(s: impl Into<Vec<u8>>) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

pub fn socketpair_seqpacket() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two.
    cvt(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    } as i64)?;
    // SAFETY: fresh fds we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub fn mkfifo(path: &Path, mode: u32) -> io::Result<()> {
    let c = cpath(path)?;
    // SAFETY: valid path.
    cvt(unsafe { libc::mkfifo(c.as_ptr(), mode) } as i64).map(|_| ())
}

pub fn open_raw(path: &Path, flags: i32) -> io::Result<OwnedFd> {
    let c = cpath(path)?;
    // SAFETY: valid path.
    let fd = cvt(unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) } as i64)?;
    // SAFETY: fresh fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Open `path` for reading inside the directory `root`, never leaving it (symlinks to `/` or
/// `..` resolve inside it) and never through /proc magic links.
pub fn open_in_root(root: RawFd, path: &str) -> io::Result<OwnedFd> {
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
    const RESOLVE_IN_ROOT: u64 = 0x10;
    let c = CString::new(path)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
    let how = OpenHow {
        flags: (libc::O_RDONLY | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: valid string and a correctly sized open_how.
    let fd = cvt(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root,
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    })?;
    // SAFETY: fresh fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Duplicate `fd` to a number ≥ `min`, close-on-exec.
pub fn dup_above(fd: RawFd, min: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl on a valid fd.
    let n = cvt(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) } as i64)?;
    // SAFETY: fresh fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(n as RawFd) })
}

/// A set of CPUs, as sched_getaffinity and sched_setaffinity take it.
#[derive(Clone, Copy)]
pub struct CpuSet(libc::cpu_set_t);

impl CpuSet {
    /// The CPUs `pid` (0: this thread) may run on.
    pub fn of(pid: i32) -> io::Result<CpuSet> {
        // SAFETY: an all-zero cpu_set_t is the empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: set is a valid out pointer of the size given.
        cvt(unsafe {
            libc::sched_getaffinity(pid, std::mem::size_of::<libc::cpu_set_t>(), &mut set)
        } as i64)?;
        Ok(CpuSet(set))
    }

    /// Let `pid` (0: this thread) run on these CPUs only.
    pub fn apply(&self, pid: i32) -> io::Result<()> {
        // SAFETY: self.0 is a valid cpu_set_t of the size given.
        cvt(
            unsafe { libc::sched_setaffinity(pid, std::mem::size_of::<libc::cpu_set_t>(), &self.0) }
                as i64,
        )
        .map(|_| ())
    }

    /// The set of `cpus` (those past CPU_SETSIZE left out).
    #[cfg(test)]
    pub fn from_cpus(cpus: &[usize]) -> CpuSet {
        // SAFETY: an all-zero cpu_set_t is the empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        for &c in cpus.iter().filter(|&&c| c < SETSIZE) {
            // SAFETY: c is below CPU_SETSIZE, inside the set.
            unsafe { libc::CPU_SET(c, &mut set) };
        }
        CpuSet(set)
    }

    fn has(&self, cpu: usize) -> bool {
        // SAFETY: cpu is below CPU_SETSIZE, inside the set.
        cpu < SETSIZE && unsafe { libc::CPU_ISSET(cpu, &self.0) }
    }

    #[cfg(test)]
    pub fn cpus(&self) -> Vec<usize> {
        (0..SETSIZE).filter(|&c| self.has(c)).collect()
    }

    /// This set without `cpu`; None when `cpu` is not in it or is all of it.
    pub fn without(&self, cpu: usize) -> Option<CpuSet> {
        if !self.has(cpu) {
            return None;
        }
        let mut rest = *self;
        // SAFETY: has() checked cpu is below CPU_SETSIZE.
        unsafe { libc::CPU_CLR(cpu, &mut rest.0) };
        (0..SETSIZE).any(|c| rest.has(c)).then_some(rest)
    }
}

const SETSIZE: usize = libc::CPU_SETSIZE as usize;

/// The CPU this thread is running on right now.
pub fn current_cpu() -> Option<usize> {
    // SAFETY: no arguments; -1 on failure.
    let c = unsafe { libc::sched_getcpu() };
    usize::try_from(c).ok()
}

/// Start `path` with `argv` and an empty environment, with each `(from, to)` of `moves`
/// dup2'd into place in the child, SIGPIPE back to its default and no blocked signals. Returns
/// the child's pid once it has exec'd (or the exec's error).
///
/// posix_spawn, not fork: glibc starts the child with CLONE_VM|CLONE_VFORK, so the runtime's
/// page tables are not copied and the runtime takes no copy-on-write faults afterwards (a
/// fork + pre_exec cost about 0.3 ms more per container here).
pub fn spawn_with_fds(path: &str, argv: &[String], moves: &[(RawFd, RawFd)]) -> io::Result<i32> {
    let nul = |e| io::Error::new(io::ErrorKind::InvalidInput, e);
    let c_path = CString::new(path).map_err(nul)?;
    let c_args = argv
        .iter()
        .map(|a| CString::new(a.as_str()).map_err(nul))
        .collect::<io::Result<Vec<_>>>()?;
    let mut c_argv: Vec<*mut libc::c_char> = c_args.iter().map(|a| a.as_ptr() as *mut _).collect();
    c_argv.push(std::ptr::null_mut());
    let c_env: [*mut libc::c_char; 1] = [std::ptr::null_mut()];
    let spawn_err = |r: libc::c_int| {
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(r))
        }
    };
    // SAFETY: the file actions and attributes are initialised before use and destroyed on every
    // path below; every pointer handed to posix_spawn outlives the call.
    unsafe {
        let mut fa: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        spawn_err(libc::posix_spawn_file_actions_init(&mut fa))?;
        let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
        if let Err(e) = spawn_err(libc::posix_spawnattr_init(&mut attr)) {
            libc::posix_spawn_file_actions_destroy(&mut fa);
            return Err(e);
        }
        let result = (|| {
            for &(from, to) in moves {
                spawn_err(libc::posix_spawn_file_actions_adddup2(&mut fa, from, to))?;
            }
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            let mut pipe: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut pipe);
            libc::sigaddset(&mut pipe, libc::SIGPIPE);
            spawn_err(libc::posix_spawnattr_setsigmask(&mut attr, &empty))?;
            spawn_err(libc::posix_spawnattr_setsigdefault(&mut attr, &pipe))?;
            spawn_err(libc::posix_spawnattr_setflags(
                &mut attr,
                (libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF) as libc::c_short,
            ))?;
            let mut pid: libc::pid_t = 0;
            spawn_err(libc::posix_spawn(
                &mut pid,
                c_path.as_ptr(),
                &fa,
                &attr,
                c_argv.as_ptr(),
                c_env.as_ptr(),
            ))?;
            Ok(pid)
        })();
        libc::posix_spawnattr_destroy(&mut attr);
        libc::posix_spawn_file_actions_destroy(&mut fa);
        result
    }
}

/// Wait for a child started by [`spawn_with_fds`].
pub fn wait_child(pid: i32) -> io::Result<std::process::ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    let mut status = 0;
    loop {
        // SAFETY: status is a valid out pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Ok(std::process::ExitStatus::from_raw(status));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Exclusive advisory lock on an existing file or directory, held for the life of the
/// returned file (flock works on a directory opened read-only).
pub fn lock_exclusive(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_DIRECTORY: a FIFO put where the state directory belongs must not block the open.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(path)?;
    loop {
        // SAFETY: flock on a valid fd.
        let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        if r == 0 {
            return Ok(f);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Whether the open `f` is the file now at `path` (same device and inode).
pub fn is_same_file(f: &File, path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let (a, b) = (f.metadata()?, std::fs::symlink_metadata(path)?);
    Ok((a.dev(), a.ino()) == (b.dev(), b.ino()))
}

/// Write `data` to `path` atomically: a temporary file in the same directory, swapped in.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("f"),
        std::process::id()
    ));
    // No fsync: rename makes the swap atomic for readers and for a runtime killed midway,
    // which is what state needs. Durability across a power loss buys nothing (no container
    // survives a reboot, and `delete --force` clears a torn state file), while an fsync per
    // save cost 0.5 ms idle and tens of ms on a busy disk, three times per create.
    {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
    }
    // Over an existing file, swap the new one in and unlink the old one rather than rename
    // over it: ext4 (auto_da_alloc) starts writeback of a file renamed over another, 150 µs
    // per save here against 60 for the exchange, and `create` replaces state.json twice. The
    // exchange is as atomic for readers: the name always holds one whole file. (Skipping that
    // writeback is in line with the no-fsync policy above: after a power loss the file may be
    // empty, and `delete --force` removes a state it cannot read.)
    match rename_exchange(&tmp, path) {
        Ok(()) => {
            // The old contents, now under the temporary name. Left behind only if this fails,
            // and then removed with the directory.
            let _ = std::fs::remove_file(&tmp);
            Ok(())
        }
        // No file to exchange with yet (the first save), or a filesystem without exchange.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENOENT | libc::EINVAL | libc::ENOSYS)
            ) =>
        {
            std::fs::rename(&tmp, path).inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// renameat2(RENAME_EXCHANGE): atomically swap two existing names.
pub fn rename_exchange(a: &Path, b: &Path) -> io::Result<()> {
    let (a, b) = (cpath(a)?, cpath(b)?);
    // SAFETY: valid NUL-terminated paths.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    })
    .map(|_| ())
}

/// The start time of `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat), and its
/// state letter. None when the process does not exist.
pub fn proc_stat(pid: i32) -> Option<(u64, char)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parse /proc/<pid>/stat; the comm field may hold spaces and parentheses, so split at the last
/// ')'.
pub fn parse_stat(text: &str) -> Option<(u64, char)> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); starttime is field 22 → index 19.
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((start, state))
}

pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: fresh fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

pub fn pidfd_send_signal(pidfd: RawFd, sig: i32) -> io::Result<()> {
    // SAFETY: plain syscall, no siginfo.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    })
    .map(|_| ())
}

pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: plain syscall.
    cvt(unsafe { libc::kill(pid, sig) } as i64).map(|_| ())
}

/// Wait for `pid` and return its exit code, reaping every other child on the way: `run` and
/// `exec` are subreapers, so the container's orphans (without a pid namespace of its own) are
/// re-parented to us and would stay zombies until we exit. The code is decoded as a shell would
/// (128 + signal).
pub fn wait_exit_code(pid: i32) -> io::Result<i32> {
    let mut status = 0;
    loop {
        // SAFETY: status is a valid out pointer.
        let r = unsafe { libc::waitpid(-1, &mut status, 0) };
        if r == pid {
            return Ok(exit_code(status));
        }
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

pub fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        255
    }
}

pub fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    cvt(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } as i64).map(|_| ())
}

/// Seconds since boot in clock ticks, to age-check pids.
pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf is always safe.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as u64 }
}

pub fn send_seqpacket(fd: RawFd, data: &[u8]) -> io::Result<()> {
    // SAFETY: valid buffer.
    cvt(unsafe {
        libc::send(
            fd,
            data.as_ptr() as *const libc::c_void,
            data.len(),
            libc::MSG_NOSIGNAL,
        )
    } as i64)
    .map(|_| ())
}

/// Send one message with `fds` attached (SCM_RIGHTS).
pub use bvisor_launcher::fdpass::send_with_fds;

/// One message from a SOCK_SEQPACKET socket; empty at EOF (every peer end closed).
pub fn recv_seqpacket(fd: RawFd) -> io::Result<Vec<u8>> {
    // Room for the largest report, left uninitialised: the kernel writes only the message, so
    // only its pages are touched (a zeroed 64 KiB buffer per report cost 64 KiB of peak RSS).
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        // SAFETY: the pointer and capacity describe writable memory the Vec owns.
        let r = unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.capacity(), 0) };
        if r >= 0 {
            // SAFETY: recv initialised the first r bytes (r <= capacity).
            unsafe { buf.set_len(r as usize) };
            buf.shrink_to_fit();
            return Ok(buf);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Parse a signal given by name (`KILL`, `SIGKILL`, `kill`) or number.
pub fn parse_signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    let sig = match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "ILL" => libc::SIGILL,
        "TRAP" => libc::SIGTRAP,
        "ABRT" | "IOT" => libc::SIGABRT,
        "BUS" => libc::SIGBUS,
        "FPE" => libc::SIGFPE,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "SEGV" => libc::SIGSEGV,
        "USR2" => libc::SIGUSR2,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "STKFLT" => libc::SIGSTKFLT,
        "CHLD" | "CLD" => libc::SIGCHLD,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "TSTP" => libc::SIGTSTP,
        "TTIN" => libc::SIGTTIN,
        "TTOU" => libc::SIGTTOU,
        "URG" => libc::SIGURG,
        "XCPU" => libc::SIGXCPU,
        "XFSZ" => libc::SIGXFSZ,
        "VTALRM" => libc::SIGVTALRM,
        "PROF" => libc::SIGPROF,
        "WINCH" => libc::SIGWINCH,
        "IO" | "POLL" => libc::SIGIO,
        "PWR" => libc::SIGPWR,
        "SYS" => libc::SIGSYS,
        _ => {
            let n = name.strip_prefix("RTMIN")?;
            let base = libc::SIGRTMIN();
            if n.is_empty() {
                base
            } else {
                base + n.strip_prefix('+')?.parse::<i32>().ok()?
            }
        }
    };
    Some(sig)
}

/// Load a BPF_PROG_TYPE_CGROUP_DEVICE program (`insns`: struct bpf_insn bytes) and attach it to
/// the cgroup v2 directory `cgroup` (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI so programs of the
/// parents keep applying too). The attachment holds the program; our fds are closed.
pub fn attach_device_program(cgroup: &Path, insns: &[u8]) -> io::Result<()> {
    const BPF_PROG_LOAD: libc::c_long = 5;
    const BPF_PROG_ATTACH: libc::c_long = 8;
    const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
    const BPF_CGROUP_DEVICE: u32 = 6;
    const BPF_F_ALLOW_MULTI: u32 = 2;
    let license = c"Apache-2.0";
    let mut log = vec![0u8; 16 * 1024];
    // union bpf_attr, BPF_PROG_LOAD: prog_type, insn_cnt, insns, license, log_level, log_size,
    // log_buf (offsets 0, 4, 8, 16, 24, 28, 32).
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&BPF_PROG_TYPE_CGROUP_DEVICE.to_ne_bytes());
    attr[4..8].copy_from_slice(&((insns.len() / 8) as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    attr[24..28].copy_from_slice(&1u32.to_ne_bytes());
    attr[28..32].copy_from_slice(&(log.len() as u32).to_ne_bytes());
    attr[32..40].copy_from_slice(&(log.as_mut_ptr() as u64).to_ne_bytes());
    // SAFETY: bpf(2) with a bpf_attr-sized buffer whose pointers outlive the call.
    let prog = unsafe { libc::syscall(libc::SYS_bpf, BPF_PROG_LOAD, attr.as_ptr(), attr.len()) };
    if prog < 0 {
        let e = io::Error::last_os_error();
        let text = String::from_utf8_lossy(&log);
        let text = text.trim_end_matches('\0').trim();
        return Err(io::Error::new(
            e.kind(),
            format!("load the device program: {e}: {text}"),
        ));
    }
    // SAFETY: a fresh fd from the kernel.
    let prog = unsafe { OwnedFd::from_raw_fd(prog as RawFd) };
    let dir = open_raw(cgroup, libc::O_DIRECTORY | libc::O_RDONLY)?;
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&(dir.as_raw_fd() as u32).to_ne_bytes());
    attr[4..8].copy_from_slice(&(prog.as_raw_fd() as u32).to_ne_bytes());
    attr[8..12].copy_from_slice(&BPF_CGROUP_DEVICE.to_ne_bytes());
    attr[12..16].copy_from_slice(&BPF_F_ALLOW_MULTI.to_ne_bytes());
    // SAFETY: bpf(2) with a bpf_attr-sized buffer.
    let r = unsafe { libc::syscall(libc::SYS_bpf, BPF_PROG_ATTACH, attr.as_ptr(), attr.len()) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("attach the device program to {}: {e}", cgroup.display()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cpu_set_without_one_cpu_keeps_the_others_and_is_never_empty() {
        let set = CpuSet::from_cpus(&[0, 1, 5]);
        assert_eq!(set.without(1).map(|s| s.cpus()), Some(vec![0, 5]));
        // Not in the set, out of range, or the last one: nothing to move to.
        assert!(set.without(2).is_none());
        assert!(set.without(libc::CPU_SETSIZE as usize).is_none());
        assert!(CpuSet::from_cpus(&[3]).without(3).is_none());
    }

    /// The overlay view of a binary reads as the file (also when reached through a symlink, from
    /// a directory whose name has overlayfs's separator and escape in it, and with a file of the
    /// same name in the second layer) and refuses writing even to root; the memfd fallback is a
    /// sealed copy. Needs root (fsopen of overlay); elsewhere it says why it skipped, and fails
    /// under BVISOR_REQUIRE_KERNEL=1.
    #[test]
    fn exec_images_read_as_the_file_and_refuse_writes() {
        // SAFETY: geteuid has no arguments.
        if unsafe { libc::geteuid() } != 0 {
            assert!(
                std::env::var("BVISOR_REQUIRE_KERNEL").is_err(),
                "overlay views need root"
            );
            eprintln!("SKIP: overlay views need root");
            return;
        }
        let base = std::env::temp_dir().join(format!("bvisor-view-{}", std::process::id()));
        let bin_dir = base.join("bin:\\dir");
        let spare = base.join("spare");
        let links = base.join("links");
        for d in [&bin_dir, &spare, &links] {
            std::fs::create_dir_all(d).unwrap();
        }
        let bin = bin_dir.join("tool");
        std::fs::write(&bin, b"\x7fELF pretend").unwrap();
        // A file of the same name in the second layer is masked by the binary's directory.
        std::fs::write(spare.join("tool"), b"other").unwrap();
        std::os::unix::fs::symlink(&bin, links.join("tool")).unwrap();
        for path in [bin.clone(), links.join("tool")] {
            let (fd, how) = exec_image_of(&path, "tool", &spare).unwrap();
            assert_eq!(how, ExecImage::Overlay, "{}", path.display());
            let proc_path = format!("/proc/self/fd/{}", fd.as_raw_fd());
            assert_eq!(std::fs::read(&proc_path).unwrap(), b"\x7fELF pretend");
            let w = std::fs::OpenOptions::new().append(true).open(&proc_path);
            assert_eq!(w.unwrap_err().raw_os_error(), Some(libc::EROFS));
        }
        assert_eq!(std::fs::read(&bin).unwrap(), b"\x7fELF pretend");
        // Overlapping layers are refused by overlayfs; the caller then falls back to a copy.
        assert!(readonly_view_of(&bin, &bin_dir).is_err());
        let (fd, how) = exec_image_of(&bin, "tool", &bin_dir).unwrap();
        assert_eq!(how, ExecImage::Memfd);
        // SAFETY: fcntl on an fd we own.
        let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
        assert_ne!(seals & libc::F_SEAL_WRITE, 0);
        std::fs::remove_dir_all(&base).unwrap();
    }

    /// EBUSY is tried again up to the bound, then returned; other errors and success at once.
    #[test]
    fn busy_seals_are_retried_a_bounded_number_of_times() {
        let busy = || io::Error::from_raw_os_error(libc::EBUSY);
        let mut calls = 0;
        let r = retry_busy(4, || {
            calls += 1;
            if calls < 3 {
                Err(busy())
            } else {
                Ok(())
            }
        });
        assert!(r.is_ok());
        assert_eq!(calls, 3);
        calls = 0;
        let r = retry_busy(4, || {
            calls += 1;
            Err(busy())
        });
        assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EBUSY));
        assert_eq!(calls, 4);
        calls = 0;
        let r = retry_busy(4, || {
            calls += 1;
            Err(io::Error::from_raw_os_error(libc::EPERM))
        });
        assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EPERM));
        assert_eq!(calls, 1);
    }

    /// The first save creates the file, later ones replace it (by exchange, or by rename where
    /// the filesystem has no exchange); a reader holding the old file keeps whole old contents,
    /// and no temporary file is left behind.
    #[test]
    fn atomic_writes_replace_whole_files() {
        let dir = std::env::temp_dir().join(format!("bvisor-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("state.json");
        write_atomic(&p, b"first").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"first");
        let mut held = File::open(&p).unwrap();
        write_atomic(&p, b"second, longer").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second, longer");
        let mut old = String::new();
        std::io::Read::read_to_string(&mut held, &mut old).unwrap();
        assert_eq!(old, "first");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
        // The exchange itself: both names must exist, and they swap.
        let q = dir.join("other");
        std::fs::write(&q, b"q").unwrap();
        rename_exchange(&p, &q).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"q");
        assert_eq!(std::fs::read(&q).unwrap(), b"second, longer");
        assert!(rename_exchange(&dir.join("missing"), &p).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stat_with_odd_comm() {
        let text = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 12345 100 1";
        assert_eq!(parse_stat(text), Some((12345, 'S')));
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("KILL"), Some(9));
        assert_eq!(parse_signal("SIGTERM"), Some(15));
        assert_eq!(parse_signal("usr1"), Some(10));
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal("0"), None);
        assert_eq!(parse_signal("NOPE"), None);
        assert_eq!(parse_signal("RTMIN+1"), Some(libc::SIGRTMIN() + 1));
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(3 << 8), 3);
        assert_eq!(exit_code(9), 137);
    }

    #[test]
    fn sealed_memfd_refuses_writes() {
        let fd = sealed_memfd("t", b"abc").unwrap();
        let mut f = File::from(fd);
        assert!(f.write_all(b"x").is_err());
    }
}
