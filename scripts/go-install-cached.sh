#!/usr/bin/env bash
# Builds one Go command from Go modules (`go install PACKAGE@VERSION`) into ~/.cache/kedge/NAME/VERSION and
# prints the binary's path; warm, it only prints. One build at a time under a lock; progress on stderr.
# Usage: scripts/go-install-cached.sh NAME PACKAGE VERSION OVERRIDE_VAR PURPOSE [CHECK_ARGS]
#   NAME          the binary's name (and cache dir), e.g. nats-server
#   OVERRIDE_VAR  an environment variable naming a prebuilt binary to use instead (checked, not built)
#   PURPOSE       what needs it, for the error when Go is missing
#   CHECK_ARGS    the arguments that make the binary print its version (default: --version)
# Env: XDG_CACHE_HOME  cache root (default ~/.cache)
set -euo pipefail

name=$1 package=$2 version=$3 override=$4 purpose=$5 check_args=${6:---version}
started=$(date +%s)
step() { printf '[%s %4ss] %s\n' "$name" "$(( $(date +%s) - started ))" "$*" >&2; }
# shellcheck disable=SC2086 # check_args is a word list on purpose
runnable() { [ -x "$1" ] && "$1" $check_args >/dev/null 2>&1; }

prebuilt=${!override:-}
if [ -n "$prebuilt" ]; then
  if runnable "$prebuilt"; then echo "$prebuilt"; exit 0; fi
  echo "$override=$prebuilt is not a runnable $name binary" >&2
  exit 1
fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/kedge/$name/$version"
bin="$cache/$name"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

command -v go >/dev/null || { echo "go is required to build $name for $purpose (none on PATH); or set $override" >&2; exit 1; }
mkdir -p "$cache"
exec 9>"$cache/.lock"
if command -v flock >/dev/null; then
  flock -n 9 || { step "another build is under way; waiting for it"; flock 9; }
fi
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local
gobin="$cache/.gobin.$$"
trap 'rm -rf "$gobin"' EXIT
step "building $package@$version from Go modules (minutes when cold)"
(GOBIN="$gobin" go install -trimpath -ldflags "-s -w" "$package@$version") &
pid=$!
ticks=0
while kill -0 "$pid" 2>/dev/null; do
  sleep 1
  ticks=$((ticks + 1))
  if [ $((ticks % 30)) -eq 0 ] && kill -0 "$pid" 2>/dev/null; then step "still compiling"; fi
done
wait "$pid"
runnable "$gobin/$name" || { echo "built $name is not runnable" >&2; exit 1; }
mv -f "$gobin/$name" "$bin"
step "done: $bin"
echo "$bin"
