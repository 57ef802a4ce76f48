//! `bvisor pause` / `bvisor resume`: the cgroup freezer.

use super::Global;

#[derive(clap::Args, Debug)]
pub struct PauseArgs {
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: &PauseArgs, frozen: bool) -> anyhow::Result<i32> {
    crate::container::pause(&g.root, &a.id, frozen)?;
    Ok(0)
}
