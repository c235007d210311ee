#!/usr/bin/env bash
# Builds the Versity S3 Gateway (versitygw, an S3-compatible server over a plain directory) from Go modules
# into a cache and prints the binary's path. The tests of Bucket sources run it on 127.0.0.1.
# Usage: scripts/build-s3-server.sh            -> prints the path of the versitygw binary
# Env:   KEDGE_S3_SERVER_BIN  use this prebuilt versitygw (checked, not built)
#        XDG_CACHE_HOME       cache root (default ~/.cache)
# Cold: about 4 CPU-minutes (11 minutes wall seen on a loaded 2-core machine); warm: instant.
set -euo pipefail
exec bash "$(dirname "$0")/go-install-cached.sh" versitygw github.com/versity/versitygw/cmd/versitygw v1.8.0 \
  KEDGE_S3_SERVER_BIN 'the Bucket tests'
