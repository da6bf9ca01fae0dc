#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, and runs every test. The tests start
# their own peers (docker-registry in four variants, a token service, dockerd) on loopback and
# stop them when done.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# A short, bounded libFuzzer pass over the parsers (reference, manifest, template,
# WWW-Authenticate); longer runs: fuzz/run.sh 600. Skipped with BERTH_SKIP_FUZZ=1.
if [ "${BERTH_SKIP_FUZZ:-0}" != 1 ]; then
  fuzz/run.sh "${BERTH_FUZZ_SECONDS:-10}"
fi
swift build --build-tests
# Every test is Swift Testing; XCTest would only add an "Executed 0 tests" line.
swift test --skip-build --disable-xctest "$@"
