#!/usr/bin/env bash
# End-to-end test of deployments through a real HAProxy driven by gantry-lb:
# a load generator sends requests through the load balancer during every
# deployment, and none may fail: blue-green with linear, canary and
# all-at-once traffic, and rolling with a CMD-SHELL health check that passes.
# A green whose CMD-SHELL check fails is rolled back and `deploy --wait`
# exits 1; a wait shorter than a deployment exits 2; a rolling deployment
# whose tasks crash trips the circuit breaker and rolls back; `rollout undo`
# returns to the previous completed deployment; green answers on the test
# port during a blue-green deployment; HAProxy's workers run as the haproxy
# user, chrooted in /var/lib/haproxy.
#
# usage: rollout_test.sh BIN_DIR
set -euo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
command -v haproxy > /dev/null || fail "haproxy is missing; run deploy/install-deps.sh"

e2e_make_certs
PORT=$(gantry_free_port)
LB_PORT=$(gantry_free_port)
TEST_PORT=$(gantry_free_port)
gantry_start_containerd "$WORK/containerd"
for v in 1 2; do
  "$ROOT/deploy/images/build-busybox-image.sh" "$WORK/web$v.tar" "example.org/demo/web:$v" \
    "hello from v$v" > /dev/null
done
for i in 1 2 3; do
  for v in 1 2; do
    ctr --address "$CONTAINERD_SOCK" -n "node-$i" images import "$WORK/web$v.tar" > /dev/null
  done
done
e2e_make_nodes 3
e2e_start_cp --no-pin-digests
zones=(a b c)
for i in 1 2 3; do
  e2e_start_agent "$i" "${zones[$((i - 1))]}" --containerd-namespace "node-$i"
done
gantry_wait_for 30 have_connected 3 || fail "agents did not register"

(umask 077 && ctl token create --role lb --description gantry-lb > "$WORK/lb.token") ||
  fail "cannot create the lb token"
"$BIN/gantry-lb" --controlplane "127.0.0.1:$PORT" --tls-ca "$CA" --token-file "$WORK/lb.token" \
  --work-dir "$WORK/lb" --poll-interval 200ms >> "$WORK/lb.log" 2>&1 &
LB_PID=$!
AGENT_PIDS[lb]=$LB_PID  # stopped (by PID) with the agents on exit
log "control plane, three agents and gantry-lb (HAProxy) up"

# service_yaml VERSION STRATEGY [HEALTH_COMMAND] [COMMAND]
service_yaml() {
  local version=$1 strategy=$2
  local health=${3:-}
  local command=${4:-"trap 'exit 0' TERM; httpd -f -p \$GANTRY_PORT_HTTP -h /www & wait"}
  local check="http: {port: http, path: /}"
  [[ -n $health ]] && check="command: [\"CMD-SHELL\", \"$health\"]"
  cat <<YAML
kind: TaskDefinition
family: web
containers:
  - name: httpd
    image: example.org/demo/web:$version
    command: ["/bin/sh", "-c", "$command"]
    cpu: 100m
    memory: 32Mi
    stopTimeout: 5s
    portMappings: [{name: http, containerPort: 0, hostPort: 0}]
    healthCheck: {$check, interval: 5s, timeout: 2s, retries: 2}
---
kind: Service
name: web
taskDefinition: web
desiredCount: 3
loadBalancer: {port: $LB_PORT, targetPort: http, testPort: $TEST_PORT, deregistrationDelay: 2s}
deploymentConfiguration:
  strategy: $strategy
  traffic: ${TRAFFIC:-"{type: linear, stepPercent: 50, interval: 3s}"}
  bakeTime: 4s
  circuitBreaker: {threshold: 3}
YAML
}
lb_says() { [[ $(curl -sf --max-time 2 "http://127.0.0.1:$1/") == "$2" ]]; }
# start_load NAME [REQUESTS]: requests (default 20,000) at 500/s in the
# background through the load balancer.
start_load() {
  "$BIN/gantry-loadgen" "http://127.0.0.1:$LB_PORT/" "${2:-20000}" 500 4 > "$WORK/load-$1.log" 2>&1 &
  LOAD_PID=$!
}
finish_load() {
  local rc=0
  wait "$LOAD_PID" || rc=$?
  cat "$WORK/load-$1.log"
  ((rc == 0)) || fail "$1: requests failed through the load balancer"
}

# --- First deployment: v1 behind the load balancer.
service_yaml 1 blueGreen > "$WORK/web.yaml"
ctl deploy -f "$WORK/web.yaml" --wait --timeout 2m || fail "deploying v1 did not complete"
gantry_wait_for 20 lb_says "$LB_PORT" "hello from v1" || fail "the load balancer does not serve v1"
ctl get tasks | matches HEALTHY || fail "get tasks does not show health"
log "v1 serves through HAProxy"
# gantry-lb is root here: HAProxy's workers run as Debian's haproxy user,
# chrooted in /var/lib/haproxy, and still serve and take reloads.
haproxy_workers=$(pgrep -P "$(cat "$WORK/lb/haproxy.pid")") || fail "no HAProxy worker"
for w in $haproxy_workers; do
  [[ $(ps -o user= -p "$w") == haproxy ]] || fail "HAProxy worker $w does not run as haproxy"
  [[ $(readlink "/proc/$w/root") == /var/lib/haproxy ]] || fail "HAProxy worker $w is not chrooted"
done
log "HAProxy's workers run as haproxy, chrooted"

# --- Blue-green to v2 under load: zero failed requests.
start_load blue-green
sleep 2
service_yaml 2 blueGreen > "$WORK/web.yaml"
ctl deploy -f "$WORK/web.yaml" --wait --timeout 3m > "$WORK/deploy-v2.log" &
DEPLOY_PID=$!
# While the deployment runs, green answers on the test port, and a wait
# that ends before the deployment does exits 2.
gantry_wait_for 60 lb_says "$TEST_PORT" "hello from v2" || fail "green is not on the test port"
rc=0
ctl rollout status web --timeout 1s > /dev/null 2>&1 || rc=$?
((rc == 2)) || fail "rollout status of a deployment in progress with a 1s timeout exited $rc, not 2"
wait "$DEPLOY_PID" || fail "blue-green to v2 did not complete: $(cat "$WORK/deploy-v2.log")"
finish_load blue-green
grep -q "hello from v1" "$WORK/load-blue-green.log" && grep -q "hello from v2" "$WORK/load-blue-green.log" ||
  fail "the load did not see the switch from v1 to v2"
lb_says "$LB_PORT" "hello from v2" || fail "production does not serve v2 after the switch"
ctl events --service web | matches "production traffic on green: 50%" || fail "no linear shift step in events"
log "blue-green v1 -> v2 with 20,000 requests, none failed"

# --- A green whose health check fails: rolled back, no failed request, exit 1.
start_load bad-green
service_yaml 1 blueGreen "test -f /www/missing" > "$WORK/bad.yaml"
rc=0
ctl deploy -f "$WORK/bad.yaml" --wait --timeout 3m > "$WORK/deploy-bad.log" || rc=$?
((rc == 1)) || fail "deploy --wait of an unhealthy revision exited $rc, not 1"

grep -q "FAILED" "$WORK/deploy-bad.log" || fail "deploy --wait did not report FAILED: $(cat "$WORK/deploy-bad.log")"
finish_load bad-green
lb_says "$LB_PORT" "hello from v2" || fail "production left v2 after a failed green"
ctl events --service web --limit 500 | matches "task .* is UNHEALTHY" ||
  fail "no event recorded the green tasks turning UNHEALTHY"
log "an unhealthy green was rolled back; deploy --wait exited 1; no request failed"

# --- Rolling deployment under load: zero failed requests. Its tasks have a
# CMD-SHELL health check that passes: the rollout completes only if the
# check runs in the container and answers, so a broken exec path cannot pass
# for a working one (the failing direction is the bad green above).
start_load rolling
service_yaml 1 rolling "test -s /www/index.html" > "$WORK/rolling.yaml"
ctl deploy -f "$WORK/rolling.yaml" --wait --timeout 3m > "$WORK/deploy-rolling.log" ||
  fail "rolling to v1 did not complete: $(cat "$WORK/deploy-rolling.log")"
finish_load rolling
lb_says "$LB_PORT" "hello from v1" || fail "production does not serve v1 after the rolling deployment"
[[ $(ctl get tasks --service web | grep -cw HEALTHY) -ge 3 ]] ||
  fail "the CMD-SHELL health check did not make the tasks HEALTHY: $(ctl get tasks --service web)"
log "rolling v2 -> v1 with 20,000 requests, none failed; CMD-SHELL health checks pass"

# --- Crashing tasks trip the circuit breaker and roll back.
service_yaml 2 rolling "" "echo crashing; exit 3" > "$WORK/crash.yaml"
if ctl deploy -f "$WORK/crash.yaml" --wait --timeout 3m > "$WORK/deploy-crash.log"; then
  fail "a crashing deployment completed"
fi
grep -q "circuit breaker" "$WORK/deploy-crash.log" || fail "no circuit breaker: $(cat "$WORK/deploy-crash.log")"
rolled_back() { ctl rollout status web --timeout 5s > /dev/null; }
gantry_wait_for 120 rolled_back || fail "the rollback deployment did not complete"
lb_says "$LB_PORT" "hello from v1" || fail "production does not serve v1 after the rollback"
log "crashing tasks tripped the circuit breaker; rolled back to v1"

# --- rollout undo returns to the previous completed deployment: v2 goes
# out blue-green with a canary step (20% for 3s, then all), and undo brings
# v1 back.
start_load canary 6000
TRAFFIC="{type: canary, percent: 20, interval: 3s}" service_yaml 2 blueGreen > "$WORK/v2.yaml"
ctl deploy -f "$WORK/v2.yaml" --wait --timeout 3m > /dev/null || fail "the canary deployment of v2 did not complete"
finish_load canary
gantry_wait_for 20 lb_says "$LB_PORT" "hello from v2" || fail "production does not serve v2"
ctl events --service web --limit 500 | matches "production traffic on green: 20%" ||
  fail "no canary step in events"
log "canary v1 -> v2 (20%, then all) with 6,000 requests, none failed"
ctl rollout undo web
gantry_wait_for 120 rolled_back || fail "rollout undo did not complete"
gantry_wait_for 20 lb_says "$LB_PORT" "hello from v1" || fail "rollout undo did not bring v1 back"
log "rollout undo returned from v2 to v1"

# --- Blue-green with all traffic at once: no step, no failed request.
start_load all-at-once 6000
TRAFFIC="{type: allAtOnce}" service_yaml 2 blueGreen > "$WORK/v2-all.yaml"
ctl deploy -f "$WORK/v2-all.yaml" --wait --timeout 3m > /dev/null ||
  fail "the all-at-once deployment of v2 did not complete"
finish_load all-at-once
lb_says "$LB_PORT" "hello from v2" || fail "production does not serve v2 after all-at-once"
log "blue-green all at once v1 -> v2 with 6,000 requests, none failed"
log "PASS"
