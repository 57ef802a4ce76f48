//! Start the sealed launcher, hand it its sealed plan, and follow its reports.
//!
//! The launcher is started as soon as the config is admitted and the id claimed ([`start`]),
//! before the cgroups and the plan exist: its exec and its libc's start (about 0.5 ms of one
//! core here) then overlap the runtime's work on the other. It touches nothing until the
//! runtime's [`Starting::hand_over`] brings the sealed plan, its digest and the fds the plan
//! names; a runtime that dies first leaves it reading EOF, and it exits.

use super::launch::Fds;
use super::{io, Error, Result};
use crate::cgroups::CgroupEntry;
use crate::sys;
use bvisor_launcher::{Command as LauncherCommand, Handover, LaunchPlan, Report};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

/// Launcher fds are first duplicated up here (close-on-exec). Those the launcher starts with
/// (stdio, its control socket) are then placed at their final numbers in the child just before
/// exec, targets staying below so the two never collide; those that follow in the handover
/// travel by SCM_RIGHTS with their numbers, the copy keeping them open until it is sent.
/// 1024, or half the soft RLIMIT_NOFILE where that is lower (an unprivileged shell often has
/// exactly 1024, and F_DUPFD fails with EINVAL at or above the limit).
fn staging_min() -> RawFd {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: r is a valid out pointer.
    let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } == 0 {
        r.rlim_cur
    } else {
        1024
    };
    if soft > 2048 {
        1024
    } else {
        (soft / 2) as RawFd
    }
}

/// Assigns each fd handed to the launcher its number in the launcher: consecutive numbers after
/// stdio and the preserved fds.
pub struct FdLayout {
    next: RawFd,
    /// Where staged copies go (see [`staging_min`]), read once per layout.
    staging: RawFd,
    moves: Vec<(OwnedFd, RawFd)>,
}

impl FdLayout {
    /// `stdio`: the launcher's (and so the workload's) stdin, stdout and stderr instead of ours;
    /// the containerd shim hands its FIFOs here, the CLI leaves its own stdio inherited.
    pub fn new(preserve_fds: u32, stdio: Option<[RawFd; 3]>) -> Result<FdLayout> {
        let next = 3 + preserve_fds as RawFd;
        let staging = staging_min();
        if next + 64 >= staging {
            return Err(Error::Other(format!(
                "--preserve-fds {preserve_fds} is too many"
            )));
        }
        let mut lay = FdLayout {
            next,
            staging,
            moves: Vec::new(),
        };
        for (target, fd) in stdio.into_iter().flatten().enumerate() {
            let staged = sys::dup_above(fd, staging).map_err(io("dup stdio for launcher"))?;
            lay.moves.push((staged, target as RawFd));
        }
        Ok(lay)
    }

    /// Hand `fd` to the launcher; returns its number there.
    pub fn add(&mut self, fd: RawFd) -> Result<RawFd> {
        let staged = sys::dup_above(fd, self.staging).map_err(io("dup fd for launcher"))?;
        let target = self.next;
        self.next += 1;
        self.moves.push((staged, target));
        Ok(target)
    }

    /// Hand the launcher its way into the container's cgroups (v1 `tasks` files, the v2
    /// directory), recording their numbers in `fds`.
    pub fn add_cgroups(&mut self, e: &CgroupEntry, fds: &mut Fds) -> Result<()> {
        for t in &e.v1_tasks {
            fds.cgroup_tasks.push(self.add(t.as_raw_fd())?);
        }
        if let Some(d) = &e.v2_dir {
            fds.cgroup_v2 = Some(self.add(d.as_raw_fd())?);
        }
        Ok(())
    }

    /// Numbers in the launcher for cgroups not made yet (`v1` tasks files, and a v2 directory
    /// if `v2`), recorded in `fds`: their fds follow the handover ([`Launched::send_cgroups`]).
    pub fn reserve_cgroups(&mut self, v1: usize, v2: bool, fds: &mut Fds) {
        for _ in 0..v1 {
            fds.cgroup_tasks.push(self.next);
            self.next += 1;
        }
        if v2 {
            fds.cgroup_v2 = Some(self.next);
            self.next += 1;
        }
    }
}

pub struct Launched {
    pub child: Launcher,
    pub control: OwnedFd,
}

impl Launched {
    /// The cgroups' way in (see [`FdLayout::add_cgroups`]) to the numbers `plan` reserved for
    /// them ([`FdLayout::reserve_cgroups`]); the launcher waits for them before it enters the
    /// cgroups.
    pub fn send_cgroups(&self, e: &CgroupEntry, plan: &LaunchPlan) -> Result<()> {
        let sent: Vec<RawFd> = e
            .v1_tasks
            .iter()
            .chain(e.v2_dir.as_ref())
            .map(|f| f.as_raw_fd())
            .collect();
        let targets = plan.cgroup_fds();
        if sent.len() != targets.len() {
            return Err(Error::Other(format!(
                "{} cgroup fds for {} planned",
                sent.len(),
                targets.len()
            )));
        }
        let msg = bvisor_launcher::CgroupsHandover { targets }.encode();
        sys::send_with_fds(self.control.as_raw_fd(), &msg, &sent)
            .map_err(io("hand the cgroups to the launcher"))
    }
}

/// The launcher's first process (it exits once the container's init is on its own).
pub struct Launcher {
    pub pid: i32,
}

impl Launcher {
    pub fn wait(&self) -> std::io::Result<std::process::ExitStatus> {
        sys::wait_child(self.pid)
    }
}

/// A launcher started ahead of its plan, waiting for the handover. Dropped without
/// [`Starting::hand_over`] (a failure before the plan was ready), it is killed and reaped.
pub struct Starting {
    pid: Option<i32>,
    control: Option<OwnedFd>,
    /// Numbers in the launcher for the fds that go with the handover.
    pub layout: FdLayout,
    /// The control socket's number in the launcher (the plan's `fds.control`).
    pub control_target: RawFd,
    /// The CPUs the launcher inherited (ours), while [`off_our_cpu`] keeps it elsewhere.
    affinity: Option<sys::CpuSet>,
}

/// Start the launcher from a form of its binary no container can write to
/// (`sys::exec_image_of`; `spare` is the state root, the overlay's second layer), with stdio
/// (`stdio`, or ours), the preserved fds and its control socket. Everything else follows in
/// the handover.
pub fn start(preserve_fds: u32, stdio: Option<[RawFd; 3]>, spare: &Path) -> Result<Starting> {
    let (runtime_end, launcher_end) = sys::socketpair_seqpacket().map_err(io("socketpair"))?;
    let mut layout = FdLayout::new(preserve_fds, stdio)?;
    let control_target = layout.add(launcher_end.as_raw_fd())?;
    drop(launcher_end);
    let exe_path = super::launcher_path();
    let (exe, how) = sys::exec_image_of(&exe_path, "bvisor-launcher", spare)
        .map_err(io(format!("launcher {}", exe_path.display())))?;
    crate::cli::log::phase(&format!("launcher image ({how:?})"));
    let exe = sys::dup_above(exe.as_raw_fd(), layout.staging).map_err(io("dup launcher"))?;
    let moves: Vec<(RawFd, RawFd)> = layout
        .moves
        .iter()
        .map(|(f, t)| (f.as_raw_fd(), *t))
        .collect();
    let argv = [
        "bvisor-launcher".to_string(),
        bvisor_launcher::CONTROL_FD_ARG.to_string(),
        control_target.to_string(),
    ];
    let pid = sys::spawn_with_fds(&format!("/proc/self/fd/{}", exe.as_raw_fd()), &argv, &moves)
        .map_err(io("start launcher"))?;
    // Our copies of what it now holds close here, so EOF on the control socket means every
    // launcher-side process is gone.
    layout.moves.clear();
    let affinity = off_our_cpu(pid);
    crate::cli::log::phase("launcher started");
    Ok(Starting {
        pid: Some(pid),
        control: Some(runtime_end),
        layout,
        control_target,
        affinity,
    })
}

/// Keep the launcher off the CPU we run on until the handover; returns the CPUs it inherited,
/// which [`Starting::hand_over`] gives back. None (and nothing changed) on one CPU.
///
/// Why: the launcher's exec and libc start (0.5–1 ms of one core here) are to overlap our work
/// on the other core (cgroups, the plan). But posix_spawn returns through vfork's wake-up,
/// which puts us back on the CPU the launcher runs on, and we preempt it; the scheduler need
/// not pull a waiting task to an idle CPU of another cache domain for milliseconds. `perf
/// sched` showed exactly that here: the launcher runnable and waiting 1.4 ms beside an idle
/// core, then starting only once we slept.
fn off_our_cpu(pid: i32) -> Option<sys::CpuSet> {
    let ours = sys::CpuSet::of(0).ok()?;
    let elsewhere = ours.without(sys::current_cpu()?)?;
    elsewhere.apply(pid).ok()?;
    Some(ours)
}

impl Starting {
    /// Seal the plan and send it, its digest and the fds added to [`Starting::layout`].
    pub fn hand_over(mut self, plan: &LaunchPlan) -> Result<Launched> {
        let (bytes, digest) = plan.encode();
        let plan_fd = sys::sealed_memfd("bvisor-plan", &bytes).map_err(io("seal plan"))?;
        let plan_target = self.layout.add(plan_fd.as_raw_fd())?;
        let moves = std::mem::take(&mut self.layout.moves);
        if moves.len() > bvisor_launcher::HANDOVER_MAX_FDS {
            return Err(Error::Other(format!(
                "{} fds for the launcher: at most {}",
                moves.len(),
                bvisor_launcher::HANDOVER_MAX_FDS
            )));
        }
        let (fds, targets): (Vec<RawFd>, Vec<RawFd>) =
            moves.iter().map(|(f, t)| (f.as_raw_fd(), *t)).unzip();
        let msg = Handover {
            digest,
            plan_fd: plan_target,
            targets,
        }
        .encode();
        // Before the plan arrives, so before the launcher can clone anything: the container
        // runs on the CPUs its caller may use, as with any runtime.
        if let (Some(cpus), Some(pid)) = (self.affinity.take(), self.pid) {
            cpus.apply(pid)
                .map_err(io("give the launcher back its CPU affinity"))?;
        }
        let control = self.control.take().expect("not handed over yet");
        // On failure (the launcher is gone) `self` still holds the pid: drop reaps it.
        sys::send_with_fds(control.as_raw_fd(), &msg, &fds).map_err(io("hand over to launcher"))?;
        crate::cli::log::phase("plan handed over");
        Ok(Launched {
            child: Launcher {
                pid: self.pid.take().expect("not handed over yet"),
            },
            control,
        })
    }
}

impl Drop for Starting {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            // Our child, not yet reaped: the pid cannot have been reused.
            // SAFETY: kill with a pid and a signal.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = sys::wait_child(pid);
        }
    }
}

/// What the runtime does at the launcher's requests.
pub trait Driver {
    fn on_pid(&mut self, pid: i32) -> Result<()>;
    /// prestart + createRuntime hooks; returns the state JSON for in-container hooks.
    fn on_hooks_point(&mut self) -> Result<String>;
}

/// Follow reports until the launcher says it is ready (or exec'd, for a process without a
/// start fifo). Returns the init's pid.
pub fn follow(control: RawFd, driver: &mut dyn Driver) -> Result<i32> {
    let mut pid = None;
    loop {
        let msg = sys::recv_seqpacket(control).map_err(io("read launcher report"))?;
        if msg.is_empty() {
            return Err(Error::Other(
                "launcher exited before the container was ready".into(),
            ));
        }
        match Report::decode(&msg).map_err(Error::Other)? {
            Report::Pid { pid: p } => {
                pid = Some(p);
                driver.on_pid(p)?;
            }
            Report::Step {
                n, name, ok: true, ..
            } => crate::cli::log::phase(&format!("launcher step {n} {name} applied")),
            Report::Step {
                n,
                name,
                errno,
                detail,
                ..
            } => {
                return Err(Error::Step {
                    n,
                    name,
                    errno,
                    detail,
                })
            }
            Report::HooksPoint => {
                let state = driver.on_hooks_point()?;
                let cmd = LauncherCommand::Proceed { state }.encode();
                sys::send_seqpacket(control, &cmd).map_err(io("answer launcher"))?;
            }
            Report::Ready => {
                return pid.ok_or_else(|| Error::Other("launcher ready without a pid".into()))
            }
        }
    }
}
