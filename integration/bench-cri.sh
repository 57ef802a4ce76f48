#!/usr/bin/env bash
# Kubernetes CRI side by side (issue 10): pod start (RunPodSandbox -> container running) and
# teardown (StopPodSandbox + RemovePodSandbox) latency, medians over BVISOR_CRI_RUNS (10) pods,
# for the RuntimeClass handlers `bvisor` (containerd-shim-bvisor-v2), `bvisor-runc` (containerd's
# runc v2 shim with bvisor as its binary) and `runc` (the runc v2 shim with runc), in one run on
# release builds, printed with ratios. Everything else (containerd with CRI in its own network
# namespace, local images, cleanup) is integration/cri.sh, which runs its cases first.
set -euo pipefail
cd "$(dirname "$0")/.."
. integration/lib.sh
apt_install libseccomp-dev pkg-config protobuf-compiler
cargo build --release --workspace --bins -q
BVISOR_PROFILE=release BVISOR_CRI_BENCH=1 exec integration/cri.sh
