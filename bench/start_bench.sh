#!/usr/bin/env bash
# What task networking adds to a task's start, end to end with the real
# binaries, containerd and CNI plugins (needs root and a build): one
# simulated node; a 1-task service is applied, runs, and is deleted, N
# times with networkMode host and N times with networkMode task, in one
# run. Prints the median and spread of createdAt -> startedAt (placement
# committed to containers started, as the agent reports it) and of
# apply -> RUNNING seen by gantryctl.
#
# usage: bench/start_bench.sh BIN_DIR [N]   (default 7)
set -euo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR [N]}" && pwd)
N=${2:-7}
# shellcheck source=../tests/e2e/lib.sh
source "$(dirname "$0")/../tests/e2e/lib.sh"

NS=gantry
PORT=$(gantry_free_port)
gantry_start_containerd "$WORK/containerd"
gantry_import_busybox "$CONTAINERD_SOCK" "$NS" example.org/demo/busybox:1 "$WORK"
e2e_make_nodes 1
e2e_start_cp --no-pin-digests
e2e_start_agent 1 a --containerd-namespace "$NS"
gantry_wait_for 30 have_connected 1 || fail "the agent did not register"

spec() { # MODE
  cat <<YAML
kind: TaskDefinition
family: start-$1
networkMode: $1
containers:
  - name: httpd
    image: example.org/demo/busybox:1
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; httpd -f -p \$GANTRY_PORT_HTTP -h /www & wait"]
    cpu: 100m
    memory: 32Mi
    stopTimeout: 2s
    portMappings: [{name: http, containerPort: 0, hostPort: 0}]
---
kind: Service
name: start-$1
taskDefinition: start-$1
desiredCount: 1
YAML
}
ms() { date +%s%3N; }
stamp() { python3 -c 'import sys,datetime; print(int(datetime.datetime.fromisoformat(sys.argv[1].replace("Z","+00:00")).timestamp()*1000))' "$1"; }
declare -A internal=() seen=()
for round in $(seq 1 "$N"); do
  for mode in host task; do
    spec "$mode" > "$WORK/$mode.yaml"
    t0=$(ms)
    ctl apply -f "$WORK/$mode.yaml" > /dev/null
    gantry_wait_for 60 have_running 1 || fail "the $mode task did not start"
    t1=$(ms)
    task=$(tasks_json | jq -c '.tasks[0]')
    created=$(stamp "$(jq -r .createdAt <<< "$task")")
    started=$(stamp "$(jq -r .startedAt <<< "$task")")
    internal[$mode]+="$((started - created)) "
    seen[$mode]+="$((t1 - t0)) "
    ctl delete service "start-$mode" > /dev/null
    gantry_wait_for 60 have_running 0 || fail "the $mode task did not stop"
    no_tasks() { [[ $(tasks_json | jq '.tasks | length') == 0 ]]; }
    gantry_wait_for 60 no_tasks || true
  done
done
summary() { # LABEL VALUES...
  local label=$1
  shift
  printf '%s\n' "$@" | sort -n | awk -v l="$label" '{v[NR]=$1} END {printf "%-44s median %5d ms   min %5d   max %5d   (n=%d)\n", l, v[int((NR+1)/2)], v[1], v[NR], NR}'
}
# shellcheck disable=SC2086
{
  summary "networkMode host: createdAt -> startedAt" ${internal[host]}
  summary "networkMode task: createdAt -> startedAt" ${internal[task]}
  summary "networkMode host: apply -> RUNNING seen" ${seen[host]}
  summary "networkMode task: apply -> RUNNING seen" ${seen[task]}
} | tee "$WORK/summary.txt"
