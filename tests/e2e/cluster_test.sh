#!/usr/bin/env bash
# End-to-end test with the real binaries and a real containerd.
#
# Three agents whose containers join three network namespaces on a bridge
# (zones a, b, c), a control plane with mutual TLS, and the busybox test
# image imported by hand (the control plane runs with --no-pin-digests, as
# there is no registry here; registry_test.sh covers pulls). Checks with
# real HTTP requests that a service of six runs two per zone, that
# `logs --follow` and `events --watch` print what happens after they start,
# that it scales, survives an agent restart (containers adopted), a kill -9 of the control
# plane (nothing lost or restarted) and containerd stopped for a few seconds
# under it (nothing restarted or replaced, scaling works once it is back);
# that a change while the control plane's disk is full is refused saying so
# and changes nothing, and goes through once there is room; and that it
# leaves no container behind once deleted.
#
# usage: cluster_test.sh BIN_DIR
set -euo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

NS=gantry
containers() { ctr --address "$CONTAINERD_SOCK" -n "$NS" containers list -q | sort; }
container_count() { containers | grep -c . || true; }
have_containers() { [[ $(container_count) == "$1" ]]; }
# "task-id pid" for every running container, to prove nothing restarted.
processes() { ctr --address "$CONTAINERD_SOCK" -n "$NS" tasks list | awk 'NR>1 {print $1, $2}' | sort; }

e2e_make_certs
PORT=$(gantry_free_port)
gantry_start_containerd "$WORK/containerd"
gantry_import_busybox "$CONTAINERD_SOCK" "$NS" example.org/demo/busybox:1 "$WORK"
log "containerd running with the busybox image"
e2e_make_nodes 3
log "three node namespaces on bridge $BRIDGE ($SUBNET.0/24)"

# The control plane's data dir on a small filesystem of its own, to fill
# later (e2e_cleanup unmounts it).
mkdir -p "$WORK/cp"
mount -t tmpfs -o size=64m,mode=0700 gantry-e2e "$WORK/cp"
e2e_start_cp --no-pin-digests
# The control plane never serves plaintext, and refuses a client without a token.
if curl -s --max-time 5 --http2-prior-knowledge "http://127.0.0.1:$PORT/" > /dev/null 2>&1; then
  fail "the control plane answered a plaintext client"
fi
if out=$("$BIN/gantryctl" --config /dev/null --server "127.0.0.1:$PORT" --tls-ca "$CA" get nodes 2>&1); then
  fail "the control plane answered a client without a token"
fi
[[ $out == *"no credentials: pass --token or set GANTRY_TOKEN"* ]] ||
  fail "unexpected answer to a client without a token: $out"
zones=(a b c)
for i in 1 2 3; do
  e2e_start_agent "$i" "${zones[$((i - 1))]}" --containerd-namespace "$NS" --attribute "rack=r$i"
done
gantry_wait_for 30 have_connected 3 || fail "agents did not register"
log "control plane (TLS, tokens) and three agents joined with one-time tokens"

# --- Invalid input is refused with file, document and field, and changes nothing.
sed 's/desiredCount: 3/desiredCount: -1/' "$ROOT/deploy/examples/web.yaml" > "$WORK/bad.yaml"
if out=$(ctl apply -f "$WORK/bad.yaml" 2>&1); then fail "invalid apply succeeded"; fi
[[ $out == *"bad.yaml: document 2 (Service web): desiredCount: must be >= 0, got -1"* ]] ||
  fail "unexpected validation message: $out"
[[ $(ctl get services -o json | jq '.services | length') == 0 ]] || fail "invalid apply changed state"

# --- A service of six: two per zone, each answering HTTP in its namespace.
sed -e 's/desiredCount: 3/desiredCount: 6/' \
  -e 's|image: .*|image: example.org/demo/busybox:1|' "$ROOT/deploy/examples/web.yaml" > "$WORK/web.yaml"
ctl apply -f "$WORK/web.yaml"
gantry_wait_for 60 have_running 6 || fail "six tasks did not reach RUNNING"
zones=$(tasks_json | jq -r '[.tasks[].zone] | group_by(.) | map("\(.[0])=\(length)") | join(",")')
[[ $zones == "a=2,b=2,c=2" ]] || fail "tasks are not spread two per zone: $zones"
have_containers 6 || fail "expected 6 containers in containerd, have $(container_count)"
check_http 6
log "6 tasks answer HTTP on their node addresses"
# Each task answers on its own node's address, from inside that namespace.
for i in 1 2 3; do
  addr=$(tasks_json | jq -r --arg n "node-$i" '[.tasks[] | select(.node == $n)][0].ports[0] | "\(.hostAddress):\(.hostPort)"')
  ip netns exec "${NETNS[$((i - 1))]}" curl -sf "http://$addr/" > /dev/null ||
    fail "task on node-$i not reachable inside its namespace"
done
log "six tasks run two per zone"

# --- Logs through the control plane.
task=$(tasks_json | jq -r '.tasks[0].id')
logs_show_requests() { ctl logs "${task:0:10}" --tail 50 | matches 'response:200'; }
gantry_wait_for 10 logs_show_requests || fail "gantryctl logs does not show the request log"
curl -sf "http://127.0.0.1:$CP_HTTP_PORT/metrics" | matches 'gantry_api_requests_total{code="OK",method="GetLogs"}' ||
  fail "log streams are not counted in the control plane's API metrics"
log "gantryctl logs relays container output"

# --- logs -f and events --watch keep printing what happens after they
# start: a new request to the followed task, and the scale-in below.
task_addr=$(tasks_json | jq -r --arg t "$task" '.tasks[] | select(.id == $t) | .ports[0] | "\(.hostAddress):\(.hostPort)"')
"$BIN/gantryctl" --config "$WORK/client.yaml" logs "${task:0:10}" --follow --tail 0 \
  > "$WORK/follow.log" 2>&1 &
FOLLOW_PID=$!
"$BIN/gantryctl" --config "$WORK/client.yaml" events --watch > "$WORK/watch.log" 2>&1 &
WATCH_PID=$!
EXTRA_PIDS+=("$FOLLOW_PID" "$WATCH_PID")
followed() {
  curl -sf "http://$task_addr/" > /dev/null
  matches 'response:200' < "$WORK/follow.log"
}
gantry_wait_for 15 followed || fail "logs --follow did not print a new request: $(cat "$WORK/follow.log")"
log "logs --follow printed a request made after it started"

# --- Scale to three.
ctl scale service web --count 3
gantry_wait_for 60 have_running 3 || fail "did not scale to three"
gantry_wait_for 60 have_containers 3 || fail "scaled-in containers were not removed"
check_http 3
zones_even() {
  [[ $(tasks_json | jq -c '[.tasks[] | select(.lastStatus == "RUNNING") | .zone] | group_by(.) | map(length)') == "[1,1,1]" ]]
}
zones_even || fail "scale-in did not keep one task per zone: $(tasks_json | jq -c '[.tasks[].zone]')"
log "scaled to three, one per zone; stopped containers removed"
watched() { matches 'stopping task' < "$WORK/watch.log"; }
gantry_wait_for 10 watched || fail "events --watch did not print the scale-in: $(cat "$WORK/watch.log")"
kill "$FOLLOW_PID" "$WATCH_PID"
wait "$FOLLOW_PID" "$WATCH_PID" 2> /dev/null || true
EXTRA_PIDS=("${EXTRA_PIDS[@]:0:${#EXTRA_PIDS[@]}-2}")  # gone: not to be signalled again
log "events --watch printed the scale-in as it happened"
# describe -o json carries what the table shows: tasks and recent events.
ctl describe service web -o json |
  jq -e '.service.name == "web" and (.tasks | length) >= 3 and (.events | length) > 0' > /dev/null ||
  fail "describe service -o json lacks the tasks or events: $(ctl describe service web -o json | head -c 300)"
ctl describe node node-1 -o json | jq -e '.node.name == "node-1" and (.tasks | length) >= 1' > /dev/null ||
  fail "describe node -o json lacks the node's tasks"

# --- Scale out to four and back: the new task answers too.
ctl scale service web --count 4
gantry_wait_for 60 have_running 4 || fail "did not scale out to four"
gantry_wait_for 60 have_containers 4 || fail "expected 4 containers after scaling out"
check_http 4
ctl scale service web --count 3
gantry_wait_for 60 have_running 3 || fail "did not scale back to three"
gantry_wait_for 60 have_containers 3 || fail "the scaled-in container was not removed"
gantry_wait_for 30 zones_even || fail "scaling back in did not leave one task per zone"
log "scaled out to four and back to three"

# --- Kill and restart an agent: its containers are adopted, not restarted.
before=$(processes)
kill -9 "${AGENT_PIDS[1]}"
wait "${AGENT_PIDS[1]}" 2> /dev/null || true
e2e_start_agent 1 a
agent_registered() { [[ $(grep -c "registered with the control plane" "$WORK/agent1.log") -ge 2 ]]; }
gantry_wait_for 30 agent_registered || fail "restarted agent did not register again"
gantry_wait_for 30 have_connected 3 || fail "restarted agent did not reconnect"
sleep 3  # several reconcile passes of the restarted agent
[[ $(processes) == "$before" ]] || fail "containers changed across an agent restart"
have_running 3 || fail "tasks are no longer running after an agent restart"
log "agent restart adopted its containers"

# --- kill -9 the control plane and restart it: nothing lost, nothing restarted.
ids_before=$(tasks_json | jq -r '[.tasks[].id] | sort | join(",")')
kill -9 "$CP_PID"
wait "$CP_PID" 2> /dev/null || true
e2e_start_cp
gantry_wait_for 30 have_connected 3 || fail "agents did not reconnect to the restarted control plane"
sleep 3
ids_after=$(tasks_json | jq -r '[.tasks[].id] | sort | join(",")')
[[ $ids_after == "$ids_before" ]] || fail "tasks changed across a control plane restart"
[[ $(processes) == "$before" ]] || fail "containers restarted across a control plane restart"
check_http 3
log "control plane kill -9 lost and restarted nothing"

# --- Stop containerd under running tasks and start it again: the shims keep
# the containers running, the agents wait for it, nothing is replaced.
before=$(processes)
ids_before=$(tasks_json | jq -r '.tasks[].id')
runtime_up() {  # runtime_up 0|1: what every agent's /metrics says of containerd
  local i
  for i in 1 2 3; do
    curl -sf --max-time 5 "http://127.0.0.1:${AGENT_METRICS[$i]}/metrics" |
      matches -x "gantry_agent_runtime_up{.*} $1" || return 1
  done
}
kill "$CONTAINERD_PID"
wait "$CONTAINERD_PID" 2> /dev/null || true
gantry_wait_for 10 runtime_up 0 || fail "agents did not notice containerd stopping"
sleep 2  # reconcile passes without containerd
while read -r _ pid; do
  kill -0 "$pid" 2> /dev/null || fail "container process $pid died with containerd"
done <<< "$before"
check_http 3
gantry_start_containerd "$WORK/containerd"
gantry_wait_for 30 runtime_up 1 || fail "agents did not reconnect to containerd"
ctl scale service web --count 4
gantry_wait_for 60 have_running 4 || fail "did not scale out to four after containerd restarted"
[[ -z $(comm -23 <(echo "$before") <(processes)) ]] || fail "containers changed across a containerd restart"
running=$(tasks_json | jq -r '.tasks[] | select(.lastStatus == "RUNNING") | .id')
for id in $ids_before; do
  matches -x "$id" <<< "$running" || fail "task $id did not survive a containerd restart"
done
[[ $(tasks_json | jq '.tasks | length') == 4 ]] || fail "tasks were replaced across a containerd restart"
ctl scale service web --count 3
gantry_wait_for 60 have_running 3 || fail "did not scale back to three after containerd restarted"
gantry_wait_for 60 have_containers 3 || fail "the scaled-in container was not removed"
log "containerd restart under running tasks: nothing restarted or replaced"

# --- The control plane's disk is full: a change is refused, saying so, and
# changes nothing; with room again it goes through. Stopped cleanly first,
# the control plane starts with no write-ahead log whose space SQLite could
# reuse, so every change needs new space.
kill "$CP_PID"
wait "$CP_PID" 2> /dev/null || true
e2e_start_cp
gantry_wait_for 30 have_connected 3 || fail "agents did not reconnect to the restarted control plane"
before=$(processes)
dd if=/dev/zero of="$WORK/cp/filler" bs=1M 2> /dev/null || true
[[ $(stat -f -c %a "$WORK/cp") == 0 ]] || fail "could not fill the control plane's disk"
if out=$(ctl scale service web --count 4 2>&1); then fail "a scale succeeded on a full disk"; fi
[[ $out == *"disk is full: no room to write its state store $WORK/cp/state.db "*"free space on"* ]] ||
  fail "unexpected answer on a full disk: $out"
[[ $(ctl get services -o json | jq '.services[0].desiredCount') == 3 ]] ||
  fail "the refused scale changed the service"
[[ $(processes) == "$before" ]] || fail "containers changed while the disk was full"
check_http 3
rm "$WORK/cp/filler"
ctl scale service web --count 4
gantry_wait_for 60 have_running 4 || fail "did not scale to four once the disk had room"
log "a full control plane disk refused a change and changed nothing: $out"

# --- Delete: every container is stopped and removed.
ctl delete service web --wait
have_containers 0 || fail "containers left after delete: $(containers | tr '\n' ' ')"
snapshots=$(ctr --address "$CONTAINERD_SOCK" -n "$NS" snapshots list | awk 'NR>1' | wc -l)
((snapshots == 1)) || fail "expected only the image's snapshot to remain, found $snapshots"
log "delete removed all containers and their snapshots"
log "PASS"
