#!/usr/bin/env bash
# berth into containerd vs a sequential `ctr images pull` loop, for the bench profile, cold and
# no-op, in one run. Starts its own registry and containerd (private root, state, socket) on
# loopback, as root. Usage: bench/containerd.sh [BIN_DIR (default .build/debug)] [SCALE (0.1)]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/debug}
scale=${2:-0.1}
work=$(mktemp -d /tmp/berth-cdb.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  grep " $work/" /proc/self/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/berth-testbed" registry --dir "$work/registry" > "$work/registry.out" 2> "$work/registry.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/registry.out" ] && break; sleep 0.1; done
host=$(head -1 "$work/registry.out")
"$bin/berth-testbed" seed --registry "$host" --insecure --profile bench --scale "$scale" > "$work/seeded.txt"
refs=$(awk -v h="$host" '{print h "/" $1}' "$work/seeded.txt")
count=$(wc -l < "$work/seeded.txt")

sock=$work/c.sock
cat > "$work/config.toml" <<TOML
version = 2
root = "$work/root"
state = "$work/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
TOML
containerd --config "$work/config.toml" --log-level warn > "$work/containerd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do ctr -a "$sock" version >/dev/null 2>&1 && break; sleep 0.1; done

{ echo "version: 1"; echo "platform: linux/amd64"; echo "images:"; for r in $refs; do echo "  - $r"; done; } > "$work/images.yaml"
reset() { names=$(ctr -a "$sock" -n k8s.io images ls -q); [ -z "$names" ] || ctr -a "$sock" -n k8s.io images rm --sync $names >/dev/null; }
secs() { local t0; t0=$(date +%s.%N); "$@" > /dev/null; echo "$(date +%s.%N) - $t0" | bc; }
berth() { XDG_STATE_HOME=$work/berth-state "$bin/berth" apply --store "containerd:$sock?namespace=k8s.io" -f "$work/images.yaml" --yes; }
ctrloop() { for r in $refs; do ctr -a "$sock" -n k8s.io images pull --plain-http "$r"; done; }

berth_cold=$(secs berth); berth_noop=$(secs berth)
reset
ctr_cold=$(secs ctrloop); ctr_noop=$(secs ctrloop)
printf 'containerd %s, %d tags at scale %s, berth from %s, load %s\n' "$(containerd --version | awk '{print $3}')" "$count" "$scale" "$bin" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %10s %10s\n' "" "berth" "ctr loop"
printf '%-8s %9.2fs %9.2fs  ratio ctr/berth %.2f\n' cold "$berth_cold" "$ctr_cold" "$(echo "$ctr_cold / $berth_cold" | bc -l)"
printf '%-8s %9.2fs %9.2fs  ratio ctr/berth %.2f\n' no-op "$berth_noop" "$ctr_noop" "$(echo "$ctr_noop / $berth_noop" | bc -l)"
