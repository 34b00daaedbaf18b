#!/usr/bin/env bash
# ThreadSanitizer run of the unit and integration tests that do not use gRPC,
# in a tree of its own (build-tsan/, clang, -fsanitize=thread, -O0 -g1).
# Every data race or lock order inversion fails its test.
#
#   tests/sanitizers/tsan.sh [BUILD_DIR]                  (default: build-tsan)
#
# Not part of deploy/test.sh: a second sanitized tree does not fit CI's
# budget on 2 cores (docs/reliability.md records the figures and the last
# run). Gantry's own locks are std::mutex (common/mutex.h), which TSan sees.
# Debian's gRPC is not built with TSan: it hands every message between its
# threads and ours through locks TSan cannot see, so a test binary that
# serves or calls gRPC is reported thousands of times over for gRPC's own
# hand-offs (about 15,000 reports in one run of the four below). Those four
# are left out; tests/sanitizers/tsan.supp names the few reports that come
# from creating a gRPC channel in the tests that remain.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-tsan}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DGANTRY_SANITIZE=thread \
  "-DCMAKE_CXX_FLAGS_DEBUG=-O0 -g1" "-DCMAKE_C_FLAGS_DEBUG=-O0 -g1" > /dev/null
cmake --build "$build" -j"${GANTRY_JOBS:-2}"
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/sanitizers/tsan.supp}
export TSAN_SYMBOLIZER_PATH=${TSAN_SYMBOLIZER_PATH:-/usr/lib/llvm-14/bin/llvm-symbolizer}
cd "$build"
ctest --output-on-failure -L 'unit|integration' -j2 \
  -E 'containerd_runtime_test|cluster_integration_test|store_integration_test|ha_integration_test'
