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
        }
    }
    Ok(bvisor_launcher::SeccompPlan {
        bpf: export(&ctx)?,
        flags,
    })
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
