//! What the shipped binaries link, read from the binaries themselves.
//!
//! oci-spec validates `process.execCPUAffinity` with a `regex::Regex` while deserializing a
//! `Process`. bvisor deserializes through its own mirrors (`runtime/src/spec/de.rs`) so the
//! regex engine, about a quarter of bvisor's code and so of its resident memory, is never
//! linked. One stray `serde_json::from_*::<Spec>` or `::<Process>` would link it back; this
//! test finds that by the panic message oci-spec's regex path embeds.

use bvisor_tests::bvisor_bin;
use std::path::PathBuf;

const MARKER: &str = "Failed to create regex for execCPUAffinity";

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// oci-spec's `src/runtime/process.rs`, as cargo resolved it for this workspace.
fn oci_spec_process_rs() -> PathBuf {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata failed");
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let manifest = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "oci-spec")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("oci-spec is a dependency");
    PathBuf::from(manifest)
        .with_file_name("src")
        .join("runtime/process.rs")
}

#[test]
fn binaries_do_not_link_oci_spec_regex_validation() {
    // Control: the marker is the message oci-spec's regex path carries, so its absence below
    // means the path is not linked, not that the marker is stale.
    let source = std::fs::read_to_string(oci_spec_process_rs()).unwrap();
    assert!(
        source.contains(MARKER) && source.contains("Regex::new"),
        "oci-spec no longer validates execCPUAffinity with a regex under this message: \
         revisit runtime/src/spec/de.rs and this test"
    );
    let bin = bvisor_bin();
    for b in [bin.clone(), bin.with_file_name("containerd-shim-bvisor-v2")] {
        let bytes = std::fs::read(&b).unwrap_or_else(|e| panic!("{}: {e}", b.display()));
        assert!(
            !contains(&bytes, MARKER),
            "{} links oci-spec's execCPUAffinity regex: some code deserializes an \
             oci_spec Spec or Process directly instead of through spec::de",
            b.display()
        );
    }
}
