//! `bvisor update`: change a live container's cgroup resources, as `runc update` does
//! (containerd's runc shim sends `--resources -` with the JSON on stdin).
//!
//! The new values are admitted by the planner like a create's: a knob this machine cannot
//! enforce with a proven mechanism is refused by its field, and nothing is written.

use super::Global;
use std::io::Read;

#[derive(clap::Args, Debug)]
#[command(
    about = "Update a container's cgroup resources",
    long_about = "Update a container's cgroup resources from a linux.resources JSON document \
(--resources FILE, or - for stdin) and/or the flags below (flags win). Each knob set is admitted \
by the planner exactly as at create; a knob without a proven mechanism here is refused by field \
name and nothing is written. Device rules are not updatable."
)]
pub struct UpdateArgs {
    /// Container id
    pub id: String,
    /// linux.resources JSON: a file, or - for standard input
    #[arg(short = 'r', long)]
    pub resources: Option<String>,
    /// Block IO weight (10-1000)
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period (µs)
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota (µs per period; -1 for none)
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    /// Realtime period (µs)
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// Realtime runtime (µs per period)
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs to use (e.g. 0-1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory limit in bytes (k, m, g suffixes; -1 for none)
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory reservation (soft limit) in bytes
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory + swap limit in bytes (-1 for unlimited swap)
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of pids (0 or -1: no limit)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Intel RDT L3 cache schema (not supported: refused)
    #[arg(long = "l3-cache-schema")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (not supported: refused)
    #[arg(long = "mem-bw-schema")]
    pub mem_bw_schema: Option<String>,
}

pub fn run(g: &Global, a: &UpdateArgs) -> anyhow::Result<i32> {
    if a.l3_cache_schema.is_some() || a.mem_bw_schema.is_some() {
        anyhow::bail!(
            "--l3-cache-schema/--mem-bw-schema: Intel RDT (linux.intelRdt) is not supported"
        );
    }
    let mut doc = match a.resources.as_deref() {
        None => serde_json::json!({}),
        Some(src) => {
            let mut text = String::new();
            if src == "-" {
                std::io::stdin().read_to_string(&mut text)?;
            } else {
                text = std::fs::read_to_string(src)
                    .map_err(|e| anyhow::anyhow!("--resources {src}: {e}"))?;
            }
            serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("--resources: not a linux.resources document: {e}"))?
        }
    };
    overlay(&mut doc, a)?;
    let r: oci_spec::runtime::LinuxResources = serde_path_to_error::deserialize(doc)
        .map_err(|e| anyhow::anyhow!("linux.resources.{}: {}", e.path(), e.inner()))?;
    crate::container::update(&g.root, &a.id, &r)?;
    Ok(0)
}

/// The flags over the document, in its JSON shape.
fn overlay(doc: &mut serde_json::Value, a: &UpdateArgs) -> anyhow::Result<()> {
    use serde_json::json;
    let mut set = |section: &str, key: &str, v: serde_json::Value| {
        if !doc[section].is_object() {
            doc[section] = json!({});
        }
        doc[section][key] = v;
    };
    if let Some(v) = a.blkio_weight {
        set("blockIO", "weight", json!(v));
    }
    if let Some(v) = a.cpu_period {
        set("cpu", "period", json!(v));
    }
    if let Some(v) = a.cpu_quota {
        set("cpu", "quota", json!(v));
    }
    if let Some(v) = a.cpu_share {
        set("cpu", "shares", json!(v));
    }
    if let Some(v) = a.cpu_rt_period {
        set("cpu", "realtimePeriod", json!(v));
    }
    if let Some(v) = a.cpu_rt_runtime {
        set("cpu", "realtimeRuntime", json!(v));
    }
    if let Some(v) = &a.cpuset_cpus {
        set("cpu", "cpus", json!(v));
    }
    if let Some(v) = &a.cpuset_mems {
        set("cpu", "mems", json!(v));
    }
    for (flag, key, v) in [
        ("--memory", "limit", &a.memory),
        ("--memory-reservation", "reservation", &a.memory_reservation),
        ("--memory-swap", "swap", &a.memory_swap),
    ] {
        if let Some(v) = v {
            let n = bytes(v).ok_or_else(|| anyhow::anyhow!("{flag} {v:?}: not a size"))?;
            set("memory", key, json!(n));
        }
    }
    if let Some(v) = a.pids_limit {
        set("pids", "limit", json!(v));
    }
    Ok(())
}

/// A size as runc's flags take it: bytes, with an optional k/m/g/t suffix (powers of 1024,
/// `b` allowed after it), or -1.
fn bytes(s: &str) -> Option<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Some(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mul) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 1i64 << 10),
        'm' => (&t[..t.len() - 1], 1 << 20),
        'g' => (&t[..t.len() - 1], 1 << 30),
        't' => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    num.parse::<i64>().ok()?.checked_mul(mul)
}

#[cfg(test)]
mod tests {
    use super::bytes;

    #[test]
    fn sizes() {
        assert_eq!(bytes("1048576"), Some(1 << 20));
        assert_eq!(bytes("64m"), Some(64 << 20));
        assert_eq!(bytes("2G"), Some(2 << 30));
        assert_eq!(bytes("512kb"), Some(512 << 10));
        assert_eq!(bytes("-1"), Some(-1));
        assert_eq!(bytes("lots"), None);
        assert_eq!(bytes(""), None);
    }
}
