//! `linux.seccomp` → a BPF program, compiled in the runtime with libseccomp, loaded by the
//! launcher just before exec.
//!
//! libseccomp rather than seccompiler: seccompiler has one match action per filter, no
//! SCMP_ACT_TRACE/LOG/KILL_THREAD mix, no filter flags and no syscall-name table, so an OCI
//! profile (Docker's and podman's defaults mix ERRNO, ALLOW and argument conditions) would need
//! a translator of our own. libseccomp takes the OCI vocabulary as it is, for every
//! architecture, and the launcher stays free of it: it only receives the compiled program.

use super::launch::LaunchError;
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};
use std::io::{Read, Seek};
use std::os::fd::AsFd;

fn err<T>(field: impl Into<String>, detail: impl Into<String>) -> Result<T, LaunchError> {
    Err(LaunchError {
        field: field.into(),
        detail: detail.into(),
    })
}

// seccomp(2) filter flags.
const FLAG_TSYNC: u32 = 1;
const FLAG_LOG: u32 = 2;
const FLAG_SPEC_ALLOW: u32 = 4;

/// Map an OCI action; `errno` is the rule's errnoRet (or the profile's defaultErrnoRet).
fn action(
    a: LinuxSeccompAction,
    errno: Option<u32>,
    field: &str,
) -> Result<ScmpAction, LaunchError> {
    Ok(match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => {
            ScmpAction::Errno(errno.unwrap_or(libc::EPERM as u32) as i32)
        }
        LinuxSeccompAction::ScmpActTrace => {
            ScmpAction::Trace(errno.unwrap_or(libc::EPERM as u32) as u16)
        }
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActNotify => {
            return err(
                field,
                "SCMP_ACT_NOTIFY (user notification) is not supported",
            )
        }
    })
}

fn op(o: LinuxSeccompOperator, value2: Option<u64>) -> ScmpCompareOp {
    match o {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        // OCI: value is the mask, valueTwo the value to compare with.
        LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(value2.unwrap_or(0)),
    }
}

fn json_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The compiled filter: raw `struct sock_filter` array, and the seccomp(2) flags.
pub fn compile(s: &LinuxSeccomp) -> Result<bvisor_launcher::SeccompPlan, LaunchError> {
    let lib = |field: &str| {
        let field = field.to_string();
        move |e: libseccomp::error::SeccompError| LaunchError {
            field: field.clone(),
            detail: format!("libseccomp: {e}"),
        }
    };
    let default = action(
        s.default_action(),
        s.default_errno_ret(),
        "linux.seccomp.defaultAction",
    )?;
    let mut ctx = ScmpFilterContext::new(default).map_err(lib("linux.seccomp.defaultAction"))?;
    // no_new_privs is the launcher's own step (it reports it); libseccomp must not set it.
    ctx.set_ctl_nnp(false).map_err(lib("linux.seccomp"))?;
    for (i, a) in s.architectures().iter().flatten().enumerate() {
        let field = format!("linux.seccomp.architectures[{i}]");
        let name = json_name(a);
        let arch: ScmpArch = name.parse().map_err(|_| LaunchError {
            field: field.clone(),
            detail: format!("{name:?} is not an architecture libseccomp knows"),
        })?;
        // The native architecture is already in a new filter.
        if arch != ScmpArch::native() {
            ctx.add_arch(arch).map_err(lib(&field))?;
        }
    }
    let mut flags = 0u32;
    for (i, f) in s.flags().iter().flatten().enumerate() {
        let field = format!("linux.seccomp.flags[{i}]");
        let name = json_name(f);
        flags |= match name.as_str() {
            "SECCOMP_FILTER_FLAG_TSYNC" => FLAG_TSYNC,
            "SECCOMP_FILTER_FLAG_LOG" => FLAG_LOG,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => FLAG_SPEC_ALLOW,
            other => return err(field, format!("{other:?} is not supported")),
        };
    }
    if s.listener_path().is_some() {
        return err(
            "linux.seccomp.listenerPath",
            "seccomp user notification is not supported",
        );
    }
    let mut rules = 0;
    for (i, rule) in s.syscalls().iter().flatten().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let act = action(
            rule.action(),
            rule.errno_ret().or(s.default_errno_ret()),
            &format!("{field}.action"),
        )?;
        if act == default {
            // libseccomp refuses a rule equal to the default action; it changes nothing.
            continue;
        }
        let conds: Vec<ScmpArgCompare> = rule
            .args()
            .iter()
            .flatten()
            .map(|a| ScmpArgCompare::new(a.index() as u32, op(a.op(), a.value_two()), a.value()))
            .collect();
        for name in rule.names() {
            let Ok(sc) = ScmpSyscall::from_name(name) else {
                // A syscall this architecture does not have cannot be called: nothing to
                // filter (profiles list syscalls of every architecture). Named, not silent.
                crate::cli::log::debug(&format!(
                    "{field}.names: {name:?} does not exist on this architecture"
                ));
                continue;
            };
            ctx.add_rule_conditional(act, sc, &conds)
                .map_err(lib(&format!("{field} ({name})")))?;
            rules += 1;
        }
    }
    // A binary tree of syscall numbers instead of a list (libseccomp ≥ 2.5): the same rules,
    // 1408 instructions instead of 1125 for containers-common's default profile, but the
    // kernel attaches it in 0.29 ms instead of 0.6 (its JIT converges in fewer passes; measured
    // by loading both programs 50 times each), and a syscall walks log(n) comparisons, not n.
    // Not for a handful of rules: libseccomp before 2.5.4 lost the default action of a tree
    // without rules (its issue 370; runc draws the same line), and a short list gains nothing.
    if rules >= TREE_MIN_RULES {
        ctx.set_ctl_optimize(2).map_err(lib("linux.seccomp"))?;
    }
    Ok(bvisor_launcher::SeccompPlan {
        bpf: export(&ctx)?,
        flags,
    })
}

/// Rules from which the program is compiled to a binary tree.
const TREE_MIN_RULES: usize = 8;

/// Where compiled programs are kept, under the state root: a name no container id can take
/// (ids have no `@`), so `list`, `delete` and a create never meet it as a container.
pub const CACHE_DIR: &str = "@seccomp";

/// At most this many programs are kept; storing one more empties the cache first.
const CACHE_MAX: usize = 64;

/// Bumped when the cache file's layout, what the key covers, or how [`compile`] turns a profile
/// into a program changes (the key also carries bvisor's version, for upgrades).
const CACHE_MAGIC: &[u8; 8] = b"bvsecc03";

/// The largest program kept or read: the kernel's BPF_MAXINSNS (4096) instructions.
const CACHE_MAX_BPF: usize = 4096 * 8;

/// A compiled filter, and where to keep it if it was compiled now.
#[derive(Debug)]
pub struct Compiled {
    pub plan: bvisor_launcher::SeccompPlan,
    /// (cache directory, entry) when the program was compiled rather than read from the cache.
    fresh: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl Compiled {
    /// Keep a program compiled now for the next container with the same profile. Called once
    /// the container it was compiled for exists, so a refused or failed create leaves nothing
    /// new under the state root. Best effort: a failure costs the next container a compile.
    pub fn keep(&self) {
        if let Some((dir, path)) = &self.fresh {
            if let Err(e) = cache_store(dir, path, &self.plan) {
                crate::cli::log::debug(&format!("seccomp cache {}: {e}", dir.display()));
            }
        }
    }
}

/// `linux.seccomp` of `spec`, compiled through [`compile_cached`] (none: the config has none).
pub fn of_spec(
    spec: &oci_spec::runtime::Spec,
    state_root: Option<&std::path::Path>,
) -> Result<Option<Compiled>, LaunchError> {
    match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(s) => compile_cached(s, state_root).map(Some),
        None => Ok(None),
    }
}

/// [`compile`], through a cache of compiled programs in `state_root` when one is given.
///
/// libseccomp needs 10–15 ms here for a Docker-sized profile (containers-common's default,
/// 434 syscall names on three architectures): longer than all the rest of a `run`, paid by
/// every container that sets the same profile. The program depends only on the profile,
/// libseccomp's version and the machine's architecture, so it is kept under a blake3 key of
/// those ([`Compiled::keep`]) and reused. An entry is used only if it is a regular file owned by
/// this user in a directory owned by this user, neither writable by anyone else (the trust the
/// state files next to it have); anything else is compiled afresh.
pub fn compile_cached(
    s: &LinuxSeccomp,
    state_root: Option<&std::path::Path>,
) -> Result<Compiled, LaunchError> {
    let Some(root) = state_root else {
        return Ok(Compiled {
            plan: compile(s)?,
            fresh: None,
        });
    };
    let dir = root.join(CACHE_DIR);
    let path = dir.join(format!("{}.bpf", cache_key(s)));
    if let Some(plan) = cache_read(&dir, &path) {
        return Ok(Compiled { plan, fresh: None });
    }
    Ok(Compiled {
        plan: compile(s)?,
        fresh: Some((dir, path)),
    })
}

fn cache_key(s: &LinuxSeccomp) -> String {
    let v = libseccomp::ScmpVersion::current().map_or((0, 0, 0), |v| (v.major, v.minor, v.micro));
    let mut h = blake3::Hasher::new();
    h.update(CACHE_MAGIC);
    h.update(
        format!(
            "{v:?} api {} {:?} {} bvisor {}\0",
            libseccomp::get_api(),
            ScmpArch::native(),
            std::env::consts::ARCH,
            env!("CARGO_PKG_VERSION"),
        )
        .as_bytes(),
    );
    h.update(&serde_json::to_vec(s).expect("a seccomp section serializes"));
    h.finalize().to_hex().to_string()
}

/// Owned by us and writable by nobody else (`meta` from lstat: a symlink is not trusted).
fn trusted(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    meta.uid() == uid && meta.mode() & 0o022 == 0
}

fn cache_read(
    dir: &std::path::Path,
    path: &std::path::Path,
) -> Option<bvisor_launcher::SeccompPlan> {
    use std::os::fd::AsRawFd;
    // The directory is checked through the fd the entry is then opened from (inside it, no
    // symlink out), so what was checked is what is read.
    let d = crate::sys::open_raw(dir, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW);
    let d = std::fs::File::from(d.ok()?);
    let dmeta = d.metadata().ok()?;
    if !dmeta.is_dir() || !trusted(&dmeta) {
        return None;
    }
    let name = path.file_name()?.to_str()?;
    let mut f = std::fs::File::from(crate::sys::open_in_root(d.as_raw_fd(), name).ok()?);
    let meta = f.metadata().ok()?;
    if !meta.is_file() || !trusted(&meta) || meta.len() > (ENTRY_HEADER + CACHE_MAX_BPF) as u64 {
        return None;
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.read_to_end(&mut bytes).ok()?;
    decode_entry(&bytes)
}

/// magic, flags (4 bytes, little-endian), blake3 of the program (32 bytes), the program.
const ENTRY_HEADER: usize = 8 + 4 + 32;

fn encode_entry(plan: &bvisor_launcher::SeccompPlan) -> Vec<u8> {
    let mut v = Vec::with_capacity(ENTRY_HEADER + plan.bpf.len());
    v.extend_from_slice(CACHE_MAGIC);
    v.extend_from_slice(&plan.flags.to_le_bytes());
    v.extend_from_slice(blake3::hash(&plan.bpf).as_bytes());
    v.extend_from_slice(&plan.bpf);
    v
}

/// The entry's program, if the entry is whole: a torn or damaged file (no fsync: see
/// `sys::write_atomic`) is compiled afresh, never loaded.
fn decode_entry(bytes: &[u8]) -> Option<bvisor_launcher::SeccompPlan> {
    let rest = bytes.strip_prefix(CACHE_MAGIC)?;
    let (flags, rest) = rest.split_first_chunk::<4>()?;
    let (sum, bpf) = rest.split_first_chunk::<32>()?;
    let whole = !bpf.is_empty()
        && bpf.len().is_multiple_of(8)
        && bpf.len() <= CACHE_MAX_BPF
        && blake3::hash(bpf).as_bytes() == sum;
    whole.then(|| bvisor_launcher::SeccompPlan {
        bpf: bpf.to_vec(),
        flags: u32::from_le_bytes(*flags),
    })
}

fn cache_store(
    dir: &std::path::Path,
    path: &std::path::Path,
    plan: &bvisor_launcher::SeccompPlan,
) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    if !std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir() && trusted(&m)) {
        return Err(std::io::Error::other(
            "not a directory of ours that only we can write",
        ));
    }
    if plan.bpf.len() > CACHE_MAX_BPF {
        return Err(std::io::Error::other("program larger than BPF_MAXINSNS"));
    }
    let entries: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
    if entries.len() >= CACHE_MAX {
        for e in entries {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let tmp = dir.join(format!(".{}.tmp", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    let written = f
        .write_all(&encode_entry(plan))
        .and_then(|_| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// libseccomp 2.5 exports only to an fd: write the program into a memfd and read it back.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<u8>, LaunchError> {
    let fail = |d: String| LaunchError {
        field: "linux.seccomp".into(),
        detail: d,
    };
    let c = c"bvisor-seccomp";
    // SAFETY: valid name, constant flags.
    let fd = unsafe { libc::memfd_create(c.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(fail(format!("memfd: {}", std::io::Error::last_os_error())));
    }
    // SAFETY: a fresh fd we own.
    let mut f = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    ctx.export_bpf(f.as_fd())
        .map_err(|e| fail(format!("export BPF: {e}")))?;
    let mut bpf = Vec::new();
    f.rewind()
        .and_then(|_| f.read_to_end(&mut bpf))
        .map_err(|e| fail(format!("read BPF: {e}")))?;
    if bpf.is_empty() || !bpf.len().is_multiple_of(8) {
        return Err(fail(format!("BPF program of {} bytes", bpf.len())));
    }
    Ok(bpf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sec(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn compiles_a_mixed_profile() {
        let p = compile(&sec(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
                "flags":["SECCOMP_FILTER_FLAG_LOG"],
                "syscalls":[{"names":["uname"],"action":"SCMP_ACT_ERRNO","errnoRet":99},
                            {"names":["personality"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":8,"op":"SCMP_CMP_NE"}]},
                            {"names":["no_such_syscall_xyz"],"action":"SCMP_ACT_KILL"}]}"#,
        ))
        .unwrap();
        assert_eq!(p.flags, FLAG_LOG);
        assert!(p.bpf.len() >= 8 && p.bpf.len().is_multiple_of(8));
    }

    /// compile_cached, and keep what it compiled (as a create that succeeded does).
    fn cached(p: &LinuxSeccomp, root: &std::path::Path) -> bvisor_launcher::SeccompPlan {
        let c = compile_cached(p, Some(root)).unwrap();
        c.keep();
        c.plan
    }

    /// A second compile of the same profile comes from the cache and is the same program; an
    /// entry another user could have written, or a damaged one, is compiled afresh (and the
    /// damage replaced); another profile gets its own entry.
    #[test]
    fn the_cache_returns_what_libseccomp_compiled_and_trusts_nothing_else() {
        use std::os::unix::fs::PermissionsExt;
        let root = std::env::temp_dir().join(format!("bvisor-secc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let p = sec(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let fresh = compile(&p).unwrap();
        let first = compile_cached(&p, Some(&root)).unwrap();
        assert_eq!(first.plan, fresh);
        assert!(!root.join(CACHE_DIR).exists(), "nothing kept before keep()");
        first.keep();
        let dir = root.join(CACHE_DIR);
        let entry = dir.join(format!("{}.bpf", cache_key(&p)));
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(
            decode_entry(&std::fs::read(&entry).unwrap()),
            Some(fresh.clone())
        );
        // A hit: the entry is what is used (a planted program of the right shape comes back).
        let planted = bvisor_launcher::SeccompPlan {
            bpf: vec![0x06, 0, 0, 0, 0, 0, 0xff, 0x7f],
            flags: 0,
        };
        std::fs::write(&entry, encode_entry(&planted)).unwrap();
        assert_eq!(cached(&p, &root), planted);
        // Writable by others: not trusted, compiled afresh and stored again.
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(cached(&p, &root), fresh);
        assert_eq!(
            std::fs::metadata(&entry).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // Damaged: compiled afresh.
        std::fs::write(&entry, b"bvsecc03\0\0\0\0abc").unwrap();
        assert_eq!(cached(&p, &root), fresh);
        // Whole in shape, wrong in content (a flipped bit): its checksum says so.
        let mut flipped = encode_entry(&fresh);
        *flipped.last_mut().unwrap() ^= 1;
        std::fs::write(&entry, &flipped).unwrap();
        assert_eq!(cached(&p, &root), fresh);
        // A symlink to a planted program outside the cache: not followed out of it.
        let outside = root.join("planted.bpf");
        std::fs::write(&outside, encode_entry(&planted)).unwrap();
        std::fs::remove_file(&entry).unwrap();
        std::os::unix::fs::symlink(&outside, &entry).unwrap();
        assert_eq!(cached(&p, &root), fresh);
        // The directory writable by others: nothing in it is used.
        std::fs::write(&entry, encode_entry(&planted)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(cached(&p, &root), fresh);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        // Another profile, another key.
        let q = sec(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["uname"],"action":"SCMP_ACT_ERRNO"}]}"#,
        );
        assert_ne!(cache_key(&q), cache_key(&p));
        assert_eq!(cached(&q, &root), compile(&q).unwrap());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn unsupported_parts_are_refused_by_field() {
        let e = compile(&sec(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        ))
        .unwrap_err();
        assert_eq!(e.field, "linux.seccomp.syscalls[0].action");
        let e = compile(&sec(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}"#,
        ));
        assert_eq!(e.unwrap_err().field, "linux.seccomp.flags[0]");
    }
}
