#!/usr/bin/env bash
# Builds the dev/test control plane from Go modules (no release downloads) into a cache dir.
# Usage: scripts/build-control-plane.sh           -> kube-apiserver and etcd; prints the directory holding them
#        scripts/build-control-plane.sh --nodes   -> also kube-controller-manager, kube-scheduler and kwok
#                                                   (a cluster whose simulated nodes run pods); same output
# Env:   KEDGE_CONTROL_PLANE_DIR  use prebuilt binaries from there (checked, not built)
#        XDG_CACHE_HOME           cache root (default ~/.cache)
# Cold on 2 cores: about 5-6 minutes for the API server and etcd, about as long again for the node components.
# A warm call takes well under a second.
set -euo pipefail

K8S_VERSION="${KEDGE_K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${KEDGE_ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KEDGE_KWOK_VERSION:-v0.8.0}"
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
# kwok's own stage files, copied from its module next to the binary: its default node and pod lifecycle
# (kwokctl's defaults) and the chaos stage that fails the containers of pods labelled for it.
kwok_stages=kwok-stages.yaml
kwok_stage_files=(node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
  pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml
  pod/chaos/pod-container-running-failed.yaml)

binaries=(kube-apiserver etcd)
case "${1:-}" in
  "") ;;
  --nodes) binaries+=(kube-controller-manager kube-scheduler kwok) ;;
  *) echo "usage: $0 [--nodes]" >&2; exit 2 ;;
esac

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

# Every binary answers --version without side effects; kwok comes with the stages it is started with.
runs() {
  [ -x "$1/$2" ] && "$1/$2" --version >/dev/null 2>&1 || return 1
  [ "$2" != kwok ] || [ -s "$1/$kwok_stages" ]
}
runnable() { local b; for b in "${binaries[@]}"; do runs "$1" "$b" || return 1; done; }

if [ -n "${KEDGE_CONTROL_PLANE_DIR:-}" ]; then
  if runnable "$KEDGE_CONTROL_PLANE_DIR"; then echo "$KEDGE_CONTROL_PLANE_DIR"; exit 0; fi
  echo "KEDGE_CONTROL_PLANE_DIR=$KEDGE_CONTROL_PLANE_DIR does not hold runnable ${binaries[*]} binaries" >&2
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

# The wrapper module of the Kubernetes components, written once per build and shared by all three.
kube_module() {
  local dir="$work/kubernetes" gomod
  if [ -f "$dir/go.sum" ]; then echo "$dir"; return; fi
  mkdir -p "$dir"
  step "kubernetes $K8S_VERSION: downloading k8s.io/kubernetes go.mod"
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -f "$gomod" ] || { echo "could not download k8s.io/kubernetes@$K8S_VERSION" >&2; exit 1; }
  # The staging modules are required at v0.0.0 and replaced by local paths upstream: point each at its
  # published release instead. The list comes from this version's go.mod, not from a hand-kept list.
  local staging
  staging=$(awk '/^require/,/^\)/' "$gomod" | awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' | sort -u)
  [ -n "$staging" ] || { echo "found no staging modules in $gomod" >&2; exit 1; }
  {
    echo "module kedge.dev/control-plane/kubernetes"
    echo
    echo "go $(go env GOVERSION | sed 's/^go//; s/\.[0-9]*$//')"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    for m in $staging; do echo "	$m => $m $STAGING_VERSION"; done
    echo ")"
  } >"$dir/go.mod"
  {
    printf 'package tools\n\nimport (\n'
    printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' kube-apiserver kube-controller-manager kube-scheduler
    printf ')\n'
  } >"$dir/tools.go"
  step "kubernetes $K8S_VERSION: resolving $(echo "$staging" | wc -l) staging modules at $STAGING_VERSION"
  (cd "$dir" && go mod tidy >/dev/null 2>"$work/tidy.log") || { cat "$work/tidy.log" >&2; exit 1; }
  echo "$dir"
}

build_kube() {
  local name="$1" what="$2" dir
  dir=$(kube_module)
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local now; now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  local ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld="$ld -X $pkg.gitTreeState=clean -X $pkg.buildDate=$now"
  done
  step "$name $K8S_VERSION: compiling ($what)"
  with_heartbeat "$name $K8S_VERSION" \
    bash -c 'cd "$1" && go build -trimpath -ldflags "$2" -o "$3" "k8s.io/kubernetes/cmd/$4"' \
    _ "$dir" "$ld" "$out/$name.tmp" "$name"
  mv "$out/$name.tmp" "$out/$name"
}

build_kwok() {
  local dir="$work/kwok"
  mkdir -p "$dir"
  step "kwok $KWOK_VERSION: resolving modules"
  printf 'package tools\n\nimport _ "sigs.k8s.io/kwok/cmd/kwok"\n' >"$dir/tools.go"
  (cd "$dir" && go mod init kedge.dev/control-plane/kwok >/dev/null 2>&1 &&
    go get "sigs.k8s.io/kwok@$KWOK_VERSION" >"$work/kwok-get.log" 2>&1) || { cat "$work/kwok-get.log" >&2; exit 1; }
  # kwok talks to this cluster's API server: build it against the same Kubernetes libraries (kwok names an
  # older patch release), which also lets it reuse what compiling the Kubernetes components left in Go's cache.
  local pins
  pins=$(cd "$dir" && go list -m all | awk -v v="$STAGING_VERSION" '$1 ~ /^k8s\.io\// && $2 ~ /^v0\.[0-9]+\.[0-9]+$/ {print $1 "@" v}')
  if [ -n "$pins" ]; then
    step "kwok $KWOK_VERSION: pinning $(echo "$pins" | wc -l) Kubernetes modules at $STAGING_VERSION"
    # shellcheck disable=SC2086
    (cd "$dir" && go get $pins >>"$work/kwok-get.log" 2>&1) || { cat "$work/kwok-get.log" >&2; exit 1; }
  fi
  (cd "$dir" && go mod tidy >>"$work/kwok-get.log" 2>&1) || { cat "$work/kwok-get.log" >&2; exit 1; }
  step "kwok $KWOK_VERSION: compiling (about 2-3 minutes cold)"
  with_heartbeat "kwok $KWOK_VERSION" \
    bash -c 'cd "$1" && go build -trimpath -ldflags "-s -w" -o "$2" sigs.k8s.io/kwok/cmd/kwok' \
    _ "$dir" "$out/kwok.tmp"
  local module f
  module=$(cd "$dir" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  for f in "${kwok_stage_files[@]}"; do
    [ -f "$module/kustomize/stage/$f" ] || { echo "kwok $KWOK_VERSION has no stage file kustomize/stage/$f" >&2; exit 1; }
    printf -- '---\n# sigs.k8s.io/kwok@%s kustomize/stage/%s\n' "$KWOK_VERSION" "$f"
    cat "$module/kustomize/stage/$f"
  done >"$out/$kwok_stages.tmp"
  mv "$out/$kwok_stages.tmp" "$out/$kwok_stages"
  mv "$out/kwok.tmp" "$out/kwok"
}

for b in "${binaries[@]}"; do
  runs "$out" "$b" && continue
  case "$b" in
    etcd) build_etcd ;;
    kube-apiserver) build_kube kube-apiserver "the long step: about 4-5 minutes cold on 2 cores" ;;
    kube-controller-manager) build_kube kube-controller-manager "about 3-4 minutes cold, less after kube-apiserver" ;;
    kube-scheduler) build_kube kube-scheduler "about 1-2 minutes after the controller-manager" ;;
    kwok) build_kwok ;;
  esac
done
runnable "$out" || { echo "built binaries in $out are not runnable" >&2; exit 1; }
step "done: ${binaries[*]} ($("$out/kube-apiserver" --version), etcd $("$out/etcd" --version | head -1 | awk '{print $3}'))"
echo "$out"
