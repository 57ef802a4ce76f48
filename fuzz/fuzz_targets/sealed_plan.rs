//! The launcher's side of the seal: any bytes offered as a plan. With a digest that does not
//! match (a corrupted or truncated plan) decoding is refused before anything is read; with
//! the bytes' own digest the decoder may refuse but never panics, and what it accepts
//! re-encodes to a plan that decodes again.
#![no_main]

use bvisor_launcher::LaunchPlan;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let digest = blake3::hash(data).to_hex().to_string();
    // One byte less (truncated) and a flipped digest (corrupted): both refused.
    if !data.is_empty() {
        assert!(LaunchPlan::decode(&data[..data.len() - 1], &digest).is_err());
    }
    let mut wrong = digest.clone().into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).unwrap();
    assert!(LaunchPlan::decode(data, &wrong).is_err());
    if let Ok(plan) = LaunchPlan::decode(data, &digest) {
        let (bytes, d) = plan.encode();
        LaunchPlan::decode(&bytes, &d).expect("a re-encoded plan decodes");
    }
});
