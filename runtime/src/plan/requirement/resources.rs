//! `linux.resources`: every knob that is set is a requirement, with the cgroup v1 and v2 files
//! that could hold it as candidates (the mechanism names of `cgroups::resources`). An unset knob
//! is nothing; an empty value is launch data.

use super::{sorted, Mapper};
use crate::spec::{index_path, key_path};
use oci_spec::runtime::LinuxResources;

impl Mapper {
    pub(super) fn resources(&mut self, r: &LinuxResources) {
        const B: &str = "linux.resources";
        match r.devices() {
            Some(d) if !d.is_empty() => self.req(
                "cgroup.devices",
                &format!("{B}.devices"),
                format!("{} rules", d.len()),
                &["cgroup-v1:devices.allow", "cgroup-v2:devices.bpf"],
            ),
            Some(_) => self.data(&format!("{B}.devices"), "empty: nothing to enforce"),
            None => {}
        }
        if let Some(m) = r.memory() {
            let f = |n: &str| format!("{B}.memory.{n}");
            for (name, kind, v, mechs) in [
                (
                    "limit",
                    "cgroup.memory.limit",
                    m.limit(),
                    &["cgroup-v1:memory.limit_in_bytes", "cgroup-v2:memory.max"][..],
                ),
                (
                    "reservation",
                    "cgroup.memory.reservation",
                    m.reservation(),
                    &[
                        "cgroup-v1:memory.soft_limit_in_bytes",
                        "cgroup-v2:memory.low",
                    ],
                ),
                (
                    "swap",
                    "cgroup.memory.swap",
                    m.swap(),
                    &[
                        "cgroup-v1:memory.memsw.limit_in_bytes",
                        "cgroup-v2:memory.swap.max",
                    ],
                ),
                (
                    "kernel",
                    "cgroup.memory.kernel",
                    m.kernel(),
                    &["cgroup-v1:memory.kmem.limit_in_bytes"],
                ),
                (
                    "kernelTCP",
                    "cgroup.memory.kernel_tcp",
                    m.kernel_tcp(),
                    &["cgroup-v1:memory.kmem.tcp.limit_in_bytes"],
                ),
            ] {
                if let Some(v) = v {
                    self.req(kind, &f(name), v.to_string(), mechs);
                }
            }
            if let Some(s) = m.swappiness() {
                self.req(
                    "cgroup.memory.swappiness",
                    &f("swappiness"),
                    s.to_string(),
                    &["cgroup-v1:memory.swappiness"],
                );
            }
            match m.disable_oom_killer() {
                Some(true) => self.req(
                    "cgroup.memory.oom_control",
                    &f("disableOOMKiller"),
                    "true",
                    &["cgroup-v1:memory.oom_control"],
                ),
                Some(false) => self.data(&f("disableOOMKiller"), "false: the kernel's default"),
                None => {}
            }
            if let Some(u) = m.use_hierarchy() {
                self.req(
                    "cgroup.memory.use_hierarchy",
                    &f("useHierarchy"),
                    u.to_string(),
                    &["cgroup-v1:memory.use_hierarchy"],
                );
            }
            if m.check_before_update().is_some() {
                self.data(&f("checkBeforeUpdate"), "applies to updates, not to create");
            }
        }
        if let Some(c) = r.cpu() {
            let f = |n: &str| format!("{B}.cpu.{n}");
            let knobs: [(&str, &str, Option<String>, &[&str]); 7] = [
                (
                    "shares",
                    "cgroup.cpu.shares",
                    c.shares().map(|v| v.to_string()),
                    &["cgroup-v1:cpu.shares", "cgroup-v2:cpu.weight"],
                ),
                (
                    "period",
                    "cgroup.cpu.period",
                    c.period().map(|v| v.to_string()),
                    &["cgroup-v1:cpu.cfs_period_us", "cgroup-v2:cpu.max"],
                ),
                (
                    "quota",
                    "cgroup.cpu.quota",
                    c.quota().map(|v| v.to_string()),
                    &["cgroup-v1:cpu.cfs_quota_us", "cgroup-v2:cpu.max"],
                ),
                (
                    "burst",
                    "cgroup.cpu.burst",
                    c.burst().map(|v| v.to_string()),
                    &["cgroup-v1:cpu.cfs_burst_us", "cgroup-v2:cpu.max.burst"],
                ),
                (
                    "realtimePeriod",
                    "cgroup.cpu.realtime_period",
                    c.realtime_period().map(|v| v.to_string()),
                    &["cgroup-v1:cpu.rt_period_us"],
                ),
                (
                    "realtimeRuntime",
                    "cgroup.cpu.realtime_runtime",
                    c.realtime_runtime().map(|v| v.to_string()),
                    &["cgroup-v1:cpu.rt_runtime_us"],
                ),
                (
                    "idle",
                    "cgroup.cpu.idle",
                    c.idle().map(|v| v.to_string()),
                    &["cgroup-v1:cpu.idle", "cgroup-v2:cpu.idle"],
                ),
            ];
            for (name, kind, v, mechs) in knobs {
                if let Some(v) = v {
                    self.req(kind, &f(name), v, mechs);
                }
            }
            for (name, kind, v, mechs) in [
                (
                    "cpus",
                    "cgroup.cpuset.cpus",
                    c.cpus(),
                    &["cgroup-v1:cpuset.cpus", "cgroup-v2:cpuset.cpus"],
                ),
                (
                    "mems",
                    "cgroup.cpuset.mems",
                    c.mems(),
                    &["cgroup-v1:cpuset.mems", "cgroup-v2:cpuset.mems"],
                ),
            ] {
                match v {
                    Some(s) if !s.is_empty() => self.req(kind, &f(name), s, mechs),
                    Some(_) => self.data(&f(name), "empty: nothing to enforce"),
                    None => {}
                }
            }
        }
        if let Some(p) = r.pids() {
            self.req(
                "cgroup.pids.limit",
                &format!("{B}.pids.limit"),
                p.limit().to_string(),
                &["cgroup-v1:pids.max", "cgroup-v2:pids.max"],
            );
        }
        if let Some(b) = r.block_io() {
            let f = |n: &str| format!("{B}.blockIO.{n}");
            if let Some(w) = b.weight() {
                self.req(
                    "cgroup.blkio.weight",
                    &f("weight"),
                    w.to_string(),
                    &["cgroup-v1:blkio.weight", "cgroup-v2:io.weight"],
                );
            }
            if let Some(w) = b.leaf_weight() {
                self.req(
                    "cgroup.blkio.leaf_weight",
                    &f("leafWeight"),
                    w.to_string(),
                    &["cgroup-v1:blkio.leaf_weight"],
                );
            }
            for (i, d) in b.weight_device().iter().flatten().enumerate() {
                self.req(
                    "cgroup.blkio.weight_device",
                    &index_path(&f("weightDevice"), i),
                    format!("{}:{}", d.major(), d.minor()),
                    &["cgroup-v1:blkio.weight_device", "cgroup-v2:io.weight"],
                );
            }
            for (name, kind, v1, list) in [
                (
                    "throttleReadBpsDevice",
                    "cgroup.blkio.throttle_read_bps",
                    "cgroup-v1:blkio.throttle.read_bps_device",
                    b.throttle_read_bps_device(),
                ),
                (
                    "throttleWriteBpsDevice",
                    "cgroup.blkio.throttle_write_bps",
                    "cgroup-v1:blkio.throttle.write_bps_device",
                    b.throttle_write_bps_device(),
                ),
                (
                    "throttleReadIOPSDevice",
                    "cgroup.blkio.throttle_read_iops",
                    "cgroup-v1:blkio.throttle.read_iops_device",
                    b.throttle_read_iops_device(),
                ),
                (
                    "throttleWriteIOPSDevice",
                    "cgroup.blkio.throttle_write_iops",
                    "cgroup-v1:blkio.throttle.write_iops_device",
                    b.throttle_write_iops_device(),
                ),
            ] {
                for (i, d) in list.iter().flatten().enumerate() {
                    self.req(
                        kind,
                        &index_path(&f(name), i),
                        format!("{}:{} {}", d.major(), d.minor(), d.rate()),
                        &[v1, "cgroup-v2:io.max"],
                    );
                }
            }
        }
        for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
            self.req(
                "cgroup.hugetlb.limit",
                &index_path(&format!("{B}.hugepageLimits"), i),
                format!("{} {}", h.page_size(), h.limit()),
                &["cgroup-v1:hugetlb.limit_in_bytes", "cgroup-v2:hugetlb.max"],
            );
        }
        if let Some(n) = r.network() {
            if let Some(id) = n.class_id() {
                self.req(
                    "cgroup.net_cls.classid",
                    &format!("{B}.network.classID"),
                    id.to_string(),
                    &["cgroup-v1:net_cls.classid"],
                );
            }
            for (i, p) in n.priorities().iter().flatten().enumerate() {
                self.req(
                    "cgroup.net_prio.ifpriomap",
                    &index_path(&format!("{B}.network.priorities"), i),
                    format!("{} {}", p.name(), p.priority()),
                    &["cgroup-v1:net_prio.ifpriomap"],
                );
            }
        }
        for (dev, _) in sorted(r.rdma()) {
            self.req(
                "cgroup.rdma",
                &key_path(&format!("{B}.rdma"), dev),
                dev,
                &["cgroup-v1:rdma.max", "cgroup-v2:rdma.max"],
            );
        }
        for (file, value) in sorted(r.unified()) {
            let field = key_path(&format!("{B}.unified"), file);
            let detail = format!("{file}={value}");
            // Each key is a file of one v2 controller: its row's floor names that controller.
            match crate::cgroups::resources::unified_controller(file)
                .and_then(|c| {
                    crate::cgroups::resources::UNIFIED_MECHANISMS
                        .iter()
                        .find(|m| m.ends_with(&format!(":{c}")))
                })
            {
                Some(m) => self.req("cgroup.unified", &field, detail, &[m]),
                None => self.refuse(
                    "cgroup.unified",
                    &field,
                    detail,
                    "not a cgroup v2 interface file of a controller bvisor writes (cgroup.* core files and paths are never written)",
                ),
            }
        }
    }
}
