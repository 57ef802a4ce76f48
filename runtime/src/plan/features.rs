//! What this machine can admit, derived from the ledger and the profile, in the runtime-spec
//! features format (`features.md`). A feature is reported only when the planner would admit a
//! config asking for it here: same ledger rows, same floors, same verdict.

use super::ledger::Ledger;
use super::planner::evaluate;
use super::profile::Profile;
use super::requirement::{Requirement, Scope, BIND_OPTIONS, FLAG_OPTIONS, PROPAGATION_OPTIONS};
use bvisor_launcher::NsKind;
use serde_json::{json, Value};

/// The oldest and newest runtime-spec versions whose configs bvisor parses.
pub const OCI_VERSION_MIN: &str = "1.0.0";
pub const OCI_VERSION_MAX: &str = "1.2.1";

/// Would the planner admit a requirement of `kind` with these candidate mechanisms here?
pub fn admits(ledger: &Ledger, profile: &Profile, kind: &str, mechanisms: &[&str]) -> bool {
    let req = Requirement {
        kind: kind.to_string(),
        field: String::new(),
        detail: String::new(),
        mechanisms: mechanisms.iter().map(|m| m.to_string()).collect(),
        scope: Scope::Any,
        unenforceable: None,
    };
    evaluate(&[req], ledger, profile)[0].admitted()
}

/// The features document. `capabilities` is the list of capability names bvisor knows (the
/// launch-plan builder's table); only those this kernel has are reported.
pub fn features(ledger: &Ledger, profile: &Profile, capabilities: &[&str]) -> Value {
    let ok = |kind: &str, mechs: &[&str]| admits(ledger, profile, kind, mechs);
    let namespaces: Vec<&str> = NsKind::ALL
        .iter()
        .filter(|k| {
            ok(
                &format!("namespace.{}", k.oci_name()),
                &[&format!("clone3:{}", k.flag_name())],
            )
        })
        .map(|k| k.oci_name())
        .collect();
    let caps_ok = [
        "bounding",
        "effective",
        "inheritable",
        "permitted",
        "ambient",
    ]
    .iter()
    .all(|s| ok(&format!("capabilities.{s}"), &[&format!("capset:{s}")]));
    let known = profile
        .cap_last_cap
        .map_or(capabilities.len(), |n| n as usize + 1);
    let caps: Vec<&str> = if caps_ok {
        capabilities.iter().take(known).copied().collect()
    } else {
        Vec::new()
    };
    let mut mount_options: Vec<&str> = Vec::new();
    if ok("mount.flags", &["mount:flags"]) {
        mount_options.extend(FLAG_OPTIONS);
    }
    if ok("mount.propagation", &["mount:propagation"]) {
        mount_options.extend(PROPAGATION_OPTIONS);
    }
    if ok("mount.bind", &["mount:bind"]) {
        mount_options.extend(BIND_OPTIONS);
    }
    let placement = |mech: &str| ok("cgroup.placement", &[mech]);
    json!({
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": OCI_VERSION_MAX,
        // Hooks are launch data: the runtime and the launcher run every kind.
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": mount_options,
        "linux": {
            "namespaces": namespaces,
            "capabilities": caps,
            "cgroup": {
                "v1": placement("cgroup-v1:tasks"),
                "v2": placement("cgroup-v2:clone-into-cgroup"),
                "systemd": false,
                "systemdUser": false,
                "rdma": ok("cgroup.rdma", &["cgroup-v1:rdma.max", "cgroup-v2:rdma.max"]),
            },
            "seccomp": {"enabled": ok("seccomp.filter", &["libseccomp:bpf"])},
            "apparmor": {"enabled": ok("apparmor.profile", &["apparmor:exec-profile"])},
            "selinux": {"enabled": ok("selinux.label", &["selinux:exec-label"])},
            "intelRdt": {"enabled": ok("intel_rdt", &["resctrl"])},
            "mountExtensions": {
                "idmap": {"enabled": ok("mount.idmap", &["mount_setattr:MOUNT_ATTR_IDMAP"])}
            },
            "netDevices": {"enabled": ok("net_device", &["netlink:move-device"])},
        },
        "annotations": {
            "io.bvisor.version": env!("CARGO_PKG_VERSION"),
            "io.bvisor.kernel": profile.kernel.to_string(),
            "io.bvisor.cgroup.mode": serde_json::to_value(profile.cgroup.mode)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            "io.bvisor.landlock.abi": profile.landlock_abi.to_string(),
            "io.bvisor.ledger.proven": ledger.proven().count().to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::profile::synthetic;

    const CAPS: &[&str] = &["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL"];

    #[test]
    fn features_follow_the_ledger_and_the_profile() {
        let l = Ledger::embedded().unwrap();
        let f = features(&l, &synthetic::hybrid(), CAPS);
        // it is the runtime-spec's features document
        let parsed: oci_spec::runtime::Features =
            serde_json::from_value(f.clone()).expect("oci-spec reads it");
        assert_eq!(parsed.oci_version_max(), OCI_VERSION_MAX);
        let ns: Vec<&str> = f["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            ns,
            vec!["user", "mount", "pid", "network", "ipc", "uts", "cgroup"],
            "time is fail_closed"
        );
        assert_eq!(f["linux"]["cgroup"]["v1"], true);
        assert_eq!(f["linux"]["cgroup"]["v2"], true);
        assert_eq!(
            f["linux"]["seccomp"]["enabled"], true,
            "libseccomp:bpf is proven"
        );
        assert_eq!(f["linux"]["capabilities"].as_array().unwrap().len(), 3);
        let opts = f["mountOptions"].as_array().unwrap();
        assert!(opts.contains(&json!("nosuid")) && opts.contains(&json!("rbind")));

        let v2 = features(&l, &synthetic::v2_only(), CAPS);
        assert_eq!(v2["linux"]["cgroup"]["v1"], false);
        let no_userns = features(&l, &synthetic::no_user_namespaces(), CAPS);
        assert!(!no_userns["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .contains(&json!("user")));
    }

    #[test]
    fn capabilities_stop_at_the_kernel_last_cap() {
        let l = Ledger::embedded().unwrap();
        let p = Profile {
            cap_last_cap: Some(1),
            ..synthetic::hybrid()
        };
        assert_eq!(
            features(&l, &p, CAPS)["linux"]["capabilities"],
            json!(["CAP_CHOWN", "CAP_DAC_OVERRIDE"])
        );
    }
}
