//! Read a JUnit XML report (as cargo-nextest writes it) into test outcomes, for the ledger gate.
//!
//! nextest names a test binary's suite `<package>::<binary>` and each case by its path inside
//! the binary; a failed case has `<failure>`/`<error>`, a case that failed and then passed on a
//! retry has `<flakyFailure>`/`<flakyError>`, a skipped one `<skipped>`. Ignored tests are not
//! in the report at all. A test that skips itself at run time (a kernel feature is missing)
//! still passes as far as the harness knows, so it prints [`SKIP_MARKER`] and the gate reads the
//! case's captured output (nextest's `store-success-output = true`).

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

/// The line a test prints when it skips itself at run time (`tests/support`: `skip()` prints
/// `SKIP: <reason>` to stderr); the gate counts such a test as skipped, never as a proof.
pub const SKIP_MARKER: &str = "SKIP: ";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Passed,
    Skipped,
    /// Failed at least once, then passed on a retry.
    Flaky,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    /// `bvisor-tests::namespaces`.
    pub suite: String,
    /// `pid_ns_sees_only_own_processes`.
    pub name: String,
    pub outcome: Outcome,
    /// The failure message, when there is one.
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub cases: Vec<TestCase>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JunitError {
    #[error("junit report: malformed XML at byte {position}: {detail}")]
    Xml { position: u64, detail: String },
    #[error("junit report: no <testsuites> or <testsuite> element: not a JUnit report")]
    NotJunit,
    #[error("junit report: <testcase> without a name at byte {0}")]
    Unnamed(u64),
}

impl Report {
    /// The cases of `suite` named `name` (a retried test may appear more than once).
    pub fn find<'a>(&'a self, suite: &'a str, name: &'a str) -> impl Iterator<Item = &'a TestCase> {
        self.cases
            .iter()
            .filter(move |c| c.suite == suite && c.name == name)
    }
}

/// The parser's state: the suites it is inside, the open test case and its captured output.
#[derive(Default)]
struct Parser {
    report: Report,
    suites: Vec<String>,
    seen_root: bool,
    case: Option<TestCase>,
    /// Inside `<system-out>` or `<system-err>`.
    in_output: bool,
    output: String,
}

pub fn parse(xml: &str) -> Result<Report, JunitError> {
    let mut reader = Reader::from_str(xml);
    let mut p = Parser::default();
    loop {
        let pos = reader.buffer_position();
        let ev = reader.read_event().map_err(|e| JunitError::Xml {
            position: reader.error_position(),
            detail: e.to_string(),
        })?;
        match ev {
            Event::Start(e) => p.start(&e, false, pos)?,
            Event::Empty(e) => p.start(&e, true, pos)?,
            Event::End(e) => p.end(e.name().as_ref()),
            Event::Text(t) if p.in_output => p.output.push_str(&t.xml10_content()),
            Event::CData(t) if p.in_output => p.output.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if p.in_output => {
                // Predefined entities only; a marker never contains one, so anything else can
                // be dropped without hiding a skip.
                let s = match r.into_inner().as_ref() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    _ => "",
                };
                p.output.push_str(s);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    p.finish();
    if !p.seen_root {
        return Err(JunitError::NotJunit);
    }
    Ok(p.report)
}

impl Parser {
    fn start(&mut self, e: &BytesStart<'_>, empty: bool, pos: u64) -> Result<(), JunitError> {
        let xml_err = |detail: String| JunitError::Xml {
            position: pos,
            detail,
        };
        let attr = |key: &str| -> Result<Option<String>, JunitError> {
            for a in e.attributes() {
                let a = a.map_err(|err| xml_err(err.to_string()))?;
                if a.key.as_ref() == key {
                    let v = a
                        .normalized_value(XmlVersion::Implicit1_0)
                        .map_err(|err| xml_err(err.to_string()))?;
                    return Ok(Some(v.into_owned()));
                }
            }
            Ok(None)
        };
        match e.name().as_ref() {
            "testsuites" => self.seen_root = true,
            "testsuite" => {
                self.seen_root = true;
                if !empty {
                    self.suites.push(attr("name")?.unwrap_or_default());
                }
            }
            "testcase" => {
                self.finish();
                let name = attr("name")?.ok_or(JunitError::Unnamed(pos))?;
                let suite = match self.suites.last() {
                    Some(s) if !s.is_empty() => s.clone(),
                    _ => attr("classname")?.unwrap_or_default(),
                };
                self.case = Some(TestCase {
                    suite,
                    name,
                    outcome: Outcome::Passed,
                    message: None,
                });
                if empty {
                    self.finish();
                }
            }
            "failure" | "error" | "rerunFailure" | "rerunError" => {
                let msg = attr("message")?;
                if let Some(c) = &mut self.case {
                    c.outcome = Outcome::Failed;
                    if c.message.is_none() {
                        c.message = msg;
                    }
                }
            }
            "flakyFailure" | "flakyError" => {
                if let Some(c) = &mut self.case {
                    c.outcome = c.outcome.max(Outcome::Flaky);
                }
            }
            "skipped" => {
                if let Some(c) = &mut self.case {
                    c.outcome = c.outcome.max(Outcome::Skipped);
                }
            }
            "system-out" | "system-err" => self.in_output = !empty,
            _ => {}
        }
        Ok(())
    }

    fn end(&mut self, name: &str) {
        match name {
            "testsuite" => {
                self.suites.pop();
            }
            "testcase" => self.finish(),
            "system-out" | "system-err" => {
                self.in_output = false;
                self.output.push('\n');
            }
            _ => {}
        }
    }

    /// Close the open test case: a passing case whose output carries the skip marker was
    /// skipped.
    fn finish(&mut self) {
        if let Some(mut c) = self.case.take() {
            if c.outcome == Outcome::Passed
                && self
                    .output
                    .lines()
                    .any(|l| l.trim_start().starts_with(SKIP_MARKER))
            {
                c.outcome = Outcome::Skipped;
            }
            self.report.cases.push(c);
        }
        self.in_output = false;
        self.output.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape cargo-nextest 0.9 writes (captured from a real run, trimmed).
    const NEXTEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="4" failures="1" errors="0">
    <testsuite name="bvisor-tests::namespaces" tests="4" disabled="0" errors="0" failures="1">
        <testcase name="passes" classname="bvisor-tests::namespaces" time="0.011">
            <system-out>
running 1 test
test passes ... ok
</system-out>
            <system-err></system-err>
        </testcase>
        <testcase name="skips_at_runtime" classname="bvisor-tests::namespaces" time="0.009">
            <system-out>
running 1 test
SKIP: no time namespace in this kernel
test skips_at_runtime ... ok
</system-out>
        </testcase>
        <testcase name="fails" classname="bvisor-tests::namespaces" time="0.114">
            <failure message="thread &apos;fails&apos; panicked at tests/alpha.rs:2:22" type="test failure with exit code 101">boom &lt;&amp;&gt;</failure>
            <system-out>test fails ... FAILED</system-out>
        </testcase>
        <testcase name="flaky" classname="bvisor-tests::namespaces">
            <flakyFailure message="first try" type="test failure"/>
        </testcase>
        <testcase name="ignored" classname="bvisor-tests::namespaces"><skipped/></testcase>
        <testcase name="module::inner" classname="bvisor-tests::namespaces"/>
    </testsuite>
    <testsuite name="bvisor" tests="1">
        <testcase name="plan::tests::x" classname="bvisor"/>
    </testsuite>
</testsuites>
"#;

    #[test]
    fn reads_nextest_outcomes() {
        let r = parse(NEXTEST).unwrap();
        let get = |n: &str| {
            r.find("bvisor-tests::namespaces", n)
                .next()
                .unwrap_or_else(|| panic!("{n}"))
                .clone()
        };
        assert_eq!(get("passes").outcome, Outcome::Passed);
        assert_eq!(get("skips_at_runtime").outcome, Outcome::Skipped);
        let f = get("fails");
        assert_eq!(f.outcome, Outcome::Failed);
        assert_eq!(
            f.message.as_deref(),
            Some("thread 'fails' panicked at tests/alpha.rs:2:22")
        );
        assert_eq!(get("flaky").outcome, Outcome::Flaky);
        assert_eq!(get("ignored").outcome, Outcome::Skipped);
        assert_eq!(get("module::inner").outcome, Outcome::Passed);
        assert_eq!(r.find("bvisor", "plan::tests::x").count(), 1);
        assert_eq!(r.cases.len(), 7);
    }

    #[test]
    fn a_marker_in_a_failing_case_does_not_hide_the_failure() {
        let xml = r#"<testsuites><testsuite name="p::b"><testcase name="t">
            <failure message="m"/><system-out>SKIP: x</system-out></testcase>
            </testsuite></testsuites>"#;
        assert_eq!(parse(xml).unwrap().cases[0].outcome, Outcome::Failed);
    }

    #[test]
    fn the_marker_must_start_a_line() {
        let xml = r#"<testsuites><testsuite name="p::b"><testcase name="t">
            <system-out>assert_ne!(out, "SKIP: x")</system-out></testcase>
            </testsuite></testsuites>"#;
        assert_eq!(parse(xml).unwrap().cases[0].outcome, Outcome::Passed);
    }

    #[test]
    fn rejects_what_is_not_junit() {
        assert_eq!(parse("<html></html>"), Err(JunitError::NotJunit));
        assert!(matches!(
            parse("<testsuites><testsuite name=\"a\"><testcase></testsuite>"),
            Err(JunitError::Xml { .. }) | Err(JunitError::Unnamed(_))
        ));
        assert!(matches!(
            parse("<testsuites><a></b></testsuites>"),
            Err(JunitError::Xml { .. })
        ));
    }
}
