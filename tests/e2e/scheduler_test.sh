#!/usr/bin/env bash
# End-to-end test of placement and node lifecycle with real containerd:
# three nodes in zones a, b and c run a service of six two per zone; the
# zone-a node is killed (agent and containers) and within 15 seconds all six
# run again on b and c; when it comes back the service returns to 2/2/2
# without ever running fewer than six (from the tasks' recorded start and
# stop times); a memberOf constraint whose zone and attribute clauses each
# exclude a node is honoured; a
# drained node ends with no tasks; `get nodes` shows the status checks.
#
# usage: scheduler_test.sh BIN_DIR
set -euo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

e2e_make_certs
PORT=$(gantry_free_port)
gantry_start_containerd "$WORK/containerd"
for i in 1 2 3; do
  gantry_import_busybox "$CONTAINERD_SOCK" "node-$i" example.org/demo/busybox:1 "$WORK"
done
e2e_make_nodes 3
# Default heartbeat grace (10s): the 15-second recovery is with defaults.
e2e_start_cp --no-pin-digests
zones=(a b c)
for i in 1 2 3; do
  e2e_start_agent "$i" "${zones[$((i - 1))]}" --containerd-namespace "node-$i" \
    --attribute "tier=$([[ $i == 2 ]] && echo gold || echo silver)"
done
gantry_wait_for 30 have_connected 3 || fail "agents did not register"
checks_pass() { [[ $(ctl get nodes -o json | jq '[.nodes[].checks[] | select(.passed)] | length') == 9 ]]; }
gantry_wait_for 30 checks_pass || fail "nodes do not pass their 3 status checks: $(ctl get nodes)"
ctl get nodes | matches "3/3 passed" || fail "get nodes does not show the checks"
log "three nodes up, each passing system, instance and storage checks"

sed -e 's/desiredCount: 3/desiredCount: 6/' -e 's|image: .*|image: example.org/demo/busybox:1|' \
  "$ROOT/deploy/examples/web.yaml" > "$WORK/web.yaml"
ctl apply -f "$WORK/web.yaml"
gantry_wait_for 60 have_running 6 || fail "six tasks did not start"
per_zone() { tasks_json --service web | jq -r '[.tasks[] | select(.lastStatus == "RUNNING") | .zone] | group_by(.) | map("\(.[0])=\(length)") | join(",")'; }
[[ $(per_zone) == "a=2,b=2,c=2" ]] || fail "not 2/2/2: $(per_zone)"
log "web runs 2/2/2"

# --- Kill the zone-a node: its agent and its containers.
kill -9 "${AGENT_PIDS[1]}"
wait "${AGENT_PIDS[1]}" 2> /dev/null || true
gantry_stop_containerd_namespace "$WORK/containerd" node-1
killed_at=$SECONDS
six_on_b_and_c() { [[ $(per_zone) == "b=3,c=3" ]]; }
gantry_wait_for 30 six_on_b_and_c || fail "tasks were not replaced on b and c: $(per_zone)"
took=$((SECONDS - killed_at))
((took <= 15)) || fail "replacing the lost node's tasks took ${took}s (more than 15)"
ctl describe node node-1 | matches "system .*FAILED" || fail "describe node does not show the failed system check"
log "zone a lost: all six run on b and c after ${took}s"

# --- The node comes back: 2/2/2 again, never fewer than six running. The
# minimum comes from the store's history (every task's startedAt and
# stoppedAt since the node came back), not from polls that could miss a dip.
back_at=$(date -u +%s.%N)
e2e_start_agent 1 a
rebalanced() { [[ $(per_zone) == "a=2,b=2,c=2" ]]; }
gantry_wait_for 120 rebalanced || fail "zones were not rebalanced: $(per_zone)"
# fewest_running SINCE: the fewest tasks of web running at any moment since
# SINCE (seconds since the epoch); at equal times a stop counts first.
fewest_running() {
  tasks_json --service web --all | jq --argjson from "$1" '
    def ts: if test("[.]") then capture("^(?<b>[^.]+)[.](?<f>[0-9]+)Z$")
              | (.b + "Z" | fromdateiso8601) + ("0." + .f | tonumber)
            else fromdateiso8601 end;
    [.tasks[] | select(.startedAt)
      | {s: (.startedAt | ts), e: (if .stoppedAt then (.stoppedAt | ts) else 1e18 end)}] as $t
    | ([$t[] | select(.s <= $from and .e > $from)] | length) as $n0
    | ([$t[] | select(.s > $from) | {at: .s, d: 1}]
       + [$t[] | select(.e > $from and .e < 1e18) | {at: .e, d: -1}])
    | sort_by(.at, .d)
    | reduce .[] as $ev ({n: $n0, min: $n0}; .n += $ev.d | .min = ([.min, .n] | min))
    | .min'
}
fewest=$(fewest_running "$back_at")
((fewest >= 6)) || fail "running tasks dropped to $fewest while rebalancing: $(ctl get tasks --service web --all)"
ctl describe service web | matches "Zone rebalancing" || fail "rebalancing is not in the events"
log "zone a back: rebalanced to 2/2/2 without dropping below six"

# --- memberOf: zone a or b, and not on gold nodes. Both clauses decide: the
# zone clause keeps edge off node-3 (c), the attribute clause off node-2 (b,
# the gold one), so edge runs in zone a only.
cat > "$WORK/edge.yaml" <<YAML
kind: TaskDefinition
family: edge
containers:
  - name: httpd
    image: example.org/demo/busybox:1
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; httpd -f -p \$GANTRY_PORT_HTTP -h /www & wait"]
    cpu: 50m
    memory: 16Mi
    portMappings: [{name: http, containerPort: 0, hostPort: 0}]
---
kind: Service
name: edge
taskDefinition: edge
desiredCount: 4
placement:
  strategy: [{type: spread, field: zone}, {type: binpack, field: memory}]
  constraints: [{type: memberOf, expression: "zone in [a, b] and attribute:tier != gold"}]
YAML
ctl apply -f "$WORK/edge.yaml"
edge_up() { [[ $(tasks_json --service edge | jq '[.tasks[] | select(.lastStatus == "RUNNING")] | length') == 4 ]]; }
gantry_wait_for 60 edge_up || fail "edge did not start"
edge_zones=$(tasks_json --service edge | jq -r '[.tasks[].zone] | unique | join(",")')
[[ $edge_zones == "a" ]] || fail "memberOf not honoured: edge runs in $edge_zones"
# A malformed expression is refused at apply time with its position.
sed 's/zone in \[a, b\]/zone in [a, b/' "$WORK/edge.yaml" > "$WORK/bad-edge.yaml"
if out=$(ctl apply -f "$WORK/bad-edge.yaml" 2>&1); then fail "a malformed memberOf was accepted"; fi
[[ $out == *"placement.constraints[0].expression: position"* ]] || fail "unexpected error: $out"
ctl delete service edge --wait > /dev/null
log "memberOf honoured; a malformed expression is refused with its position"

# --- Drain node-3: it ends with no tasks; its tasks run elsewhere first.
ctl drain node node-3
drained() { [[ $(tasks_json --node node-3 | jq '.tasks | length') == 0 ]] && have_running 6; }
gantry_wait_for 90 drained || fail "node-3 still has tasks: $(tasks_json --node node-3 | jq -c '[.tasks[].id]')"
ctl describe node node-3 | matches "DRAINING" || fail "describe node does not say DRAINING"
ctl activate node node-3
log "drained node-3 ended with no tasks, six still running"
log "PASS"
