#!/usr/bin/env bash
# Installs what the tests need beyond npm packages: Debian packages (real git servers, sshd, gpg, openssl),
# the kube-apiserver + etcd binaries and Kedge's kustomize renderer (built once from Go modules, then cached).
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

# Builds on first use (about 5-6 minutes on 2 cores), then reuses the cache; fails loudly if the build fails.
bash scripts/build-control-plane.sh >/dev/null

# Kedge's confined kustomize renderer (tools/kustomize-build): a few minutes cold, then cached by source hash.
bash scripts/build-kustomize.sh >/dev/null
