//! Step 2: cgroups, joined namespaces, clone3 into new ones, uid/gid maps from the parent.

use crate::report::{self, Reporter};
use crate::sys::{self, SysResult};
use bvisor_launcher::{IdMapping, LaunchPlan, NsKind, Report};

pub enum Side {
    Parent,
    Child,
}

pub fn enter(plan: &LaunchPlan, rep: &mut Reporter) -> Result<Side, ()> {
    let (flags, sync) = rep.step(2, "namespaces", || prepare(plan))?;
    let (rd, wr) = sync;
    // A new cgroup namespace is made by the child, not by clone3: clone3 would root it at the
    // launcher's cgroup, and with CLONE_INTO_CGROUP the launcher is not in the container's v2
    // cgroup. Unshared by the child, it is rooted where the child already is.
    let new_cgroupns = flags & libc::CLONE_NEWCGROUP as u64 != 0;
    // An unprivileged launcher (rootless) writes the maps of a child it may only touch while
    // that child is dumpable (non-dumpable /proc files belong to root, and newuidmap checks the
    // owner): the child opens that window itself, just for the map writing.
    // SAFETY: geteuid cannot fail.
    let rootless = unsafe { libc::geteuid() } != 0 && flags & libc::CLONE_NEWUSER as u64 != 0;
    let dumpable = if rootless {
        Some(rep.step(2, "rootless map handshake", pipe)?)
    } else {
        None
    };
    let pid = match sys::clone3(flags & !(libc::CLONE_NEWCGROUP as u64), plan.cgroup_v2_fd) {
        Ok(p) => p,
        Err(e) => {
            rep.failed(2, "clone3", &e);
            return Err(());
        }
    };
    if pid == 0 {
        sys::close(wr);
        if let Some((drd, dwr)) = dumpable {
            sys::close(drd);
            let open = sys::prctl(libc::PR_SET_DUMPABLE, 1, "prctl PR_SET_DUMPABLE 1")
                .and_then(|_| sys::write_all(dwr, b"1", "tell parent: dumpable"));
            sys::close(dwr);
            if open.is_err() {
                return Err(());
            }
        }
        // Wait until the parent has written the id maps (or died: EOF).
        let go = sys::read_byte(rd, "wait for parent");
        sys::close(rd);
        if dumpable.is_some()
            && sys::prctl(libc::PR_SET_DUMPABLE, 0, "prctl PR_SET_DUMPABLE 0").is_err()
        {
            return Err(());
        }
        if !matches!(go, Ok(1)) {
            return Err(());
        }
        if plan.namespaces.iter().any(|n| n.kind == NsKind::User) {
            // Our host uid is not mapped in the new user namespace: become its root, so files
            // we create (on /dev's tmpfs, say) have an owner the namespace can represent.
            rep.step(2, "user namespace root", become_root)?;
        }
        if new_cgroupns {
            rep.step(2, "cgroup namespace", || {
                // SAFETY: plain syscall.
                let r = unsafe { libc::unshare(libc::CLONE_NEWCGROUP) };
                sys::check(r as i64, || "unshare CLONE_NEWCGROUP".into())
            })?;
        }
        return Ok(Side::Child);
    }
    sys::close(rd);
    let parent = || -> SysResult<()> {
        report::send(rep.fd(), &Report::Pid { pid })?;
        if let Some((drd, dwr)) = dumpable {
            sys::close(dwr);
            let r = sys::read_byte(drd, "wait for the child to be dumpable");
            sys::close(drd);
            if !matches!(r, Ok(1)) {
                return sys::fail(
                    "the child died before its id maps were written",
                    libc::ECHILD,
                );
            }
        }
        if plan
            .namespaces
            .iter()
            .any(|n| n.kind == NsKind::User && n.join_fd.is_none())
        {
            if plan.map_helpers {
                map_with_helper(pid, "newgidmap", &plan.gid_mappings)?;
                map_with_helper(pid, "newuidmap", &plan.uid_mappings)?;
            } else {
                write_maps(pid, &plan.uid_mappings, &plan.gid_mappings)?;
            }
        }
        sys::write_all(wr, b"1", "release container init")
    };
    match parent() {
        Ok(()) => {
            sys::close(wr);
            Ok(Side::Parent)
        }
        Err(e) => {
            // SAFETY: killing the child we just created.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = sys::waitpid(pid);
            rep.failed(2, "id maps", &e);
            Err(())
        }
    }
}

/// Enter the cgroups and joined namespaces; return the clone3 flags and the parent→child pipe.
fn prepare(plan: &LaunchPlan) -> SysResult<(u64, (i32, i32))> {
    if plan.cgroups_follow {
        receive_cgroups(plan)?;
    }
    // Enter the cgroups first so the container never runs outside them (and a new cgroup
    // namespace is rooted at the container's own cgroup). v2: clone3 does it.
    for &fd in &plan.cgroup_tasks_fds {
        sys::write_all(fd, b"0", "write cgroup tasks")?;
        sys::close(fd);
    }
    // Join the user namespace first: the other joined namespaces are owned by it.
    let mut joined: Vec<_> = plan
        .namespaces
        .iter()
        .filter_map(|n| n.join_fd.map(|fd| (n.kind, fd)))
        .collect();
    joined.sort_by_key(|(k, _)| *k != NsKind::User);
    for (kind, fd) in joined {
        sys::setns(fd, kind.clone_flag() as i32, kind.oci_name())?;
        sys::close(fd);
    }
    let flags = plan
        .namespaces
        .iter()
        .filter(|n| n.join_fd.is_none())
        .fold(0u64, |f, n| f | n.kind.clone_flag());
    Ok((flags, pipe()?))
}

/// Wait for the cgroup fds the runtime sends once it has made the cgroups (it made them while
/// we verified the plan) and put them at the numbers the plan gives them. A runtime gone first
/// (EOF) ends the launcher here: nothing exists yet but this process.
fn receive_cgroups(plan: &LaunchPlan) -> SysResult<()> {
    sys::receive_placed(plan.fds.control, "sending the cgroups", |bytes, passed| {
        let h = bvisor_launcher::CgroupsHandover::decode(bytes)?;
        h.check(plan, passed)?;
        Ok(((), h.targets))
    })
}

fn pipe() -> SysResult<(i32, i32)> {
    let mut p = [0i32; 2];
    // SAFETY: p has room for two fds.
    let r = unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) };
    sys::check(r as i64, || "pipe2".into())?;
    Ok((p[0], p[1]))
}

fn become_root() -> SysResult<()> {
    // SAFETY: plain syscalls.
    unsafe {
        sys::check(libc::setresgid(0, 0, 0) as i64, || {
            "setresgid 0 in user namespace".into()
        })?;
        sys::check(libc::setresuid(0, 0, 0) as i64, || {
            "setresuid 0 in user namespace".into()
        })?;
    }
    Ok(())
}

/// `/usr/bin/newuidmap PID inside outside count…` (or newgidmap): the shadow helpers, setuid
/// root, write a multi-range map for an unprivileged caller within its /etc/subuid or
/// /etc/subgid ranges. Their stderr becomes the error.
fn map_with_helper(pid: i32, helper: &str, maps: &[IdMapping]) -> SysResult<()> {
    let mut cmd = std::process::Command::new(format!("/usr/bin/{helper}"));
    cmd.arg(pid.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    for m in maps {
        cmd.args([
            m.container_id.to_string(),
            m.host_id.to_string(),
            m.size.to_string(),
        ]);
    }
    match cmd.output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => sys::fail(
            format!("{helper}: {}", String::from_utf8_lossy(&o.stderr).trim()),
            libc::EPERM,
        ),
        Err(e) => sys::fail(
            format!("run /usr/bin/{helper}: {e}"),
            e.raw_os_error().unwrap_or(libc::ENOENT),
        ),
    }
}

/// Root writes the maps itself. An unprivileged launcher may map only its own ids, one each,
/// and only after denying setgroups (the runtime refuses any other rootless mapping before
/// anything exists: newuidmap/newgidmap are not supported).
fn write_maps(pid: i32, uids: &[IdMapping], gids: &[IdMapping]) -> SysResult<()> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny").map_err(|e| sys::SysError {
            what: format!("write /proc/{pid}/setgroups"),
            errno: e.raw_os_error().unwrap_or(libc::EIO),
        })?;
    }
    write_map(pid, "gid_map", gids)?;
    write_map(pid, "uid_map", uids)
}

fn write_map(pid: i32, file: &str, maps: &[IdMapping]) -> SysResult<()> {
    let text: String = maps
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect();
    std::fs::write(format!("/proc/{pid}/{file}"), text).map_err(|e| sys::SysError {
        what: format!("write /proc/{pid}/{file}"),
        errno: e.raw_os_error().unwrap_or(libc::EIO),
    })
}
