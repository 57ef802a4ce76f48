//! The gate's negative tests: planted bad ledgers and JUnit reports, each refused for its own
//! reason, and a good pair that passes. Fixtures are written into a temporary source tree.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A throwaway repository: Cargo.toml of the tests package and tests/namespaces.rs.
struct Tree {
    root: PathBuf,
}

impl Tree {
    fn new() -> Tree {
        static N: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "bvisor-gate-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("tests")).unwrap();
        let t = Tree { root };
        t.write(
            "Cargo.toml",
            "[package]\nname = \"bvisor-tests\"\nversion = \"0.1.0\"\n",
        );
        t.write(
            "tests/namespaces.rs",
            "#[test]\nfn pid_ok() {}\n\n#[test]\nfn skipped_one() {}\n\n#[test]\nfn failing() {}\n\n\
             #[test]\nfn flaky_one() {}\n\n#[test]\nfn never_ran() {}\n\n// fn commented_out()\n",
        );
        t
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.root.join(rel);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn gate(
        &self,
        ledger: &str,
        junit_xml: &str,
        mechanisms: &str,
    ) -> Result<Summary, Vec<Offence>> {
        let o = Options {
            ledger: self.write("ledger.toml", ledger),
            junit: self.write("junit.xml", junit_xml),
            root: self.root.clone(),
            tests_package: None,
            mechanisms: Some(self.write("mechanisms.txt", mechanisms)),
        };
        run(&o).expect("inputs read")
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

const JUNIT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run">
  <testsuite name="bvisor-tests::namespaces">
    <testcase name="pid_ok" classname="bvisor-tests::namespaces"><system-out>ok</system-out></testcase>
    <testcase name="skipped_one" classname="bvisor-tests::namespaces">
      <system-out>running 1 test
SKIP: this kernel has no pid namespaces
</system-out>
    </testcase>
    <testcase name="failing" classname="bvisor-tests::namespaces">
      <failure message="assertion failed: pid == 1" type="test failure"/>
    </testcase>
    <testcase name="flaky_one" classname="bvisor-tests::namespaces">
      <flakyFailure message="first try" type="test failure"/>
    </testcase>
  </testsuite>
</testsuites>
"#;

const MECHANISMS: &str = "# what the launcher can apply\nclone3:CLONE_NEWPID\nsetns:CLONE_NEWNET\n";

fn ledger_citing(proof: &str) -> String {
    format!(
        r#"
[[row]]
kind = "namespace.pid"
mechanism = "clone3:CLONE_NEWPID"
floor = {{ clone3 = true }}
status = "proven"
proofs = ["{proof}"]

[[row]]
kind = "namespace.network.join"
mechanism = "setns:CLONE_NEWNET"
status = "fail_closed"
"#
    )
}

fn only_problem(r: Result<Summary, Vec<Offence>>) -> (Problem, String) {
    let offences = r.expect_err("the gate must refuse");
    assert_eq!(offences.len(), 1, "{offences:#?}");
    let text = offences[0].to_string();
    match &offences[0] {
        Offence::Proof { problem, .. } => (problem.clone(), text),
        other => panic!("expected a proof offence, got {other}"),
    }
}

#[test]
fn a_good_ledger_passes() {
    let t = Tree::new();
    let s = t
        .gate(
            &ledger_citing("tests/namespaces.rs::pid_ok"),
            JUNIT,
            MECHANISMS,
        )
        .unwrap();
    assert_eq!(
        s,
        Summary {
            proven_rows: 1,
            proofs_passed: 1,
            mechanisms: 2
        }
    );
}

#[test]
fn a_proof_whose_test_does_not_exist_is_refused() {
    let t = Tree::new();
    let (p, text) = only_problem(t.gate(
        &ledger_citing("tests/namespaces.rs::no_such_test"),
        JUNIT,
        MECHANISMS,
    ));
    assert!(matches!(p, Problem::Missing(_)));
    assert_eq!(
        text,
        "proven row namespace.pid / clone3:CLONE_NEWPID: proof tests/namespaces.rs::no_such_test does not exist: tests/namespaces.rs has no fn no_such_test"
    );
    // a commented-out function is not a test either
    let (p, _) = only_problem(t.gate(
        &ledger_citing("tests/namespaces.rs::commented_out"),
        JUNIT,
        MECHANISMS,
    ));
    assert!(matches!(p, Problem::Missing(_)));
}

#[test]
fn a_proof_in_a_missing_file_is_refused() {
    let t = Tree::new();
    let (p, text) = only_problem(t.gate(
        &ledger_citing("tests/nowhere.rs::pid_ok"),
        JUNIT,
        MECHANISMS,
    ));
    assert!(matches!(p, Problem::Missing(_)));
    assert!(text.contains("tests/nowhere.rs"), "{text}");
}

#[test]
fn a_proof_that_did_not_run_is_refused() {
    let t = Tree::new();
    let (p, text) = only_problem(t.gate(
        &ledger_citing("tests/namespaces.rs::never_ran"),
        JUNIT,
        MECHANISMS,
    ));
    assert_eq!(p, Problem::NotRun);
    assert!(text.ends_with("did not run in this test run (not in the JUnit report)"));
}

#[test]
fn a_skipped_proof_is_refused() {
    let t = Tree::new();
    let (p, _) = only_problem(t.gate(
        &ledger_citing("tests/namespaces.rs::skipped_one"),
        JUNIT,
        MECHANISMS,
    ));
    assert_eq!(p, Problem::Skipped, "skipped at run time (marker)");
    let skipped_element = JUNIT.replace(
        r#"<system-out>ok</system-out>"#,
        r#"<skipped message="ignored"/>"#,
    );
    let (p, _) = only_problem(t.gate(
        &ledger_citing("tests/namespaces.rs::pid_ok"),
        &skipped_element,
        MECHANISMS,
    ));
    assert_eq!(p, Problem::Skipped, "skipped by the harness");
}

#[test]
fn a_failed_proof_is_refused() {
    let t = Tree::new();
    let (p, text) = only_problem(t.gate(
        &ledger_citing("tests/namespaces.rs::failing"),
        JUNIT,
        MECHANISMS,
    ));
    assert_eq!(
        p,
        Problem::Failed(Some("assertion failed: pid == 1".to_string()))
    );
    assert!(
        text.contains("failed in this test run: assertion failed"),
        "{text}"
    );
    let (p, _) = only_problem(t.gate(
        &ledger_citing("tests/namespaces.rs::flaky_one"),
        JUNIT,
        MECHANISMS,
    ));
    assert_eq!(p, Problem::Flaky);
}

#[test]
fn an_applied_mechanism_without_a_row_is_refused() {
    let t = Tree::new();
    let offences = t
        .gate(
            &ledger_citing("tests/namespaces.rs::pid_ok"),
            JUNIT,
            "clone3:CLONE_NEWPID\nsetns:CLONE_NEWNET\nclone3:CLONE_NEWTIME\n",
        )
        .unwrap_err();
    assert_eq!(
        offences,
        vec![Offence::NoRow {
            mechanism: "clone3:CLONE_NEWTIME".to_string()
        }]
    );
    assert_eq!(
        offences[0].to_string(),
        "mechanism clone3:CLONE_NEWTIME can be applied but has no ledger row"
    );
}

#[test]
fn proofs_match_their_package_and_binary() {
    let t = Tree::new();
    // the same test name in another binary does not count
    let other_binary = JUNIT.replace("bvisor-tests::namespaces", "bvisor-tests::mounts");
    let (p, _) = only_problem(t.gate(
        &ledger_citing("tests/namespaces.rs::pid_ok"),
        &other_binary,
        MECHANISMS,
    ));
    assert_eq!(p, Problem::NotRun);
    // nor in another package
    let other_package = JUNIT.replace("bvisor-tests::", "bvisor::");
    let (p, _) = only_problem(t.gate(
        &ledger_citing("tests/namespaces.rs::pid_ok"),
        &other_package,
        MECHANISMS,
    ));
    assert_eq!(p, Problem::NotRun);
}

#[test]
fn every_offence_is_reported_not_just_the_first() {
    let t = Tree::new();
    let ledger = r#"
[[row]]
kind = "a"
mechanism = "clone3:CLONE_NEWPID"
status = "proven"
proofs = ["tests/namespaces.rs::failing", "tests/namespaces.rs::skipped_one", "tests/namespaces.rs::pid_ok"]
"#;
    let offences = t.gate(ledger, JUNIT, MECHANISMS).unwrap_err();
    assert_eq!(offences.len(), 3, "{offences:#?}");
}

#[test]
fn unreadable_inputs_are_errors_not_passes() {
    let t = Tree::new();
    let o = Options {
        ledger: t.write("ledger.toml", "[[row]]\nkind = \"k\"\n"),
        junit: t.write("junit.xml", JUNIT),
        root: t.root.clone(),
        tests_package: None,
        mechanisms: None,
    };
    assert!(matches!(run(&o), Err(GateError::Ledger { .. })));
    let o = Options {
        ledger: t.write("ledger.toml", &ledger_citing("tests/namespaces.rs::pid_ok")),
        junit: t.root.join("absent.xml"),
        ..o
    };
    assert!(matches!(run(&o), Err(GateError::Read { .. })));
}

#[test]
fn fn_detection_is_by_whole_name() {
    let src = "#[test]\nfn pid_ok_too() {}\nfn  spaced ()\nasync fn generic<T>() {}\n";
    assert!(!defines_fn(src, "pid_ok"));
    assert!(defines_fn(src, "pid_ok_too"));
    assert!(defines_fn(src, "generic"));
    assert!(!defines_fn("fn xpid_ok() {}", "pid_ok"));
}

/// The real ledger's proofs follow the convention the gate reads: tests of the root package,
/// one binary per tests/*.rs.
#[test]
fn the_embedded_ledger_cites_only_root_package_tests() {
    let l = Ledger::embedded().unwrap();
    for r in l.proven() {
        for p in &r.proofs {
            assert!(
                p.file.starts_with("tests/") && p.file.ends_with(".rs"),
                "{p}"
            );
        }
    }
}
