#!/usr/bin/env bash
# The fleet benchmark: 20 berth hosts converging through one pull-through cache (see bench/fleet.py
# and bench/README.md, "Fleet"). Builds release binaries into .build-bench, then runs bench/fleet.py;
# writes bench/results/fleet-<date>.json and .md.
#
#   bench/fleet.sh                     20 hosts, 6 at once, jitter 1 s, bench profile at scale 0.02
#   bench/fleet.sh --hosts 50 --jitter 10
#   bench/fleet.sh --help              every option
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then exec python3 bench/fleet.py --help; fi
command -v docker-registry >/dev/null || scripts/install-deps.sh
echo "fleet: building release binaries (.build-bench)" >&2
swift build -c release --static-swift-stdlib --product berth --scratch-path .build-bench >&2
swift build -c release --static-swift-stdlib --product berth-testbed --scratch-path .build-bench >&2
exec python3 bench/fleet.py --bin-dir .build-bench/release "$@"
