//! The device cgroup: `linux.resources.devices` plus the devices every container needs, as
//! cgroup v1 `devices.allow` / `devices.deny` writes.
//!
//! Rules apply in order, the config's first, then the standard devices (null, zero, full, tty,
//! random, urandom, ptmx, pts, tun; `m` on everything) and the config's `linux.devices`, as runc
//! does, so a leading deny-all leaves a container exactly those devices. cgroup v2 needs an eBPF
//! device program, which bvisor does not have yet: the planner refuses device rules there.

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};
use std::io;
use std::path::Path;

/// One write: (`devices.allow` or `devices.deny`, `"c 1:3 rwm"`).
pub type Write = (&'static str, String);

fn rule(allow: bool, typ: &str, major: Option<i64>, minor: Option<i64>, access: &str) -> Write {
    let file = if allow {
        "devices.allow"
    } else {
        "devices.deny"
    };
    if typ == "a" {
        // "a" means every device with every access; the kernel takes it alone.
        return (file, "a".to_string());
    }
    let n = |v: Option<i64>| v.map_or("*".to_string(), |v| v.to_string());
    (file, format!("{typ} {}:{} {access}", n(major), n(minor)))
}

fn type_letter(t: Option<LinuxDeviceType>) -> &'static str {
    match t {
        None | Some(LinuxDeviceType::A) => "a",
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => "c",
        Some(LinuxDeviceType::B) => "b",
        Some(LinuxDeviceType::P) => "p",
    }
}

/// Devices every container gets: what the default /dev holds, and mknod (`m`) of anything.
const STANDARD: &[(&str, Option<i64>, Option<i64>, &str)] = &[
    ("c", None, None, "m"),
    ("b", None, None, "m"),
    ("c", Some(1), Some(3), "rwm"),
    ("c", Some(1), Some(5), "rwm"),
    ("c", Some(1), Some(7), "rwm"),
    ("c", Some(1), Some(8), "rwm"),
    ("c", Some(1), Some(9), "rwm"),
    ("c", Some(5), Some(0), "rwm"),
    ("c", Some(5), Some(2), "rwm"),
    ("c", Some(136), None, "rwm"),
    ("c", Some(10), Some(200), "rwm"),
];

pub fn v1_writes(rules: &[LinuxDeviceCgroup], devices: &[LinuxDevice]) -> Vec<Write> {
    let mut out: Vec<Write> = rules
        .iter()
        .map(|r| {
            rule(
                r.allow(),
                type_letter(r.typ()),
                r.major(),
                r.minor(),
                r.access().as_deref().unwrap_or("rwm"),
            )
        })
        .collect();
    out.extend(
        STANDARD
            .iter()
            .map(|(t, ma, mi, a)| rule(true, t, *ma, *mi, a)),
    );
    // FIFOs are not device nodes: the device cgroup has no rules for them (the kernel refuses
    // a "p" rule).
    out.extend(
        devices
            .iter()
            .filter(|d| d.typ() != LinuxDeviceType::P)
            .map(|d| {
                rule(
                    true,
                    type_letter(Some(d.typ())),
                    Some(d.major()),
                    Some(d.minor()),
                    "rwm",
                )
            }),
    );
    out
}

/// Apply the writes to a v1 devices cgroup directory.
pub fn apply_v1(dir: &Path, writes: &[Write]) -> io::Result<()> {
    for (file, line) in writes {
        std::fs::write(dir.join(file), line).map_err(|e| {
            io::Error::new(e.kind(), format!("{}/{file} {line:?}: {e}", dir.display()))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_all_then_standard_then_config_devices() {
        let rules: Vec<LinuxDeviceCgroup> = serde_json::from_str(
            r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":4,"access":"r"}]"#,
        )
        .unwrap();
        let devs: Vec<LinuxDevice> =
            serde_json::from_str(r#"[{"path":"/dev/fuse","type":"c","major":10,"minor":229}]"#)
                .unwrap();
        let w = v1_writes(&rules, &devs);
        assert_eq!(w[0], ("devices.deny", "a".to_string()));
        assert_eq!(w[1], ("devices.allow", "c 4:* r".to_string()));
        assert!(w.contains(&("devices.allow", "c 1:3 rwm".to_string())));
        assert!(w.contains(&("devices.allow", "c 136:* rwm".to_string())));
        assert_eq!(
            w.last().unwrap(),
            &("devices.allow", "c 10:229 rwm".to_string())
        );
    }
}
