#!/usr/bin/env bash
# End-to-end test of security groups and network ACLs with the real
# binaries, containerd, runc, Debian's CNI plugins and nftables, on two
# simulated nodes: service db accepts api's tasks on 8080 (`ingress`) and
# its own, web is refused, on the same node and across nodes; db's
# published port still answers through the node's address; a task
# reaches nothing the node itself serves; a NetworkAcl deny wins over the
# service's allow and an egress deny keeps tasks from a range; the rules
# survive an agent restart; `describe service` shows them; deleting the
# services removes the table.
#
# usage: firewall_test.sh BIN_DIR
set -euo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
[[ -x /usr/lib/cni/bridge ]] || fail "the CNI plugins are missing; run deploy/install-deps.sh"

NS=gantry
PORT=$(gantry_free_port)
gantry_start_containerd "$WORK/containerd"
gantry_import_busybox "$CONTAINERD_SOCK" "$NS" example.org/demo/busybox:1 "$WORK"
e2e_make_nodes 2
e2e_start_cp --no-pin-digests --task-cidr 10.245.0.0/16
e2e_start_agent 1 a --containerd-namespace "$NS"
e2e_start_agent 2 b --containerd-namespace "$NS"
gantry_wait_for 30 have_connected 2 || fail "agents did not register"

container() { # FAMILY PORTS: a busybox httpd on 8080
  cat <<YAML
kind: TaskDefinition
family: $1
networkMode: task
containers:
  - name: httpd
    image: example.org/demo/busybox:1
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"]
    cpu: 50m
    memory: 16Mi
    stopTimeout: 2s
    portMappings: $2
YAML
}
{
  container pub '[{name: http, containerPort: 8080, hostPort: 0}]'
  echo ---
  container app '[]'
  cat <<'YAML'
---
kind: Service
name: db
taskDefinition: pub
desiredCount: 2
ingress:
  - {fromService: api, ports: [8080]}
---
kind: Service
name: api
taskDefinition: app
desiredCount: 1
---
kind: Service
name: web
taskDefinition: app
desiredCount: 1
YAML
} > "$WORK/fw.yaml"
ctl apply -f "$WORK/fw.yaml" > /dev/null
gantry_wait_for 60 have_running 4 || fail "four tasks did not reach RUNNING: $(ctl get tasks)"
addressed() { [[ $(tasks_json | jq '[.tasks[] | select(.address != null and .address != "")] | length') == 4 ]]; }
gantry_wait_for 10 addressed || fail "tasks report no addresses"
ids_of() { tasks_json --service "$1" | jq -r '.tasks[].id'; }
addr_of() { tasks_json | jq -r --arg id "$1" '.tasks[] | select(.id == $id) | .address'; }
node_of() { tasks_json | jq -r --arg id "$1" '.tasks[] | select(.id == $id) | .node'; }
api=$(ids_of api)
web=$(ids_of web)
mapfile -t dbs < <(ids_of db)
[[ $(node_of "${dbs[0]}") != $(node_of "${dbs[1]}") ]] || fail "db's tasks are not on both nodes"
in_task() { # TASK CMD...
  local id=$1
  shift
  ctr --address "$CONTAINERD_SOCK" -n "$NS" tasks exec --exec-id "probe-$RANDOM" "$id-httpd" "$@"
}
reaches() { in_task "$1" timeout 3 wget -q -O - "http://$2/" 2> /dev/null | matches hello; }

for db in "${dbs[@]}"; do
  gantry_wait_for 10 reaches "$api" "$(addr_of "$db"):8080" ||
    fail "api on $(node_of "$api") cannot reach db at $(addr_of "$db") on $(node_of "$db")"
  ! reaches "$web" "$(addr_of "$db"):8080" ||
    fail "web on $(node_of "$web") reached db at $(addr_of "$db") on $(node_of "$db")"
done
gantry_wait_for 10 reaches "${dbs[0]}" "$(addr_of "${dbs[1]}"):8080" || fail "db's tasks cannot reach each other"
! reaches "$api" "$(addr_of "$web"):8080" || fail "api reached web, which accepts only its own tasks"
log "db accepts api and itself, refuses web, on one node and across nodes"

check_http 2 db
log "db's published port answers through the nodes' addresses"

# A task reaches nothing the node serves, by the node's address or the bridge's.
NODE_PORT=$(gantry_free_port)
mkdir -p "$WORK/node" && echo "hello from the node" > "$WORK/node/index.html"
ip netns exec "${NETNS[0]}" python3 -m http.server --bind 0.0.0.0 --directory "$WORK/node" "$NODE_PORT" > /dev/null 2>&1 &
EXTRA_PIDS+=($!)
node_serves() { ip netns exec "${NETNS[0]}" curl -sf --max-time 3 "http://$SUBNET.11:$NODE_PORT/" > /dev/null; }
gantry_wait_for 10 node_serves || fail "the node's own test server did not start"
on_node1=$(tasks_json | jq -r '[.tasks[] | select(.node == "node-1")][0].id')
gateway=$(in_task "$on_node1" ip -4 route show default | awk '{print $3}')
for target in "$SUBNET.11:$NODE_PORT" "$gateway:$NODE_PORT"; do
  ! reaches "$on_node1" "$target" || fail "a task reached the node's own server at $target"
done
[[ -z $(in_task "$on_node1" ip -6 addr show) ]] || fail "a task has IPv6 addresses, which no rule covers: $(in_task "$on_node1" ip -6 addr show)"
log "tasks cannot reach the node's own services ($SUBNET.11, $gateway) and have no IPv6"

# Network ACLs: a deny wins over db's allow; an egress deny keeps tasks off a range.
cat > "$WORK/acl.yaml" << YAML
kind: NetworkAcl
name: quarantine
ingress:
  - {number: 100, action: deny, cidr: $(addr_of "$api")/32, ports: [8080]}
YAML
ctl apply -f "$WORK/acl.yaml" > /dev/null
denied() { ! reaches "$api" "$(addr_of "${dbs[0]}"):8080"; }
gantry_wait_for 10 denied || fail "the NetworkAcl deny did not win over db's allow"
reaches "${dbs[1]}" "$(addr_of "${dbs[0]}"):8080" || fail "the ACL denied more than api"
ctl get networkacls | matches "100 deny tcp 8080 from $(addr_of "$api")/32" || fail "get networkacls: $(ctl get networkacls)"
ctl describe service db > "$WORK/describe.txt"
for line in "all from its own tasks (2 task addresses)" "tcp 8080 from service api (1 task address)" \
  "tcp 8080 from anywhere, through the published host ports"; do
  matches -F "$line" "$WORK/describe.txt" || fail "describe service db lacks \"$line\": $(cat "$WORK/describe.txt")"
done
matches -E "quarantine +ingress +100 deny tcp 8080" "$WORK/describe.txt" || fail "describe service db shows no ACL"
ctl delete networkacl quarantine > /dev/null
gantry_wait_for 10 reaches "$api" "$(addr_of "${dbs[0]}"):8080" || fail "api stayed denied after the ACL went"
log "a NetworkAcl deny wins over a service allow, and goes with the ACL"

OUT_PORT=$(gantry_free_port)
mkdir -p "$WORK/outside" && echo "hello from outside" > "$WORK/outside/index.html"
python3 -m http.server --bind "$SUBNET.1" --directory "$WORK/outside" "$OUT_PORT" > /dev/null 2>&1 &
EXTRA_PIDS+=($!)
gantry_wait_for 10 reaches "$web" "$SUBNET.1:$OUT_PORT" || fail "web cannot reach the outside host"
cat > "$WORK/egress.yaml" << YAML
kind: NetworkAcl
name: no-outside
egress:
  - {number: 10, action: deny, cidr: $SUBNET.1/32}
YAML
ctl apply -f "$WORK/egress.yaml" > /dev/null
cut_off() { ! reaches "$web" "$SUBNET.1:$OUT_PORT"; }
gantry_wait_for 10 cut_off || fail "the egress deny did not keep web from $SUBNET.1"
log "an egress deny keeps every task from a range"

# An agent restart keeps the table and its rules.
kill "${AGENT_PIDS[1]}"
wait "${AGENT_PIDS[1]}" 2> /dev/null || true
ip netns exec "${NETNS[0]}" nft list table ip gantry > /dev/null || fail "the table went with the agent"
e2e_start_agent 1 a
gantry_wait_for 30 have_connected 2 || fail "node-1 did not come back"
for db in "${dbs[@]}"; do
  reaches "$api" "$(addr_of "$db"):8080" || fail "api lost db at $(addr_of "$db") after the restart"
  ! reaches "$web" "$(addr_of "$db"):8080" || fail "web reached db after the restart"
done
cut_off || fail "the egress deny went with the restart"
log "an agent restart keeps the rules"

ctl delete networkacl no-outside > /dev/null
for s in db api web; do ctl delete service "$s" > /dev/null; done
gantry_wait_for 60 have_running 0 || fail "tasks did not stop"
no_table() {
  local ns
  for ns in "${NETNS[@]}"; do
    ! ip netns exec "$ns" nft list table ip gantry > /dev/null 2>&1 || return 1
  done
}
gantry_wait_for 30 no_table || fail "table ip gantry remains after the last task"
log "the table goes with the last task"
log "PASS"
