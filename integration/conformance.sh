#!/usr/bin/env bash
# Run the OCI runtime-tools validation suite (58 programs) against bvisor, runc and crun,
# print a pass/FAIL table, and gate bvisor on integration/conformance/expected-bvisor.txt.
#
# usage: integration/conformance.sh [--runtimes NAME=PATH,...] [--only PROGRAM...]
#   --runtimes  lanes to run, default bvisor=${BVISOR_BIN:-target/release/bvisor},
#               runc=/usr/sbin/runc,crun=/usr/bin/crun
#   --only      run only these validation programs (names as in the suite's validation/ dir)
# environment:
#   BVISOR_BIN           bvisor binary for the default bvisor lane
#   BVISOR_CACHE         cache root (default /var/cache/bvisor); the built suite lives in
#                        $BVISOR_CACHE/conformance/<orig tarball sha256>/
#   CONFORMANCE_TIMEOUT  seconds per program (default 60)
#
# Facts this script relies on are in /work/shared/notes/conformance.md: the suite's full source
# is only in Debian's *source* package (the binary -dev package excludes validation/ and cmd/),
# it builds in GOPATH mode against Debian's golang-*-dev packages, and its one undebianised
# import (github.com/mndrix/tap-go) is replaced by integration/conformance/tap-go/tap.go.
#
# Results: integration/results/conformance-<runtime>/<program>.tap (stdout) and .err (stderr),
# and the table in integration/results/conformance-<date>.md.
set -euo pipefail

readonly SUITE_PKG=golang-github-opencontainers-runtime-tools
readonly SUITE_VERSION=0.9.0.109.ge931285-1
readonly SUITE_ORIG_SHA256=203989a1ea98cf2aaced79155bbda09270b20db19b03376dde91ab12e5e6a0fe
# The trixie upload is the one whose orig tarball the archive still serves.
readonly SUITE_SUITE=trixie

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
readonly HERE=$REPO_ROOT/integration/conformance
readonly TAP_GO=$HERE/tap-go/tap.go
readonly EXPECTED_BVISOR=$HERE/expected-bvisor.txt
readonly RESULTS_ROOT=$REPO_ROOT/integration/results
readonly CACHE_DIR=${BVISOR_CACHE:-/var/cache/bvisor}/conformance
readonly SUITE_DIR=$CACHE_DIR/$SUITE_ORIG_SHA256
readonly TIMEOUT=${CONFORMANCE_TIMEOUT:-60}
# Columns of the table, in this order; lanes with other names are appended.
readonly DEFAULT_LANES=(bvisor runc crun)

# Packages the run needs. golang-gopkg-yaml.v3-dev is for our TAP writer's YAML blocks;
# xz-utils unpacks the orig tarball; the rest are the suite's own imports.
readonly PACKAGES=(
  golang-go runc crun busybox-static xz-utils
  golang-github-google-uuid-dev golang-github-blang-semver-dev
  golang-github-hashicorp-go-multierror-dev golang-github-mrunalp-fileutils-dev
  golang-github-opencontainers-specs-dev golang-github-opencontainers-selinux-dev
  golang-github-sirupsen-logrus-dev golang-github-stretchr-testify-dev
  golang-gocapability-dev golang-github-urfave-cli-dev
  golang-github-xeipuuv-gojsonschema-dev golang-golang-x-sys-dev
  golang-gopkg-yaml.v3-dev
)

log() { printf 'conformance: %s\n' "$*" >&2; }

# Temporary directories (private apt state, build dirs, the run's bundles) are removed
# however the script ends. --one-file-system: never descend into a mount left in a bundle.
TO_REMOVE=()
remove_temporaries() {
  [ ${#TO_REMOVE[@]} -eq 0 ] || rm -rf --one-file-system "${TO_REMOVE[@]}"
}
die() { log "error: $*"; exit 2; }

usage() {
  sed -n '2,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

# ---------------------------------------------------------------------------------------------
# 1. packages
# ---------------------------------------------------------------------------------------------

is_installed() {
  [ "$(dpkg-query -W -f '${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

ensure_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    is_installed "$p" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing: ${missing[*]}"
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends)
  # The caller is expected to have run apt-get update; on a machine whose lists are still
  # empty the install cannot resolve anything, so update once and retry.
  if ! "${apt[@]}" "${missing[@]}"; then
    if compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
      die "apt-get install failed"
    fi
    log "apt lists are empty: running apt-get update once"
    apt-get update
    "${apt[@]}" "${missing[@]}" || die "apt-get install failed after apt-get update"
  fi
}

# ---------------------------------------------------------------------------------------------
# 2. suite source: the Debian source package, fetched through a private apt configuration
# ---------------------------------------------------------------------------------------------

# Print "URI KEYRING" of the machine's main Debian archive, read from its deb822 sources file
# (first stanza that is not the security archive). The host name is never written down here.
archive_uri() {
  local f=/etc/apt/sources.list.d/debian.sources
  [ -r "$f" ] || die "$f not found: cannot derive the Debian archive URI"
  awk '
    function flush() {
      if (uri != "" && uri !~ /security/ && !done) { print uri, (key == "" ? "-" : key); done = 1 }
      uri = ""; key = ""
    }
    /^[[:space:]]*$/ { flush(); next }
    /^URIs:/        { uri = $2 }
    /^Signed-By:/   { key = ($2 ~ /^\// ? $2 : "") }  # a path, not an inline key block
    END             { flush() }
  ' "$f"
}

# Sets SUITE_TARBALL to the verified orig tarball in the cache, downloading it if needed.
fetch_suite_source() {
  local tarball=$SUITE_DIR/${SUITE_PKG}_${SUITE_VERSION%-*}.orig.tar.xz
  SUITE_TARBALL=$tarball
  if [ -f "$tarball" ] && echo "$SUITE_ORIG_SHA256  $tarball" | sha256sum -c --quiet - 2>/dev/null; then
    return 0
  fi
  local uri key
  read -r uri key < <(archive_uri)
  [ -n "$uri" ] || die "no archive URI in /etc/apt/sources.list.d/debian.sources"
  local apt_dir
  apt_dir=$(mktemp -d "$CACHE_DIR/apt.XXXXXX")
  TO_REMOVE+=("$apt_dir")
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/download"
  local signed=""
  [ "$key" != - ] && signed="[signed-by=$key] "
  echo "deb-src ${signed}$uri $SUITE_SUITE main" > "$apt_dir/sources.list"
  # Every path apt writes is private, so the machine's apt configuration and lists stay as
  # they are. Sandbox::User=root because _apt cannot enter our 0700 temp dir.
  local apt_opts=(
    -o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o Dir::Etc::sourceparts=/nonexistent
    -o "Dir::State::lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
    -o APT::Sandbox::User=root
  )
  log "fetching $SUITE_PKG=$SUITE_VERSION source ($SUITE_SUITE) through a private apt configuration"
  apt-get -q "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1 ||
    { cat "$apt_dir/update.log" >&2; die "private apt-get update failed"; }
  # This exits non-zero: the trixie upload's .dsc is gone from the pool while its orig
  # tarball is still served. Judge by the tarball and its checksum instead.
  (cd "$apt_dir/download" &&
    apt-get -q "${apt_opts[@]}" source --download-only "$SUITE_PKG=$SUITE_VERSION") \
    >"$apt_dir/source.log" 2>&1 || true
  local got=$apt_dir/download/$(basename "$tarball")
  if [ ! -f "$got" ]; then
    cat "$apt_dir/source.log" >&2
    die "apt-get source did not fetch $(basename "$tarball")"
  fi
  echo "$SUITE_ORIG_SHA256  $got" | sha256sum -c --quiet - ||
    die "checksum mismatch for $(basename "$tarball")"
  mkdir -p "$SUITE_DIR"
  mv "$got" "$tarball"
}

# ---------------------------------------------------------------------------------------------
# 3. build: GOPATH mode against Debian's Go libraries, cached by tarball sha
# ---------------------------------------------------------------------------------------------

# The cache is valid for one tarball, one TAP writer and one Go toolchain.
build_stamp() {
  printf 'orig %s\ntap %s\ngo %s\n' "$SUITE_ORIG_SHA256" \
    "$(sha256sum "$TAP_GO" | cut -d' ' -f1)" "$(go version)"
}

build_suite() {
  local tarball=$1 stamp
  stamp=$(build_stamp)
  if [ -f "$SUITE_DIR/bin/.stamp" ] && [ "$(cat "$SUITE_DIR/bin/.stamp")" = "$stamp" ]; then
    return 0
  fi
  log "building the validation suite (about 30 s cold)"
  local build
  build=$(mktemp -d "$SUITE_DIR/build.XXXXXX")
  TO_REMOVE+=("$build")
  local src=$build/gopath/src/github.com/opencontainers/runtime-tools
  mkdir -p "$src" "$build/gopath/src/github.com/mndrix/tap-go" "$build/bin"
  tar -xJf "$tarball" -C "$src" --strip-components=1
  cp "$TAP_GO" "$build/gopath/src/github.com/mndrix/tap-go/tap.go"
  # Our GOPATH comes first, so our runtime-tools and tap-go win over anything in
  # /usr/share/gocode (Debian's runtime-tools -dev, if installed, lacks validation/).
  (cd "$src" &&
    GO111MODULE=off CGO_ENABLED=0 GOFLAGS= GOPATH="$build/gopath:/usr/share/gocode" \
      GOCACHE="$CACHE_DIR/go-build" \
      go build -o "$build/bin/" ./validation/... ./cmd/runtimetest)
  local n
  n=$(find "$build/bin" -maxdepth 1 -type f ! -name runtimetest | wc -l)
  [ -x "$build/bin/runtimetest" ] || die "build produced no runtimetest"
  [ "$n" -eq 58 ] || log "warning: built $n validation programs, expected 58"
  echo "$stamp" > "$build/bin/.stamp"
  # Swap the finished build in whole so an interrupted build never looks cached.
  rm -rf "$SUITE_DIR/bin"
  mv "$build/bin" "$SUITE_DIR/bin"
}

suite_programs() {
  find "$SUITE_DIR/bin" -maxdepth 1 -type f ! -name runtimetest ! -name '.*' -printf '%f\n' | sort
}

# ---------------------------------------------------------------------------------------------
# 4. the working directory every program runs in: runtimetest + rootfs-amd64.tar.gz
# ---------------------------------------------------------------------------------------------

prepare_run_dir() {
  local run=$1
  mkdir -p "$run/rootfs"
  "$REPO_ROOT/bundles/linux/make-rootfs.sh" "$run/rootfs"
  # The suite untars this straight into the bundle and uses root.path ".", so the archive
  # holds the rootfs contents at its top level.
  tar -C "$run/rootfs" -czf "$run/rootfs-amd64.tar.gz" .
  rm -rf "$run/rootfs"
  cp "$SUITE_DIR/bin/runtimetest" "$run/runtimetest"
}

# ---------------------------------------------------------------------------------------------
# 5. one lane: every program against one runtime, inside a private mount namespace
# ---------------------------------------------------------------------------------------------

# Container ids the runtime lists (`list -q`, or the first column of `list` for runtimes
# without -q). Empty when the runtime cannot list.
list_ids() {
  local bin=$1
  "$bin" list -q 2>/dev/null || "$bin" list 2>/dev/null | tail -n +2 | awk '{print $1}' || true
}

# Force-delete containers this program left behind. A container is ours only if it is new
# since the program started and its bundle lies in the program's private TMPDIR (the suite
# makes every bundle there), so containers of anyone else on the machine are never touched.
cleanup_containers() {
  local bin=$1 tmp=$2 before=$3 id left=()
  for id in $(list_ids "$bin"); do
    grep -qxF -- "$id" "$before" && continue
    if "$bin" state "$id" 2>/dev/null | grep -qF -- "$tmp" ||
      "$bin" list 2>/dev/null | grep -F -- "$id" | grep -qF -- "$tmp"; then
      "$bin" delete --force "$id" >/dev/null 2>&1 || true
      list_ids "$bin" | grep -qxF -- "$id" && left+=("$id")
      echo "$id"
    fi
  done
  [ ${#left[@]} -eq 0 ] || log "warning: could not delete containers: ${left[*]}"
}

# Every cgroup directory visible in the lane (the v1 hierarchies; cgroup2 is hidden there).
# A directory removed while find walks (another container going away) is not an error here.
cgroup_dirs() { { find /sys/fs/cgroup -mindepth 1 -type d 2>/dev/null || true; } | sort; }

# The relative-cgroupsPath programs use "testdir/cgrouptest/container"; runc and crun delete
# the container's own cgroup but leave its parents, in every v1 hierarchy (and nested under
# the memory cgroup this script runs in). Remove only directories with the suite's fixed
# names that appeared while this program ran, i.e. ones our run created; rmdir cannot
# remove a cgroup that still has processes or children.
cleanup_cgroups() {
  local before=$1 log=$2 dir
  comm -13 "$before" <(cgroup_dirs) | { grep -E '/(testdir|cgrouptest)(/|$)' || true; } | sort -r |
    while read -r dir; do
      if rmdir "$dir" 2>/dev/null; then
        echo "conformance.sh: removed leftover cgroup $dir" >> "$log"
      else
        log "warning: leftover cgroup $dir could not be removed"
      fi
    done
}

# Remove a program's TMPDIR without ever descending into a mounted filesystem. Programs that
# share the runtime's mount namespace (linux_ns_itype removes every namespace) leave the
# container's /proc, /sys, /dev, /dev/mqueue... mounted inside the bundle in the lane's
# namespace; a plain rm -rf would walk into them (and into the host's mqueue and procfs).
# Those mounts exist only in the lane's private namespace, so unmounting them is safe.
remove_tmp() {
  local dir=$1 pass mp
  for pass in 1 2 3 4 5; do
    # mountinfo field 5 is the mount point; our mktemp paths need no unescaping.
    mp=$(awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
    [ -n "$mp" ] || break
    # Reverse order unmounts children before their parents.
    while read -r mp; do umount -l "$mp" 2>/dev/null || true; done <<< "$mp"
  done
  rm -rf --one-file-system "$dir" 2>/dev/null || log "warning: could not remove $dir completely"
}

# Check a TAP file's top-level streams. Prints nothing when every stream's results match
# its plan and there is at least one result, else the reason. A program may print several
# streams (linux_cgroups_cpus starts a second `TAP version 13` for its empty-config case);
# runtimetest's nested stream inside a YAML block is indented and so not top level.
check_plans() {
  awk '
    function close_stream() {
      if (!open) return
      if (plan < 0) why = why sprintf("stream %d has no plan; ", n)
      else if (plan != cnt) why = why sprintf("stream %d: %d results for plan 1..%d; ", n, cnt, plan)
      open = 0
    }
    /^TAP version / { close_stream(); n++; open = 1; cnt = 0; plan = -1; next }
    /^1\.\.[0-9]+/ {
      if (!open) { n++; open = 1; cnt = 0 }
      if (plan >= 0) why = why sprintf("stream %d has two plans; ", n)
      plan = substr($1, 4) + 0; next
    }
    /^(not )?ok( |$)/ { if (!open) { n++; open = 1; plan = -1 } cnt++; total++ }
    END {
      close_stream()
      if (total == 0) why = why "no assertions; "
      sub(/; $/, "", why); printf "%s", why
    }
  ' "$1"
}

# Judge one program. Prints "pass" or "FAIL: reason". Passed = exit 0, no "not ok"
# anywhere (nested runtimetest output included) and every plan matched (check_plans).
judge() {
  local rc=$1 tap=$2 notok plans
  notok=$(grep -c 'not ok' "$tap" || true)
  plans=$(check_plans "$tap")
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    printf 'FAIL: timeout after %ss' "$TIMEOUT"
  elif [ "$rc" -ne 0 ]; then
    printf 'FAIL: exit %s' "$rc"
  elif [ "$notok" -gt 0 ]; then
    printf 'FAIL: %s "not ok" line(s)' "$notok"
  elif [ -n "$plans" ]; then
    printf 'FAIL: %s' "$plans"
  else
    printf 'pass'
  fi
}

run_program() {
  local name=$1 bin=$2 prog=$3
  local out=$RESULTS_ROOT/conformance-$name
  local tap=$out/$prog.tap err=$out/$prog.err
  local tmp before rc=0 t0 t1 verdict secs
  tmp=$(mktemp -d "$WORK/$name/$prog.XXXXXX")
  # mktemp makes 0700 dirs; a container whose root is mapped to another uid
  # (linux_uid_mappings, linux_ns_nopath) must be able to reach its bundle below them.
  chmod 755 "$tmp"
  before=$tmp.before
  list_ids "$bin" > "$before"
  cgroup_dirs > "$tmp.cgroups"
  rm -f "$tap" "$err"
  t0=$(date +%s.%N)
  # cwd holds runtimetest and the rootfs tarball; TMPDIR is where the suite makes bundles.
  (cd "$WORK/run" &&
    RUNTIME=$bin TMPDIR=$tmp timeout -k 5 "$TIMEOUT" "$SUITE_DIR/bin/$prog") \
    >"$tap" 2>"$err" || rc=$?
  t1=$(date +%s.%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  local removed
  removed=$(cleanup_containers "$bin" "$tmp" "$before" | wc -l)
  cleanup_cgroups "$tmp.cgroups" "$err"
  verdict=$(judge "$rc" "$tap")
  [ "$removed" -gt 0 ] && verdict="$verdict (left $removed container(s), deleted)"
  remove_tmp "$tmp"
  rm -f "$before" "$tmp.cgroups"
  printf '%s\t%s\t%s\n' "$prog" "$secs" "$verdict" >> "$WORK/$name.status"
  printf '  %-8s %-40s %6ss  %s\n' "$name" "$prog" "$secs" "$verdict" >&2
}

# Entered through `unshare -m` (see run_lane). Hides the cgroup2 mount of a hybrid host:
# crun refuses hybrid mode outright, and every lane runs in the same view to be fair.
lane_main() {
  local name=$1 bin=$2 prog
  # A bookkeeping error ends the lane (set -e); say where instead of dying silently.
  set -E
  trap 'log "lane $name: line $LINENO failed: $BASH_COMMAND"' ERR
  [ "$(stat -L -c %i /proc/self/ns/mnt)" != "$HOST_MNT_NS" ] ||
    die "lane $name: not in a private mount namespace"
  if mountpoint -q /sys/fs/cgroup/unified; then
    umount /sys/fs/cgroup/unified
    ! mountpoint -q /sys/fs/cgroup/unified || die "lane $name: /sys/fs/cgroup/unified still mounted"
  fi
  # Without `list`, leftovers can only be removed by the suite's own `delete --force`.
  "$bin" list >/dev/null 2>&1 ||
    log "lane $name: '$bin list' fails; containers a program leaves behind cannot be found"
  mkdir -p "$RESULTS_ROOT/conformance-$name"
  mkdir -m 755 -p "$WORK/$name"
  while read -r prog; do
    run_program "$name" "$bin" "$prog"
  done < "$WORK/programs"
}

unified_mount_line() { grep ' /sys/fs/cgroup/unified ' /proc/self/mountinfo || true; }

run_lane() {
  local name=$1 bin=$2 before after
  : > "$WORK/$name.status"
  before=$(unified_mount_line)
  log "lane $name: $bin ($("$bin" --version 2>/dev/null | head -1 || echo 'version unknown'))"
  HOST_MNT_NS=$(stat -L -c %i /proc/self/ns/mnt) WORK=$WORK \
    unshare -m --propagation private -- bash "${BASH_SOURCE[0]}" --lane "$name" "$bin" ||
    log "lane $name exited with $?"
  # Programs a crashed lane never reached count as failures, not skips.
  local prog
  while read -r prog; do
    grep -q "^$prog"$'\t' "$WORK/$name.status" ||
      printf '%s\t0\tFAIL: not run (lane aborted)\n' "$prog" >> "$WORK/$name.status"
  done < "$WORK/programs"
  # The umount happened in the lane's namespace only; prove the host still has the mount.
  after=$(unified_mount_line)
  [ "$before" = "$after" ] || die "host mount table changed: /sys/fs/cgroup/unified '$before' -> '$after'"
  # Containers sharing the lane's mount namespace mounted into their bundles; none may show
  # up on the host.
  ! grep -qF " $WORK/" /proc/self/mountinfo || die "mounts under $WORK leaked to the host"
}

# ---------------------------------------------------------------------------------------------
# 6. report and 7. gate
# ---------------------------------------------------------------------------------------------

# status NAME PROGRAM -> pass | FAIL | skip
status_of() {
  local f=$WORK/$1.status
  [ -f "$f" ] || { echo skip; return; }
  awk -F'\t' -v p="$2" '$1 == p { split($3, v, /[ :]/); s = v[1] } END { print (s == "" ? "skip" : s) }' "$f"
}

write_report() {
  local report=$1; shift
  local lanes=("$@") prog name row
  {
    echo "# OCI runtime-tools validation suite ($SUITE_PKG $SUITE_VERSION)"
    echo
    echo "Run $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -r); per-program timeout ${TIMEOUT}s;"
    echo "every lane in a private mount namespace with /sys/fs/cgroup/unified unmounted."
    echo
    for name in "${lanes[@]}"; do
      echo "- $name: ${LANE_DESC[$name]}"
    done
    echo
    row="| program |"; for name in "${lanes[@]}"; do row+=" $name |"; done; echo "$row"
    row="|---|";      for name in "${lanes[@]}"; do row+="---|"; done;     echo "$row"
    while read -r prog; do
      row="| $prog |"
      for name in "${lanes[@]}"; do row+=" $(status_of "$name" "$prog") |"; done
      echo "$row"
    done < "$WORK/programs"
    row="| **passed** |"
    for name in "${lanes[@]}"; do
      if [ -f "$WORK/$name.status" ]; then
        row+=" $(awk -F'\t' '$3 == "pass" || $3 ~ /^pass / { n++ } END { print n + 0 }' "$WORK/$name.status")/$(wc -l < "$WORK/programs") |"
      else
        row+=" skip |"
      fi
    done
    echo "$row"
    echo
    echo "## Failures"
    echo
    for name in "${lanes[@]}"; do
      [ -f "$WORK/$name.status" ] || continue
      awk -F'\t' -v n="$name" '$3 !~ /^pass/ { sub(/^FAIL: /, "", $3); printf "- %s `%s`: %s\n", n, $1, $3 }
        $3 ~ /^pass / { sub(/^pass /, "", $3); printf "- %s `%s`: passed, %s\n", n, $1, $3 }' \
        "$WORK/$name.status"
    done
    echo
    echo "## Slow programs (over 5 s)"
    echo
    for name in "${lanes[@]}"; do
      [ -f "$WORK/$name.status" ] || continue
      awk -F'\t' -v n="$name" '$2 > 5 { printf "- %s `%s`: %s s\n", n, $1, $2 }' "$WORK/$name.status"
    done
    echo
    echo "TAP output: integration/results/conformance-<runtime>/<program>.tap (stderr in .err)."
  } > "$report"
}

# Programs listed in expected-bvisor.txt (comments and blank lines ignored).
expected_programs() { sed -e 's/#.*//' -e 's/[[:space:]]//g' "$EXPECTED_BVISOR" | grep -v '^$' || true; }

gate_bvisor() {
  local prog failed=() regressions=()
  if [ ! -f "$WORK/bvisor.status" ]; then
    log "gate: bvisor lane did not run, nothing to gate"
    return 0
  fi
  if [ -f "$WORK/runc.status" ]; then
    while read -r prog; do
      [ "$(status_of runc "$prog")" = pass ] && [ "$(status_of bvisor "$prog")" != pass ] &&
        regressions+=("$prog")
    done < "$WORK/programs"
    echo "runc passes, bvisor fails (${#regressions[@]}): ${regressions[*]:-none}"
  fi
  [ -f "$EXPECTED_BVISOR" ] || die "$EXPECTED_BVISOR missing"
  for prog in $(expected_programs); do
    grep -qxF "$prog" "$WORK/programs" || continue # not selected by --only
    [ "$(status_of bvisor "$prog")" = pass ] || failed+=("$prog")
  done
  if [ ${#failed[@]} -gt 0 ]; then
    echo "GATE FAILED: bvisor fails ${#failed[@]} program(s) listed in" \
      "integration/conformance/expected-bvisor.txt: ${failed[*]}"
    return 1
  fi
  echo "gate: bvisor passes every selected program in expected-bvisor.txt"
}

# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------

declare -A LANE_DESC=()

main() {
  local runtimes="" only=()
  while [ $# -gt 0 ]; do
    case $1 in
      --lane) shift; lane_main "$@"; return ;;
      --runtimes) runtimes=${2:?--runtimes needs NAME=PATH,...}; shift 2 ;;
      --runtimes=*) runtimes=${1#*=}; shift ;;
      --only) shift; while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do only+=("$1"); shift; done ;;
      -h|--help) usage; return 0 ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
  done
  [ "$(id -u)" -eq 0 ] || die "must run as root (creates containers and mount namespaces)"
  trap remove_temporaries EXIT
  [ -n "$runtimes" ] ||
    runtimes="bvisor=${BVISOR_BIN:-$REPO_ROOT/target/release/bvisor},runc=/usr/sbin/runc,crun=/usr/bin/crun"

  ensure_packages
  mkdir -p "$CACHE_DIR"
  fetch_suite_source
  build_suite "$SUITE_TARBALL"

  WORK=$(mktemp -d "${TMPDIR:-/tmp}/bvisor-conformance.XXXXXX")
  TO_REMOVE+=("$WORK")
  chmod 755 "$WORK" # see run_program: user-namespaced containers traverse it
  export WORK
  mkdir -p "$WORK/run" "$RESULTS_ROOT"
  if [ ${#only[@]} -gt 0 ]; then
    local p
    for p in "${only[@]}"; do
      [ -x "$SUITE_DIR/bin/$p" ] || die "no validation program named $p"
      echo "$p"
    done | sort -u > "$WORK/programs"
  else
    suite_programs > "$WORK/programs"
  fi
  prepare_run_dir "$WORK/run"

  # Lanes: defaults first in table order, then any other names given.
  local -A bins=()
  local order=() spec name bin
  IFS=, read -ra specs <<< "$runtimes"
  for spec in "${specs[@]}"; do
    name=${spec%%=*}; bin=${spec#*=}
    [ -n "$name" ] && [ "$name" != "$spec" ] || die "bad --runtimes entry: $spec (want NAME=PATH)"
    bins[$name]=$bin
  done
  for name in "${DEFAULT_LANES[@]}"; do order+=("$name"); done
  for spec in "${specs[@]}"; do
    name=${spec%%=*}
    [[ " ${order[*]} " == *" $name "* ]] || order+=("$name")
  done

  local t0=$SECONDS
  for name in "${order[@]}"; do
    bin=${bins[$name]:-}
    if [ -z "$bin" ]; then
      LANE_DESC[$name]="skipped: not requested"
      continue
    fi
    # Absolute, because the programs run from $WORK/run.
    [[ $bin == /* ]] || bin=$PWD/$bin
    if [ ! -x "$bin" ]; then
      log "lane $name skipped: $bin does not exist or is not executable"
      LANE_DESC[$name]="skipped: $bin does not exist or is not executable"
      continue
    fi
    LANE_DESC[$name]="$bin ($("$bin" --version 2>/dev/null | head -1 || true))"
    run_lane "$name" "$bin"
  done
  log "all lanes took $((SECONDS - t0)) s"

  local report
  report=$RESULTS_ROOT/conformance-$(date +%Y-%m-%d-%H%M%S).md
  write_report "$report" "${order[@]}"
  cat "$report"
  echo
  echo "report: ${report#"$REPO_ROOT"/}"
  gate_bvisor
}

main "$@"
