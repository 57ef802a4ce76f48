//! Landlock: the launcher restricts itself (and so the workload it execs) to the plan's ruleset.
//!
//! Law 7: the ruleset is built with `CompatLevel::HardRequirement`, and anything short of
//! `RulesetStatus::FullyEnforced` fails the step. `restrict_self` needs no_new_privs or
//! CAP_SYS_ADMIN: the launcher never sets no_new_privs on its own (the crate's default is turned
//! off), so without `process.noNewPrivileges` it applies the domain before the identity step,
//! while it still holds CAP_SYS_ADMIN.

use crate::sys::{self, SysResult};
use bvisor_launcher::LandlockPlan;
use landlock::{
    Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath, PathFd,
    Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};

fn abi(n: u32) -> SysResult<ABI> {
    Ok(match n {
        1 => ABI::V1,
        2 => ABI::V2,
        3 => ABI::V3,
        4 => ABI::V4,
        5 => ABI::V5,
        6 => ABI::V6,
        7 => ABI::V7,
        _ => return sys::fail(format!("landlock ABI {n} is not supported"), libc::EINVAL),
    })
}

fn rights(bits: u64, abi: ABI) -> SysResult<BitFlags<AccessFs>> {
    let set = BitFlags::<AccessFs>::from_bits(bits).map_err(|_| {
        sys_err(format!(
            "landlock rights {bits:#x} are not filesystem rights"
        ))
    })?;
    if !AccessFs::from_all(abi).contains(set) {
        return sys::fail(
            format!("landlock rights {bits:#x} are not all in ABI {abi:?}"),
            libc::EINVAL,
        );
    }
    Ok(set)
}

fn sys_err(what: String) -> sys::SysError {
    sys::SysError {
        what,
        errno: libc::EINVAL,
    }
}

fn net_rights(bits: u64, abi: ABI) -> SysResult<BitFlags<AccessNet>> {
    let set = BitFlags::<AccessNet>::from_bits(bits)
        .map_err(|_| sys_err(format!("landlock network rights {bits:#x}: unknown bits")))?;
    if !AccessNet::from_all(abi).contains(set) {
        return sys::fail(
            format!("landlock network rights {bits:#x} are not all in ABI {abi:?}"),
            libc::EINVAL,
        );
    }
    Ok(set)
}

fn scopes(bits: u64, abi: ABI) -> SysResult<BitFlags<Scope>> {
    let set = BitFlags::<Scope>::from_bits(bits)
        .map_err(|_| sys_err(format!("landlock scopes {bits:#x}: unknown bits")))?;
    if !Scope::from_all(abi).contains(set) {
        return sys::fail(
            format!("landlock scopes {bits:#x} are not all in ABI {abi:?}"),
            libc::EINVAL,
        );
    }
    Ok(set)
}

/// Build the ruleset and restrict this process; fails unless fully enforced.
pub fn apply(plan: &LandlockPlan) -> SysResult<()> {
    let abi = abi(plan.abi)?;
    let handled = rights(plan.handled_fs, abi)?;
    let lerr = |what: &str, e: &dyn std::fmt::Display| sys::SysError {
        what: format!("landlock {what}: {e}"),
        errno: libc::EPERM,
    };
    let mut ruleset = Ruleset::default().set_compatibility(CompatLevel::HardRequirement);
    if !handled.is_empty() {
        ruleset = ruleset
            .handle_access(handled)
            .map_err(|e| lerr("handle_access", &e))?;
    }
    if plan.handled_net != 0 {
        ruleset = ruleset
            .handle_access(net_rights(plan.handled_net, abi)?)
            .map_err(|e| lerr("handle_access network", &e))?;
    }
    if plan.scoped != 0 {
        ruleset = ruleset
            .scope(scopes(plan.scoped, abi)?)
            .map_err(|e| lerr("scope", &e))?;
    }
    let mut created = ruleset
        .create()
        .map_err(|e| lerr("create ruleset", &e))?
        .no_new_privs(false);
    for r in &plan.net_rules {
        let access = net_rights(r.access, abi)?;
        created = created
            .add_rule(NetPort::new(r.port, access))
            .map_err(|e| lerr(&format!("rule port {}", r.port), &e))?;
    }
    for r in &plan.path_rules {
        let access = rights(r.access, abi)?;
        let fd = PathFd::new(&r.path).map_err(|e| lerr(&format!("open {}", r.path), &e))?;
        created = created
            .add_rule(PathBeneath::new(fd, access))
            .map_err(|e| lerr(&format!("rule {}", r.path), &e))?;
    }
    let status = created
        .restrict_self()
        .map_err(|e| lerr("restrict_self", &e))?;
    if status.ruleset != RulesetStatus::FullyEnforced {
        return sys::fail(
            format!(
                "landlock ruleset is {:?}, not fully enforced",
                status.ruleset
            ),
            libc::EPERM,
        );
    }
    Ok(())
}
