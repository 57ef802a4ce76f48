#!/usr/bin/env bash
# Profile of bvisor's `run` path (issue 8): where the time of one `run` of busybox `true` goes,
# phase by phase, and which syscalls each process on the path makes.
#
# usage: integration/profile-run.sh [RUNS]   (root; default 25 runs)
#   1. `bvisor --debug --log F run` RUNS times, 50 ms apart, on the benchmark's bundle (lib.sh's
#      bench_bundle: busybox rootfs, `runc spec` config with seccomp and the cgroup namespace,
#      args ["/bin/true"]): the median time of each phase since main
#      began, and the step from the phase before. Phases come from the runtime (`cli::log::phase`)
#      and from the launcher's step reports, so the launcher's steps appear as the runtime saw them.
#   2. `perf trace -s` of one run, when perf works here: syscalls per process (the runtime, the
#      launcher, the container's init, which becomes `true`), most frequent first.
# environment: BVISOR_BIN (default target/dist/bvisor, built by lib.sh's build_dist).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
root=$(repo_root)
cd "$root"
runs=${1:-25}
[ "$(id -u)" = 0 ] || { echo "profile-run.sh: needs root" >&2; exit 1; }
apt_install busybox-static runc jq python3
bin=${BVISOR_BIN:-}
if [ -z "$bin" ]; then
  build_dist target/dist
  bin=$root/target/dist/bvisor
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/bvisor-profile.XXXXXX")
parents_before=$(shared_cgroup_parents)
cleanup() {
  "$bin" --root "$work/state" list -q 2>/dev/null | while read -r id; do
    "$bin" --root "$work/state" delete --force "$id" || true
  done
  remove_shared_cgroup_parents "$parents_before"
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

bench_bundle "$work/bundle"

echo "== phases: median of $runs runs of \`$bin run\` (µs since main began, step from the phase before)"
for i in $(seq 1 "$runs"); do
  sleep 0.05
  "$bin" --debug --log "$work/log.$i" --root "$work/state" run --bundle "$work/bundle" "prof-$$-$i"
done
cat "$work"/log.* | python3 -c '
import re, statistics, sys
phases = {}
for line in sys.stdin:
    m = re.search(r"phase ([^:\"]+): \+(\d+) us", line)
    if m:
        phases.setdefault(m.group(1), []).append(int(m.group(2)))
prev = 0
for name, v in phases.items():
    med = statistics.median(v)
    print(f"{med:8.0f}  (+{med - prev:5.0f})  {name}")
    prev = med
'

echo
echo "== syscalls per process of one run (perf trace -s)"
if command -v perf >/dev/null 2>&1 &&
  perf trace -s -o "$work/trace" "$bin" --root "$work/state" run --bundle "$work/bundle" "prof-$$-trace" 2>/dev/null; then
  python3 - "$work/trace" <<'PY'
import re, sys
procs = {}
cur = None
for line in open(sys.argv[1]):
    m = re.match(r"^ (\S+) \((\d+)\), (\d+) events", line)
    if m:
        cur = f"{m.group(1)} ({m.group(2)})"
        procs[cur] = []
        continue
    m = re.match(r"^\s+(\w+)\s+(\d+)\s+\d+\s+[\d.]+", line)
    if m and cur:
        procs[cur].append((m.group(1), int(m.group(2))))
for name, calls in procs.items():
    total = sum(n for _, n in calls)
    top = ", ".join(f"{s} {n}" for s, n in sorted(calls, key=lambda c: -c[1])[:12])
    print(f"{name}: {total} syscalls; {top}")
print("(\"1038\" is the launcher: it runs from a memfd, /proc/self/fd/<n>, so that is its name)")
PY
else
  echo "perf trace does not work here: skipped"
fi
