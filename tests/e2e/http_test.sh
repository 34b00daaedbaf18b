#!/usr/bin/env bash
# End-to-end test of the HTTP endpoints of the real control plane and agent
# (/metrics, discovery): clients that trickle a request one byte every 2 s
# are cut off once the whole request has taken the server's request timeout
# (5 s), and /metrics keeps answering meanwhile — a few slow clients do not
# delay it at all, more slow clients than the server has workers (16) delay
# it by at most about one request timeout; clients that reset the
# connection once the answer has begun kill nothing.
#
# usage: http_test.sh BIN_DIR
set -euo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
ABUSE=$ROOT/tests/e2e/http_abuse.py

e2e_make_certs
PORT=$(gantry_free_port)
gantry_start_containerd "$WORK/containerd"
e2e_make_nodes 1
e2e_start_cp --no-pin-digests
e2e_start_agent 1 a
gantry_wait_for 30 have_connected 1 || fail "the agent did not register"

metrics_up() { curl -sf --max-time 3 "http://127.0.0.1:$1/metrics" | matches -E "^$2"; }
CP_METRIC=gantry_api_requests_total
AGENT_METRIC=gantry_agent
gantry_wait_for 20 metrics_up "$CP_HTTP_PORT" "$CP_METRIC" || fail "control plane /metrics not served"
gantry_wait_for 20 metrics_up "${AGENT_METRICS[1]}" "$AGENT_METRIC" || fail "agent /metrics not served"
log "control plane and agent serve /metrics"

scrape_within() {  # scrape_within PORT METRIC SECONDS
  curl -sf --max-time "$3" "http://127.0.0.1:$1/metrics" | matches -E "^$2"
}

check_port() {
  local what=$1 port=$2 metric=$3 pid=$4 slow_pid i
  # Two slow clients (fewer than the server's workers) for up to 40 s:
  # while they trickle, /metrics answers every time, at once.
  python3 "$ABUSE" slow 127.0.0.1 "$port" 2 40 > "$WORK/slow-$port.out" &
  slow_pid=$!
  for i in $(seq 1 5); do
    scrape_within "$port" "$metric" 2 || fail "$what: /metrics did not answer beside slow clients"
    sleep 1
  done
  wait "$slow_pid" || fail "$what: slow clients were not cut off: $(cat "$WORK/slow-$port.out")"
  log "$what: $(cat "$WORK/slow-$port.out")"
  # More slow clients than workers: scrapes wait for a worker the request
  # timeout frees, and still answer.
  python3 "$ABUSE" slow 127.0.0.1 "$port" 24 40 > "$WORK/many-$port.out" &
  slow_pid=$!
  sleep 1
  for i in 1 2 3; do
    scrape_within "$port" "$metric" 12 ||
      fail "$what: /metrics did not answer beside 24 slow clients"
  done
  wait "$slow_pid" || fail "$what: slow clients were not cut off: $(cat "$WORK/many-$port.out")"
  log "$what: $(cat "$WORK/many-$port.out")"
  python3 "$ABUSE" reset 127.0.0.1 "$port" 300 > /dev/null
  kill -0 "$pid" 2> /dev/null || fail "$what died when clients reset their connections"
  metrics_up "$port" "$metric" || fail "$what: /metrics stopped answering after resets"
  log "$what: survived 300 resets mid-response and still serves /metrics"
}
check_port "control plane" "$CP_HTTP_PORT" "$CP_METRIC" "$CP_PID"
check_port agent "${AGENT_METRICS[1]}" "$AGENT_METRIC" "${AGENT_PIDS[1]}"
log "PASS"
