//! A container's state under `--root/<id>/`: `state.json` (written atomically) and the exec
//! fifo; a flock on the directory itself serializes every command on one id (a lock file
//! would cost an inode created and freed per container). Status is read from the world.

use crate::cgroups::CgroupSet;
use crate::sys;
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("container {0:?} does not exist")]
    NotExist(String),
    #[error("container with id {0:?} already exists")]
    Exists(String),
    #[error("invalid container id {id:?}: {why}")]
    BadId { id: String, why: &'static str },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: corrupt state: {detail}")]
    Corrupt { path: PathBuf, detail: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// runc's rule: letters, digits, `_ + - .`, not `.` or `..`; bvisor also bounds the length so
/// the id fits a directory name.
pub fn validate_id(id: &str) -> Result<(), StateError> {
    let bad = |why| {
        Err(StateError::BadId {
            id: id.chars().take(80).collect(),
            why,
        })
    };
    if id.is_empty() {
        return bad("empty");
    }
    if id.len() > 200 {
        return bad("longer than 200 bytes");
    }
    if id == "." || id == ".." {
        return bad("'.' and '..' are not ids");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b))
    {
        return bad("only letters, digits and _ + - . are allowed");
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// What bvisor records about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    /// 0 until the container init exists.
    pub pid: i32,
    /// The init's start time (clock ticks since boot): a reused pid never matches it.
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    /// `true` once the container has been fully created (launcher reached the exec fifo).
    pub ready: bool,
    pub cgroups: CgroupSet,
    /// Shared: [`LAST`] and the commands hand copies of the state around, and a default
    /// seccomp profile makes the config a few hundred strings.
    #[serde(deserialize_with = "crate::spec::de::shared_spec")]
    pub config: std::sync::Arc<Spec>,
    /// `process.landlock` of the config (oci-spec's `Spec` cannot carry it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landlock: Option<serde_json::Value>,
}

/// The OCI state (runtime-spec `state` plus runc's `rootfs`, `created`, `owner`), as printed.
#[derive(Debug, Serialize)]
pub struct OciState {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The state file this process last saved as ready: its path, its exact bytes and the state
/// they hold. `run` saves a state and then loads it back under the lock for `start` and again
/// for `delete`; parsing it (the whole config is in it) was a tenth of `run`'s instructions.
/// A load still reads the file and reuses the parse only for identical bytes, so another
/// command's change to the file, or a new container under the same id, is always seen.
static LAST: std::sync::Mutex<Option<(PathBuf, Vec<u8>, State)>> = std::sync::Mutex::new(None);

fn last_known(path: &Path, bytes: &[u8]) -> Option<State> {
    let last = LAST.lock().ok()?;
    match last.as_ref() {
        Some((p, b, st)) if p == path && b == bytes => Some(st.clone()),
        _ => None,
    }
}

fn remember(path: PathBuf, bytes: Vec<u8>, st: &State) {
    if let Ok(mut last) = LAST.lock() {
        *last = Some((path, bytes, st.clone()));
    }
}

/// The config as [`State`] serializes it, for [`StateDir::save_with`].
pub fn config_json(config: &Spec) -> Box<RawValue> {
    serde_json::value::to_raw_value(config).expect("a config serializes")
}

/// How [`State`] is written: the same fields in the same order, the config pre-serialized.
/// (`a_saved_state_is_what_state_serializes_to` holds the two together.)
#[derive(Serialize)]
struct Saved<'a> {
    id: &'a str,
    pid: i32,
    pid_start: u64,
    bundle: &'a Path,
    rootfs: &'a Path,
    created: &'a str,
    owner: &'a str,
    ready: bool,
    cgroups: &'a CgroupSet,
    config: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    landlock: Option<&'a serde_json::Value>,
}

impl<'a> Saved<'a> {
    fn of(s: &'a State, config: &'a RawValue) -> Saved<'a> {
        Saved {
            id: &s.id,
            pid: s.pid,
            pid_start: s.pid_start,
            bundle: &s.bundle,
            rootfs: &s.rootfs,
            created: &s.created,
            owner: &s.owner,
            ready: s.ready,
            cgroups: &s.cgroups,
            config,
            landlock: s.landlock.as_ref(),
        }
    }
}

/// The state directory of one container.
#[derive(Debug, Clone)]
pub struct StateDir {
    pub id: String,
    pub dir: PathBuf,
}

impl StateDir {
    pub fn new(root: &Path, id: &str) -> Result<StateDir, StateError> {
        validate_id(id)?;
        Ok(StateDir {
            id: id.to_string(),
            dir: root.join(id),
        })
    }

    /// Claim the id: mkdir is atomic, so of concurrent creates exactly one wins.
    pub fn claim(&self) -> Result<File, StateError> {
        let root = self.dir.parent().expect("state dir has a parent");
        std::fs::create_dir_all(root).map_err(io_err(root))?;
        match std::fs::create_dir(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StateError::Exists(self.id.clone()))
            }
            Err(e) => return Err(io_err(&self.dir)(e)),
        }
        self.lock()
    }

    /// Take the container's lock; fails if the container does not exist. The caller must
    /// re-check that the state still exists after locking (a delete may have won the race).
    ///
    /// The directory locked must still be the one at the path: a waiter that opened it before
    /// a delete removed it would otherwise hold a lock on a dead directory while a new create
    /// of the same id goes on under the live one. Then it opens and locks again.
    pub fn lock(&self) -> Result<File, StateError> {
        let not_exist = |e: std::io::Error| {
            if e.kind() == std::io::ErrorKind::NotFound {
                StateError::NotExist(self.id.clone())
            } else {
                io_err(&self.dir)(e)
            }
        };
        for _ in 0..16 {
            let f = sys::lock_exclusive(&self.dir).map_err(not_exist)?;
            if sys::is_same_file(&f, &self.dir).map_err(not_exist)? {
                return Ok(f);
            }
        }
        Err(io_err(&self.dir)(std::io::Error::other(
            "replaced 16 times while waiting for its lock",
        )))
    }

    pub fn fifo(&self) -> PathBuf {
        self.dir.join(EXEC_FIFO)
    }

    pub fn exists(&self) -> bool {
        self.dir.join(STATE_FILE).exists()
    }

    /// The state on disk. The file is always read; only when it holds exactly the bytes this
    /// process last saved or parsed is the parse skipped (see [`LAST`]).
    pub fn load(&self) -> Result<State, StateError> {
        let p = self.dir.join(STATE_FILE);
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::NotExist(self.id.clone()))
            }
            Err(e) => return Err(io_err(&p)(e)),
        };
        if let Some(st) = last_known(&p, &bytes) {
            return Ok(st);
        }
        serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
            path: p,
            detail: e.to_string(),
        })
    }

    pub fn save(&self, s: &State) -> Result<(), StateError> {
        self.save_with(s, &config_json(&s.config))
    }

    /// [`StateDir::save`] with the config already serialized by [`config_json`]: `create`
    /// saves three times and the config (a seccomp profile included) is most of the file.
    pub fn save_with(&self, s: &State, config: &RawValue) -> Result<(), StateError> {
        debug_assert_eq!(config_json(&s.config).get(), config.get(), "config changed");
        let p = self.dir.join(STATE_FILE);
        let bytes = serde_json::to_vec(&Saved::of(s, config)).expect("state serializes");
        sys::write_atomic(&p, &bytes).map_err(io_err(&p))?;
        if s.ready {
            // The last save of a create: what `run`'s start and delete load next.
            remember(p, bytes, s);
        }
        Ok(())
    }

    pub fn remove(&self) -> Result<(), StateError> {
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&self.dir)(e)),
        }
    }
}

impl State {
    /// Is the recorded init still the same live process? (Zombies count as gone.)
    pub fn init_alive(&self) -> bool {
        if self.pid <= 0 {
            return false;
        }
        match sys::proc_stat(self.pid) {
            Some((start, st)) => start == self.pid_start && st != 'Z' && st != 'X',
            None => false,
        }
    }

    /// Status from ground truth: the init's /proc entry, the exec fifo, the freezer.
    pub fn status(&self, dir: &StateDir) -> Status {
        if !self.ready {
            return if self.init_alive() {
                Status::Creating
            } else {
                Status::Stopped
            };
        }
        if !self.init_alive() {
            return Status::Stopped;
        }
        if self.cgroups.is_frozen() {
            return Status::Paused;
        }
        if dir.fifo().exists() {
            Status::Created
        } else {
            Status::Running
        }
    }

    pub fn oci(&self, status: Status) -> OciState {
        OciState {
            oci_version: self.config.version().clone(),
            id: self.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status: status.as_str().to_string(),
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            owner: self.owner.clone(),
            annotations: self
                .config
                .annotations()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
        }
    }
}

/// RFC 3339 UTC timestamp with nanoseconds, as runc prints `created`.
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // civil from days (Howard Hinnant's algorithm)
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{nanos:09}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["a", "c-1_2.3+x", "A9"] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        let long = "x".repeat(1024);
        for bad in ["", ".", "..", "../x", "a/b", "a b", "é", &long] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(1_700_000_000, 5), "2023-11-14T22:13:20.000000005Z");
        assert_eq!(rfc3339(951_782_400, 0), "2000-02-29T00:00:00.000000000Z");
    }

    fn rich_state(id: &str) -> State {
        let bytes = include_bytes!("../plan/testdata/every-field.json");
        let loaded = crate::spec::parse(bytes, "/b".into(), Path::new("/b/config.json")).unwrap();
        State {
            id: id.into(),
            pid: 42,
            pid_start: 7,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: rfc3339(1_700_000_000, 5),
            owner: "root".into(),
            ready: true,
            cgroups: CgroupSet::default(),
            config: loaded.spec.into(),
            landlock: Some(serde_json::json!({"handledAccessFs": ["execute"]})),
        }
    }

    /// `load` may hand back the state this process saved instead of parsing the file: that is
    /// only sound if a state parsed from the saved bytes is the same state, for a config that
    /// sets every field.
    #[test]
    fn a_saved_state_parses_back_to_itself() {
        let st = rich_state("c1");
        let bytes = serde_json::to_vec(&st).unwrap();
        let parsed: State = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(serde_json::to_vec(&parsed).unwrap(), bytes);
        assert_eq!(parsed.config, st.config);
    }

    #[test]
    fn a_saved_state_is_what_state_serializes_to() {
        let st = rich_state("c1");
        let saved = serde_json::to_vec(&Saved::of(&st, &config_json(&st.config))).unwrap();
        assert_eq!(saved, serde_json::to_vec(&st).unwrap());
        let mut bare = st.clone();
        bare.landlock = None;
        let saved = serde_json::to_vec(&Saved::of(&bare, &config_json(&bare.config))).unwrap();
        assert_eq!(saved, serde_json::to_vec(&bare).unwrap());
    }

    /// The remembered parse is used only for the same bytes at the same path: a state changed
    /// by another command, or a new container under the same id, is read from the file.
    #[test]
    fn load_sees_every_change_to_the_file() {
        let tmp = std::env::temp_dir().join(format!("bvisor-last-{}", std::process::id()));
        let d = StateDir::new(&tmp, "c1").unwrap();
        let _lock = d.claim().unwrap();
        let mut st = rich_state("c1");
        d.save(&st).unwrap();
        assert_eq!(d.load().unwrap().pid, 42);
        let file = d.dir.join(STATE_FILE);
        let remembered = || last_known(&file, &std::fs::read(&file).unwrap()).is_some();
        // Saved not ready: nothing remembered, and the parse gives the same state.
        st.ready = false;
        d.save(&st).unwrap();
        assert!(!remembered());
        assert!(!d.load().unwrap().ready);
        st.ready = true;
        d.save(&st).unwrap();
        assert!(remembered());
        // Another process rewrites it (as a later create of the same id would).
        st.pid = 43;
        let bytes = serde_json::to_vec(&st).unwrap();
        sys::write_atomic(&d.dir.join(STATE_FILE), &bytes).unwrap();
        assert_eq!(d.load().unwrap().pid, 43);
        std::fs::write(d.dir.join(STATE_FILE), b"{").unwrap();
        assert!(matches!(d.load(), Err(StateError::Corrupt { .. })));
        d.remove().unwrap();
        assert!(matches!(d.load(), Err(StateError::NotExist(_))));
        let _ = std::fs::remove_dir_all(&tmp);
    }

    /// A waiter whose directory was deleted and made again while it waited ends up holding
    /// the lock of the directory now at the path, not of the dead one it first opened.
    #[test]
    fn lock_follows_a_directory_replaced_while_waiting() {
        let tmp = std::env::temp_dir().join(format!("bvisor-relock-{}", std::process::id()));
        let d = StateDir::new(&tmp, "c1").unwrap();
        let first = d.claim().unwrap();
        let waiter = {
            let d = d.clone();
            std::thread::spawn(move || d.lock().map(|f| sys::is_same_file(&f, &d.dir).unwrap()))
        };
        // Let the waiter open the first directory and block on its lock.
        std::thread::sleep(std::time::Duration::from_millis(200));
        d.remove().unwrap();
        std::fs::create_dir(&d.dir).unwrap(); // a new create of the same id
        drop(first);
        assert!(waiter.join().unwrap().unwrap());
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[test]
    fn claim_is_exclusive_and_lock_needs_existence() {
        let tmp = std::env::temp_dir().join(format!("bvisor-state-{}", std::process::id()));
        let d = StateDir::new(&tmp, "c1").unwrap();
        assert!(matches!(d.lock(), Err(StateError::NotExist(_))));
        let _l = d.claim().unwrap();
        assert!(matches!(d.claim(), Err(StateError::Exists(_))));
        // The lock is a flock on the directory: another open of it cannot take it meanwhile...
        let try_lock = || {
            let f = std::fs::File::open(&d.dir).unwrap();
            // SAFETY: flock on a valid fd.
            unsafe {
                libc::flock(
                    std::os::fd::AsRawFd::as_raw_fd(&f),
                    libc::LOCK_EX | libc::LOCK_NB,
                ) == 0
            }
        };
        assert!(!try_lock());
        // ...and can once the holder lets go (the control).
        drop(_l);
        assert!(try_lock());
        d.remove().unwrap();
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
