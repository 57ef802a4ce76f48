#!/usr/bin/env bash
# Benchmark bvisor against runc and crun side by side (issue 8): one run, one bundle, one
# machine, hyperfine with warm-up; medians and ratios (bvisor/runc, bvisor/crun) in a table,
# written to integration/results/bench-<date>.md.
#
# usage: integration/bench.sh [--no-criterion] [--no-wasm]
#   --no-criterion  skip `cargo bench -p bvisor --bench plan` (the planning micro-benchmarks)
#   --no-wasm       skip the wasm lane (and the static build of bvisor-wasm it needs)
# environment:
#   BENCH_RUNS           timed runs per single-container figure (default 20)
#   BENCH_ROUNDS         rounds those runs are split into, rotating through the runtimes so
#                        load that comes and goes falls on all of them (default 4)
#   BENCH_WARMUP         warm-up runs per round (default 2)
#   BENCH_PARALLEL       containers in the parallel lane (default 50)
#   BENCH_PARALLEL_RUNS  timed rounds of the parallel lane (default 3, plus 1 warm-up)
#   BENCH_RSS_RUNS       samples per peak-RSS figure (default 5; the median is reported)
#   BENCH_LANES          which lanes to run, comma-separated (default
#                        run,create,start,exec,delete,parallel,rss,wasm); e.g. BENCH_LANES=run
#                        for a quick look at the start path
#   BVISOR_BIN           the bvisor to measure (default target/dist/bvisor, the release
#                        binaries as lib.sh's build_dist makes them: all three static,
#                        side by side)
#   BENCH_ROOT_FS        where the runtimes' --root directories live: tmpfs (default; a
#                        directory under /dev/shm, as a standard system's /run is a tmpfs,
#                        where runc, crun and bvisor keep their state by default) or disk (under
#                        the work directory: on this machine /run and /tmp are the root ext4
#                        file system, and each state write then costs a journal update)
#   BENCH_GAP_MS         idle time before every timed run (default 50; 0 = back to back). Why:
#                        the first write to a v1 cgroup.procs waits for an RCU grace period
#                        (≈ 8–16 ms here) unless another migration happened in the last ≈ 15 ms.
#                        Back to back, a runtime whose cycle is short enough skips that wait on
#                        every run after the first and one just slower pays it every time; with
#                        the gap every runtime pays it, as a container started now and then does.
#
# Lanes (every one on the same bundle: Debian's busybox-static rootfs and `runc spec`'s config
# with args ["/bin/true"], terminal false, plus containers-common's default seccomp profile and
# the cgroup namespace: lib.sh's bench_bundle; bvisor's plan then has seccomp, landlock for the
# read-only root, and every namespace of the floor):
#   floor     `unshare -mpfnuiC --mount-proc /bin/true`: the namespaces alone, no runtime; and
#             the same after the shell joins a v1 cgroup of ours (one cgroup migration, kernel
#             work every runtime does too)
#   run       `RT run --bundle B ID` (create + start + wait + delete), a new ID every run
#   create    `RT create` alone (the previous container is deleted, untimed, before each run)
#   start     `RT start` alone of a container created, untimed, before each run
#   exec      `RT exec ID /bin/true` into one running container (`sleep`, same rootfs)
#   delete    `RT delete` alone of a stopped container (run --detach, untimed, before each run)
#   parallel  N × `RT run --detach` at once, then `RT delete --force` of each that started, at
#             once: wall time (hyperfine -i: rounds with failed runs still count, and the
#             runtime's errors are reported beside the figure)
#   RSS       /usr/bin/time -f %M (ru_maxrss: the process or the largest child it reaped) around
#             `run`, `create` and `start`; VmHWM of the container's init while it waits for
#             `start` (bvisor: the launcher, exec'd from a read-only overlay view; runc: `runc init`;
#             crun: its forked child); memory.max_usage_in_bytes of that container's v1 memory
#             cgroup at the same moment (what the container cost before its workload ran)
#   wasm      bundles/wasm through `bvisor run` vs the same module run by `bvisor-wasm` directly
#
# Why a private mount namespace: crun refuses this machine's hybrid cgroup layout
# (/sys/fs/cgroup/unified mounted beside the v1 hierarchies), so the measurements run in
# `unshare -m --propagation private` with that mount unmounted there only, as
# integration/conformance.sh does; every runtime runs in that same namespace for a fair
# comparison (see /work/shared/notes/peers.md). The host's mount table is checked unchanged.
#
# Each runtime gets its own --root under a temp dir, so every container in it is ours; every one
# is deleted with `delete --force` by id at the end, and the temp dir removed, even on failure.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
SELF=$REPO_ROOT/integration/bench.sh
readonly SELF
readonly RESULTS_ROOT=$REPO_ROOT/integration/results
readonly RUNTIMES=(bvisor runc crun)
# apt_install, build_wasm_runner. Sourced first so nothing below is redefined by it.
# shellcheck source=integration/lib.sh
. "$REPO_ROOT/integration/lib.sh"

RUNS=${BENCH_RUNS:-20}
ROUNDS=${BENCH_ROUNDS:-4}
WARMUP=${BENCH_WARMUP:-2}
PAR_N=${BENCH_PARALLEL:-50}
PAR_RUNS=${BENCH_PARALLEL_RUNS:-3}
RSS_RUNS=${BENCH_RSS_RUNS:-5}
GAP_MS=${BENCH_GAP_MS:-50}
LANES=${BENCH_LANES:-run,create,start,exec,delete,parallel,rss,wasm}
want_lane() { [[ ",$LANES," == *",$1,"* ]]; }

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

# ---------------------------------------------------------------------------------------------
# shared by every part (outer script, the namespace, hyperfine's --prepare helpers)
# ---------------------------------------------------------------------------------------------

rt_bin() {
  case $1 in
    bvisor) echo "$BVISOR_BIN" ;;
    runc) echo "$RUNC_BIN" ;;
    crun) echo "$CRUN_BIN" ;;
    *) die "unknown runtime $1" ;;
  esac
}
rt_root() { echo "$ROOTS/$1"; }

# RT ARGS...: the runtime with its private --root.
rt() {
  local name=$1; shift
  "$(rt_bin "$name")" --root "$(rt_root "$name")" "$@"
}

# Ids of every container in RT's private root (all of them ours): `list -q`, else the state
# directories themselves (each runtime keeps one directory per id under --root).
our_ids() {
  local name=$1 root
  root=$(rt_root "$name")
  [ -d "$root" ] || return 0
  { rt "$name" list -q 2>/dev/null ||
    find "$root" -mindepth 1 -maxdepth 1 -type d -printf '%f\n'; } | sort -u
}

# Force-delete every container in every private root. Prints what could not be deleted.
delete_all_containers() {
  local name id
  for name in "${RUNTIMES[@]}"; do
    for id in $(our_ids "$name"); do
      rt "$name" delete --force "$id" >/dev/null 2>&1 || true
    done
    id=$(our_ids "$name" | tr '\n' ' ')
    [ -z "$id" ] || log "warning: $name still lists: $id"
  done
}

# Private mount namespace check + hiding the cgroup2 mount (see the header).
enter_lane_view() {
  [ "$(stat -L -c %i /proc/self/ns/mnt)" != "$HOST_MNT_NS" ] ||
    die "not in a private mount namespace: refusing to unmount anything"
  if mountpoint -q /sys/fs/cgroup/unified; then
    umount /sys/fs/cgroup/unified
    ! mountpoint -q /sys/fs/cgroup/unified || die "/sys/fs/cgroup/unified still mounted"
  fi
}

# ---------------------------------------------------------------------------------------------
# hyperfine --prepare helpers (run untimed before every timed run)
# ---------------------------------------------------------------------------------------------

# Counter file per runtime and lane: the timed command reads it with the shell's `read` (no
# extra process) to get this run's unique id.
ctr() { echo "$WORK/ctr/$1-$2"; }
bump() {
  local f n
  f=$(ctr "$1" "$2")
  read -r n < "$f"
  echo $((n + 1)) > "$f"
  echo $((n + 1))
}

# Wait (untimed) until a container's init has exited, so `delete` needs no --force.
wait_stopped() {
  local name=$1 id=$2 i
  for i in $(seq 1 500); do
    rt "$name" state "$id" 2>/dev/null | grep -q '"status": *"stopped"' && return 0
    sleep 0.01
  done
  echo "$name: $id did not stop within 5 s" >&2
  return 1
}

prep_delete() {
  local name=$1 n
  n=$(bump "$name" delete)
  rt "$name" run --detach --bundle "$BUNDLE" "${PREFIX}d$n" </dev/null >/dev/null 2>>"$WORK/prep.log"
  wait_stopped "$name" "${PREFIX}d$n" || exit 1
}

# The parallel lane's timed body: PAR_N detached runs at once, then a forced delete of each
# container that started, all at once. Any failure makes the round exit non-zero (hyperfine -i
# keeps its time); the runtime's errors go to par-RT.log, which the lane's note quotes.
parallel_body() {
  local name=$1 n i failed=0 log
  log=$WORK/par-$name.log
  local -A pids=()
  n=$(bump "$name" par)
  for i in $(seq 1 "$PAR_N"); do
    rt "$name" run --detach --bundle "$BUNDLE" "${PREFIX}p$n-$i" </dev/null >/dev/null 2>>"$log" &
    pids[$i]=$!
  done
  local started=()
  for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then started+=("$i"); else failed=$((failed + 1)); fi
  done
  pids=()
  for i in "${started[@]}"; do
    rt "$name" delete --force "${PREFIX}p$n-$i" </dev/null >/dev/null 2>>"$log" &
    pids[$i]=$!
  done
  local del_failed=0
  for i in "${!pids[@]}"; do wait "${pids[$i]}" || del_failed=$((del_failed + 1)); done
  if [ $((failed + del_failed)) -gt 0 ]; then
    echo "$failed of $PAR_N runs and $del_failed deletes failed" >&2
    return 1
  fi
}

# ---------------------------------------------------------------------------------------------
# inside the namespace: the lanes
# ---------------------------------------------------------------------------------------------

# record KEY RUNTIME VALUE NOTE: VALUE in seconds (times) or KiB (memory); empty when the lane
# failed, NOTE then says why.
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$WORK/results.tsv"; }

q() { printf '%q' "$1"; }

# One shell line invoking RT with its root; ids come from the counter in the shell's $n.
rt_line() { printf '%s --root %s' "$(q "$(rt_bin "$1")")" "$(q "$(rt_root "$1")")"; }

# Run the lane's prepare + command once, visibly, so a failure gives the runtime's own error
# (hyperfine only says "non-zero exit code"). Prints the error's last lines on failure.
trial() {
  local prep=$1 cmd=$2 err=$WORK/trial.err
  if [ -n "$prep" ] && ! sh -c "$prep" </dev/null >/dev/null 2>"$err"; then
    tail -n 3 "$err" | tr '\n' ' '; return 1
  fi
  if ! sh -c "$cmd" </dev/null >/dev/null 2>"$err"; then
    tail -n 3 "$err" | tr '\n' ' '; return 1
  fi
}

# timed KEY RUNTIME CMD PREPARE RUNS WARMUP [HYPERFINE_ARG...]: one hyperfine round; its run
# times are added to times/KEY-RUNTIME (finish turns them into the median). A failure is
# recorded and ends that pair: later rounds skip it.
timed() {
  local key=$1 name=$2 cmd=$3 prep=$4 runs=$5 warm=$6 err
  shift 6
  local times=$WORK/times/$key-$name json=$WORK/hf/$key-$name.json out=$WORK/hf/$key-$name.log
  failed "$key" "$name" && return 0
  # The idle gap (see BENCH_GAP_MS) ends every --prepare, right before the timed run.
  local gap
  gap=$(awk -v m="$GAP_MS" 'BEGIN { printf "%.3f", m / 1000 }')
  [ "$GAP_MS" = 0 ] || prep="${prep:+$prep; }sleep $gap"
  # First round only: run it once visibly, for the runtime's own error. TOLERATE_TRIAL: a lane
  # that records failures itself goes on to be timed anyway.
  if [ ! -e "$times" ]; then
    : > "$times"
    if ! err=$(trial "$prep" "$cmd") && [ -z "${TOLERATE_TRIAL:-}" ]; then
      record "$key" "$name" "" "failed: $err"
      log "  $key $name: FAILED: $err"
      return 0
    fi
  fi
  # -N among the extra arguments: no shell at all (for commands that need none).
  local shell=(--shell sh) a
  for a in "$@"; do [ "$a" != -N ] || shell=(); done
  local args=(--style none "${shell[@]}" --runs "$runs" --warmup "$warm" --export-json "$json"
    --command-name "$key-$name")
  [ -z "$prep" ] || args+=(--prepare "$prep")
  args+=("$@")
  if hyperfine "${args[@]}" "$cmd" >"$out" 2>&1; then
    jq -r '.results[0].times[]' "$json" >> "$times"
  else
    err=$(grep -v '^\s*$' "$out" | tail -n 2 | tr '\n' ' ')
    record "$key" "$name" "" "failed: $err"
    log "  $key $name: FAILED: $err"
  fi
}

failed() { awk -F'\t' -v k="$1" -v r="$2" '$1 == k && $2 == r { f = 1 } END { exit !f }' "$WORK/results.tsv"; }

# finish KEY RUNTIME [NOTE]: record the median over every round (unless the pair failed).
finish() {
  local key=$1 name=$2 note=${3:-} times=$WORK/times/$1-$2 med
  failed "$key" "$name" && return 0
  [ -s "$times" ] || return 0
  med=$(median < "$times")
  record "$key" "$name" "$med" "$note"
  log "  $(printf '%-9s %-7s median %8.2f ms  (%s runs)' "$key" "$name" \
    "$(awk -v s="$med" 'BEGIN { print s * 1000 }')" "$(wc -l < "$times")")"
}

# The distinct errors the parallel lane's runtime logged (over all its runs), most frequent
# first, ids and timestamps dropped: "3× level=error msg=...".
parallel_errors() {
  local f=$WORK/par-$1.log
  [ -s "$f" ] || return 0
  sed -e 's/^time="[^"]*" //' -e "s/${PREFIX}p[0-9]*-[0-9]*/ID/g" "$f" | sort | uniq -c | sort -rn |
    head -n 3 | awk '{ c = $1; $1 = ""; printf "%s%d× %s", (NR > 1 ? "; " : ""), c, substr($0, 2) }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) exit; print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# One round of lane KEY for runtime NAME (RUNS/ROUNDS timed runs).
single_round() {
  local key=$1 name=$2 line b c runs=$(((RUNS + ROUNDS - 1) / ROUNDS))
  line=$(rt_line "$name")
  b=$(q "$BUNDLE")
  c=$(q "$(ctr "$name" "$key")")
  case $key in
    run) # a new id every run, bumped in --prepare so the timed line is `read` + the runtime
      timed run "$name" "read n < $c; $line run --bundle $b ${PREFIX}r\$n" \
        "read n < $c; echo \$((n + 1)) > $c" "$runs" "$WARMUP" ;;
    create) # the container of the previous run is deleted first, untimed
      timed create "$name" "read n < $c; $line create --bundle $b ${PREFIX}c\$n" \
        "read n < $c; $line delete --force ${PREFIX}c\$n >/dev/null 2>&1; echo \$((n + 1)) > $c" \
        "$runs" "$WARMUP" ;;
    start) # the container is created untimed (and the previous one deleted) before each run
      timed start "$name" "read n < $c; $line start ${PREFIX}s\$n" \
        "read n < $c; $line delete --force ${PREFIX}s\$n >/dev/null 2>&1; n=\$((n + 1)); echo \$n > $c; $line create --bundle $b ${PREFIX}s\$n </dev/null >/dev/null" \
        "$runs" "$WARMUP" ;;
    exec) # into the running `sleep` container made by exec_containers
      timed exec "$name" "$line exec ${PREFIX}x-$name /bin/true" "" "$runs" "$WARMUP" ;;
    delete) # of a stopped container (run --detach + wait for its exit, untimed, in --prepare)
      timed delete "$name" "read n < $c; $line delete ${PREFIX}d\$n" \
        "bash $(q "$SELF") --prep-delete $name" "$runs" "$WARMUP" ;;
  esac
}

# exec_containers up|down: one running `sleep` container per runtime for the exec lane.
exec_containers() {
  local name err
  for name in "${RUNTIMES[@]}"; do
    if [ "$1" = down ]; then
      rt "$name" delete --force "${PREFIX}x-$name" >/dev/null 2>&1 || true
      continue
    fi
    # The container inherits stdio: never a pipe here, or `sleep` would hold it open.
    if ! rt "$name" run --detach --bundle "$BUNDLE_SLEEP" "${PREFIX}x-$name" </dev/null >/dev/null 2>"$WORK/exec-setup.err"; then
      err=$(tail -n 2 "$WORK/exec-setup.err" | tr '\n' ' ')
      record exec "$name" "" "failed: could not start the sleep container: $err"
      log "  exec $name: FAILED: $err"
    fi
  done
}

# Delete what a lane left (the last create/start containers), keeping the exec containers.
tidy() {
  local name id
  for name in "${RUNTIMES[@]}"; do
    for id in $(our_ids "$name"); do
      [ "$id" = "${PREFIX}x-$name" ] || rt "$name" delete --force "$id" >/dev/null 2>&1 || true
    done
  done
}

# The single-container lanes, each in ROUNDS rounds that rotate through the runtimes (and the
# namespace floor, in the run lane), so load that comes and goes on the machine falls on every
# runtime alike instead of on whichever ran at that moment.
lanes_single() {
  local key round name runs=$(((RUNS + ROUNDS - 1) / ROUNDS))
  exec_containers up
  for key in run create start exec delete; do
    want_lane "$key" || continue
    log "lane $key: $ROUNDS rounds × (${RUNTIMES[*]}$([ "$key" = run ] && echo " floor floor+cgroup"))"
    for round in $(seq 1 "$ROUNDS"); do
      for name in "${RUNTIMES[@]}"; do single_round "$key" "$name"; done
      if [ "$key" = run ]; then
        timed floor - "unshare -mpfnuiC --mount-proc /bin/true" "" "$runs" "$WARMUP" -N
        [ -z "$FLOOR_CG" ] || timed floor_cg - \
          "echo \$\$ > $(q "$FLOOR_CG")/cgroup.procs && exec unshare -mpfnuiC --mount-proc /bin/true" \
          "" "$runs" "$WARMUP"
      fi
    done
    [ "$key" != run ] || { finish floor -; finish floor_cg -; }
    for name in "${RUNTIMES[@]}"; do finish "$key" "$name"; done
    tidy
  done
  exec_containers down
}

# PAR_RUNS rounds rotating through the runtimes, one timed run each (plus one warm-up in the
# first). A run with failures still has a wall time (hyperfine -i): it is recorded with the
# runtime's errors beside it, so a flaky runtime shows both its time and its failures.
lanes_parallel() {
  local round name warm errs
  log "lane parallel ($PAR_N containers): $PAR_RUNS rounds × (${RUNTIMES[*]})"
  for name in "${RUNTIMES[@]}"; do : > "$WORK/par-$name.log"; done
  for round in $(seq 1 "$PAR_RUNS"); do
    warm=0; [ "$round" -gt 1 ] || warm=1
    for name in "${RUNTIMES[@]}"; do
      TOLERATE_TRIAL=1 timed parallel "$name" "bash $(q "$SELF") --parallel $name" "" 1 "$warm" \
        --ignore-failure
    done
  done
  for name in "${RUNTIMES[@]}"; do
    errs=$(parallel_errors "$name")
    [ -z "$errs" ] || log "  parallel $name: runtime errors: $errs"
    finish parallel "$name" "${errs:+errors over $((PAR_RUNS + 2)) rounds of $PAR_N: $errs}"
  done
}

# ru_maxrss of one command (KiB) via /usr/bin/time; empty on failure.
maxrss() {
  local f=$WORK/time.out
  /usr/bin/time -f %M -o "$f" "$@" </dev/null >/dev/null 2>>"$WORK/rss.log" || return 1
  tail -n 1 "$f"
}

lane_rss() {
  local name=$1 i n v pid cg path
  local run=() create=() start=() hwm=() cgpeak=()
  for i in $(seq 1 "$RSS_RUNS"); do
    n=$(bump "$name" rss)
    v=$(maxrss "$(rt_bin "$name")" --root "$(rt_root "$name")" run --bundle "$BUNDLE" "${PREFIX}m$n") && run+=("$v")
    v=$(maxrss "$(rt_bin "$name")" --root "$(rt_root "$name")" create --bundle "$BUNDLE" \
      --pid-file "$WORK/m.pid" "${PREFIX}M$n") && create+=("$v")
    # The init waits for `start` here: for bvisor it is the launcher itself (exec'd from its
    # read-only overlay view), for runc `runc init`, for crun its forked child.
    if pid=$(cat "$WORK/m.pid" 2>/dev/null) && [ -n "$pid" ]; then
      v=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) && [ -n "$v" ] && hwm+=("$v")
      # Its v1 memory cgroup: what the container was charged before its workload ran.
      path=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$pid/cgroup" 2>/dev/null || true)
      cg=/sys/fs/cgroup/memory$path/memory.max_usage_in_bytes
      [ -n "$path" ] && [ -r "$cg" ] && cgpeak+=("$(($(cat "$cg") / 1024))")
      v=$(maxrss "$(rt_bin "$name")" --root "$(rt_root "$name")" start "${PREFIX}M$n") && start+=("$v")
      wait_stopped "$name" "${PREFIX}M$n" 2>/dev/null || true
    fi
    rm -f "$WORK/m.pid"
    rt "$name" delete --force "${PREFIX}M$n" >/dev/null 2>&1 || true
  done
  local key arr
  for key in run create start init cgroup; do
    case $key in
      run) arr=("${run[@]}") ;; create) arr=("${create[@]}") ;; start) arr=("${start[@]}") ;;
      init) arr=("${hwm[@]}") ;; cgroup) arr=("${cgpeak[@]}") ;;
    esac
    if [ ${#arr[@]} -gt 0 ]; then
      v=$(printf '%s\n' "${arr[@]}" | median)
      record "rss_$key" "$name" "$v" ""
      log "  $(printf 'rss %-6s %-7s median %8.1f MiB (%s samples)' "$key" "$name" "$(awk -v k="$v" 'BEGIN{print k/1024}')" "${#arr[@]}")"
    else
      record "rss_$key" "$name" "" "failed: see rss.log: $(tail -n 1 "$WORK/rss.log" 2>/dev/null)"
    fi
  done
}

lane_wasm() {
  if [ -z "${WASM_BUNDLE:-}" ]; then
    record wasm_run bvisor "" "not available: ${WASM_SKIP:-skipped}"
    return 0
  fi
  local err line c r round runs=$(((RUNS + ROUNDS - 1) / ROUNDS)) wasm_ok=1
  # Try it once, untimed: the wasm dispatch is still being integrated.
  if ! err=$(rt bvisor run --bundle "$WASM_BUNDLE" "${PREFIX}w-try" </dev/null 2>&1 >/dev/null); then
    err=$(echo "$err" | grep -v '^\s*$' | tail -n 2 | tr '\n' ' ')
    record wasm_run bvisor "" "not available: $err"
    log "  wasm: not available: $err"
    wasm_ok=0
  fi
  line=$(rt_line bvisor)
  c=$(q "$(ctr bvisor wasm)")
  r=$WASM_BUNDLE/rootfs
  for round in $(seq 1 "$ROUNDS"); do
    [ "$wasm_ok" = 0 ] ||
      timed wasm_run bvisor "read n < $c; $line run --bundle $(q "$WASM_BUNDLE") ${PREFIX}w\$n" \
        "read n < $c; echo \$((n + 1)) > $c" "$runs" "$WARMUP"
    # The same module, argv, env and preopen as the container gets, without the container.
    timed wasm_direct - "$(q "$WASM_RUNNER") --dir $(q "$r")::/ --cwd / --env GREETING=hi -- $(q "$r")/hello.wasm arg1" \
      "" "$runs" "$WARMUP" -N
  done
  [ "$wasm_ok" = 0 ] || finish wasm_run bvisor
  finish wasm_direct -
}

# Check that bvisor admits the bundle in this (the lanes') view of the machine; drop each
# refused field from the shared config, for all three runtimes, saying so.
admit_bundle() {
  local i json refused
  for i in 1 2 3; do
    json=$(rt bvisor plan --bundle "$BUNDLE" -f json 2>/dev/null || true)
    [ -n "$json" ] || die "bvisor plan --bundle $BUNDLE printed nothing: $(rt bvisor plan --bundle "$BUNDLE" 2>&1 | tail -n 2)"
    if [ "$(jq -r .admitted <<< "$json")" = true ]; then
      log "bvisor admits the bundle ($(jq '.requirements | length' <<< "$json") requirements)"
      # What the issue's goal asks the plan to hold, as the plan says it: for the report.
      jq -r '[.requirements[] | select((.kind | test("^(seccomp|namespace)")) or (.mechanisms | any(startswith("landlock"))))
              | "\(.kind) (\(.mechanisms | join(", ")))"] | join("; ")' <<< "$json" > "$WORK/confinement"
      return 0
    fi
    refused=$(jq -r '.requirements[] | select(.admitted | not) | .field' <<< "$json" | sort -u)
    [ -n "$refused" ] || die "bvisor refuses the bundle without naming a field: $(jq -c .refusal <<< "$json")"
    log "bvisor refuses: $(echo "$refused" | tr '\n' ' ')— removing these fields for all three runtimes"
    echo "$refused" >> "$WORK/removed-fields"
    # "mounts[6].options" -> ["mounts",6,"options"]; delpaths deletes deepest/last first.
    jq --arg f "$refused" '
      def topath: [scan("[^.\\[\\]]+") | (tonumber? // .)];
      delpaths([$f | split("\n")[] | select(length > 0) | topath])
    ' "$BUNDLE/config.json" > "$BUNDLE/config.json.new"
    mv "$BUNDLE/config.json.new" "$BUNDLE/config.json"
    jq --arg r "$BUNDLE/rootfs" '.process.args = ["/bin/sleep", "3600"] | .root.path = $r' \
      "$BUNDLE/config.json" > "$BUNDLE_SLEEP/config.json"
  done
  die "bvisor still refuses the bundle after removing fields three times"
}

# A cgroup of our own (v1 cpu hierarchy, under this process's cgroup there) for the second
# floor: the namespaces plus one cgroup migration, the kernel work every runtime does at least.
make_floor_cgroup() {
  local rel
  rel=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ { print $3; exit }' /proc/self/cgroup)
  FLOOR_CG=/sys/fs/cgroup/cpu${rel%/}/${PREFIX}floor
  mkdir "$FLOOR_CG" 2>/dev/null || { log "no cpu cgroup for the floor+cgroup figure"; FLOOR_CG=""; }
}

inner_main() {
  enter_lane_view
  FLOOR_CG=""
  make_floor_cgroup
  # Whatever happens in here, no container of ours outlives the namespace (and the floor's
  # cgroup, empty once its shells exit, goes too).
  trap 'delete_all_containers; [ -z "$FLOOR_CG" ] || rmdir "$FLOOR_CG" 2>/dev/null || true' EXIT
  admit_bundle
  : > "$WORK/results.tsv"
  local name
  lanes_single
  ! want_lane parallel || lanes_parallel
  if want_lane rss; then
    for name in "${RUNTIMES[@]}"; do
      log "lane RSS: $name"
      lane_rss "$name"
    done
  fi
  if want_lane wasm; then
    log "lane wasm"
    lane_wasm
  fi
  # Every lane deletes what it made; a runtime that still lists a container leaked it.
  for name in "${RUNTIMES[@]}"; do
    local left
    left=$(our_ids "$name" | tr '\n' ' ')
    [ -z "$left" ] || { log "warning: $name left containers after the lanes: $left"; echo "$name: $left" >> "$WORK/leftovers"; }
  done
}

# ---------------------------------------------------------------------------------------------
# outside: packages, builds, bundles, the namespace, criterion, the report
# ---------------------------------------------------------------------------------------------

WORK=${WORK:-}
CG_BEFORE=""
cleanup() {
  local rc=$?
  set +e
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    # Containers left by an aborted namespace: delete them from the same view (crun needs it).
    local any="" name
    for name in "${RUNTIMES[@]}"; do
      # (bvisor's @seccomp cache directory is not a container.)
      [ -z "$(find "$(rt_root "$name")" -mindepth 1 -maxdepth 1 ! -name '@*' 2>/dev/null)" ] || any=1
    done
    if [ -n "$any" ]; then
      log "deleting leftover containers"
      HOST_MNT_NS=$(stat -L -c %i /proc/self/ns/mnt) \
        unshare -m --propagation private -- bash "$SELF" --cleanup
    fi
    remove_our_cgroups
    rm -rf --one-file-system "$WORK"
  fi
  if [ -n "${ROOTS:-}" ] && [ "${ROOTS#"$WORK"/}" = "$ROOTS" ] && [ -d "$ROOTS" ]; then
    rm -rf --one-file-system "$ROOTS"
  fi
  exit "$rc"
}

cgroup_dirs() { find /sys/fs/cgroup -mindepth 1 -type d 2>/dev/null | sort; }

# Cgroups that appeared during the run and carry this run's id prefix are ours (made by a
# runtime for one of our containers): rmdir them, deepest first; rmdir cannot remove a cgroup
# with processes or children. Anything else new is only reported.
remove_our_cgroups() {
  [ -n "$CG_BEFORE" ] && [ -f "$CG_BEFORE" ] || return 0
  local dir
  comm -13 "$CG_BEFORE" <(cgroup_dirs) | sort -r | while read -r dir; do
    case ${dir##*/} in
      "$PREFIX"*)
        if rmdir "$dir" 2>/dev/null; then
          log "removed leftover cgroup $dir"
        else
          log "warning: leftover cgroup $dir could not be removed"
        fi ;;
      # bvisor keeps its shared parent once made; one that appeared during the run was made
      # by our lanes: remove it when empty (a bvisor still using it makes rmdir fail).
      bvisor) if rmdir "$dir" 2>/dev/null; then log "removed bvisor's shared cgroup parent $dir (made during the run)"; fi ;;
      *) ;; # someone else's (the machine's own cgroups come and go): not ours, not reported
    esac
  done
}

# "static" or "dynamic", from the ELF program headers (an INTERP header names a loader).
linkage() {
  if readelf -lW "$1" 2>/dev/null | grep -q 'Requesting program interpreter'; then echo dynamic; else echo static; fi
}

build_bvisor() {
  [ "$BVISOR_BIN" = "$REPO_ROOT/target/dist/bvisor" ] || return 0
  log "building the release binaries (lib.sh build_dist: static bvisor, launcher and bvisor-wasm)"
  (cd "$REPO_ROOT" && build_dist target/dist) || die "build_dist failed"
}

# The runner must be static (it runs after pivot_root). build_dist put one beside bvisor;
# another BVISOR_BIN gets lib.sh's build_wasm_runner (target/<triple>/release/bvisor-wasm).
prepare_wasm_runner() {
  local triple
  if [ -x "$(dirname "$BVISOR_BIN")/bvisor-wasm" ]; then
    WASM_RUNNER=$(dirname "$BVISOR_BIN")/bvisor-wasm
    return 0
  fi
  triple=$(rustc -vV | sed -n 's/^host: //p')
  log "building bvisor-wasm (static, release) for the wasm lane"
  if (cd "$REPO_ROOT" && build_wasm_runner release) 2>"$WORK/wasm-build.log"; then
    WASM_RUNNER=$REPO_ROOT/target/$triple/release/bvisor-wasm
  else
    WASM_SKIP="static bvisor-wasm did not build: $(tail -n 1 "$WORK/wasm-build.log")"
  fi
}

build_criterion() {
  log "building the criterion benchmark (cargo bench --no-run)"
  (cd "$REPO_ROOT" && cargo bench -q -p bvisor --bench plan --no-run) >"$WORK/criterion-build.log" 2>&1 ||
    CRITERION_SKIP="cargo bench --no-run failed: $(grep -m1 '^error' "$WORK/criterion-build.log" || tail -n 1 "$WORK/criterion-build.log")"
}

run_criterion() {
  [ -z "${CRITERION_SKIP:-}" ] || return 0
  log "criterion: cargo bench -p bvisor --bench plan"
  local target
  target=$(cd "$REPO_ROOT" && cargo metadata -q --format-version 1 --no-deps | jq -r .target_directory)
  rm -rf "$target/criterion/plan"
  if ! (cd "$REPO_ROOT" && cargo bench -q -p bvisor --bench plan) >"$WORK/criterion.log" 2>&1; then
    CRITERION_SKIP="cargo bench failed: $(tail -n 2 "$WORK/criterion.log" | tr '\n' ' ')"
    return 0
  fi
  local d
  for d in "$target"/criterion/plan/*/new/estimates.json; do
    printf '%s\t%s\n' "$(basename "$(dirname "$(dirname "$d")")")" \
      "$(jq -r '.median.point_estimate' "$d")" >> "$WORK/criterion.tsv"
  done
}

# The bundle: busybox rootfs (a real directory: runc refuses a symlinked rootfs) and runc's
# default config with args ["/bin/true"], terminal false, with seccomp and the cgroup namespace
# (lib.sh's bench_bundle). A second config on the same rootfs runs `sleep` for the exec lane.
make_bundles() {
  BUNDLE=$WORK/bundle
  BUNDLE_SLEEP=$WORK/bundle-sleep
  mkdir -p "$BUNDLE_SLEEP"
  bench_bundle "$BUNDLE" || die "bench_bundle failed"
  jq --arg r "$BUNDLE/rootfs" '.process.args = ["/bin/sleep", "3600"] | .root.path = $r' \
    "$BUNDLE/config.json" > "$BUNDLE_SLEEP/config.json"
  if [ -n "${WASM_RUNNER:-}" ]; then
    WASM_BUNDLE=$WORK/wasm
    mkdir -p "$WASM_BUNDLE"
    cp "$REPO_ROOT/bundles/wasm/config.json" "$WASM_BUNDLE/"
    if ! "$REPO_ROOT/bundles/wasm/make-rootfs.sh" "$WASM_BUNDLE/rootfs" 2>"$WORK/wasm-rootfs.log"; then
      WASM_SKIP="bundles/wasm/make-rootfs.sh failed: $(tail -n 1 "$WORK/wasm-rootfs.log")"
      WASM_BUNDLE=""
    fi
  fi
}

# ---------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------

# val KEY RUNTIME -> the recorded value (empty if none)
val() { awk -F'\t' -v k="$1" -v r="$2" '$1 == k && $2 == r { print $3 }' "$WORK/results.tsv"; }
note() { awk -F'\t' -v k="$1" -v r="$2" '$1 == k && $2 == r { print $4 }' "$WORK/results.tsv"; }

# fmt KIND VALUE: seconds -> "12.3 ms", KiB -> "4.5 MiB"
fmt() {
  [ -n "$2" ] || { echo "—"; return; }
  case $1 in
    time) awk -v s="$2" 'BEGIN { printf (s < 0.1 ? "%.1f ms" : "%.0f ms"), s * 1000 }' ;;
    mem) awk -v k="$2" 'BEGIN { printf "%.1f MiB", k / 1024 }' ;;
  esac
}
ratio() {
  [ -n "$1" ] && [ -n "$2" ] || { echo "—"; return; }
  awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "—"; else printf "%.2f", a / b }'
}
cell() { # cell KIND KEY RUNTIME: the value, or a short failure marker
  local v n
  v=$(val "$2" "$3"); n=$(note "$2" "$3")
  if [ -n "$v" ] && [ -n "$n" ]; then echo "$(fmt "$1" "$v") (with failures, see below)"
  elif [ -n "$v" ]; then fmt "$1" "$v"; elif [ -n "$n" ]; then echo "${n%%:*}"; else echo "—"; fi
}

row() { # row LABEL KIND KEY
  local label=$1 kind=$2 key=$3 b r c
  b=$(val "$key" bvisor); r=$(val "$key" runc); c=$(val "$key" crun)
  echo "| $label | $(cell "$kind" "$key" bvisor) | $(cell "$kind" "$key" runc) | $(cell "$kind" "$key" crun) | $(ratio "$b" "$r") | $(ratio "$b" "$c") |"
}

# goal LABEL VALUE LIMIT: "met"/"MISSED" against value ≤ limit
goal() {
  local label=$1 v=$2 limit=$3
  if [ -z "$v" ] || [ "$v" = "—" ]; then echo "- $label: no figure"; return; fi
  awk -v l="$label" -v v="$v" -v m="$limit" 'BEGIN { printf "- %s: %s (goal ≤ %s): %s\n", l, v, m, (v + 0 <= m + 0 ? "met" : "MISSED") }'
}

# shellcheck disable=SC2016 # the backquotes in row labels are markdown, not shell
write_report() {
  local report=$1 name key
  local b_run r_run c_run floor
  b_run=$(val run bvisor); r_run=$(val run runc); c_run=$(val run crun); floor=$(val floor -)
  {
    echo "# bvisor vs runc vs crun: start-up benchmarks"
    echo
    echo "Run $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -r), $(nproc) cores, load average $LOAD_START when the lanes began"
    echo "(other work on the machine skews every lane; the parallel lane itself raises the load)."
    echo "One run, one machine, one bundle (busybox-static rootfs, \`runc spec\` config with args"
    echo "[\"/bin/true\"], terminal false$( [ -s "$WORK/removed-fields" ] && printf '; removed because bvisor refused them: %s' "$(tr '\n' ' ' < "$WORK/removed-fields")")), every runtime with a private --root, all in one private"
    echo "mount namespace with /sys/fs/cgroup/unified unmounted (crun refuses the hybrid layout)."
    echo "Every --root is on $ROOTS_FS (BENCH_ROOT_FS)."
    echo "The bundle adds containers-common's default seccomp profile and the cgroup namespace to"
    echo "\`runc spec\`'s config (lib.sh's bench_bundle); bvisor's plan of it holds: $(cat "$WORK/confinement" 2>/dev/null)."
    echo "hyperfine $(hyperfine --version | awk '{print $2}'): $RUNS timed runs per figure in $ROUNDS rounds that rotate through the runtimes"
    echo "($WARMUP warm-up runs each; parallel: $PAR_RUNS rounds of one run, 1 warm-up), shell spawn time subtracted by"
    echo "hyperfine (the floor and bvisor-wasm run without a shell, -N); medians over all rounds."
    echo "Every timed run starts after ${GAP_MS} ms idle (BENCH_GAP_MS), so every runtime pays the kernel's"
    echo "RCU grace period on its first cgroup.procs write, as a container started now and then does;"
    echo "back to back (BENCH_GAP_MS=0) a runtime fast enough to start within ≈ 15 ms of its previous"
    echo "migration skips it, which flatters whichever runtime is already fastest."
    echo "Times are noisy here: compare the ratios."
    echo
    for name in "${RUNTIMES[@]}"; do
      echo "- $name: $(rt_bin "$name") ($("$(rt_bin "$name")" --version 2>/dev/null | head -n 1); $(linkage "$(rt_bin "$name")"))"
    done
    echo
    echo "| lane | bvisor | runc | crun | bvisor/runc | bvisor/crun |"
    echo "|---|---|---|---|---|---|"
    echo "| namespace floor: \`unshare -mpfnuiC --mount-proc /bin/true\` (no runtime) | $(cell time floor -) | | | | |"
    echo "| floor + one cgroup migration (the shell joins a v1 cgroup of ours, then execs the same unshare) | $(cell time floor_cg -) | | | | |"
    row '`run` of `true` (create + start + wait + delete, new id each run)' time run
    row '`create` alone' time create
    row '`start` alone (of a created container)' time start
    row '`exec /bin/true` into a running container' time exec
    row '`delete` alone (of a stopped container)' time delete
    row "$PAR_N × \`run --detach\` in parallel, then \`delete --force\` of each in parallel (wall)" time parallel
    row 'peak RSS: `run` (ru_maxrss: runtime or largest reaped child)' mem rss_run
    row 'peak RSS: `create` (same measure)' mem rss_create
    row 'peak RSS: `start` (the runtime process alone)' mem rss_start
    row 'peak RSS of the init waiting for `start` (bvisor: launcher; runc: runc init; crun: child)' mem rss_init
    row 'container memory cgroup peak at that point (memory.max_usage_in_bytes)' mem rss_cgroup
    echo
    echo "## Wasm sample (bundles/wasm)"
    echo
    local wr wd
    wr=$(val wasm_run bvisor); wd=$(val wasm_direct -)
    if [ -n "$wr" ]; then
      echo "| | median |"
      echo "|---|---|"
      echo "| \`bvisor run\` of bundles/wasm (new id each run) | $(fmt time "$wr") |"
      echo "| \`bvisor-wasm\` directly (same module, argv, env, rootfs preopened as /) | $(cell time wasm_direct -) |"
      echo "| ratio run/direct | $(ratio "$wr" "$wd") |"
    else
      echo "bvisor run of bundles/wasm: $(note wasm_run bvisor)"
      [ -z "$wd" ] || echo "; \`bvisor-wasm\` directly: $(fmt time "$wd")."
    fi
    echo
    echo "## Planning (criterion: \`cargo bench -p bvisor --bench plan\`, medians)"
    echo
    if [ -n "${CRITERION_SKIP:-}" ]; then
      echo "not run: $CRITERION_SKIP"
    elif [ -s "$WORK/criterion.tsv" ]; then
      echo "| step | µs |"
      echo "|---|---|"
      for key in parse requirements plan launch_build seal chain_pure ledger_embedded profile_probe chain_admit; do
        awk -F'\t' -v k="$key" '$1 == k { printf "| %s | %.1f |\n", k, $2 / 1000 }' "$WORK/criterion.tsv"
      done
      echo
      echo "chain_pure = parse + requirements + plan + launch_build + seal (ledger and profile given);"
      echo "chain_admit = the same with Ledger::embedded + Profile::probe inside, as create runs it."
    fi
    echo
    echo "## Goals (ratios from this run)"
    echo
    goal 'bvisor run / runc run' "$(ratio "$b_run" "$r_run")" 0.5
    goal 'bvisor run / crun run' "$(ratio "$b_run" "$c_run")" 1.0
    goal 'bvisor run / namespace floor' "$(ratio "$b_run" "$floor")" 2.0
    echo "  (against the floor with one cgroup migration: $(ratio "$b_run" "$(val floor_cg -)"); crun: $(ratio "$c_run" "$(val floor_cg -)"), runc: $(ratio "$r_run" "$(val floor_cg -)"))"
    goal 'bvisor run peak RSS / crun run peak RSS' "$(ratio "$(val rss_run bvisor)" "$(val rss_run crun)")" 1.0
    if [ -s "$WORK/criterion.tsv" ]; then
      goal 'planning µs (chain_pure)' "$(awk -F'\t' '$1 == "chain_pure" { printf "%.0f", $2 / 1000 }' "$WORK/criterion.tsv")" 200
      goal 'planning µs as create runs it (chain_admit)' "$(awk -F'\t' '$1 == "chain_admit" { printf "%.0f", $2 / 1000 }' "$WORK/criterion.tsv")" 200
    fi
    echo
    echo "## What each lane did"
    echo
    sed -n '/^# Lanes/,/^#   wasm/s/^# \{0,1\}//p' "$SELF"
    echo
    echo "Per-run ids come from a counter bumped in hyperfine's --prepare (untimed) and read with the"
    echo "shell's \`read\` in the timed line. The exec lane's container runs \`sleep 3600\` from the same rootfs."
    if [ -s "$WORK/results.tsv" ] && awk -F'\t' '$4 != ""' "$WORK/results.tsv" | grep -q .; then
      echo
      echo "## Failures"
      echo
      awk -F'\t' '$4 != "" { printf "- %s %s: %s\n", $1, $2, $4 }' "$WORK/results.tsv"
    fi
    if [ -s "$WORK/leftovers" ]; then
      echo
      echo "Containers still listed after the lanes (then force-deleted): $(tr '\n' ';' < "$WORK/leftovers")"
    fi
  } > "$report"
}

outer_main() {
  local criterion=1 wasm=1
  while [ $# -gt 0 ]; do
    case $1 in
      --no-criterion) criterion=0 ;;
      --no-wasm) wasm=0 ;;
      -h|--help) sed -n '2,15s/^# \{0,1\}//p' "$SELF"; return 0 ;;
      *) die "unknown argument: $1" ;;
    esac
    shift
  done
  [ "$(id -u)" -eq 0 ] || die "must run as root (containers, cgroups, mount namespaces)"
  local t0=$SECONDS
  apt_install hyperfine runc crun busybox-static time jq
  RUNC_BIN=$(command -v runc) CRUN_BIN=$(command -v crun)
  BVISOR_BIN=${BVISOR_BIN:-$REPO_ROOT/target/dist/bvisor}
  export RUNC_BIN CRUN_BIN BVISOR_BIN RUNS ROUNDS WARMUP PAR_N PAR_RUNS RSS_RUNS GAP_MS LANES

  PREFIX=bench$$-
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/bvisor-bench.XXXXXX")
  case ${BENCH_ROOT_FS:-tmpfs} in
    tmpfs)
      [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] || die "/dev/shm is not a tmpfs: set BENCH_ROOT_FS=disk"
      ROOTS=$(mktemp -d /dev/shm/bvisor-bench-roots.XXXXXX)
      ROOTS_FS="a tmpfs ($ROOTS), as /run is on a standard system" ;;
    disk)
      ROOTS=$WORK/root
      ROOTS_FS="$(stat -f -c %T "$WORK") ($ROOTS)" ;;
    *) die "BENCH_ROOT_FS: tmpfs or disk, not ${BENCH_ROOT_FS}" ;;
  esac
  export PREFIX WORK ROOTS ROOTS_FS
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  chmod 755 "$WORK"
  mkdir -p "$WORK/hf" "$WORK/times" "$WORK/ctr" "$ROOTS" "$RESULTS_ROOT"
  CG_BEFORE=$WORK/cgroups.before
  cgroup_dirs > "$CG_BEFORE"

  build_bvisor
  WASM_RUNNER="" WASM_BUNDLE="" WASM_SKIP=""
  if [ "$wasm" = 1 ] && want_lane wasm; then prepare_wasm_runner; else WASM_SKIP="skipped (--no-wasm)"; fi
  CRITERION_SKIP=""
  if [ "$criterion" = 1 ]; then build_criterion; else CRITERION_SKIP="skipped (--no-criterion)"; fi
  make_bundles
  local name lane
  for name in "${RUNTIMES[@]}"; do
    mkdir -p "$(rt_root "$name")"
    for lane in run create start delete par rss wasm; do echo 0 > "$(ctr "$name" "$lane")"; done
  done
  log "builds and bundles took $((SECONDS - t0)) s; measuring"
  # First, on a machine the lanes have not yet churned (mass cgroup/namespace teardown leaves
  # the kernel busy for a while).
  [ "$criterion" = 1 ] && run_criterion

  LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
  local before after t1=$SECONDS
  before=$(grep ' /sys/fs/cgroup/unified ' /proc/self/mountinfo || true)
  export BUNDLE BUNDLE_SLEEP WASM_BUNDLE WASM_RUNNER WASM_SKIP
  HOST_MNT_NS=$(stat -L -c %i /proc/self/ns/mnt) \
    unshare -m --propagation private -- bash "$SELF" --inner || die "the measuring namespace failed (exit $?)"
  after=$(grep ' /sys/fs/cgroup/unified ' /proc/self/mountinfo || true)
  [ "$before" = "$after" ] || die "host mount table changed: /sys/fs/cgroup/unified '$before' -> '$after'"
  ! grep -qF -e " $WORK/" -e " $ROOTS/" /proc/self/mountinfo || die "mounts under $WORK or $ROOTS leaked to the host"
  log "lanes took $((SECONDS - t1)) s"


  local report
  report=$RESULTS_ROOT/bench-$(date +%Y-%m-%d-%H%M%S).md
  write_report "$report"
  echo
  cat "$report"
  echo
  echo "report: ${report#"$REPO_ROOT"/} (whole script: $((SECONDS - t0)) s)"
}

case ${1:-} in
  --inner) shift; inner_main "$@" ;;
  --prep-delete) prep_delete "$2" ;;
  --parallel) parallel_body "$2" ;;
  --cleanup) enter_lane_view; delete_all_containers ;;
  *) outer_main "$@" ;;
esac
