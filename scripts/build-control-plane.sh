#!/usr/bin/env bash
# Builds kube-apiserver and etcd from Go modules (no release downloads) into a cache dir.
# Usage: scripts/build-control-plane.sh            -> prints the directory holding both binaries
# Env:   KEDGE_CONTROL_PLANE_DIR  use prebuilt binaries from there (checked, not built)
#        XDG_CACHE_HOME           cache root (default ~/.cache)
# A cold build takes about 5-6 minutes on 2 cores (kube-apiserver dominates); a warm one under a second.
set -euo pipefail

K8S_VERSION="${KEDGE_K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${KEDGE_ETCD_VERSION:-v3.6.16}"
STAGING_VERSION="v0.${K8S_VERSION#v1.}"

started=$(date +%s)
step() { printf '[control-plane %4ss] %s\n' "$(( $(date +%s) - started ))" "$*" >&2; }

# Runs "$@" and, while it runs, repeats the last step message every 30 s so a long compile shows it is alive.
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

runnable() { [ -x "$1/kube-apiserver" ] && [ -x "$1/etcd" ] &&
  "$1/kube-apiserver" --version >/dev/null 2>&1 && "$1/etcd" --version >/dev/null 2>&1; }

if [ -n "${KEDGE_CONTROL_PLANE_DIR:-}" ]; then
  if runnable "$KEDGE_CONTROL_PLANE_DIR"; then echo "$KEDGE_CONTROL_PLANE_DIR"; exit 0; fi
  echo "KEDGE_CONTROL_PLANE_DIR=$KEDGE_CONTROL_PLANE_DIR does not hold runnable kube-apiserver and etcd binaries" >&2
  exit 1
fi

out="${XDG_CACHE_HOME:-$HOME/.cache}/kedge/control-plane/$K8S_VERSION"
if runnable "$out"; then step "reusing cached binaries in $out"; echo "$out"; exit 0; fi
command -v go >/dev/null || { echo "go is required to build the control plane (none on PATH)" >&2; exit 1; }
mkdir -p "$out"
# One build at a time per cache dir: parallel test runs (other checkouts, CI) wait for it and reuse its output.
exec 9>"$out/.build.lock"
if ! flock -n 9; then step "another build of $out is running; waiting for it"; flock 9; fi
if runnable "$out"; then step "reusing binaries built meanwhile in $out"; echo "$out"; exit 0; fi
work=$(mktemp -d "${TMPDIR:-/tmp}/kedge-cp-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local

build_etcd() {
  local dir="$work/etcd"
  mkdir -p "$dir"
  step "etcd $ETCD_VERSION: resolving modules"
  (cd "$dir" && go mod init kedge.dev/control-plane/etcd >/dev/null 2>&1 &&
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>&1)
  step "etcd $ETCD_VERSION: compiling (about 1-2 minutes cold)"
  with_heartbeat "etcd $ETCD_VERSION" \
    bash -c 'cd "$1" && go build -trimpath -o "$2" go.etcd.io/etcd/server/v3' _ "$dir" "$out/etcd.tmp"
  mv "$out/etcd.tmp" "$out/etcd"
}

build_apiserver() {
  local dir="$work/kube-apiserver" gomod
  mkdir -p "$dir"
  step "kube-apiserver $K8S_VERSION: downloading k8s.io/kubernetes go.mod"
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -f "$gomod" ] || { echo "could not download k8s.io/kubernetes@$K8S_VERSION" >&2; exit 1; }
  # The staging modules are required at v0.0.0 and replaced by local paths upstream: point each at its
  # published release instead. The list comes from this version's go.mod, not from a hand-kept list.
  local staging
  staging=$(awk '/^require/,/^\)/' "$gomod" | awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' | sort -u)
  [ -n "$staging" ] || { echo "found no staging modules in $gomod" >&2; exit 1; }
  {
    echo "module kedge.dev/control-plane/kube-apiserver"
    echo
    echo "go $(go env GOVERSION | sed 's/^go//; s/\.[0-9]*$//')"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    for m in $staging; do echo "	$m => $m $STAGING_VERSION"; done
    echo ")"
  } >"$dir/go.mod"
  printf 'package tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' >"$dir/tools.go"
  step "kube-apiserver $K8S_VERSION: resolving $(echo "$staging" | wc -l) staging modules at $STAGING_VERSION"
  (cd "$dir" && go mod tidy >/dev/null 2>"$work/tidy.log") || { cat "$work/tidy.log" >&2; exit 1; }
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local now; now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  local ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld="$ld -X $pkg.gitTreeState=clean -X $pkg.buildDate=$now"
  done
  step "kube-apiserver $K8S_VERSION: compiling (the long step: about 4-5 minutes cold on 2 cores)"
  with_heartbeat "kube-apiserver $K8S_VERSION" \
    bash -c 'cd "$1" && go build -trimpath -ldflags "$2" -o "$3" k8s.io/kubernetes/cmd/kube-apiserver' \
    _ "$dir" "$ld" "$out/kube-apiserver.tmp"
  mv "$out/kube-apiserver.tmp" "$out/kube-apiserver"
}

[ -x "$out/etcd" ] && "$out/etcd" --version >/dev/null 2>&1 || build_etcd
[ -x "$out/kube-apiserver" ] && "$out/kube-apiserver" --version >/dev/null 2>&1 || build_apiserver
runnable "$out" || { echo "built binaries in $out are not runnable" >&2; exit 1; }
step "done: $("$out/kube-apiserver" --version), etcd $("$out/etcd" --version | head -1 | awk '{print $3}')"
echo "$out"
