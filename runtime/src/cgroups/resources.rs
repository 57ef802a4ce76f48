//! `linux.resources` knobs as cgroup file writes, for v1 and v2.
//!
//! Pure mapping ([`plan_writes`]) so every knob's file and value is unit-tested; [`apply`] writes
//! them. A knob bvisor has no mapping for is not here: the planner refuses it by field name
//! before anything exists, so a set knob is never silently dropped.

use super::{CgroupSet, Version};
use oci_spec::runtime::LinuxResources;
use std::io;

/// One write: controller (which hierarchy), file, value, the mechanism name (ledger row) and
/// the config field it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct KnobWrite {
    pub controller: String,
    pub file: String,
    pub value: String,
    pub mechanism: String,
    pub field: String,
}

/// Mechanisms the runtime applies to cgroups (besides placement): the ledger gate checks each
/// has a row, as it does for the launcher's.
pub const MECHANISMS: &[&str] = &[
    "cgroup-v1:devices.allow",
    "cgroup-v2:devices.bpf",
    "cgroup-v1:pids.max",
    "cgroup-v2:pids.max",
    "cgroup-v1:cpu.shares",
    "cgroup-v1:cpu.cfs_quota_us",
    "cgroup-v1:cpu.cfs_period_us",
    "cgroup-v1:cpu.rt_runtime_us",
    "cgroup-v1:cpu.rt_period_us",
    "cgroup-v1:cpu.cfs_burst_us",
    "cgroup-v1:cpu.idle",
    "cgroup-v1:memory.kmem.tcp.limit_in_bytes",
    "cgroup-v1:blkio.throttle.read_bps_device",
    "cgroup-v1:blkio.throttle.write_bps_device",
    "cgroup-v1:blkio.throttle.read_iops_device",
    "cgroup-v1:blkio.throttle.write_iops_device",
    "cgroup-v2:cpu.weight",
    "cgroup-v2:cpu.max",
    "cgroup-v1:cpuset.cpus",
    "cgroup-v1:cpuset.mems",
    "cgroup-v2:cpuset.cpus",
    "cgroup-v2:cpuset.mems",
    "cgroup-v1:memory.limit_in_bytes",
    "cgroup-v1:memory.soft_limit_in_bytes",
    "cgroup-v1:memory.memsw.limit_in_bytes",
    "cgroup-v1:memory.swappiness",
    "cgroup-v1:memory.oom_control",
    "cgroup-v2:memory.max",
    "cgroup-v2:memory.low",
    "cgroup-v2:memory.swap.max",
    "cgroup-v2:cpu.max.burst",
    "cgroup-v2:cpu.idle",
    "cgroup-v2:hugetlb.max",
    "cgroup-v1:hugetlb.limit_in_bytes",
];

/// `linux.resources.unified` writes, one mechanism per v2 controller (each row's floor names
/// it); applied by the runtime like [`MECHANISMS`].
pub const UNIFIED_MECHANISMS: &[&str] = &[
    "cgroup-v2:unified:cpu",
    "cgroup-v2:unified:cpuset",
    "cgroup-v2:unified:hugetlb",
    "cgroup-v2:unified:io",
    "cgroup-v2:unified:memory",
    "cgroup-v2:unified:pids",
];

fn w(v: Version, controller: &str, file: &str, value: impl ToString, field: &str) -> KnobWrite {
    let prefix = if v == Version::V1 {
        "cgroup-v1"
    } else {
        "cgroup-v2"
    };
    KnobWrite {
        controller: controller.to_string(),
        file: file.to_string(),
        value: value.to_string(),
        mechanism: format!("{prefix}:{file}"),
        field: field.to_string(),
    }
}

/// A `linux.resources.unified` key bvisor writes: `<controller>.<file>` of an interface file,
/// never a path (no `/`, no `..`), never a `cgroup.*` core file (placement, freezing and
/// killing are the runtime's own).
pub fn unified_controller(key: &str) -> Option<&str> {
    let (controller, rest) = key.split_once('.')?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
    };
    let dotted = rest.starts_with('.') || rest.ends_with('.') || rest.contains("..");
    (ok(controller) && ok(rest) && !dotted && controller != "cgroup").then_some(controller)
}

/// cgroup v2's cpu.weight from v1 shares (the conversion runc and crun use).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    1 + ((shares.clamp(2, 262144) - 2) * 9999) / 262142
}

/// The writes for `r`, given which cgroup version holds each controller.
pub fn plan_writes(r: &LinuxResources, version_of: impl Fn(&str) -> Version) -> Vec<KnobWrite> {
    let mut out = Vec::new();
    if let Some(p) = r.pids() {
        let v = version_of("pids");
        let limit = p.limit();
        let value = if limit <= 0 {
            "max".to_string()
        } else {
            limit.to_string()
        };
        out.push(w(
            v,
            "pids",
            "pids.max",
            value,
            "linux.resources.pids.limit",
        ));
    }
    if let Some(c) = r.cpu() {
        let v = version_of("cpu");
        match v {
            Version::V1 => {
                if let Some(s) = c.shares() {
                    out.push(w(v, "cpu", "cpu.shares", s, "linux.resources.cpu.shares"));
                }
                if let Some(p) = c.period() {
                    out.push(w(
                        v,
                        "cpu",
                        "cpu.cfs_period_us",
                        p,
                        "linux.resources.cpu.period",
                    ));
                }
                if let Some(q) = c.quota() {
                    out.push(w(
                        v,
                        "cpu",
                        "cpu.cfs_quota_us",
                        q,
                        "linux.resources.cpu.quota",
                    ));
                }
                if let Some(b) = c.burst() {
                    out.push(w(
                        v,
                        "cpu",
                        "cpu.cfs_burst_us",
                        b,
                        "linux.resources.cpu.burst",
                    ));
                }
                if let Some(i) = c.idle() {
                    out.push(w(v, "cpu", "cpu.idle", i, "linux.resources.cpu.idle"));
                }
                if let Some(p) = c.realtime_period() {
                    out.push(w(
                        v,
                        "cpu",
                        "cpu.rt_period_us",
                        p,
                        "linux.resources.cpu.realtimePeriod",
                    ));
                }
                if let Some(q) = c.realtime_runtime() {
                    out.push(w(
                        v,
                        "cpu",
                        "cpu.rt_runtime_us",
                        q,
                        "linux.resources.cpu.realtimeRuntime",
                    ));
                }
            }
            Version::V2 => {
                if let Some(s) = c.shares() {
                    out.push(w(
                        v,
                        "cpu",
                        "cpu.weight",
                        shares_to_weight(s),
                        "linux.resources.cpu.shares",
                    ));
                }
                if let Some(b) = c.burst() {
                    out.push(w(v, "cpu", "cpu.max.burst", b, "linux.resources.cpu.burst"));
                }
                if let Some(i) = c.idle() {
                    out.push(w(v, "cpu", "cpu.idle", i, "linux.resources.cpu.idle"));
                }
                if c.quota().is_some() || c.period().is_some() {
                    let quota = match c.quota() {
                        Some(q) if q > 0 => q.to_string(),
                        _ => "max".to_string(),
                    };
                    let period = c.period().unwrap_or(100_000);
                    out.push(w(
                        v,
                        "cpu",
                        "cpu.max",
                        format!("{quota} {period}"),
                        "linux.resources.cpu.quota",
                    ));
                }
            }
        }
        let vs = version_of("cpuset");
        if let Some(cpus) = c.cpus().as_ref().filter(|s| !s.is_empty()) {
            out.push(w(
                vs,
                "cpuset",
                "cpuset.cpus",
                cpus,
                "linux.resources.cpu.cpus",
            ));
        }
        if let Some(mems) = c.mems().as_ref().filter(|s| !s.is_empty()) {
            out.push(w(
                vs,
                "cpuset",
                "cpuset.mems",
                mems,
                "linux.resources.cpu.mems",
            ));
        }
    }
    if let Some(m) = r.memory() {
        let v = version_of("memory");
        let limit = |x: i64| {
            if x < 0 {
                if v == Version::V1 {
                    "-1".to_string()
                } else {
                    "max".to_string()
                }
            } else {
                x.to_string()
            }
        };
        match v {
            Version::V1 => {
                if let Some(l) = m.limit() {
                    out.push(w(
                        v,
                        "memory",
                        "memory.limit_in_bytes",
                        limit(l),
                        "linux.resources.memory.limit",
                    ));
                }
                if let Some(r) = m.reservation() {
                    out.push(w(
                        v,
                        "memory",
                        "memory.soft_limit_in_bytes",
                        limit(r),
                        "linux.resources.memory.reservation",
                    ));
                }
                if let Some(s) = m.swap() {
                    out.push(w(
                        v,
                        "memory",
                        "memory.memsw.limit_in_bytes",
                        limit(s),
                        "linux.resources.memory.swap",
                    ));
                }
                if let Some(s) = m.swappiness() {
                    out.push(w(
                        v,
                        "memory",
                        "memory.swappiness",
                        s,
                        "linux.resources.memory.swappiness",
                    ));
                }
                if let Some(t) = m.kernel_tcp() {
                    out.push(w(
                        v,
                        "memory",
                        "memory.kmem.tcp.limit_in_bytes",
                        limit(t),
                        "linux.resources.memory.kernelTCP",
                    ));
                }
                if let Some(d) = m.disable_oom_killer() {
                    out.push(w(
                        v,
                        "memory",
                        "memory.oom_control",
                        if d { 1 } else { 0 },
                        "linux.resources.memory.disableOOMKiller",
                    ));
                }
            }
            Version::V2 => {
                if let Some(l) = m.limit() {
                    out.push(w(
                        v,
                        "memory",
                        "memory.max",
                        limit(l),
                        "linux.resources.memory.limit",
                    ));
                }
                if let Some(r) = m.reservation() {
                    out.push(w(
                        v,
                        "memory",
                        "memory.low",
                        limit(r),
                        "linux.resources.memory.reservation",
                    ));
                }
                if let Some(s) = m.swap() {
                    // v1's swap is memory+swap; v2's swap.max is swap alone.
                    let value = match (s, m.limit()) {
                        (s, _) if s < 0 => "max".to_string(),
                        (s, Some(l)) if l >= 0 => (s - l).max(0).to_string(),
                        (s, _) => s.to_string(),
                    };
                    out.push(w(
                        v,
                        "memory",
                        "memory.swap.max",
                        value,
                        "linux.resources.memory.swap",
                    ));
                }
            }
        }
    }
    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        // The page size as the kernel names its files (2MB, 1GB); anything else is no file.
        let size = h.page_size();
        if !size.is_empty() && size.chars().all(|c| c.is_ascii_alphanumeric()) {
            let v = version_of("hugetlb");
            let suffix = if v == Version::V1 {
                "limit_in_bytes"
            } else {
                "max"
            };
            let mut k = w(
                v,
                "hugetlb",
                &format!("hugetlb.{size}.{suffix}"),
                h.limit(),
                &format!("linux.resources.hugepageLimits[{i}]"),
            );
            k.mechanism = format!(
                "{}:hugetlb.{suffix}",
                if v == Version::V1 {
                    "cgroup-v1"
                } else {
                    "cgroup-v2"
                }
            );
            out.push(k);
        }
    }
    if let Some(u) = r.unified() {
        // v2 only: the keys are v2 interface files. Sorted, so the order is the same each time.
        let mut keys: Vec<_> = u.iter().collect();
        keys.sort();
        for (key, value) in keys {
            if let Some(controller) = unified_controller(key) {
                if version_of(controller) == Version::V2 {
                    let mut k = w(
                        Version::V2,
                        controller,
                        key,
                        value,
                        &crate::spec::key_path("linux.resources.unified", key),
                    );
                    k.mechanism = format!("cgroup-v2:unified:{controller}");
                    out.push(k);
                }
            }
        }
    }
    if let Some(b) = r.block_io() {
        // v1 throttles only: one "MAJ:MIN rate" write per device (each write sets that device's
        // rule). v2's io.max and the weights are refused by the planner on this path.
        let v = version_of("blkio");
        if v == Version::V1 {
            for (file, field, list) in [
                (
                    "blkio.throttle.read_bps_device",
                    "linux.resources.blockIO.throttleReadBpsDevice",
                    b.throttle_read_bps_device(),
                ),
                (
                    "blkio.throttle.write_bps_device",
                    "linux.resources.blockIO.throttleWriteBpsDevice",
                    b.throttle_write_bps_device(),
                ),
                (
                    "blkio.throttle.read_iops_device",
                    "linux.resources.blockIO.throttleReadIOPSDevice",
                    b.throttle_read_iops_device(),
                ),
                (
                    "blkio.throttle.write_iops_device",
                    "linux.resources.blockIO.throttleWriteIOPSDevice",
                    b.throttle_write_iops_device(),
                ),
            ] {
                for d in list.iter().flatten() {
                    let value = format!("{}:{} {}", d.major(), d.minor(), d.rate());
                    out.push(w(v, "blkio", file, value, field));
                }
            }
        }
    }
    out
}

/// Apply every write; the first failure names the file, the value and the field.
pub fn apply(set: &CgroupSet, r: &LinuxResources) -> io::Result<Vec<KnobWrite>> {
    let version_of = |c: &str| set.dir_for(c).map_or(Version::V2, |d| d.version);
    let writes = plan_writes(r, version_of);
    for k in &writes {
        let dir = set.dir_for(&k.controller).ok_or_else(|| {
            io::Error::other(format!(
                "{}: no cgroup hierarchy has the {} controller",
                k.field, k.controller
            ))
        })?;
        if dir.version == Version::V2 {
            set.enable_v2_controller(&k.controller)?;
        }
        let path = dir.path.join(&k.file);
        std::fs::write(&path, &k.value).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "{}: write {:?} to {}: {e}",
                    k.field,
                    k.value,
                    path.display()
                ),
            )
        })?;
    }
    Ok(writes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn v1_knobs() {
        let r = res(
            r#"{"pids":{"limit":5},"cpu":{"shares":512,"quota":20000,"period":100000,"cpus":"0"},
                "memory":{"limit":67108864,"swap":134217728,"swappiness":10}}"#,
        );
        let w = plan_writes(&r, |_| Version::V1);
        let find = |f: &str| w.iter().find(|k| k.file == f).map(|k| k.value.clone());
        assert_eq!(find("pids.max").as_deref(), Some("5"));
        assert_eq!(find("cpu.shares").as_deref(), Some("512"));
        assert_eq!(find("cpu.cfs_quota_us").as_deref(), Some("20000"));
        assert_eq!(find("cpuset.cpus").as_deref(), Some("0"));
        assert_eq!(find("memory.limit_in_bytes").as_deref(), Some("67108864"));
        assert_eq!(
            find("memory.memsw.limit_in_bytes").as_deref(),
            Some("134217728")
        );
        for k in &w {
            assert!(
                MECHANISMS.contains(&k.mechanism.as_str()),
                "{}",
                k.mechanism
            );
        }
        // period must be written before quota: a quota is checked against the current period
        let p = w
            .iter()
            .position(|k| k.file == "cpu.cfs_period_us")
            .unwrap();
        let q = w.iter().position(|k| k.file == "cpu.cfs_quota_us").unwrap();
        assert!(p < q);
    }

    #[test]
    fn v2_knobs() {
        let r = res(r#"{"pids":{"limit":0},"cpu":{"shares":1024,"quota":50000},
                "memory":{"limit":100,"swap":300}}"#);
        let w = plan_writes(&r, |_| Version::V2);
        let find = |f: &str| w.iter().find(|k| k.file == f).map(|k| k.value.clone());
        assert_eq!(find("pids.max").as_deref(), Some("max"));
        assert_eq!(find("cpu.weight").as_deref(), Some("39"));
        assert_eq!(find("cpu.max").as_deref(), Some("50000 100000"));
        assert_eq!(find("memory.max").as_deref(), Some("100"));
        assert_eq!(find("memory.swap.max").as_deref(), Some("200"));
        for k in &w {
            assert!(
                MECHANISMS.contains(&k.mechanism.as_str()),
                "{}",
                k.mechanism
            );
        }
    }

    #[test]
    fn unified_keys_are_interface_files_only() {
        assert_eq!(unified_controller("memory.high"), Some("memory"));
        assert_eq!(unified_controller("io.max"), Some("io"));
        for bad in [
            "cgroup.procs",
            "memory/../x",
            "../memory.max",
            "memory",
            ".max",
            "memory..x",
            "Memory.high",
        ] {
            assert_eq!(unified_controller(bad), None, "{bad}");
        }
        let r = res(r#"{"unified": {"memory.high": "100", "pids.max": "9", "cgroup.procs": "1"}}"#);
        let w = plan_writes(&r, |_| Version::V2);
        let got: Vec<_> = w
            .iter()
            .map(|k| (k.file.as_str(), k.value.as_str(), k.mechanism.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("memory.high", "100", "cgroup-v2:unified:memory"),
                ("pids.max", "9", "cgroup-v2:unified:pids")
            ]
        );
        assert!(plan_writes(&r, |_| Version::V1).is_empty());
    }

    #[test]
    fn weight_conversion_bounds() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262144), 10000);
    }
}
