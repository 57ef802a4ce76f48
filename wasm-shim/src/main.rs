//! `bvisor-wasm`: run one WASI preview 1 module. See [`bvisor_wasm::cli`] for the command line
//! and [`bvisor_wasm::error`] for the exit codes.

#![forbid(unsafe_code)]

use bvisor_wasm::cli::{self, UsageError};
use std::io::Write;

fn main() {
    let code = match cli::parse(std::env::args_os().skip(1)) {
        Ok(cfg) => match bvisor_wasm::run(&cfg) {
            Ok(status) => status,
            Err(e) => {
                eprintln!("bvisor-wasm: {e}");
                e.exit_code()
            }
        },
        Err(UsageError::Help) => {
            println!("{}", cli::USAGE);
            0
        }
        Err(e) => {
            eprintln!("bvisor-wasm: {e}\n{}", cli::USAGE);
            bvisor_wasm::EXIT_SETUP
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}
