//! The sealed launch plan: the wire types the runtime writes and the launcher reads, the control
//! channel's messages, and the sealing/verification of the plan memfd.
//!
//! The runtime depends on this library; the launcher never depends on the runtime. Everything the
//! launcher will do is in a [`LaunchPlan`]: it looks nothing up in the OCI config itself.

pub mod fdpass;
pub mod hook;
pub mod wire;

pub use wire::*;

/// Every mechanism the launcher can apply. The ledger gate checks that each one has a row in
/// `runtime/ledger.toml`, so the launcher can never enforce (or claim to enforce) something the
/// ledger does not know about.
pub const MECHANISMS: &[&str] = &[
    "clone3:CLONE_NEWUSER",
    "clone3:CLONE_NEWNS",
    "clone3:CLONE_NEWPID",
    "clone3:CLONE_NEWNET",
    "clone3:CLONE_NEWIPC",
    "clone3:CLONE_NEWUTS",
    "clone3:CLONE_NEWCGROUP",
    "clone3:CLONE_NEWTIME",
    "setns:CLONE_NEWUSER",
    "setns:CLONE_NEWNS",
    "setns:CLONE_NEWPID",
    "setns:CLONE_NEWNET",
    "setns:CLONE_NEWIPC",
    "setns:CLONE_NEWUTS",
    "setns:CLONE_NEWCGROUP",
    "setns:CLONE_NEWTIME",
    "procfs:uid_map",
    "procfs:gid_map",
    "mount:bind",
    "mount:proc",
    "mount:sysfs",
    "mount:tmpfs",
    "mount:devpts",
    "mount:mqueue",
    "mount:cgroup",
    "mount:flags",
    "mount:propagation",
    "mount:resolve-in-root",
    "openat2:cwd-in-root",
    "openat2:no-symlinks",
    "fds:close-unnamed",
    "pivot_root",
    "ms_move+chroot",
    "mount:masked-paths",
    "mount:readonly-paths",
    "mount:root-readonly",
    "mknod:devices",
    "procfs:sysctl",
    "prlimit",
    "procfs:oom_score_adj",
    "setresuid",
    "setgroups",
    "capset:bounding",
    "capset:effective",
    "capset:permitted",
    "capset:inheritable",
    "capset:ambient",
    "prctl:PR_SET_NO_NEW_PRIVS",
    "prctl:PR_SET_DUMPABLE",
    "procfs:setgroups-deny",
    "exec:newuidmap",
    "keyctl:session-keyring",
    "libseccomp:bpf",
    "landlock:fs:abi1",
    "landlock:fs:abi2",
    "landlock:fs:abi3",
    "landlock:fs:abi5",
    "landlock:net:abi4",
    "landlock:scope:abi6",
    "cgroup-v1:tasks",
    "cgroup-v2:clone-into-cgroup",
];
