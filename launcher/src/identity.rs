//! Steps 4–6 and 8: resource limits, the process identity and capabilities, no_new_privs, exec.

use crate::sys::{self, cstr, SysError, SysResult};
use bvisor_launcher::{LaunchPlan, ProcessPlan};
use std::ffi::CString;
use std::os::fd::RawFd;

/// Step 4: rlimits and oom_score_adj.
pub fn limits(plan: &LaunchPlan, oom_fd: Option<RawFd>) -> SysResult<()> {
    for r in &plan.rlimits {
        let lim = libc::rlimit64 {
            rlim_cur: r.soft,
            rlim_max: r.hard,
        };
        // SAFETY: prlimit64 on ourselves with a valid struct.
        let ret = unsafe {
            libc::prlimit64(
                0,
                r.resource as libc::__rlimit_resource_t,
                &lim,
                std::ptr::null_mut(),
            )
        };
        sys::check(ret as i64, || {
            format!("setrlimit resource {} to {}:{}", r.resource, r.soft, r.hard)
        })?;
    }
    if let (Some(fd), Some(adj)) = (oom_fd, plan.oom_score_adj) {
        let r = sys::write_all(fd, adj.to_string().as_bytes(), "write oom_score_adj");
        sys::close(fd);
        r?;
    }
    Ok(())
}

const KEYCTL_JOIN_SESSION_KEYRING: i64 = 1;
const KEYCTL_SETPERM: i64 = 5;
/// Possessor: everything; user: view, read, write, search, link, setattr.
const KEY_PERM: i64 = 0x3f3f_0000;

/// A new anonymous session keyring, usable by whoever possesses it (the container's user after
/// the uid change below).
pub fn new_session_keyring() -> SysResult<()> {
    // SAFETY: keyctl with a null name creates an anonymous keyring.
    let id = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    let id = sys::check(id, || "keyctl join session keyring".into())?;
    // SAFETY: keyctl with integer arguments.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, id, KEY_PERM) };
    sys::check(r, || "keyctl setperm session keyring".into()).map(|_| ())
}

/// Step 5: bounding set, groups, uid/gid, the other capability sets, umask, cwd.
pub fn apply(plan: &LaunchPlan) -> SysResult<()> {
    let p = &plan.process;
    if let Some(caps) = &p.capabilities {
        // Dropping from the bounding set needs CAP_SETPCAP: do it while still root.
        for cap in 0..=sys::cap_last_cap() {
            if caps.bounding & (1u64 << cap) == 0 {
                sys::prctl(
                    libc::PR_CAPBSET_DROP,
                    cap as u64,
                    &format!("drop cap {cap} from bounding set"),
                )?;
            }
        }
    }
    // SAFETY: setgroups with a valid slice.
    let r = unsafe { libc::setgroups(p.additional_gids.len(), p.additional_gids.as_ptr()) };
    // A rootless user namespace has setgroups denied (an unprivileged gid_map needs that): with
    // no additional gids asked there was nothing to set. Only a failure looks at why.
    let denied =
        || std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny");
    if r != 0 {
        let errno = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EPERM);
        if !(p.additional_gids.is_empty() && denied()) {
            return sys::fail(format!("setgroups {:?}", p.additional_gids), errno);
        }
    }
    // Keep permitted capabilities across the uid change; capset below sets them exactly.
    sys::prctl(libc::PR_SET_KEEPCAPS, 1, "prctl PR_SET_KEEPCAPS")?;
    // SAFETY: plain syscalls.
    unsafe {
        sys::check(libc::setresgid(p.gid, p.gid, p.gid) as i64, || {
            format!("setresgid {}", p.gid)
        })?;
        sys::check(libc::setresuid(p.uid, p.uid, p.uid) as i64, || {
            format!("setresuid {}", p.uid)
        })?;
    }
    sys::prctl(libc::PR_SET_KEEPCAPS, 0, "prctl PR_SET_KEEPCAPS")?;
    if let Some(caps) = &p.capabilities {
        sys::capset(caps.effective, caps.permitted, caps.inheritable)?;
        // SAFETY: prctl with integer arguments.
        let r = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                0,
                0,
                0,
            )
        };
        sys::check(r as i64, || "clear ambient capabilities".into())?;
        for cap in 0..=sys::cap_last_cap() {
            if caps.ambient & (1u64 << cap) != 0 {
                // SAFETY: prctl with integer arguments.
                let r = unsafe {
                    libc::prctl(
                        libc::PR_CAP_AMBIENT,
                        libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                        cap as libc::c_ulong,
                        0,
                        0,
                    )
                };
                sys::check(r as i64, || format!("raise ambient cap {cap}"))?;
            }
        }
    }
    if let Some(mask) = p.umask {
        // SAFETY: umask cannot fail.
        unsafe { libc::umask(mask as libc::mode_t) };
    }
    enter_cwd(&p.cwd)
}

/// chdir into `cwd` resolved inside the container's root (`/` here, after pivot_root or the
/// mount namespace join) and never through a /proc magic link: a `/proc/self/fd/N` cwd naming
/// a directory fd the launcher holds (the leaked-fd escape class, runc CVE-2024-21626) fails
/// with ELOOP instead of landing outside the root. Opened with the workload's credentials, so
/// search permission is checked as chdir would.
///
/// A config whose seccomp filter was loaded before this step (no no_new_privs) may deny
/// openat2 (profiles older than Linux 5.6 list no such syscall): then a plain chdir, checked
/// afterwards the way runc does it, getcwd failing when the cwd is not under the root.
fn enter_cwd(cwd: &str) -> SysResult<()> {
    let failed = |errno| SysError {
        what: format!("process.cwd {cwd} (resolved in the container root)"),
        errno,
    };
    let root = sys::open_path("/", libc::O_PATH | libc::O_DIRECTORY)?;
    let dir = sys::open_in_root(root, cwd, libc::O_PATH | libc::O_DIRECTORY, 0);
    sys::close(root);
    match dir {
        Ok(dir) => {
            let r = sys::fchdir(dir);
            sys::close(dir);
            r
        }
        // What resolution itself says: a magic link, a missing or forbidden path.
        Err(e)
            if matches!(
                e.errno,
                libc::ELOOP | libc::ENOENT | libc::ENOTDIR | libc::EACCES | libc::EXDEV
            ) =>
        {
            Err(failed(e.errno))
        }
        // Anything else is openat2 itself being refused (seccomp's errno of choice).
        Err(_) => {
            sys::chdir(cwd)?;
            sys::cwd_reachable().map_err(|errno| SysError {
                what: format!("process.cwd {cwd}: not under the container root (getcwd)"),
                errno,
            })
        }
    }
}

/// Step 6.
pub fn no_new_privileges(p: &ProcessPlan) -> SysResult<()> {
    if p.no_new_privileges {
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, "prctl PR_SET_NO_NEW_PRIVS")?;
    }
    Ok(())
}

const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;

/// Load the compiled filter. Every syscall after this is filtered, so it comes last (or just
/// before the identity step when no_new_privs is off, as it then needs CAP_SYS_ADMIN).
pub fn seccomp(s: &bvisor_launcher::SeccompPlan) -> SysResult<()> {
    if !s.bpf.len().is_multiple_of(8) || s.bpf.is_empty() || s.bpf.len() / 8 > u16::MAX as usize {
        return sys::fail(
            format!("seccomp program of {} bytes", s.bpf.len()),
            libc::EINVAL,
        );
    }
    // Copy into properly aligned instructions.
    let filter: Vec<libc::sock_filter> = s
        .bpf
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prog points at `filter`, alive for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            s.flags as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    sys::check(r, || {
        format!("seccomp filter ({} instructions)", filter.len())
    })
    .map(|_| ())
}

/// Find the program as execvp would, in the container's root and the process's PATH, so a
/// missing program fails `create`, not `start`.
pub fn resolve_program(p: &ProcessPlan) -> SysResult<CString> {
    if p.exec_fd.is_some() {
        // The program is the held fd (exec'd with AT_EMPTY_PATH): nothing to find.
        return Ok(CString::default());
    }
    let prog = &p.args[0];
    if prog.contains('/') {
        return check_exec(prog);
    }
    let path = p
        .env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let mut last = libc::ENOENT;
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let cand = format!("{dir}/{prog}");
        match check_exec(&cand) {
            Ok(c) => return Ok(c),
            Err(e) => last = e.errno,
        }
    }
    sys::fail(
        format!("exec: {prog:?}: executable file not found in $PATH"),
        last,
    )
}

fn check_exec(path: &str) -> SysResult<CString> {
    let c = cstr(path)?;
    // SAFETY: valid string.
    let r = unsafe { libc::access(c.as_ptr(), libc::X_OK) };
    sys::check(r as i64, || format!("exec: {path:?}"))?;
    // SAFETY: stat into a zeroed struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers.
    let r = unsafe { libc::stat(c.as_ptr(), &mut st) };
    sys::check(r as i64, || format!("stat {path}"))?;
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        return sys::fail(format!("exec: {path:?}: is a directory"), libc::EACCES);
    }
    Ok(c)
}

/// Step 8: replace the launcher with the workload. Returns only on failure.
pub fn exec(program: &CString, p: &ProcessPlan) -> SysError {
    let args: Vec<CString> = match p.args.iter().map(|a| cstr(a)).collect() {
        Ok(a) => a,
        Err(e) => return e,
    };
    let env: Vec<CString> = match p.env.iter().map(|a| cstr(a)).collect() {
        Ok(a) => a,
        Err(e) => return e,
    };
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());
    if let Some(fd) = p.exec_fd {
        // SAFETY: NULL-terminated arrays of valid C strings that outlive the call; an empty
        // path with AT_EMPTY_PATH execs the fd itself.
        unsafe {
            libc::syscall(
                libc::SYS_execveat,
                fd,
                c"".as_ptr(),
                argv.as_ptr(),
                envp.as_ptr(),
                libc::AT_EMPTY_PATH,
            )
        };
        return SysError {
            what: format!("exec held fd {fd} ({})", p.args[0]),
            errno: sys::errno(),
        };
    }
    // SAFETY: NULL-terminated arrays of valid C strings that outlive the call.
    unsafe { libc::execve(program.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    SysError {
        what: format!("exec {:?}", program),
        errno: sys::errno(),
    }
}
