//! The qualification ledger: `runtime/ledger.toml`, embedded at build time. A row is (requirement
//! kind, mechanism, floor, status, proofs); only a `proven` row admits (ARCHITECTURE §2 law 2).
//!
//! The ledger never self-stamps: this module only reads and checks its shape. Whether a proven
//! row's proofs exist, ran and passed is the ledger gate's business (`gate.rs`).

use super::floor::Floor;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// The ledger this binary was built with.
pub const EMBEDDED: &str = include_str!("../../ledger.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Cited tests prove the mechanism enforces the requirement.
    Proven,
    /// Not enforced yet: a config asking for it is refused.
    FailClosed,
    /// Partly built, not proven: refused like `fail_closed`.
    Incomplete,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Proven => "proven",
            Status::FailClosed => "fail_closed",
            Status::Incomplete => "incomplete",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cited test: `tests/<file>.rs::<fn>` (or `tests/<file>.rs::<module>::<fn>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Proof {
    /// `tests/namespaces.rs`, relative to the repository root.
    pub file: Cow<'static, str>,
    /// The test's path inside its binary: `pid_ns_sees_only_own_processes`.
    pub test: Cow<'static, str>,
}

impl Proof {
    pub fn parse(s: &str) -> Result<Proof, String> {
        let (file, test) = super::proof_syntax::split_proof(s)?;
        Ok(Proof {
            file: Cow::Owned(file.to_string()),
            test: Cow::Owned(test.to_string()),
        })
    }

    /// A proof of the compiled-in ledger (`build.rs` splits the TOML's strings with the same
    /// `split_proof` as [`Proof::parse`]).
    pub const fn from_static(file: &'static str, test: &'static str) -> Proof {
        Proof {
            file: Cow::Borrowed(file),
            test: Cow::Borrowed(test),
        }
    }

    /// The test binary's name: the file stem (`namespaces`).
    pub fn binary(&self) -> &str {
        self.file
            .trim_start_matches("tests/")
            .trim_end_matches(".rs")
    }

    /// The function's own name (the last path segment).
    pub fn function(&self) -> &str {
        self.test.rsplit("::").next().unwrap_or(&self.test)
    }
}

impl fmt::Display for Proof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}", self.file, self.test)
    }
}

impl Serialize for Proof {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Proof {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Proof::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// The requirement kind (`namespace.pid`, `cgroup.memory.limit`).
    pub kind: Cow<'static, str>,
    /// How bvisor enforces it (`clone3:CLONE_NEWPID`, `cgroup-v2:memory.max`).
    pub mechanism: Cow<'static, str>,
    #[serde(default)]
    pub floor: Floor,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proofs: Vec<Proof>,
    /// Why the row has its status, or what is missing before it can be proven.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Cow<'static, str>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger: {0}")]
    Parse(String),
    #[error("ledger row {index} ({kind} / {mechanism}): {detail}")]
    Row {
        index: usize,
        kind: String,
        mechanism: String,
        detail: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    row: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ledger {
    pub rows: Vec<Row>,
}

impl Ledger {
    /// The ledger compiled into this binary: `ledger.toml` turned into Rust by `build.rs`, so
    /// no command pays for parsing it (the test `compiled_rows_match_the_toml` keeps the two
    /// equal, and shape-checked).
    pub fn embedded() -> Result<Ledger, LedgerError> {
        let rows: Vec<Row> = include!(concat!(env!("OUT_DIR"), "/ledger_rows.rs"));
        Ok(Ledger { rows })
    }

    pub fn parse(text: &str) -> Result<Ledger, LedgerError> {
        let file: File = toml::from_str(text).map_err(|e| LedgerError::Parse(e.to_string()))?;
        let ledger = Ledger { rows: file.row };
        ledger.check()?;
        Ok(ledger)
    }

    /// Shape rules the TOML types cannot say.
    fn check(&self) -> Result<(), LedgerError> {
        for (i, r) in self.rows.iter().enumerate() {
            let bad = |detail: &str| LedgerError::Row {
                index: i,
                kind: r.kind.to_string(),
                mechanism: r.mechanism.to_string(),
                detail: detail.to_string(),
            };
            if r.kind.trim().is_empty() || r.mechanism.trim().is_empty() {
                return Err(bad("kind and mechanism must not be empty"));
            }
            if r.status == Status::Proven && r.proofs.is_empty() {
                return Err(bad("a proven row must cite the tests that prove it"));
            }
            if self.rows[..i]
                .iter()
                .any(|o| o.kind == r.kind && o.mechanism == r.mechanism)
            {
                return Err(bad("is listed twice"));
            }
        }
        Ok(())
    }

    pub fn row(&self, kind: &str, mechanism: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.kind == kind && r.mechanism == mechanism)
    }

    pub fn has_mechanism(&self, mechanism: &str) -> bool {
        self.rows.iter().any(|r| r.mechanism == mechanism)
    }

    pub fn proven(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.status == Status::Proven)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_rows_match_the_toml() {
        let parsed = Ledger::parse(EMBEDDED).expect("runtime/ledger.toml parses and checks");
        assert_eq!(Ledger::embedded().unwrap(), parsed);
    }

    #[test]
    fn embedded_ledger_parses() {
        let l = Ledger::embedded().expect("runtime/ledger.toml parses");
        assert!(l.proven().count() > 0);
    }

    #[test]
    fn every_launcher_and_cgroup_mechanism_has_a_row() {
        let l = Ledger::embedded().unwrap();
        let missing: Vec<&str> = bvisor_launcher::MECHANISMS
            .iter()
            .chain(crate::cgroups::resources::MECHANISMS)
            .chain(crate::cgroups::resources::UNIFIED_MECHANISMS)
            .chain(crate::container::wasm::MECHANISMS)
            .copied()
            .filter(|m| !l.has_mechanism(m))
            .collect();
        assert!(missing.is_empty(), "no ledger row: {missing:?}");
    }

    #[test]
    fn proofs_parse_strictly() {
        let p = Proof::parse("tests/namespaces.rs::pid_ns_sees_only_own_processes").unwrap();
        assert_eq!(p.binary(), "namespaces");
        assert_eq!(p.function(), "pid_ns_sees_only_own_processes");
        let p = Proof::parse("tests/mounts.rs::binds::flags_hold").unwrap();
        assert_eq!(p.function(), "flags_hold");
        for bad in [
            "namespaces.rs::x",
            "tests/namespaces::x",
            "tests/a/b.rs::x",
            "tests/../x.rs::y",
            "tests/x.rs::",
            "tests/x.rs::a b",
            "tests/x.rs",
        ] {
            assert!(Proof::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shape_errors_name_the_row() {
        let proven_without_proof = r#"
[[row]]
kind = "namespace.pid"
mechanism = "clone3:CLONE_NEWPID"
status = "proven"
"#;
        let e = Ledger::parse(proven_without_proof).unwrap_err().to_string();
        assert!(e.contains("namespace.pid / clone3:CLONE_NEWPID"), "{e}");
        assert!(e.contains("must cite"), "{e}");

        let twice = r#"
[[row]]
kind = "k"
mechanism = "m"
status = "fail_closed"
[[row]]
kind = "k"
mechanism = "m"
status = "incomplete"
"#;
        assert!(Ledger::parse(twice)
            .unwrap_err()
            .to_string()
            .contains("twice"));

        let unknown_field =
            "[[row]]\nkind = \"k\"\nmechanism = \"m\"\nstatus = \"proven\"\nproof = []\n";
        assert!(Ledger::parse(unknown_field).is_err());
        let bad_status = "[[row]]\nkind = \"k\"\nmechanism = \"m\"\nstatus = \"maybe\"\n";
        assert!(Ledger::parse(bad_status).is_err());
    }
}
