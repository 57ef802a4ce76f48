//! Wire types of the sealed plan and of the control channel.

use serde::{Deserialize, Serialize};
use std::os::fd::RawFd;

/// Bumped whenever a field changes meaning; the launcher refuses any other version.
pub const PLAN_VERSION: u32 = 3;

/// The one command-line flag of `bvisor-launcher`: the control socket it was started with.
pub const CONTROL_FD_ARG: &str = "--control-fd";

/// The runtime's first message on the control socket, carrying the launcher's remaining fds
/// (SCM_RIGHTS, in the order of `targets`) and the plan's digest.
///
/// The runtime starts the launcher as soon as the config is admitted and the id claimed, so
/// the launcher's own start (exec, libc) overlaps the runtime's making of cgroups and the plan;
/// the plan and the fds it names follow in this message. The digest travels apart from the
/// plan (bytes here, the plan in its sealed memfd) but from the same sender on a private
/// socketpair: it catches a plan that is not the one the runtime built (a mix-up of memfds,
/// a truncated read); the seals and the socketpair are what keep anyone else's plan out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Handover {
    /// blake3 of the plan memfd's contents, hex.
    pub digest: String,
    /// Where the plan memfd goes (one of `targets`).
    pub plan_fd: RawFd,
    /// The number each passed fd takes in the launcher, in the order they were passed.
    pub targets: Vec<RawFd>,
}

impl Handover {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("handover serializes")
    }
    pub fn decode(bytes: &[u8]) -> Result<Handover, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("bad handover from runtime: {e}"))
    }
}

/// The container's cgroup fds, in a second message after the [`Handover`] when the plan says
/// they follow ([`LaunchPlan::cgroups_follow`]): the runtime makes the cgroups while the
/// launcher verifies its plan, and the launcher waits for them before it enters them (step 2).
/// `targets` are exactly the plan's cgroup fds: `cgroup_tasks_fds`, then `cgroup_v2_fd`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CgroupsHandover {
    pub targets: Vec<RawFd>,
}

impl CgroupsHandover {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("cgroups handover serializes")
    }
    pub fn decode(bytes: &[u8]) -> Result<CgroupsHandover, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("bad cgroups handover from runtime: {e}"))
    }

    /// These are `plan`'s cgroup fds, all of them, in its order, with one fd passed for each.
    pub fn check(&self, plan: &LaunchPlan, passed: usize) -> Result<(), String> {
        let expected = plan.cgroup_fds();
        if !plan.cgroups_follow || self.targets != expected || passed != expected.len() {
            return Err(format!(
                "cgroup fds {:?} ({passed} passed) are not the plan's {expected:?}{}",
                self.targets,
                if plan.cgroups_follow {
                    ""
                } else {
                    " (the plan has them in the handover)"
                }
            ));
        }
        Ok(())
    }
}

/// At most this many fds travel in one [`Handover`] (the kernel's SCM_MAX_FD is 253).
pub const HANDOVER_MAX_FDS: usize = 128;

/// Everything the launcher does, decided by the runtime's planner.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LaunchPlan {
    pub version: u32,
    pub container_id: String,
    /// File descriptors the runtime handed over, by role.
    pub fds: PlanFds,
    pub namespaces: Vec<NamespacePlan>,
    pub uid_mappings: Vec<IdMapping>,
    pub gid_mappings: Vec<IdMapping>,
    /// An unprivileged launcher writes the maps through the setuid newuidmap/newgidmap helpers
    /// (the runtime checked /etc/subuid and /etc/subgid grant every range); else itself.
    #[serde(default)]
    pub map_helpers: bool,
    /// cgroup v1 `tasks` files: the launcher writes "0" to each before clone3, so the container
    /// starts inside its cgroups and never runs a single instruction outside them. `tasks`
    /// moves only the writing thread, which (the launcher being single-threaded, checked in
    /// step 1) is the whole launcher, and unlike `cgroup.procs` it does not take the
    /// kernel's threadgroup lock, whose first taker waits an RCU grace period (≈ 5–10 ms).
    pub cgroup_tasks_fds: Vec<RawFd>,
    /// The container's cgroup v2 directory: clone3 places the init there itself
    /// (CLONE_INTO_CGROUP), again with no threadgroup lock.
    #[serde(default)]
    pub cgroup_v2_fd: Option<RawFd>,
    /// The cgroup fds above are not in the handover: they follow in a [`CgroupsHandover`],
    /// which the launcher waits for before entering the cgroups.
    #[serde(default)]
    pub cgroups_follow: bool,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    /// `None` when the container shares the runtime's mount namespace (no rootfs work at all)
    /// or joins its container's (exec).
    pub rootfs: Option<RootfsPlan>,
    /// Without a mount namespace of its own: chroot into this directory fd (the rootfs).
    pub chroot_fd: Option<RawFd>,
    pub rlimits: Vec<Rlimit>,
    pub oom_score_adj: Option<i32>,
    pub process: ProcessPlan,
    /// Hooks the launcher runs itself, inside the container's namespaces.
    pub create_container_hooks: Vec<Hook>,
    pub start_container_hooks: Vec<Hook>,
    /// Stop after step 6 and wait for the runtime's `start` (create/start split).
    pub wait_for_start: bool,
    /// The compiled seccomp filter, loaded last (step 8), or before the identity step when the
    /// process keeps privileges (no no_new_privs: loading then needs CAP_SYS_ADMIN).
    #[serde(default)]
    pub seccomp: Option<SeccompPlan>,
    /// Join a new anonymous session keyring, so the container cannot see or use the keys of
    /// the caller's session (`create --no-new-keyring` turns it off).
    pub new_keyring: bool,
    /// Pause before pivot_root for the runtime's prestart/createRuntime hooks and receive the
    /// state JSON the in-container hooks need.
    pub sync_hooks: bool,
    /// A landlock domain the launcher restricts itself to (step 6, or before the identity step
    /// when no_new_privs is off: `restrict_self` then needs CAP_SYS_ADMIN). Applied with
    /// `HardRequirement`: anything short of full enforcement fails the step.
    #[serde(default)]
    pub landlock: Option<LandlockPlan>,
    /// The config's own `process.landlock` ruleset: a second, independent domain stacked on the
    /// first (landlock domains only ever narrow), applied at the same point.
    #[serde(default)]
    pub process_landlock: Option<LandlockPlan>,
}

/// A landlock ruleset: the filesystem rights it handles (a set of landlock `AccessFs` bits at
/// the given ABI) and the path-beneath rules that allow some of them again.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LandlockPlan {
    /// The landlock ABI the ruleset is built for (the mechanism's floor).
    pub abi: u32,
    /// Handled filesystem rights, as landlock's `LANDLOCK_ACCESS_FS_*` bits.
    pub handled_fs: u64,
    /// Rules: absolute paths inside the container, opened after pivot_root.
    pub path_rules: Vec<LandlockPathRule>,
    /// Handled network rights (`LANDLOCK_ACCESS_NET_*` bits, ABI 4).
    #[serde(default)]
    pub handled_net: u64,
    /// TCP ports where some handled network rights are allowed again.
    #[serde(default)]
    pub net_rules: Vec<LandlockNetRule>,
    /// Scopes (`LANDLOCK_SCOPE_*` bits, ABI 6): abstract unix sockets, signals.
    #[serde(default)]
    pub scoped: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LandlockNetRule {
    pub port: u16,
    /// `LANDLOCK_ACCESS_NET_*` bits allowed on `port` (a subset of `handled_net`).
    pub access: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LandlockPathRule {
    pub path: String,
    /// `LANDLOCK_ACCESS_FS_*` bits allowed beneath `path` (a subset of `handled_fs`).
    pub access: u64,
}

/// The write-side filesystem rights of landlock ABI 3 (the `root.readonly` second layer):
/// write_file, remove_dir, remove_file, make_char, make_dir, make_reg, make_sock, make_fifo,
/// make_block, make_sym, refer (ABI 2), truncate (ABI 3).
pub const LANDLOCK_WRITE_ABI3: u64 = 0x7ff2;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PlanFds {
    /// SOCK_SEQPACKET socket to the runtime: reports go out, `Proceed` comes in.
    pub control: RawFd,
    /// The exec fifo, opened O_RDWR by the runtime; the launcher blocks reading one byte from it.
    pub exec_fifo: Option<RawFd>,
    /// A connected `--console-socket` to send the pty master to.
    pub console_socket: Option<RawFd>,
    /// Number of fds from 3 up that pass to the workload (`--preserve-fds`).
    pub preserve_fds: u32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum NsKind {
    User,
    Mount,
    Pid,
    Network,
    Ipc,
    Uts,
    Cgroup,
    Time,
}

impl NsKind {
    pub const ALL: [NsKind; 8] = [
        NsKind::User,
        NsKind::Mount,
        NsKind::Pid,
        NsKind::Network,
        NsKind::Ipc,
        NsKind::Uts,
        NsKind::Cgroup,
        NsKind::Time,
    ];

    pub fn clone_flag(self) -> u64 {
        (match self {
            NsKind::User => libc::CLONE_NEWUSER,
            NsKind::Mount => libc::CLONE_NEWNS,
            NsKind::Pid => libc::CLONE_NEWPID,
            NsKind::Network => libc::CLONE_NEWNET,
            NsKind::Ipc => libc::CLONE_NEWIPC,
            NsKind::Uts => libc::CLONE_NEWUTS,
            NsKind::Cgroup => libc::CLONE_NEWCGROUP,
            NsKind::Time => 0x80, // CLONE_NEWTIME
        }) as u64
    }

    pub fn flag_name(self) -> &'static str {
        match self {
            NsKind::User => "CLONE_NEWUSER",
            NsKind::Mount => "CLONE_NEWNS",
            NsKind::Pid => "CLONE_NEWPID",
            NsKind::Network => "CLONE_NEWNET",
            NsKind::Ipc => "CLONE_NEWIPC",
            NsKind::Uts => "CLONE_NEWUTS",
            NsKind::Cgroup => "CLONE_NEWCGROUP",
            NsKind::Time => "CLONE_NEWTIME",
        }
    }

    /// The name under `/proc/<pid>/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            NsKind::User => "user",
            NsKind::Mount => "mnt",
            NsKind::Pid => "pid",
            NsKind::Network => "net",
            NsKind::Ipc => "ipc",
            NsKind::Uts => "uts",
            NsKind::Cgroup => "cgroup",
            NsKind::Time => "time",
        }
    }

    /// The name in the OCI config (`linux.namespaces[].type`).
    pub fn oci_name(self) -> &'static str {
        match self {
            NsKind::User => "user",
            NsKind::Mount => "mount",
            NsKind::Pid => "pid",
            NsKind::Network => "network",
            NsKind::Ipc => "ipc",
            NsKind::Uts => "uts",
            NsKind::Cgroup => "cgroup",
            NsKind::Time => "time",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NamespacePlan {
    pub kind: NsKind,
    /// Join this namespace (setns) instead of creating one. The runtime opened it and hands the fd.
    pub join_fd: Option<RawFd>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdMapping {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RootfsPlan {
    /// O_PATH fd of the bundle's rootfs directory, opened by the runtime.
    pub root_fd: RawFd,
    /// Host path of the rootfs, for messages and for the bind mount of the root onto itself.
    pub root_path: String,
    /// Propagation of `/` inside the new mount namespace before anything is mounted; MS_* flags.
    pub root_propagation: u64,
    /// Propagation of the new root after pivot_root (`linux.rootfsPropagation` shared or
    /// unbindable, which pivot_root itself forbids); 0 for none.
    pub post_propagation: u64,
    pub mounts: Vec<MountPlan>,
    /// Create /dev as tmpfs with the default devices and symlinks (when the config has no
    /// `/dev` mount of its own, the runtime still asks for the default devices).
    pub default_devices: bool,
    pub devices: Vec<DevicePlan>,
    /// In a user namespace devices cannot be created: bind them from the host instead.
    pub bind_devices: bool,
    pub no_pivot: bool,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    pub readonly_root: bool,
    pub sysctl: Vec<(String, String)>,
    /// `/dev/console` for a terminal: bind the pty slave there.
    pub console: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MountPlan {
    pub destination: String,
    /// Filesystem type (`proc`, `tmpfs`, …) or `bind`.
    pub fstype: String,
    /// Host source for binds (absolute, already resolved against the bundle), else the source
    /// string given to mount(2).
    pub source: String,
    /// MS_* flags to set (MS_RDONLY, MS_NOSUID, …), without propagation flags.
    pub flags: u64,
    /// MS_* flags that were asked to be cleared (`rw`, `suid`, …): recorded so a bind remount
    /// does not keep them.
    pub clear_flags: u64,
    /// Propagation flags applied after the mount (MS_SHARED, MS_PRIVATE, …, with MS_REC).
    pub propagation: u64,
    /// Filesystem data (`mode=755,size=65536k`).
    pub data: String,
    /// The bind is recursive (`rbind`); for a `remount`, the flags go to every mount at and
    /// beneath the destination.
    pub recursive: bool,
    /// The source is a directory (decides whether the destination is created as a dir or file).
    pub source_is_dir: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DevicePlan {
    pub path: String,
    /// 'c', 'b', 'u' or 'p'
    pub kind: char,
    pub major: i64,
    pub minor: i64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: i32,
    pub name_index: u32,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Capabilities {
    /// Bit masks over capability numbers (bit n = capability n).
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProcessPlan {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: Option<u32>,
    pub terminal: bool,
    /// `None`: leave capabilities as they are (the runtime decided nothing is asked).
    pub capabilities: Option<Capabilities>,
    pub no_new_privileges: bool,
    /// Resolve args[0] through PATH of `env` (as execvp would) inside the container.
    pub search_path: bool,
    /// Exec this fd (execveat, AT_EMPTY_PATH) instead of a file in the rootfs: the wasm runner,
    /// held by the launcher so it need not exist inside the container.
    #[serde(default)]
    pub exec_fd: Option<RawFd>,
}

/// A BPF program (raw `struct sock_filter` array) and seccomp(2) filter flags.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SeccompPlan {
    /// In the plan as a hex string: as serde's default array of numbers, a default profile's
    /// 9 KB program was 30 KB of JSON and a third of the launcher's time to decode its plan.
    #[serde(with = "hex_bytes")]
    pub bpf: Vec<u8>,
    pub flags: u32,
}

/// Bytes as a lowercase hex string.
mod hex_bytes {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        // Bytes, not chars: String::push encodes each char as UTF-8.
        let mut out = Vec::with_capacity(bytes.len() * 2);
        for b in bytes {
            out.push(DIGITS[(b >> 4) as usize]);
            out.push(DIGITS[(b & 15) as usize]);
        }
        s.serialize_str(std::str::from_utf8(&out).expect("hex digits are ASCII"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        decode(s.as_bytes()).ok_or_else(|| D::Error::custom("not lowercase hex of even length"))
    }

    /// 16 for a byte that is not a lowercase hex digit.
    const VALUE: [u8; 256] = {
        let mut t = [16u8; 256];
        let mut i = 0;
        while i < 10 {
            t[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            t[b'a' as usize + i] = 10 + i as u8;
            i += 1;
        }
        t
    };

    fn decode(hex: &[u8]) -> Option<Vec<u8>> {
        if !hex.len().is_multiple_of(2) {
            return None;
        }
        let mut out = Vec::with_capacity(hex.len() / 2);
        for pair in hex.chunks_exact(2) {
            let (hi, lo) = (VALUE[pair[0] as usize], VALUE[pair[1] as usize]);
            if (hi | lo) >= 16 {
                return None;
            }
            out.push(hi << 4 | lo);
        }
        Some(out)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Hook {
    pub path: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub timeout: Option<u32>,
}

/// The launcher's reports and requests, launcher → runtime.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "msg", rename_all = "snake_case")]
pub enum Report {
    /// The container init exists: its pid in the runtime's pid namespace.
    Pid { pid: i32 },
    /// Step `n` ran. `errno` is set when it failed; nothing after a failed step runs.
    Step {
        n: u32,
        name: String,
        ok: bool,
        errno: Option<i32>,
        detail: String,
    },
    /// Mounts are done, pivot_root is next: the runtime runs prestart/createRuntime hooks now and
    /// answers with `Command::Proceed` carrying the state for createContainer hooks.
    HooksPoint,
    /// Every step up to the exec fifo is done.
    Ready,
}

/// Runtime → launcher.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "msg", rename_all = "snake_case")]
pub enum Command {
    /// Go on; `state` is the OCI state JSON handed to createContainer/startContainer hooks.
    Proceed { state: String },
    /// Stop: the runtime is tearing down.
    Abort { reason: String },
}

impl Report {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("report serializes")
    }
    pub fn decode(bytes: &[u8]) -> Result<Report, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("bad report from launcher: {e}"))
    }
}

impl Command {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("command serializes")
    }
    pub fn decode(bytes: &[u8]) -> Result<Command, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("bad command from runtime: {e}"))
    }
}

/// Errors decoding a sealed plan.
#[derive(Debug, PartialEq)]
pub enum PlanError {
    Digest { expected: String, actual: String },
    Decode(String),
    Version(u32),
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::Digest { expected, actual } => {
                write!(f, "plan digest mismatch: expected {expected}, got {actual}")
            }
            PlanError::Decode(e) => write!(f, "plan does not decode: {e}"),
            PlanError::Version(v) => {
                write!(f, "plan version {v} is not {PLAN_VERSION}")
            }
        }
    }
}

impl std::error::Error for PlanError {}

impl LaunchPlan {
    /// The numbers of the cgroup fds: `cgroup_tasks_fds`, then `cgroup_v2_fd` (the order a
    /// [`CgroupsHandover`] passes them in).
    pub fn cgroup_fds(&self) -> Vec<RawFd> {
        self.cgroup_tasks_fds
            .iter()
            .copied()
            .chain(self.cgroup_v2_fd)
            .collect()
    }

    /// Serialized bytes and their blake3 digest (hex).
    pub fn encode(&self) -> (Vec<u8>, String) {
        let bytes = serde_json::to_vec(self).expect("plan serializes");
        let digest = blake3::hash(&bytes).to_hex().to_string();
        (bytes, digest)
    }

    /// Decode `bytes` only if they hash to `digest`: a corrupted, truncated or swapped plan is
    /// refused before anything is parsed.
    pub fn decode(bytes: &[u8], digest: &str) -> Result<LaunchPlan, PlanError> {
        let actual = blake3::hash(bytes).to_hex().to_string();
        if actual != digest {
            return Err(PlanError::Digest {
                expected: digest.to_string(),
                actual,
            });
        }
        let plan: LaunchPlan =
            serde_json::from_slice(bytes).map_err(|e| PlanError::Decode(e.to_string()))?;
        if plan.version != PLAN_VERSION {
            return Err(PlanError::Version(plan.version));
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LaunchPlan {
        LaunchPlan {
            version: PLAN_VERSION,
            container_id: "c1".into(),
            fds: PlanFds::default(),
            namespaces: vec![NamespacePlan {
                kind: NsKind::Pid,
                join_fd: None,
            }],
            uid_mappings: vec![],
            gid_mappings: vec![],
            map_helpers: false,
            cgroup_tasks_fds: vec![],
            cgroup_v2_fd: None,
            cgroups_follow: false,
            hostname: Some("h".into()),
            domainname: None,
            rootfs: None,
            chroot_fd: None,
            rlimits: vec![],
            oom_score_adj: None,
            process: ProcessPlan::default(),
            create_container_hooks: vec![],
            start_container_hooks: vec![],
            wait_for_start: true,
            seccomp: None,
            new_keyring: true,
            sync_hooks: false,
            landlock: None,
            process_landlock: None,
        }
    }

    #[test]
    fn round_trip_with_digest() {
        let (bytes, digest) = sample().encode();
        assert_eq!(LaunchPlan::decode(&bytes, &digest).unwrap(), sample());
    }

    /// The program travels as hex: every byte value, and nothing but lowercase hex of even
    /// length comes back.
    #[test]
    fn seccomp_programs_round_trip_as_hex() {
        let p = SeccompPlan {
            bpf: (0..=255).collect(),
            flags: 5,
        };
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.starts_with(r#"{"bpf":"000102"#), "{json}");
        assert_eq!(serde_json::from_str::<SeccompPlan>(&json).unwrap(), p);
        for bad in [r#""abc""#, r#""0G""#, r#""AB""#, "[1,2]"] {
            let j = format!(r#"{{"bpf":{bad},"flags":0}}"#);
            assert!(serde_json::from_str::<SeccompPlan>(&j).is_err(), "{bad}");
        }
    }

    #[test]
    fn corrupted_or_truncated_plan_is_refused() {
        let (mut bytes, digest) = sample().encode();
        assert!(matches!(
            LaunchPlan::decode(&bytes[..bytes.len() - 1], &digest),
            Err(PlanError::Digest { .. })
        ));
        bytes[3] ^= 1;
        assert!(matches!(
            LaunchPlan::decode(&bytes, &digest),
            Err(PlanError::Digest { .. })
        ));
    }

    #[test]
    fn other_version_is_refused() {
        let mut p = sample();
        p.version = 99;
        let (bytes, digest) = p.encode();
        assert_eq!(
            LaunchPlan::decode(&bytes, &digest),
            Err(PlanError::Version(99))
        );
    }

    #[test]
    fn every_namespace_has_distinct_flag() {
        let mut flags: Vec<u64> = NsKind::ALL.iter().map(|k| k.clone_flag()).collect();
        flags.sort();
        flags.dedup();
        assert_eq!(flags.len(), NsKind::ALL.len());
    }

    /// The cgroup fds that follow the handover are exactly the plan's: same numbers, same
    /// order, one fd each, and only for a plan that says they follow.
    #[test]
    fn a_cgroups_handover_must_name_the_plans_cgroup_fds() {
        let mut plan = sample();
        plan.cgroup_tasks_fds = vec![7, 8];
        plan.cgroup_v2_fd = Some(9);
        plan.cgroups_follow = true;
        let h = |t: &[RawFd]| CgroupsHandover {
            targets: t.to_vec(),
        };
        assert_eq!(h(&[7, 8, 9]).check(&plan, 3), Ok(()));
        assert!(h(&[7, 8, 9]).check(&plan, 2).is_err());
        assert!(h(&[8, 7, 9]).check(&plan, 3).is_err());
        assert!(h(&[7, 8]).check(&plan, 2).is_err());
        assert!(h(&[7, 8, 9, 10]).check(&plan, 4).is_err());
        plan.cgroups_follow = false;
        assert!(h(&[7, 8, 9]).check(&plan, 3).is_err());
        let round = CgroupsHandover::decode(&h(&[7, 8, 9]).encode()).unwrap();
        assert_eq!(round, h(&[7, 8, 9]));
    }
}
