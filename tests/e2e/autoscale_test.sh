#!/usr/bin/env bash
# End-to-end test of metrics and autoscaling with a real Prometheus (the
# Debian package, started here on a private port and data directory):
#   - Prometheus, configured from deploy/prometheus/prometheus.yml, finds the
#     control plane, every agent and every task through Gantry's discovery,
#     with the service, task, node and zone labels; agents export containerd's
#     cgroup statistics; every query of the Grafana dashboard is valid;
#   - the tasks export a gauge the test controls (they fetch it from a file
#     the test serves); when it rises, the service scales from 2 to 6 (the
#     time to decide is logged, not asserted: docs/performance.md);
#   - with Prometheus stopped, the count stays at 6 for longer than the
#     scale-in window (no scale in to the minimum, no scale out) and an event
#     says why; once Prometheus is back (same data), autoscaling resumes:
#     the service scales back to 2, only after the scale-in window;
#   - an alarm that fires during a blue-green bake rolls the deployment back.
#
# usage: autoscale_test.sh BIN_DIR
set -euo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
for tool in prometheus promtool busybox; do
  command -v "$tool" > /dev/null || fail "$tool is missing; run deploy/install-deps.sh"
done

INTERVAL=2  # --autoscale-interval, seconds
e2e_make_certs
PORT=$(gantry_free_port)
PROM_PORT=$(gantry_free_port)
GAUGE_PORT=$(gantry_free_port)
LB_PORT=$(gantry_free_port)
TEST_PORT=$(gantry_free_port)
gantry_start_containerd "$WORK/containerd"
"$ROOT/deploy/images/build-busybox-image.sh" "$WORK/web.tar" example.org/demo/web:1 > /dev/null
for i in 1 2 3; do
  ctr --address "$CONTAINERD_SOCK" -n "node-$i" images import "$WORK/web.tar" > /dev/null
done
e2e_make_nodes 3
e2e_start_cp --no-pin-digests --autoscale-interval "${INTERVAL}s" --alarm-interval 1s
zones=(a b c)
for i in 1 2 3; do
  e2e_start_agent "$i" "${zones[$((i - 1))]}" --containerd-namespace "node-$i"
done
gantry_wait_for 30 have_connected 3 || fail "agents did not register"

# The gauge: a file served from the host's bridge address; every task
# copies it to its own /metrics once a second.
mkdir -p "$WORK/gauge"
set_gauge() { printf 'test_load %s\ntest_errors %s\n' "$1" "${2:-0}" > "$WORK/gauge/load.tmp" &&
  mv "$WORK/gauge/load.tmp" "$WORK/gauge/load"; }
set_gauge 20
busybox httpd -f -p "$SUBNET.1:$GAUGE_PORT" -h "$WORK/gauge" &
AGENT_PIDS[gauge]=$!

# Prometheus from the shipped configuration, pointed at this control plane
# and scraping every second.
promtool check config "$ROOT/deploy/prometheus/prometheus.yml" > /dev/null ||
  fail "deploy/prometheus/prometheus.yml is not a valid Prometheus configuration"
sed -e "s|127.0.0.1:7071|127.0.0.1:$CP_HTTP_PORT|g" -e 's|15s|1s|g' \
  "$ROOT/deploy/prometheus/prometheus.yml" > "$WORK/prometheus.yml"
start_prometheus() {
  prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prometheus" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >> "$WORK/prometheus.log" 2>&1 &
  AGENT_PIDS[prometheus]=$!
  prom_ready() { curl -sf "http://127.0.0.1:$PROM_PORT/-/ready" > /dev/null; }
  gantry_wait_for 60 prom_ready || fail "Prometheus did not start; see $WORK/prometheus.log"
}
start_prometheus
PROM=http://127.0.0.1:$PROM_PORT
# query PROMQL: the JSON answer's result list.
query() { curl -sf --get "$PROM/api/v1/query" --data-urlencode "query=$1" | jq -c '.data.result'; }
series() { query "$1" | jq 'length'; }
log "control plane, three agents and Prometheus up"

# The per-task load divides by the tasks Gantry says are RUNNING (its own
# gantry_tasks metric): counting scraped targets lags behind new tasks by
# Prometheus' discovery and scrape delays (5 s or more), and a failed scrape
# drops a target, either of which reads as a multiple of the real load.
cat > "$WORK/web.yaml" <<YAML
kind: TaskDefinition
family: web
containers:
  - name: httpd
    image: example.org/demo/web:1
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; (while :; do wget -q -O /tmp/m http://$SUBNET.1:$GAUGE_PORT/load && mv /tmp/m /www/metrics; sleep 1; done) & httpd -f -p \$GANTRY_PORT_HTTP -h /www & wait"]
    cpu: 100m
    memory: 32Mi
    stopTimeout: 5s
    portMappings: [{name: http, containerPort: 0, hostPort: 0}]
    metrics: {port: http, path: /metrics}
    environment: {REVISION: "1"}
---
kind: Service
name: web
taskDefinition: web
desiredCount: 2
loadBalancer: {port: $LB_PORT, targetPort: http, testPort: $TEST_PORT, deregistrationDelay: 1s}
deploymentConfiguration:
  strategy: blueGreen
  bakeTime: 40s
  settleTime: 2s
  alarms:
    prometheus: $PROM
    rules:
      - {name: errors, query: 'max(test_errors{job="gantry-tasks"}) > 0'}
autoscaling:
  minCount: 2
  maxCount: 10
  prometheus: {address: $PROM}
  targetTracking:
    - query: 'max(test_load{service="web"}) / scalar(sum(gantry_tasks{service="web",state="RUNNING"}))'
      target: 10
  scaleOutCooldown: 20s
  scaleInCooldown: 10s
  scaleInWindow: 10s
YAML
ctl apply -f "$WORK/web.yaml" > /dev/null
gantry_wait_for 60 have_running 2 || fail "web did not start"
completed() {
  [[ $(ctl get services web -o json | jq -r '.deployments[0].rolloutState') == COMPLETED ]]
}
gantry_wait_for 90 completed || fail "the first deployment did not complete"

# --- Discovery and Gantry's own metrics, through Prometheus.
tasks_scraped() { [[ $(series 'up{job="gantry-tasks",service="web"} == 1') == 2 ]]; }
gantry_wait_for 30 tasks_scraped || fail "Prometheus did not discover the two tasks"
labels=$(query 'up{job="gantry-tasks",service="web"}' | jq -c '[.[].metric | {task, node, zone, container}]')
[[ $(jq '[.[] | select(.task != null and .node != null and .zone != null)] | length' <<< "$labels") == 2 ]] ||
  fail "task targets lack labels: $labels"
agents_scraped() { [[ $(series 'up{job="gantry-agents"} == 1') == 3 ]]; }
gantry_wait_for 30 agents_scraped || fail "Prometheus did not discover the three agents"
cgroup_stats() { [[ $(series 'gantry_container_memory_usage_bytes{service="web",container="httpd"} > 0') == 2 ]]; }
gantry_wait_for 30 cgroup_stats || fail "agents do not export the containers' memory (containerd task metrics)"
[[ $(series 'gantry_container_cpu_seconds_total{service="web"}') == 2 ]] || fail "no container CPU series"
# The control plane is scraped on its own schedule: wait for a scrape that
# saw the tasks running, rather than asking once.
cp_tasks() { [[ $(series 'gantry_tasks{service="web",state="RUNNING"}') == 1 ]]; }
gantry_wait_for 30 cp_tasks || fail "no gantry_tasks from the control plane"
[[ $(series 'gantry_api_requests_total{method="Apply"}') -ge 1 ]] || fail "no API request counts"
# Every query of the shipped dashboard is valid PromQL here.
while IFS= read -r expr; do
  status=$(curl -s --get "$PROM/api/v1/query" --data-urlencode "query=$expr" | jq -r .status)
  [[ $status == success ]] || fail "dashboard query does not evaluate: $expr"
done < <(jq -r '.panels[].targets[].expr' "$ROOT/deploy/prometheus/grafana-dashboard.json")
log "Prometheus scrapes the control plane, 3 agents and 2 tasks with their labels; dashboard queries valid"

desired() { ctl get services web -o json | jq '.desiredCount'; }
have_desired() { [[ $(desired) == "$1" ]]; }
load_seen() { [[ $(query 'max(test_load{service="web"})' | jq -r '.[0].value[1]') == "$1" ]]; }

# --- Steady at the target: nothing changes.
sleep $((3 * INTERVAL))
[[ $(desired) == 2 ]] || fail "scaled without a reason: desired $(desired)"

# --- Load rises: 60 over 2 tasks is 30 per task, target 10 -> 6 tasks.
set_gauge 60
gantry_wait_for 10 load_seen 60 || fail "Prometheus did not see the new gauge value"
ms() { echo $(($(date +%s%N) / 1000000)); }
t0=$(ms)
gantry_wait_for 20 have_desired 6 || fail "did not scale out to 6 (desired $(desired))"
t1=$(ms)
gantry_wait_for 60 have_running 6 || fail "6 tasks did not start"
t2=$(ms)
log "scaled 2 -> 6: decided $((t1 - t0)) ms after Prometheus saw the load, 6 running after" \
  "$((t2 - t0)) ms (evaluation interval ${INTERVAL}s)"
ctl events --service web | matches "scale out 2 -> 6: .* = 30 (target 10) -> 6" ||
  fail "no event quoting the value, target and result: $(ctl events --service web | tail -5)"
ctl get autoscaling | matches "scale out 2 -> 6" || fail "get autoscaling does not show the decision"
ctl describe service web | matches "Autoscaling:" || fail "describe service does not show autoscaling"
# The new tasks are discovered; 60 over 6 is on target: it stays at 6.
six_scraped() { [[ $(series 'up{job="gantry-tasks",service="web"} == 1') == 6 ]]; }
gantry_wait_for 30 six_scraped || fail "Prometheus did not discover the six tasks"
sleep $((3 * INTERVAL))
[[ $(desired) == 6 ]] || fail "did not stay at 6 (desired $(desired))"

# --- Prometheus stopped: the count holds at 6 (a query that cannot be read
# is neither zero nor a reason to scale out) past the scale-in window, so
# a fallback to the minimum would have shown; an event says why.
kill "${AGENT_PIDS[prometheus]}"
wait "${AGENT_PIDS[prometheus]}" 2> /dev/null || true
unset 'AGENT_PIDS[prometheus]'
t_down=$SECONDS
says_why() {
  ctl events --service web | matches "autoscaling: no action, the count stays at 6: query .*: Prometheus at $PROM: Couldn't connect to server (is Prometheus running there?)"
}
gantry_wait_for $((3 * INTERVAL)) says_why ||
  fail "no event saying why nothing scales: $(ctl events --service web | tail -3)"
moved() { [[ $(desired) != 6 ]]; }
if gantry_wait_for $((10 + INTERVAL - (SECONDS - t_down))) moved; then
  fail "the count moved while Prometheus was down (desired $(desired))"
fi
ctl get autoscaling | matches "error: Prometheus at $PROM" || fail "get autoscaling does not show the error"
log "Prometheus down for $((SECONDS - t_down)) s: the count stayed at 6; event:" \
  "$(ctl events --service web | grep -o 'autoscaling: no action.*' | tail -1)"
start_prometheus
resumed() {
  ctl get services web -o json | jq -r '.autoscalingStatus.lastDecision' | matches '^steady at 6'
}
gantry_wait_for 30 resumed || fail "autoscaling did not resume after Prometheus came back"
log "Prometheus back: autoscaling read the metric again $((SECONDS - t_down)) s after the fault"

# --- Load falls: 20 over 6 -> 2 tasks, but only after the scale-in window.
set_gauge 20
gantry_wait_for 10 load_seen 20 || fail "Prometheus did not see the lower gauge value"
t0=$(ms)
gantry_wait_for 60 have_desired 2 || fail "did not scale back in to 2 (desired $(desired))"
waited=$(($(ms) - t0))
log "scaled 6 -> 2 after $waited ms (scale-in window 10s)"
# The window holds the last recommendation of 6, made at most one interval
# before Prometheus showed the lower load; without it, scale-in would follow
# within one interval.
((waited >= 10000 - 2 * INTERVAL * 1000)) ||
  fail "scaled in after $waited ms, before the 10s scale-in window passed"
gantry_wait_for 60 have_running 2 || fail "did not stop down to 2 tasks"
# Prometheus marks the stopped tasks' series stale once they leave discovery.
gantry_wait_for 30 tasks_scraped || fail "Prometheus still scrapes stopped tasks"

# --- An alarm fires during a blue-green bake: rolled back.
sed 's/REVISION: "1"/REVISION: "2"/' "$WORK/web.yaml" > "$WORK/web2.yaml"
ctl apply -f "$WORK/web2.yaml" > /dev/null
baking() {
  [[ $(ctl get services web -o json | jq -r '.deployments[0] | "\(.taskDefinition) \(.phase)"') == "web:2 BAKING" ]]
}
gantry_wait_for 90 baking || fail "the blue-green deployment did not reach its bake"
set_gauge 20 1
failed() {
  [[ $(ctl get services web -o json | jq -r '[.deployments[] | select(.taskDefinition == "web:2")][0].rolloutState') == FAILED ]]
}
gantry_wait_for 20 failed || fail "the firing alarm did not fail the deployment"
reason=$(ctl get services web -o json | jq -r '[.deployments[] | select(.taskDefinition == "web:2")][0].rolloutStateReason')
[[ $reason == *"alarm errors fired"* ]] || fail "unexpected failure reason: $reason"
[[ $(ctl get services web -o json | jq -r '[.deployments[] | select(.status == "PRIMARY")][0].taskDefinition') == web:1 ]] ||
  fail "did not roll back to web:1"
ctl events --service web | matches "all traffic is back on .* (web:1)" || fail "no rollback event"
only_v1() {
  [[ $(tasks_json | jq -r '[.tasks[] | select(.lastStatus == "RUNNING") | .taskDefinition] | unique | join(",")') == web:1 ]]
}
gantry_wait_for 60 only_v1 || fail "web:2 tasks kept running after the rollback"
log "alarm during the blue-green bake: deployment FAILED ($reason), rolled back to web:1"
log "PASS"
