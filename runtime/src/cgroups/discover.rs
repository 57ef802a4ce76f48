//! Find the cgroup hierarchies of this machine and the caller's place in each.
//!
//! Pure parsing of `/proc/self/mountinfo` and `/proc/self/cgroup`, so the placement logic is
//! unit-tested on v1, v2 and hybrid layouts without root.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    V1,
    V2,
}

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub version: Version,
    /// Where it is mounted, e.g. `/sys/fs/cgroup/memory` or `/sys/fs/cgroup/unified`.
    pub mount: PathBuf,
    /// v1: the controllers of this hierarchy (`memory`, `cpu,cpuacct` → two names; `name=systemd`
    /// is kept as `name=systemd`). v2: the controllers listed in `cgroup.controllers` at the
    /// caller's cgroup (filled by [`Hierarchies::read_v2_controllers`]).
    pub controllers: Vec<String>,
    /// The caller's own cgroup in this hierarchy, relative to the hierarchy root (`/` or
    /// `/process_api/…`). New cgroups are placed under it, never at the root.
    pub own: PathBuf,
}

impl Hierarchy {
    /// Absolute directory of the caller's own cgroup.
    pub fn own_dir(&self) -> PathBuf {
        join_rel(&self.mount, &self.own)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Only v1 hierarchies.
    Legacy,
    /// v1 controllers plus a cgroup2 mount (typically `/sys/fs/cgroup/unified`).
    Hybrid,
    /// Only the cgroup2 hierarchy.
    Unified,
    /// No cgroup filesystem mounted.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hierarchies {
    pub all: Vec<Hierarchy>,
}

impl Hierarchies {
    pub fn discover() -> std::io::Result<Hierarchies> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
        let cgroup = std::fs::read_to_string("/proc/self/cgroup")?;
        let mut h = Hierarchies::parse(&mountinfo, &cgroup);
        h.read_v2_controllers();
        Ok(h)
    }

    /// Build from the texts of `/proc/self/mountinfo` and `/proc/self/cgroup`.
    pub fn parse(mountinfo: &str, cgroup: &str) -> Hierarchies {
        let own = parse_proc_cgroup(cgroup);
        let mut all = Vec::new();
        for line in mountinfo.lines() {
            let Some((pre, post)) = line.split_once(" - ") else {
                continue;
            };
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            if pre.len() < 5 || post.len() < 3 {
                continue;
            }
            let root = unescape(pre[3]);
            let mount = PathBuf::from(unescape(pre[4]));
            let fstype = post[0];
            match fstype {
                "cgroup2" => {
                    let Some(own_path) = own.iter().find(|(k, _)| k.is_empty()).map(|(_, p)| p)
                    else {
                        continue;
                    };
                    all.push(Hierarchy {
                        version: Version::V2,
                        mount,
                        controllers: Vec::new(),
                        own: relative_to_mount_root(own_path, &root),
                    });
                }
                "cgroup" => {
                    let controllers: Vec<String> = post[2]
                        .split(',')
                        .filter(|o| is_v1_controller_option(o))
                        .map(str::to_string)
                        .collect();
                    if controllers.is_empty() {
                        continue;
                    }
                    // /proc/self/cgroup names a v1 hierarchy by its comma-joined controllers.
                    let Some(own_path) = own.iter().find(|(k, _)| {
                        let names: Vec<&str> = k.split(',').collect();
                        controllers.iter().all(|c| names.contains(&c.as_str()))
                    }) else {
                        continue;
                    };
                    all.push(Hierarchy {
                        version: Version::V1,
                        mount,
                        controllers,
                        own: relative_to_mount_root(&own_path.1, &root),
                    });
                }
                _ => {}
            }
        }
        // A hierarchy mounted twice (bind mounts of it) is used once: the first mount wins.
        let mut seen: Vec<Vec<String>> = Vec::new();
        all.retain(|h| {
            let key = if h.version == Version::V2 {
                vec!["<unified>".to_string()]
            } else {
                h.controllers.clone()
            };
            if seen.contains(&key) {
                false
            } else {
                seen.push(key);
                true
            }
        });
        Hierarchies { all }
    }

    pub fn read_v2_controllers(&mut self) {
        for h in &mut self.all {
            if h.version == Version::V2 {
                let file = h.own_dir().join("cgroup.controllers");
                let file = if file.exists() {
                    file
                } else {
                    h.mount.join("cgroup.controllers")
                };
                h.controllers = std::fs::read_to_string(file)
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
            }
        }
    }

    pub fn mode(&self) -> Mode {
        let v1 = self.all.iter().any(|h| h.version == Version::V1);
        let v2 = self.all.iter().any(|h| h.version == Version::V2);
        match (v1, v2) {
            (true, true) => Mode::Hybrid,
            (true, false) => Mode::Legacy,
            (false, true) => Mode::Unified,
            (false, false) => Mode::None,
        }
    }

    pub fn v2(&self) -> Option<&Hierarchy> {
        self.all.iter().find(|h| h.version == Version::V2)
    }

    /// The hierarchy that holds `controller` (`memory`, `freezer`, `pids`, …): a v1 hierarchy
    /// with it, else the v2 one if it lists it. v2 always has the freezer (`cgroup.freeze`).
    pub fn for_controller(&self, controller: &str) -> Option<&Hierarchy> {
        self.all
            .iter()
            .find(|h| h.version == Version::V1 && h.controllers.iter().any(|c| c == controller))
            .or_else(|| {
                self.v2().filter(|h| {
                    controller == "freezer" || h.controllers.iter().any(|c| c == controller)
                })
            })
    }
}

fn is_v1_controller_option(o: &str) -> bool {
    const NON_CONTROLLER: &[&str] = &[
        "rw",
        "ro",
        "nosuid",
        "nodev",
        "noexec",
        "relatime",
        "noatime",
        "nodiratime",
        "clone_children",
        "noprefix",
        "xattr",
        "cpuset_v2_mode",
        "favordynmods",
    ];
    !NON_CONTROLLER.contains(&o) && !o.starts_with("release_agent=")
}

/// `/proc/self/cgroup` lines `ID:CONTROLLERS:PATH` → (controllers, path).
fn parse_proc_cgroup(text: &str) -> Vec<(String, PathBuf)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _id = it.next()?;
            let ctrl = it.next()?;
            let path = it.next()?;
            Some((ctrl.to_string(), PathBuf::from(path)))
        })
        .collect()
}

/// The caller's cgroup path is relative to the hierarchy's true root; a mount may expose only a
/// subtree (`root` field of mountinfo, e.g. inside a cgroup namespace or container).
fn relative_to_mount_root(own: &Path, mount_root: &str) -> PathBuf {
    let root = Path::new(mount_root);
    match own.strip_prefix(root) {
        Ok(rest) => Path::new("/").join(rest),
        Err(_) => own.to_path_buf(),
    }
}

/// Join an absolute cgroup path onto a mount point.
pub fn join_rel(mount: &Path, rel: &Path) -> PathBuf {
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    if rel.as_os_str().is_empty() {
        mount.to_path_buf()
    } else {
        mount.join(rel)
    }
}

fn unescape(s: &str) -> String {
    // mountinfo escapes space, tab, newline and backslash as \ooo.
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8) {
                out.push(v as char);
                i += 4;
                continue;
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTINFO: &str = "\
30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
33 30 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory
34 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
35 30 0:31 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,freezer
36 30 0:32 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,pids
";
    const HYBRID_CGROUP: &str = "\
9:name=systemd:/
6:freezer:/
5:pids:/
4:memory:/process_api/abc
2:cpu,cpuacct:/
0::/
";

    #[test]
    fn hybrid_layout_places_under_own_cgroup_per_hierarchy() {
        let h = Hierarchies::parse(HYBRID_MOUNTINFO, HYBRID_CGROUP);
        assert_eq!(h.mode(), Mode::Hybrid);
        let mem = h.for_controller("memory").unwrap();
        assert_eq!(mem.version, Version::V1);
        assert_eq!(
            mem.own_dir(),
            PathBuf::from("/sys/fs/cgroup/memory/process_api/abc")
        );
        let cpu = h.for_controller("cpuacct").unwrap();
        assert_eq!(cpu.mount, PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(cpu.own_dir(), PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(
            h.v2().unwrap().mount,
            PathBuf::from("/sys/fs/cgroup/unified")
        );
        assert!(h
            .all
            .iter()
            .any(|x| x.controllers == vec!["name=systemd".to_string()]));
        // v1 freezer wins over cgroup2's cgroup.freeze when both exist
        assert_eq!(h.for_controller("freezer").unwrap().version, Version::V1);
    }

    #[test]
    fn unified_layout() {
        let mi = "40 30 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";
        let h = Hierarchies::parse(mi, "0::/user.slice/session-1.scope\n");
        assert_eq!(h.mode(), Mode::Unified);
        let v2 = h.v2().unwrap();
        assert_eq!(
            v2.own_dir(),
            PathBuf::from("/sys/fs/cgroup/user.slice/session-1.scope")
        );
        assert_eq!(h.for_controller("freezer").unwrap().version, Version::V2);
        assert!(
            h.for_controller("memory").is_none(),
            "controllers not read yet"
        );
    }

    #[test]
    fn namespaced_mount_root_is_stripped() {
        let mi = "40 30 0:27 /kube/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let h = Hierarchies::parse(mi, "0::/kube/pod1/c\n");
        assert_eq!(h.v2().unwrap().own_dir(), PathBuf::from("/sys/fs/cgroup/c"));
    }

    #[test]
    fn no_cgroups() {
        assert_eq!(Hierarchies::parse("", "").mode(), Mode::None);
    }
}
