//! `bvisor features`: what this runtime can admit on this machine. (Stub.)

use super::Global;

#[derive(clap::Args, Debug)]
pub struct FeaturesArgs {}

pub fn run(_g: &Global, _a: &FeaturesArgs) -> anyhow::Result<i32> {
    anyhow::bail!("features: not implemented yet")
}
