//! Task stats for containerd (`ctr task metrics`, CRI stats): bvisor's cgroup stats document
//! (`bvisor::cgroups::stats`, runc's JSON shape) as containerd's cgroups v1 `Metrics` message,
//! packed in an `Any` with the type URL containerd decodes.

use containerd_shim::protos::cgroups::metrics as m;
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::Message;
use serde_json::Value;

pub const TYPE_URL: &str = "io.containerd.cgroups.v1.Metrics";

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn entry(v: &Value) -> m::MemoryEntry {
    m::MemoryEntry {
        limit: u(&v["limit"]),
        usage: u(&v["usage"]),
        max: u(&v["max"]),
        failcnt: u(&v["failcnt"]),
        ..Default::default()
    }
}

/// The Metrics message for a stats document.
pub fn from_stats(d: &Value) -> m::Metrics {
    let mut out = m::Metrics::new();
    if let Some(p) = d.get("pids") {
        out.pids = Some(m::PidsStat {
            current: u(&p["current"]),
            limit: u(&p["limit"]),
            ..Default::default()
        })
        .into();
    }
    if let Some(c) = d.get("cpu") {
        let usage = &c["usage"];
        let t = &c["throttling"];
        out.cpu = Some(m::CPUStat {
            usage: Some(m::CPUUsage {
                total: u(&usage["total"]),
                kernel: u(&usage["kernel"]),
                user: u(&usage["user"]),
                per_cpu: usage["percpu"]
                    .as_array()
                    .map(|a| a.iter().map(u).collect())
                    .unwrap_or_default(),
                ..Default::default()
            })
            .into(),
            throttling: Some(m::Throttle {
                periods: u(&t["periods"]),
                throttled_periods: u(&t["throttled_periods"]),
                throttled_time: u(&t["throttled_time"]),
                ..Default::default()
            })
            .into(),
            ..Default::default()
        })
        .into();
    }
    if let Some(mem) = d.get("memory") {
        let raw = &mem["raw"];
        out.memory = Some(m::MemoryStat {
            cache: u(&raw["cache"]),
            rss: u(&raw["rss"]),
            mapped_file: u(&raw["mapped_file"]),
            pg_fault: u(&raw["pgfault"]),
            pg_maj_fault: u(&raw["pgmajfault"]),
            inactive_anon: u(&raw["inactive_anon"]),
            active_anon: u(&raw["active_anon"]),
            inactive_file: u(&raw["inactive_file"]),
            active_file: u(&raw["active_file"]),
            total_rss: u(&raw["total_rss"]),
            total_cache: u(&raw["total_cache"]),
            hierarchical_memory_limit: u(&raw["hierarchical_memory_limit"]),
            usage: Some(entry(&mem["usage"])).into(),
            swap: Some(entry(&mem["swap"])).into(),
            kernel: Some(entry(&mem["kernel"])).into(),
            ..Default::default()
        })
        .into();
    }
    out
}

pub fn pack(metrics: &m::Metrics) -> Any {
    Any {
        type_url: TYPE_URL.to_string(),
        value: metrics.write_to_bytes().unwrap_or_default(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_the_stats_document() {
        let d = json!({"pids": {"current": 3, "limit": 20},
            "cpu": {"usage": {"total": 5, "percpu": [2, 3]}, "throttling": {"periods": 1}},
            "memory": {"usage": {"usage": 100, "limit": 200}, "raw": {"rss": 7}}});
        let mm = from_stats(&d);
        assert_eq!(mm.pids.current, 3);
        assert_eq!(mm.pids.limit, 20);
        assert_eq!(mm.cpu.usage.per_cpu, vec![2, 3]);
        assert_eq!(mm.memory.usage.limit, 200);
        assert_eq!(mm.memory.rss, 7);
        let any = pack(&mm);
        assert_eq!(any.type_url, TYPE_URL);
        assert_eq!(m::Metrics::parse_from_bytes(&any.value).unwrap(), mm);
    }
}
