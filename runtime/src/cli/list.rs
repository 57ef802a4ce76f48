//! `bvisor list`: every container under --root.

use super::Global;

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Output format: table or json
    #[arg(long, short = 'f', default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Print only the ids
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

pub fn run(g: &Global, a: &ListArgs) -> anyhow::Result<i32> {
    let all = crate::container::list(&g.root)?;
    if a.quiet {
        for (st, _) in &all {
            println!("{}", st.id);
        }
        return Ok(0);
    }
    if a.format == "json" {
        let v: Vec<_> = all.iter().map(|(st, s)| st.oci(*s)).collect();
        println!("{}", serde_json::to_string(&v)?);
        return Ok(0);
    }
    println!(
        "{:<12} {:<8} {:<10} {:<40} {:<31} OWNER",
        "ID", "PID", "STATUS", "BUNDLE", "CREATED"
    );
    for (st, s) in &all {
        let o = st.oci(*s);
        println!(
            "{:<12} {:<8} {:<10} {:<40} {:<31} {}",
            o.id,
            o.pid,
            o.status,
            o.bundle.display(),
            o.created,
            o.owner
        );
    }
    Ok(0)
}
