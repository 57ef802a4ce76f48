#!/usr/bin/env bash
# bvisor as a Kubernetes RuntimeClass handler through containerd's CRI plugin (issue 10), driven
# by bvisor's own CRI client (integration/cri-client: k8s-cri over tonic on the unix socket),
# with nothing mocked:
#   bvisor/*       handler `bvisor`: runtime_type io.containerd.bvisor.v2 (containerd-shim-bvisor-v2)
#   bvisor-runc/*  handler `bvisor-runc`: containerd's runc v2 shim with BinaryName = bvisor
#   leftovers/*    after RemovePodSandbox: no shim, process, mount, netns, cgroup or state dir
#
# containerd: Debian 12's own 1.6.20 (the system package; its CRI plugin speaks runtime.v1, and
# the wasm image here is a module in a rootfs layer, which 1.6 carries; the OCI wasm artifact
# path needs 1.7 and is covered by containerd.sh). It runs on a private root, state dir and
# socket under a temp dir, in a network namespace this script creates (so the CNI bridge and
# its addresses never touch the host's network), started in the background and stopped by pid.
# Pod networking: Debian's containernetworking-plugins, a bridge on the private subnet
# 10.88.99.0/24 (host-local IPAM with its state in the temp dir) plus CRI's loopback; every pod
# gets its own network namespace, which its containers join by path.
# Images are built here (no registry): the pause image from a 20-line static C program, busybox
# from busybox-static, the wasm sample; imported into the k8s.io namespace; sandbox_image names
# the local pause image.
#
#   BVISOR_CRI_BENCH=1   also print pod start/teardown latency for bvisor, bvisor-runc and runc
#                        (integration/bench-cri.sh sets it, on release builds)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
root=$(repo_root)
cd "$root"

apt_install containerd containernetworking-plugins umoci skopeo busybox-static gcc iproute2 \
  jq protobuf-compiler libseccomp-dev pkg-config
PROFILE=${BVISOR_PROFILE:-debug}
ensure_built "$PROFILE" bvisor containerd-shim-bvisor-v2 bvisor-cri-client
BVISOR=$root/target/$PROFILE/bvisor
CLIENT=$root/target/$PROFILE/bvisor-cri-client

W=$(mktemp -d /tmp/bvisor-cri.XXXXXX)
NETNS=bvisor-cri-$$
CTD_PID=""
fails=0
cg_before=$(cgroup_dirs)
netns_before=$(ls /var/run/netns 2>/dev/null | sort || true)
SOCK=$W/cri.sock
ctr_() { ctr -a "$SOCK" -n k8s.io "$@"; }

cleanup() {
  set +e
  stop_containerd "$SOCK" "$CTD_PID" k8s.io
  unmount_under "$W"
  # Pod network namespaces CRI pinned and did not remove.
  comm -13 <(echo "$netns_before") <(ls /var/run/netns 2>/dev/null | sort || true) | grep '^cni-' |
    while read -r n; do umount "/var/run/netns/$n" 2>/dev/null; rm -f "/var/run/netns/$n"; done
  ip netns del "$NETNS" 2>/dev/null
  rm -rf "$W"
  # Cgroup parents our pods made (k8s.io and the like): only new, empty ones, deepest first.
  remove_new_cgroups "$cg_before"
}
trap cleanup EXIT

# case NAME COMMAND...: PASS when the command exits 0.
case_() {
  local name=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" = 0 ]; then
    echo "PASS $name"
  else
    echo "FAIL $name: $(echo "$out" | tail -n 5)"
    fails=$((fails + 1))
  fi
}

# --- images ------------------------------------------------------------------------------------
mkdir -p "$W/pause-rootfs"
cat > "$W/pause.c" <<'C'
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
/* The pod sandbox's init: holds the pod's namespaces, reaps, exits on SIGINT/SIGTERM. */
static void quit(int s) { (void)s; _exit(0); }
static void reap(int s) { (void)s; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
    signal(SIGINT, quit);
    signal(SIGTERM, quit);
    signal(SIGCHLD, reap);
    for (;;) pause();
}
C
gcc -static -O2 -o "$W/pause-rootfs/pause" "$W/pause.c"
mkdir -p "$W/pause-rootfs"/{proc,sys,dev,etc}
oci_image "$W/oci" pause "$W/pause-rootfs" /pause
oci_image "$W/oci" busybox bundles/linux/rootfs /bin/sh
oci_image "$W/oci" wasm bundles/wasm/rootfs /hello.wasm

# --- containerd with its CRI plugin, in a network namespace of ours ---------------------------
mkdir -p "$W/cni/net.d" "$W/cni/ipam"
cat > "$W/cni/net.d/10-bvisor.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "bvisor-cri", "plugins": [
  {"type": "bridge", "bridge": "bvcri0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.99.0/24"}]],
            "dataDir": "$W/cni/ipam"}}]}
EOF
cat > "$W/config.toml" <<EOF
version = 2
root = "$W/root"
state = "$W/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = "$W/debug.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/bvisor-pause:latest"
  # Pods ask for oom_score_adj -998; lowering it needs CAP_SYS_RESOURCE, which this machine's
  # bounding set lacks: keep it no lower than containerd's own (as for rootless).
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$W/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.bvisor]
      runtime_type = "io.containerd.bvisor.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.bvisor-runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.bvisor-runc.options]
        BinaryName = "$BVISOR"
EOF
ip netns add "$NETNS"
ip netns exec "$NETNS" true # the namespace exists and works
# nsenter, not `ip netns exec`: that would also give containerd a mount namespace of its own.
PATH="$root/target/$PROFILE:$PATH" nsenter --net="/var/run/netns/$NETNS" \
  containerd --config "$W/config.toml" > "$W/containerd.log" 2>&1 &
CTD_PID=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && ctr -a "$SOCK" version >/dev/null 2>&1 && break; sleep 0.1; done
ctr -a "$SOCK" version >/dev/null || { echo "containerd did not start: $(tail -5 "$W/containerd.log")"; exit 1; }
for img in pause busybox wasm; do ctr_ images import "$W/oci.$img.tar" >/dev/null; done

# --- the pod lifecycle under each handler -------------------------------------------------------
mkdir -p "$W/scratch"
for h in bvisor:containerd-shim-bvisor-v2 bvisor-runc:containerd-shim-runc-v2; do
  out=$("$CLIENT" scenario --socket "$SOCK" --handler "${h%%:*}" --shim "${h#*:}" \
    --busybox localhost/bvisor-busybox:latest --wasm localhost/bvisor-wasm:latest \
    --scratch "$W/scratch" 2>&1) || true
  echo "$out" | grep -E '^(PASS|FAIL)' || echo "FAIL ${h%%:*}: $out"
  fails=$((fails + $(echo "$out" | grep -c '^FAIL' || true)))
  echo "$out" | grep -q '^PASS' || fails=$((fails + 1))
done

# --- measurements -------------------------------------------------------------------------------
if [ -n "${BVISOR_CRI_BENCH:-}" ]; then
  n=${BVISOR_CRI_RUNS:-10}
  for h in bvisor bvisor-runc runc; do
    "$CLIENT" bench --socket "$SOCK" --handler "$h" --busybox localhost/bvisor-busybox:latest \
      --scratch "$W/scratch" --iterations "$n" | tee -a "$W/bench.txt"
  done
  awk '/^bench/ {s[$2]=$4; t[$2]=$6} END {
    printf "ratio bvisor/runc: start %.2f teardown %.2f\n", s["bvisor"]/s["runc"], t["bvisor"]/t["runc"];
    printf "ratio bvisor-runc/runc: start %.2f teardown %.2f\n", s["bvisor-runc"]/s["runc"], t["bvisor-runc"]/t["runc"] }' \
    "$W/bench.txt"
fi

# --- nothing left -------------------------------------------------------------------------------
no_containers() { [ -z "$(ctr_ c ls -q)" ]; }
no_shims() {
  for _ in $(seq 50); do pgrep -f -- "-address $SOCK" >/dev/null || return 0; sleep 0.1; done
  pgrep -af -- "-address $SOCK"
  return 1
}
no_state() { [ -z "$(ls /run/containerd/bvisor/k8s.io 2>/dev/null)" ]; }
no_mounts() {
  ! grep -E "$W/(state|root)/io.containerd.(runtime|grpc)" /proc/self/mountinfo
}
no_pod_netns() {
  ! comm -13 <(echo "$netns_before") <(ls /var/run/netns 2>/dev/null | sort || true) | grep '^cni-'
}
# Every cgroup directory a container or pod had (named by its 64-hex id) is gone.
no_cgroups() {
  ! comm -13 <(echo "$cg_before") <(cgroup_dirs) | grep -E '/[0-9a-f]{64}$'
}
case_ leftovers/containers no_containers
case_ leftovers/shims no_shims
case_ leftovers/bvisor-state no_state
case_ leftovers/mounts no_mounts
case_ leftovers/pod-netns no_pod_netns
case_ leftovers/cgroups no_cgroups

if [ "$fails" -gt 0 ]; then
  echo "cri.sh: $fails case(s) failed (containerd log: tail below)"
  tail -n 30 "$W/containerd.log"
  exit 1
fi
echo "cri.sh: all cases passed"
