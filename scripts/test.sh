#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, and runs every test. The tests start
# their own peers (docker-registry in four variants, a token service, dockerd) on loopback and
# stop them when done.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
swift test --skip-build "$@"
