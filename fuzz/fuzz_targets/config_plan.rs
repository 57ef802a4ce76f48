//! Any bytes as config.json: parse, map to requirements, plan against this machine's profile
//! and the embedded ledger, and (when admitted) build and seal the launch plan, whose sealed
//! bytes must decode to the same plan. Nothing may panic; every refusal is an error value.
#![no_main]

use bvisor::cgroups::CgroupSet;
use bvisor::container::launch::{self, Fds};
use bvisor::plan::{self, AdmitOptions, Ledger, Profile};
use bvisor::spec;
use bvisor_launcher::LaunchPlan;
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use std::sync::OnceLock;

fn fixed() -> &'static (Ledger, Profile) {
    static F: OnceLock<(Ledger, Profile)> = OnceLock::new();
    F.get_or_init(|| {
        (
            Ledger::embedded().expect("embedded ledger"),
            Profile::probe(),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let (ledger, profile) = fixed();
    let bundle = Path::new("/nonexistent-bundle");
    let Ok(loaded) = spec::parse(data, bundle.to_path_buf(), &bundle.join("config.json")) else {
        return;
    };
    let reqs = plan::requirements(&loaded, &AdmitOptions::default());
    if plan::plan(&reqs, ledger, profile).is_err() {
        return;
    }
    let fds = Fds {
        control: 3,
        exec_fifo: Some(4),
        root: Some(5),
        ..Fds::default()
    };
    let Ok(lp) = launch::build_offline("fuzz", &loaded, &CgroupSet::default(), fds) else {
        return;
    };
    let (bytes, digest) = lp.encode();
    let back = LaunchPlan::decode(&bytes, &digest).expect("a sealed plan decodes");
    assert_eq!(back.encode().0, bytes, "the plan changed through the seal");
});
