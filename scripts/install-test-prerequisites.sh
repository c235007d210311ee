#!/usr/bin/env bash
# Installs what the tests need beyond npm packages: Debian packages (real git servers, sshd, gpg, openssl),
# the control plane (kube-apiserver, etcd, and for the tests on a cluster with nodes kube-controller-manager,
# kube-scheduler and kwok), Kedge's kustomize renderer and sops (each built once from Go modules, then cached).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
while read -r pkg; do
  [ -z "$pkg" ] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < .ci/debian-packages.txt
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages for the tests: ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "not root: run 'sudo apt-get install ${missing[*]}' and try again" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Builds on first use, then reuses the cache; fails loudly if the build fails. Cold on an idle 2-core machine:
# about 5-6 minutes for kube-apiserver and etcd, about as long again for the node components (see
# docs/control-plane.md); built here so that no test waits for a build.
bash scripts/build-control-plane.sh --nodes >/dev/null

# Kedge's confined kustomize renderer (tools/kustomize-build): a few minutes cold, then cached by source hash.
bash scripts/build-kustomize.sh >/dev/null

# An S3-compatible server for the Bucket source tests (versitygw, built once from Go modules, then cached).
bash scripts/build-s3-server.sh >/dev/null

# sops (Kustomization.spec.decryption) and age-keygen (the tests' age keys), from Go modules: a few CPU-minutes
# cold, then cached in ~/.cache/kedge/sops.
bash scripts/build-sops.sh >/dev/null

# A NATS server for the `nats` notification Provider tests (nats-server, built once from Go modules, then cached).
bash scripts/build-nats-server.sh >/dev/null

# Helm (HelmRepository/HelmChart/HelmRelease and the tests' charts) and the CNCF distribution registry (the OCI
# tests), each built once from Go modules, then cached in ~/.cache/kedge.
bash scripts/build-helm.sh >/dev/null
bash scripts/build-oci-registry.sh >/dev/null
