//! Deserializing `Spec` and `Process` without oci-spec's `execCPUAffinity` regex.
//!
//! oci-spec 0.10 validates `process.execCPUAffinity` while deserializing, with a `regex::Regex`.
//! That one call links the whole regex engine (regex, regex-automata, regex-syntax with its
//! Unicode tables, aho-corasick: about 0.5 MB of the 2 MB of code) into every binary that
//! deserializes a `Process`, and an executable's code is resident about whole here (the page
//! cache maps it in large folios), so it cost every `bvisor` call that much peak RSS
//! (integration/bench.sh, issue 8). These mirrors of `Spec`, `Process` and `ExecCPUAffinity`
//! carry the same JSON names, defaults and type names (in error messages) and reuse oci-spec's
//! types for everything below them, so they accept, refuse and name errors as oci-spec does.
//! Only the affinity check is ours ([`cpu_list`]), a few lines, with one deliberate
//! difference: it takes ASCII digits only, where the regex's `\d` also took other scripts'.
//!
//! Serializing is unchanged: oci-spec's `Serialize` does not validate.

#![allow(deprecated)] // Spec's top-level uidMappings/gidMappings: parsed so they can be reported.

use oci_spec::runtime::{
    Box as ConsoleBox, ExecCPUAffinity, Hooks, Linux, LinuxCapabilities, LinuxIOPriority,
    LinuxIdMapping, Mount, PosixRlimit, Process, Root, Scheduler, Solaris, Spec, User, Windows, VM,
    ZOS,
};
use serde::{Deserialize, Deserializer};
use std::collections::HashMap;
use std::path::PathBuf;

/// `#[serde(deserialize_with = "crate::spec::de::spec")]` for a `Spec` field.
pub fn spec<'de, D: Deserializer<'de>>(d: D) -> Result<Spec, D::Error> {
    SpecDef::deserialize(d).map(Spec::from)
}

/// [`spec`], shared: a container's state holds its config behind an `Arc`, so the copies of
/// the state a command passes around (see `state::LAST`) do not copy the config.
pub fn shared_spec<'de, D: Deserializer<'de>>(d: D) -> Result<std::sync::Arc<Spec>, D::Error> {
    spec(d).map(std::sync::Arc::new)
}

/// A `Spec` that deserializes through [`SpecDef`], for `serde_path_to_error` and `from_*`.
pub struct SpecDe(pub Spec);

impl<'de> Deserialize<'de> for SpecDe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        spec(d).map(SpecDe)
    }
}

/// A `Process` that deserializes through [`ProcessDef`] (`bvisor exec --process FILE`).
pub struct ProcessDe(pub Process);

impl<'de> Deserialize<'de> for ProcessDe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ProcessDef::deserialize(d).map(|p| ProcessDe(p.into()))
    }
}

#[derive(Deserialize)]
#[serde(rename = "Spec", expecting = "struct Spec", rename_all = "camelCase")]
struct SpecDef {
    #[serde(default, rename = "ociVersion")]
    version: String,
    #[serde(default)]
    root: Option<Root>,
    #[serde(default)]
    mounts: Option<Vec<Mount>>,
    #[serde(default)]
    process: Option<ProcessDef>,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    domainname: Option<String>,
    #[serde(default)]
    hooks: Option<Hooks>,
    #[serde(default)]
    annotations: Option<HashMap<String, String>>,
    #[serde(default)]
    linux: Option<Linux>,
    #[serde(default)]
    solaris: Option<Solaris>,
    #[serde(default)]
    windows: Option<Windows>,
    #[serde(default)]
    vm: Option<VM>,
    #[serde(default)]
    zos: Option<ZOS>,
    #[serde(default)]
    uid_mappings: Option<Vec<LinuxIdMapping>>,
    #[serde(default)]
    gid_mappings: Option<Vec<LinuxIdMapping>>,
}

impl From<SpecDef> for Spec {
    fn from(d: SpecDef) -> Spec {
        // Every field is set: Spec::default() is a sample config, not an empty one.
        let mut s = Spec::default();
        s.set_version(d.version);
        s.set_root(d.root);
        s.set_mounts(d.mounts);
        s.set_process(d.process.map(Process::from));
        s.set_hostname(d.hostname);
        s.set_domainname(d.domainname);
        s.set_hooks(d.hooks);
        s.set_annotations(d.annotations);
        s.set_linux(d.linux);
        s.set_solaris(d.solaris);
        s.set_windows(d.windows);
        s.set_vm(d.vm);
        s.set_zos(d.zos);
        s.set_uid_mappings(d.uid_mappings);
        s.set_gid_mappings(d.gid_mappings);
        s
    }
}

#[derive(Deserialize)]
#[serde(
    rename = "Process",
    expecting = "struct Process",
    rename_all = "camelCase"
)]
struct ProcessDef {
    #[serde(default)]
    terminal: Option<bool>,
    #[serde(default)]
    console_size: Option<ConsoleBox>,
    user: User,
    #[serde(default)]
    args: Option<Vec<String>>,
    #[serde(default)]
    command_line: Option<String>,
    #[serde(default)]
    env: Option<Vec<String>>,
    cwd: PathBuf,
    #[serde(default)]
    capabilities: Option<LinuxCapabilities>,
    #[serde(default)]
    rlimits: Option<Vec<PosixRlimit>>,
    #[serde(default)]
    no_new_privileges: Option<bool>,
    #[serde(default)]
    apparmor_profile: Option<String>,
    oom_score_adj: Option<i32>,
    #[serde(default)]
    selinux_label: Option<String>,
    #[serde(default)]
    io_priority: Option<LinuxIOPriority>,
    #[serde(default)]
    scheduler: Option<Scheduler>,
    #[serde(default, rename = "execCPUAffinity")]
    exec_cpu_affinity: Option<ExecCpuAffinityDef>,
}

impl From<ProcessDef> for Process {
    fn from(d: ProcessDef) -> Process {
        let mut p = Process::default();
        p.set_terminal(d.terminal);
        p.set_console_size(d.console_size);
        p.set_user(d.user);
        p.set_args(d.args);
        p.set_command_line(d.command_line);
        p.set_env(d.env);
        p.set_cwd(d.cwd);
        p.set_capabilities(d.capabilities);
        p.set_rlimits(d.rlimits);
        p.set_no_new_privileges(d.no_new_privileges);
        p.set_apparmor_profile(d.apparmor_profile);
        p.set_oom_score_adj(d.oom_score_adj);
        p.set_selinux_label(d.selinux_label);
        p.set_io_priority(d.io_priority);
        p.set_scheduler(d.scheduler);
        p.set_exec_cpu_affinity(d.exec_cpu_affinity.map(|a| {
            let mut e = ExecCPUAffinity::default();
            e.set_initial(a.initial);
            e.set_cpu_affinity_final(a.last);
            e
        }));
        p
    }
}

#[derive(Deserialize)]
#[serde(rename = "ExecCPUAffinity", expecting = "struct ExecCPUAffinity")]
struct ExecCpuAffinityDef {
    #[serde(default, deserialize_with = "cpu_list")]
    initial: Option<String>,
    #[serde(default, rename = "final", deserialize_with = "cpu_list")]
    last: Option<String>,
}

/// An optional CPU list as `execCPUAffinity` takes it: `0-3,7`, ranges and single CPUs joined
/// by commas (oci-spec's `^(\d+(-\d+)?)(,\d+(-\d+)?)*$`, with ASCII digits only: the kernel's
/// cpulist parser reads no others).
fn cpu_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value: Option<String> = Option::deserialize(d)?;
    match &value {
        Some(s) if !is_cpu_list(s) => Err(serde::de::Error::custom(format!(
            "Invalid execCPUAffinity format: {s}"
        ))),
        _ => Ok(value),
    }
}

fn is_cpu_list(s: &str) -> bool {
    let number = |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    s.split(',').all(|item| match item.split_once('-') {
        Some((a, b)) => number(a) && number(b),
        None => number(item),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_match_the_spec_pattern() {
        for ok in ["0", "0-3", "0-3,7", "1,2,3", "10-11,4-5"] {
            assert!(is_cpu_list(ok), "{ok}");
        }
        for bad in [
            "", ",", "0,", ",0", "0-", "-3", "0-3-5", "a", "0 ,1", "0--1", "٣",
        ] {
            assert!(!is_cpu_list(bad), "{bad:?}");
        }
    }

    /// The mirrors parse every field of a config that sets them all into the same `Spec` as
    /// oci-spec's own `Deserialize` (which the tests may still link).
    #[test]
    fn mirrors_agree_with_oci_spec() {
        let text = include_str!("../plan/testdata/every-field.json");
        let ours = serde_json::from_str::<SpecDe>(text).unwrap().0;
        let theirs: Spec = serde_json::from_str(text).unwrap();
        assert_eq!(ours, theirs);
        let process = serde_json::to_string(theirs.process()).unwrap();
        let ours = serde_json::from_str::<ProcessDe>(&process).unwrap().0;
        assert_eq!(Some(ours), theirs.process().clone());
        let minimal = r#"{"process":{"user":{"uid":0,"gid":0},"cwd":"/"}}"#;
        assert_eq!(
            serde_json::from_str::<SpecDe>(minimal).unwrap().0,
            serde_json::from_str::<Spec>(minimal).unwrap()
        );
    }

    #[test]
    fn bad_affinity_and_missing_fields_are_refused_like_oci_spec() {
        let bad = r#"{"user":{"uid":0,"gid":0},"cwd":"/","execCPUAffinity":{"final":"0-"}}"#;
        let e = serde_json::from_str::<ProcessDe>(bad).err().unwrap();
        assert!(
            e.to_string().contains("Invalid execCPUAffinity format: 0-"),
            "{e}"
        );
        assert!(serde_json::from_str::<Process>(bad).is_err());
        for missing in [r#"{"cwd":"/"}"#, r#"{"user":{"uid":0,"gid":0}}"#] {
            assert!(serde_json::from_str::<ProcessDe>(missing).is_err());
            assert!(serde_json::from_str::<Process>(missing).is_err());
        }
        // Type errors name the same types.
        for doc in [
            r#"{"process":5}"#,
            r#"{"process":{"user":{"uid":0,"gid":0},"cwd":"/","execCPUAffinity":3}}"#,
        ] {
            let ours = serde_json::from_str::<SpecDe>(doc)
                .err()
                .unwrap()
                .to_string();
            let theirs = serde_json::from_str::<Spec>(doc).err().unwrap().to_string();
            assert_eq!(ours, theirs);
        }
    }
}
