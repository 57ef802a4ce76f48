#!/usr/bin/env bash
# Build bvisor, make the sample rootfs, and run the sample Linux container from bundles/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
root=$(repo_root)
cd "$root"
apt_install busybox-static libseccomp-dev pkg-config protobuf-compiler
cargo build --release --workspace --bins -q
build_wasm_runner release
bundles/linux/make-rootfs.sh
bundles/wasm/make-rootfs.sh
state=$(mktemp -d /tmp/bvisor-demo.XXXXXX)
trap 'rm -rf "$state"' EXIT
echo "== bvisor plan (what the sample container is admitted with)"
target/release/bvisor plan --bundle bundles/linux || true
echo
echo "== bvisor run: the sample Linux container"
(cd bundles/linux && "$root/target/release/bvisor" --root "$state" run "demo-$$")
echo
echo "== bvisor run: the sample wasm container (bvisor-wasm on wasmi, same confinement)"
(cd bundles/wasm && "$root/target/release/bvisor" --root "$state" run "demo-wasm-$$")
