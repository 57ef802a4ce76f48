//! `bvisor start`: release a created container.

use super::Global;

#[derive(clap::Args, Debug)]
pub struct StartArgs {
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: &StartArgs) -> anyhow::Result<i32> {
    crate::container::start(&g.root, &a.id)?;
    Ok(0)
}
