//! `bvisor state`: the OCI state of a container as JSON.

use super::Global;

#[derive(clap::Args, Debug)]
pub struct StateArgs {
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: &StateArgs) -> anyhow::Result<i32> {
    let (st, status) = crate::container::status_of(&g.root, &a.id)?;
    println!("{}", serde_json::to_string_pretty(&st.oci(status))?);
    Ok(0)
}
