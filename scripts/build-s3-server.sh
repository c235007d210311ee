#!/usr/bin/env bash
# Builds the Versity S3 Gateway (versitygw, an S3-compatible server over a plain directory) from Go modules
# into a cache and prints the binary's path. The tests of Bucket sources run it on 127.0.0.1.
# Usage: scripts/build-s3-server.sh            -> prints the path of the versitygw binary
# Env:   KEDGE_S3_SERVER_BIN  use this prebuilt versitygw (checked, not built)
#        XDG_CACHE_HOME       cache root (default ~/.cache)
# Cold: about 4 CPU-minutes (11 minutes wall seen on a loaded 2-core machine); warm: instant.
set -euo pipefail

version=v1.8.0
started=$(date +%s)
step() { printf '[versitygw %4ss] %s\n' "$(( $(date +%s) - started ))" "$*" >&2; }
runnable() { [ -x "$1" ] && "$1" --version >/dev/null 2>&1; }

if [ -n "${KEDGE_S3_SERVER_BIN:-}" ]; then
  if runnable "$KEDGE_S3_SERVER_BIN"; then echo "$KEDGE_S3_SERVER_BIN"; exit 0; fi
  echo "KEDGE_S3_SERVER_BIN=$KEDGE_S3_SERVER_BIN is not a runnable versitygw binary" >&2
  exit 1
fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/kedge/versitygw/$version"
bin="$cache/versitygw"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

command -v go >/dev/null || { echo "go is required to build versitygw for the Bucket tests (none on PATH); or set KEDGE_S3_SERVER_BIN" >&2; exit 1; }
mkdir -p "$cache"
exec 9>"$cache/.lock"
if command -v flock >/dev/null; then
  flock -n 9 || { step "another build is under way; waiting for it"; flock 9; }
fi
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local
gobin="$cache/.gobin.$$"
trap 'rm -rf "$gobin"' EXIT
step "building github.com/versity/versitygw@$version from Go modules (minutes when cold)"
(GOBIN="$gobin" go install -trimpath -ldflags "-s -w" "github.com/versity/versitygw/cmd/versitygw@$version") &
pid=$!
ticks=0
while kill -0 "$pid" 2>/dev/null; do
  sleep 1
  ticks=$((ticks + 1))
  if [ $((ticks % 30)) -eq 0 ] && kill -0 "$pid" 2>/dev/null; then step "still compiling"; fi
done
wait "$pid"
runnable "$gobin/versitygw" || { echo "built versitygw is not runnable" >&2; exit 1; }
mv -f "$gobin/versitygw" "$bin"
step "done: $bin"
echo "$bin"
