#!/usr/bin/env bash
# Builds Gantry's libFuzzer targets with clang, ASan and UBSan in their own
# tree and runs each for a bounded time from its corpus in the repo (new
# inputs go to a temporary copy, so the checkout stays as it is). Fails on
# any crash, leak or undefined behaviour, and prints executions per target.
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [BUILD_DIR]      (defaults: 15, build-fuzz)
#
# CI runs it with 15 s each; docs/reliability.md records a longer run.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-15}
build=${2:-build-fuzz}
fuzzers=(${FUZZERS:-spec_fuzz expression_fuzz quantity_fuzz image_reference_fuzz registry_fuzz
  prometheus_fuzz apply_fuzz})

if ! command -v clang++ > /dev/null; then
  echo "run.sh: needs clang with libFuzzer (Debian: apt-get install clang)" >&2
  exit 2
fi
if [[ ! -f $build/build.ninja ]]; then
  mkdir -p "$build"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DGANTRY_FUZZ=ON > "$build/configure.log"
fi
cmake --build "$build" -j"${GANTRY_JOBS:-2}" --target fuzzers

work=$(mktemp -d -t gantry-fuzz.XXXX)
trap 'rm -rf "$work"' EXIT
total=0
failed=()
printf '%-22s %12s %10s\n' target executions result
for f in "${fuzzers[@]}"; do
  mkdir -p "$work/$f"
  cp -r "tests/fuzz/corpus/$f/." "$work/$f/" 2>/dev/null || true
  log="$work/$f.log"
  # -max_len keeps inputs near what the API accepts (16 MiB is far beyond
  # what a parser needs to be exercised); artifacts name the crashing input.
  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$build/bin/$f" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$work/$f-" -print_final_stats=1 "$work/$f" > "$log" 2>&1; then
    result=ok
  else
    result=CRASH
    failed+=("$f")
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  total=$((total + ${execs:-0}))
  printf '%-22s %12s %10s\n' "$f" "${execs:-?}" "$result"
  if [[ $result != ok ]]; then
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -20 || true
    mkdir -p "$build/fuzz-artifacts"
    for a in "$work/$f"-*; do
      [[ -f $a ]] || continue
      cp "$a" "$build/fuzz-artifacts/"
      echo "input (kept as $build/fuzz-artifacts/$(basename "$a")):"
      head -c 2000 "$a" | od -c | head -20
    done
  fi
done
printf '%-22s %12s\n' total "$total"
if ((${#failed[@]})); then
  echo "fuzzing found problems in: ${failed[*]}" >&2
  exit 1
fi
