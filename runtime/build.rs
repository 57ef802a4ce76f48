//! Compile `ledger.toml` into Rust (`$OUT_DIR/ledger_rows.rs`), so no command parses TOML at
//! run time: building the rows costs microseconds, parsing them cost about 0.3 ms per command.
//! The unit test `plan::ledger::tests::compiled_rows_match_the_toml` checks the two agree, and
//! `Ledger::parse` (with all its shape checks) still reads any ledger file given at run time.

use std::fmt::Write as _;

include!("src/plan/proof_syntax.rs");

fn main() {
    println!("cargo:rerun-if-changed=ledger.toml");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/plan/proof_syntax.rs");
    let text = std::fs::read_to_string("ledger.toml").expect("read ledger.toml");
    let doc: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("ledger.toml: {e}"));
    let rows = match doc.get("row") {
        Some(toml::Value::Array(a)) => a.clone(),
        None => Vec::new(),
        Some(_) => panic!("ledger.toml: `row` must be an array of tables"),
    };
    let mut out = String::from("vec![\n");
    for (i, row) in rows.iter().enumerate() {
        let t = row
            .as_table()
            .unwrap_or_else(|| panic!("ledger.toml row {i}: not a table"));
        let s = |k: &str| t.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let kind = s("kind").unwrap_or_else(|| panic!("ledger.toml row {i}: no kind"));
        let mechanism =
            s("mechanism").unwrap_or_else(|| panic!("ledger.toml row {i}: no mechanism"));
        let status = match s("status").as_deref() {
            Some("proven") => "Proven",
            Some("fail_closed") => "FailClosed",
            Some("incomplete") => "Incomplete",
            other => panic!("ledger.toml row {i}: bad status {other:?}"),
        };
        for k in t.keys() {
            assert!(
                ["kind", "mechanism", "floor", "status", "proofs", "note"].contains(&k.as_str()),
                "ledger.toml row {i}: unknown key {k}"
            );
        }
        let mut floor = String::from("Floor {");
        if let Some(f) = t.get("floor") {
            let f = f
                .as_table()
                .unwrap_or_else(|| panic!("ledger.toml row {i}: floor"));
            for (k, v) in f {
                // Field names are the TOML keys: a misspelt key fails to compile.
                let val = match (k.as_str(), v) {
                    ("kernel", toml::Value::String(s)) => {
                        format!("Some(crate::plan::profile::KernelVersion::parse({s:?}).expect(\"kernel version\"))")
                    }
                    ("landlock_abi", toml::Value::Integer(n)) => format!("Some({n})"),
                    (_, toml::Value::Boolean(b)) => b.to_string(),
                    (_, toml::Value::Array(a)) => {
                        let items: Vec<String> = a
                            .iter()
                            .map(|x| format!("{:?}.to_string()", x.as_str().expect("string")))
                            .collect();
                        format!("Some(vec![{}])", items.join(", "))
                    }
                    _ => panic!("ledger.toml row {i}: floor.{k} has an unexpected type"),
                };
                write!(floor, " {k}: {val},").unwrap();
            }
        }
        floor.push_str(" ..Floor::default() }");
        let proofs: Vec<String> = t
            .get("proofs")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .map(|p| {
                        let p = p.as_str().expect("proof string");
                        // Proof::parse's own rules, so a bad proof fails the build.
                        let (file, test) =
                            split_proof(p).unwrap_or_else(|e| panic!("ledger.toml row {i}: {e}"));
                        format!("Proof::from_static({file:?}, {test:?})")
                    })
                    .collect()
            })
            .unwrap_or_default();
        let note = match s("note") {
            Some(n) => format!("Some(Cow::Borrowed({n:?}))"),
            None => "None".into(),
        };
        writeln!(
            out,
            "Row {{ kind: Cow::Borrowed({kind:?}), mechanism: Cow::Borrowed({mechanism:?}), floor: {floor}, status: Status::{status}, proofs: vec![{}], note: {note} }},",
            proofs.join(", ")
        )
        .unwrap();
    }
    out.push_str("]\n");
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("ledger_rows.rs");
    std::fs::write(dest, out).expect("write ledger_rows.rs");
}
