#!/usr/bin/env bash
# End-to-end test with the real binaries and a real containerd.
#
# Starts a private containerd, builds and imports the busybox test image,
# creates three network namespaces on a bridge (nodes in zones a, b, c),
# runs the control plane with mutual TLS and three agents whose containers
# join those namespaces, then checks with real HTTP requests: a service of
# six runs two per zone, scales, survives an agent restart (containers
# adopted) and a kill -9 of the control plane (nothing lost or restarted),
# and leaves no container behind once deleted. Cleans up everything it made,
# also on failure.
#
# usage: cluster_test.sh BIN_DIR
set -euo pipefail

BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../../deploy/lib/cluster-lib.sh
source "$ROOT/deploy/lib/cluster-lib.sh"

if [[ $(id -u) -ne 0 ]]; then
  echo "e2e: needs root (containerd, network namespaces)" >&2
  exit 1
fi
for tool in containerd ctr runc ip jq curl openssl ss; do
  command -v "$tool" > /dev/null || {
    echo "e2e: $tool is missing; run deploy/install-deps.sh" >&2
    exit 1
  }
done

WORK=$(mktemp -d /tmp/gantry-e2e.XXXXXX)
TAG=$$
BRIDGE=gbr$TAG
SUBNET=10.$((100 + RANDOM % 100)).$((RANDOM % 250))
NS=gantry
CGROUP=/gantry-e2e-$TAG
declare -A AGENT_PIDS=()
NETNS=()
CP_PID=

log() { echo "e2e: $*"; }
fail() {
  echo "e2e: FAIL: $*" >&2
  exit 1
}

cleanup() {
  local rc=$?
  set +e
  if ((rc != 0)); then
    echo "---- control plane log (tail)" >&2
    tail -n 40 "$WORK/cp.log" >&2 2> /dev/null
    for i in 1 2 3; do
      echo "---- agent $i log (tail)" >&2
      tail -n 20 "$WORK/agent$i.log" >&2 2> /dev/null
    done
  fi
  for pid in "${AGENT_PIDS[@]}" $CP_PID; do
    kill "$pid" 2> /dev/null
  done
  for pid in "${AGENT_PIDS[@]}" $CP_PID; do
    wait "$pid" 2> /dev/null
  done
  gantry_stop_containerd "$WORK/containerd" "$NS"
  for ns in "${NETNS[@]}"; do ip netns delete "$ns" 2> /dev/null; done
  ip link delete "$BRIDGE" 2> /dev/null
  for ctrl in /sys/fs/cgroup/*/; do rmdir "$ctrl${CGROUP#/}" 2> /dev/null; done
  rmdir "/sys/fs/cgroup${CGROUP}" 2> /dev/null
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT

# --- TLS: a CA, a server certificate for 127.0.0.1, a client certificate.
make_certs() {
  local d=$WORK/tls
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=gantry-e2e-ca" \
    -keyout "$d/ca.key" -out "$d/ca.pem" 2> /dev/null
  for who in server client; do
    openssl req -newkey rsa:2048 -nodes -subj "/CN=gantry-$who" \
      -keyout "$d/$who.key" -out "$d/$who.csr" 2> /dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$d/$who.ext"
    openssl x509 -req -in "$d/$who.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
      -days 1 -extfile "$d/$who.ext" -out "$d/$who.pem" 2> /dev/null
  done
}

ctl() {
  "$BIN/gantryctl" --server "127.0.0.1:$PORT" --tls-ca "$WORK/tls/ca.pem" \
    --tls-cert "$WORK/tls/client.pem" --tls-key "$WORK/tls/client.key" "$@"
}

start_cp() {
  "$BIN/gantry-controlplane" --listen "127.0.0.1:$PORT" --data-dir "$WORK/cp" \
    --tls-cert "$WORK/tls/server.pem" --tls-key "$WORK/tls/server.key" \
    --tls-ca "$WORK/tls/ca.pem" --heartbeat-interval 1s >> "$WORK/cp.log" 2>&1 &
  CP_PID=$!
}

start_agent() {
  local i=$1 zone=$2
  "$BIN/gantry-agent" --controlplane "127.0.0.1:$PORT" --node-name "node-$i" --zone "$zone" \
    --address "$SUBNET.$((10 + i))" --netns "/var/run/netns/${NETNS[$((i - 1))]}" \
    --containerd-socket "$CONTAINERD_SOCK" --containerd-namespace "$NS" \
    --cgroup-parent "$CGROUP" --data-dir "$WORK/agent$i" --cpu 1 --memory 512Mi \
    --port-range 20000-20100 --attribute "rack=r$i" \
    --tls-ca "$WORK/tls/ca.pem" --tls-cert "$WORK/tls/client.pem" \
    --tls-key "$WORK/tls/client.key" >> "$WORK/agent$i.log" 2>&1 &
  AGENT_PIDS[$i]=$!
}

tasks_json() { ctl get tasks -o json; }
running_count() { tasks_json | jq '[.tasks[]? | select(.lastStatus == "RUNNING")] | length'; }
have_running() { [[ $(running_count) == "$1" ]]; }
connected_nodes() { ctl get nodes -o json | jq '[.nodes[]? | select(.connected)] | length'; }
have_connected() { [[ $(connected_nodes) == "$1" ]]; }
containers() { ctr --address "$CONTAINERD_SOCK" -n "$NS" containers list -q | sort; }
container_count() { containers | grep -c . || true; }
have_containers() { [[ $(container_count) == "$1" ]]; }
# "task-id pid" for every running container, to prove nothing restarted.
processes() { ctr --address "$CONTAINERD_SOCK" -n "$NS" tasks list | awk 'NR>1 {print $1, $2}' | sort; }

check_http() {
  local expected=$1 n=0 addr
  for addr in $(tasks_json | jq -r '.tasks[] | select(.lastStatus == "RUNNING") | .ports[0] | "\(.hostAddress):\(.hostPort)"'); do
    local body
    body=$(curl -sf --max-time 5 "http://$addr/") || fail "no HTTP answer from task at $addr"
    [[ $body == "hello from gantry" ]] || fail "unexpected answer from $addr: $body"
    n=$((n + 1))
  done
  ((n == expected)) || fail "expected $expected tasks answering HTTP, got $n"
  log "$n tasks answer HTTP on their node addresses"
}

# --- Bring up the parts.
make_certs
PORT=$(gantry_free_port)
gantry_start_containerd "$WORK/containerd"
gantry_import_busybox "$CONTAINERD_SOCK" "$NS" example.org/demo/busybox:1 "$WORK"
log "containerd running with the busybox image"

ip link add "$BRIDGE" type bridge
ip addr add "$SUBNET.1/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
for i in 1 2 3; do
  ns=gantry-e2e-$TAG-$i
  ip netns add "$ns"
  NETNS+=("$ns")
  ip link add "gv${TAG}h$i" type veth peer name "gv${TAG}c$i"
  ip link set "gv${TAG}c$i" netns "$ns"
  ip link set "gv${TAG}h$i" master "$BRIDGE"
  ip link set "gv${TAG}h$i" up
  ip -n "$ns" addr add "$SUBNET.$((10 + i))/24" dev "gv${TAG}c$i"
  ip -n "$ns" link set "gv${TAG}c$i" up
  ip -n "$ns" link set lo up
done
log "three node namespaces on bridge $BRIDGE ($SUBNET.0/24)"

start_cp
cp_up() { ctl get nodes > /dev/null 2>&1; }
gantry_wait_for 20 cp_up || fail "control plane did not come up"
# Plaintext is refused when TLS is configured.
if "$BIN/gantryctl" --server "127.0.0.1:$PORT" get nodes > /dev/null 2>&1; then
  fail "the control plane answered a client without TLS"
fi
start_agent 1 a
start_agent 2 b
start_agent 3 c
gantry_wait_for 30 have_connected 3 || fail "agents did not register"
log "control plane (mutual TLS) and three agents up"

# --- Invalid input is refused with file, document and field, and changes nothing.
sed 's/desiredCount: 3/desiredCount: -1/' "$ROOT/deploy/examples/web.yaml" > "$WORK/bad.yaml"
if out=$(ctl apply -f "$WORK/bad.yaml" 2>&1); then fail "invalid apply succeeded"; fi
[[ $out == *"bad.yaml: document 2 (Service web): desiredCount: must be >= 0, got -1"* ]] ||
  fail "unexpected validation message: $out"
[[ $(ctl get services -o json | jq '.services | length') == 0 ]] || fail "invalid apply changed state"

# --- A service of six: two per zone, each answering HTTP in its namespace.
sed 's/desiredCount: 3/desiredCount: 6/' "$ROOT/deploy/examples/web.yaml" > "$WORK/web.yaml"
ctl apply -f "$WORK/web.yaml"
gantry_wait_for 60 have_running 6 || fail "six tasks did not reach RUNNING"
zones=$(tasks_json | jq -r '[.tasks[].zone] | group_by(.) | map("\(.[0])=\(length)") | join(",")')
[[ $zones == "a=2,b=2,c=2" ]] || fail "tasks are not spread two per zone: $zones"
have_containers 6 || fail "expected 6 containers in containerd, have $(container_count)"
check_http 6
# Each task answers on its own node's address, from inside that namespace.
for i in 1 2 3; do
  addr=$(tasks_json | jq -r --arg n "node-$i" '[.tasks[] | select(.node == $n)][0].ports[0] | "\(.hostAddress):\(.hostPort)"')
  ip netns exec "${NETNS[$((i - 1))]}" wget -q -O /dev/null "http://$addr/" 2> /dev/null ||
    ip netns exec "${NETNS[$((i - 1))]}" curl -sf "http://$addr/" > /dev/null ||
    fail "task on node-$i not reachable inside its namespace"
done
log "six tasks run two per zone"

# --- Logs through the control plane.
task=$(tasks_json | jq -r '.tasks[0].id')
logs_show_requests() { ctl logs "${task:0:10}" --tail 50 | grep -q 'response:200'; }
gantry_wait_for 10 logs_show_requests || fail "gantryctl logs does not show the request log"
log "gantryctl logs relays container output"

# --- Scale to three.
ctl scale service web --count 3
gantry_wait_for 60 have_running 3 || fail "did not scale to three"
gantry_wait_for 60 have_containers 3 || fail "scaled-in containers were not removed"
check_http 3
log "scaled to three; stopped containers removed"

# --- Kill and restart an agent: its containers are adopted, not restarted.
before=$(processes)
kill -9 "${AGENT_PIDS[1]}"
wait "${AGENT_PIDS[1]}" 2> /dev/null || true
start_agent 1 a
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
start_cp
gantry_wait_for 30 have_connected 3 || fail "agents did not reconnect to the restarted control plane"
sleep 3
ids_after=$(tasks_json | jq -r '[.tasks[].id] | sort | join(",")')
[[ $ids_after == "$ids_before" ]] || fail "tasks changed across a control plane restart"
[[ $(processes) == "$before" ]] || fail "containers restarted across a control plane restart"
check_http 3
log "control plane kill -9 lost and restarted nothing"

# --- Delete: every container is stopped and removed.
ctl delete service web --wait
have_containers 0 || fail "containers left after delete: $(containers | tr '\n' ' ')"
snapshots=$(ctr --address "$CONTAINERD_SOCK" -n "$NS" snapshots list | awk 'NR>1' | wc -l)
((snapshots == 1)) || fail "expected only the image's snapshot to remain, found $snapshots"
log "delete removed all containers and their snapshots"
log "PASS"
