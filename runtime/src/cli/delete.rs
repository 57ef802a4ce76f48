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
    match crate::container::delete(&g.root, &a.id, a.force) {
        // As runc: --force on a container that does not exist succeeds (containerd's shim
        // relies on it after an aborted create).
        Err(crate::container::Error::State(crate::container::StateError::NotExist(_)))
            if a.force =>
        {
            Ok(0)
        }
        r => r.map(|_| 0).map_err(Into::into),
    }
}
