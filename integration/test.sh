#!/usr/bin/env bash
# Install what the tests need, build, and run every test: unit tests, the root-only integration
# tests (ground truth), the ledger gate over this very run, and the OCI conformance suite.
# BVISOR_REQUIRE_KERNEL=1 turns every kernel-feature skip into a failure (CI sets it).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
root=$(repo_root)
cd "$root"

apt_install busybox-static iproute2 procps util-linux runc crun jq python3 libseccomp-dev pkg-config protobuf-compiler uidmap \
  qemu-system-x86 cpio binutils gcc
if ! command -v cargo-nextest >/dev/null 2>&1 && ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --locked -q
fi

shared_parents_before=$(shared_cgroup_parents)

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -q -- -D warnings

echo "== build"
cargo build --workspace --bins -q
build_wasm_runner debug
bundles/linux/make-rootfs.sh
bundles/wasm/make-rootfs.sh

echo "== tests"
status=0
# A crashed run must not leave a stale report for the gate to pass on.
rm -f target/nextest/ci/junit.xml
cargo nextest run --workspace --profile ci --no-fail-fast || status=$?

echo "== ledger gate (proofs must have passed in this run)"
target/debug/bvisor-ledger-gate --ledger runtime/ledger.toml --junit target/nextest/ci/junit.xml || status=1

echo "== OCI conformance (runtime-tools validation) against bvisor, runc, crun"
BVISOR_BIN="$root/target/debug/bvisor" integration/conformance.sh || status=1

echo "== fuzzing (cargo-fuzz, ${BVISOR_FUZZ_SECONDS:-60}s per target from fuzz/seeds)"
integration/fuzz.sh || status=1

echo "== containerd (its runc v2 shim and containerd-shim-bvisor-v2) and podman driving bvisor"
integration/containerd.sh || status=1

echo "== Kubernetes CRI: containerd's CRI plugin with RuntimeClass handlers bvisor and bvisor-runc"
integration/cri.sh || status=1

# Containers leave bvisor's shared cgroup parent behind by design (as runc leaves its parents);
# the machine's tree goes back to how the run found it.
remove_shared_cgroup_parents "$shared_parents_before"

if [ "$status" != 0 ]; then
  echo "FAILED"
fi
exit "$status"
