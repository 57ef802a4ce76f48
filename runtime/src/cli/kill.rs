//! `bvisor kill`: signal a container.

use super::Global;

#[derive(clap::Args, Debug)]
pub struct KillArgs {
    /// Send the signal to every process of the container, not only its init
    #[arg(long, short = 'a')]
    pub all: bool,
    /// Container id
    pub id: String,
    /// Signal by name (TERM, SIGTERM) or number (15)
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn run(g: &Global, a: &KillArgs) -> anyhow::Result<i32> {
    let sig = crate::sys::parse_signal(&a.signal)
        .ok_or_else(|| anyhow::anyhow!("unknown signal {:?}", a.signal))?;
    crate::container::kill(&g.root, &a.id, sig, a.all)?;
    Ok(0)
}
