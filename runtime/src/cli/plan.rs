//! `bvisor plan`: print a bundle's boundary plan without running anything. (Stub.)

use super::Global;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    /// Path to the bundle
    #[arg(long, short = 'b', default_value = ".")]
    pub bundle: PathBuf,
    /// Output format: table or json
    #[arg(long, short = 'f', default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
}

pub fn run(_g: &Global, _a: &PlanArgs) -> anyhow::Result<i32> {
    anyhow::bail!("plan: not implemented yet")
}
