// The syntax of a ledger proof, `tests/<file>.rs::<test>`: shared by `Proof::parse` (as a module)
// and `build.rs` (by `include!`), so the ledger compiled into the binary and a ledger read at run
// time accept exactly the same proofs. Plain std only: build.rs has no crate to import.

/// Split a proof into its file (`tests/namespaces.rs`) and test path (`mod::test_fn`).
pub fn split_proof(s: &str) -> Result<(&str, &str), String> {
    let ident_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let (file, test) = s
        .split_once("::")
        .ok_or_else(|| format!("proof {s:?}: expected tests/<file>.rs::<test_fn>"))?;
    let stem = file
        .strip_prefix("tests/")
        .and_then(|f| f.strip_suffix(".rs"))
        .ok_or_else(|| format!("proof {s:?}: the file must be tests/<file>.rs"))?;
    // One level only: cargo builds a test binary from each tests/*.rs, not from subdirectories.
    if stem.is_empty() || !stem.chars().all(ident_char) {
        return Err(format!(
            "proof {s:?}: {file:?} is not a test file of tests/"
        ));
    }
    if test.is_empty()
        || !test
            .split("::")
            .all(|seg| !seg.is_empty() && seg.chars().all(ident_char))
    {
        return Err(format!("proof {s:?}: {test:?} is not a test function name"));
    }
    Ok((file, test))
}
