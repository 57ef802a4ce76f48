#!/usr/bin/env bash
# Build the wasm sample's rootfs into DIR (default: bundles/wasm/rootfs): /hello.wasm compiled from
# hello.wat, /etc/greeting for it to read, and the mount points config.json names. Nothing else:
# no shell, no libc, no runner (the runtime brings bvisor-wasm as an fd).
#
# hello.wat is turned into a binary by the crate's own `wat2wasm` example (the `wat` parser the
# runner itself uses for .wat), so the build needs cargo and nothing from apt. The binary form is
# what a real image ships and what the runtime's `\0asm` dispatch test recognises.
# The rootfs is generated, never committed. Idempotent: rebuilt only when hello.wat changed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-$here/rootfs}
src=$here/hello.wat
if [ -f "$dest/.bvisor-rootfs" ] && [ "$dest/hello.wasm" -nt "$src" ]; then
  exit 0
fi
rm -rf "$dest"
mkdir -p "$dest"/{etc,proc,sys,dev,tmp}
chmod 1777 "$dest/tmp"
(cd "$here/../.." && cargo run --quiet -p bvisor-wasm --example wat2wasm -- "$src" "$dest/hello.wasm")
echo "hello from the wasm bundle's rootfs" > "$dest/etc/greeting"
touch "$dest/.bvisor-rootfs"
