//! The lifecycle operations after `create`.

use super::launch::{self, Fds, Inputs};
use super::spawn::{self, Driver};
use super::state::{State, StateDir, StateError, Status};
use super::{io, Error, Result};
use crate::plan::{self, AdmitOptions};
use crate::sys;
use oci_spec::runtime::{Hook, Process};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Run `hooks` in order in the runtime's namespaces; the first failure stops them.
pub fn run_hooks(hooks: &Option<Vec<Hook>>, state: &str, kind: &str) -> Result<()> {
    for (i, h) in launch::to_hooks(hooks).iter().enumerate() {
        bvisor_launcher::hook::run(h, state)
            .map_err(|(_, why)| Error::Other(format!("hooks.{kind}[{i}] ({}): {why}", h.path)))?;
    }
    Ok(())
}

/// Lock and load a container.
pub fn open(root: &Path, id: &str) -> Result<(StateDir, std::fs::File, State)> {
    let dir = StateDir::new(root, id)?;
    let lock = dir.lock()?;
    let st = dir.load()?;
    Ok((dir, lock, st))
}

/// Load without locking (state, list, ps: readers never wait behind a slow create).
pub fn peek(root: &Path, id: &str) -> Result<(StateDir, State)> {
    let dir = StateDir::new(root, id)?;
    let st = dir.load()?;
    Ok((dir, st))
}

pub fn status_of(root: &Path, id: &str) -> Result<(State, Status)> {
    let (dir, st) = peek(root, id)?;
    let s = st.status(&dir);
    Ok((st, s))
}

/// Release a created container: the launcher execs the workload.
pub fn start(root: &Path, id: &str) -> Result<()> {
    let (dir, _lock, st) = open(root, id)?;
    match st.status(&dir) {
        Status::Created => {}
        Status::Stopped => {
            return Err(Error::Other(
                "cannot start a container that has stopped".into(),
            ))
        }
        s => {
            return Err(Error::Other(format!(
                "cannot start an already {} container",
                s.as_str()
            )))
        }
    }
    // O_NONBLOCK: if the launcher is gone there is no reader and open fails (ENXIO) instead of
    // blocking forever.
    let fifo = sys::open_raw(&dir.fifo(), libc::O_WRONLY | libc::O_NONBLOCK)
        .map_err(|e| Error::Other(format!("container {id} is not waiting for start: {e}")))?;
    let mut f = std::fs::File::from(fifo);
    std::io::Write::write_all(&mut f, b"0").map_err(io("write exec fifo"))?;
    drop(f);
    let _ = std::fs::remove_file(dir.fifo());
    let hooks = st.config.hooks().clone().unwrap_or_default();
    if hooks.poststart().as_ref().is_some_and(|h| !h.is_empty()) {
        let state = serde_json::to_string(&st.oci(Status::Running)).expect("serializes");
        if let Err(e) = run_hooks(hooks.poststart(), &state, "poststart") {
            crate::cli::log::warn(&e.to_string());
        }
    }
    Ok(())
}

/// Signal the init (or every process with `all`). A reused pid is never signalled: the signal
/// goes through a pidfd opened after the start time was checked.
pub fn kill(root: &Path, id: &str, sig: i32, all: bool) -> Result<()> {
    let (dir, _lock, st) = open(root, id)?;
    let status = st.status(&dir);
    if status == Status::Stopped && !all {
        return Err(Error::NotRunning);
    }
    if all {
        return st.cgroups.signal_all(sig).map_err(io("signal cgroup"));
    }
    let pidfd = sys::pidfd_open(st.pid).map_err(io(format!("pidfd of {}", st.pid)))?;
    if !st.init_alive() {
        return Err(Error::NotRunning);
    }
    sys::pidfd_send_signal(pidfd.as_raw_fd(), sig).map_err(io(format!("signal {sig}")))?;
    Ok(())
}

/// Delete a container: kill what is left (with `force`, or when it never started), run poststop
/// hooks, remove cgroups and state.
pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let (dir, _lock, st) = match open(root, id) {
        Ok(v) => v,
        Err(e) if force => return delete_unreadable(root, id, e),
        Err(e) => return Err(e),
    };
    let mut status = st.status(&dir);
    if !force && matches!(status, Status::Running | Status::Paused) {
        // `kill` then `delete` is the usual sequence: give an init that was just signalled a
        // moment to finish dying before calling it still running.
        let deadline = Instant::now() + Duration::from_millis(300);
        while status == Status::Running && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            status = st.status(&dir);
        }
    }
    match status {
        Status::Stopped | Status::Created | Status::Creating => {}
        _ if force => {}
        s => {
            return Err(Error::Other(format!(
                "cannot delete container {id} that is not stopped: {}",
                s.as_str()
            )))
        }
    }
    if status != Status::Stopped {
        if let Ok(pidfd) = sys::pidfd_open(st.pid) {
            if st.init_alive() {
                let _ = sys::pidfd_send_signal(pidfd.as_raw_fd(), libc::SIGKILL);
            }
        }
    }
    // Processes outside the init's pid namespace (or every process, without one) are in the
    // cgroup: kill them too.
    let _ = st.cgroups.signal_all(libc::SIGKILL);
    wait_gone(&st, Duration::from_secs(10));
    let hooks = st.config.hooks().clone().unwrap_or_default();
    if hooks.poststop().as_ref().is_some_and(|h| !h.is_empty()) {
        let state = serde_json::to_string(&st.oci(Status::Stopped)).expect("serializes");
        if let Err(e) = run_hooks(hooks.poststop(), &state, "poststop") {
            crate::cli::log::warn(&e.to_string());
        }
    }
    st.cgroups.remove().map_err(io("remove cgroups"))?;
    dir.remove()?;
    Ok(())
}

/// `delete --force` of a state directory without a readable state file: a create killed
/// before its first save, or a file torn by a power loss. Nothing in it can be trusted to name
/// processes or cgroups, so only the directory goes (under its lock).
fn delete_unreadable(root: &Path, id: &str, e: Error) -> Result<()> {
    let dir = StateDir::new(root, id)?;
    match &e {
        Error::State(StateError::NotExist(_)) | Error::State(StateError::Corrupt { .. })
            if dir.dir.is_dir() =>
        {
            let lock = dir.lock()?;
            // Again under the lock: a create that had made the directory but not yet taken the
            // lock when we first looked may have saved a state since.
            if dir.load().is_ok() {
                drop(lock);
                return delete(root, id, true);
            }
            crate::cli::log::warn(&format!(
                "container {id}: state unreadable ({e}); removing its state directory"
            ));
            dir.remove()?;
            Ok(())
        }
        _ => Err(e),
    }
}

fn wait_gone(st: &State, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let pids = st.cgroups.pids().unwrap_or_default();
        if !st.init_alive() && pids.is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Every container under `root` with its status; unreadable entries are skipped.
pub fn list(root: &Path) -> Result<Vec<(State, Status)>> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(format!("{}", root.display()))(e)),
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Some(id) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if let Ok((st, s)) = status_of(root, &id) {
            out.push((st, s));
        }
    }
    out.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    Ok(out)
}

pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>> {
    let (st, _) = status_of(root, id)?;
    if st.cgroups.dirs.is_empty() {
        // Rootless without cgroups of its own: only the init is known to be the container's.
        return Ok(if st.init_alive() {
            vec![st.pid]
        } else {
            vec![]
        });
    }
    st.cgroups.pids().map_err(io("read cgroup.procs"))
}

pub fn pause(root: &Path, id: &str, frozen: bool) -> Result<()> {
    let (dir, _lock, st) = open(root, id)?;
    if st.cgroups.dirs.is_empty() {
        return Err(Error::Other(format!(
            "container {id} has no cgroups of its own (rootless, not delegated): pause and resume need its freezer"
        )));
    }
    let s = st.status(&dir);
    match (frozen, s) {
        (true, Status::Running | Status::Created) | (false, Status::Paused) => {}
        (true, s) => {
            return Err(Error::Other(format!(
                "cannot pause a container that is {}",
                s.as_str()
            )))
        }
        (false, s) => {
            return Err(Error::Other(format!(
                "cannot resume a container that is {}",
                s.as_str()
            )))
        }
    }
    st.cgroups.freeze(frozen).map_err(io("freezer"))
}

/// `update`: new `linux.resources` for a created, running or paused container. The planner
/// admits them as it would at create (a knob without a proven row is refused by its field and
/// nothing is written); then each knob is written to the container's cgroups, the first
/// failure naming its file and field.
pub fn update(root: &Path, id: &str, r: &oci_spec::runtime::LinuxResources) -> Result<()> {
    let (dir, _lock, st) = open(root, id)?;
    if st.cgroups.dirs.is_empty() {
        return Err(Error::Other(format!(
            "container {id} has no cgroups of its own (rootless, not delegated): nothing to update"
        )));
    }
    let s = st.status(&dir);
    if !matches!(s, Status::Created | Status::Running | Status::Paused) {
        return Err(Error::Other(format!(
            "cannot update a container that is {}",
            s.as_str()
        )));
    }
    if r.devices().is_some() {
        // Device rules are set once at create (v1 allow/deny lists cannot be diffed safely).
        return Err(Error::Other(
            "linux.resources.devices: device rules cannot be updated on a live container".into(),
        ));
    }
    plan::admit_resources(r).map_err(Error::Refused)?;
    crate::cgroups::resources::apply(&st.cgroups, r).map_err(io("update"))?;
    Ok(())
}

/// `events`: the container's status and its resource usage (runc's stats `data` object) and
/// OOM kill count, read from its cgroups now. `None` for the stats when it has no cgroups.
pub fn stats(root: &Path, id: &str) -> Result<(Status, Option<serde_json::Value>, Option<u64>)> {
    let (dir, _lock, st) = open(root, id)?;
    let status = st.status(&dir);
    if st.cgroups.dirs.is_empty() {
        return Ok((status, None, None));
    }
    let data = crate::cgroups::stats::read(&st.cgroups);
    Ok((
        status,
        Some(data),
        crate::cgroups::stats::oom_kills(&st.cgroups),
    ))
}

pub struct ExecOpts {
    pub root: PathBuf,
    pub id: String,
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: u32,
    pub strict: bool,
    /// stdin, stdout, stderr of the new process; `None` inherits ours.
    pub stdio: Option<[std::os::fd::RawFd; 3]>,
}

/// Start a process in the container's namespaces and cgroups. Returns its pid; the caller
/// waits for it (having made itself a subreaper) or detaches.
pub fn exec(o: &ExecOpts) -> Result<i32> {
    let (dir, st) = peek(&o.root, &o.id)?;
    match st.status(&dir) {
        Status::Running | Status::Created => {}
        s => {
            return Err(Error::Other(format!(
                "cannot exec in a container that is {}",
                s.as_str()
            )))
        }
    }
    // The new process is admitted like the init: the container's config with this process.
    let mut spec = (*st.config).clone();
    spec.set_process(Some(o.process.clone()));
    let loaded = crate::spec::LoadedSpec {
        spec: spec.clone(),
        bundle: st.bundle.clone(),
        unknown: Vec::new(),
        // The container's landlock domain applies to exec'd processes too.
        landlock: st.landlock.clone(),
    };
    plan::admit(
        &loaded,
        &AdmitOptions {
            no_cgroups: st
                .cgroups
                .dirs
                .is_empty()
                .then(|| "the container has no cgroups of its own (rootless)".to_string()),
            strict: o.strict,
            no_pivot: false,
            wasm: None,
        },
    )?;
    let terminal = o.process.terminal().unwrap_or(false);
    let console = match (&o.console_socket, terminal) {
        (Some(p), true) => Some(
            std::os::unix::net::UnixStream::connect(p)
                .map_err(io(format!("--console-socket {}", p.display())))?,
        ),
        (None, true) => {
            return Err(Error::Other("--tty needs --console-socket".into()));
        }
        _ => None,
    };
    // The launcher starts while the namespaces are opened and the plan is built (spawn.rs).
    let mut starting = spawn::start(o.preserve_fds, o.stdio, &o.root)?;
    // Join every namespace the container has, through its init's /proc entry. The pidfd pins
    // the init: if the pid was reused, the start time check fails.
    let pidfd = sys::pidfd_open(st.pid).map_err(io("pidfd of container init"))?;
    let mut joins: Vec<(bvisor_launcher::NsKind, OwnedFd)> = Vec::new();
    let ns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for n in &ns {
        let kind = launch::ns_kind(n.typ());
        let p = format!("/proc/{}/ns/{}", st.pid, kind.proc_name());
        let fd = sys::open_raw(Path::new(&p), libc::O_RDONLY).map_err(io(p))?;
        joins.push((kind, fd));
    }
    if !st.init_alive() {
        return Err(Error::Other("container init exited".into()));
    }
    drop(pidfd);
    let procs = st.cgroups.open_entry().map_err(io("cgroup tasks"))?;
    let lay = &mut starting.layout;
    let mut fds = Fds {
        control: starting.control_target,
        preserve_fds: o.preserve_fds,
        ..Fds::default()
    };
    if let Some(c) = &console {
        fds.console_socket = Some(lay.add(c.as_raw_fd())?);
    }
    for (k, f) in &joins {
        fds.join.push((*k, lay.add(f.as_raw_fd())?));
    }
    lay.add_cgroups(&procs, &mut fds)?;
    let join_targets = fds.join.clone();
    let seccomp = super::seccomp::of_spec(&spec, Some(&o.root))?;
    let mut plan = launch::build(Inputs {
        id: &o.id,
        spec: &spec,
        bundle: &st.bundle,
        rootfs: &st.rootfs,
        cgroups: &st.cgroups,
        fds,
        no_pivot: false,
        wait_for_start: false,
        sync_hooks: false,
        new_keyring: true,
        joining: true,
        landlock: st.landlock.as_ref(),
        seccomp: seccomp.as_ref().map(|c| c.plan.clone()),
    })?;
    // Every namespace is joined, the mount namespace included.
    for (k, t) in &join_targets {
        match plan.namespaces.iter_mut().find(|n| n.kind == *k) {
            Some(n) => n.join_fd = Some(*t),
            None => plan.namespaces.push(bvisor_launcher::NamespacePlan {
                kind: *k,
                join_fd: Some(*t),
            }),
        }
    }
    plan.oom_score_adj = o.process.oom_score_adj();
    // Exec'd processes get the terminal without a /dev/console bind.
    drop((console, procs));
    let launched = starting.hand_over(&plan)?;
    drop(joins);
    let mut d = NoHooks;
    let res = spawn::follow(launched.control.as_raw_fd(), &mut d);
    let _ = launched.child.wait();
    let pid = res?;
    if let Some(c) = &seccomp {
        c.keep();
    }
    // After Ready the process only has exec left: read until EOF (the control socket closes on
    // exec); a failed step before that is the error.
    loop {
        let msg = sys::recv_seqpacket(launched.control.as_raw_fd()).map_err(io("read launcher"))?;
        if msg.is_empty() {
            break;
        }
        if let Ok(bvisor_launcher::Report::Step {
            ok: false,
            n,
            name,
            errno,
            detail,
        }) = bvisor_launcher::Report::decode(&msg)
        {
            return Err(Error::Step {
                n,
                name,
                errno,
                detail,
            });
        }
    }
    Ok(pid)
}

struct NoHooks;

impl Driver for NoHooks {
    fn on_pid(&mut self, _pid: i32) -> Result<()> {
        Ok(())
    }
    fn on_hooks_point(&mut self) -> Result<String> {
        Ok(String::new())
    }
}
