//! The device cgroup: `linux.resources.devices` plus the devices every container needs, as
//! cgroup v1 `devices.allow` / `devices.deny` writes.
//!
//! Rules apply in order, the config's first, then the standard devices (null, zero, full, tty,
//! random, urandom, ptmx, pts, tun; `m` on everything) and the config's `linux.devices`, as runc
//! does, so a leading deny-all leaves a container exactly those devices. On cgroup v2 the same
//! rules become an eBPF device program ([`bpf_program`]; pure, unit-tested) attached to the
//! container's cgroup ([`crate::sys::attach_device_program`]).

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
    use std::io::Write as _;
    // The kernel takes one rule per write(2); consecutive rules for the same file share one
    // open file (runc's default config is one deny and eleven allows).
    let mut open: Option<(&str, std::fs::File)> = None;
    for (file, line) in writes {
        let err = |e: io::Error| {
            io::Error::new(e.kind(), format!("{}/{file} {line:?}: {e}", dir.display()))
        };
        if open.as_ref().is_none_or(|(f, _)| f != file) {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(dir.join(file))
                .map_err(err)?;
            open = Some((*file, f));
        }
        let (_, f) = open.as_mut().expect("opened above");
        f.write_all(line.as_bytes()).map_err(err)?;
    }
    Ok(())
}

// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }: access_type is
// (access << 16) | type (linux/bpf.h).
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

/// One eBPF instruction (struct bpf_insn), little-endian.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let o = off.to_le_bytes();
    let i = imm.to_le_bytes();
    [code, dst | (src << 4), o[0], o[1], i[0], i[1], i[2], i[3]]
}

const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const MOV_X: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
const MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const AND_K: u8 = 0x57; // BPF_ALU64 | BPF_AND | BPF_K
const RSH_K: u8 = 0x77; // BPF_ALU64 | BPF_RSH | BPF_K
const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JEQ_K: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

/// A parsed rule: allow?, device type (None: any), major, minor (None: any), access bits.
type Rule = (bool, Option<i32>, Option<i64>, Option<i64>, i32);

fn parse(w: &Write) -> Option<Rule> {
    let allow = w.0 == "devices.allow";
    let mut it = w.1.split_whitespace();
    let typ = match it.next()? {
        "a" => return Some((allow, None, None, None, 7)),
        "c" => DEV_CHAR,
        "b" => DEV_BLOCK,
        _ => return None,
    };
    let (ma, mi) = it.next()?.split_once(':')?;
    let n = |s: &str| {
        if s == "*" {
            Some(None)
        } else {
            s.parse().ok().map(Some)
        }
    };
    let access = it.next().unwrap_or("rwm").chars().fold(0, |a, c| {
        a | match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => 0,
        }
    });
    Some((allow, Some(typ), n(ma)?, n(mi)?, access))
}

/// The device rules as a BPF_PROG_TYPE_CGROUP_DEVICE program with v1's meaning: rules in order,
/// the last one that matches decides; an `a` rule resets everything before it and sets the
/// default; with no `a` rule the default is allow (a v1 cgroup starts allowing all).
/// Returns the instructions as bytes.
pub fn bpf_program(writes: &[Write]) -> Vec<u8> {
    let mut default_allow = true;
    let mut rules: Vec<Rule> = Vec::new();
    for r in writes.iter().filter_map(parse) {
        if r.1.is_none() {
            default_allow = r.0;
            rules.clear();
        } else {
            rules.push(r);
        }
    }
    let mut p: Vec<[u8; 8]> = vec![
        insn(LDX_W, 2, 1, 0, 0),      // r2 = access_type
        insn(MOV_X, 3, 2, 0, 0),      // r3 = r2
        insn(RSH_K, 3, 0, 0, 16),     // r3 = access
        insn(AND_K, 2, 0, 0, 0xffff), // r2 = type
        insn(LDX_W, 4, 1, 4, 0),      // r4 = major
        insn(LDX_W, 5, 1, 8, 0),      // r5 = minor
    ];
    // Last rule first: the first match from the end is the one v1 would apply.
    for (allow, typ, major, minor, access) in rules.iter().rev() {
        let mut conds: Vec<(u8, i32)> = Vec::new();
        if let Some(t) = typ {
            conds.push((2, *t));
        }
        if let Some(m) = major {
            conds.push((4, *m as i32));
        }
        if let Some(m) = minor {
            conds.push((5, *m as i32));
        }
        // An allow rule matches when it grants every access asked for; a deny rule when it
        // names any of them.
        let (mask, jump) = if *allow {
            (!access & 7, JNE_K)
        } else {
            (*access, JEQ_K)
        };
        // (A deny of every access matches any request: no check needed.)
        let check = mask != 0 && (*allow || *access != 7);
        let len = conds.len() as i16 + if check { 3 } else { 0 } + 2;
        let mut at = 0i16;
        for (reg, imm) in conds {
            at += 1;
            p.push(insn(JNE_K, reg, 0, len - at, imm));
        }
        if check {
            p.push(insn(MOV_X, 6, 3, 0, 0));
            p.push(insn(AND_K, 6, 0, 0, mask));
            at += 3;
            p.push(insn(jump, 6, 0, len - at, 0));
        }
        p.push(insn(MOV_K, 0, 0, 0, *allow as i32));
        p.push(insn(EXIT, 0, 0, 0, 0));
    }
    p.push(insn(MOV_K, 0, 0, 0, default_allow as i32));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny interpreter for the instructions `bpf_program` emits, to check its decisions.
    fn run(prog: &[u8], typ: i32, major: u32, minor: u32, access: i32) -> u64 {
        let mut r = [0u64; 11];
        let ctx = [((access << 16) | typ) as u32, major, minor];
        let mut pc = 0usize;
        loop {
            let i = &prog[pc * 8..pc * 8 + 8];
            let (code, dst, src) = (i[0], (i[1] & 0xf) as usize, (i[1] >> 4) as usize);
            let off = i16::from_le_bytes([i[2], i[3]]);
            let imm = i32::from_le_bytes([i[4], i[5], i[6], i[7]]) as i64 as u64;
            pc += 1;
            match code {
                LDX_W => r[dst] = ctx[off as usize / 4] as u64,
                MOV_X => r[dst] = r[src],
                MOV_K => r[dst] = imm,
                AND_K => r[dst] &= imm,
                RSH_K => r[dst] >>= imm,
                JNE_K | JEQ_K => {
                    if (r[dst] != imm) == (code == JNE_K) {
                        pc = (pc as i64 + off as i64) as usize;
                    }
                }
                EXIT => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn device_program_decides_as_v1_would() {
        let rules: Vec<LinuxDeviceCgroup> = serde_json::from_str(
            r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":4,"access":"r"}]"#,
        )
        .unwrap();
        let p = bpf_program(&v1_writes(&rules, &[]));
        let (rw, r, w, m) = (ACC_READ | ACC_WRITE, ACC_READ, ACC_WRITE, ACC_MKNOD);
        assert_eq!(run(&p, DEV_CHAR, 1, 3, rw), 1, "/dev/null rw");
        assert_eq!(run(&p, DEV_CHAR, 1, 11, w), 0, "/dev/kmsg: not listed");
        assert_eq!(run(&p, DEV_CHAR, 4, 7, r), 1, "c 4:* r");
        assert_eq!(run(&p, DEV_CHAR, 4, 7, w), 0, "c 4:* is read-only");
        assert_eq!(run(&p, DEV_BLOCK, 8, 0, r), 0, "no block device");
        assert_eq!(run(&p, DEV_BLOCK, 8, 0, m), 1, "mknod of anything");
        assert_eq!(run(&p, DEV_CHAR, 136, 5, rw), 1, "pts");
        // No rules at all: everything allowed, as a fresh v1 cgroup.
        assert_eq!(run(&bpf_program(&[]), DEV_BLOCK, 8, 0, rw), 1);
        // A trailing deny of one device beats an earlier allow.
        let deny_null = [
            ("devices.allow", "a".to_string()),
            ("devices.deny", "c 1:3 w".to_string()),
        ];
        let p = bpf_program(&deny_null);
        assert_eq!(run(&p, DEV_CHAR, 1, 3, w), 0);
        assert_eq!(run(&p, DEV_CHAR, 1, 3, r), 1);
        assert_eq!(run(&p, DEV_CHAR, 1, 3, rw), 0, "a deny of w catches rw");
    }

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
