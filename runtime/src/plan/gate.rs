//! The ledger gate (ARCHITECTURE §2 law 2): after the test suite, check that every `proven` row
//! of the ledger is backed by this very run, and that every mechanism bvisor can apply has a row.
//!
//! A proven row fails the gate when a cited test's file or function is missing from the source
//! tree, when the test is not in the run's JUnit report (it did not run: filtered, ignored, or
//! its binary did not build), or when it was skipped, failed, or only passed on a retry. The
//! `bvisor-ledger-gate` binary is a thin wrapper over [`run`].

use super::junit::{self, Outcome, Report};
use super::ledger::{Ledger, LedgerError, Proof, Row};
use std::fmt;
use std::path::{Path, PathBuf};

/// Every mechanism bvisor can apply: the launcher's and the runtime's cgroup writes.
pub fn applied_mechanisms() -> Vec<String> {
    bvisor_launcher::MECHANISMS
        .iter()
        .chain(crate::cgroups::resources::MECHANISMS)
        .chain(crate::cgroups::resources::UNIFIED_MECHANISMS)
        .chain(crate::container::wasm::MECHANISMS)
        .map(|s| s.to_string())
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The cited file or function is not in the source tree.
    Missing(String),
    /// Not in the JUnit report.
    NotRun,
    Skipped,
    Failed(Option<String>),
    Flaky,
}

/// One reason the gate fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offence {
    Proof {
        kind: String,
        mechanism: String,
        proof: Proof,
        problem: Problem,
    },
    /// bvisor can apply this mechanism, but the ledger has no row for it.
    NoRow { mechanism: String },
}

impl fmt::Display for Offence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Offence::Proof {
                kind,
                mechanism,
                proof,
                problem,
            } => {
                write!(f, "proven row {kind} / {mechanism}: proof {proof} ")?;
                match problem {
                    Problem::Missing(why) => write!(f, "does not exist: {why}"),
                    Problem::NotRun => {
                        write!(f, "did not run in this test run (not in the JUnit report)")
                    }
                    Problem::Skipped => write!(f, "was skipped in this test run"),
                    Problem::Failed(Some(m)) => write!(f, "failed in this test run: {m}"),
                    Problem::Failed(None) => write!(f, "failed in this test run"),
                    Problem::Flaky => {
                        write!(f, "failed before passing on a retry in this test run")
                    }
                }
            }
            Offence::NoRow { mechanism } => write!(
                f,
                "mechanism {mechanism} can be applied but has no ledger row"
            ),
        }
    }
}

/// What the gate checks against.
pub struct Inputs<'a> {
    pub ledger: &'a Ledger,
    pub junit: &'a Report,
    /// Repository root: proofs' files are relative to it.
    pub source_root: &'a Path,
    /// The package whose `tests/` hold the proofs: JUnit suites are `<package>::<file stem>`.
    pub tests_package: &'a str,
    pub mechanisms: &'a [String],
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub proven_rows: usize,
    pub proofs_passed: usize,
    pub mechanisms: usize,
}

/// Every offence, in ledger order, then the mechanisms without rows.
pub fn check(i: &Inputs) -> Result<Summary, Vec<Offence>> {
    let mut offences = Vec::new();
    let mut summary = Summary {
        mechanisms: i.mechanisms.len(),
        ..Summary::default()
    };
    for row in i.ledger.proven() {
        summary.proven_rows += 1;
        for proof in &row.proofs {
            match proof_problem(i, proof) {
                None => summary.proofs_passed += 1,
                Some(problem) => offences.push(offence(row, proof, problem)),
            }
        }
    }
    for m in i.mechanisms {
        if !i.ledger.has_mechanism(m) {
            offences.push(Offence::NoRow {
                mechanism: m.clone(),
            });
        }
    }
    if offences.is_empty() {
        Ok(summary)
    } else {
        Err(offences)
    }
}

fn offence(row: &Row, proof: &Proof, problem: Problem) -> Offence {
    Offence::Proof {
        kind: row.kind.to_string(),
        mechanism: row.mechanism.to_string(),
        proof: proof.clone(),
        problem,
    }
}

fn proof_problem(i: &Inputs, proof: &Proof) -> Option<Problem> {
    let file = i.source_root.join(proof.file.as_ref());
    let src = match std::fs::read_to_string(&file) {
        Ok(s) => s,
        Err(e) => return Some(Problem::Missing(format!("{}: {e}", file.display()))),
    };
    if !defines_fn(&src, proof.function()) {
        return Some(Problem::Missing(format!(
            "{} has no fn {}",
            proof.file,
            proof.function()
        )));
    }
    let suite = format!("{}::{}", i.tests_package, proof.binary());
    // A test that ran more than once counts by its worst run.
    let Some(worst) = i.junit.find(&suite, &proof.test).max_by_key(|c| c.outcome) else {
        return Some(Problem::NotRun);
    };
    match worst.outcome {
        Outcome::Passed => None,
        Outcome::Skipped => Some(Problem::Skipped),
        Outcome::Flaky => Some(Problem::Flaky),
        Outcome::Failed => Some(Problem::Failed(worst.message.clone())),
    }
}

/// `fn name(` or `fn name<` as a whole word, not in a `//` comment: the cited test is defined
/// in the file. (Whether it is a `#[test]` is the JUnit report's to say: it ran or it did not.)
fn defines_fn(src: &str, name: &str) -> bool {
    let needle = format!("fn {name}");
    src.match_indices(&needle).any(|(at, _)| {
        let line_start = src[..at].rfind('\n').map_or(0, |i| i + 1);
        let commented = src[line_start..at].contains("//");
        let before_ok = src[..at]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace());
        let rest = src[at + needle.len()..].trim_start();
        !commented && before_ok && (rest.starts_with('(') || rest.starts_with('<'))
    })
}

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Ledger { path: PathBuf, source: LedgerError },
    #[error("{path}: {source}")]
    Junit {
        path: PathBuf,
        source: junit::JunitError,
    },
    #[error("{path}: {detail}")]
    Manifest { path: PathBuf, detail: String },
}

/// File-level options of the gate binary.
pub struct Options {
    pub ledger: PathBuf,
    pub junit: PathBuf,
    pub root: PathBuf,
    /// `None`: the `[package] name` of `<root>/Cargo.toml`.
    pub tests_package: Option<String>,
    /// `None`: [`applied_mechanisms`]. Else a file with one mechanism per line (for planted
    /// tests of the gate itself).
    pub mechanisms: Option<PathBuf>,
}

/// Read the files and check. `Ok(Err(offences))` is a gate failure; `Err` a usage error.
pub fn run(o: &Options) -> Result<Result<Summary, Vec<Offence>>, GateError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|source| GateError::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    let ledger = Ledger::parse(&read(&o.ledger)?).map_err(|source| GateError::Ledger {
        path: o.ledger.clone(),
        source,
    })?;
    let report = junit::parse(&read(&o.junit)?).map_err(|source| GateError::Junit {
        path: o.junit.clone(),
        source,
    })?;
    let package = match &o.tests_package {
        Some(p) => p.clone(),
        None => package_name(&o.root.join("Cargo.toml"), &read)?,
    };
    let mechanisms = match &o.mechanisms {
        Some(p) => read(p)?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect(),
        None => applied_mechanisms(),
    };
    Ok(check(&Inputs {
        ledger: &ledger,
        junit: &report,
        source_root: &o.root,
        tests_package: &package,
        mechanisms: &mechanisms,
    }))
}

fn package_name(
    manifest: &Path,
    read: &impl Fn(&Path) -> Result<String, GateError>,
) -> Result<String, GateError> {
    let text = read(manifest)?;
    let v: toml::Value = toml::from_str(&text).map_err(|e| GateError::Manifest {
        path: manifest.to_path_buf(),
        detail: e.to_string(),
    })?;
    v.get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .ok_or_else(|| GateError::Manifest {
            path: manifest.to_path_buf(),
            detail: "no [package] name: pass --tests-package".to_string(),
        })
}

#[cfg(test)]
mod tests;
