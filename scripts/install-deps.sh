#!/usr/bin/env bash
# Installs what berth's build, tests, demo and benchmarks need on a fresh Debian machine.
# Idempotent: installs only what is missing. Needs root (or sudo) for apt-get.
set -euo pipefail

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in libcurl4-openssl-dev libisal-dev libzstd-dev zlib1g-dev libyaml-dev docker-registry skopeo umoci apache2-utils openssl curl docker.io containerd python3-jsonschema python3-yaml; do
  have_pkg "$pkg" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "install-deps: installing ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The Debian packages start no services in a container; make sure none linger from a package
# post-install on a full system either (tests start their own, on loopback).
if ! python3 -c 'import jsonschema, yaml' 2>/dev/null; then
  python3 -m pip install -q jsonschema pyyaml
fi
