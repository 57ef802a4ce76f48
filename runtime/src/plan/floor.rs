//! A ledger row's floor: the machine facts its proofs needed. A proof carries over to any machine
//! whose profile dominates the floor (ARCHITECTURE §2 law 3).

use super::profile::{KernelVersion, Profile};
use serde::{Deserialize, Serialize};

/// Every field is a lower bound; an absent field asks for nothing. `deny_unknown_fields` makes
/// a misspelt fact in the ledger an error instead of a floor that silently asks for nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Floor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<KernelVersion>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub clone3: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub pidfd: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub user_namespaces: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub unprivileged_user_namespaces: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub seccomp_filter: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landlock_abi: Option<u32>,
    /// A cgroup v1 hierarchy holding each of these controllers (`[]`: any v1 hierarchy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_v1: Option<Vec<String>>,
    /// cgroup2 mounted, with each of these controllers available (`[]`: just mounted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_v2: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub cgroup_v1_memsw: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub cgroup_kill: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub apparmor: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub selinux: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Floor {
    /// Each fact this profile does not meet, as "needs X, which this machine lacks" or "needs
    /// X, this kernel has Y". Empty when the profile dominates the floor.
    pub fn unmet(&self, p: &Profile) -> Vec<String> {
        let mut out = Vec::new();
        let mut lacks = |cond: bool, what: &str, whom: &str| {
            if cond {
                out.push(format!("needs {what}, which this {whom} lacks"));
            }
        };
        lacks(self.clone3 && !p.clone3, "clone3 (Linux 5.3)", "kernel");
        lacks(self.pidfd && !p.pidfd, "pidfd (Linux 5.3)", "kernel");
        lacks(
            self.user_namespaces && !p.user_namespaces,
            "user namespaces",
            "machine",
        );
        lacks(
            self.unprivileged_user_namespaces && !p.unprivileged_user_namespaces,
            "unprivileged user namespaces",
            "machine",
        );
        lacks(
            self.seccomp_filter && !p.seccomp_filter,
            "seccomp filters",
            "kernel",
        );
        lacks(
            self.cgroup_v1_memsw && !p.cgroup.v1_memsw,
            "the memory.memsw.* files",
            "kernel",
        );
        lacks(self.cgroup_kill && !p.cgroup.kill, "cgroup.kill", "machine");
        lacks(self.apparmor && !p.apparmor, "AppArmor", "machine");
        lacks(self.selinux && !p.selinux, "SELinux", "machine");
        if let Some(v1) = &self.cgroup_v1 {
            cgroup_unmet(&mut out, "a cgroup v1 hierarchy", v1, |c| {
                p.cgroup.has_v1(c)
            });
        }
        if let Some(v2) = &self.cgroup_v2 {
            cgroup_unmet(&mut out, "cgroup v2", v2, |c| p.cgroup.has_v2(c));
        }
        if let Some(k) = self.kernel {
            if p.kernel < k {
                out.push(format!(
                    "needs kernel ≥ {}, this machine runs {}",
                    short(k),
                    p.kernel
                ));
            }
        }
        if let Some(abi) = self.landlock_abi {
            if p.landlock_abi < abi {
                out.push(if p.landlock_abi == 0 {
                    format!("needs landlock ABI ≥ {abi}, this kernel has no landlock")
                } else {
                    format!(
                        "needs landlock ABI ≥ {abi}, this kernel has {}",
                        p.landlock_abi
                    )
                });
            }
        }
        out
    }

    pub fn is_met(&self, p: &Profile) -> bool {
        self.unmet(p).is_empty()
    }

    /// The facts, for tables: "kernel ≥ 5.3, user namespaces"; "-" for an empty floor.
    pub fn describe(&self) -> String {
        let mut v: Vec<String> = Vec::new();
        if let Some(k) = self.kernel {
            v.push(format!("kernel ≥ {}", short(k)));
        }
        let flags = [
            (self.clone3, "clone3"),
            (self.pidfd, "pidfd"),
            (self.user_namespaces, "user namespaces"),
            (
                self.unprivileged_user_namespaces,
                "unprivileged user namespaces",
            ),
            (self.seccomp_filter, "seccomp filters"),
            (self.cgroup_v1_memsw, "memory.memsw"),
            (self.cgroup_kill, "cgroup.kill"),
            (self.apparmor, "AppArmor"),
            (self.selinux, "SELinux"),
        ];
        v.extend(flags.iter().filter(|f| f.0).map(|f| f.1.to_string()));
        if let Some(a) = self.landlock_abi {
            v.push(format!("landlock ABI ≥ {a}"));
        }
        for (name, list) in [
            ("cgroup v1", &self.cgroup_v1),
            ("cgroup v2", &self.cgroup_v2),
        ] {
            match list {
                Some(l) if l.is_empty() => v.push(name.to_string()),
                Some(l) => v.push(format!("{name} {}", l.join("+"))),
                None => {}
            }
        }
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    }
}

fn cgroup_unmet(
    out: &mut Vec<String>,
    what: &str,
    controllers: &[String],
    has: impl Fn(Option<&str>) -> bool,
) {
    if controllers.is_empty() {
        if !has(None) {
            out.push(format!("needs {what}, which this machine lacks"));
        }
        return;
    }
    for c in controllers {
        if !has(Some(c)) {
            out.push(format!(
                "needs {what} with the {c} controller, which this machine lacks"
            ));
        }
    }
}

/// `5.3` rather than `5.3.0` when the patch level is 0: floors are written that way.
fn short(k: KernelVersion) -> String {
    if k.patch == 0 {
        format!("{}.{}", k.major, k.minor)
    } else {
        k.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::profile::synthetic;
    use super::*;

    fn floor(toml_text: &str) -> Floor {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn empty_floor_is_met_everywhere() {
        let f = Floor::default();
        assert!(f.is_met(&synthetic::v1_only()));
        assert_eq!(f.describe(), "-");
    }

    #[test]
    fn landlock_abi_messages_name_both_sides() {
        let f = floor("landlock_abi = 4");
        assert_eq!(
            f.unmet(&synthetic::landlock_abi3()),
            vec!["needs landlock ABI ≥ 4, this kernel has 3"]
        );
        assert_eq!(
            f.unmet(&synthetic::no_landlock()),
            vec!["needs landlock ABI ≥ 4, this kernel has no landlock"]
        );
        assert!(f.is_met(&synthetic::v2_only()));
    }

    #[test]
    fn cgroup_floors_follow_the_layout() {
        let v1_mem = floor("cgroup_v1 = [\"memory\"]");
        let v2_mem = floor("cgroup_v2 = [\"memory\"]");
        let v2_any = floor("cgroup_v2 = []");
        assert!(v1_mem.is_met(&synthetic::hybrid()));
        assert!(v1_mem.is_met(&synthetic::v1_only()));
        assert_eq!(
            v1_mem.unmet(&synthetic::v2_only()),
            vec![
                "needs a cgroup v1 hierarchy with the memory controller, which this machine lacks"
            ]
        );
        assert!(v2_mem.is_met(&synthetic::v2_only()));
        assert!(
            !v2_mem.is_met(&synthetic::hybrid()),
            "memory is bound to v1"
        );
        assert!(v2_any.is_met(&synthetic::hybrid()));
        assert!(!v2_any.is_met(&synthetic::v1_only()));
        assert_eq!(
            floor("cgroup_v1_memsw = true").unmet(&synthetic::v2_only()),
            vec!["needs the memory.memsw.* files, which this kernel lacks"]
        );
    }

    #[test]
    fn kernel_and_namespace_facts() {
        let f = floor("kernel = \"5.6\"\nclone3 = true\nuser_namespaces = true");
        assert!(f.is_met(&synthetic::hybrid()));
        let unmet = f.unmet(&synthetic::no_user_namespaces());
        assert_eq!(
            unmet,
            vec!["needs user namespaces, which this machine lacks"]
        );
        let old = Profile {
            kernel: KernelVersion::new(5, 4, 0),
            ..synthetic::v2_only()
        };
        assert_eq!(
            f.unmet(&old),
            vec!["needs kernel ≥ 5.6, this machine runs 5.4.0"]
        );
        assert_eq!(f.describe(), "kernel ≥ 5.6, clone3, user namespaces");
    }

    #[test]
    fn unknown_facts_are_refused() {
        assert!(toml::from_str::<Floor>("landlock = 3").is_err());
    }
}
