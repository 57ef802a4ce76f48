//! A container's cgroups: one directory per mounted hierarchy (v1, v2 or both on a hybrid
//! machine), placed under the caller's own cgroup in each, never at a hierarchy root.
//!
//! bvisor does its own placement rather than libcgroups' v1 manager because that manager joins
//! one path onto every hierarchy's root, while on a hybrid machine the caller's cgroup differs per
//! hierarchy (here memory is `/process_api/…` and the others `/`). Resource knobs come with the
//! confinement issue.

pub mod devices;
pub mod discover;
pub mod resources;
pub mod rootless;
pub mod stats;

pub use discover::{Hierarchies, Hierarchy, Mode, Version};
use serde::{Deserialize, Serialize};
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The cgroup directories of one container, as recorded in its state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CgroupSet {
    /// (version, mount point, directory) of each hierarchy's cgroup of this container.
    pub dirs: Vec<CgroupDir>,
    /// Directories created on the way to a `cgroupsPath` (`a` and `a/b` of `a/b/c`), deepest
    /// last; removed at delete when empty. Never bvisor's shared parent (see [`DEFAULT_PARENT`]).
    pub created_parents: Vec<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CgroupDir {
    pub version: Version,
    pub mount: PathBuf,
    pub controllers: Vec<String>,
    pub path: PathBuf,
    /// The caller's own cgroup in this hierarchy (the container's is below it).
    #[serde(default)]
    pub base: PathBuf,
}

/// Open handles through which the launcher enters a container's cgroups.
#[derive(Debug, Default)]
pub struct CgroupEntry {
    pub v1_tasks: Vec<OwnedFd>,
    pub v2_dir: Option<OwnedFd>,
}

/// The parent of every container cgroup placed by default, under the caller's own cgroup.
///
/// Made by the first container that needs it and then kept, empty or not, as runc and
/// containerd keep the parents of their cgroups (`/k8s.io`, `/default`): it is bvisor's place
/// in the caller's tree, not a container's. Removing it whenever the last container left cost
/// a mkdir and an rmdir in every hierarchy on each `run` of a lone container (ten of each on
/// a hybrid machine, 0.5 ms of the 11 ms in integration/bench.sh) and raced the next create.
pub const DEFAULT_PARENT: &str = "bvisor";

/// Where the container's cgroup goes in each hierarchy: `cgroupsPath` (absolute or relative,
/// always under the caller's own cgroup), else `bvisor/<id>`.
pub fn relative_path(cgroups_path: Option<&Path>, id: &str) -> Result<PathBuf, String> {
    let rel = match cgroups_path {
        Some(p) => {
            let s = p.to_string_lossy();
            if s.contains(':') {
                return Err(format!(
                    "linux.cgroupsPath {s:?}: systemd slice:prefix:name paths need --systemd-cgroup, which is not supported"
                ));
            }
            p.strip_prefix("/").unwrap_or(p).to_path_buf()
        }
        None => Path::new(DEFAULT_PARENT).join(id),
    };
    if rel == Path::new(DEFAULT_PARENT) {
        return Err(format!(
            "linux.cgroupsPath {:?}: is bvisor's shared parent of every container's cgroup; name a cgroup below or beside it",
            cgroups_path.unwrap_or(Path::new(""))
        ));
    }
    if rel.as_os_str().is_empty()
        || rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(format!(
            "linux.cgroupsPath {:?}: must name a cgroup below the caller's own, without '..'",
            cgroups_path.unwrap_or(Path::new(""))
        ));
    }
    Ok(rel)
}

impl CgroupSet {
    /// The set [`CgroupSet::create`] would make, without making anything: recorded in the
    /// state before the first mkdir, so a runtime killed in the middle leaves a state that
    /// names every directory it may have made (`delete --force` removes the ones that exist).
    /// Parents are listed only where they do not exist yet, never bvisor's shared parent.
    pub fn planned(h: &Hierarchies, rel: &Path) -> CgroupSet {
        let mut set = CgroupSet::default();
        for hier in &h.all {
            let base = hier.own_dir();
            let dir = base.join(rel);
            let mut cur = base.clone();
            let comps: Vec<_> = rel.components().collect();
            for c in &comps[..comps.len().saturating_sub(1)] {
                cur.push(c);
                let shared = cur == base.join(DEFAULT_PARENT);
                if !shared && !cur.exists() && !set.created_parents.contains(&cur) {
                    set.created_parents.push(cur.clone());
                }
            }
            set.dirs.push(CgroupDir {
                version: hier.version,
                mount: hier.mount.clone(),
                controllers: hier.controllers.clone(),
                path: dir,
                base,
            });
        }
        set
    }

    /// Create the container's cgroup in every hierarchy. On error, whatever was created is
    /// removed again.
    pub fn create(h: &Hierarchies, rel: &Path) -> io::Result<CgroupSet> {
        let mut set = CgroupSet::default();
        for hier in &h.all {
            let base = hier.own_dir();
            let dir = base.join(rel);
            if let Err(e) = set.make(hier, &base, &dir) {
                let _ = set.remove();
                return Err(io::Error::new(
                    e.kind(),
                    format!("create cgroup {}: {e}", dir.display()),
                ));
            }
        }
        Ok(set)
    }

    fn make(&mut self, hier: &Hierarchy, base: &Path, dir: &Path) -> io::Result<()> {
        // Someone may remove an empty parent between our mkdirs (an older bvisor removed its
        // shared parent, a script cleaning up): start over.
        let mut tries = 0;
        loop {
            match self.make_once(hier, base, dir) {
                Err(e) if e.kind() == io::ErrorKind::NotFound && tries < 5 => tries += 1,
                r => return r,
            }
        }
    }

    fn make_once(&mut self, hier: &Hierarchy, base: &Path, dir: &Path) -> io::Result<()> {
        // Walk down from the caller's cgroup, creating what is missing.
        let rel = dir.strip_prefix(base).expect("dir is under base");
        let mut cur = base.to_path_buf();
        let comps: Vec<_> = rel.components().collect();
        for (i, c) in comps.iter().enumerate() {
            cur.push(c);
            let last = i + 1 == comps.len();
            match std::fs::create_dir(&cur) {
                Ok(()) => {
                    if hier.controllers.iter().any(|c| c == "cpuset") && hier.version == Version::V1
                    {
                        // A new v1 cpuset is empty and refuses tasks until it has cpus and mems.
                        inherit_cpuset(&cur)?;
                    }
                    if !last
                        && cur != base.join(DEFAULT_PARENT)
                        && !self.created_parents.contains(&cur)
                    {
                        self.created_parents.push(cur.clone());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if last {
                        return Err(io::Error::new(
                            io::ErrorKind::AlreadyExists,
                            "already exists (another container uses this cgroupsPath)",
                        ));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        self.dirs.push(CgroupDir {
            version: hier.version,
            mount: hier.mount.clone(),
            controllers: hier.controllers.clone(),
            path: dir.to_path_buf(),
            base: base.to_path_buf(),
        });
        Ok(())
    }

    /// Restrict the devices the container may open or create (`linux.resources.devices`).
    pub fn apply_devices(
        &self,
        rules: &[oci_spec::runtime::LinuxDeviceCgroup],
        devs: &[oci_spec::runtime::LinuxDevice],
    ) -> io::Result<()> {
        if rules.is_empty() {
            return Ok(());
        }
        let writes = devices::v1_writes(rules, devs);
        if let Some(d) = self
            .dirs
            .iter()
            .find(|d| d.version == Version::V1 && d.controllers.iter().any(|c| c == "devices"))
        {
            return devices::apply_v1(&d.path, &writes);
        }
        // cgroup v2 has no devices controller: an eBPF program on the container's cgroup.
        match self.v2() {
            Some(d) => crate::sys::attach_device_program(&d.path, &devices::bpf_program(&writes))
                .map_err(|e| io::Error::new(e.kind(), format!("linux.resources.devices: {e}"))),
            None => Err(io::Error::other(
                "linux.resources.devices: no cgroup v1 devices hierarchy and no cgroup v2",
            )),
        }
    }

    /// How the launcher enters these cgroups: the `tasks` file of every v1 directory, opened
    /// for writing (the launcher writes its single thread into each before it clones the
    /// container), and the v2 directory, for clone3's CLONE_INTO_CGROUP.
    pub fn open_entry(&self) -> io::Result<CgroupEntry> {
        let mut e = CgroupEntry::default();
        for d in &self.dirs {
            match d.version {
                Version::V1 => e
                    .v1_tasks
                    .push(crate::sys::open_raw(&d.path.join("tasks"), libc::O_WRONLY)?),
                Version::V2 => {
                    e.v2_dir = Some(crate::sys::open_raw(
                        &d.path,
                        libc::O_RDONLY | libc::O_DIRECTORY,
                    )?)
                }
            }
        }
        Ok(e)
    }

    /// The directory that holds `controller`: a v1 hierarchy with it, else the v2 one if it
    /// lists the controller.
    pub fn dir_for(&self, controller: &str) -> Option<&CgroupDir> {
        self.v1_with(controller).or_else(|| {
            self.v2()
                .filter(|d| d.controllers.iter().any(|c| c == controller))
        })
    }

    fn v1_with(&self, controller: &str) -> Option<&CgroupDir> {
        self.dirs
            .iter()
            .find(|d| d.version == Version::V1 && d.controllers.iter().any(|c| c == controller))
    }

    fn v2(&self) -> Option<&CgroupDir> {
        self.dirs.iter().find(|d| d.version == Version::V2)
    }

    /// cgroup v2 controllers must be enabled in every parent's cgroup.subtree_control, from
    /// the caller's cgroup down to the container's.
    pub fn enable_v2_controller(&self, controller: &str) -> io::Result<()> {
        let Some(d) = self.v2() else {
            return Ok(());
        };
        let Ok(rel) = d.path.strip_prefix(&d.base) else {
            return Ok(());
        };
        let mut cur = d.base.clone();
        for (i, c) in rel.components().enumerate() {
            let f = cur.join("cgroup.subtree_control");
            let on = std::fs::read_to_string(&f).unwrap_or_default();
            if !on.split_whitespace().any(|x| x == controller) {
                if i == 0 {
                    // The caller's own cgroup is not ours to change: the controller has to be
                    // delegated already (the planner refuses the knob otherwise).
                    return Err(io::Error::other(format!(
                        "the {controller} controller is not enabled for children of {}",
                        cur.display()
                    )));
                }
                std::fs::write(&f, format!("+{controller}")).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("enable {controller} in {}: {e}", f.display()),
                    )
                })?;
            }
            cur.push(c);
        }
        Ok(())
    }

    /// Like [`Self::dir_for`], but any v2 directory serves: cgroup.procs and cgroup.freeze
    /// exist there whatever controllers are enabled.
    fn find(&self, controller: &str) -> Option<&CgroupDir> {
        self.v1_with(controller).or_else(|| self.v2())
    }

    /// Every pid in the container's cgroup.
    pub fn pids(&self) -> io::Result<Vec<i32>> {
        let Some(d) = self.find("pids").or_else(|| self.dirs.first()) else {
            return Ok(Vec::new());
        };
        let text = std::fs::read_to_string(d.path.join("cgroup.procs"))?;
        Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    pub fn has_freezer(&self) -> bool {
        self.find("freezer").is_some()
    }

    pub fn is_frozen(&self) -> bool {
        match self.find("freezer") {
            Some(d) if d.version == Version::V1 => {
                std::fs::read_to_string(d.path.join("freezer.state"))
                    .map(|s| s.trim() == "FROZEN")
                    .unwrap_or(false)
            }
            Some(d) => std::fs::read_to_string(d.path.join("cgroup.freeze"))
                .map(|s| s.trim() == "1")
                .unwrap_or(false),
            None => false,
        }
    }

    /// Freeze or thaw every process, and wait until the kernel says it is done.
    pub fn freeze(&self, frozen: bool) -> io::Result<()> {
        let Some(d) = self.find("freezer") else {
            return Err(io::Error::other("no freezer cgroup for this container"));
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let done = if d.version == Version::V1 {
                let want = if frozen { "FROZEN" } else { "THAWED" };
                std::fs::write(d.path.join("freezer.state"), want)?;
                std::fs::read_to_string(d.path.join("freezer.state"))?.trim() == want
            } else {
                std::fs::write(d.path.join("cgroup.freeze"), if frozen { "1" } else { "0" })?;
                let want = if frozen { "frozen 1" } else { "frozen 0" };
                std::fs::read_to_string(d.path.join("cgroup.events"))?
                    .lines()
                    .any(|l| l.trim() == want)
            };
            if done {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "cgroup {} did not reach the freezer state",
                        d.path.display()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Send `sig` to every process in the cgroup. SIGKILL uses cgroup.kill where the kernel has
    /// it; a frozen cgroup is thawed so the signal is delivered.
    pub fn signal_all(&self, sig: i32) -> io::Result<()> {
        let mut atomic = false;
        if sig == libc::SIGKILL {
            if let Some(d) = self.v2() {
                let f = d.path.join("cgroup.kill");
                if f.exists() {
                    // Atomic for the whole subtree; the per-pid loop below covers v1 and races.
                    atomic = std::fs::write(&f, "1").is_ok();
                }
            }
        }
        // Without cgroup.kill, a process forking while we walk the list could outrun a plain
        // loop: freeze first (nothing forks), signal every pid, thaw (the kills land).
        let freeze_first =
            sig == libc::SIGKILL && !atomic && self.has_freezer() && !self.is_frozen();
        if freeze_first {
            let _ = self.freeze(true);
        }
        for pid in self.pids()? {
            let _ = crate::sys::kill(pid, sig);
        }
        if sig == libc::SIGKILL && (freeze_first || self.is_frozen()) {
            let _ = self.freeze(false);
        }
        Ok(())
    }

    /// Remove the container's cgroups (waiting briefly for dying processes to leave), then the
    /// parents bvisor created if they are empty.
    pub fn remove(&self) -> io::Result<()> {
        let mut first_err = None;
        for d in &self.dirs {
            if let Err(e) = rmdir_retry(&d.path) {
                first_err.get_or_insert(io::Error::new(
                    e.kind(),
                    format!("remove cgroup {}: {e}", d.path.display()),
                ));
            }
        }
        for p in self.created_parents.iter().rev() {
            // Another container may live under the same parent: not empty is fine.
            let _ = std::fs::remove_dir(p);
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn rmdir_retry(p: &Path) -> io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match std::fs::remove_dir(p) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

fn inherit_cpuset(dir: &Path) -> io::Result<()> {
    let parent = dir.parent().expect("cgroup has a parent");
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let mut v = std::fs::read_to_string(parent.join(f))?;
        if v.trim().is_empty() {
            // A shared parent (`…/bvisor`) another create has just made and not filled yet:
            // fill it from its own parent first, or this cgroup would refuse every task.
            inherit_cpuset(parent)?;
            v = std::fs::read_to_string(parent.join(f))?;
        }
        std::fs::write(dir.join(f), v.trim())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_is_under_bvisor() {
        assert_eq!(
            relative_path(None, "c1").unwrap(),
            PathBuf::from("bvisor/c1")
        );
    }

    #[test]
    fn absolute_cgroups_path_stays_under_own_cgroup() {
        assert_eq!(
            relative_path(Some(Path::new("/a/b")), "c").unwrap(),
            PathBuf::from("a/b")
        );
    }

    /// A hierarchy on a plain directory: mkdir and rmdir behave as in a cgroupfs without tasks.
    fn fake_hierarchy(mount: &Path) -> Hierarchies {
        Hierarchies {
            all: vec![Hierarchy {
                version: Version::V2,
                mount: mount.to_path_buf(),
                controllers: vec![],
                own: PathBuf::from("/own"),
            }],
        }
    }

    #[test]
    fn shared_parent_is_kept_and_cgroups_path_parents_are_not() {
        let tmp = std::env::temp_dir().join(format!("bvisor-cg-{}", std::process::id()));
        let own = tmp.join("own");
        std::fs::create_dir_all(&own).unwrap();
        let h = fake_hierarchy(&tmp);

        let rel = relative_path(None, "c1").unwrap();
        assert!(CgroupSet::planned(&h, &rel).created_parents.is_empty());
        let set = CgroupSet::create(&h, &rel).unwrap();
        assert!(set.created_parents.is_empty(), "{set:?}");
        assert!(own.join("bvisor/c1").is_dir());
        set.remove().unwrap();
        assert!(!own.join("bvisor/c1").exists());
        assert!(own.join("bvisor").is_dir(), "the shared parent stays");

        // Control: parents made on the way to a cgroupsPath are the container's and go.
        let rel = relative_path(Some(Path::new("/a/b/c")), "c2").unwrap();
        assert_eq!(
            CgroupSet::planned(&h, &rel).created_parents,
            vec![own.join("a"), own.join("a/b")]
        );
        let set = CgroupSet::create(&h, &rel).unwrap();
        assert!(own.join("a/b/c").is_dir());
        set.remove().unwrap();
        assert!(!own.join("a").exists());
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn escaping_cgroups_paths_are_refused() {
        assert!(relative_path(Some(Path::new("/a/../../b")), "c").is_err());
        assert!(relative_path(Some(Path::new("/")), "c").is_err());
        assert!(relative_path(Some(Path::new("system.slice:bvisor:c")), "c").is_err());
        // The shared parent itself is no container's; below it is fine.
        assert!(relative_path(Some(Path::new("/bvisor")), "c").is_err());
        assert!(relative_path(Some(Path::new("bvisor/x")), "c").is_ok());
    }
}
