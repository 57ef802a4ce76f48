//! `bvisor features`: what this runtime can admit on this machine, in the runtime-spec features
//! format, derived from the embedded ledger and the live profile (see `plan::features`).

use super::Global;
use crate::container::launch::CAPABILITIES;
use crate::plan::{features, Ledger, Profile};

#[derive(clap::Args, Debug)]
pub struct FeaturesArgs {}

pub fn run(_g: &Global, _a: &FeaturesArgs) -> anyhow::Result<i32> {
    let ledger = Ledger::embedded()?;
    let doc = features::features(&ledger, &Profile::probe(), CAPABILITIES);
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(0)
}
