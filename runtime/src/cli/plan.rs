//! `bvisor plan`: print a bundle's boundary plan without running anything — each requirement,
//! the field it came from, its mechanism, the ledger row's status and proofs, and the refusal if
//! there is one. Exits 1 when the bundle would be refused, like `create` would.

use super::Global;
use crate::plan::requirement::{self, LaunchDatum};
use crate::plan::{evaluate, AdmitOptions, Candidate, Decision, Ledger, Profile, Scope};
use crate::spec;
use serde::Serialize;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    /// Path to the bundle
    #[arg(long, short = 'b', default_value = ".")]
    pub bundle: PathBuf,
    /// Output format: table or json
    #[arg(long, short = 'f', default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Plan as `create --no-pivot` would (MS_MOVE + chroot instead of pivot_root)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
}

/// One requirement as `plan` shows it.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub field: String,
    pub kind: String,
    pub detail: String,
    pub scope: Scope,
    pub admitted: bool,
    /// The mechanisms the plan uses (empty when refused).
    pub mechanisms: Vec<String>,
    /// Every candidate with its ledger row and unmet floor facts.
    pub candidates: Vec<Candidate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
}

impl From<Decision> for Entry {
    fn from(d: Decision) -> Entry {
        Entry {
            field: d.requirement.field,
            kind: d.requirement.kind,
            detail: d.requirement.detail,
            scope: d.requirement.scope,
            admitted: d.refusal.is_none(),
            mechanisms: d
                .candidates
                .iter()
                .filter(|c| c.chosen)
                .map(|c| c.mechanism.clone())
                .collect(),
            candidates: d.candidates,
            refusal: d.refusal,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub bundle: PathBuf,
    pub admitted: bool,
    /// The refusal `create` would print.
    pub refusal: Option<String>,
    pub profile: Profile,
    pub requirements: Vec<Entry>,
    pub launch_data: Vec<LaunchDatum>,
    /// Unknown properties, ignored (refused under --strict).
    pub ignored: Vec<String>,
}

pub fn report(
    loaded: &spec::LoadedSpec,
    opts: &AdmitOptions,
    ledger: &Ledger,
    profile: Profile,
) -> Report {
    let mapping = requirement::map(loaded, opts);
    let decisions = evaluate(&mapping.requirements, ledger, &profile);
    let refused: Vec<String> = decisions
        .iter()
        .filter_map(|d| {
            d.refusal.as_ref().map(|r| {
                format!(
                    "{}: requirement {}: {r}",
                    d.requirement.field, d.requirement.kind
                )
            })
        })
        .collect();
    Report {
        bundle: loaded.bundle.clone(),
        admitted: refused.is_empty(),
        refusal: (!refused.is_empty()).then(|| refused.join("; ")),
        profile,
        requirements: decisions.into_iter().map(Entry::from).collect(),
        launch_data: mapping.launch_data,
        ignored: mapping.ignored,
    }
}

pub fn run(g: &Global, a: &PlanArgs) -> anyhow::Result<i32> {
    let loaded = spec::load(&a.bundle)?;
    let ledger = Ledger::embedded()?;
    let wasm = crate::container::wasm::detect(&loaded.spec, &loaded.rootfs())
        .map_err(|e| anyhow::anyhow!(e))?;
    let opts = AdmitOptions {
        no_cgroups: crate::cgroups::Hierarchies::discover()
            .ok()
            .and_then(|h| crate::cgroups::rootless::denial(&h)),
        strict: g.strict,
        no_pivot: a.no_pivot,
        wasm: wasm.as_ref().map(crate::container::wasm::admit_options),
    };
    let r = report(&loaded, &opts, &ledger, Profile::probe());
    if a.format == "json" {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", table(&r));
    }
    Ok(if r.admitted { 0 } else { super::EXIT_ERROR })
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The machine's facts in one line.
fn machine(p: &Profile) -> String {
    let mode = serde_json::to_value(p.cgroup.mode)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let landlock = if p.landlock_abi == 0 {
        "no landlock".to_string()
    } else {
        format!("landlock ABI {}", p.landlock_abi)
    };
    format!(
        "kernel {}, cgroup {mode}, {landlock}, user namespaces {}, seccomp filter {}, clone3 {}, cgroup.kill {}, apparmor {}, selinux {}",
        p.kernel,
        yes(p.user_namespaces),
        yes(p.seccomp_filter),
        yes(p.clone3),
        yes(p.cgroup.kill),
        yes(p.apparmor),
        yes(p.selinux),
    )
}

/// The table: one line per mechanism used (an `each` requirement has several), and for a
/// refused requirement its first candidate and the reason beneath.
pub fn table(r: &Report) -> String {
    let mut rows: Vec<[String; 5]> = Vec::new();
    let mut reasons: Vec<(usize, String)> = Vec::new();
    for e in &r.requirements {
        let shown: Vec<&Candidate> = if e.admitted {
            e.candidates.iter().filter(|c| c.chosen).collect()
        } else {
            e.candidates.iter().take(1).collect()
        };
        if shown.is_empty() {
            rows.push([
                e.field.clone(),
                e.kind.clone(),
                "-".into(),
                "REFUSED".into(),
                String::new(),
            ]);
        }
        for (i, c) in shown.iter().enumerate() {
            let status = match (e.admitted, c.status) {
                (true, Some(s)) => s.to_string(),
                (false, Some(s)) => format!("REFUSED ({s})"),
                (_, None) => "REFUSED (no row)".into(),
            };
            let first = i == 0;
            rows.push([
                if first {
                    e.field.clone()
                } else {
                    String::new()
                },
                if first { e.kind.clone() } else { String::new() },
                c.mechanism.clone(),
                status,
                c.proofs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            ]);
        }
        if let Some(why) = &e.refusal {
            reasons.push((rows.len() - 1, why.clone()));
        }
    }
    let header = ["FIELD", "REQUIREMENT", "MECHANISM", "STATUS", "PROOFS"].map(String::from);
    let mut width = [0usize; 4];
    for row in std::iter::once(&header).chain(rows.iter()) {
        for (w, cell) in width.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |row: &[String; 5]| {
        let mut s = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i < 4 {
                s.push_str(&format!("{cell:<w$}  ", w = width[i]));
            } else {
                s.push_str(cell);
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = format!(
        "bundle   {}\nmachine  {}\n\n",
        r.bundle.display(),
        machine(&r.profile)
    );
    out.push_str(&line(&header));
    for (i, row) in rows.iter().enumerate() {
        out.push_str(&line(row));
        for (_, why) in reasons.iter().filter(|(at, _)| *at == i) {
            out.push_str(&format!("    ↳ {why}\n"));
        }
    }
    let list = |v: Vec<&str>| {
        if v.is_empty() {
            "(none)".to_string()
        } else {
            v.join(", ")
        }
    };
    out.push_str(&format!(
        "\nlaunch data: {}\n",
        list(r.launch_data.iter().map(|d| d.field.as_str()).collect())
    ));
    out.push_str(&format!(
        "ignored unknown properties: {}\n",
        list(r.ignored.iter().map(String::as_str).collect())
    ));
    match &r.refusal {
        None => out.push_str(&format!(
            "verdict: admitted ({} requirements, every one with a proven mechanism)\n",
            r.requirements.len()
        )),
        Some(why) => out.push_str(&format!("verdict: refused: {why}\n")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::profile::synthetic;
    use std::path::Path;

    fn sample() -> spec::LoadedSpec {
        let bundle = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bundles/linux");
        spec::load(&bundle).expect("the sample bundle loads")
    }

    #[test]
    fn plan_of_the_sample_bundle_lists_every_requirement_with_a_proven_row() {
        let ledger = Ledger::embedded().unwrap();
        let r = report(
            &sample(),
            &AdmitOptions::default(),
            &ledger,
            synthetic::hybrid(),
        );
        assert!(r.admitted, "{:?}", r.refusal);
        for e in &r.requirements {
            assert!(!e.mechanisms.is_empty(), "{}", e.field);
            for c in e.candidates.iter().filter(|c| c.chosen) {
                assert_eq!(c.status, Some(crate::plan::Status::Proven), "{}", e.field);
                assert!(!c.proofs.is_empty(), "{}", e.field);
            }
        }
        let t = table(&r);
        assert!(t.contains("verdict: admitted"), "{t}");
        for e in &r.requirements {
            assert!(t.contains(&e.field), "{} missing from the table", e.field);
        }
        assert!(t.contains("tests/namespaces.rs::pid_ns_sees_only_own_processes"));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["admitted"], true);
        assert!(json["requirements"][0]["candidates"][0]["proofs"].is_array());
    }

    #[test]
    fn a_refused_bundle_shows_the_reason_under_its_row() {
        let ledger = Ledger::embedded().unwrap();
        let base = sample();
        let mut v = serde_json::to_value(&base.spec).unwrap();
        v["hostname"] = serde_json::json!("box");
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "uts");
        let l = spec::parse(
            v.to_string().as_bytes(),
            base.bundle.clone(),
            &base.bundle.join("config.json"),
        )
        .unwrap();
        let r = report(&l, &AdmitOptions::default(), &ledger, synthetic::hybrid());
        assert!(!r.admitted);
        let t = table(&r);
        assert!(t.contains("hostname"), "{t}");
        assert!(t.contains("    ↳ no mechanism can enforce it: setting it without a UTS namespace would rename the host"), "{t}");
        assert!(
            t.contains("verdict: refused: hostname: requirement uts.name:"),
            "{t}"
        );
    }
}
