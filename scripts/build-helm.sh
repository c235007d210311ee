#!/usr/bin/env bash
# Builds Helm (the `helm` CLI, the reference implementation HelmReleases and HelmCharts run) from Go modules
# into a cache and prints the binary's path.
# Usage: scripts/build-helm.sh            -> prints the path of the helm binary
# Env:   KEDGE_HELM_BIN   use this prebuilt helm (checked, not built)
#        XDG_CACHE_HOME   cache root (default ~/.cache)
set -euo pipefail
exec bash "$(dirname "$0")/go-install-cached.sh" helm helm.sh/helm/v4/cmd/helm v4.3.1 \
  KEDGE_HELM_BIN 'HelmReleases and HelmCharts' version
