#!/usr/bin/env bash
# berth's benchmark, from a fresh Debian machine to bench/results/: installs what is missing,
# builds release binaries, starts a docker-registry (and private dockerds), seeds, measures,
# writes bench/results/<date>.json, latest.json and chart.svg, and stops everything it started.
#
#   bench/run.sh                 full run (scale 1: 36 tags, ~490 MB; 3 repetitions)
#   bench/run.sh --quick         smoke run (scale 0.05, 2 repetitions; writes *-quick.*)
#   bench/run.sh --skip-docker   without the dockerd section
#   bench/run.sh --help          every option (bench/bench.py)
#
# Work files (registry storage, cached between runs; stores; logs) go to $BENCH_WORK
# (default /var/tmp/berth-bench). See bench/README.md for what each number means.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  exec python3 bench/bench.py --help
fi

# Packages: the project's own list (registry, skopeo, umoci, docker.io, curl, …), plus what
# only the benchmark uses.
scripts/install-deps.sh
need=()
for pkg in gzip coreutils python3 util-linux time; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The limit inflates with igzip, as berth does (python-isal from PyPI; zlib where it is missing).
python3 -c 'import isal' 2>/dev/null || python3 -m pip install -q isal >&2 || echo "bench: python-isal not installed; the limit inflates with zlib" >&2

echo "bench: building release binaries (.build-bench)" >&2
build_start=$(date +%s)
swift build -c release --static-swift-stdlib --product berth --scratch-path .build-bench >&2
swift build -c release --static-swift-stdlib --product berth-testbed --scratch-path .build-bench >&2
echo "bench: built in $(( $(date +%s) - build_start ))s; load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

exec python3 bench/bench.py "$@"
