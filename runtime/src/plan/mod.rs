//! The boundary plan: requirements from the config, the machine's profile, the qualification
//! ledger, and the fail-closed planner that admits a container whole or refuses it whole.
//!
//! ```text
//! LoadedSpec ─requirement::map─▶ [Requirement] ─planner::plan(ledger, profile)─▶ BoundaryPlan
//!                                                                            └─▶ Refusal
//! ```
//!
//! One concern per module: `requirement` (config → requirements and launch data), `profile`
//! (machine facts), `floor` (facts a ledger row needs), `ledger` (the embedded table),
//! `planner` (the pure decision), `features` (what this machine can admit), `junit` and `gate`
//! (the ledger gate: proven rows' proofs ran and passed in this CI run).

pub mod features;
pub mod floor;
pub mod gate;
pub mod junit;
pub mod ledger;
pub mod planner;
pub mod profile;
mod proof_syntax;
pub mod requirement;

pub use floor::Floor;
pub use ledger::{Ledger, LedgerError, Proof, Row, Status};
pub use planner::{
    evaluate, plan, Admitted, BoundaryPlan, Candidate, Chosen, Decision, Refusal, Refused,
};
pub use profile::{KernelVersion, Profile};
pub use requirement::{requirements, LaunchDatum, Mapping, Requirement, Scope};

use crate::spec::LoadedSpec;

/// How the CLI asked for the container to be run, where it changes what is required.
#[derive(Debug, Clone, Default)]
pub struct AdmitOptions {
    /// `--strict`: unknown config properties are refused instead of logged.
    pub strict: bool,
    /// `create --no-pivot`: the rootfs is entered with MS_MOVE + chroot instead of pivot_root.
    pub no_pivot: bool,
    /// The bundle runs on the wasm runner (decided by the runtime from annotations or the
    /// module's magic).
    pub wasm: Option<WasmRunner>,
    /// Rootless without a delegated (writable) cgroup: why the container gets no cgroups of
    /// its own. Placement is then dropped and every cgroup knob is refused with this reason.
    pub no_cgroups: Option<String>,
}

/// How a wasm bundle is run, as far as requirements go.
#[derive(Debug, Clone, Default)]
pub struct WasmRunner {
    /// The field that made it a wasm bundle, and why.
    pub field: String,
    pub reason: String,
    /// `linux.resources.memory.limit` also caps the guest's linear memory.
    pub memory_cap: Option<u64>,
    /// A fuel budget from the `bvisor.wasm/fuel` annotation.
    pub fuel: Option<u64>,
}

/// Probe the machine, load the embedded ledger, map the config to requirements and plan.
/// Called by create/run/exec before anything exists.
pub fn admit(loaded: &LoadedSpec, opts: &AdmitOptions) -> Result<BoundaryPlan, Refusal> {
    admit_on(loaded, opts, crate::cgroups::Hierarchies::discover())
}

/// Admit new `linux.resources` for a live container (`bvisor update`): every knob set must have
/// a proven mechanism here, exactly as at create; refused whole otherwise, before any write.
pub fn admit_resources(r: &oci_spec::runtime::LinuxResources) -> Result<BoundaryPlan, Refusal> {
    let ledger = Ledger::embedded().map_err(Refusal::Ledger)?;
    let profile = Profile::probe();
    plan(&requirement::resource_requirements(r), &ledger, &profile)
}

/// [`admit`] with the machine's cgroup hierarchies already read by the caller.
pub fn admit_on(
    loaded: &LoadedSpec,
    opts: &AdmitOptions,
    hierarchies: std::io::Result<crate::cgroups::Hierarchies>,
) -> Result<BoundaryPlan, Refusal> {
    let ledger = Ledger::embedded().map_err(Refusal::Ledger)?;
    let profile = Profile::probe_with(hierarchies);
    let mapping = requirement::map(loaded, opts);
    let mut plan = plan(&mapping.requirements, &ledger, &profile)?;
    plan.launch_data = mapping.launch_data;
    plan.ignored = mapping.ignored;
    Ok(plan)
}
