//! Turn an admitted config into the launcher's plan. Pure: fds and cgroup directories come in as
//! arguments, so every mapping here is unit-tested without root.

use crate::cgroups::{CgroupSet, Version};
use bvisor_launcher as wire;
use oci_spec::runtime::{LinuxNamespaceType, Mount, Process, Spec};
use std::os::fd::RawFd;
use std::path::Path;

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{field}: {detail}")]
pub struct LaunchError {
    pub field: String,
    pub detail: String,
}

fn err<T>(field: impl Into<String>, detail: impl Into<String>) -> Result<T, LaunchError> {
    Err(LaunchError {
        field: field.into(),
        detail: detail.into(),
    })
}

/// The fds the runtime opened for the launcher (already at their final numbers).
#[derive(Debug, Clone, Default)]
pub struct Fds {
    pub control: RawFd,
    pub exec_fifo: Option<RawFd>,
    pub console_socket: Option<RawFd>,
    pub root: Option<RawFd>,
    /// (namespace type, fd) for namespaces joined by path.
    pub join: Vec<(wire::NsKind, RawFd)>,
    /// cgroup v1 `tasks` files and the cgroup v2 directory (see `CgroupSet::open_entry`).
    pub cgroup_tasks: Vec<RawFd>,
    pub cgroup_v2: Option<RawFd>,
    pub preserve_fds: u32,
}

pub struct Inputs<'a> {
    pub id: &'a str,
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub cgroups: &'a CgroupSet,
    pub fds: Fds,
    pub no_pivot: bool,
    pub wait_for_start: bool,
    /// prestart/createRuntime/createContainer/startContainer hooks exist.
    pub sync_hooks: bool,
    /// `--no-new-keyring` was not given.
    pub new_keyring: bool,
    /// A process joining an existing container (exec): every namespace is joined and the
    /// container's root is already set up, so there is no rootfs work.
    pub joining: bool,
    /// The config's `process.landlock` value (admitted by the planner).
    pub landlock: Option<&'a serde_json::Value>,
    /// `linux.seccomp` compiled (`seccomp::compile_cached`), when the config has it.
    pub seccomp: Option<wire::SeccompPlan>,
}

pub fn ns_kind(t: LinuxNamespaceType) -> wire::NsKind {
    match t {
        LinuxNamespaceType::User => wire::NsKind::User,
        LinuxNamespaceType::Mount => wire::NsKind::Mount,
        LinuxNamespaceType::Pid => wire::NsKind::Pid,
        LinuxNamespaceType::Network => wire::NsKind::Network,
        LinuxNamespaceType::Ipc => wire::NsKind::Ipc,
        LinuxNamespaceType::Uts => wire::NsKind::Uts,
        LinuxNamespaceType::Cgroup => wire::NsKind::Cgroup,
        LinuxNamespaceType::Time => wire::NsKind::Time,
    }
}

/// The launch plan `create` would build for a loaded config, with the given fd numbers and no
/// machine work (no rootfs opened, no cgroup made): for benches, fuzzing and
/// `examples/seal_sample`.
pub fn build_offline(
    id: &str,
    loaded: &crate::spec::LoadedSpec,
    cgroups: &CgroupSet,
    fds: Fds,
) -> Result<wire::LaunchPlan, LaunchError> {
    let rootfs = loaded.rootfs();
    build(Inputs {
        id,
        spec: &loaded.spec,
        bundle: &loaded.bundle,
        rootfs: &rootfs,
        cgroups,
        fds,
        no_pivot: false,
        wait_for_start: true,
        sync_hooks: false,
        new_keyring: true,
        joining: false,
        landlock: None,
        seccomp: super::seccomp::of_spec(&loaded.spec, None)?.map(|c| c.plan),
    })
}

pub fn build(i: Inputs) -> Result<wire::LaunchPlan, LaunchError> {
    let spec = i.spec;
    let linux = spec.linux().clone().unwrap_or_default();
    let namespaces: Vec<wire::NamespacePlan> = linux
        .namespaces()
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|n| {
            let kind = ns_kind(n.typ());
            wire::NamespacePlan {
                kind,
                join_fd: i
                    .fds
                    .join
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .map(|(_, fd)| *fd),
            }
        })
        .collect();
    let has_ns = |k: wire::NsKind| namespaces.iter().any(|n| n.kind == k);
    let new_userns = namespaces
        .iter()
        .any(|n| n.kind == wire::NsKind::User && n.join_fd.is_none());
    let maps = |m: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| -> Vec<wire::IdMapping> {
        m.clone()
            .unwrap_or_default()
            .iter()
            .map(|m| wire::IdMapping {
                container_id: m.container_id(),
                host_id: m.host_id(),
                size: m.size(),
            })
            .collect()
    };
    let uid_mappings = maps(linux.uid_mappings());
    let gid_mappings = maps(linux.gid_mappings());
    if new_userns && (uid_mappings.is_empty() || gid_mappings.is_empty()) {
        return err(
            "linux.uidMappings",
            "a new user namespace needs uidMappings and gidMappings",
        );
    }
    let process = spec.process().clone().unwrap_or_default();
    let rootfs = if has_ns(wire::NsKind::Mount) && !i.joining {
        Some(rootfs_plan(
            &i,
            &linux,
            new_userns,
            process.terminal().unwrap_or(false),
        )?)
    } else {
        None
    };
    if rootfs.is_none() && !i.joining {
        if i.no_pivot {
            return err("--no-pivot", "needs a mount namespace");
        }
        // Without a mount namespace every mount would land in the runtime's (the host's)
        // mount table and outlive the container: refuse instead of polluting it.
        let refuse = |field: &str| {
            err::<()>(
                field,
                "needs a mount namespace: without one it would change the host's mount table (add {\"type\": \"mount\"} to linux.namespaces)",
            )
        };
        if spec.mounts().as_ref().is_some_and(|m| !m.is_empty()) {
            refuse("mounts")?;
        }
        if linux.masked_paths().as_ref().is_some_and(|m| !m.is_empty()) {
            refuse("linux.maskedPaths")?;
        }
        if linux
            .readonly_paths()
            .as_ref()
            .is_some_and(|m| !m.is_empty())
        {
            refuse("linux.readonlyPaths")?;
        }
        if spec
            .root()
            .as_ref()
            .and_then(|r| r.readonly())
            .unwrap_or(false)
        {
            refuse("root.readonly")?;
        }
    }
    for key in linux.sysctl().clone().unwrap_or_default().keys() {
        match crate::plan::requirement::sysctl_owner(key) {
            Some(ns) if has_ns(ns) => {}
            Some(ns) => {
                return err(
                    format!("linux.sysctl.{key}"),
                    format!(
                        "needs a {} namespace, else it changes the host",
                        ns.oci_name()
                    ),
                )
            }
            None => {
                return err(
                    format!("linux.sysctl.{key}"),
                    "is not namespaced: setting it would change the host",
                )
            }
        }
    }
    let chroot_fd = if has_ns(wire::NsKind::Mount) || i.joining {
        None
    } else {
        i.fds.root
    };
    let hooks = spec.hooks().clone().unwrap_or_default();
    let landlock = readonly_root_landlock(spec, has_ns(wire::NsKind::Mount) || i.joining);
    Ok(wire::LaunchPlan {
        version: wire::PLAN_VERSION,
        container_id: i.id.to_string(),
        fds: wire::PlanFds {
            control: i.fds.control,
            exec_fifo: i.fds.exec_fifo,
            console_socket: i.fds.console_socket,
            preserve_fds: i.fds.preserve_fds,
        },
        namespaces,
        uid_mappings,
        gid_mappings,
        map_helpers: false,
        cgroup_tasks_fds: i.fds.cgroup_tasks.clone(),
        cgroup_v2_fd: i.fds.cgroup_v2,
        cgroups_follow: false,
        hostname: spec
            .hostname()
            .clone()
            .filter(|h| !h.is_empty() && !i.joining),
        domainname: spec
            .domainname()
            .clone()
            .filter(|h| !h.is_empty() && !i.joining),
        rootfs,
        chroot_fd,
        rlimits: rlimits(&process)?,
        oom_score_adj: process.oom_score_adj(),
        process: process_plan(&process)?,
        create_container_hooks: to_hooks(hooks.create_container()),
        start_container_hooks: to_hooks(hooks.start_container()),
        wait_for_start: i.wait_for_start,
        seccomp: match linux.seccomp() {
            Some(_) => Some(i.seccomp.ok_or_else(|| LaunchError {
                field: "linux.seccomp".into(),
                detail: "not compiled".into(),
            })?),
            None => None,
        },
        new_keyring: i.new_keyring,
        sync_hooks: i.sync_hooks,
        landlock,
        process_landlock: match i.landlock {
            Some(v) => Some(
                crate::plan::requirement::landlock_plan("process.landlock", v)
                    .or_else(|(field, detail)| err(field, detail))?,
            ),
            None => None,
        },
    })
}

/// The kernel's landlock ABI (0: none), as the planner's profile probes it.
fn landlock_abi() -> i64 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_long = 1;
    // SAFETY: a version query passes no attribute pointer and opens no fd.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    v.max(0)
}

/// The second layer under `root.readonly`: a landlock domain (ABI 3) handling every write-side
/// filesystem right and allowing them only beneath the mounts the plan leaves writable (every
/// mount destination without `ro`, and `/dev`, whose device nodes are written through). Read
/// and execute rights are not handled, so reads are unaffected. The same domain is built for
/// `exec` (joining), from the same config.
fn readonly_root_landlock(
    spec: &oci_spec::runtime::Spec,
    mount_ns: bool,
) -> Option<wire::LandlockPlan> {
    let readonly = spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false);
    // The planner applies this layer (Scope::Each) only where the kernel has landlock ABI 3.
    if !readonly || !mount_ns || landlock_abi() < 3 {
        return None;
    }
    let mut paths = vec!["/dev".to_string()];
    for m in spec.mounts().clone().unwrap_or_default() {
        let ro = m
            .options()
            .as_ref()
            .is_some_and(|o| o.iter().any(|x| x == "ro"));
        let dest = m.destination().to_string_lossy().into_owned();
        if !ro && !paths.contains(&dest) {
            paths.push(dest);
        }
    }
    Some(wire::LandlockPlan {
        abi: 3,
        handled_fs: wire::LANDLOCK_WRITE_ABI3,
        path_rules: paths
            .into_iter()
            .map(|path| wire::LandlockPathRule {
                path,
                access: wire::LANDLOCK_WRITE_ABI3,
            })
            .collect(),
        ..Default::default()
    })
}

pub fn to_hooks(h: &Option<Vec<oci_spec::runtime::Hook>>) -> Vec<wire::Hook> {
    h.clone()
        .unwrap_or_default()
        .iter()
        .map(|h| wire::Hook {
            path: h.path().to_string_lossy().into_owned(),
            args: h.args().clone().unwrap_or_default(),
            env: h.env().clone().unwrap_or_default(),
            timeout: h.timeout().map(|t| t.max(0) as u32),
        })
        .collect()
}

fn rootfs_plan(
    i: &Inputs,
    linux: &oci_spec::runtime::Linux,
    userns: bool,
    terminal: bool,
) -> Result<wire::RootfsPlan, LaunchError> {
    let Some(root_fd) = i.fds.root else {
        return err("root.path", "rootfs was not opened");
    };
    let mut mounts = Vec::new();
    let mut dev_is_bind = false;
    for (n, m) in i
        .spec
        .mounts()
        .clone()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let field = format!("mounts[{n}]");
        let dest = m.destination().to_string_lossy().into_owned();
        if !dest.starts_with('/') {
            return err(
                format!("{field}.destination"),
                format!("{dest:?} must be absolute"),
            );
        }
        let plan = mount_plan(i.bundle, m, &field)?;
        if plan.fstype == "cgroup" {
            mounts.extend(cgroup_mounts(i.cgroups, &plan, has_cgroupns(linux)));
            continue;
        }
        if normalize(&dest) == "/dev" && plan.fstype == "bind" {
            dev_is_bind = true;
        }
        mounts.push(plan);
    }
    let (pre, post) = propagation(linux.rootfs_propagation().as_deref())?;
    let devices = linux
        .devices()
        .clone()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(n, d)| {
            let kind = match d.typ() {
                oci_spec::runtime::LinuxDeviceType::C => 'c',
                oci_spec::runtime::LinuxDeviceType::B => 'b',
                oci_spec::runtime::LinuxDeviceType::U => 'u',
                oci_spec::runtime::LinuxDeviceType::P => 'p',
                oci_spec::runtime::LinuxDeviceType::A => {
                    return err(
                        format!("linux.devices[{n}].type"),
                        "\"a\" is not a device type",
                    )
                }
            };
            let path = d.path().to_string_lossy().into_owned();
            if !path.starts_with("/dev/") {
                return err(
                    format!("linux.devices[{n}].path"),
                    format!("{path:?} is not under /dev"),
                );
            }
            Ok(wire::DevicePlan {
                path,
                kind,
                major: d.major(),
                minor: d.minor(),
                mode: d.file_mode().unwrap_or(0o666),
                uid: d.uid().unwrap_or(0),
                gid: d.gid().unwrap_or(0),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let root = i.spec.root().clone().unwrap_or_default();
    Ok(wire::RootfsPlan {
        root_fd,
        root_path: i.rootfs.to_string_lossy().into_owned(),
        root_propagation: pre,
        post_propagation: post,
        mounts,
        default_devices: !dev_is_bind,
        devices,
        bind_devices: userns,
        no_pivot: i.no_pivot,
        masked_paths: linux.masked_paths().clone().unwrap_or_default(),
        readonly_paths: linux.readonly_paths().clone().unwrap_or_default(),
        readonly_root: root.readonly().unwrap_or(false),
        sysctl: linux
            .sysctl()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .collect(),
        console: terminal,
    })
}

fn has_cgroupns(linux: &oci_spec::runtime::Linux) -> bool {
    linux
        .namespaces()
        .clone()
        .unwrap_or_default()
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Cgroup)
}

fn normalize(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        "/".into()
    } else {
        t.into()
    }
}

/// (propagation of `/` before the rootfs is set up, propagation of the new root afterwards).
/// pivot_root needs a non-shared parent, so a shared root is made shared only afterwards.
fn propagation(p: Option<&str>) -> Result<(u64, u64), LaunchError> {
    let rslave = libc::MS_SLAVE | libc::MS_REC;
    Ok(match p {
        None | Some("") => (rslave, 0),
        Some("slave") => (libc::MS_SLAVE, 0),
        Some("rslave") => (rslave, 0),
        Some("private") => (libc::MS_PRIVATE, 0),
        Some("rprivate") => (libc::MS_PRIVATE | libc::MS_REC, 0),
        Some("shared") => (rslave, libc::MS_SHARED),
        Some("rshared") => (rslave, libc::MS_SHARED | libc::MS_REC),
        Some("unbindable") => (rslave, libc::MS_UNBINDABLE),
        Some("runbindable") => (rslave, libc::MS_UNBINDABLE | libc::MS_REC),
        Some(o) => {
            return err(
                "linux.rootfsPropagation",
                format!("{o:?} is not a propagation mode"),
            )
        }
    })
}

/// Mount options → flags, flags to clear, propagation, data. Recognised flags are mount(2)'s;
/// anything else is filesystem data, which a bind mount cannot take (it would be ignored by the
/// kernel), so there it is an error.
pub fn parse_options(opts: &[String]) -> (u64, u64, u64, bool, bool, Vec<String>) {
    let (mut set, mut clear, mut prop) = (0u64, 0u64, 0u64);
    let (mut bind, mut rec) = (false, false);
    let mut data = Vec::new();
    for o in opts {
        match o.as_str() {
            "defaults" => {}
            "ro" => set |= libc::MS_RDONLY,
            "rw" => clear |= libc::MS_RDONLY,
            "nosuid" => set |= libc::MS_NOSUID,
            "suid" => clear |= libc::MS_NOSUID,
            "nodev" => set |= libc::MS_NODEV,
            "dev" => clear |= libc::MS_NODEV,
            "noexec" => set |= libc::MS_NOEXEC,
            "exec" => clear |= libc::MS_NOEXEC,
            "sync" => set |= libc::MS_SYNCHRONOUS,
            "async" => clear |= libc::MS_SYNCHRONOUS,
            "dirsync" => set |= libc::MS_DIRSYNC,
            "mand" => set |= libc::MS_MANDLOCK,
            "nomand" => clear |= libc::MS_MANDLOCK,
            "atime" => clear |= libc::MS_NOATIME,
            "noatime" => set |= libc::MS_NOATIME,
            "diratime" => clear |= libc::MS_NODIRATIME,
            "nodiratime" => set |= libc::MS_NODIRATIME,
            "relatime" => set |= libc::MS_RELATIME,
            "norelatime" => clear |= libc::MS_RELATIME,
            "strictatime" => set |= libc::MS_STRICTATIME,
            "nostrictatime" => clear |= libc::MS_STRICTATIME,
            "bind" => bind = true,
            "rbind" => {
                bind = true;
                rec = true
            }
            "private" => prop = libc::MS_PRIVATE,
            "rprivate" => prop = libc::MS_PRIVATE | libc::MS_REC,
            "shared" => prop = libc::MS_SHARED,
            "rshared" => prop = libc::MS_SHARED | libc::MS_REC,
            "slave" => prop = libc::MS_SLAVE,
            "rslave" => prop = libc::MS_SLAVE | libc::MS_REC,
            "unbindable" => prop = libc::MS_UNBINDABLE,
            "runbindable" => prop = libc::MS_UNBINDABLE | libc::MS_REC,
            other => data.push(other.to_string()),
        }
    }
    (set & !clear, clear, prop, bind, rec, data)
}

/// Options the kernel does not take as mount flags or filesystem data, but runtimes interpret:
/// bvisor does not implement them, so they are refused by name rather than passed on.
const RUNTIME_OPTIONS: &[&str] = &[
    "tmpcopyup",
    "idmap",
    "ridmap",
    "rro",
    "rrw",
    "rnosuid",
    "rsuid",
    "rnodev",
    "rdev",
    "rnoexec",
    "rexec",
    "rnoatime",
    "ratime",
    "rrelatime",
    "rnorelatime",
    "rstrictatime",
    "rnostrictatime",
    "rnodiratime",
    "rdiratime",
    "nosymfollow",
    "rnosymfollow",
    "symfollow",
    "copy-symlink",
    "remount",
];

fn mount_plan(bundle: &Path, m: &Mount, field: &str) -> Result<wire::MountPlan, LaunchError> {
    let opts = m.options().clone().unwrap_or_default();
    for (k, o) in opts.iter().enumerate() {
        if RUNTIME_OPTIONS.contains(&o.as_str()) {
            return err(
                format!("{field}.options[{k}]"),
                format!("{o:?} is not supported"),
            );
        }
    }
    let (flags, clear, propagation, bind_opt, rec, data) = parse_options(&opts);
    let typ = m.typ().clone().unwrap_or_default();
    let is_bind = bind_opt || typ == "bind";
    let source = m
        .source()
        .clone()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    if is_bind {
        if !data.is_empty() {
            // The kernel ignores filesystem data on a bind mount (runc passes it on and it is
            // lost); bvisor names it rather than pretend it applied.
            crate::cli::log::warn(&format!(
                "{field}.options: {} ignored: a bind mount takes no filesystem options",
                data.join(",")
            ));
        }
        if source.is_empty() {
            return err(format!("{field}.source"), "a bind mount needs a source");
        }
        let src = if Path::new(&source).is_absolute() {
            Path::new(&source).to_path_buf()
        } else {
            bundle.join(&source)
        };
        let meta = std::fs::metadata(&src).map_err(|e| LaunchError {
            field: format!("{field}.source"),
            detail: format!("{}: {e}", src.display()),
        })?;
        return Ok(wire::MountPlan {
            destination: m.destination().to_string_lossy().into_owned(),
            fstype: "bind".into(),
            source: src.to_string_lossy().into_owned(),
            flags: flags | libc::MS_BIND | if rec { libc::MS_REC } else { 0 },
            clear_flags: clear,
            propagation,
            data: String::new(),
            recursive: rec,
            source_is_dir: meta.is_dir(),
        });
    }
    if typ.is_empty() {
        return err(
            format!("{field}.type"),
            "is required for a mount that is not a bind",
        );
    }
    Ok(wire::MountPlan {
        destination: m.destination().to_string_lossy().into_owned(),
        fstype: typ.clone(),
        source: if source.is_empty() { typ } else { source },
        flags,
        clear_flags: clear,
        propagation,
        data: data.join(","),
        recursive: false,
        source_is_dir: true,
    })
}

/// A `cgroup` mount shows the container its own cgroups. With cgroup2 only and a cgroup
/// namespace, that is a cgroup2 mount; otherwise a tmpfs holding a bind of the container's
/// directory in each hierarchy. The binds take the mount's flags (nosuid, ro, …) afterwards,
/// all at once: one recursive remount of the tmpfs (mount_setattr AT_RECURSIVE), not a
/// remount of each bind (ten hierarchies here, twenty mount calls).
fn cgroup_mounts(cg: &CgroupSet, m: &wire::MountPlan, cgroupns: bool) -> Vec<wire::MountPlan> {
    let dest = normalize(&m.destination);
    let v1 = cg.dirs.iter().any(|d| d.version == Version::V1);
    if !v1 && cgroupns {
        return vec![wire::MountPlan {
            fstype: "cgroup2".into(),
            source: "cgroup2".into(),
            ..m.clone()
        }];
    }
    let ro = m.flags & libc::MS_RDONLY;
    let base = m.flags & !libc::MS_RDONLY;
    let mut out = vec![wire::MountPlan {
        destination: dest.clone(),
        fstype: "tmpfs".into(),
        source: "tmpfs".into(),
        flags: base,
        clear_flags: 0,
        propagation: 0,
        data: "mode=755".into(),
        recursive: false,
        source_is_dir: true,
    }];
    for d in &cg.dirs {
        let name = d
            .mount
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "unified".into());
        out.push(wire::MountPlan {
            destination: format!("{dest}/{name}"),
            fstype: "bind".into(),
            source: d.path.to_string_lossy().into_owned(),
            flags: libc::MS_BIND,
            clear_flags: 0,
            propagation: 0,
            data: String::new(),
            recursive: false,
            source_is_dir: true,
        });
    }
    if base | ro != 0 {
        out.push(wire::MountPlan {
            destination: dest,
            fstype: "remount".into(),
            source: String::new(),
            flags: base | ro,
            clear_flags: 0,
            propagation: 0,
            data: String::new(),
            recursive: true,
            source_is_dir: true,
        });
    }
    out
}

pub const CAPABILITIES: &[&str] = &[
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

pub fn cap_number(name: &str) -> Option<u32> {
    let up = name.to_ascii_uppercase();
    let full = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    CAPABILITIES
        .iter()
        .position(|c| *c == full)
        .map(|n| n as u32)
}

fn cap_mask<'a>(
    set: impl IntoIterator<Item = &'a oci_spec::runtime::Capability>,
    field: &str,
) -> Result<u64, LaunchError> {
    let mut mask = 0u64;
    for c in set {
        // oci-spec's Display gives the CAP_ name.
        let name = c.to_string();
        let n = cap_number(&name).ok_or_else(|| LaunchError {
            field: field.into(),
            detail: format!("unknown capability {name:?}"),
        })?;
        mask |= 1 << n;
    }
    Ok(mask)
}

pub fn process_plan(p: &Process) -> Result<wire::ProcessPlan, LaunchError> {
    let args = p.args().clone().unwrap_or_default();
    if args.is_empty() {
        return err("process.args", "must name at least the program to run");
    }
    let user = p.user();
    let capabilities = match p.capabilities() {
        None => None,
        Some(c) => Some(ambient_raisable(wire::Capabilities {
            bounding: cap_mask(
                c.bounding().iter().flatten(),
                "process.capabilities.bounding",
            )?,
            effective: cap_mask(
                c.effective().iter().flatten(),
                "process.capabilities.effective",
            )?,
            permitted: cap_mask(
                c.permitted().iter().flatten(),
                "process.capabilities.permitted",
            )?,
            inheritable: cap_mask(
                c.inheritable().iter().flatten(),
                "process.capabilities.inheritable",
            )?,
            ambient: cap_mask(c.ambient().iter().flatten(), "process.capabilities.ambient")?,
        })),
    };
    Ok(wire::ProcessPlan {
        args,
        env: p.env().clone().unwrap_or_default(),
        cwd: p.cwd().to_string_lossy().into_owned(),
        uid: user.uid(),
        gid: user.gid(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask(),
        terminal: p.terminal().unwrap_or(false),
        capabilities,
        no_new_privileges: p.no_new_privileges().unwrap_or(false),
        search_path: true,
        exec_fd: None,
    })
}

/// The kernel raises an ambient capability only if it is both permitted and inheritable (as
/// runc, bvisor does not fail the container for it: an ungranted capability is less privilege,
/// not less isolation). The ones left out are named in the log, never dropped silently.
fn ambient_raisable(mut c: wire::Capabilities) -> wire::Capabilities {
    let ok = c.ambient & c.permitted & c.inheritable;
    let dropped = c.ambient & !ok;
    if dropped != 0 {
        let names: Vec<&str> = (0..64)
            .filter(|b| dropped & (1 << b) != 0)
            .filter_map(|b| CAPABILITIES.get(b as usize).copied())
            .collect();
        crate::cli::log::debug(&format!(
            "process.capabilities.ambient: {} not raised: an ambient capability must also be permitted and inheritable",
            names.join(", ")
        ));
    }
    c.ambient = ok;
    c
}

const RLIMITS: &[(&str, i32)] = &[
    ("RLIMIT_CPU", 0),
    ("RLIMIT_FSIZE", 1),
    ("RLIMIT_DATA", 2),
    ("RLIMIT_STACK", 3),
    ("RLIMIT_CORE", 4),
    ("RLIMIT_RSS", 5),
    ("RLIMIT_NPROC", 6),
    ("RLIMIT_NOFILE", 7),
    ("RLIMIT_MEMLOCK", 8),
    ("RLIMIT_AS", 9),
    ("RLIMIT_LOCKS", 10),
    ("RLIMIT_SIGPENDING", 11),
    ("RLIMIT_MSGQUEUE", 12),
    ("RLIMIT_NICE", 13),
    ("RLIMIT_RTPRIO", 14),
    ("RLIMIT_RTTIME", 15),
];

fn rlimits(p: &Process) -> Result<Vec<wire::Rlimit>, LaunchError> {
    let mut out: Vec<wire::Rlimit> = Vec::new();
    for (n, r) in p.rlimits().clone().unwrap_or_default().iter().enumerate() {
        let name = serde_json::to_value(r.typ())
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let Some(&(_, resource)) = RLIMITS.iter().find(|(k, _)| *k == name) else {
            return err(
                format!("process.rlimits[{n}].type"),
                format!("{name:?} is not a resource limit"),
            );
        };
        if out.iter().any(|o| o.resource == resource) {
            return err(
                format!("process.rlimits[{n}].type"),
                format!("{name} is given twice"),
            );
        }
        if r.soft() > r.hard() {
            return err(
                format!("process.rlimits[{n}]"),
                format!("soft {} is above hard {}", r.soft(), r.hard()),
            );
        }
        out.push(wire::Rlimit {
            resource,
            name_index: n as u32,
            soft: r.soft(),
            hard: r.hard(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_parsing() {
        let o: Vec<String> = [
            "nosuid", "noexec", "nodev", "ro", "rbind", "rslave", "mode=755",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (set, _clear, prop, bind, rec, data) = parse_options(&o);
        assert_eq!(
            set,
            libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV | libc::MS_RDONLY
        );
        assert_eq!(prop, libc::MS_SLAVE | libc::MS_REC);
        assert!(bind && rec);
        assert_eq!(data, vec!["mode=755".to_string()]);
        let (set, ..) = parse_options(&["ro".into(), "rw".into()]);
        assert_eq!(set & libc::MS_RDONLY, 0, "a later rw clears ro");
    }

    #[test]
    fn capability_names() {
        assert_eq!(cap_number("CAP_CHOWN"), Some(0));
        assert_eq!(cap_number("net_raw"), Some(13));
        assert_eq!(cap_number("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(cap_number("CAP_NOPE"), None);
    }

    #[test]
    fn propagation_modes() {
        assert_eq!(propagation(None).unwrap().0, libc::MS_SLAVE | libc::MS_REC);
        assert_eq!(propagation(Some("shared")).unwrap().1, libc::MS_SHARED);
        assert!(propagation(Some("sideways")).is_err());
    }

    #[test]
    fn bind_mount_data_is_not_passed_and_runtime_options_are_refused() {
        let m: Mount = serde_json::from_str(
            r#"{"destination":"/x","type":"bind","source":"/tmp","options":["bind","size=1k"]}"#,
        )
        .unwrap();
        let p = mount_plan(Path::new("/"), &m, "mounts[0]").unwrap();
        assert_eq!(p.data, "", "filesystem data never reaches a bind mount");
        let m: Mount = serde_json::from_str(
            r#"{"destination":"/x","type":"tmpfs","source":"tmpfs","options":["tmpcopyup"]}"#,
        )
        .unwrap();
        assert_eq!(
            mount_plan(Path::new("/"), &m, "mounts[3]")
                .unwrap_err()
                .field,
            "mounts[3].options[0]"
        );
    }
}
