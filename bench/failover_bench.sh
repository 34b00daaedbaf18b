#!/usr/bin/env bash
# Failover time of three control plane replicas on three etcd members, with
# the real binaries: kill -9 of the leader -> the first task placed by the
# new leader (a new service applied right after the kill), RUNS times; prints
# each run, the median and the max. The killed replica is restarted between
# runs. Not a test: the numbers go to docs/performance.md.
#
# usage: bench/failover_bench.sh BIN_DIR [RUNS]   (root; default 10 runs)
set -euo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR [RUNS]}" && pwd)
RUNS=${2:-10}
here=$(cd "$(dirname "$0")/../tests/e2e" && pwd)
# shellcheck source=../tests/e2e/lib.sh
source "$here/lib.sh"
# shellcheck source=../tests/e2e/ha_lib.sh
source "$here/ha_lib.sh"

ha_start_replicas 1
e2e_start_agent 1 a --containerd-namespace "$NS"
connected() { [[ $(any get nodes -o json | jq '[.nodes[]? | select(.connected)] | length') == 1 ]]; }
gantry_wait_for 30 connected || fail "the agent did not reach the leader"
times=()
for run in $(seq 1 "$RUNS"); do
  gantry_wait_for 30 replicas_up || fail "replicas are not all up before run $run"
  name=$(leader)
  index=${name#cp}
  sed -e "s/\bweb\b/f$run/g" -e 's/desiredCount: [0-9]*/desiredCount: 1/' "$WORK/web.yaml" > "$WORK/f.yaml"
  kill -9 "${CP_PIDS[$index]}"
  wait "${CP_PIDS[$index]}" 2> /dev/null || true
  start=$(date +%s.%N)
  until any apply -f "$WORK/f.yaml" > /dev/null 2>&1; do sleep 0.05; done
  placed() { any get tasks --service "f$run" -o json | jq -e '[.tasks[]? | select(.node != "")] | length == 1' > /dev/null; }
  gantry_wait_for 30 placed || fail "run $run: nothing placed after the failover"
  t=$(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN {printf "%.3f", a - b}')
  times+=("$t")
  printf 'run %2d: killed %s, %s leads, first placement after %.2f s\n' "$run" "$name" "$(leader)" "$t"
  start_replica "$index"
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}' <<< "$sorted")
max=$(tail -n 1 <<< "$sorted")
printf 'failover over %d runs (lease 2s): median %.2f s, max %.2f s\n' "$RUNS" "$median" "$max"
