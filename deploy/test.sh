#!/usr/bin/env bash
# Installs the Debian packages, builds, and runs every test: unit,
# integration, end-to-end (real containerd, network namespaces) and the
# fuzz targets. Each end-to-end test starts the services it needs in
# private temp dirs and removes them afterwards. Needs root.
#
# The tests run on one tree built with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer (build-test/): every binary the end-to-end
# tests start is sanitized too, and the fuzz targets are built in the same
# tree. The fuzz targets run at low priority beside the end-to-end tests,
# which spend most of their time waiting on containers. Each step's time is
# printed at the end (docs/reliability.md records them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ $(id -u) -ne 0 ]]; then
  echo "test.sh: needs root (packages, containerd, network namespaces); try: sudo $0" >&2
  exit 1
fi
build=${GANTRY_TEST_BUILD:-$root/build-test}
times=()
step() {  # step NAME COMMAND...: runs it, records its time, returns its status
  local name=$1 start=$SECONDS rc=0
  shift
  "$@" || rc=$?
  times+=("$(printf '%-24s %5d s' "$name" $((SECONDS - start)))")
  return $rc
}

step "packages" bash "$root/deploy/install-deps.sh" --test
# -O0 -g1: a sanitized tree builds in half the time of the release one, and
# line numbers are all a report needs.
step "configure" cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DGANTRY_FUZZ=ON \
  "-DCMAKE_CXX_FLAGS_DEBUG=-O0 -g1" "-DCMAKE_C_FLAGS_DEBUG=-O0 -g1"
step "build (ASan+UBSan)" cmake --build "$build" -j2

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-/usr/lib/llvm-14/bin/llvm-symbolizer}
cd "$build"
step "unit + integration" ctest --output-on-failure -L 'unit|integration' -j2

fuzz_log=$build/fuzz.log
fuzz_start=$SECONDS
nice -n 19 bash "$root/tests/fuzz/run.sh" "${GANTRY_FUZZ_SECONDS:-15}" "$build" > "$fuzz_log" 2>&1 &
fuzz_pid=$!
trap 'kill "$fuzz_pid" 2> /dev/null || true' EXIT
e2e_status=0
step "e2e" ctest --output-on-failure -L e2e || e2e_status=$?
fuzz_status=0
wait "$fuzz_pid" || fuzz_status=$?
trap - EXIT
times+=("$(printf '%-24s %5d s' "fuzz (beside e2e)" $((SECONDS - fuzz_start)))")
cat "$fuzz_log"
printf '%s\n' "test.sh: time per step" "${times[@]}"
if [[ $e2e_status -ne 0 || $fuzz_status -ne 0 ]]; then
  echo "test.sh: end-to-end exit $e2e_status, fuzzing exit $fuzz_status" >&2
  exit 1
fi
