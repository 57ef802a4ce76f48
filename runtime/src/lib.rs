//! bvisor: an OCI runtime that refuses to claim isolation it cannot prove.
//!
//! Arrows run one way: `cli` → `container` → `plan` → `spec` and the launcher's wire types.

pub mod cgroups;
pub mod cli;
pub mod container;
pub mod fault;
pub mod plan;
pub mod spec;
pub mod sys;
