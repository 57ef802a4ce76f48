//! The pure start-up work of `bvisor create`, measured on the sample config
//! (`bundles/linux/config.json`): parse → requirements → plan → launch plan → seal.
//!
//! `cargo bench -p bvisor --bench plan` (a few seconds: small warm-up and measurement times).
//! Issue 8's goal: the whole chain under 200 µs.
//!
//! Benchmarks, each on its own and then the chain:
//! - `parse`: `spec::parse` of the config bytes (oci-spec + the unknown-property scan)
//! - `requirements`: config → requirements (`plan::requirements`)
//! - `plan`: the fail-closed planner against the embedded ledger and a probed profile
//! - `ledger_embedded`, `profile_probe`: what `plan::admit` does around the planner on every
//!   create (parse the embedded ledger, read the machine's facts from /proc and /sys)
//! - `launch_build`: admitted config → the launcher's `LaunchPlan` (fds and cgroups are fakes:
//!   `build` only copies their numbers)
//! - `seal`: `LaunchPlan::encode` (JSON + blake3 digest) + `sys::sealed_memfd`
//! - `chain/pure`: parse + requirements + plan + build + seal, ledger and profile given
//! - `chain/admit`: the same with `Ledger::embedded` and `Profile::probe` inside, as `create` runs it

use bvisor::cgroups::CgroupSet;
use bvisor::container::launch::{self, Fds};
use bvisor::plan::{self, AdmitOptions, Ledger, Profile};
use bvisor::spec::{self, LoadedSpec};
use bvisor_launcher::LaunchPlan;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The sample bundle, found from this crate's directory so `cargo bench` works from anywhere.
fn bundle() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../bundles/linux")
}

/// Fake fd numbers in the layout `create` uses (control, exec fifo, root, one cgroup.procs per
/// v1 hierarchy); the plan only carries them.
fn fds() -> Fds {
    Fds {
        control: 3,
        exec_fifo: Some(4),
        root: Some(5),
        cgroup_tasks: (6..14).collect(),
        cgroup_v2: Some(14),
        ..Fds::default()
    }
}

fn build(loaded: &LoadedSpec, cgroups: &CgroupSet) -> LaunchPlan {
    launch::build_offline("bench", loaded, cgroups, fds())
        .expect("the sample config builds a launch plan")
}

fn seal(p: &LaunchPlan) -> std::os::fd::OwnedFd {
    let (bytes, digest) = p.encode();
    black_box(digest);
    bvisor::sys::sealed_memfd("bvisor-plan", &bytes).expect("sealed memfd")
}

fn benches(c: &mut Criterion) {
    let bundle = bundle();
    let path = bundle.join("config.json");
    let bytes = std::fs::read(&path).expect("bundles/linux/config.json");
    let bundle_abs = std::path::absolute(&bundle).expect("absolute bundle path");
    let opts = AdmitOptions::default();
    let ledger = Ledger::embedded().expect("embedded ledger");
    let profile = Profile::probe();
    let cgroups = CgroupSet::default();

    let loaded = spec::parse(&bytes, bundle_abs.clone(), &path).expect("sample config parses");
    let reqs = plan::requirements(&loaded, &opts);
    // Fail loudly (not silently measure an error path) if this machine refuses the sample.
    plan::plan(&reqs, &ledger, &profile).expect("the sample config is admitted on this machine");
    let launch_plan = build(&loaded, &cgroups);

    let mut g = c.benchmark_group("plan");
    g.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(700))
        .sample_size(30);

    g.bench_function("parse", |b| {
        b.iter(|| spec::parse(black_box(&bytes), bundle_abs.clone(), &path).unwrap())
    });
    g.bench_function("requirements", |b| {
        b.iter(|| plan::requirements(black_box(&loaded), &opts))
    });
    g.bench_function("plan", |b| {
        b.iter(|| plan::plan(black_box(&reqs), &ledger, &profile).unwrap())
    });
    g.bench_function("ledger_embedded", |b| {
        b.iter(|| Ledger::embedded().unwrap())
    });
    g.bench_function("profile_probe", |b| b.iter(Profile::probe));
    g.bench_function("launch_build", |b| {
        b.iter(|| build(black_box(&loaded), &cgroups))
    });
    g.bench_function("seal", |b| b.iter(|| seal(black_box(&launch_plan))));

    g.bench_function("chain/pure", |b| {
        b.iter(|| {
            let l = spec::parse(black_box(&bytes), bundle_abs.clone(), &path).unwrap();
            let r = plan::requirements(&l, &opts);
            let p = plan::plan(&r, &ledger, &profile).unwrap();
            black_box(p);
            seal(&build(&l, &cgroups))
        })
    });
    g.bench_function("chain/admit", |b| {
        b.iter(|| {
            let l = spec::parse(black_box(&bytes), bundle_abs.clone(), &path).unwrap();
            let r = plan::requirements(&l, &opts);
            let ledger = Ledger::embedded().unwrap();
            let profile = Profile::probe();
            let p = plan::plan(&r, &ledger, &profile).unwrap();
            black_box(p);
            seal(&build(&l, &cgroups))
        })
    });
    g.finish();
}

criterion_group!(plan_benches, benches);
criterion_main!(plan_benches);
