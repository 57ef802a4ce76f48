//! `events --stats`: a container's resource usage read from its cgroup files, in runc's JSON
//! shape (`{"type":"stats","id":…,"data":{cpu, memory, pids, blkio, hugetlb}}`), for v1 and v2.
//!
//! The parsing of each file's text is pure (unit-tested); [`read`] only does the file reads.
//! A file that does not exist (a controller this machine lacks) leaves its part out.

use super::{CgroupSet, Version};
use serde_json::{json, Map, Value};
use std::path::Path;

fn text(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

fn num(s: &str) -> Option<u64> {
    let t = s.trim();
    if t == "max" {
        return Some(u64::MAX);
    }
    t.parse().ok()
}

/// `key value` lines (memory.stat, cpu.stat, cpuacct.stat, memory.events).
pub fn flat_keyed(s: &str) -> Map<String, Value> {
    s.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), json!(num(it.next()?)?)))
        })
        .collect()
}

/// `MAJ:MIN op value` lines of v1 blkio.throttle.* files, as runc's blkio entries.
pub fn blkio_v1_entries(s: &str) -> Vec<Value> {
    s.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let dev = it.next()?;
            let op = it.next()?;
            let value = num(it.next()?)?;
            let (major, minor) = dev.split_once(':')?;
            Some(json!({"major": num(major)?, "minor": num(minor)?, "op": op, "value": value}))
        })
        .collect()
}

/// v2 `io.stat` lines (`MAJ:MIN rbytes=… wbytes=… rios=… wios=…`) as runc's v1-shaped entries.
pub fn io_stat_v2(s: &str) -> (Vec<Value>, Vec<Value>) {
    let (mut bytes, mut ios) = (Vec::new(), Vec::new());
    for l in s.lines() {
        let mut it = l.split_whitespace();
        let Some((major, minor)) = it.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Some(major), Some(minor)) = (num(major), num(minor)) else {
            continue;
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Some(v) = num(v) else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut bytes, "Read"),
                "wbytes" => (&mut bytes, "Write"),
                "rios" => (&mut ios, "Read"),
                "wios" => (&mut ios, "Write"),
                _ => continue,
            };
            list.push(json!({"major": major, "minor": minor, "op": op, "value": v}));
        }
    }
    (bytes, ios)
}

/// The stats document (runc's `data` object) for a container's cgroups.
pub fn read(set: &CgroupSet) -> Value {
    let mut data = Map::new();
    let find = |c: &str| set.dir_for(c);

    let mut cpu = Map::new();
    if let Some(d) = find("cpuacct").filter(|d| d.version == Version::V1) {
        let total = text(&d.path, "cpuacct.usage").and_then(|s| num(&s));
        let percpu: Vec<u64> = text(&d.path, "cpuacct.usage_percpu")
            .map(|s| s.split_whitespace().filter_map(num).collect())
            .unwrap_or_default();
        // cpuacct.stat is in USER_HZ ticks; runc reports nanoseconds.
        let st = text(&d.path, "cpuacct.stat")
            .map(|s| flat_keyed(&s))
            .unwrap_or_default();
        let ticks = |k: &str| st.get(k).and_then(Value::as_u64).map(|t| t * 10_000_000);
        cpu.insert(
            "usage".into(),
            json!({"total": total, "percpu": percpu, "kernel": ticks("system"), "user": ticks("user")}),
        );
    }
    if let Some(d) = find("cpu") {
        // Both versions have cpu.stat (v1: throttling counts; v2: usage too).
        let st = text(&d.path, "cpu.stat")
            .map(|s| flat_keyed(&s))
            .unwrap_or_default();
        if d.version == Version::V2 {
            let us = |k: &str| st.get(k).and_then(Value::as_u64).map(|v| v * 1000);
            cpu.insert(
                "usage".into(),
                json!({"total": us("usage_usec"), "kernel": us("system_usec"), "user": us("user_usec")}),
            );
        }
        let g = |k: &str| st.get(k).cloned().unwrap_or(json!(0));
        cpu.insert(
            "throttling".into(),
            json!({"periods": g("nr_periods"), "throttled_periods": g("nr_throttled"),
                   "throttled_time": if d.version == Version::V1 { g("throttled_time") }
                                     else { json!(st.get("throttled_usec").and_then(Value::as_u64).map(|v| v * 1000)) }}),
        );
    }
    if !cpu.is_empty() {
        data.insert("cpu".into(), Value::Object(cpu));
    }

    if let Some(d) = find("memory") {
        let raw = text(&d.path, "memory.stat")
            .map(|s| flat_keyed(&s))
            .unwrap_or_default();
        let mem = match d.version {
            Version::V1 => {
                let f = |n: &str| text(&d.path, n).and_then(|s| num(&s));
                let entry = |p: &str| {
                    json!({"usage": f(&format!("{p}usage_in_bytes")),
                           "max": f(&format!("{p}max_usage_in_bytes")),
                           "limit": f(&format!("{p}limit_in_bytes")),
                           "failcnt": f(&format!("{p}failcnt"))})
                };
                json!({"usage": entry("memory."), "swap": entry("memory.memsw."),
                       "kernel": entry("memory.kmem."), "cache": raw.get("cache"), "raw": raw})
            }
            Version::V2 => {
                let f = |n: &str| text(&d.path, n).and_then(|s| num(&s));
                let events = text(&d.path, "memory.events")
                    .map(|s| flat_keyed(&s))
                    .unwrap_or_default();
                json!({"usage": {"usage": f("memory.current"), "max": f("memory.peak"),
                                 "limit": f("memory.max"), "failcnt": events.get("max")},
                       "swap": {"usage": f("memory.swap.current"), "limit": f("memory.swap.max")},
                       "cache": raw.get("file"), "raw": raw})
            }
        };
        data.insert("memory".into(), mem);
    }

    if let Some(d) = find("pids") {
        let f = |n: &str| text(&d.path, n).and_then(|s| num(&s));
        let limit = f("pids.max").map(|v| if v == u64::MAX { 0 } else { v });
        data.insert(
            "pids".into(),
            json!({"current": f("pids.current"), "limit": limit}),
        );
    }

    if let Some(d) = find("blkio").or_else(|| find("io")) {
        let blkio = match d.version {
            Version::V1 => {
                let e = |n: &str| {
                    text(&d.path, n)
                        .map(|s| blkio_v1_entries(&s))
                        .unwrap_or_default()
                };
                json!({"ioServiceBytesRecursive": e("blkio.throttle.io_service_bytes_recursive"),
                       "ioServicedRecursive": e("blkio.throttle.io_serviced_recursive")})
            }
            Version::V2 => {
                let (bytes, ios) = text(&d.path, "io.stat")
                    .map(|s| io_stat_v2(&s))
                    .unwrap_or_default();
                json!({"ioServiceBytesRecursive": bytes, "ioServicedRecursive": ios})
            }
        };
        data.insert("blkio".into(), blkio);
    }

    if let Some(d) = find("hugetlb") {
        let mut h = Map::new();
        for e in std::fs::read_dir(&d.path).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let usage_file = match d.version {
                Version::V1 => name
                    .strip_suffix(".usage_in_bytes")
                    .filter(|_| name.starts_with("hugetlb.")),
                Version::V2 => name
                    .strip_suffix(".current")
                    .filter(|_| name.starts_with("hugetlb.")),
            };
            if let Some(stem) = usage_file {
                let size = stem.trim_start_matches("hugetlb.").to_string();
                let usage = text(&d.path, &name).and_then(|s| num(&s));
                h.insert(size, json!({"usage": usage}));
            }
        }
        data.insert("hugetlb".into(), Value::Object(h));
    }
    Value::Object(data)
}

/// The OOM kill count so far (v1 memory.oom_control `oom_kill`, v2 memory.events `oom_kill`):
/// `events` reports an "oom" event whenever it grows.
pub fn oom_kills(set: &CgroupSet) -> Option<u64> {
    let d = set.dir_for("memory")?;
    let file = match d.version {
        Version::V1 => "memory.oom_control",
        Version::V2 => "memory.events",
    };
    flat_keyed(&text(&d.path, file)?)
        .get("oom_kill")
        .and_then(Value::as_u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_lines() {
        let m = flat_keyed("cache 4096\nrss 8192\nbogus\nhierarchical_memory_limit max\n");
        assert_eq!(m["cache"], json!(4096));
        assert_eq!(m["rss"], json!(8192));
        assert_eq!(m["hierarchical_memory_limit"], json!(u64::MAX));
        assert!(!m.contains_key("bogus"));
    }

    #[test]
    fn blkio_lines() {
        let e = blkio_v1_entries("254:0 Read 4096\n254:0 Write 0\nTotal 4096\n");
        assert_eq!(e.len(), 2);
        assert_eq!(
            e[0],
            json!({"major": 254, "minor": 0, "op": "Read", "value": 4096})
        );
    }

    #[test]
    fn io_stat() {
        let (b, i) = io_stat_v2("8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n");
        assert_eq!(b.len(), 2);
        assert_eq!(
            i[1],
            json!({"major": 8, "minor": 0, "op": "Write", "value": 2})
        );
    }
}
