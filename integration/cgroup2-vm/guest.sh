#!/bin/sh
# Runs inside the pure cgroup v2 VM (integration/cgroup2-vm.sh) after stage2 mounted cgroup2 at
# /sys/fs/cgroup and enabled every controller. One line per case: "BVT PASS name" or
# "BVT FAIL name: detail". Ground truth only: the container's cgroup v2 files, /proc of its
# processes, and what the workload could or could not do; each deny has its control.
B=/bvisor/bvisor
pass() { echo "BVT PASS $1"; }
fail() { echo "BVT FAIL $1: $2"; }
# expect NAME WANT GOT
expect() { if [ "$3" = "$2" ]; then pass "$1"; else fail "$1" "want [$2] got [$3]"; fi; }
# contains NAME NEEDLE TEXT
contains() { case "$3" in *"$2"*) pass "$1" ;; *) fail "$1" "no [$2] in [$3]" ;; esac; }
cg() { cat "/sys/fs/cgroup/bvisor/$1/$2" 2>&1; }
run() { "$B" run --bundle "/cases/$1" "$1" 2>&1; }
start() { "$B" run -d --bundle "/cases/$1" "$1" >/dev/null 2>&1 || fail "$1" "did not start"; }
init_pid() { "$B" state "$1" | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p'; }

echo "BVT root controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"

# memory.max: a 64 MiB allocation under a 16 MiB limit is OOM-killed; without it, it completes.
contains v2-memory-kills "dd-exit=137" "$(run mem-hog)"
contains v2-memory-control "dd-exit=0" "$(run mem-control)"
start mem-live
expect v2-memory.max 16777216 "$(cg mem-live memory.max)"
expect v2-memory.low 8388608 "$(cg mem-live memory.low)"
expect v2-memory.swap.max 0 "$(cg mem-live memory.swap.max)"
"$B" delete -f mem-live

# pids.max: ten forks under pids.max 4 fail; without it they work.
out=$(run pids-limited)
case "$out" in *forked-10*) fail v2-pids-limit "$out" ;; *"can't fork"*) pass v2-pids-limit ;; *) fail v2-pids-limit "$out" ;; esac
contains v2-pids-control forked-10 "$(run pids-control)"
start pids-live
expect v2-pids.max 4 "$(cg pids-live pids.max)"
"$B" delete -f pids-live

# cpu.weight (from shares 512), cpu.max, cpu.max.burst, cpu.idle, cpuset.cpus (and the
# process's allowed cpus), memory.high through linux.resources.unified.
start cpu-live
expect v2-cpu.weight 20 "$(cg cpu-live cpu.weight)"
expect v2-cpu.max "50000 100000" "$(cg cpu-live cpu.max)"
expect v2-cpu.max.burst 20000 "$(cg cpu-live cpu.max.burst)"
expect v2-cpuset.cpus 1 "$(cg cpu-live cpuset.cpus)"
expect v2-cpuset.mems 0 "$(cg cpu-live cpuset.mems)"
expect v2-cpus-allowed 1 "$(sed -n 's/^Cpus_allowed_list:\t*//p' "/proc/$(init_pid cpu-live)/status")"
expect v2-unified-memory.high 33554432 "$(cg cpu-live memory.high)"
"$B" delete -f cpu-live
start idle-live
expect v2-cpu.idle 1 "$(cg idle-live cpu.idle)"
"$B" delete -f idle-live
start huge-live
expect v2-hugetlb.2MB.max 0 "$(cg huge-live hugetlb.2MB.max)"
"$B" delete -f huge-live

# Device rules as an eBPF program: a device outside the list (kmsg, recreated inside) cannot be
# opened while /dev/null can; without rules the same open works.
out=$(run dev-deny)
contains v2-devices-deny kmsg-denied "$out"
contains v2-devices-standard null-ok "$out"
contains v2-devices-control kmsg-open "$(run dev-control)"

# The v2 freezer: paused, the counter stands still (cgroup.events frozen 1); resumed, it moves.
mkdir -p /tmp/cnt
start counter
sleep 0.3
"$B" pause counter
contains v2-freeze-events "frozen 1" "$(cg counter cgroup.events)"
a=$(cat /tmp/cnt/counter 2>/dev/null); sleep 0.4; b=$(cat /tmp/cnt/counter 2>/dev/null)
expect v2-frozen-still "$a" "$b"
"$B" resume counter
sleep 1
c=$(cat /tmp/cnt/counter 2>/dev/null)
if [ -n "$c" ] && [ "$c" != "$b" ]; then pass v2-resumed-moves; else fail v2-resumed-moves "[$b] -> [$c]"; fi

# kill --all through cgroup.kill: a fork loop is ended whole.
start forker
sleep 0.5
n=$(wc -l < /sys/fs/cgroup/bvisor/forker/cgroup.procs)
if [ "$n" -ge 5 ]; then pass v2-kill-control; else fail v2-kill-control "only $n processes"; fi
"$B" kill --all forker KILL
# Live processes only: a killed orphan stays a zombie until this guest's PID 1 (a shell) reaps it.
live() {
  for p in $(cat /sys/fs/cgroup/bvisor/forker/cgroup.procs 2>/dev/null); do
    [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] || [ ! -e "/proc/$p" ] || echo "$p"
  done
}
i=0
while [ $i -lt 100 ] && [ -n "$(live)" ]; do sleep 0.1; i=$((i + 1)); done
expect v2-kill-all "" "$(live)"
"$B" delete -f counter
"$B" delete -f forker

# Nothing left: no container cgroup, no state.
expect v2-cleanup "" "$(ls /sys/fs/cgroup/bvisor 2>/dev/null | grep -v '^cgroup\.\|^cpu\|^memory\|^pids\|^io\|^hugetlb\|^rdma\|^misc')$(ls /run/bvisor 2>/dev/null)"
