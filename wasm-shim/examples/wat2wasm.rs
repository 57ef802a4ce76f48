//! `wat2wasm IN.wat OUT.wasm`: the text-to-binary step of bundles/wasm/make-rootfs.sh, with the
//! same parser the runner uses for .wat, so building the sample needs nothing beyond cargo.

#![forbid(unsafe_code)]

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: wat2wasm IN.wat OUT.wasm");
        std::process::exit(2);
    };
    let binary = match wat::parse_file(input) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("wat2wasm: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = std::fs::write(output, binary) {
        eprintln!("wat2wasm: cannot write {output}: {e}");
        std::process::exit(1);
    }
}
