//! The boundary plan: requirements from the config, the machine's profile, the qualification
//! ledger, and the fail-closed planner that admits a container whole or refuses it whole.
//!
//! (Interface stub: the plan layer fills this in.)

use crate::spec::LoadedSpec;

/// How the CLI asked for the container to be run, where it changes what is required.
#[derive(Debug, Clone, Default)]
pub struct AdmitOptions {
    /// `--strict`: unknown config properties are refused instead of logged.
    pub strict: bool,
    /// `create --no-pivot`: the rootfs is entered with MS_MOVE + chroot instead of pivot_root.
    pub no_pivot: bool,
}

/// The admitted plan. (Stub.)
#[derive(Debug, Clone, Default)]
pub struct BoundaryPlan {}

/// Why a container was refused. (Stub.)
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// Probe the machine, load the embedded ledger, map the config to requirements and plan.
/// Called by create/run/exec before anything exists.
pub fn admit(_loaded: &LoadedSpec, _opts: &AdmitOptions) -> Result<BoundaryPlan, Refusal> {
    Ok(BoundaryPlan {})
}
