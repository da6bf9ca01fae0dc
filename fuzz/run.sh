#!/usr/bin/env bash
# Builds berth's libFuzzer targets and runs each for SECONDS (default 20), one after another.
#
#   fuzz/run.sh [seconds] [target...]      targets: reference imageset template challenge
#
# Seeds come from fuzz/corpus/<target>/ (read-only); inputs libFuzzer finds go to
# fuzz/.work/<target>/; a crashing input is written to fuzz/artifacts/<target>/ and the script
# exits 1 after running the remaining targets. Targets are built in release mode with
# -sanitize=fuzzer,address (Swift's libFuzzer support on Linux); each main.swift calls
# libFuzzer's LLVMFuzzerRunDriver.
# Environment: FUZZ_SCRATCH (build directory, default fuzz/.build), FUZZ_FLAGS (more libFuzzer
# flags, e.g. "-jobs=2"), FUZZ_SANITIZE (default fuzzer,address).
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(reference imageset template challenge)
scratch=${FUZZ_SCRATCH:-.build}
sanitize=${FUZZ_SANITIZE:-fuzzer,address}

product() {
  case "$1" in
    reference) echo FuzzReference ;;
    imageset) echo FuzzImageSet ;;
    template) echo FuzzTemplate ;;
    challenge) echo FuzzChallenge ;;
    *) echo "run.sh: unknown target '$1' (reference imageset template challenge)" >&2; exit 64 ;;
  esac
}

build() {
  swift build -c release --scratch-path "$scratch" --product "$1" \
    -Xswiftc "-sanitize=$sanitize" 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' || true
  [ -x "$scratch/release/$1" ]
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}
# Swift's backtracer would read the crashed process's memory under ASan; libFuzzer reports.
export SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no}
status=0
summary=()
for t in "${targets[@]}"; do
  p=$(product "$t")
  rm -f "$scratch/release/$p"
  if ! build "$p"; then
    echo "run.sh: $p did not build" >&2
    summary+=("$t: BUILD FAILED")
    status=1
    continue
  fi
  mkdir -p ".work/$t" "artifacts/$t"
  log=".work/$t.log"
  start=$(date +%s)
  set +e
  # shellcheck disable=SC2086
  "$scratch/release/$p" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="artifacts/$t/" ${FUZZ_FLAGS:-} ".work/$t" "corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  elapsed=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  if [ "$rc" -ne 0 ]; then
    status=1
    crash=$(grep -Eo "artifacts/$t/[^ ]+" "$log" | tail -1)
    grep -E 'Fatal error|ERROR: (AddressSanitizer|libFuzzer)|SUMMARY' "$log" | head -5 >&2 || true
    summary+=("$t: CRASH after ${execs:-?} executions in ${elapsed}s: ${crash:-see fuzz/$log}")
  else
    summary+=("$t: ${execs:-?} executions in ${elapsed}s, coverage ${cov:-?} edges, no crash")
  fi
done
echo "fuzz summary (${seconds}s per target):"
printf '  %s\n' "${summary[@]}"
exit $status
