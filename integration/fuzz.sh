#!/usr/bin/env bash
# Fuzz bvisor's input surfaces with cargo-fuzz (libFuzzer + AddressSanitizer), each target for a
# bounded time from the committed seeds (fuzz/seeds/<target>):
#   config_plan  any bytes as config.json -> requirements -> plan -> launch plan -> seal
#   sealed_plan  any bytes as the launcher's sealed plan (wrong digest, truncation, garbage)
# A crash, panic or sanitizer report fails the run; the input is kept in fuzz/artifacts/.
#
#   BVISOR_FUZZ_SECONDS   time per target (default 60)
#   integration/fuzz.sh [TARGET...]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
root=$(repo_root)
cd "$root"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked -q
fi
# cargo-fuzz passes nightly-only rustc flags (-Zsanitizer=address); the machine has only the
# stable toolchain, which accepts them when told it is bootstrapping.
export RUSTC_BOOTSTRAP=1
secs=${BVISOR_FUZZ_SECONDS:-60}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config_plan sealed_plan)

cargo fuzz build --fuzz-dir fuzz -O
status=0
for t in "${targets[@]}"; do
  # The fuzzer adds what it finds to its first corpus directory: a scratch copy, so the
  # committed seeds stay as they are.
  corpus=$(mktemp -d)
  cp fuzz/seeds/"$t"/* "$corpus"/
  mkdir -p fuzz/artifacts/"$t"
  echo "== fuzz $t for ${secs}s"
  if cargo fuzz run --fuzz-dir fuzz -O "$t" "$corpus" -- \
      -max_total_time="$secs" -rss_limit_mb=4096 -max_len=65536 \
      -artifact_prefix=fuzz/artifacts/"$t"/ -print_final_stats=1 >"$corpus.log" 2>&1; then
    grep -E "stat::number_of_executed_units|cov:" "$corpus.log" | tail -2
    echo "fuzz $t: ok"
  else
    tail -40 "$corpus.log"
    echo "fuzz $t: FAILED (input kept under fuzz/artifacts/$t/)"
    status=1
  fi
  rm -rf "$corpus" "$corpus.log"
done
exit "$status"
