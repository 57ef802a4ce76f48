//! Step 3: hostname, the root filesystem and its mounts, /dev, pivot_root, masked and read-only
//! paths, sysctl and the console.
//!
//! Every path inside the rootfs is opened with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
//! relative to the rootfs mount, and mounts act on the opened fd through /proc/self/fd/N, so a
//! symlink in the rootfs (or one swapped in during setup) can never redirect a mount to the host.

use crate::hooks;
use crate::report;
use crate::sys::{self, cstr, fd_path, SysError, SysResult};
use bvisor_launcher::{Command, DevicePlan, LaunchPlan, MountPlan, Report, RootfsPlan};
use std::os::fd::RawFd;

/// Returns an fd of `/proc/self/oom_score_adj` opened before pivot_root (step 4 writes it),
/// and fills `state` with the OCI state JSON for in-container hooks.
pub fn setup(plan: &LaunchPlan, control: RawFd, state: &mut String) -> SysResult<Option<RawFd>> {
    if let Some(h) = &plan.hostname {
        let c = cstr(h)?;
        // SAFETY: valid buffer and length.
        let r = unsafe { libc::sethostname(c.as_ptr(), h.len()) };
        sys::check(r as i64, || format!("sethostname {h}"))?;
    }
    if let Some(d) = &plan.domainname {
        let c = cstr(d)?;
        // SAFETY: valid buffer and length.
        let r = unsafe { libc::setdomainname(c.as_ptr(), d.len()) };
        sys::check(r as i64, || format!("setdomainname {d}"))?;
    }
    let oom_fd = match plan.oom_score_adj {
        Some(_) => Some(sys::open_path("/proc/self/oom_score_adj", libc::O_WRONLY)?),
        None => None,
    };
    let Some(rootfs) = &plan.rootfs else {
        // No mount namespace of our own: either exec into a container (setns already put us
        // at its root) or a container sharing the runtime's mounts, which only changes root.
        sync_hooks(plan, control, state)?;
        if let Some(fd) = plan.chroot_fd {
            sys::fchdir(fd)?;
            sys::chroot_dot()?;
            sys::chdir("/")?;
            sys::close(fd);
        }
        if plan.process.terminal {
            let slash = sys::open_path("/", libc::O_PATH | libc::O_DIRECTORY)?;
            let r = console(slash, plan, false);
            sys::close(slash);
            r?;
        }
        return Ok(oom_fd);
    };
    let root = enter_rootfs(rootfs)?;
    for (i, m) in rootfs.mounts.iter().enumerate() {
        if m.fstype == "remount" && m.recursive {
            remount_tree(root, m, &rootfs.mounts[..i])?;
        } else {
            mount_one(root, m, rootfs.bind_devices)?;
        }
    }
    if rootfs.default_devices {
        default_devices(root, rootfs)?;
    }
    for d in &rootfs.devices {
        make_device(root, d, rootfs.bind_devices)?;
    }
    sync_hooks(plan, control, state)?;
    if rootfs.no_pivot {
        // MS_MOVE + chroot: for filesystems where pivot_root is impossible (e.g. initramfs).
        sys::fchdir(root)?;
        sys::mount(Some(c"."), c"/", None, libc::MS_MOVE, None)?;
        sys::chroot_dot()?;
    } else {
        let old_root = sys::open_path("/", libc::O_DIRECTORY | libc::O_RDONLY)?;
        sys::fchdir(root)?;
        sys::pivot_root_here()?;
        // The old root is now stacked on top of the new one. Step into it (not the new root,
        // whose mounts keep the propagation the config asked for), make it a slave so that
        // unmounting cannot propagate to the host, then drop it.
        sys::fchdir(old_root)?;
        sys::close(old_root);
        sys::mount(None, c".", None, libc::MS_SLAVE | libc::MS_REC, None)?;
        sys::umount_detach(c".")?;
    }
    sys::chdir("/")?;
    if rootfs.post_propagation != 0 {
        sys::mount(None, c"/", None, rootfs.post_propagation, None)?;
    }
    sys::close(root);
    sys::close(rootfs.root_fd);
    let slash = sys::open_path("/", libc::O_PATH | libc::O_DIRECTORY)?;
    // sysctl before readonlyPaths: /proc/sys is usually among them (ARCHITECTURE §3 lists
    // sysctl last, which would always fail).
    for (k, v) in &rootfs.sysctl {
        write_sysctl(slash, k, v)?;
    }
    for p in &rootfs.masked_paths {
        mask_path(slash, p)?;
    }
    for p in &rootfs.readonly_paths {
        readonly_path(slash, p)?;
    }
    // The console before the read-only root: a rootfs without /dev/console (and no /dev
    // tmpfs) gets its mount point made while the root is still writable.
    if plan.process.terminal {
        console(slash, plan, rootfs.console)?;
    }
    if rootfs.readonly_root {
        remount(slash, "/", libc::MS_RDONLY)?;
    }
    sys::close(slash);
    Ok(oom_fd)
}

/// Tell the runtime mounts are done (it runs prestart/createRuntime hooks), get the state back,
/// then run createContainer hooks here, in the container's namespaces, before pivot_root.
fn sync_hooks(plan: &LaunchPlan, control: RawFd, state: &mut String) -> SysResult<()> {
    if !plan.sync_hooks {
        return Ok(());
    }
    report::send(control, &Report::HooksPoint)?;
    let msg = sys::recv_msg(control)?;
    match Command::decode(&msg) {
        Ok(Command::Proceed { state: s }) => *state = s,
        Ok(Command::Abort { reason }) => {
            return sys::fail(format!("aborted: {reason}"), libc::ECANCELED)
        }
        Err(e) => return sys::fail(e, libc::EBADMSG),
    }
    hooks::run_all(&plan.create_container_hooks, state, "createContainer")
}

/// Make the mount namespace private to us and turn the rootfs into a mount point of its own.
/// Returns an O_PATH fd of the rootfs mount's root: every later lookup is relative to it.
fn enter_rootfs(r: &RootfsPlan) -> SysResult<RawFd> {
    sys::mount(None, c"/", None, r.root_propagation, None)?;
    // root_fd was opened in the runtime's mount namespace, whose mounts cannot be cloned from
    // this one: open the same path here and check it is the very same directory.
    let here = sys::open_path(&r.root_path, libc::O_PATH | libc::O_DIRECTORY)?;
    let (a, b) = (sys::fstat(r.root_fd)?, sys::fstat(here)?);
    if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino) {
        return sys::fail(
            format!("rootfs {} changed since the runtime opened it", r.root_path),
            libc::ESTALE,
        );
    }
    let tree = sys::open_tree_clone(here)?;
    sys::move_mount_fd(tree, here)?;
    sys::close(here);
    // `tree` now is the root of the attached mount: lookups through it stay in the new mount.
    let root = sys::open_in_root(tree, "/", libc::O_PATH | libc::O_DIRECTORY, 0)?;
    sys::close(tree);
    Ok(root)
}

fn mount_one(root: RawFd, m: &MountPlan, bind_devices: bool) -> SysResult<()> {
    let _ = bind_devices;
    if m.fstype == "remount" {
        return remount(root, &m.destination, m.flags);
    }
    let is_bind = m.fstype == "bind";
    if matches!(m.fstype.as_str(), "proc" | "sysfs") {
        // A /proc that is a symlink (even one staying in the rootfs) would put procfs somewhere
        // the masked and read-only paths do not cover (runc CVE-2019-19921): refuse it.
        match sys::open_no_symlinks(root, &m.destination, libc::O_PATH) {
            Ok(fd) => sys::close(fd),
            Err(e) if e.errno == libc::ENOENT => {}
            Err(e) => {
                return Err(SysError {
                    what: format!("mount {} on {}: {}", m.fstype, m.destination, e.what),
                    errno: e.errno,
                })
            }
        }
    }
    let want_dir = !is_bind || m.source_is_dir;
    let target = create_in_root(root, &m.destination, want_dir)?;
    let tpath = fd_path(target);
    let source = cstr(&m.source)?;
    if is_bind {
        let flags = libc::MS_BIND | if m.recursive { libc::MS_REC } else { 0 };
        sys::mount(Some(&source), &tpath, None, flags, None)?;
        sys::close(target);
        let extra = m.flags & !(libc::MS_BIND | libc::MS_REC);
        if extra != 0 {
            remount(root, &m.destination, extra)?;
        }
    } else {
        let fstype = cstr(&m.fstype)?;
        let data = cstr(&m.data)?;
        let data = if m.data.is_empty() {
            None
        } else {
            Some(data.as_c_str())
        };
        let r = sys::mount(Some(&source), &tpath, Some(&fstype), m.flags, data);
        sys::close(target);
        r?;
    }
    if m.propagation != 0 {
        let t = sys::open_in_root(root, &m.destination, libc::O_PATH, 0)?;
        let r = sys::mount(None, &fd_path(t), None, m.propagation, None);
        sys::close(t);
        r?;
    }
    Ok(())
}

/// Add `m.flags` to the mount at `m.destination` and to every mount beneath it: one
/// mount_setattr(AT_RECURSIVE), or where the kernel lacks it (before 5.12), a remount of each
/// mount the plan made there (`earlier`: the plan's mounts so far, the only ones beneath it).
fn remount_tree(root: RawFd, m: &MountPlan, earlier: &[MountPlan]) -> SysResult<()> {
    let t = sys::open_in_root(root, &m.destination, libc::O_PATH, 0)?;
    let r = sys::mount_setattr_recursive(t, m.flags);
    sys::close(t);
    match r {
        Err(e) if e.errno == libc::ENOSYS => {
            let prefix = format!("{}/", m.destination.trim_end_matches('/'));
            let beneath = earlier
                .iter()
                .filter(|e| e.fstype != "remount" && e.destination.starts_with(&prefix));
            remount(root, &m.destination, m.flags)?;
            for e in beneath {
                remount(root, &e.destination, m.flags)?;
            }
            Ok(())
        }
        r => r,
    }
}

/// Remount the mount at `path` (inside `root`) with `flags` added, keeping the flags the kernel
/// locks (nosuid, nodev, noexec, and ro when already set) so the remount cannot fail with EPERM
/// in a user namespace or silently drop them.
fn remount(root: RawFd, path: &str, flags: u64) -> SysResult<()> {
    let t = sys::open_in_root(root, path, libc::O_PATH, 0)?;
    let p = fd_path(t);
    // SAFETY: statvfs on a valid path into a zeroed struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers.
    let r = unsafe { libc::statvfs(p.as_ptr(), &mut st) };
    let mut keep = 0u64;
    if r == 0 {
        let f = st.f_flag;
        for (st_flag, ms) in [
            (libc::ST_NOSUID, libc::MS_NOSUID),
            (libc::ST_NODEV, libc::MS_NODEV),
            (libc::ST_NOEXEC, libc::MS_NOEXEC),
            (libc::ST_RDONLY, libc::MS_RDONLY),
            (libc::ST_RELATIME, libc::MS_RELATIME),
            (libc::ST_NOATIME, libc::MS_NOATIME),
        ] {
            if f & st_flag != 0 {
                keep |= ms;
            }
        }
    }
    let res = sys::mount(
        None,
        &p,
        None,
        libc::MS_REMOUNT | libc::MS_BIND | flags | keep,
        None,
    );
    sys::close(t);
    res
}

/// Create every missing component of `path` inside `root` (directories; the last one a
/// directory or an empty file) and return an O_PATH fd of it, resolved inside the root.
///
/// Every prefix is resolved again from the root (openat2 RESOLVE_IN_ROOT), so a symlinked
/// component is followed inside the root, never out of it; an entry is created relative to the
/// O_PATH fd of its resolved parent (mkdirat and openat take O_PATH directory fds), then
/// resolved once more, as it may be a dangling symlink's target.
///
/// The walk starts at the deepest prefix that already exists, found from the bottom up: most
/// paths lack only their last component (a mount point like `/sys/fs/cgroup/cpu`), and walking
/// from the top reopened every prefix of every mount point.
pub fn create_in_root(root: RawFd, path: &str, dir: bool) -> SysResult<RawFd> {
    if let Ok(fd) = sys::open_in_root(root, path, libc::O_PATH, 0) {
        return Ok(fd);
    }
    let comps: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    // The parent of the next component; `None` is the root itself (not ours to close).
    let mut cur: Option<RawFd> = None;
    let mut start = 0;
    for k in (1..comps.len()).rev() {
        match sys::open_in_root(root, &format!("/{}", comps[..k].join("/")), libc::O_PATH, 0) {
            Ok(fd) => {
                cur = Some(fd);
                start = k;
                break;
            }
            Err(e) if e.errno == libc::ENOENT => {}
            Err(e) => return Err(e),
        }
    }
    for i in start..comps.len() {
        // Only the path's last component may be a file.
        let file = !dir && i + 1 == comps.len();
        let next = open_or_create(root, cur.unwrap_or(root), &comps[..=i], file);
        if let Some(fd) = cur {
            sys::close(fd);
        }
        cur = Some(next?);
    }
    match cur {
        Some(fd) => Ok(fd),
        // `path` named the root itself, which the first open would have found.
        None => sys::open_in_root(root, "/", libc::O_PATH | libc::O_DIRECTORY, 0),
    }
}

/// One step of [`create_in_root`]: the O_PATH fd of `/comps…` inside `root`, creating its last
/// component relative to `parent` (its resolved parent) when missing, as an empty file if `file`
/// else a directory, then resolving it again inside the root. `..` is resolved by openat2
/// inside the root, never created.
fn open_or_create(root: RawFd, parent: RawFd, comps: &[&str], file: bool) -> SysResult<RawFd> {
    let sofar = format!("/{}", comps.join("/"));
    let c = comps[comps.len() - 1];
    match sys::open_in_root(root, &sofar, libc::O_PATH, 0) {
        Err(e) if e.errno == libc::ENOENT && c != ".." => {}
        r => return r,
    }
    let name = cstr(c)?;
    if file {
        sys::create_file_at(parent, &name, || format!("create {sofar}"))?;
    } else {
        // SAFETY: valid dirfd and name.
        let r = unsafe { libc::mkdirat(parent, name.as_ptr(), 0o755) };
        if r < 0 && sys::errno() != libc::EEXIST {
            return sys::fail(format!("mkdir {sofar}"), sys::errno());
        }
    }
    sys::open_in_root(root, &sofar, libc::O_PATH, 0)
}

const DEFAULT_DEVICES: &[(&str, i64, i64)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

fn default_devices(root: RawFd, r: &RootfsPlan) -> SysResult<()> {
    for (name, major, minor) in DEFAULT_DEVICES {
        make_device(
            root,
            &DevicePlan {
                path: format!("/dev/{name}"),
                kind: 'c',
                major: *major,
                minor: *minor,
                mode: 0o666,
                uid: 0,
                gid: 0,
            },
            r.bind_devices,
        )?;
    }
    // An O_PATH directory fd serves symlinkat and unlinkat as any directory fd does.
    let devdir = create_in_root(root, "/dev", true)?;
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("core", "/proc/kcore"),
    ] {
        symlink_at(devdir, target, link)?;
    }
    // /dev/ptmx must be the container's devpts instance's ptmx.
    let ptmx = c"ptmx";
    // SAFETY: valid dirfd and name; removing a stale entry.
    unsafe { libc::unlinkat(devdir, ptmx.as_ptr(), 0) };
    symlink_at(devdir, "pts/ptmx", "ptmx")?;
    sys::close(devdir);
    Ok(())
}

fn symlink_at(dirfd: RawFd, target: &str, name: &str) -> SysResult<()> {
    let t = cstr(target)?;
    let n = cstr(name)?;
    // SAFETY: valid strings and dirfd.
    let r = unsafe { libc::symlinkat(t.as_ptr(), dirfd, n.as_ptr()) };
    if r < 0 && sys::errno() != libc::EEXIST {
        return sys::fail(format!("symlink /dev/{name} -> {target}"), sys::errno());
    }
    Ok(())
}

/// Give the node just made at `name` exactly `d.mode`: mknod applied the umask (or a default
/// ACL), and chown cleared set-id bits. Never by name: a process sharing an on-disk or
/// bind-mounted /dev could swap the name for a symlink, which chmod would follow (before
/// pivot_root, out to a host file). The node is opened without following, checked to be the
/// node made, and changed through its fd.
fn set_node_mode(
    dirfd: RawFd,
    name: &std::ffi::CStr,
    d: &DevicePlan,
    kind: libc::mode_t,
    dev: libc::dev_t,
) -> SysResult<()> {
    // SAFETY: valid dirfd and name.
    let fd = unsafe {
        libc::openat(
            dirfd,
            name.as_ptr(),
            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    let fd = sys::check(fd as i64, || format!("open {}", d.path))? as RawFd;
    let res = sys::fstat(fd).and_then(|st| {
        let same =
            st.st_mode & libc::S_IFMT == kind && (kind == libc::S_IFIFO || st.st_rdev == dev);
        if !same {
            return sys::fail(
                format!("{} was replaced while it was made", d.path),
                libc::EEXIST,
            );
        }
        // /proc/self/fd/N of an O_PATH fd is this very inode, whatever the name now is.
        // SAFETY: valid path.
        let r = unsafe { libc::chmod(fd_path(fd).as_ptr(), d.mode & 0o7777) };
        sys::check(r as i64, || format!("chmod {}", d.path)).map(|_| ())
    });
    sys::close(fd);
    res
}

fn make_device(root: RawFd, d: &DevicePlan, bind: bool) -> SysResult<()> {
    let (parent, name) = split_parent(&d.path);
    let cname = cstr(name)?;
    let dirfd = create_in_root(root, parent, true)?;
    // A stale node or file in the rootfs is replaced.
    // SAFETY: valid dirfd and name.
    unsafe { libc::unlinkat(dirfd, cname.as_ptr(), 0) };
    let res = if bind {
        // In a user namespace mknod is refused: bind the host's node onto an empty file.
        sys::create_file_at(dirfd, &cname, || format!("create {}", d.path))?;
        let t = sys::open_in_root(root, &d.path, libc::O_PATH, 0)?;
        let src = cstr(&d.path)?;
        let r = sys::mount(Some(&src), &fd_path(t), None, libc::MS_BIND, None);
        sys::close(t);
        r
    } else {
        let kind = match d.kind {
            'c' | 'u' => libc::S_IFCHR,
            'b' => libc::S_IFBLK,
            'p' => libc::S_IFIFO,
            k => return sys::fail(format!("{}: device type {k:?}", d.path), libc::EINVAL),
        };
        let dev = libc::makedev(d.major as u32, d.minor as u32);
        // SAFETY: valid dirfd and name.
        let r = unsafe { libc::mknodat(dirfd, cname.as_ptr(), kind | (d.mode & 0o7777), dev) };
        sys::check(r as i64, || format!("mknod {}", d.path)).and_then(|_| {
            // SAFETY: valid dirfd and name; AT_SYMLINK_NOFOLLOW on the node we just made.
            let r = unsafe {
                libc::fchownat(
                    dirfd,
                    cname.as_ptr(),
                    d.uid,
                    d.gid,
                    libc::AT_SYMLINK_NOFOLLOW,
                )
            };
            sys::check(r as i64, || format!("chown {}", d.path))?;
            set_node_mode(dirfd, &cname, d, kind, dev)
        })
    };
    sys::close(dirfd);
    res
}

fn split_parent(path: &str) -> (&str, &str) {
    let p = path.trim_end_matches('/');
    match p.rfind('/') {
        Some(0) => ("/", &p[1..]),
        Some(i) => (&p[..i], &p[i + 1..]),
        None => ("/", p),
    }
}

/// Hide a path: /dev/null over a file, an empty read-only tmpfs over a directory. A path that
/// does not exist in this rootfs needs no hiding.
fn mask_path(slash: RawFd, path: &str) -> SysResult<()> {
    let t = match sys::open_in_root(slash, path, libc::O_PATH, 0) {
        Ok(t) => t,
        Err(e) if e.errno == libc::ENOENT => return Ok(()),
        Err(e) => return Err(e),
    };
    // SAFETY: fstat into a zeroed struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and pointer.
    sys::check(unsafe { libc::fstat(t, &mut st) } as i64, || {
        format!("stat {path}")
    })?;
    let target = fd_path(t);
    let r = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        sys::mount(
            Some(c"tmpfs"),
            &target,
            Some(c"tmpfs"),
            libc::MS_RDONLY,
            Some(c"size=0k"),
        )
    } else {
        null_device(slash).and_then(|null| {
            let r = sys::mount(Some(&fd_path(null)), &target, None, libc::MS_BIND, None);
            sys::close(null);
            r
        })
    };
    sys::close(t);
    r.map_err(|e| SysError {
        what: format!("mask {path}: {}", e.what),
        errno: e.errno,
    })
}

/// The container's /dev/null, checked to be the null device itself: a rootfs whose /dev/null
/// is a symlink or another file would turn masking into bind-mounting that file over the
/// masked path (runc CVE-2025-31133).
fn null_device(slash: RawFd) -> SysResult<RawFd> {
    let fd = sys::open_no_symlinks(slash, "/dev/null", libc::O_PATH)?;
    let st = sys::fstat(fd)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != libc::makedev(1, 3) {
        sys::close(fd);
        return sys::fail(
            "/dev/null in the container is not the null device",
            libc::EPERM,
        );
    }
    Ok(fd)
}

fn readonly_path(slash: RawFd, path: &str) -> SysResult<()> {
    let t = match sys::open_in_root(slash, path, libc::O_PATH, 0) {
        Ok(t) => t,
        Err(e) if e.errno == libc::ENOENT => return Ok(()),
        Err(e) => return Err(e),
    };
    let p = fd_path(t);
    let r = sys::mount(Some(&p), &p, None, libc::MS_BIND | libc::MS_REC, None);
    sys::close(t);
    r?;
    remount(slash, path, libc::MS_RDONLY | libc::MS_REC)
}

fn write_sysctl(slash: RawFd, key: &str, value: &str) -> SysResult<()> {
    if key.contains("..") || key.starts_with('/') {
        return sys::fail(format!("sysctl {key:?}: not a sysctl name"), libc::EINVAL);
    }
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    // Only into procfs, with no symlink on the way: a write redirected elsewhere would land
    // where the config never asked (runc CVE-2025-52881).
    let fd = sys::open_no_symlinks(slash, &path, libc::O_WRONLY | libc::O_TRUNC)?;
    if sys::fs_magic(fd)? != libc::PROC_SUPER_MAGIC {
        sys::close(fd);
        return sys::fail(
            format!("sysctl {key}: {path} is not on procfs"),
            libc::EPERM,
        );
    }
    let r = sys::write_all(fd, value.as_bytes(), &format!("write {path}"));
    sys::close(fd);
    r
}

/// A pty from the container's own devpts: the slave becomes stdio and the controlling terminal
/// (and /dev/console); the master goes to the console socket.
fn console(slash: RawFd, plan: &LaunchPlan, bind_console: bool) -> SysResult<()> {
    let Some(sock) = plan.fds.console_socket else {
        return sys::fail("process.terminal needs --console-socket", libc::EINVAL);
    };
    let master = sys::open_in_root(slash, "/dev/pts/ptmx", libc::O_RDWR | libc::O_NOCTTY, 0)
        .or_else(|_| sys::open_in_root(slash, "/dev/ptmx", libc::O_RDWR | libc::O_NOCTTY, 0))?;
    let mut n: libc::c_uint = 0;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK takes an int pointer, TIOCGPTN an unsigned int pointer.
    unsafe {
        sys::check(
            libc::ioctl(master, libc::TIOCSPTLCK, &unlock) as i64,
            || "unlock pty".into(),
        )?;
        sys::check(libc::ioctl(master, libc::TIOCGPTN, &mut n) as i64, || {
            "pty number".into()
        })?;
    }
    let slave_path = format!("/dev/pts/{n}");
    let slave = sys::open_in_root(slash, &slave_path, libc::O_RDWR | libc::O_NOCTTY, 0)?;
    if bind_console {
        // Made if missing, then re-opened refusing symlinks: a rootfs /dev/console that is a
        // symlink would receive the pty somewhere else (runc CVE-2025-52565). The pty is
        // mounted from the fd just opened, not by its path.
        sys::close(create_in_root(slash, "/dev/console", false)?);
        let c = sys::open_no_symlinks(slash, "/dev/console", libc::O_PATH)?;
        let r = sys::mount(
            Some(&fd_path(slave)),
            &fd_path(c),
            None,
            libc::MS_BIND,
            None,
        );
        sys::close(c);
        r?;
    }
    sys::send_fd(sock, master)?;
    sys::close(master);
    sys::close(sock);
    // SAFETY: setsid/ioctl/dup2 on fds we own.
    unsafe {
        sys::check(libc::setsid() as i64, || "setsid".into())?;
        sys::check(libc::ioctl(slave, libc::TIOCSCTTY, 0) as i64, || {
            "set controlling terminal".into()
        })?;
        for fd in 0..3 {
            sys::check(libc::dup2(slave, fd) as i64, || "dup2 pty".into())?;
        }
    }
    if slave > 2 {
        sys::close(slave);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{create_in_root, split_parent, sys};
    use std::os::unix::fs::symlink;

    /// create_in_root on a scratch directory (openat2 needs no privilege): what it makes lands
    /// inside the root whatever the symlinks on the way say, and an existing prefix is reused.
    #[test]
    fn creates_inside_the_root_only() {
        let base = std::env::temp_dir().join(format!("bvisor-cir-{}", std::process::id()));
        let root_dir = base.join("root");
        std::fs::create_dir_all(root_dir.join("sys/fs/cgroup")).unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        // In-root absolute symlink, and one that would climb out of the root on the host.
        symlink("/sys/fs", root_dir.join("fs")).unwrap();
        symlink("../../../outside", root_dir.join("up")).unwrap();
        let root =
            sys::open_path(root_dir.to_str().unwrap(), libc::O_PATH | libc::O_DIRECTORY).unwrap();
        let made = |p: &str, dir: bool| sys::close(create_in_root(root, p, dir).unwrap());

        made("/sys/fs/cgroup/cpu", true);
        assert!(root_dir.join("sys/fs/cgroup/cpu").is_dir());
        made("/fs/cgroup/memory", true);
        assert!(root_dir.join("sys/fs/cgroup/memory").is_dir());
        // Dangling inside the root (no /outside there): refused, nothing made anywhere.
        assert!(create_in_root(root, "/up/x/y", true).is_err());
        assert!(!base.join("outside/x").exists(), "created outside the root");
        std::fs::create_dir(root_dir.join("outside")).unwrap();
        made("/up/x/y", true);
        assert!(root_dir.join("outside/x/y").is_dir());
        assert!(!base.join("outside/x").exists(), "created outside the root");
        made("/a/b/../c/file", false);
        assert!(root_dir.join("a/c/file").is_file());
        made("/new/deep/file", false);
        assert!(root_dir.join("new/deep/file").is_file());
        // A prefix that is a file is refused, not walked through.
        assert!(create_in_root(root, "/new/deep/file/x", true).is_err());
        sys::close(root);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn parent_split() {
        assert_eq!(split_parent("/dev/null"), ("/dev", "null"));
        assert_eq!(split_parent("/x"), ("/", "x"));
        assert_eq!(split_parent("/a/b/c/"), ("/a/b", "c"));
    }
}
