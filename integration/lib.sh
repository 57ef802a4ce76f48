# Shared helpers for the integration scripts. Source it; it changes nothing by itself.

# apt_install PKG...: install the Debian packages that are missing (apt-get update once, only
# when something is missing).
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "need root to apt-get install ${missing[*]}" >&2
    return 1
  fi
  if [ -z "${BVISOR_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    export BVISOR_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

repo_root() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }

# build_wasm_runner PROFILE: the bvisor-wasm runner as a static executable (it is exec'd after
# pivot_root, where the host's dynamic loader is absent). --target keeps the static flag away
# from build scripts and proc macros. bvisor finds it at target/<triple>/<profile>/bvisor-wasm.
build_wasm_runner() {
  local profile=${1:-debug} flag=()
  [ "$profile" = release ] && flag=(--release)
  RUSTFLAGS="-C target-feature=+crt-static" cargo build -q "${flag[@]}" -p bvisor-wasm \
    --bin bvisor-wasm --target "$(rustc -vV | sed -n 's/^host: //p')"
}

# build_dist DIR: the release binaries as bvisor ships them, in DIR:
#   bvisor         static (glibc and libseccomp linked in), with packed relocations: no
#                  dynamic loader at start, and its resident memory is its own small binary
#                  instead of the shared libc's pages it touches (6.1 -> 3.5 MiB peak RSS of
#                  `run` with the size profile, 0.5-1 ms less per `run`)
#   bvisor-launcher static too: it starts once per container and per exec, and without the
#                  dynamic loader it starts in 0.5 ms instead of 0.8 (hyperfine -N here). It is
#                  exec'd from a read-only overlay view of this directory, so its size (1.4 MB
#                  against 0.65 dynamic) costs nothing there; only the sealed-copy fallback
#                  (no mount rights) copies the larger file.
#   bvisor-wasm    static (it runs after pivot_root, where the host's loader is absent)
# bvisor finds the other two beside itself.
build_dist() {
  local dir=$1 triple seccomp
  triple=$(rustc -vV | sed -n 's/^host: //p')
  seccomp=$(dirname "$(find /usr/lib /usr/lib64 /lib -name libseccomp.a 2>/dev/null | head -n 1)")
  [ -n "$seccomp" ] && [ "$seccomp" != . ] || { echo "libseccomp.a not found (libseccomp-dev)" >&2; return 1; }
  # pack-relative-relocs (DT_RELR, which the static glibc 2.36+ linked in applies itself): the
  # position-independent binary's relocations take 3 KB instead of 250 KB (0.5 MiB less
  # peak RSS of `run`), and it keeps its ASLR.
  LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=$seccomp \
    RUSTFLAGS="-C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs" \
    cargo build -q --release -p bvisor --bin bvisor -p bvisor-wasm --bin bvisor-wasm \
    -p bvisor-launcher --bin bvisor-launcher --target "$triple" || return 1
  mkdir -p "$dir"
  cp "target/$triple/release/bvisor" "target/$triple/release/bvisor-wasm" "target/$triple/release/bvisor-launcher" "$dir/"
  # The static runner keeps its symbol table despite the profile's `strip` (0.8 of 4.1 MB); it is
  # copied into a sealed memfd for every wasm container, so drop it here.
  strip "$dir/bvisor-wasm"
}

# oci_image LAYOUT NAME ROOTFS CMD...: a one-layer OCI image of ROOTFS (umoci), with CMD as its
# command, written to LAYOUT.NAME.tar as localhost/bvisor-NAME:latest (skopeo). Local only.
oci_image() {
  local layout=$1 name=$2 rootfs=$3
  shift 3
  [ -d "$layout" ] || umoci init --layout "$layout"
  umoci new --image "$layout:$name"
  umoci unpack --image "$layout:$name" "$layout-unpack-$name" >/dev/null
  rm -rf "$layout-unpack-$name/rootfs"
  cp -a "$rootfs" "$layout-unpack-$name/rootfs"
  umoci repack --image "$layout:$name" "$layout-unpack-$name"
  rm -rf "$layout-unpack-$name"
  local args=()
  for c in "$@"; do args+=(--config.cmd "$c"); done
  umoci config --image "$layout:$name" "${args[@]}" --config.workingdir /
  skopeo copy -q "oci:$layout:$name" "oci-archive:$layout.$name.tar:localhost/bvisor-$name:latest"
}

# true_bundle DIR: the benchmarks' bundle: Debian's busybox-static rootfs and `runc spec`'s
# config with args ["/bin/true"], terminal false.
true_bundle() {
  local dir=$1
  mkdir -p "$dir"
  "$(repo_root)/bundles/linux/make-rootfs.sh" "$dir/rootfs" >/dev/null
  (cd "$dir" && runc spec)
  jq '.process.args = ["/bin/true"] | .process.terminal = false' "$dir/config.json" > "$dir/config.json.new"
  mv "$dir/config.json.new" "$dir/config.json"
}

# bench_bundle DIR: true_bundle, confined the way containerd and podman confine a container:
# containers-common's default seccomp profile (integration/seccomp-default.jq) and the cgroup
# namespace added to `runc spec`'s pid, network, ipc, uts and mount namespaces, so the bundle
# has every namespace of the floor (`unshare -mpfnuiC`). With the config's read-only root, which
# bvisor backs with landlock, a plan with seccomp, landlock and every namespace (issue 8).
bench_bundle() {
  local dir=$1 profile=/usr/share/containers/seccomp.json
  apt_install golang-github-containers-common jq || return 1
  [ -s "$profile" ] || { echo "$profile missing (golang-github-containers-common)" >&2; return 1; }
  true_bundle "$dir"
  jq --slurpfile s <(jq -f "$(repo_root)/integration/seccomp-default.jq" "$profile") '
    .linux.seccomp = $s[0]
    | .linux.namespaces |= (. + [{type: "cgroup"}] | unique_by(.type))
  ' "$dir/config.json" > "$dir/config.json.new"
  mv "$dir/config.json.new" "$dir/config.json"
}

# shared_cgroup_parents: bvisor's shared parent (`<own cgroup>/bvisor`) in every hierarchy
# where it exists, one per line.
shared_cgroup_parents() {
  local line path mount
  while IFS= read -r line; do
    path=${line#*:*:}
    path=${path%/} # the root cgroup is "/": no doubled slash in what we print
    for mount in /sys/fs/cgroup /sys/fs/cgroup/*; do
      # Only a cgroup directory: bvisor's shared parent lives in cgroupfs, nowhere else.
      if [ -e "$mount$path/bvisor/cgroup.procs" ]; then echo "$mount$path/bvisor"; fi
    done
  done < /proc/self/cgroup | sort -u
}

# remove_shared_cgroup_parents [BEFORE]: rmdir the shared parents that are not listed in the
# text BEFORE (what shared_cgroup_parents printed when the run began). bvisor keeps them once
# made, as runc keeps the parents of its cgroups; a test run removes the ones it caused so the
# machine's tree is left as the run found it. rmdir refuses a cgroup still in use.
remove_shared_cgroup_parents() {
  local before=${1:-} dir
  for dir in $(shared_cgroup_parents); do
    grep -qxF -- "$dir" <<<"$before" && continue
    rmdir "$dir" 2>/dev/null || true
  done
}

# cgroup_dirs: every cgroup directory down to five levels, sorted (a before/after snapshot lets
# a script remove only the new, empty directories it caused, deepest first).
cgroup_dirs() { find /sys/fs/cgroup -mindepth 2 -maxdepth 5 -type d 2>/dev/null | sort; }
# remove_new_cgroups BEFORE: rmdir the empty directories that are not in the BEFORE snapshot.
remove_new_cgroups() {
  comm -13 <(echo "$1") <(cgroup_dirs) | sort -r |
    while read -r d; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
  return 0
}

# stop_containerd SOCK PID [NAMESPACE]: delete what is left in NAMESPACE (default: default) of the
# private containerd on SOCK, stop it by PID, then kill the shims it started (they name its
# socket on their command line).
stop_containerd() {
  local sock=$1 pid=$2 ns=${3:-default} id p
  if [ -n "$pid" ]; then
    for id in $(ctr -a "$sock" -n "$ns" c ls -q 2>/dev/null); do
      ctr -a "$sock" -n "$ns" task kill -s KILL "$id" >/dev/null 2>&1
      ctr -a "$sock" -n "$ns" task delete -f "$id" >/dev/null 2>&1
      ctr -a "$sock" -n "$ns" c rm "$id" >/dev/null 2>&1
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  for p in $(pgrep -f -- "-address $sock" 2>/dev/null); do
    grep -qa "$sock" "/proc/$p/cmdline" 2>/dev/null && kill -KILL "$p" 2>/dev/null
  done
  return 0
}

# unmount_under DIR: lazily unmount every mount at or below DIR, deepest first.
unmount_under() {
  grep -F " $1" /proc/self/mountinfo | awk '{print $5}' | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
  return 0
}

# ensure_built PROFILE BIN...: the workspace's binaries for PROFILE (debug or release) unless every
# target/PROFILE/BIN is there already; the static wasm runner; both sample rootfs. Run from the
# repository root.
ensure_built() {
  local profile=$1 b missing=0 flag=()
  shift
  [ "$profile" = release ] && flag=(--release)
  for b in "$@"; do [ -x "target/$profile/$b" ] || missing=1; done
  [ "$missing" = 0 ] || cargo build "${flag[@]}" --workspace --bins -q
  [ -x "target/$(rustc -vV | sed -n 's/^host: //p')/$profile/bvisor-wasm" ] || build_wasm_runner "$profile"
  bundles/linux/make-rootfs.sh
  bundles/wasm/make-rootfs.sh
}
