//! `bvisor-launcher`: applies a sealed boundary plan in the fixed order of ARCHITECTURE §3 and
//! execs the workload only if every step succeeded.
//!
//! ```text
//! 1 verify       digest, seals, single thread, non-dumpable, close every fd the plan does not name
//! 2 namespaces   enter cgroups, setns joined namespaces, clone3 new ones, uid/gid maps (parent)
//! 3 rootfs       hostname, mounts, /dev, hooks point, pivot_root, masked/readonly paths, sysctl, console
//! 4 limits       rlimits, oom_score_adj
//! 5 identity     bounding set, groups, uid/gid, capabilities, umask, cwd
//! 6 privileges   no_new_privileges, landlock restrict_self
//! 7 start        report ready, wait on the exec fifo, startContainer hooks
//! 8 exec         execve
//! ```
//!
//! Steps 1–2 run in the launcher process; at clone3 it forks the container init, which runs
//! steps 3–8 and reports straight to the runtime. The parent writes the id maps, releases the
//! child and exits.

mod hooks;
mod identity;
mod landlock;
mod namespaces;
mod report;
mod rootfs;
mod sys;

use bvisor_launcher::{Handover, LaunchPlan, CONTROL_FD_ARG};
use report::Reporter;
use std::os::fd::RawFd;
use sys::SysResult;

fn main() {
    let code = match parse_args() {
        Ok(control) => launch(control),
        Err(e) => {
            eprintln!("bvisor-launcher: {e}");
            2
        }
    };
    std::process::exit(code);
}

fn parse_args() -> Result<RawFd, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, n] if flag == CONTROL_FD_ARG => n.parse().map_err(|_| format!("{flag} {n:?}")),
        _ => Err(format!(
            "usage: bvisor-launcher {CONTROL_FD_ARG} N (run by bvisor, not by hand)"
        )),
    }
}

/// Returns the exit code of the launcher process (the parent half) or of a child that failed.
fn launch(control: RawFd) -> i32 {
    let mut rep = Reporter::new(control);
    let plan = match rep.step(1, "verify", || {
        // Non-dumpable before any host fd arrives: no process can ptrace us or open our /proc
        // files while we hold them. execve of the workload resets it.
        sys::prctl(libc::PR_SET_DUMPABLE, 0, "prctl PR_SET_DUMPABLE")?;
        let (plan_fd, digest) = receive(control)?;
        verify(plan_fd, &digest)
    }) {
        Ok(p) => p,
        Err(()) => return 1,
    };
    match namespaces::enter(&plan, &mut rep) {
        Ok(namespaces::Side::Parent) => 0,
        Ok(namespaces::Side::Child) => {
            // The container init: steps 3–8. Only returns on failure.
            let _ = container_init(&plan, &mut rep);
            1
        }
        Err(()) => 1,
    }
}

/// Step 1, first half: wait for the runtime's handover (it started us before the plan existed),
/// put the fds it passes at their numbers, and return the plan fd and its digest. A runtime
/// gone before sending it (EOF) ends the launcher here: it has touched nothing yet.
fn receive(control: RawFd) -> SysResult<(RawFd, String)> {
    sys::receive_placed(control, "the handover", |bytes, _| {
        let h = Handover::decode(bytes)?;
        if h.targets.contains(&control) {
            return Err("a handed-over fd targets the control socket".into());
        }
        if !h.targets.contains(&h.plan_fd) {
            return Err(format!("plan fd {} was not passed", h.plan_fd));
        }
        Ok(((h.plan_fd, h.digest), h.targets))
    })
}

/// Step 1: the plan is what the runtime sealed, and nothing else reaches this process.
fn verify(plan_fd: RawFd, digest: &str) -> SysResult<LaunchPlan> {
    check_sealed(plan_fd)?;
    let bytes = sys::read_to_end(plan_fd)?;
    let plan = LaunchPlan::decode(&bytes, digest).map_err(|e| sys::SysError {
        what: e.to_string(),
        errno: libc::EBADMSG,
    })?;
    sys::close(plan_fd);
    sys::ensure_single_threaded()?;
    close_unnamed_fds(&plan)?;
    Ok(plan)
}

fn check_sealed(fd: RawFd) -> SysResult<()> {
    // SAFETY: fcntl on an fd.
    let seals = unsafe { libc::fcntl(fd, libc::F_GET_SEALS) };
    let seals = sys::check(seals as i64, || "plan fd is not a memfd".into())? as i32;
    let need = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    if seals & need != need {
        return sys::fail(
            format!("plan memfd seals {seals:#x} lack {need:#x}"),
            libc::EPERM,
        );
    }
    Ok(())
}

/// Keep stdio, the preserved fds (3..3+N, passed to the workload) and the fds the plan names
/// (close-on-exec); close everything else: with close_range over the numbers between them
/// (a dozen calls), not by listing /proc/self/fd and closing one by one (that listing and its
/// ~60 fcntls were a fifth of the verify step); the listing stays for where close_range fails.
fn close_unnamed_fds(plan: &LaunchPlan) -> SysResult<()> {
    let named = named_fds(plan);
    let preserved_end = 3 + plan.fds.preserve_fds as RawFd;
    let mut keep: Vec<RawFd> = (3..preserved_end).chain(named.iter().copied()).collect();
    keep.sort_unstable();
    keep.dedup();
    // Any refusal (ENOSYS before 5.9, or EPERM from a seccomp filter bvisor itself runs
    // under) falls back to the listing; a range partly closed before it failed is harmless.
    if sys::close_ranges(&unnamed_ranges(&keep)).is_err() {
        return close_unnamed_fds_listed(&named, preserved_end);
    }
    // Only those open: a preserved or named number may hold nothing.
    let set = |fd: RawFd, on: bool| match sys::set_cloexec(fd, on) {
        Err(e) if e.errno == libc::EBADF => Ok(()),
        r => r,
    };
    for fd in 3..preserved_end {
        set(fd, false)?;
    }
    for &fd in named.iter().filter(|&&fd| fd >= preserved_end) {
        set(fd, true)?;
    }
    Ok(())
}

/// The numbers from 3 up that are not in `keep` (sorted, no duplicates), as inclusive ranges.
fn unnamed_ranges(keep: &[RawFd]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut next = 3u32;
    for &k in keep.iter().filter(|&&k| k >= 3) {
        let k = k as u32;
        if k > next {
            out.push((next, k - 1));
        }
        next = next.max(k + 1);
    }
    out.push((next, u32::MAX));
    out
}

fn close_unnamed_fds_listed(named: &[RawFd], preserved_end: RawFd) -> SysResult<()> {
    for fd in sys::open_fds() {
        if fd < 3 {
            continue;
        }
        if fd < preserved_end {
            sys::set_cloexec(fd, false)?;
        } else if named.contains(&fd) {
            sys::set_cloexec(fd, true)?;
        } else {
            sys::close(fd);
        }
    }
    Ok(())
}

fn named_fds(plan: &LaunchPlan) -> Vec<RawFd> {
    let mut v = vec![plan.fds.control];
    v.extend(plan.fds.exec_fifo);
    v.extend(plan.fds.console_socket);
    v.extend(plan.namespaces.iter().filter_map(|n| n.join_fd));
    v.extend(plan.cgroup_tasks_fds.iter().copied());
    v.extend(plan.cgroup_v2_fd);
    if let Some(r) = &plan.rootfs {
        v.push(r.root_fd);
    }
    v.extend(plan.chroot_fd);
    v.extend(plan.process.exec_fd);
    v
}

/// Steps 3–8 in the container init. Returns only if a step failed (already reported).
fn container_init(plan: &LaunchPlan, rep: &mut Reporter) -> Result<(), ()> {
    let mut state = String::new();
    let control = rep.fd();
    let oom_fd = rep.step(3, "rootfs", || rootfs::setup(plan, control, &mut state))?;
    rep.step(4, "limits", || identity::limits(plan, oom_fd))?;
    if plan.new_keyring {
        // Before any seccomp filter: profiles commonly deny keyctl to the workload.
        rep.step(4, "session keyring", identity::new_session_keyring)?;
    }
    let early_seccomp = !plan.process.no_new_privileges;
    if let (true, Some(s)) = (early_seccomp, &plan.seccomp) {
        // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which step 5 may drop.
        rep.step(4, "seccomp (before dropping privileges)", || {
            identity::seccomp(s)
        })?;
    }
    // The root.readonly layer and the config's own ruleset: two stacked domains.
    let landlock_layers = || {
        [&plan.landlock, &plan.process_landlock]
            .into_iter()
            .flatten()
    };
    if early_seccomp {
        for l in landlock_layers() {
            // Without no_new_privs, restrict_self needs CAP_SYS_ADMIN, which step 5 may drop.
            rep.step(4, "landlock (before dropping privileges)", || {
                landlock::apply(l)
            })?;
        }
    }
    rep.step(5, "identity", || identity::apply(plan))?;
    rep.step(6, "privileges", || {
        identity::no_new_privileges(&plan.process)
    })?;
    if !early_seccomp {
        for l in landlock_layers() {
            rep.step(6, "landlock", || landlock::apply(l))?;
        }
    }
    // Step 7: a missing program fails `create`, not `start`; then ready, then wait.
    let program = rep.step(7, "ready", || identity::resolve_program(&plan.process))?;
    report::send(control, &bvisor_launcher::Report::Ready).map_err(|_| ())?;
    rep.detach();
    rep.step(7, "start", || wait_for_start(plan, &state))?;
    // Step 8: seccomp, then exec. A failure here is reported; success never returns.
    if let (false, Some(s)) = (early_seccomp, &plan.seccomp) {
        rep.step(8, "seccomp", || identity::seccomp(s))?;
    }
    let err = identity::exec(&program, &plan.process);
    rep.failed(8, "exec", &err);
    Err(())
}

fn wait_for_start(plan: &LaunchPlan, state: &str) -> SysResult<()> {
    if plan.wait_for_start {
        if let Some(fifo) = plan.fds.exec_fifo {
            let n = sys::read_byte(fifo, "read exec fifo")?;
            if n == 0 {
                return sys::fail("exec fifo closed before start", libc::EPIPE);
            }
            sys::close(fifo);
        }
    }
    hooks::run_all(&plan.start_container_hooks, state, "startContainer")
}

#[cfg(test)]
mod tests {
    use super::unnamed_ranges;

    #[test]
    fn every_number_not_kept_is_in_one_range() {
        assert_eq!(unnamed_ranges(&[]), [(3, u32::MAX)]);
        assert_eq!(unnamed_ranges(&[3, 4, 7]), [(5, 6), (8, u32::MAX)]);
        assert_eq!(unnamed_ranges(&[5]), [(3, 4), (6, u32::MAX)]);
        assert_eq!(unnamed_ranges(&[3, 4, 5]), [(6, u32::MAX)]);
    }
}
