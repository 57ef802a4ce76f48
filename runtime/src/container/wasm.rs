//! Wasm bundles (ARCHITECTURE §4): deciding that a bundle is one, and turning its process into
//! an exec of the `bvisor-wasm` runner, which the launcher holds as a sealed fd so the runner
//! need not exist inside the rootfs.

use oci_spec::runtime::Spec;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Mechanisms that carry a wasm bundle's requirements (the ledger gate checks each has a row).
pub const MECHANISMS: &[&str] = &["execveat:bvisor-wasm", "wasmi:store-limits", "wasmi:fuel"];

/// The annotation that sets a fuel budget (wasmi instructions, roughly) for the guest.
pub const FUEL_ANNOTATION: &str = "bvisor.wasm/fuel";

/// Why a bundle runs on the wasm runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatch {
    /// `annotations.run.oci.handler`, … or `process.args[0]` — what decided it.
    pub field: String,
    pub reason: String,
    pub fuel: Option<u64>,
    /// Cap on the guest's linear memory (from `linux.resources.memory.limit`).
    pub max_memory: Option<u64>,
}

/// The wasm magic: `\0asm`.
pub const MAGIC: &[u8; 4] = b"\0asm";

/// Decide from the annotations alone (pure). `Some(true)`: wasm; `Some(false)`: explicitly
/// not (a `-smart` variant whose args[0] is not a module); `None`: the annotations say nothing.
pub fn from_annotations(spec: &Spec, args0: &str) -> Option<(String, String)> {
    let ann = spec.annotations().clone().unwrap_or_default();
    let smart_match = args0.ends_with(".wasm") || args0.ends_with(".wat");
    for key in ["run.oci.handler", "module.wasm.image/variant"] {
        let Some(v) = ann.get(key) else { continue };
        let field = format!("annotations.{key}");
        match v.as_str() {
            "wasm" | "compat" => return Some((field, format!("{key}={v}"))),
            "wasm-smart" | "compat-smart" if smart_match => {
                return Some((field, format!("{key}={v} and args[0] is a module")))
            }
            _ => {}
        }
    }
    None
}

/// Does `args0` name, inside the rootfs, a file that starts with the wasm magic? Resolved with
/// openat2(RESOLVE_IN_ROOT) so a symlink cannot point the check at a host file.
pub fn args0_is_module(rootfs: &Path, args0: &str, env: &[String]) -> bool {
    let candidates: Vec<String> = if args0.contains('/') {
        vec![args0.to_string()]
    } else {
        let path = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("/usr/local/bin:/usr/bin:/bin");
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| format!("{d}/{args0}"))
            .collect()
    };
    let Ok(root) = crate::sys::open_raw(rootfs, libc::O_PATH | libc::O_DIRECTORY) else {
        return false;
    };
    candidates.iter().any(|c| {
        crate::sys::open_in_root(root.as_raw_fd(), c)
            .ok()
            .and_then(|f| {
                let mut magic = [0u8; 4];
                std::io::Read::read_exact(&mut std::fs::File::from(f), &mut magic).ok()?;
                Some(&magic == MAGIC)
            })
            .unwrap_or(false)
    })
}

/// Decide whether the bundle is a wasm bundle, and with which limits.
pub fn detect(spec: &Spec, rootfs: &Path) -> Result<Option<Dispatch>, String> {
    let Some(process) = spec.process() else {
        return Ok(None);
    };
    let args = process.args().clone().unwrap_or_default();
    let Some(args0) = args.first() else {
        return Ok(None);
    };
    let env = process.env().clone().unwrap_or_default();
    let (field, reason) = match from_annotations(spec, args0) {
        Some(d) => d,
        None if args0_is_module(rootfs, args0, &env) => (
            "process.args[0]".to_string(),
            format!("{args0} starts with the wasm magic"),
        ),
        None => return Ok(None),
    };
    let fuel =
        match spec
            .annotations()
            .as_ref()
            .and_then(|a| a.get(FUEL_ANNOTATION))
        {
            Some(v) => Some(v.parse::<u64>().map_err(|_| {
                format!("annotations.{FUEL_ANNOTATION}: {v:?} is not a whole number")
            })?),
            None => None,
        };
    let limit = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.memory().as_ref())
        .and_then(|m| m.limit())
        .filter(|l| *l > 0);
    Ok(Some(Dispatch {
        field,
        reason,
        fuel,
        max_memory: limit.map(|l| guest_memory_cap(l as u64)),
    }))
}

/// What the planner needs to know of a wasm dispatch.
pub fn admit_options(d: &Dispatch) -> crate::plan::WasmRunner {
    crate::plan::WasmRunner {
        field: d.field.clone(),
        reason: d.reason.clone(),
        memory_cap: d.max_memory,
        fuel: d.fuel,
    }
}

/// The runner in a form no container can write to (`sys::exec_image_of`: a read-only overlay
/// view, else a sealed copy; `spare` is the state root), checked to be a static executable. The
/// check reads the headers through the fd that is exec'd (a sealed copy cannot change after it;
/// the view shares the host file's pages, which only the host can rewrite).
pub fn sealed_runner(spare: &Path) -> Result<std::os::fd::OwnedFd, String> {
    use std::os::unix::fs::FileExt;
    let path = runner_path();
    let (fd, how) = crate::sys::exec_image_of(&path, "bvisor-wasm", spare)
        .map_err(|e| format!("wasm runner {}: {e}", path.display()))?;
    crate::cli::log::phase(&format!("wasm runner image ({how:?})"));
    let file = std::fs::File::from(fd);
    // ELF and program headers sit at the start of the file in every linker's output.
    let mut head = vec![0u8; 4096];
    let n = file
        .read_at(&mut head, 0)
        .map_err(|e| format!("wasm runner {}: {e}", path.display()))?;
    head.truncate(n);
    if !is_static_elf(&head) {
        return Err(format!(
            "wasm runner {} is not a static executable: it runs after pivot_root, where the host's dynamic loader is absent (build it with -C target-feature=+crt-static)",
            path.display()
        ));
    }
    Ok(file.into())
}

/// Make the launcher exec the runner (held at `fd` in the launcher) in place of the workload.
pub fn rewrite_process(p: &mut bvisor_launcher::ProcessPlan, d: &Dispatch, fd: i32) {
    p.args = runner_args(d, &p.args, &p.env, &p.cwd);
    // The guest's env travels as --env; the runner process itself gets none.
    p.env = Vec::new();
    p.exec_fd = Some(fd);
}

/// The runner itself needs some memory beside the guest's linear memory: give the guest the
/// cgroup limit minus that headroom, so a guest that grows too far sees `memory.grow` fail
/// instead of the whole runner being OOM-killed.
pub fn guest_memory_cap(limit: u64) -> u64 {
    const HEADROOM: u64 = 24 << 20;
    if limit > 2 * HEADROOM {
        limit - HEADROOM
    } else {
        limit / 2
    }
}

/// The runner's argv for the container's process: the container root preopened as `/`, its
/// cwd, its env passed to the guest only, then the guest's own argv.
pub fn runner_args(d: &Dispatch, args: &[String], env: &[String], cwd: &str) -> Vec<String> {
    let mut v = vec![
        "bvisor-wasm".to_string(),
        "--dir".into(),
        "/::/".into(),
        "--cwd".into(),
        cwd.to_string(),
    ];
    for e in env {
        v.push("--env".into());
        v.push(e.clone());
    }
    if let Some(f) = d.fuel {
        v.push("--fuel".into());
        v.push(f.to_string());
    }
    if let Some(m) = d.max_memory {
        v.push("--max-memory".into());
        v.push(m.to_string());
    }
    v.push("--".into());
    v.extend(args.iter().cloned());
    v
}

/// Where the runner is: `BVISOR_WASM`, else a static build beside `bvisor`
/// (`bvisor-wasm-static`, or cargo's `<triple>/<profile>/bvisor-wasm`), else `bvisor-wasm`
/// beside it.
pub fn runner_path() -> PathBuf {
    if let Some(p) = std::env::var_os("BVISOR_WASM") {
        return p.into();
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let triple = if cfg!(target_arch = "aarch64") {
        "aarch64-unknown-linux-gnu"
    } else {
        "x86_64-unknown-linux-gnu"
    };
    let profile = dir.file_name().map(PathBuf::from).unwrap_or_default();
    let candidates = [
        dir.join("bvisor-wasm-static"),
        dir.parent()
            .map(|t| t.join(triple).join(&profile).join("bvisor-wasm"))
            .unwrap_or_default(),
        dir.join("bvisor-wasm"),
    ];
    candidates
        .iter()
        .find(|c| c.is_file())
        .cloned()
        .unwrap_or_else(|| dir.join("bvisor-wasm"))
}

/// The runner runs after pivot_root, where the host's dynamic loader is absent: it must be a
/// static executable (no PT_INTERP program header).
pub fn is_static_elf(bytes: &[u8]) -> bool {
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        return false;
    }
    let u16at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let u64at = |o: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[o..o + 8]);
        u64::from_le_bytes(b) as usize
    };
    let (phoff, phentsize, phnum) = (u64at(32), u16at(54), u16at(56));
    (0..phnum).all(|i| {
        // A header past what we read (or an offset that overflows) counts as not static.
        match phoff.checked_add(i * phentsize) {
            Some(o) if o.checked_add(4).is_some_and(|end| end <= bytes.len()) => {
                u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) != 3
            }
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(ann: &[(&str, &str)]) -> Spec {
        let mut v: serde_json::Value = serde_json::from_str(
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["/m.wasm"],"cwd":"/","user":{"uid":0,"gid":0}}}"#,
        )
        .unwrap();
        let a: serde_json::Map<String, serde_json::Value> = ann
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
            .collect();
        v["annotations"] = serde_json::Value::Object(a);
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn annotations_decide() {
        assert!(from_annotations(&spec(&[("run.oci.handler", "wasm")]), "/x").is_some());
        assert!(
            from_annotations(&spec(&[("module.wasm.image/variant", "compat")]), "/x").is_some()
        );
        assert!(from_annotations(
            &spec(&[("module.wasm.image/variant", "compat-smart")]),
            "/bin/sh"
        )
        .is_none());
        assert!(from_annotations(
            &spec(&[("module.wasm.image/variant", "compat-smart")]),
            "/m.wasm"
        )
        .is_some());
        assert!(from_annotations(&spec(&[]), "/m.wasm").is_none());
    }

    #[test]
    fn runner_args_keep_guest_argv_after_double_dash() {
        let d = Dispatch {
            field: "f".into(),
            reason: "r".into(),
            fuel: Some(5),
            max_memory: Some(1 << 20),
        };
        let a = runner_args(&d, &["/m.wasm".into(), "-x".into()], &["A=b".into()], "/w");
        assert_eq!(
            a,
            vec![
                "bvisor-wasm",
                "--dir",
                "/::/",
                "--cwd",
                "/w",
                "--env",
                "A=b",
                "--fuel",
                "5",
                "--max-memory",
                "1048576",
                "--",
                "/m.wasm",
                "-x"
            ]
        );
    }

    #[test]
    fn memory_cap_leaves_headroom() {
        assert_eq!(guest_memory_cap(64 << 20), 40 << 20);
        assert_eq!(guest_memory_cap(32 << 20), 16 << 20);
    }

    #[test]
    fn static_elf_detection() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        // test binaries are dynamically linked on glibc targets
        assert!(!is_static_elf(&me));
        assert!(!is_static_elf(b"\0asm\x01\0\0\0"));
    }
}
