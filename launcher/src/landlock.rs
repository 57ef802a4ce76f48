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

/// `bits` as a set of `T` rights (filesystem, network or scopes), every one known to `abi`.
fn known<T: Access>(bits: u64, abi: ABI, what: &str) -> SysResult<BitFlags<T>>
where
    BitFlags<T>: TryFrom<u64>,
{
    let set = BitFlags::<T>::try_from(bits)
        .map_err(|_| sys_err(format!("landlock {what} {bits:#x}: unknown bits")))?;
    if !T::from_all(abi).contains(set) {
        return sys::fail(
            format!("landlock {what} {bits:#x} are not all in ABI {abi:?}"),
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

/// Build the ruleset and restrict this process; fails unless fully enforced.
pub fn apply(plan: &LandlockPlan) -> SysResult<()> {
    let abi = abi(plan.abi)?;
    let handled = known::<AccessFs>(plan.handled_fs, abi, "filesystem rights")?;
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
            .handle_access(known::<AccessNet>(plan.handled_net, abi, "network rights")?)
            .map_err(|e| lerr("handle_access network", &e))?;
    }
    if plan.scoped != 0 {
        ruleset = ruleset
            .scope(known::<Scope>(plan.scoped, abi, "scopes")?)
            .map_err(|e| lerr("scope", &e))?;
    }
    let mut created = ruleset
        .create()
        .map_err(|e| lerr("create ruleset", &e))?
        .no_new_privs(false);
    for r in &plan.net_rules {
        let access = known::<AccessNet>(r.access, abi, "network rights")?;
        created = created
            .add_rule(NetPort::new(r.port, access))
            .map_err(|e| lerr(&format!("rule port {}", r.port), &e))?;
    }
    for r in &plan.path_rules {
        let access = known::<AccessFs>(r.access, abi, "filesystem rights")?;
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
