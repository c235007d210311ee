#!/usr/bin/env bash
# Builds the NATS server (nats-server) from Go modules into a cache and prints the binary's path. The tests of
# the `nats` notification Provider run it on 127.0.0.1.
# Usage: scripts/build-nats-server.sh          -> prints the path of the nats-server binary
# Env:   KEDGE_NATS_SERVER_BIN  use this prebuilt nats-server (checked, not built)
#        XDG_CACHE_HOME         cache root (default ~/.cache)
# Cold: a few CPU-minutes (far longer wall time on a loaded 2-core machine); warm: instant.
set -euo pipefail

version=v2.15.2
started=$(date +%s)
step() { printf '[nats-server %4ss] %s\n' "$(( $(date +%s) - started ))" "$*" >&2; }
runnable() { [ -x "$1" ] && "$1" --version >/dev/null 2>&1; }

if [ -n "${KEDGE_NATS_SERVER_BIN:-}" ]; then
  if runnable "$KEDGE_NATS_SERVER_BIN"; then echo "$KEDGE_NATS_SERVER_BIN"; exit 0; fi
  echo "KEDGE_NATS_SERVER_BIN=$KEDGE_NATS_SERVER_BIN is not a runnable nats-server binary" >&2
  exit 1
fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/kedge/nats-server/$version"
bin="$cache/nats-server"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

command -v go >/dev/null || { echo "go is required to build nats-server for the nats Provider tests (none on PATH); or set KEDGE_NATS_SERVER_BIN" >&2; exit 1; }
mkdir -p "$cache"
exec 9>"$cache/.lock"
if command -v flock >/dev/null; then
  flock -n 9 || { step "another build is under way; waiting for it"; flock 9; }
fi
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local
gobin="$cache/.gobin.$$"
trap 'rm -rf "$gobin"' EXIT
step "building github.com/nats-io/nats-server/v2@$version from Go modules (minutes when cold)"
(GOBIN="$gobin" go install -trimpath -ldflags "-s -w" "github.com/nats-io/nats-server/v2@$version") &
pid=$!
ticks=0
while kill -0 "$pid" 2>/dev/null; do
  sleep 1
  ticks=$((ticks + 1))
  if [ $((ticks % 30)) -eq 0 ] && kill -0 "$pid" 2>/dev/null; then step "still compiling"; fi
done
wait "$pid"
runnable "$gobin/nats-server" || { echo "built nats-server is not runnable" >&2; exit 1; }
mv -f "$gobin/nats-server" "$bin"
step "done: $bin"
echo "$bin"
