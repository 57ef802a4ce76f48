//! `bvisor delete`: remove a container and everything it holds.

use super::Global;

#[derive(clap::Args, Debug)]
pub struct DeleteArgs {
    /// Kill the container first if it is still running
    #[arg(long, short = 'f')]
    pub force: bool,
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: &DeleteArgs) -> anyhow::Result<i32> {
    crate::container::delete(&g.root, &a.id, a.force)?;
    Ok(0)
}
