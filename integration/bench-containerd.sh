#!/usr/bin/env bash
# containerd side by side (issue 7): `ctr run --rm` of busybox `true` under
# containerd-shim-bvisor-v2 and under containerd's runc v2 shim with runc, and of the wasm hello
# image under bvisor's shim, in one hyperfine run on release builds, with ratios; then the peak
# RSS of each shim serving one container. Everything else (private containerd, local images,
# cleanup) is integration/containerd.sh, which also runs its cases first.
set -euo pipefail
cd "$(dirname "$0")/.."
. integration/lib.sh
apt_install libseccomp-dev pkg-config protobuf-compiler
cargo build --release --workspace --bins -q
BVISOR_PROFILE=release BVISOR_CTD_BENCH=1 exec integration/containerd.sh
