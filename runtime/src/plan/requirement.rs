//! Map a parsed config to requirements: every isolation it asks for, each with the JSON path of
//! the field it came from and the mechanisms that could enforce it. Fields that restrict nothing
//! are carried as launch data; nothing is dropped on the way (ARCHITECTURE §1 step 2).
//!
//! A requirement names its candidate mechanisms; the ledger says which of them are proven and on
//! which machines. A requirement with no candidate is *unenforceable* and carries the reason, so
//! the planner refuses it by field name (a sysctl that would change the host, a hostname without
//! a UTS namespace, a platform section for another OS).

use super::AdmitOptions;
use crate::spec::{self, index_path, key_path, LoadedSpec};
use bvisor_launcher::NsKind;
use oci_spec::runtime::{Linux, LinuxNamespaceType, Mount, Process, Spec};
use serde::Serialize;

/// How many of a requirement's mechanisms must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// One proven mechanism whose floor the machine meets (v1 *or* v2 for a cgroup knob).
    Any,
    /// Every mechanism whose floor the machine meets is applied, so each must be proven; at
    /// least one must apply (cgroup placement: one cgroup per mounted hierarchy).
    Each,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requirement {
    /// `namespace.pid`, `cgroup.memory.limit`, `mount.tmpfs`, …
    pub kind: String,
    /// JSON path of the config field it came from: `linux.namespaces[0]`.
    pub field: String,
    /// Its parameters, for people: `new`, `RLIMIT_NOFILE soft 1024 hard 1024`.
    pub detail: String,
    /// Candidate mechanisms, in order of preference.
    pub mechanisms: Vec<String>,
    pub scope: Scope,
    /// Why no mechanism can enforce it (then `mechanisms` is empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unenforceable: Option<String>,
}

/// A field carried as plain launch data: it restricts nothing, or restricts nothing as set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaunchDatum {
    pub field: String,
    pub note: String,
}

/// Where every field of a config went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Mapping {
    pub requirements: Vec<Requirement>,
    pub launch_data: Vec<LaunchDatum>,
    /// Unknown properties, ignored as the runtime spec requires (refused under `--strict`,
    /// where they become unenforceable requirements instead).
    pub ignored: Vec<String>,
}

pub fn requirements(loaded: &LoadedSpec, opts: &AdmitOptions) -> Vec<Requirement> {
    map(loaded, opts).requirements
}

/// The requirements of `linux.resources` alone, as `bvisor update` asks for them on a live
/// container (field names as in a config: `linux.resources.memory.limit`).
pub fn resource_requirements(r: &oci_spec::runtime::LinuxResources) -> Vec<Requirement> {
    let mut m = Mapper::default();
    m.resources(r);
    m.reqs
}

pub fn map(loaded: &LoadedSpec, opts: &AdmitOptions) -> Mapping {
    let mut m = Mapper::default();
    let spec = &loaded.spec;
    let ns = Namespaces::of(spec);
    m.data("ociVersion", "checked by the parser");
    if let Some(p) = spec.process() {
        m.process(p, loaded);
    }
    m.root(spec, &ns, opts);
    if let Some(w) = &opts.wasm {
        m.wasm(w);
    }
    m.hostnames(spec, &ns);
    for (i, mount) in spec.mounts().iter().flatten().enumerate() {
        m.mount(mount, &index_path("mounts", i), &ns);
    }
    if spec.hooks().is_some() {
        m.data(
            "hooks",
            "run by the runtime and the launcher at their points",
        );
    }
    if spec.annotations().is_some() {
        m.data("annotations", "passed through to hooks and state");
    }
    let linux = spec.linux().clone().unwrap_or_default();
    m.linux(&linux, &ns);
    m.platforms(spec);
    for u in &loaded.unknown {
        if spec::is_extension(u) {
            continue;
        }
        if opts.strict {
            m.refuse(
                "config.unknown_property",
                u,
                "unknown property",
                "bvisor does not know this property, and --strict refuses unknown properties",
            );
        } else {
            m.ignored.push(u.clone());
        }
    }
    if let Some(why) = &opts.no_cgroups {
        without_cgroups(&mut m.reqs, why);
    }
    Mapping {
        requirements: m.reqs,
        launch_data: m.data,
        ignored: m.ignored,
    }
}

/// No cgroups of the container's own (rootless, not delegated): it is not placed, and anything
/// that needs its cgroups (resource limits, device rules) cannot be enforced.
fn without_cgroups(reqs: &mut Vec<Requirement>, why: &str) {
    reqs.retain(|r| r.kind != "cgroup.placement");
    for r in reqs.iter_mut().filter(|r| r.kind.starts_with("cgroup.")) {
        r.mechanisms.clear();
        r.unenforceable = Some(why.to_string());
    }
}

/// The namespaces of the config: which are new, which joined by path.
struct Namespaces {
    list: Vec<(NsKind, bool)>,
}

impl Namespaces {
    fn of(spec: &Spec) -> Namespaces {
        let list = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default()
            .iter()
            .map(|n| (ns_kind(n.typ()), n.path().is_some()))
            .collect();
        Namespaces { list }
    }

    /// New or joined.
    fn has(&self, k: NsKind) -> bool {
        self.list.iter().any(|(x, _)| *x == k)
    }

    fn creates(&self, k: NsKind) -> bool {
        self.list.iter().any(|(x, joined)| *x == k && !joined)
    }
}

pub fn ns_kind(t: LinuxNamespaceType) -> NsKind {
    match t {
        LinuxNamespaceType::User => NsKind::User,
        LinuxNamespaceType::Mount => NsKind::Mount,
        LinuxNamespaceType::Pid => NsKind::Pid,
        LinuxNamespaceType::Network => NsKind::Network,
        LinuxNamespaceType::Ipc => NsKind::Ipc,
        LinuxNamespaceType::Uts => NsKind::Uts,
        LinuxNamespaceType::Cgroup => NsKind::Cgroup,
        LinuxNamespaceType::Time => NsKind::Time,
    }
}

const NEEDS_MOUNT_NS: &str =
    "the container shares the host's mount namespace: this would act on the host's mounts (add a mount namespace)";

#[derive(Default)]
struct Mapper {
    reqs: Vec<Requirement>,
    data: Vec<LaunchDatum>,
    ignored: Vec<String>,
}

impl Mapper {
    fn push(&mut self, kind: &str, field: &str, detail: &str, mechs: &[&str], scope: Scope) {
        self.reqs.push(Requirement {
            kind: kind.to_string(),
            field: field.to_string(),
            detail: detail.to_string(),
            mechanisms: mechs.iter().map(|s| s.to_string()).collect(),
            scope,
            unenforceable: None,
        });
    }

    fn req(&mut self, kind: &str, field: &str, detail: impl AsRef<str>, mechs: &[&str]) {
        self.push(kind, field, detail.as_ref(), mechs, Scope::Any);
    }

    fn refuse(&mut self, kind: &str, field: &str, detail: impl AsRef<str>, why: impl Into<String>) {
        self.reqs.push(Requirement {
            kind: kind.to_string(),
            field: field.to_string(),
            detail: detail.as_ref().to_string(),
            mechanisms: Vec::new(),
            scope: Scope::Any,
            unenforceable: Some(why.into()),
        });
    }

    /// A requirement that only a mount namespace can hold: refused without one.
    fn in_mount_ns(
        &mut self,
        ns: &Namespaces,
        kind: &str,
        field: &str,
        detail: impl AsRef<str>,
        mechs: &[&str],
    ) {
        if ns.has(NsKind::Mount) {
            self.req(kind, field, detail, mechs);
        } else {
            self.refuse(kind, field, detail, NEEDS_MOUNT_NS);
        }
    }

    fn data(&mut self, field: &str, note: &str) {
        self.data.push(LaunchDatum {
            field: field.to_string(),
            note: note.to_string(),
        });
    }

    fn process(&mut self, p: &Process, loaded: &LoadedSpec) {
        if p.terminal().is_some() {
            self.data("process.terminal", "launch data");
        }
        if p.console_size().is_some() {
            self.data("process.consoleSize", "launch data");
        }
        let u = p.user();
        // The launcher always sets the ids and the group list, so a container never keeps the
        // runtime's supplementary groups: both are applied mechanisms even for root.
        self.req(
            "identity.user",
            "process.user",
            format!("uid {} gid {}", u.uid(), u.gid()),
            &["setresuid"],
        );
        let gids = u.additional_gids().clone().unwrap_or_default();
        self.req(
            "identity.groups",
            "process.user.additionalGids",
            if gids.is_empty() {
                "none (cleared)".to_string()
            } else {
                join(gids.iter())
            },
            &["setgroups"],
        );
        if u.umask().is_some() {
            self.data("process.user.umask", "launch data");
        }
        if u.username().is_some() {
            self.data("process.user.username", "windows only: not used on linux");
        }
        for (f, set) in [
            ("process.args", p.args().is_some()),
            ("process.env", p.env().is_some()),
            ("process.cwd", true),
        ] {
            if set {
                self.data(f, "launch data");
            }
        }
        if p.command_line().is_some() {
            self.data("process.commandLine", "windows only: not used on linux");
        }
        if let Some(c) = p.capabilities() {
            let sets = [
                ("bounding", c.bounding()),
                ("effective", c.effective()),
                ("inheritable", c.inheritable()),
                ("permitted", c.permitted()),
                ("ambient", c.ambient()),
            ];
            // With a capabilities object every set is applied: a missing set is an empty one.
            for (name, set) in sets {
                let mut names: Vec<String> = set.iter().flatten().map(|c| c.to_string()).collect();
                names.sort();
                let detail = if names.is_empty() {
                    "none (cleared)".to_string()
                } else {
                    names.join(",")
                };
                self.req(
                    &format!("capabilities.{name}"),
                    &format!("process.capabilities.{name}"),
                    detail,
                    &[&format!("capset:{name}")],
                );
            }
        }
        for (i, r) in p.rlimits().iter().flatten().enumerate() {
            let name = serde_json::to_value(r.typ())
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            self.req(
                "rlimit",
                &index_path("process.rlimits", i),
                format!("{name} soft {} hard {}", r.soft(), r.hard()),
                &["prlimit"],
            );
        }
        match p.no_new_privileges() {
            Some(true) => self.req(
                "no_new_privileges",
                "process.noNewPrivileges",
                "true",
                &["prctl:PR_SET_NO_NEW_PRIVS"],
            ),
            Some(false) => self.data("process.noNewPrivileges", "false: nothing to enforce"),
            None => {}
        }
        if let Some(a) = p.apparmor_profile() {
            if a.is_empty() {
                self.data("process.apparmorProfile", "empty: nothing to enforce");
            } else {
                self.req(
                    "apparmor.profile",
                    "process.apparmorProfile",
                    a,
                    &["apparmor:exec-profile"],
                );
            }
        }
        if let Some(v) = p.oom_score_adj() {
            self.req(
                "oom_score_adj",
                "process.oomScoreAdj",
                v.to_string(),
                &["procfs:oom_score_adj"],
            );
        }
        if let Some(l) = p.selinux_label() {
            if l.is_empty() {
                self.data("process.selinuxLabel", "empty: nothing to enforce");
            } else {
                self.req(
                    "selinux.label",
                    "process.selinuxLabel",
                    l,
                    &["selinux:exec-label"],
                );
            }
        }
        if let Some(io) = p.io_priority() {
            self.req(
                "io_priority",
                "process.ioPriority",
                format!("{:?} {}", io.class(), io.priority()),
                &["ioprio_set"],
            );
        }
        if let Some(s) = p.scheduler() {
            self.req(
                "scheduler",
                "process.scheduler",
                format!("{:?}", s.policy()),
                &["sched_setattr"],
            );
        }
        if p.exec_cpu_affinity().is_some() {
            self.req(
                "cpu_affinity",
                "process.execCPUAffinity",
                "set",
                &["sched_setaffinity"],
            );
        }
        if let Some(v) = &loaded.landlock {
            self.reqs
                .extend(landlock_requirements("process.landlock", v));
            // The rules and the ruleset become the launcher's second landlock domain.
            self.data(
                "process.landlock",
                "a landlock domain of its own (stacked on any root.readonly layer)",
            );
            // A value the launcher could not build a ruleset from is refused by its field.
            if let Err((field, why)) = landlock_plan("process.landlock", v) {
                self.reqs.push(Requirement {
                    kind: "landlock.ruleset".to_string(),
                    field,
                    detail: String::new(),
                    mechanisms: Vec::new(),
                    scope: Scope::Any,
                    unenforceable: Some(why),
                });
            }
        }
    }

    /// A wasm bundle: the workload is the runner, exec'd from a sealed fd, and the memory limit
    /// and fuel annotation become limits inside it.
    fn wasm(&mut self, w: &super::WasmRunner) {
        self.req(
            "wasm.runner",
            &w.field,
            &w.reason,
            &["execveat:bvisor-wasm"],
        );
        if let Some(cap) = w.memory_cap {
            self.req(
                "wasm.memory",
                "linux.resources.memory.limit",
                format!("guest linear memory ≤ {cap} bytes"),
                &["wasmi:store-limits"],
            );
        }
        if let Some(f) = w.fuel {
            self.req(
                "wasm.fuel",
                "annotations.bvisor.wasm/fuel",
                format!("{f} fuel"),
                &["wasmi:fuel"],
            );
        }
    }

    fn root(&mut self, spec: &Spec, ns: &Namespaces, opts: &AdmitOptions) {
        let Some(root) = spec.root() else { return };
        let path = root.path().display().to_string();
        if !ns.has(NsKind::Mount) {
            self.refuse(
                "rootfs.enter",
                "root.path",
                path,
                "the container shares the host's mount namespace, so its rootfs cannot be entered (add a mount namespace)",
            );
        } else if opts.no_pivot {
            self.req("rootfs.chroot", "root.path", path, &["ms_move+chroot"]);
        } else {
            self.req("rootfs.pivot_root", "root.path", path, &["pivot_root"]);
        }
        match root.readonly() {
            // The read-only remount, and under it a landlock domain refusing the write-side
            // rights outside the writable mounts (so a write is refused even if the mount flag
            // were lost): each applies where its floor holds, each must be proven.
            Some(true) if ns.has(NsKind::Mount) => self.push(
                "mount.root_readonly",
                "root.readonly",
                "true",
                &["mount:root-readonly", "landlock:fs:abi3"],
                Scope::Each,
            ),
            Some(true) => self.refuse(
                "mount.root_readonly",
                "root.readonly",
                "true",
                NEEDS_MOUNT_NS,
            ),
            Some(false) => self.data("root.readonly", "false: nothing to enforce"),
            None => {}
        }
    }

    fn hostnames(&mut self, spec: &Spec, ns: &Namespaces) {
        for (field, v) in [
            ("hostname", spec.hostname()),
            ("domainname", spec.domainname()),
        ] {
            match v {
                None => {}
                Some(h) if h.is_empty() || ns.has(NsKind::Uts) => {
                    self.data(field, "set inside the container's UTS namespace")
                }
                Some(h) => self.refuse(
                    "uts.name",
                    field,
                    h,
                    "setting it without a UTS namespace would rename the host (add a uts namespace)",
                ),
            }
        }
    }

    fn mount(&mut self, m: &Mount, field: &str, ns: &Namespaces) {
        let opts = m.options().clone().unwrap_or_default();
        let c = classify_options(&opts);
        let typ = m.typ().clone().unwrap_or_default();
        let dest = m.destination().display().to_string();
        let source = m
            .source()
            .as_ref()
            .map(|s| s.display().to_string())
            .unwrap_or_default();
        let is_bind = c.bind || typ == "bind";
        let fs = if is_bind {
            "bind".to_string()
        } else {
            typ.clone()
        };
        let mut detail = format!("{dest} {fs}");
        if !source.is_empty() && source != fs {
            detail.push_str(&format!(" from {source}"));
        }
        if !c.data.is_empty() && !is_bind {
            detail.push_str(&format!(" ({})", c.data.join(",")));
        }
        if fs.is_empty() {
            self.refuse(
                "mount",
                &format!("{field}.type"),
                detail,
                "a mount that is not a bind needs a type",
            );
        } else {
            if is_bind && !c.data.is_empty() {
                // The kernel ignores filesystem data on a bind mount (runc passes it on and it
                // is lost): nothing is enforced by it, and the launch-plan builder names it in
                // the log.
                self.data(
                    &format!("{field}.options"),
                    "filesystem data on a bind mount: ignored by the kernel",
                );
            }
            self.in_mount_ns(
                ns,
                &format!("mount.{fs}"),
                field,
                detail,
                &[&format!("mount:{fs}")],
            );
        }
        self.in_mount_ns(
            ns,
            "mount.destination",
            &format!("{field}.destination"),
            format!("{dest} resolved inside the rootfs"),
            &["mount:resolve-in-root"],
        );
        if !c.flags.is_empty() {
            self.in_mount_ns(
                ns,
                "mount.flags",
                &format!("{field}.options"),
                c.flags.join(","),
                &["mount:flags"],
            );
        }
        if !c.propagation.is_empty() {
            self.in_mount_ns(
                ns,
                "mount.propagation",
                &format!("{field}.options"),
                c.propagation.join(","),
                &["mount:propagation"],
            );
        }
        for (k, o) in opts.iter().enumerate() {
            if let Some((kind, mech)) = runtime_option(o) {
                let f = index_path(&format!("{field}.options"), k);
                match mech {
                    Some(mech) => self.req(kind, &f, o, &[mech]),
                    None => self.refuse(kind, &f, o, "bvisor has no mechanism for this option"),
                }
            }
        }
        for (name, set) in [
            ("uidMappings", m.uid_mappings().is_some()),
            ("gidMappings", m.gid_mappings().is_some()),
        ] {
            if set {
                self.req(
                    "mount.idmap",
                    &format!("{field}.{name}"),
                    "id-mapped mount",
                    &["mount_setattr:MOUNT_ATTR_IDMAP"],
                );
            }
        }
    }

    fn linux(&mut self, l: &Linux, ns: &Namespaces) {
        self.namespaces(l);
        self.id_mappings(l, ns);
        for (key, value) in sorted(l.sysctl()) {
            let field = key_path("linux.sysctl", key);
            let detail = format!("{key}={value}");
            match sysctl_owner(key) {
                _ if !ns.has(NsKind::Mount) => self.refuse("sysctl", &field, detail, NEEDS_MOUNT_NS),
                Some(owner) if ns.has(owner) => {
                    self.req("sysctl", &field, detail, &["procfs:sysctl"])
                }
                Some(owner) => self.refuse(
                    "sysctl",
                    &field,
                    detail,
                    format!(
                        "it belongs to the {} namespace, which the container shares with the host: writing it would change the host",
                        owner.oci_name()
                    ),
                ),
                None => self.refuse(
                    "sysctl",
                    &field,
                    detail,
                    "it is not namespaced: writing it would change the host",
                ),
            }
        }
        if let Some(r) = l.resources() {
            self.resources(r);
        }
        // Every container gets its own cgroup in each mounted hierarchy, cgroupsPath or not.
        let path = l
            .cgroups_path()
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "bvisor/<container id> (default)".to_string());
        self.push(
            "cgroup.placement",
            "linux.cgroupsPath",
            &path,
            &["cgroup-v1:tasks", "cgroup-v2:clone-into-cgroup"],
            Scope::Each,
        );
        let userns = ns.creates(NsKind::User);
        for (i, d) in l.devices().iter().flatten().enumerate() {
            let detail = format!(
                "{} {:?} {}:{}",
                d.path().display(),
                d.typ(),
                d.major(),
                d.minor()
            )
            .to_lowercase();
            // In a new user namespace mknod is not allowed: the launcher binds the host's node.
            let mech = if userns {
                "mount:bind"
            } else {
                "mknod:devices"
            };
            self.in_mount_ns(
                ns,
                "devices",
                &index_path("linux.devices", i),
                detail,
                &[mech],
            );
        }
        if let Some(s) = l.seccomp() {
            let rules = s.syscalls().as_ref().map_or(0, Vec::len);
            self.req(
                "seccomp.filter",
                "linux.seccomp",
                format!("default {:?}, {rules} rules", s.default_action()),
                &["libseccomp:bpf"],
            );
            if let Some(p) = s.listener_path() {
                self.req(
                    "seccomp.notify",
                    "linux.seccomp.listenerPath",
                    p.display().to_string(),
                    &["seccomp:user-notif"],
                );
            }
        }
        if let Some(p) = l.rootfs_propagation() {
            if p.is_empty() {
                self.data("linux.rootfsPropagation", "empty: the default");
            } else {
                self.in_mount_ns(
                    ns,
                    "mount.rootfs_propagation",
                    "linux.rootfsPropagation",
                    p,
                    &["mount:propagation"],
                );
            }
        }
        for (field, kind, mech, list) in [
            (
                "linux.maskedPaths",
                "masked_paths",
                "mount:masked-paths",
                l.masked_paths(),
            ),
            (
                "linux.readonlyPaths",
                "readonly_paths",
                "mount:readonly-paths",
                l.readonly_paths(),
            ),
        ] {
            match list {
                Some(v) if !v.is_empty() => self.in_mount_ns(ns, kind, field, v.join(" "), &[mech]),
                Some(_) => self.data(field, "empty: nothing to enforce"),
                None => {}
            }
        }
        if let Some(label) = l.mount_label() {
            if label.is_empty() {
                self.data("linux.mountLabel", "empty: nothing to enforce");
            } else {
                self.req(
                    "selinux.mount_label",
                    "linux.mountLabel",
                    label,
                    &["selinux:mount-label"],
                );
            }
        }
        if l.intel_rdt().is_some() {
            self.req("intel_rdt", "linux.intelRdt", "resctrl group", &["resctrl"]);
        }
        if let Some(mp) = l.memory_policy() {
            self.req(
                "memory_policy",
                "linux.memoryPolicy",
                format!("{:?}", mp.mode()),
                &["set_mempolicy"],
            );
        }
        if let Some(p) = l.personality() {
            self.req(
                "personality",
                "linux.personality",
                format!("{:?}", p.domain()),
                &["personality"],
            );
        }
        for (clock, _) in sorted(l.time_offsets()) {
            self.req(
                "namespace.time.offsets",
                &key_path("linux.timeOffsets", clock),
                clock,
                &["procfs:timens_offsets"],
            );
        }
        for (name, _) in sorted(l.net_devices()) {
            self.req(
                "net_device",
                &key_path("linux.netDevices", name),
                format!("move {name} into the container"),
                &["netlink:move-device"],
            );
        }
    }

    fn namespaces(&mut self, l: &Linux) {
        let mut seen: Vec<NsKind> = Vec::new();
        for (i, n) in l.namespaces().iter().flatten().enumerate() {
            let k = ns_kind(n.typ());
            let field = index_path("linux.namespaces", i);
            if seen.contains(&k) {
                self.refuse(
                    &format!("namespace.{}", k.oci_name()),
                    &field,
                    "duplicate",
                    format!("the {} namespace is given twice", k.oci_name()),
                );
                continue;
            }
            seen.push(k);
            match n.path() {
                None => self.req(
                    &format!("namespace.{}", k.oci_name()),
                    &field,
                    "new",
                    &[&format!("clone3:{}", k.flag_name())],
                ),
                Some(p) => self.req(
                    &format!("namespace.{}.join", k.oci_name()),
                    &field,
                    format!("join {}", p.display()),
                    &[&format!("setns:{}", k.flag_name())],
                ),
            }
        }
    }

    fn id_mappings(&mut self, l: &Linux, ns: &Namespaces) {
        for (field, kind, mech, maps) in [
            (
                "linux.uidMappings",
                "id_map.uid",
                "procfs:uid_map",
                l.uid_mappings(),
            ),
            (
                "linux.gidMappings",
                "id_map.gid",
                "procfs:gid_map",
                l.gid_mappings(),
            ),
        ] {
            let ranges = maps
                .iter()
                .flatten()
                .map(|m| format!("{}:{}:{}", m.container_id(), m.host_id(), m.size()))
                .collect::<Vec<_>>()
                .join(" ");
            match (ns.creates(NsKind::User), maps) {
                (true, Some(v)) if !v.is_empty() => self.req(kind, field, ranges, &[mech]),
                (true, _) => self.refuse(
                    kind,
                    field,
                    "missing",
                    "a new user namespace needs uidMappings and gidMappings",
                ),
                (false, Some(v)) if !v.is_empty() => self.refuse(
                    kind,
                    field,
                    ranges,
                    "id mappings need a new user namespace (add a user namespace without a path)",
                ),
                (false, Some(_)) => self.data(field, "empty: nothing to enforce"),
                (false, None) => {}
            }
        }
    }

    fn platforms(&mut self, spec: &Spec) {
        for (name, set) in [
            ("solaris", spec.solaris().is_some()),
            ("windows", spec.windows().is_some()),
            ("vm", spec.vm().is_some()),
            ("zos", spec.zos().is_some()),
        ] {
            if set {
                self.refuse(
                    &format!("platform.{name}"),
                    name,
                    "section present",
                    format!(
                        "the {name} section restricts a container bvisor cannot run: it runs linux containers only"
                    ),
                );
            }
        }
    }
}

/// A map's entries in key order, so requirements come out in a stable order.
pub(super) fn sorted<V>(m: &Option<std::collections::HashMap<String, V>>) -> Vec<(&String, &V)> {
    let mut v: Vec<(&String, &V)> = m.iter().flatten().collect();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

fn join<T: ToString>(it: impl Iterator<Item = T>) -> String {
    it.map(|x| x.to_string()).collect::<Vec<_>>().join(",")
}

/// The namespace that owns a sysctl, as runc decides it; `None`: not namespaced at all. The
/// launch plan builder asks the same question: this is the one table.
pub fn sysctl_owner(key: &str) -> Option<NsKind> {
    let key = key.replace('/', ".");
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&key.as_str()) || key.starts_with("fs.mqueue.") {
        Some(NsKind::Ipc)
    } else if key.starts_with("net.") {
        Some(NsKind::Network)
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some(NsKind::Uts)
    } else {
        None
    }
}

mod landlock;
mod mount_options;
mod resources;

pub use landlock::{
    landlock_plan, landlock_requirements, LANDLOCK_FS_RIGHTS, LANDLOCK_NET_RIGHTS, LANDLOCK_SCOPES,
};
pub use mount_options::{
    classify_options, runtime_option, MountOptions, BIND_OPTIONS, FLAG_OPTIONS, PROPAGATION_OPTIONS,
};

#[cfg(test)]
mod tests;
