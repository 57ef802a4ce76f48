#!/usr/bin/env bash
# bvisor driven by the real containerd (Debian's 1.6) and podman, nothing mocked (issue 7):
#   runc-shim/*   containerd's own io.containerd.runc.v2 shim with bvisor as its runc binary
#                 (`ctr run --runc-binary`): run, exit code, detached task, exec, ps, pause,
#                 resume, kill, delete, a refused plan surfacing as containerd's error, and a wasm
#                 module in a rootfs layer
#   bvisor-shim/* containerd-shim-bvisor-v2 (`ctr run --runtime io.containerd.bvisor.v2`), when
#                 it is built (target/debug/containerd-shim-bvisor-v2)
#   wasm-artifact/* an OCI wasm artifact (application/wasm layer) under Debian trixie's
#                 containerd 1.7.24 (unpacked privately), read by the shim from the content store
#   podman/*      `podman --runtime bvisor run --rm` of the same local image
# containerd runs on a private root, state dir and socket under a temp dir (started in the
# background, stopped by pid); images are built here from Debian's busybox-static and the wasm
# sample with umoci + skopeo and imported, nothing is pulled. Prints PASS/FAIL per case and exits
# non-zero on any failure. Leaves nothing behind: containers deleted, containerd stopped, its
# mounts gone, podman's storage removed, cgroups it caused removed.
#
# usage: integration/containerd.sh        (as root; builds what is missing)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
root=$(repo_root)
cd "$root"

apt_install containerd podman umoci skopeo busybox-static jq python3 protobuf-compiler
# BVISOR_PROFILE=release (bench-containerd.sh) drives the release build instead.
PROFILE=${BVISOR_PROFILE:-debug}
ensure_built "$PROFILE" bvisor containerd-shim-bvisor-v2 bvisor-ctd-client
BVISOR=$root/target/$PROFILE/bvisor

W=$(mktemp -d /tmp/bvisor-containerd.XXXXXX)
CTD_PID=""
CTD17_PID=""
fails=0
# cgroup hierarchies' top-level dirs before, so the cleanup removes only (empty) ones we caused.
cg_before=$(cgroup_dirs)

cleanup() {
  set +e
  stop_containerd "$W/c17.sock" "$CTD17_PID"
  stop_containerd "$W/ctd.sock" "$CTD_PID"
  pod system reset -f >/dev/null 2>&1
  unmount_under "$W"
  rm -rf "$W"
  # Parents podman or containerd's cgroupsPath made us create (libpod_parent/conmon, default):
  # only new, empty ones.
  remove_new_cgroups "$cg_before"
}
trap cleanup EXIT

ctr_() { ctr -a "$W/ctd.sock" "$@"; }
pod() {
  podman --root "$W/podman/root" --runroot "$W/podman/run" --storage-driver vfs \
    --cgroup-manager cgroupfs --events-backend file --tmpdir "$W/podman/tmp" --runtime "$BVISOR" "$@"
}

# case NAME EXPECTED-SUBSTRING COMMAND...: PASS when the command's output contains the string
# and it exits with EXPECT_RC (default 0).
case_() {
  local name=$1 want=$2 out rc=0
  shift 2
  out=$("$@" 2>&1) || rc=$?
  if [[ "$out" == *"$want"* ]] && [ "$rc" = "${EXPECT_RC:-0}" ]; then
    echo "PASS $name"
  else
    echo "FAIL $name (exit $rc, wanted \"$want\" and exit ${EXPECT_RC:-0}): $(echo "$out" | tail -n 3)"
    fails=$((fails + 1))
  fi
}

# --- images: busybox and the wasm sample, as OCI archives --------------------------------------
oci_image "$W/oci" busybox bundles/linux/rootfs /bin/sh
oci_image "$W/oci" wasm bundles/wasm/rootfs /hello.wasm arg1
BB=localhost/bvisor-busybox:latest
WASM=localhost/bvisor-wasm:latest

# --- containerd on a private root ---------------------------------------------------------------
cat > "$W/config.toml" <<EOF
version = 2
root = "$W/root"
state = "$W/state"
[grpc]
  address = "$W/ctd.sock"
[ttrpc]
  address = "$W/ctd.sock.ttrpc"
[debug]
  address = "$W/debug.sock"
EOF
# target/debug first on its PATH: containerd finds containerd-shim-bvisor-v2 there.
PATH="$root/target/$PROFILE:$PATH" containerd --config "$W/config.toml" > "$W/containerd.log" 2>&1 &
CTD_PID=$!
for _ in $(seq 100); do [ -S "$W/ctd.sock" ] && ctr_ version >/dev/null 2>&1 && break; sleep 0.1; done
ctr_ version >/dev/null || { echo "containerd did not start: $(tail -5 "$W/containerd.log")"; exit 1; }
ctr_ images import "$W/oci.busybox.tar" >/dev/null
ctr_ images import "$W/oci.wasm.tar" >/dev/null

# --- the same cases under both shims -----------------------------------------------------------
# lifecycle NAME ID-PREFIX RUNTIME-ARGS...: run, exit code, a detached task's exec, ps, pause,
# resume, kill and delete, a refusal surfacing as containerd's error, and the wasm image.
lifecycle() {
  local name=$1 p=$2
  shift 2
  local rt=("$@")
  case_ "$name/run" "hello" ctr_ run --rm "${rt[@]}" "$BB" "$p-run" /bin/echo hello
  EXPECT_RC=3 case_ "$name/exit-code" "" ctr_ run --rm "${rt[@]}" "$BB" "$p-exit" sh -c 'exit 3'
  ctr_ run -d "${rt[@]}" "$BB" "$p-task" sleep 300 >/dev/null
  case_ "$name/exec" "hi-exec" ctr_ task exec --exec-id e1 "$p-task" echo hi-exec
  case_ "$name/ps" "PID" ctr_ task ps "$p-task"
  case_ "$name/metrics" "pids.current" ctr_ task metrics "$p-task"
  # Task update through containerd's API (ctr has no command for it): the pids cgroup's
  # pids.max of the container (containerd places it at /default/ID) changes; a knob bvisor
  # cannot prove is refused by field.
  case_ "$name/update" "" "target/$PROFILE/bvisor-ctd-client" update --address "$W/ctd.sock" \
    --namespace default --id "$p-task" --resources '{"pids": {"limit": 77}}'
  case_ "$name/update-applied" "77" bash -c "cat /sys/fs/cgroup/pids/default/$p-task/pids.max 2>/dev/null ||
    cat /sys/fs/cgroup/default/$p-task/pids.max"
  EXPECT_RC=1 case_ "$name/update-refused" "linux.resources.memory.kernel" \
    "target/$PROFILE/bvisor-ctd-client" update --address "$W/ctd.sock" --namespace default \
    --id "$p-task" --resources '{"memory": {"kernel": 1048576}}'
  # A terminal: ctr wants one on its own stdin, so it runs under script(1).
  case_ "$name/exec-tty" "/dev/pts/" \
    script -qec "ctr -a '$W/ctd.sock' task exec -t --exec-id t1 '$p-task' tty" /dev/null
  case_ "$name/run-tty" "/dev/pts/" \
    script -qec "ctr -a '$W/ctd.sock' run -t --rm ${rt[*]} '$BB' '$p-tty' tty" /dev/null
  ctr_ task pause "$p-task"
  case_ "$name/pause" "PAUSED" ctr_ task ls
  ctr_ task resume "$p-task"
  case_ "$name/resume" "RUNNING" ctr_ task ls
  ctr_ task kill -s KILL "$p-task"
  for _ in $(seq 50); do ctr_ task ls | grep -q "$p-task.*STOPPED" && break; sleep 0.1; done
  case_ "$name/kill" "STOPPED" ctr_ task ls
  ctr_ task delete "$p-task" >/dev/null
  ctr_ c rm "$p-task"
  case_ "$name/delete" "" bash -c "! ctr -a '$W/ctd.sock' c ls -q | grep -qx '$p-task'"
  EXPECT_RC=1 case_ "$name/refused" "refused: process.apparmorProfile" \
    ctr_ run --rm "${rt[@]}" --apparmor-profile bvisor-test "$BB" "$p-refused" true
  case_ "$name/wasm" "greeting: hello from the wasm bundle's rootfs" \
    ctr_ run --rm "${rt[@]}" "$WASM" "$p-wasm"
}

# containerd's own runc v2 shim with bvisor as its runc binary, then containerd-shim-bvisor-v2.
lifecycle runc-shim rs --runc-binary "$BVISOR"
if [ -x "target/$PROFILE/containerd-shim-bvisor-v2" ]; then
  lifecycle bvisor-shim bs --runtime io.containerd.bvisor.v2
else
  echo "FAIL bvisor-shim: target/$PROFILE/containerd-shim-bvisor-v2 is not built"
  fails=$((fails + 1))
fi

# --- an OCI wasm artifact, under containerd 1.7 -------------------------------------------------
# Config application/vnd.wasm.config.v0+json, one application/wasm layer (the sample's module):
# containerd 1.6 cannot carry such an image (notes/peers.md), so this case runs Debian trixie's
# containerd 1.7.24, unpacked privately (the system's containerd is untouched) and started on its
# own temp root. ctr refuses the config media type itself, so bvisor-ctd-client (integration/
# ctd-client) records the container with its image through containerd's API; the bvisor shim
# reads the module from the content store. The module exits 1 after its greeting and args (an
# artifact has no /etc/greeting for it to read): the exit status must come back exactly.
containerd17() {
  local dir=$root/target/containerd-1.7.24 uri
  if [ ! -x "$dir/root/usr/bin/containerd" ]; then
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
    # The machine's own Debian mirror: deb822 `URIs:` or a one-line `deb URI suite` entry.
    uri=$({ awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/*.sources
      awk '/^deb / {print ($2 ~ /^\[/) ? $3 : $2}' /etc/apt/sources.list; } 2>/dev/null |
      grep -m1 '/debian/\?$' || true)
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${uri:-http://deb.debian.org/debian} trixie main" \
      > "$dir/sources.list"
    local o=(-o Dir::Etc::sourcelist="$dir/sources.list" -o Dir::Etc::sourceparts=/nonexistent
      -o Dir::State::lists="$dir/lists" -o Dir::Cache="$dir/cache")
    apt-get "${o[@]}" update -qq >&2
    (cd "$dir" && apt-get "${o[@]}" download -qq containerd=1.7.24~ds1-6+deb13u1 >&2 2>/dev/null)
    dpkg -x "$dir"/containerd_1.7.24*.deb "$dir/root"
  fi
  echo "$dir/root/usr/bin"
}
C17=$(containerd17)
mkdir -p "$W/c17"
python3 integration/wasm-artifact.py "$W/artifact" bundles/wasm/rootfs/hello.wasm \
  localhost/bvisor-wasm-artifact:latest
tar -C "$W/artifact" -cf "$W/artifact.tar" .
printf '%s\n' 'version = 2' "root = \"$W/c17/root\"" "state = \"$W/c17/state\"" \
  '[grpc]' "  address = \"$W/c17.sock\"" '[ttrpc]' "  address = \"$W/c17.sock.ttrpc\"" \
  '[debug]' "  address = \"$W/c17-debug.sock\"" > "$W/c17/config.toml"
PATH="$root/target/$PROFILE:$PATH" "$C17/containerd" --config "$W/c17/config.toml" > "$W/c17.log" 2>&1 &
CTD17_PID=$!
c17() { "$C17/ctr" -a "$W/c17.sock" "$@"; }
for _ in $(seq 100); do [ -S "$W/c17.sock" ] && c17 version >/dev/null 2>&1 && break; sleep 0.1; done
c17 images import --all-platforms "$W/artifact.tar" >/dev/null
"$BVISOR" spec --bundle "$W/c17" >/dev/null
jq '.process.args = ["hello.wasm", "arg1"] | .process.terminal = false | del(.linux.resources)' \
  "$W/c17/config.json" > "$W/c17/spec.json"
EXPECT_RC=1 case_ wasm-artifact/run "arg: arg1" "target/$PROFILE/bvisor-ctd-client" run \
  --address "$W/c17.sock" --namespace default --image localhost/bvisor-wasm-artifact:latest \
  --runtime io.containerd.bvisor.v2 --spec "$W/c17/spec.json" --id art-1
artifact_cleaned() {
  [ -z "$(c17 c ls -q)" ] || return 1
  for _ in $(seq 50); do pgrep -f -- "-address $W/c17.sock" >/dev/null || break; sleep 0.1; done
  ! pgrep -af -- "-address $W/c17.sock" &&
    [ -z "$(ls "$W/c17/state/io.containerd.runtime.v2.task/default" 2>/dev/null)" ]
}
case_ wasm-artifact/cleaned "" artifact_cleaned
kill "$CTD17_PID"
wait "$CTD17_PID" 2>/dev/null || true
CTD17_PID=""

# --- podman with bvisor as its OCI runtime --------------------------------------------------------
mkdir -p "$W/podman"
pod load -q -i "$W/oci.busybox.tar" >/dev/null
# Explicit ulimits: podman's defaults exceed this machine's hard limits (CAP_SYS_RESOURCE is not
# in its bounding set), see /work/shared/notes/peers.md.
case_ podman/run "hi-podman" pod run --rm --network none --ulimit nofile=1024:1024 \
  --ulimit nproc=4096:4096 "$BB" echo hi-podman

# --- measurements (BVISOR_CTD_BENCH=1; integration/bench-containerd.sh sets it) --------------------
if [ -n "${BVISOR_CTD_BENCH:-}" ]; then
  apt_install hyperfine
  n=0
  next() { n=$((n + 1)); echo "$1-$n"; }
  export -f next 2>/dev/null || true
  A="$W/ctd.sock"
  hyperfine -N -w 3 -r "${BVISOR_CTD_RUNS:-20}" --export-json "$W/ctd-bench.json" \
    -n "bvisor shim, busybox true" "ctr -a $A run --rm --runtime io.containerd.bvisor.v2 $BB bench-b true" \
    -n "runc v2 shim + runc, busybox true" "ctr -a $A run --rm --runc-binary $(command -v runc) $BB bench-r true" \
    -n "bvisor shim, wasm hello" "ctr -a $A run --rm --runtime io.containerd.bvisor.v2 $WASM bench-w" \
    >/dev/null
  jq -r '.results | (.[0].median) as $b | .[] | "bench: \(.command | split(" ") | .[-2:] | join(" "))  median \((.median * 1000) | floor) ms  ratio to the bvisor shim \((.median / $b * 100 | floor) / 100)"' "$W/ctd-bench.json" || true
  jq -r '.results[] | "  \(.command): median \((.median*1000*10|floor)/10) ms"' "$W/ctd-bench.json"
  # Peak RSS of the shim serving one container.
  for rt in "--runtime io.containerd.bvisor.v2" "--runc-binary $(command -v runc)"; do
    # shellcheck disable=SC2086
    ctr_ run -d $rt "$BB" bench-rss sleep 30 >/dev/null
    sp=$(pgrep -f -- "-id bench-rss -address $W/ctd.sock" | head -1)
    echo "bench: shim peak RSS ($rt): $(awk '/VmHWM/ {print $2, $3}' "/proc/$sp/status")"
    ctr_ task kill -s KILL bench-rss >/dev/null; sleep 0.3
    ctr_ task delete bench-rss >/dev/null 2>&1; ctr_ c rm bench-rss >/dev/null 2>&1
  done
fi

# --- nothing left ----------------------------------------------------------------------------------
case_ leftovers/containerd "" bash -c "[ -z \"\$(ctr -a '$W/ctd.sock' c ls -q)\" ]"
# Every shim exits once its last task is deleted (containerd asks it to shut down).
shims_gone() {
  for _ in $(seq 50); do
    pgrep -f -- "-address $W/ctd.sock" >/dev/null || return 0
    sleep 0.1
  done
  pgrep -af -- "-address $W/ctd.sock"
  return 1
}
case_ leftovers/shims "" shims_gone
case_ leftovers/bvisor-state "" bash -c "[ -z \"\$(ls /run/containerd/bvisor/default 2>/dev/null)\" ]"

if [ "$fails" -gt 0 ]; then
  echo "containerd.sh: $fails case(s) failed (containerd log: tail below)"
  tail -n 20 "$W/containerd.log"
  exit 1
fi
echo "containerd.sh: all cases passed"
