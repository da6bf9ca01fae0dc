#!/usr/bin/env bash
# The main job, offline, on a fresh machine: start a local docker-registry, seed it with
# generated images, then let berth converge an embedded store to a manifest — plan, apply,
# re-plan (no changes), move a tag, converge again — and read the store back with skopeo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --product berth >/dev/null
swift build --product berth-testbed >/dev/null
BIN="$(swift build --show-bin-path)"
BERTH="$BIN/berth"

WORK="$(mktemp -d /tmp/berth-demo.XXXXXX)"
cleanup() { [ -n "${REG_PID:-}" ] && kill "$REG_PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# 1. A registry on loopback, seeded with a handful of images (one multi-platform).
"$BIN/berth-testbed" registry --dir "$WORK/registry" > "$WORK/registry.out" &
REG_PID=$!
for _ in $(seq 100); do [ -s "$WORK/registry.out" ] && break; sleep 0.1; done
REG="$(head -n1 "$WORK/registry.out")"
echo "== registry at $REG"
"$BIN/berth-testbed" seed --registry "$REG" --insecure --profile demo

# 2. The manifest: what this machine should hold.
cat > "$WORK/images.yaml" <<YAML
version: 1
images:
  - name: $REG/demo/hello
    tags: ["1.0", "latest"]
  - name: $REG/demo/app
    tags: ["1.1"]
  - name: $REG/demo/multi
    tags: ["1.0"]
    platform: linux/arm64
  - $REG/demo/legacy:2.1
registries:
  $REG:
    insecure: true
policy:
  unlisted: remove
  dangling: prune
  keep_previous: 1
YAML
STORE="$WORK/store"
run() { echo; echo "\$ berth $*"; "$BERTH" "$@"; }

run validate -f "$WORK/images.yaml"
run plan -f "$WORK/images.yaml" --store "$STORE"
run apply -f "$WORK/images.yaml" --store "$STORE" --yes
run plan -f "$WORK/images.yaml" --store "$STORE" --detailed-exitcode
run image ls --store "$STORE"

# 3. The registry moves demo/app:1.1 to a new image; berth updates it and keeps the old one
#    for rollback (keep_previous: 1).
"$BIN/berth-testbed" seed --registry "$REG" --insecure --profile demo-move
run apply -f "$WORK/images.yaml" --store "$STORE" --yes
run image ls --store "$STORE" --filter dangling=true --format 'table {{.ID}}\t{{.PreviousTags}}\t{{.DanglingSince}}'
run status --store "$STORE"
run store verify --store "$STORE"

echo; echo "\$ skopeo inspect oci:$STORE:$REG/demo/app:1.1 | head -4"
skopeo inspect "oci:$STORE:$REG/demo/app:1.1" | head -4
echo; echo "demo complete."
