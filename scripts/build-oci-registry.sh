#!/usr/bin/env bash
# Builds the CNCF distribution registry (an OCI registry, `registry serve CONFIG`) from Go modules into a cache
# and prints the binary's path. The tests of OCI sources and OCI Helm charts run it on 127.0.0.1.
# Usage: scripts/build-oci-registry.sh    -> prints the path of the registry binary
# Env:   KEDGE_OCI_REGISTRY_BIN  use this prebuilt registry (checked, not built)
#        XDG_CACHE_HOME          cache root (default ~/.cache)
set -euo pipefail
exec bash "$(dirname "$0")/go-install-cached.sh" registry github.com/distribution/distribution/v3/cmd/registry v3.1.2 \
  KEDGE_OCI_REGISTRY_BIN 'the OCIRepository and OCI Helm tests'
