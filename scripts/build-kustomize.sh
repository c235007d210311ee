#!/usr/bin/env bash
# Builds tools/kustomize-build (Kedge's confined kustomize renderer) from Go modules into a cache keyed by the
# hash of its sources, and prints the binary's path.
# Usage: scripts/build-kustomize.sh                -> prints the path of the kustomize-build binary
# Env:   KEDGE_KUSTOMIZE_BIN  use this prebuilt binary (checked, not built)
#        XDG_CACHE_HOME       cache root (default ~/.cache)
# A cold build takes a few minutes on 2 cores (kustomize's API and its YAML libraries); a warm one is instant.
# Parallel callers (test workers) wait for one build under a lock; the binary is renamed into place atomically.
set -euo pipefail

src="$(cd "$(dirname "$0")/../tools/kustomize-build" && pwd)"
started=$(date +%s)
step() { printf '[kustomize-build %4ss] %s\n' "$(( $(date +%s) - started ))" "$*" >&2; }

# Run without arguments, the tool prints its usage line: that proves the binary starts on this machine.
runnable() { [ -x "$1" ] && { "$1" 2>&1 || true; } | grep -q '^usage: kustomize-build'; }

if [ -n "${KEDGE_KUSTOMIZE_BIN:-}" ]; then
  if runnable "$KEDGE_KUSTOMIZE_BIN"; then echo "$KEDGE_KUSTOMIZE_BIN"; exit 0; fi
  echo "KEDGE_KUSTOMIZE_BIN=$KEDGE_KUSTOMIZE_BIN is not a runnable kustomize-build binary" >&2
  exit 1
fi

hash=$(cd "$src" && cat go.mod go.sum $(LC_ALL=C ls *.go) | sha256sum | cut -c1-16)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/kedge/kustomize-build"
bin="$cache/$hash/kustomize-build"
# Only a probed build is ever renamed to this path, so the warm path needs no second probe.
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

command -v go >/dev/null || {
  echo "go is required to build Kedge's kustomize renderer (none on PATH): install Go, or set KEDGE_KUSTOMIZE_BIN to a prebuilt tools/kustomize-build" >&2
  exit 1
}
mkdir -p "$cache/$hash"
exec 9>"$cache/$hash/.lock"
if command -v flock >/dev/null; then
  flock -n 9 || { step "another build of $hash is under way; waiting for it"; flock 9; }
fi
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local
tmp="$bin.tmp.$$"
step "downloading Go modules for $src"
trap 'rm -f "$tmp" "$tmp.log"' EXIT
if ! (cd "$src" && go mod download) 2>"$tmp.log"; then
  tail -5 "$tmp.log" >&2
  if grep -qi '403\|forbidden' "$tmp.log"; then
    echo "the Go module proxy ($(go env GOPROXY)) refused a module (403): set GOPROXY to a proxy you may use, or set KEDGE_KUSTOMIZE_BIN to a prebuilt tools/kustomize-build" >&2
  else
    echo "could not download the Go modules of tools/kustomize-build (GOPROXY=$(go env GOPROXY))" >&2
  fi
  exit 1
fi
step "compiling (about 1-2 minutes cold on 2 cores, longer under load)"
(cd "$src" && go build -trimpath -ldflags "-s -w" -o "$tmp" .) &
pid=$!
ticks=0
while kill -0 "$pid" 2>/dev/null; do
  sleep 1
  ticks=$((ticks + 1))
  if [ $((ticks % 30)) -eq 0 ] && kill -0 "$pid" 2>/dev/null; then step "still compiling"; fi
done
wait "$pid"
runnable "$tmp" || { echo "built $tmp is not runnable" >&2; exit 1; }
mv -f "$tmp" "$bin"
step "done: $bin"
echo "$bin"
