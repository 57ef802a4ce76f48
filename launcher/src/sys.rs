//! The launcher's OS calls, each behind one narrow, checked function.
//!
//! Every raw call returns `Result<_, SysError>` carrying the call's name, its object and errno, so
//! a failed step reports exactly what the kernel refused.

use std::ffi::{CStr, CString};
use std::os::fd::RawFd;

#[derive(Debug)]
pub struct SysError {
    pub what: String,
    pub errno: i32,
}

impl std::fmt::Display for SysError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}",
            self.what,
            std::io::Error::from_raw_os_error(self.errno)
        )
    }
}

pub type SysResult<T> = Result<T, SysError>;

pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Turn a C-style return value into a result; `what` names the call and its object.
pub fn check(ret: i64, what: impl FnOnce() -> String) -> SysResult<i64> {
    if ret < 0 {
        Err(SysError {
            what: what(),
            errno: errno(),
        })
    } else {
        Ok(ret)
    }
}

/// Create `name` in `dir` as an empty file (or leave the file that is there), never through a
/// symlink: a mount point for a file bind.
pub fn create_file_at(dir: RawFd, name: &CStr, what: impl FnOnce() -> String) -> SysResult<()> {
    // SAFETY: valid dirfd and name.
    let fd = unsafe {
        libc::openat(
            dir,
            name.as_ptr(),
            libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            0o644,
        )
    };
    close(check(fd as i64, what)? as RawFd);
    Ok(())
}

pub fn fail<T>(what: impl Into<String>, errno: i32) -> SysResult<T> {
    Err(SysError {
        what: what.into(),
        errno,
    })
}

pub fn cstr(s: &str) -> SysResult<CString> {
    CString::new(s).map_err(|_| SysError {
        what: format!("{s:?}: contains a NUL byte"),
        errno: libc::EINVAL,
    })
}

pub fn close(fd: RawFd) {
    // SAFETY: closing an fd we own; errors (EBADF) are harmless here.
    unsafe { libc::close(fd) };
}

/// `/proc/self/fd/N`: the path through which mount(2) acts on exactly the inode an fd holds.
pub fn fd_path(fd: RawFd) -> CString {
    CString::new(format!("/proc/self/fd/{fd}")).expect("no NUL")
}

// openat2(2) resolve flags (linux/openat2.h).
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_IN_ROOT: u64 = 0x10;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// Open `path` relative to `dirfd`, resolving every component inside `dirfd` (symlinks to `/` or
/// `..` never leave it) and never through /proc magic links.
pub fn open_in_root(dirfd: RawFd, path: &str, flags: i32, mode: u32) -> SysResult<RawFd> {
    openat2(
        dirfd,
        path,
        flags,
        mode,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    )
}

/// As [`open_in_root`], and no symlink at all on the way (ELOOP): for the paths whose meaning
/// depends on being exactly what they say (/proc, /sys, /dev/null, /dev/console), where even a
/// symlink that stays in the rootfs would redirect a mount or a write.
pub fn open_no_symlinks(dirfd: RawFd, path: &str, flags: i32) -> SysResult<RawFd> {
    openat2(
        dirfd,
        path,
        flags,
        0,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS,
    )
    .map_err(|e| match e.errno {
        libc::ELOOP => SysError {
            what: format!("{path} is or passes through a symlink in the rootfs"),
            errno: e.errno,
        },
        _ => e,
    })
}

fn openat2(dirfd: RawFd, path: &str, flags: i32, mode: u32, resolve: u64) -> SysResult<RawFd> {
    let c = cstr(path)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: if flags & libc::O_CREAT != 0 {
            mode as u64
        } else {
            0
        },
        resolve,
    };
    // SAFETY: valid C string and a correctly sized open_how struct.
    let r = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    check(r, || format!("openat2 {path}")).map(|v| v as RawFd)
}

pub fn mount(
    src: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: u64,
    data: Option<&CStr>,
) -> SysResult<()> {
    // SAFETY: all pointers are valid C strings or null.
    let r = unsafe {
        libc::mount(
            src.map_or(std::ptr::null(), |s| s.as_ptr()),
            target.as_ptr(),
            fstype.map_or(std::ptr::null(), |s| s.as_ptr()),
            flags as libc::c_ulong,
            data.map_or(std::ptr::null(), |s| s.as_ptr() as *const libc::c_void),
        )
    };
    check(r as i64, || {
        format!(
            "mount {} on {} (type {}, flags {:#x})",
            src.map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            target.to_string_lossy(),
            fstype
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            flags
        )
    })
    .map(|_| ())
}

pub const OPEN_TREE_CLONE: u32 = 1;
pub const AT_RECURSIVE: u32 = 0x8000;
pub const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x04;
pub const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;

/// mount_setattr(2)'s `struct mount_attr` (linux/mount.h).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// MS_* flags as mount_setattr's MOUNT_ATTR_* set and clear masks: only the per-mount flags
/// (the rest of MS_* is not a mount attribute and is ignored).
pub fn mount_attrs(ms: u64) -> (u64, u64) {
    const RDONLY: u64 = 0x1;
    const NOSUID: u64 = 0x2;
    const NODEV: u64 = 0x4;
    const NOEXEC: u64 = 0x8;
    const ATIME_MASK: u64 = 0x70;
    const RELATIME: u64 = 0x0;
    const NOATIME: u64 = 0x10;
    const STRICTATIME: u64 = 0x20;
    const NODIRATIME: u64 = 0x80;
    let mut set = 0;
    for (m, a) in [
        (libc::MS_RDONLY, RDONLY),
        (libc::MS_NOSUID, NOSUID),
        (libc::MS_NODEV, NODEV),
        (libc::MS_NOEXEC, NOEXEC),
        (libc::MS_NODIRATIME, NODIRATIME),
    ] {
        if ms & m != 0 {
            set |= a;
        }
    }
    // The access-time mode is one value: setting one clears the others.
    let atime = if ms & libc::MS_NOATIME != 0 {
        Some(NOATIME)
    } else if ms & libc::MS_STRICTATIME != 0 {
        Some(STRICTATIME)
    } else if ms & libc::MS_RELATIME != 0 {
        Some(RELATIME)
    } else {
        None
    };
    match atime {
        Some(a) => (set | a, ATIME_MASK),
        None => (set, 0),
    }
}

/// Add `ms`'s per-mount flags to the mount at `fd` and every mount beneath it, in one call
/// (Linux 5.12+; ENOSYS before).
pub fn mount_setattr_recursive(fd: RawFd, ms: u64) -> SysResult<()> {
    let (attr_set, attr_clr) = mount_attrs(ms);
    let attr = MountAttr {
        attr_set,
        attr_clr,
        propagation: 0,
        userns_fd: 0,
    };
    let empty = c"";
    // SAFETY: empty path with AT_EMPTY_PATH acts on fd itself; attr is a valid mount_attr of
    // the size given.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd,
            empty.as_ptr(),
            libc::AT_EMPTY_PATH as u32 | AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    check(r, || format!("mount_setattr AT_RECURSIVE {ms:#x}")).map(|_| ())
}

/// Clone the mount tree at `fd` into a detached mount (recursively).
pub fn open_tree_clone(fd: RawFd) -> SysResult<RawFd> {
    let empty = c"";
    // SAFETY: empty path with AT_EMPTY_PATH acts on fd itself.
    let r = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            fd,
            empty.as_ptr(),
            OPEN_TREE_CLONE | AT_RECURSIVE | libc::AT_EMPTY_PATH as u32 | libc::O_CLOEXEC as u32,
        )
    };
    check(r, || "open_tree".into()).map(|v| v as RawFd)
}

/// Attach the detached mount `from` on top of the inode `onto`.
pub fn move_mount_fd(from: RawFd, onto: RawFd) -> SysResult<()> {
    let empty = c"";
    // SAFETY: both paths empty, acting on the fds (MOVE_MOUNT_*_EMPTY_PATH).
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from,
            empty.as_ptr(),
            onto,
            empty.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    check(r, || "move_mount".into()).map(|_| ())
}

pub fn pivot_root_here() -> SysResult<()> {
    let dot = c".";
    // SAFETY: pivot_root(".", ".") stacks the old root under the new one (runc's trick); valid
    // strings.
    let r = unsafe { libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) };
    check(r, || "pivot_root".into()).map(|_| ())
}

pub fn umount_detach(target: &CStr) -> SysResult<()> {
    // SAFETY: valid string.
    let r = unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    check(r as i64, || format!("umount {}", target.to_string_lossy())).map(|_| ())
}

pub fn fchdir(fd: RawFd) -> SysResult<()> {
    // SAFETY: plain syscall on an fd.
    check(unsafe { libc::fchdir(fd) } as i64, || "fchdir".into()).map(|_| ())
}

/// Ok when the current directory is under this process's root: glibc's getcwd fails (ENOENT)
/// when the kernel reports it "(unreachable)"; any failure is the errno.
pub fn cwd_reachable() -> Result<(), i32> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: a buffer of the length passed.
    let p = unsafe { libc::getcwd(buf.as_mut_ptr().cast(), buf.len()) };
    if p.is_null() {
        return Err(errno());
    }
    if buf[0] != b'/' {
        return Err(libc::ENOENT);
    }
    Ok(())
}

pub fn chdir(path: &str) -> SysResult<()> {
    let c = cstr(path)?;
    // SAFETY: valid string.
    check(unsafe { libc::chdir(c.as_ptr()) } as i64, || {
        format!("chdir {path}")
    })
    .map(|_| ())
}

pub fn chroot_dot() -> SysResult<()> {
    // SAFETY: valid string.
    check(unsafe { libc::chroot(c".".as_ptr()) } as i64, || {
        "chroot .".into()
    })
    .map(|_| ())
}

pub fn write_all(fd: RawFd, data: &[u8], what: &str) -> SysResult<()> {
    let mut off = 0;
    while off < data.len() {
        // SAFETY: in-bounds slice.
        let r = unsafe {
            libc::write(
                fd,
                data[off..].as_ptr() as *const libc::c_void,
                data.len() - off,
            )
        };
        if r < 0 && errno() == libc::EINTR {
            continue;
        }
        off += check(r as i64, || what.to_string())? as usize;
    }
    Ok(())
}

/// Read one byte, retrying on EINTR. Returns the number of bytes read (0 on EOF).
pub fn read_byte(fd: RawFd, what: &str) -> SysResult<usize> {
    let mut b = [0u8; 1];
    loop {
        // SAFETY: one-byte buffer.
        let r = unsafe { libc::read(fd, b.as_mut_ptr() as *mut libc::c_void, 1) };
        if r < 0 && errno() == libc::EINTR {
            continue;
        }
        return check(r as i64, || what.to_string()).map(|v| v as usize);
    }
}

pub fn read_to_end(fd: RawFd) -> SysResult<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    let mut off: i64 = 0;
    loop {
        // SAFETY: buffer is valid for its length; pread leaves the fd offset alone.
        let r = unsafe {
            libc::pread(
                fd,
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                off as libc::off_t,
            )
        };
        if r < 0 && errno() == libc::EINTR {
            continue;
        }
        let n = check(r as i64, || "read plan".into())? as usize;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
        off += n as i64;
    }
}

/// Send one message on a SOCK_SEQPACKET socket.
pub fn send_msg(fd: RawFd, data: &[u8]) -> SysResult<()> {
    // SAFETY: valid buffer; MSG_NOSIGNAL so a gone runtime is an error, not SIGPIPE.
    let r = unsafe {
        libc::send(
            fd,
            data.as_ptr() as *const libc::c_void,
            data.len(),
            libc::MSG_NOSIGNAL,
        )
    };
    check(r as i64, || "send report".into()).map(|_| ())
}

/// Receive one message from a SOCK_SEQPACKET socket (empty on EOF).
pub fn recv_msg(fd: RawFd) -> SysResult<Vec<u8>> {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        // SAFETY: valid buffer.
        let r = unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
        if r < 0 && errno() == libc::EINTR {
            continue;
        }
        let n = check(r as i64, || "recv command".into())? as usize;
        buf.truncate(n);
        return Ok(buf);
    }
}

/// Receive one message and the fds that came with it ([`bvisor_launcher::fdpass::recv_with_fds`]).
pub fn recv_with_fds(sock: RawFd, max_fds: usize) -> SysResult<(Vec<u8>, Vec<RawFd>)> {
    bvisor_launcher::fdpass::recv_with_fds(sock, max_fds).map_err(|e| SysError {
        what: format!("recvmsg handover: {e}"),
        errno: e.raw_os_error().unwrap_or(libc::EMSGSIZE),
    })
}

/// One message from the runtime and the fds that came with it: `accept` (given the bytes and
/// how many fds came) decodes it and names each fd's number, and they are put there. The
/// runtime gone before sending it (EOF): EPIPE, naming `what`. A message `accept` refuses:
/// its fds are closed, EBADMSG.
pub fn receive_placed<T>(
    control: RawFd,
    what: &str,
    accept: impl FnOnce(&[u8], usize) -> Result<(T, Vec<RawFd>), String>,
) -> SysResult<T> {
    let (bytes, fds) = recv_with_fds(control, bvisor_launcher::HANDOVER_MAX_FDS)?;
    if bytes.is_empty() && fds.is_empty() {
        return fail(
            format!("runtime closed the control socket before {what}"),
            libc::EPIPE,
        );
    }
    match accept(&bytes, fds.len()) {
        Ok((value, targets)) => {
            place_fds(&fds, &targets)?;
            Ok(value)
        }
        Err(e) => {
            fds.iter().for_each(|&fd| close(fd));
            fail(e, libc::EBADMSG)
        }
    }
}

/// Put each of `fds` at its number in `targets` (same order), close-on-exec, leaving none of
/// the received numbers open elsewhere. Received fds take the lowest free numbers, which may be
/// other fds' targets, so every fd not already in place is first moved above them all.
pub fn place_fds(fds: &[RawFd], targets: &[RawFd]) -> SysResult<()> {
    if fds.len() != targets.len() {
        return fail(
            format!("{} fds for {} targets", fds.len(), targets.len()),
            libc::EBADMSG,
        );
    }
    let mut sorted = targets.to_vec();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[0] == w[1]) || sorted.first().is_some_and(|&t| t < 3) {
        return fail(format!("bad fd targets {targets:?}"), libc::EBADMSG);
    }
    let above = fds.iter().chain(targets).copied().max().unwrap_or(0) + 1;
    let mut staged = Vec::with_capacity(fds.len());
    for (&fd, &target) in fds.iter().zip(targets) {
        if fd == target {
            staged.push(None);
            continue;
        }
        // SAFETY: fcntl on an fd we received.
        let s = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, above) };
        check(s as i64, || format!("stage fd {fd}"))?;
        close(fd);
        staged.push(Some(s));
    }
    for (s, &target) in staged.into_iter().zip(targets) {
        if let Some(s) = s {
            // SAFETY: dup3 onto a number that holds nothing of ours (every received fd not at
            // its target was moved above every target).
            let r = unsafe { libc::dup3(s, target, libc::O_CLOEXEC) };
            check(r as i64, || format!("place fd {target}"))?;
            close(s);
        }
    }
    Ok(())
}

/// Send `fd` over a unix socket with SCM_RIGHTS.
pub fn send_fd(sock: RawFd, fd: RawFd) -> SysResult<()> {
    bvisor_launcher::fdpass::send_with_fds(sock, b"pty", &[fd]).map_err(|e| SysError {
        what: "send pty master to console socket".into(),
        errno: e.raw_os_error().unwrap_or(libc::EIO),
    })
}

#[repr(C)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// clone3 without a new stack: returns 0 in the child, the child's pid in the parent (fork-like).
/// With `cgroup`, the child starts in that cgroup v2 directory (CLONE_INTO_CGROUP).
pub fn clone3(flags: u64, cgroup: Option<RawFd>) -> SysResult<i32> {
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let mut args = CloneArgs {
        flags: flags | cgroup.map_or(0, |_| CLONE_INTO_CGROUP),
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: cgroup.map_or(0, |fd| fd as u64),
    };
    // SAFETY: the launcher is single-threaded (checked in step 1), so a fork-like clone3 with no
    // new stack is as safe as fork(2).
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    check(r, || format!("clone3 flags {flags:#x}")).map(|v| v as i32)
}

pub fn setns(fd: RawFd, nstype: i32, what: &str) -> SysResult<()> {
    // SAFETY: plain syscall on an fd.
    check(unsafe { libc::setns(fd, nstype) } as i64, || {
        format!("setns {what}")
    })
    .map(|_| ())
}

pub fn prctl(op: i32, a: u64, what: &str) -> SysResult<()> {
    // SAFETY: prctl with integer arguments.
    let r = unsafe { libc::prctl(op, a as libc::c_ulong, 0, 0, 0) };
    check(r as i64, || what.to_string()).map(|_| ())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;

pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> SysResult<()> {
    let hdr = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: effective as u32,
            permitted: permitted as u32,
            inheritable: inheritable as u32,
        },
        CapData {
            effective: (effective >> 32) as u32,
            permitted: (permitted >> 32) as u32,
            inheritable: (inheritable >> 32) as u32,
        },
    ];
    // SAFETY: v3 header with two data structs, as the kernel expects.
    let r = unsafe { libc::syscall(libc::SYS_capset, &hdr as *const CapHeader, data.as_ptr()) };
    check(r, || "capset".into()).map(|_| ())
}

/// The highest capability number this kernel knows (`/proc/sys/kernel/cap_last_cap`).
pub fn cap_last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

pub fn ensure_single_threaded() -> SysResult<()> {
    let n = std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(1);
    if n != 1 {
        return fail(
            format!("launcher has {n} threads, needs exactly 1"),
            libc::EBUSY,
        );
    }
    Ok(())
}

/// Every open fd of this process (from /proc/self/fd), excluding the directory's own.
pub fn open_fds() -> Vec<RawFd> {
    let mut fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    // the read_dir fd itself is closed by now and may show in the list; fcntl will tell
    fds.retain(|&fd| {
        // SAFETY: F_GETFD on any number is harmless.
        unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
    });
    fds
}

/// close_range(2) over each inclusive range (ENOSYS before Linux 5.9).
pub fn close_ranges(ranges: &[(u32, u32)]) -> SysResult<()> {
    for &(first, last) in ranges {
        // SAFETY: closes fds of our own; no pointers.
        let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
        check(r, || format!("close_range {first}..={last}"))?;
    }
    Ok(())
}

pub fn set_cloexec(fd: RawFd, on: bool) -> SysResult<()> {
    // SAFETY: fcntl on an fd.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFD) } as i64, || {
        format!("fcntl fd {fd}")
    })? as i32;
    let new = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    // SAFETY: fcntl on an fd.
    check(
        unsafe { libc::fcntl(fd, libc::F_SETFD, new) } as i64,
        || format!("fcntl fd {fd}"),
    )
    .map(|_| ())
}

pub fn waitpid(pid: i32) -> SysResult<i32> {
    let mut status = 0;
    loop {
        // SAFETY: status is a valid out pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r < 0 && errno() == libc::EINTR {
            continue;
        }
        check(r as i64, || format!("waitpid {pid}"))?;
        return Ok(status);
    }
}

/// The filesystem magic of what `fd` is on (statfs f_type).
pub fn fs_magic(fd: RawFd) -> SysResult<i64> {
    // SAFETY: fstatfs into a zeroed struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and pointer.
    check(unsafe { libc::fstatfs(fd, &mut st) } as i64, || {
        format!("fstatfs fd {fd}")
    })?;
    Ok(st.f_type as i64)
}

pub fn fstat(fd: RawFd) -> SysResult<libc::stat> {
    // SAFETY: fstat into a zeroed struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and pointer.
    check(unsafe { libc::fstat(fd, &mut st) } as i64, || {
        format!("fstat fd {fd}")
    })?;
    Ok(st)
}

/// Open a host path (before pivot_root) or an absolute path in the container's own root (after
/// it). Paths inside the rootfs before pivot_root go through [`open_in_root`] instead.
pub fn open_path(path: &str, flags: i32) -> SysResult<RawFd> {
    let c = cstr(path)?;
    // SAFETY: valid string.
    let r = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    check(r as i64, || format!("open {path}")).map(|v| v as RawFd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_flags_become_mount_attributes() {
        // ro,nosuid,nodev,noexec,relatime: the four bits, and relatime (0) within the atime
        // mask, which is cleared first.
        let ms = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        assert_eq!(mount_attrs(ms | libc::MS_RELATIME), (0xf, 0x70));
        // No atime flag: the atime mode is left as it is.
        assert_eq!(mount_attrs(libc::MS_NOSUID), (0x2, 0));
        assert_eq!(
            mount_attrs(libc::MS_NOATIME | libc::MS_NODIRATIME),
            (0x90, 0x70)
        );
        assert_eq!(mount_attrs(libc::MS_STRICTATIME), (0x20, 0x70));
        // Not per-mount attributes: ignored.
        assert_eq!(mount_attrs(libc::MS_BIND | libc::MS_REC), (0, 0));
    }

    fn inode(fd: RawFd) -> Option<u64> {
        // SAFETY: stat is plain data; fstat writes it.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat on any number is harmless.
        (unsafe { libc::fstat(fd, &mut st) } == 0).then_some(st.st_ino)
    }

    fn memfd(name: &str) -> RawFd {
        let c = CString::new(name).unwrap();
        // SAFETY: memfd_create with a valid name.
        let fd = unsafe { libc::memfd_create(c.as_ptr(), libc::MFD_CLOEXEC) };
        assert!(fd >= 0);
        fd
    }

    /// Targets that are other received fds' numbers (a swap and a chain) still end up holding
    /// the right files, and no received number stays open unless it is a target.
    #[test]
    fn received_fds_land_on_their_targets() {
        let fds: Vec<RawFd> = (0..4).map(|i| memfd(&format!("f{i}"))).collect();
        let inodes: Vec<u64> = fds.iter().map(|&f| inode(f).unwrap()).collect();
        let free = fds.iter().max().unwrap() + 50;
        // f0 -> f1's number, f1 -> f0's number, f2 stays, f3 -> a free number.
        let targets = vec![fds[1], fds[0], fds[2], free];
        place_fds(&fds, &targets).unwrap();
        for (t, ino) in targets.iter().zip(&inodes) {
            assert_eq!(inode(*t), Some(*ino), "target {t}");
            // SAFETY: F_GETFD on an fd.
            let flags = unsafe { libc::fcntl(*t, libc::F_GETFD) };
            assert_eq!(flags & libc::FD_CLOEXEC, 1, "target {t} close-on-exec");
        }
        assert_eq!(inode(fds[3]), None, "fd {} left open", fds[3]);
        targets.iter().for_each(|&t| close(t));
    }

    #[test]
    fn bad_targets_are_refused() {
        let a = memfd("a");
        assert!(place_fds(&[a], &[]).is_err());
        assert!(place_fds(&[a, a], &[200, 200]).is_err());
        assert!(place_fds(&[a], &[1]).is_err());
        close(a);
    }

    #[test]
    fn a_message_brings_its_fds() {
        let mut sv = [0; 2];
        // SAFETY: sv has room for two.
        let r = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                sv.as_mut_ptr(),
            )
        };
        assert_eq!(r, 0);
        let f = memfd("passed");
        send_fd(sv[0], f).unwrap();
        let (bytes, got) = recv_with_fds(sv[1], 4).unwrap();
        assert_eq!(bytes, b"pty");
        assert_eq!(got.len(), 1);
        assert_eq!(inode(got[0]), inode(f));
        [f, got[0], sv[0]].into_iter().for_each(close);
        let (bytes, got) = recv_with_fds(sv[1], 4).unwrap();
        assert!(bytes.is_empty() && got.is_empty(), "EOF");
        close(sv[1]);
    }
}
