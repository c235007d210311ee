#!/usr/bin/env bash
# Builds sops (the decryptor of Kustomization.spec.decryption) and age-keygen (used by the tests to make age
# keys) from Go modules into a cache dir, and prints the directory holding them.
# Usage: scripts/build-sops.sh              -> prints the directory holding sops and age-keygen (built if need be)
#        scripts/build-sops.sh --no-build   -> the same when they are already built; exit 3 otherwise
# Env:   KEDGE_SOPS_DIR          use prebuilt binaries from there (checked, not built)
#        KEDGE_SOPS_VERSION      sops release (default below); KEDGE_AGE_VERSION likewise for age-keygen
#        XDG_CACHE_HOME          cache root (default ~/.cache)
# Both are built with `go install <package>@<version>`, so each is compiled against the exact module versions
# of its own release's go.mod. Cold: about 4 minutes of CPU for sops (its cloud KMS clients; 12 minutes wall on
# 2 busy cores), seconds for age-keygen. A warm call takes well under a second. Parallel callers wait for one
# build under a lock.
set -euo pipefail

no_build=
case "${1:-}" in
  "") ;;
  --no-build) no_build=1 ;;
  *) echo "usage: $0 [--no-build]" >&2; exit 2 ;;
esac

SOPS_VERSION="${KEDGE_SOPS_VERSION:-v3.13.3}"
AGE_VERSION="${KEDGE_AGE_VERSION:-v1.3.2}"

started=$(date +%s)
step() { printf '[sops %4ss] %s\n' "$(( $(date +%s) - started ))" "$*" >&2; }

# `sops --version` prints "sops <version>" (and may try to check for a newer release unless told not to);
# age-keygen has --version too. Both prove the binary starts on this machine.
runnable() {
  [ -x "$1/sops" ] && SOPS_DISABLE_VERSION_CHECK=1 "$1/sops" --version --disable-version-check 2>/dev/null | grep -q "^sops ${SOPS_VERSION#v}" &&
    [ -x "$1/age-keygen" ] && "$1/age-keygen" --version >/dev/null 2>&1
}

if [ -n "${KEDGE_SOPS_DIR:-}" ]; then
  if runnable "$KEDGE_SOPS_DIR"; then echo "$KEDGE_SOPS_DIR"; exit 0; fi
  echo "KEDGE_SOPS_DIR=$KEDGE_SOPS_DIR does not hold runnable sops $SOPS_VERSION and age-keygen binaries" >&2
  exit 1
fi

out="${XDG_CACHE_HOME:-$HOME/.cache}/kedge/sops/$SOPS_VERSION-age-$AGE_VERSION"
if runnable "$out"; then echo "$out"; exit 0; fi
if [ -n "$no_build" ]; then echo "sops $SOPS_VERSION is not built in $out" >&2; exit 3; fi
command -v go >/dev/null || {
  echo "go is required to build sops (none on PATH): install Go, or set KEDGE_SOPS_DIR to a directory with sops $SOPS_VERSION and age-keygen" >&2
  exit 1
}
mkdir -p "$out"
exec 9>"$out/.build.lock"
if command -v flock >/dev/null; then
  flock -n 9 || { step "another build of $out is under way; waiting for it"; flock 9; }
fi
if runnable "$out"; then step "reusing binaries built meanwhile in $out"; echo "$out"; exit 0; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/kedge-sops-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local

# Runs "$@" and, while it runs, repeats the step message every 30 s so a long compile shows it is alive.
with_heartbeat() {
  local what="$1"; shift
  "$@" &
  local pid=$! ticks=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    ticks=$((ticks + 1))
    if [ $((ticks % 30)) -eq 0 ] && kill -0 "$pid" 2>/dev/null; then step "$what: still compiling"; fi
  done
  wait "$pid"
}

install_tool() {
  local name="$1" pkg="$2" version="$3" what="$4"
  step "$name $version: downloading modules and compiling ($what)"
  if ! with_heartbeat "$name $version" \
    bash -c 'GOBIN="$1" go install -trimpath -ldflags "-s -w" "$2" 2>"$3"' _ "$work" "$pkg@$version" "$work/$name.log"; then
    tail -20 "$work/$name.log" >&2
    echo "could not build $pkg@$version (GOPROXY=$(go env GOPROXY))" >&2
    exit 1
  fi
  mv -f "$work/$name" "$out/$name"
}

install_tool age-keygen filippo.io/age/cmd/age-keygen "$AGE_VERSION" "seconds"
install_tool sops github.com/getsops/sops/v3/cmd/sops "$SOPS_VERSION" "about 3-5 minutes cold on 2 cores, longer under load"
runnable "$out" || { echo "built binaries in $out are not runnable" >&2; exit 1; }
step "done: $(SOPS_DISABLE_VERSION_CHECK=1 "$out/sops" --version --disable-version-check 2>/dev/null | head -1), age-keygen $("$out/age-keygen" --version)"
echo "$out"
