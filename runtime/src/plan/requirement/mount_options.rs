//! Mount options by what they ask of the kernel: mount(2) flags, propagation, bind, filesystem
//! data, and the options runtimes (not the kernel) interpret.

/// Mount options by what they ask of the kernel.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MountOptions {
    /// MS_* flags set or cleared (`ro`, `nosuid`, `rw`, …).
    pub flags: Vec<String>,
    pub propagation: Vec<String>,
    pub bind: bool,
    /// Filesystem data (`mode=755`, `size=65536k`, `newinstance`), given to mount(2).
    pub data: Vec<String>,
}

/// Options mount(2) takes as flags (set or cleared). Kept in step with the launch-plan builder
/// (`container::launch::parse_options`); a unit test checks the two agree.
pub const FLAG_OPTIONS: &[&str] = &[
    "ro",
    "rw",
    "nosuid",
    "suid",
    "nodev",
    "dev",
    "noexec",
    "exec",
    "sync",
    "async",
    "dirsync",
    "mand",
    "nomand",
    "atime",
    "noatime",
    "diratime",
    "nodiratime",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
];

pub const PROPAGATION_OPTIONS: &[&str] = &[
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
];

pub const BIND_OPTIONS: &[&str] = &["bind", "rbind"];

/// Options that runtimes, not the kernel's mount(2), interpret: (kind, mechanism). `None`:
/// bvisor has no mechanism at all.
pub fn runtime_option(o: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match o {
        "rro" | "rrw" | "rnosuid" | "rsuid" | "rnodev" | "rdev" | "rnoexec" | "rexec"
        | "rnoatime" | "ratime" | "rrelatime" | "rnorelatime" | "rstrictatime"
        | "rnostrictatime" | "rnodiratime" | "rdiratime" => (
            "mount.recursive_attributes",
            Some("mount_setattr:AT_RECURSIVE"),
        ),
        "idmap" | "ridmap" => ("mount.idmap", Some("mount_setattr:MOUNT_ATTR_IDMAP")),
        "nosymfollow" | "rnosymfollow" | "symfollow" | "rsymfollow" => {
            ("mount.nosymfollow", Some("mount:MS_NOSYMFOLLOW"))
        }
        "tmpcopyup" => ("mount.tmpcopyup", Some("tmpcopyup")),
        "copy-symlink" => ("mount.copy_symlink", None),
        "remount" => ("mount.remount", None),
        _ => return None,
    })
}

pub fn classify_options(opts: &[String]) -> MountOptions {
    let mut c = MountOptions::default();
    for o in opts {
        let s = o.as_str();
        if s == "defaults" || runtime_option(s).is_some() {
            continue;
        }
        if FLAG_OPTIONS.contains(&s) {
            c.flags.push(o.clone());
        } else if PROPAGATION_OPTIONS.contains(&s) {
            c.propagation.push(o.clone());
        } else if BIND_OPTIONS.contains(&s) {
            c.bind = true;
        } else {
            c.data.push(o.clone());
        }
    }
    c
}
