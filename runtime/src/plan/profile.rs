//! The machine's facts, probed live once per command: what a ledger row's floor is checked
//! against (ARCHITECTURE §2 law 3).
//!
//! The probe is cheap on purpose — it reads a handful of `/proc` and `/sys` files and makes one
//! syscall (landlock's version query); it never spawns a process or creates anything, so `plan`,
//! `features` and every `create` can afford it.

use crate::cgroups::{Hierarchies, Mode, Version};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// A kernel release as `major.minor.patch`; the distribution suffix (`-fc-v782`) is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct KernelVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl KernelVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> KernelVersion {
        KernelVersion {
            major,
            minor,
            patch,
        }
    }

    /// Parse `6.18.44-fc-v782`, `5.3`, `4.19.0-27-amd64`. Missing parts are 0; anything after
    /// the numeric prefix of a part is ignored.
    pub fn parse(s: &str) -> Option<KernelVersion> {
        let mut parts = s.trim().split('.');
        let num = |p: Option<&str>| -> Option<u32> {
            let p = p?;
            let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        };
        let major = num(parts.next())?;
        let minor = num(parts.next()).unwrap_or(0);
        let patch = num(parts.next()).unwrap_or(0);
        Some(KernelVersion::new(major, minor, patch))
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Serialize for KernelVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KernelVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        KernelVersion::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not a kernel version")))
    }
}

/// clone3(2) and pidfd_open(2) both arrived in Linux 5.3.
pub const CLONE3_SINCE: KernelVersion = KernelVersion::new(5, 3, 0);
pub const PIDFD_SINCE: KernelVersion = KernelVersion::new(5, 3, 0);

/// The cgroup facts of this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupProfile {
    pub mode: Mode,
    /// The controllers of each mounted v1 hierarchy (`["cpu", "cpuacct"]`, `["name=systemd"]`).
    pub v1: Vec<Vec<String>>,
    /// The controllers available in the caller's cgroup2 cgroup; `None` when no cgroup2 is
    /// mounted, `Some([])` on a hybrid machine whose controllers all sit in v1.
    pub v2: Option<Vec<String>>,
    /// The v1 memory controller has the `memory.memsw.*` files (swap accounting).
    pub v1_memsw: bool,
    /// `cgroup.kill` exists in cgroup2 (Linux 5.14).
    pub kill: bool,
}

impl CgroupProfile {
    pub fn none() -> CgroupProfile {
        CgroupProfile {
            mode: Mode::None,
            v1: Vec::new(),
            v2: None,
            v1_memsw: false,
            kill: false,
        }
    }

    /// The facts of discovered hierarchies. Pure apart from the two file checks passed in, so
    /// v1, v2 and hybrid layouts are unit-tested from mountinfo texts.
    pub fn from_hierarchies(h: &Hierarchies, exists: impl Fn(&Path) -> bool) -> CgroupProfile {
        let v1: Vec<Vec<String>> = h
            .all
            .iter()
            .filter(|x| x.version == Version::V1)
            .map(|x| x.controllers.clone())
            .collect();
        let v2h = h.v2();
        let v1_memsw = h
            .all
            .iter()
            .find(|x| x.version == Version::V1 && x.controllers.iter().any(|c| c == "memory"))
            .is_some_and(|m| {
                exists(&m.own_dir().join("memory.memsw.limit_in_bytes"))
                    || exists(&m.mount.join("memory.memsw.limit_in_bytes"))
            });
        // The root cgroup has no cgroup.kill; a caller at the root is judged by a child, which
        // the probe looks up through `exists` on `<own>/*/cgroup.kill` (see `probe_kill`).
        let kill = v2h.is_some_and(|v| exists(&v.own_dir().join("cgroup.kill")));
        CgroupProfile {
            mode: h.mode(),
            v1,
            v2: v2h.map(|v| v.controllers.clone()),
            v1_memsw,
            kill,
        }
    }

    pub fn has_v1(&self, controller: Option<&str>) -> bool {
        match controller {
            None => !self.v1.is_empty(),
            Some(c) => self.v1.iter().any(|h| h.iter().any(|x| x == c)),
        }
    }

    pub fn has_v2(&self, controller: Option<&str>) -> bool {
        match (&self.v2, controller) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(cs), Some(c)) => cs.iter().any(|x| x == c),
        }
    }
}

/// The facts a ledger floor can name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub kernel: KernelVersion,
    /// Highest landlock ABI the kernel supports; 0 when landlock is absent or disabled.
    pub landlock_abi: u32,
    /// The kernel has user namespaces and allows creating them (`user.max_user_namespaces` > 0).
    pub user_namespaces: bool,
    /// Unprivileged users may create user namespaces too.
    pub unprivileged_user_namespaces: bool,
    /// seccomp filter mode (SECCOMP_MODE_FILTER) is available.
    pub seccomp_filter: bool,
    /// The seccomp actions the kernel knows (`kernel.seccomp.actions_avail`).
    pub seccomp_actions: Vec<String>,
    pub cgroup: CgroupProfile,
    pub clone3: bool,
    pub pidfd: bool,
    pub apparmor: bool,
    pub selinux: bool,
    /// Highest capability number the kernel knows (`kernel.cap_last_cap`).
    pub cap_last_cap: Option<u32>,
}

impl Profile {
    /// Probe the live machine.
    pub fn probe() -> Profile {
        Profile::probe_with(Hierarchies::discover())
    }

    /// As [`Profile::probe`], with the cgroup hierarchies already read (reading
    /// /proc/self/mountinfo is the probe's dearest part: `create` does it once for both).
    pub fn probe_with(hierarchies: std::io::Result<Hierarchies>) -> Profile {
        let kernel = read_trimmed("/proc/sys/kernel/osrelease")
            .and_then(|s| KernelVersion::parse(&s))
            .unwrap_or_default();
        let max_userns = read_trimmed("/proc/sys/user/max_user_namespaces")
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
        let user_namespaces = max_userns > 0;
        // Debian's and Ubuntu's switches; upstream kernels have neither and allow it.
        let unprivileged_user_namespaces = user_namespaces
            && read_trimmed("/proc/sys/kernel/unprivileged_userns_clone").is_none_or(|v| v != "0")
            && read_trimmed("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
                .is_none_or(|v| v != "1");
        let seccomp_actions: Vec<String> = read_trimmed("/proc/sys/kernel/seccomp/actions_avail")
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        let seccomp_filter = !seccomp_actions.is_empty() || seccomp_filter_by_prctl();
        let cgroup = match hierarchies {
            Ok(h) => {
                let mut c = CgroupProfile::from_hierarchies(&h, |p| p.exists());
                if !c.kill {
                    c.kill = h.v2().is_some_and(|v| child_has_kill(&v.own_dir()));
                }
                if let (Some(v), Some(list)) = (h.v2(), c.v2.as_mut()) {
                    let delegated =
                        std::fs::read_to_string(v.own_dir().join("cgroup.subtree_control"))
                            .unwrap_or_default();
                    keep_delegated(list, &delegated);
                }
                c
            }
            Err(_) => CgroupProfile::none(),
        };
        Profile {
            kernel,
            landlock_abi: landlock_abi(),
            user_namespaces,
            unprivileged_user_namespaces,
            seccomp_filter,
            seccomp_actions,
            cgroup,
            clone3: kernel >= CLONE3_SINCE,
            pidfd: kernel >= PIDFD_SINCE,
            apparmor: Path::new("/sys/kernel/security/apparmor").is_dir()
                || read_trimmed("/sys/module/apparmor/parameters/enabled").as_deref() == Some("Y"),
            selinux: Path::new("/sys/fs/selinux/enforce").exists(),
            cap_last_cap: read_trimmed("/proc/sys/kernel/cap_last_cap")
                .and_then(|s| s.parse().ok()),
        }
    }
}

/// A v2 controller is usable only when the caller's own cgroup already enables it for its
/// children (`cgroup.subtree_control`): enabling it there would write a cgroup bvisor did not
/// create (on this kind of hybrid host, the root of the unified hierarchy).
pub fn keep_delegated(controllers: &mut Vec<String>, subtree_control: &str) {
    controllers.retain(|c| subtree_control.split_whitespace().any(|d| d == c));
}

fn read_trimmed(p: &str) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

/// The root cgroup has no `cgroup.kill`: look at one child cgroup instead.
fn child_has_kill(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .take(1)
        .any(|e| e.path().join("cgroup.kill").exists())
}

/// PR_GET_SECCOMP answers EINVAL on a kernel built without seccomp; an answer of 0 (disabled)
/// or 2 (filter, already under one) means the kernel has it. Kernels with filter support also
/// have `actions_avail` since 4.14, so this is only the fallback for older ones.
fn seccomp_filter_by_prctl() -> bool {
    // SAFETY: PR_GET_SECCOMP takes no pointer arguments and only reads our own mode.
    let r = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    r >= 0
}

/// landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) returns the highest ABI
/// version, or fails (ENOSYS: not built in; EOPNOTSUPP: disabled at boot).
fn landlock_abi() -> u32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_long = 1;
    // SAFETY: with a NULL attribute pointer, size 0 and the VERSION flag the kernel only returns
    // a number; no memory is read or written and no fd is created.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if r > 0 {
        r as u32
    } else {
        0
    }
}

#[cfg(test)]
pub mod synthetic {
    //! Profiles of machines other than this one, for the planner's tests.

    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// A recent unified-cgroup machine: kernel 6.8, landlock ABI 4, user namespaces, seccomp.
    pub fn v2_only() -> Profile {
        Profile {
            kernel: KernelVersion::new(6, 8, 0),
            landlock_abi: 4,
            user_namespaces: true,
            unprivileged_user_namespaces: true,
            seccomp_filter: true,
            seccomp_actions: strings(&["kill_process", "errno", "allow"]),
            cgroup: CgroupProfile {
                mode: Mode::Unified,
                v1: Vec::new(),
                v2: Some(strings(&[
                    "cpuset", "cpu", "io", "memory", "pids", "hugetlb",
                ])),
                v1_memsw: false,
                kill: true,
            },
            clone3: true,
            pidfd: true,
            apparmor: false,
            selinux: false,
            cap_last_cap: Some(40),
        }
    }

    /// Like the development machine: 6.18, every controller but hugetlb in v1, cgroup2 mounted
    /// beside them (`/sys/fs/cgroup/unified`), swap accounting on.
    pub fn hybrid() -> Profile {
        Profile {
            kernel: KernelVersion::new(6, 18, 44),
            landlock_abi: 7,
            cgroup: CgroupProfile {
                mode: Mode::Hybrid,
                v1: vec![
                    strings(&["cpu"]),
                    strings(&["cpuacct"]),
                    strings(&["cpuset"]),
                    strings(&["memory"]),
                    strings(&["devices"]),
                    strings(&["freezer"]),
                    strings(&["blkio"]),
                    strings(&["pids"]),
                    strings(&["name=systemd"]),
                ],
                // cgroup2's only controller, hugetlb, is not enabled in the root's
                // subtree_control, which is not bvisor's to change: nothing usable on v2.
                v2: Some(Vec::new()),
                v1_memsw: true,
                kill: true,
            },
            ..v2_only()
        }
    }

    /// A cgroup-v1-only machine on kernel 5.10: clone3 and openat2 yes, landlock no (5.13).
    pub fn v1_only() -> Profile {
        Profile {
            kernel: KernelVersion::new(5, 10, 0),
            landlock_abi: 0,
            cgroup: CgroupProfile {
                mode: Mode::Legacy,
                v1: vec![
                    strings(&["cpu", "cpuacct"]),
                    strings(&["memory"]),
                    strings(&["devices"]),
                    strings(&["pids"]),
                    strings(&["freezer"]),
                ],
                v2: None,
                v1_memsw: true,
                kill: false,
            },
            ..hybrid()
        }
    }

    pub fn no_landlock() -> Profile {
        Profile {
            landlock_abi: 0,
            ..v2_only()
        }
    }

    pub fn landlock_abi3() -> Profile {
        Profile {
            landlock_abi: 3,
            ..v2_only()
        }
    }

    pub fn no_user_namespaces() -> Profile {
        Profile {
            user_namespaces: false,
            unprivileged_user_namespaces: false,
            ..v2_only()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions_parse_and_order() {
        assert_eq!(
            KernelVersion::parse("6.18.44-fc-v782"),
            Some(KernelVersion::new(6, 18, 44))
        );
        assert_eq!(
            KernelVersion::parse("4.19.0-27-amd64"),
            Some(KernelVersion::new(4, 19, 0))
        );
        assert_eq!(KernelVersion::parse("5.3"), Some(CLONE3_SINCE));
        assert_eq!(KernelVersion::parse("x"), None);
        assert!(KernelVersion::new(5, 10, 0) > KernelVersion::new(5, 9, 200));
        assert_eq!(KernelVersion::new(5, 6, 0).to_string(), "5.6.0");
    }

    const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const HYBRID_CGROUP: &str = "5:devices:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n";

    #[test]
    fn cgroup_facts_of_a_hybrid_layout() {
        let h = Hierarchies::parse(HYBRID_MOUNTINFO, HYBRID_CGROUP);
        let memsw = Path::new("/sys/fs/cgroup/memory/process_api/abc/memory.memsw.limit_in_bytes");
        let c = CgroupProfile::from_hierarchies(&h, |p| p == memsw);
        assert_eq!(c.mode, Mode::Hybrid);
        assert!(c.has_v1(Some("memory")) && c.has_v1(Some("devices")) && c.has_v1(None));
        assert!(!c.has_v1(Some("pids")));
        assert!(c.has_v2(None), "cgroup2 is mounted");
        assert!(
            !c.has_v2(Some("memory")),
            "its controllers are not read here"
        );
        assert!(c.v1_memsw);
        assert!(!c.kill);
    }

    #[test]
    fn cgroup_facts_of_a_unified_layout() {
        let mi = "40 30 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";
        let mut h = Hierarchies::parse(mi, "0::/user.slice\n");
        h.all[0].controllers = vec!["memory".into(), "pids".into()];
        let c = CgroupProfile::from_hierarchies(&h, |p| {
            p == Path::new("/sys/fs/cgroup/user.slice/cgroup.kill")
        });
        assert_eq!(c.mode, Mode::Unified);
        assert!(!c.has_v1(None));
        assert!(c.has_v2(Some("pids")) && !c.has_v2(Some("cpu")));
        assert!(c.kill && !c.v1_memsw);
    }

    /// The live probe runs without root and without spawning anything; its answers are facts
    /// of whatever machine runs the tests, so only their consistency is checked.
    #[test]
    fn live_probe_is_consistent() {
        let p = Profile::probe();
        assert!(p.kernel.major >= 3, "kernel {}", p.kernel);
        assert_eq!(p.clone3, p.kernel >= CLONE3_SINCE);
        assert!(!p.unprivileged_user_namespaces || p.user_namespaces);
        assert!(!p.cgroup.kill || p.cgroup.v2.is_some());
    }
}

#[cfg(test)]
mod delegation_tests {
    use super::keep_delegated;

    #[test]
    fn only_delegated_v2_controllers_count() {
        let mut v: Vec<String> = ["hugetlb", "memory", "pids"].map(String::from).to_vec();
        keep_delegated(&mut v, "memory pids\n");
        assert_eq!(v, ["memory", "pids"]);
        keep_delegated(&mut v, "");
        assert!(v.is_empty());
    }
}
