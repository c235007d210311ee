#!/usr/bin/env bash
# Builds the NATS server (nats-server) from Go modules into a cache and prints the binary's path. The tests of
# the `nats` notification Provider run it on 127.0.0.1.
# Usage: scripts/build-nats-server.sh          -> prints the path of the nats-server binary
# Env:   KEDGE_NATS_SERVER_BIN  use this prebuilt nats-server (checked, not built)
#        XDG_CACHE_HOME         cache root (default ~/.cache)
# Cold: a few CPU-minutes (far longer wall time on a loaded 2-core machine); warm: instant.
set -euo pipefail
exec bash "$(dirname "$0")/go-install-cached.sh" nats-server github.com/nats-io/nats-server/v2 v2.15.2 \
  KEDGE_NATS_SERVER_BIN 'the nats Provider tests'
