//! Print the sealed launch plan bvisor builds for a config (default: the sample bundle's), as
//! the launcher receives it: `cargo run -p bvisor --example seal_sample [CONFIG]`. Fake fd
//! numbers and no cgroups: this is the plan's shape, for reading and as the fuzz seed
//! (fuzz/seeds/sealed_plan).

use bvisor::cgroups::CgroupSet;
use bvisor::container::launch::{self, Fds};
use bvisor::spec;
use std::io::Write;
use std::path::PathBuf;

fn main() {
    let path = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bundles/linux/config.json")
        });
    let bytes = std::fs::read(&path).expect("read config");
    let bundle = std::path::absolute(path.parent().expect("bundle dir")).expect("absolute");
    let loaded = spec::parse(&bytes, bundle, &path).expect("config parses");
    let fds = Fds {
        control: 3,
        exec_fifo: Some(4),
        root: Some(5),
        ..Fds::default()
    };
    let plan =
        launch::build_offline("sample", &loaded, &CgroupSet::default(), fds).expect("launch plan");
    let (sealed, _digest) = plan.encode();
    std::io::stdout().write_all(&sealed).expect("write");
}
