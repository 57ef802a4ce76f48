//! `bvisor-ledger-gate`: fail the CI run when a proven ledger row's proofs did not pass in it, or
//! when bvisor can apply a mechanism the ledger has no row for (ARCHITECTURE §2 law 2).
//!
//! ```text
//! bvisor-ledger-gate --ledger runtime/ledger.toml --junit target/nextest/ci/junit.xml
//! ```
//!
//! Exit 0: every proof passed; 1: the gate refuses (each offence on its own line); 2: the
//! inputs could not be read. The checks live in `bvisor::plan::gate`.

use bvisor::plan::gate::{self, Options};
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "bvisor-ledger-gate",
    about = "Check that every proven ledger row's tests ran and passed in this test run"
)]
struct Args {
    /// The ledger to check
    #[arg(long, default_value = "runtime/ledger.toml")]
    ledger: PathBuf,
    /// JUnit report of this run (cargo nextest run --profile ci writes target/nextest/ci/junit.xml)
    #[arg(long)]
    junit: PathBuf,
    /// Repository root: cited proofs are tests/<file>.rs under it
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Package whose tests/ hold the proofs (default: [package] name of <root>/Cargo.toml)
    #[arg(long = "tests-package")]
    tests_package: Option<String>,
    /// Check these mechanisms (one per line) instead of the ones bvisor can apply
    #[arg(long = "launcher-mechanisms", value_name = "FILE")]
    launcher_mechanisms: Option<PathBuf>,
}

fn main() {
    let a = Args::parse();
    let o = Options {
        ledger: a.ledger,
        junit: a.junit,
        root: a.root,
        tests_package: a.tests_package,
        mechanisms: a.launcher_mechanisms,
    };
    let code = match gate::run(&o) {
        Ok(Ok(s)) => {
            println!(
                "ledger gate: ok: {} proven rows, {} cited tests passed in this run, {} applied mechanisms have rows",
                s.proven_rows, s.proofs_passed, s.mechanisms
            );
            0
        }
        Ok(Err(offences)) => {
            for o in &offences {
                eprintln!("ledger gate: {o}");
            }
            eprintln!("ledger gate: FAILED: {} problem(s)", offences.len());
            1
        }
        Err(e) => {
            eprintln!("ledger gate: {e}");
            2
        }
    };
    std::process::exit(code);
}
