//! `create`: admit the config, then build the container and leave it waiting for `start`.
//!
//! Everything that can be checked without side effects is checked before the state directory
//! exists; from the moment it does, any failure tears down exactly what was made.

use super::launch::{self, Fds, Inputs};
use super::spawn::{self, Driver, Launched};
use super::state::{now_rfc3339, State, StateDir, Status};
use super::wasm;
use super::{io, Error, Result};
use crate::cgroups::{self, CgroupSet, Hierarchies, Version};
use crate::plan::{self, AdmitOptions};
use crate::{spec, sys};
use oci_spec::runtime::LinuxNamespaceType;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct CreateOpts {
    pub root: PathBuf,
    pub id: String,
    pub bundle: PathBuf,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub strict: bool,
    /// stdin, stdout, stderr of the container's process; `None` inherits ours.
    pub stdio: Option<[std::os::fd::RawFd; 3]>,
}

/// Create the container. Returns its state (status `created`).
pub fn create(o: &CreateOpts) -> Result<State> {
    let dir = check_new_id(&o.root, &o.id)?;
    create_loaded(o, dir, spec::load(&o.bundle)?)
}

/// A bad or taken id is reported before anything about the bundle (as before `run` read the
/// config itself).
pub fn check_new_id(root: &Path, id: &str) -> Result<StateDir> {
    let dir = StateDir::new(root, id)?;
    if dir.dir.exists() {
        return Err(super::StateError::Exists(id.to_string()).into());
    }
    Ok(dir)
}

/// [`create`] of an id [`check_new_id`] passed and a config the caller has already loaded from
/// `o.bundle` (`run` reads it first to see whether the process wants a terminal; reading and
/// parsing it twice cost ~0.2 ms). The claim below is what settles a race for the id.
pub fn create_loaded(o: &CreateOpts, dir: StateDir, loaded: spec::LoadedSpec) -> Result<State> {
    for u in loaded.ignored() {
        crate::cli::log::warn(&format!("config.json: unknown property {u} ignored"));
    }
    let rootfs = loaded.rootfs();
    refuse_host_root(&rootfs)?;
    let wasm = wasm::detect(&loaded.spec, &rootfs).map_err(Error::Other)?;
    // Read once: the planner's profile and the cgroup placement both need it.
    let hier = Hierarchies::discover().map_err(io("read cgroup hierarchies"))?;
    let no_cgroups = cgroups::rootless::denial(&hier);
    plan::admit_on(
        &loaded,
        &AdmitOptions {
            no_cgroups: no_cgroups.clone(),
            strict: o.strict,
            no_pivot: o.no_pivot,
            wasm: wasm.as_ref().map(wasm::admit_options),
        },
        Ok(hier.clone()),
    )?;
    crate::cli::log::phase("config admitted");
    let runner = match &wasm {
        Some(d) => {
            // The overlay view's second layer is the state root, which the claim below would
            // make: make it now (as the claim does), or a first container falls back to a copy.
            std::fs::create_dir_all(&o.root).map_err(io(o.root.display().to_string()))?;
            Some((
                d.clone(),
                wasm::sealed_runner(&o.root).map_err(Error::Other)?,
            ))
        }
        None => None,
    };
    let spec = &loaded.spec;
    let linux = spec.linux().clone().unwrap_or_default();
    let namespaces = linux.namespaces().clone().unwrap_or_default();
    let has_mount_ns = namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Mount);
    // Authority as fds, opened before anything exists.
    let root_fd = if has_mount_ns {
        Some(open_rootfs(&rootfs)?)
    } else {
        None
    };
    let mut join = Vec::new();
    for (n, ns) in namespaces.iter().enumerate() {
        if let Some(p) = ns.path() {
            let kind = launch::ns_kind(ns.typ());
            let fd = open_namespace(p, kind).map_err(|e| {
                Error::Other(format!("linux.namespaces[{n}].path: {}: {e}", p.display()))
            })?;
            join.push((kind, fd));
        }
    }
    let console = match &o.console_socket {
        Some(p) => Some(
            std::os::unix::net::UnixStream::connect(p)
                .map_err(io(format!("--console-socket {}", p.display())))?,
        ),
        None => None,
    };
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && console.is_none() {
        return Err(Error::Other(
            "process.terminal is true: --console-socket is required".into(),
        ));
    }
    if !terminal && console.is_some() {
        return Err(Error::Other(
            "--console-socket given but process.terminal is false".into(),
        ));
    }
    // SAFETY: geteuid cannot fail.
    let map_helpers = if unsafe { libc::geteuid() } == 0 {
        false // root writes any map itself
    } else {
        rootless_mappings(&linux, &SubIds::read())?
    };
    let cg_rel =
        cgroups::relative_path(linux.cgroups_path().as_deref(), &o.id).map_err(Error::Other)?;

    // From here on, side effects: the id is claimed and everything is torn down on failure.
    let _lock = dir.claim()?;
    let mut st = State {
        id: o.id.clone(),
        pid: 0,
        pid_start: 0,
        bundle: loaded.bundle.clone(),
        rootfs: rootfs.clone(),
        created: now_rfc3339(),
        owner: owner(),
        ready: false,
        cgroups: CgroupSet::default(),
        config: std::sync::Arc::new(loaded.spec),
        landlock: loaded.landlock,
    };
    // Serialized once for the three saves below.
    let config_json = super::state::config_json(&st.config);
    crate::fault::point("claimed");
    crate::cli::log::phase("id claimed");
    let result = (|| -> Result<()> {
        // The launcher starts now and waits for its plan while the cgroups and the plan are
        // made (spawn.rs); a failure before the handover kills and reaps it.
        let starting = spawn::start(o.preserve_fds, o.stdio, &o.root)?;
        crate::fault::point("launcher");
        // Name the cgroups before making them: a runtime killed from here on leaves a state
        // that `delete --force` can clean up completely. They are made after the handover,
        // while the launcher verifies its plan (build_and_launch).
        if no_cgroups.is_none() {
            st.cgroups = CgroupSet::planned(&hier, &cg_rel);
        }
        dir.save_with(&st, &config_json)?;
        crate::fault::point("planned");
        build_and_launch(
            o,
            &dir,
            &mut st,
            Handover {
                root_fd,
                join,
                console,
                runner,
                map_helpers,
            },
            starting,
            &config_json,
            no_cgroups.is_none().then_some(CgroupWork {
                hier: &hier,
                rel: &cg_rel,
                linux: &linux,
            }),
        )
    })();
    match result {
        Ok(()) => Ok(st),
        Err(e) => {
            teardown(&dir, &st);
            Err(e)
        }
    }
}

/// The container's cgroups, made once the launcher has its plan.
struct CgroupWork<'a> {
    hier: &'a Hierarchies,
    rel: &'a Path,
    linux: &'a oci_spec::runtime::Linux,
}

impl CgroupWork<'_> {
    /// Make the cgroups `st` names (planned), record them, and write their resources.
    fn make(
        &self,
        dir: &StateDir,
        st: &mut State,
        config_json: &serde_json::value::RawValue,
    ) -> Result<()> {
        let planned = std::mem::take(&mut st.cgroups);
        st.cgroups = CgroupSet::create(self.hier, self.rel).map_err(io("cgroups"))?;
        // Usually what was made is what was planned, and the state on disk already says so;
        // the directories are the same either way (the plan's mounts name them).
        debug_assert!(st
            .cgroups
            .dirs
            .iter()
            .map(|d| &d.path)
            .eq(planned.dirs.iter().map(|d| &d.path)));
        if st.cgroups != planned {
            dir.save_with(st, config_json)?;
        }
        crate::fault::point("cgroups");
        crate::cli::log::phase("cgroups made");
        let resources = self.linux.resources().clone().unwrap_or_default();
        st.cgroups
            .apply_devices(
                &resources.devices().clone().unwrap_or_default(),
                &self.linux.devices().clone().unwrap_or_default(),
            )
            .map_err(io("device cgroup"))?;
        cgroups::resources::apply(&st.cgroups, &resources).map_err(io("cgroup resources"))?;
        crate::cli::log::phase("cgroup resources written");
        Ok(())
    }
}

/// What the runtime opened for the launcher before anything existed.
struct Handover {
    root_fd: Option<OwnedFd>,
    join: Vec<(bvisor_launcher::NsKind, OwnedFd)>,
    console: Option<std::os::unix::net::UnixStream>,
    /// A wasm bundle: how to run it and the sealed runner.
    runner: Option<(wasm::Dispatch, OwnedFd)>,
    /// Rootless id maps beyond the caller's own id: written by newuidmap/newgidmap.
    map_helpers: bool,
}

fn build_and_launch(
    o: &CreateOpts,
    dir: &StateDir,
    st: &mut State,
    h: Handover,
    mut starting: spawn::Starting,
    config_json: &serde_json::value::RawValue,
    cgroups: Option<CgroupWork<'_>>,
) -> Result<()> {
    let Handover {
        root_fd,
        join,
        console,
        runner,
        map_helpers,
    } = h;
    let fifo_path = dir.fifo();
    sys::mkfifo(&fifo_path, 0o600).map_err(io("exec fifo"))?;
    // O_RDWR never blocks; the launcher reads one byte from it, `start` writes that byte.
    let fifo = sys::open_raw(&fifo_path, libc::O_RDWR).map_err(io("open exec fifo"))?;

    let lay = &mut starting.layout;
    let mut fds = Fds {
        control: starting.control_target,
        exec_fifo: Some(lay.add(fifo.as_raw_fd())?),
        preserve_fds: o.preserve_fds,
        ..Fds::default()
    };
    if let Some(c) = &console {
        fds.console_socket = Some(lay.add(c.as_raw_fd())?);
    }
    if let Some(r) = &root_fd {
        fds.root = Some(lay.add(r.as_raw_fd())?);
    }
    for (k, f) in &join {
        fds.join.push((*k, lay.add(f.as_raw_fd())?));
    }
    let v1 = st
        .cgroups
        .dirs
        .iter()
        .filter(|d| d.version == Version::V1)
        .count();
    let v2 = st.cgroups.dirs.iter().any(|d| d.version == Version::V2);
    lay.reserve_cgroups(v1, v2, &mut fds);
    let hooks = st.config.hooks().clone().unwrap_or_default();
    #[allow(deprecated)]
    let sync_hooks = [
        hooks.prestart(),
        hooks.create_runtime(),
        hooks.create_container(),
        hooks.start_container(),
    ]
    .iter()
    .any(|h| h.as_ref().is_some_and(|v| !v.is_empty()));
    let runner_target = match &runner {
        Some((_, fd)) => Some(lay.add(fd.as_raw_fd())?),
        None => None,
    };
    let seccomp = super::seccomp::of_spec(&st.config, Some(&o.root))?;
    let mut plan = launch::build(Inputs {
        id: &o.id,
        spec: &st.config,
        bundle: &st.bundle,
        rootfs: &st.rootfs,
        cgroups: &st.cgroups,
        fds,
        no_pivot: o.no_pivot,
        wait_for_start: true,
        sync_hooks,
        new_keyring: !o.no_new_keyring,
        joining: false,
        landlock: st.landlock.as_ref(),
        seccomp: seccomp.as_ref().map(|c| c.plan.clone()),
    })?;
    if let (Some((d, _)), Some(fd)) = (&runner, runner_target) {
        wasm::rewrite_process(&mut plan.process, d, fd);
    }
    plan.map_helpers = map_helpers;
    plan.cgroups_follow = !plan.cgroup_tasks_fds.is_empty() || plan.cgroup_v2_fd.is_some();
    crate::cli::log::phase("launch plan built");
    // The launcher's copies are in its layout; ours close now.
    drop((root_fd, join, console, runner));
    let launched = starting.hand_over(&plan)?;
    crate::fault::point("launched");
    crate::cli::log::phase("launcher spawned");
    // The cgroups, while the launcher verifies the plan; it waits for them before step 2.
    let made = match cgroups {
        Some(w) => w.make(dir, st, config_json).and_then(|()| {
            let entry = st.cgroups.open_entry().map_err(io("cgroup tasks"))?;
            launched.send_cgroups(&entry, &plan)
        }),
        None => Ok(()),
    };
    if let Err(e) = made {
        // Without its cgroups the launcher reads EOF and exits; reap it.
        let Launched { child, control } = launched;
        drop(control);
        let _ = child.wait();
        return Err(e);
    }
    drop(fifo);
    let mut driver = CreateDriver {
        dir,
        st,
        config_json,
    };
    let res = spawn::follow(launched.control.as_raw_fd(), &mut driver);
    // The launcher parent exits right after releasing the init; reap it either way.
    let status = launched.child.wait();
    res?;
    if let Ok(s) = status {
        if !s.success() {
            return Err(Error::Other(format!("launcher exited with {s}")));
        }
    }
    st.ready = true;
    dir.save_with(st, config_json)?;
    if let Some(c) = &seccomp {
        c.keep();
    }
    crate::fault::point("ready");
    crate::cli::log::phase("created");
    if let Some(p) = &o.pid_file {
        write_pid_file(p, st.pid)?;
    }
    Ok(())
}

struct CreateDriver<'a> {
    dir: &'a StateDir,
    st: &'a mut State,
    config_json: &'a serde_json::value::RawValue,
}

impl Driver for CreateDriver<'_> {
    fn on_pid(&mut self, pid: i32) -> Result<()> {
        self.st.pid = pid;
        self.st.pid_start = sys::proc_stat(pid).map(|s| s.0).unwrap_or(0);
        self.dir.save_with(self.st, self.config_json)?;
        crate::fault::point("pid");
        Ok(())
    }

    fn on_hooks_point(&mut self) -> Result<String> {
        let state = serde_json::to_string(&self.st.oci(Status::Creating)).expect("serializes");
        let hooks = self.st.config.hooks().clone().unwrap_or_default();
        #[allow(deprecated)]
        super::ops::run_hooks(hooks.prestart(), &state, "prestart")?;
        super::ops::run_hooks(hooks.create_runtime(), &state, "createRuntime")?;
        Ok(state)
    }
}

/// Undo a failed create: the init (if any), the cgroups, the state directory.
pub fn teardown(dir: &StateDir, st: &State) {
    if st.init_alive() {
        let _ = sys::kill(st.pid, libc::SIGKILL);
    }
    let _ = st.cgroups.signal_all(libc::SIGKILL);
    if let Err(e) = st.cgroups.remove() {
        crate::cli::log::warn(&format!("teardown: {e}"));
    }
    let _ = dir.remove();
}

/// A root.path that resolves to the host's own `/` (`../../..` from the bundle, a symlink, or
/// `/` itself) would give the container the whole host filesystem: refused by field.
fn refuse_host_root(rootfs: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let (Ok(r), Ok(host)) = (std::fs::metadata(rootfs), std::fs::metadata("/")) else {
        return Ok(()); // a missing rootfs is reported where it is opened
    };
    if (r.dev(), r.ino()) == (host.dev(), host.ino()) {
        return Err(Error::Other(format!(
            "root.path: {} resolves to the host's root directory; a container needs a root filesystem of its own",
            rootfs.display()
        )));
    }
    Ok(())
}

fn open_rootfs(rootfs: &Path) -> Result<OwnedFd> {
    let fd = sys::open_raw(rootfs, libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|e| Error::Other(format!("root.path: rootfs {}: {e}", rootfs.display())))?;
    Ok(fd)
}

const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// Open a namespace file and check it is a namespace of the expected type.
fn open_namespace(p: &Path, kind: bvisor_launcher::NsKind) -> std::io::Result<OwnedFd> {
    let fd = sys::open_raw(p, libc::O_RDONLY)?;
    // SAFETY: ioctl without argument on an fd we own.
    let t = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE) };
    if t < 0 {
        return Err(std::io::Error::other("not a namespace file"));
    }
    if t as u64 != kind.clone_flag() {
        return Err(std::io::Error::other(format!(
            "is not a {} namespace",
            kind.oci_name()
        )));
    }
    Ok(fd)
}

/// The subordinate id ranges of /etc/subuid and /etc/subgid (`name-or-uid:start:count` lines)
/// and whether the setuid helpers that use them are installed.
pub struct SubIds {
    uids: String,
    gids: String,
    helpers: bool,
}

impl SubIds {
    fn read() -> SubIds {
        SubIds {
            uids: std::fs::read_to_string("/etc/subuid").unwrap_or_default(),
            gids: std::fs::read_to_string("/etc/subgid").unwrap_or_default(),
            helpers: Path::new("/usr/bin/newuidmap").exists()
                && Path::new("/usr/bin/newgidmap").exists(),
        }
    }
}

/// Whether `[host, host+size)` lies inside one range that `table` grants to `names` (the
/// caller's user name or number).
fn subordinate(table: &str, names: &[String], host: u32, size: u32) -> bool {
    table.lines().any(|l| {
        let f: Vec<&str> = l.trim().split(':').collect();
        let (Some(start), Some(count)) = (
            f.get(1).and_then(|v| v.parse::<u64>().ok()),
            f.get(2).and_then(|v| v.parse::<u64>().ok()),
        ) else {
            return false;
        };
        f.len() == 3
            && names.iter().any(|n| n == f[0])
            && u64::from(host) >= start
            && u64::from(host) + u64::from(size) <= start + count
    })
}

/// A rootless caller maps its own id (written by the launcher itself after denying setgroups);
/// any other range must be one /etc/subuid or /etc/subgid grants it, and is then written by
/// newuidmap/newgidmap (returns true). Anything else is refused by field before anything exists.
fn rootless_mappings(linux: &oci_spec::runtime::Linux, sub: &SubIds) -> Result<bool> {
    // SAFETY: geteuid/getegid cannot fail.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if euid == 0 {
        return Ok(false);
    }
    let names = [owner(), euid.to_string()];
    let mut helpers = false;
    let mut check = |field: &str,
                     maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>,
                     own: u32,
                     table: &str|
     -> Result<()> {
        let maps = maps.clone().unwrap_or_default();
        if maps.len() == 1 && maps[0].host_id() == own && maps[0].size() == 1 {
            return Ok(());
        }
        for (i, m) in maps.iter().enumerate() {
            if m.host_id() == own && m.size() == 1 {
                continue;
            }
            if !sub.helpers {
                return Err(Error::Other(format!(
                    "{field}[{i}]: rootless: a map beyond the caller's own id ({own}) needs /usr/bin/newuidmap and newgidmap (package uidmap)"
                )));
            }
            if !subordinate(table, &names, m.host_id(), m.size()) {
                return Err(Error::Other(format!(
                    "{field}[{i}]: rootless: host ids {}..{} are not subordinate ids of {} in /etc/sub{}id",
                    m.host_id(),
                    u64::from(m.host_id()) + u64::from(m.size()),
                    names[0],
                    if field.contains("uid") { "u" } else { "g" }
                )));
            }
        }
        helpers = true;
        Ok(())
    };
    check("linux.uidMappings", linux.uid_mappings(), euid, &sub.uids)?;
    check("linux.gidMappings", linux.gid_mappings(), egid, &sub.gids)?;
    Ok(helpers)
}

fn owner() -> String {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}

pub fn write_pid_file(p: &Path, pid: i32) -> Result<()> {
    let p = std::path::absolute(p).map_err(io(format!("--pid-file {}", p.display())))?;
    sys::write_atomic(&p, pid.to_string().as_bytes())
        .map_err(io(format!("--pid-file {}", p.display())))
}

#[cfg(test)]
mod subid_tests {
    use super::subordinate;

    #[test]
    fn subordinate_ranges_by_name_or_number() {
        let t = "alice:100000:65536\n47113:300000:1000\nbroken line\n";
        let names = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(subordinate(t, &names(&["alice", "1000"]), 100000, 65536));
        assert!(!subordinate(t, &names(&["alice", "1000"]), 100000, 65537));
        assert!(subordinate(t, &names(&["bob", "47113"]), 300500, 500));
        assert!(!subordinate(t, &names(&["bob", "47113"]), 299999, 2));
        assert!(!subordinate(t, &names(&["carol", "5"]), 100000, 1));
    }
}
