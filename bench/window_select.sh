#!/bin/sh
# Issue 15's figure: selection from 5,000 tags, built with -O (as the release binary is).
set -eu
cd "$(dirname "$0")/.."
out="${TMPDIR:-/tmp}/berth-window-select"
swiftc -O -parse-as-library Sources/ImageSet/Semver.swift Sources/ImageSet/TagSelection.swift bench/window_select.swift -o "$out"
"$out"
