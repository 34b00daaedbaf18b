#!/usr/bin/env bash
# End-to-end test of task networking (networkMode task) with the real
# binaries, containerd, runc and Debian's CNI plugins: two nodes get task
# subnets from the control plane; each task gets its own network namespace
# and an address from its node's subnet (GANTRY_TASK_ADDRESS, shown by
# `gantryctl get tasks`); published ports reach it through portmap on the
# node's address; a task reaches the other node's task by its address
# (host-gateway routes) and sees its source address (only what leaves the
# task CIDR is masqueraded, by Gantry's nftables table); an agent restart keeps the tasks and their
# networks; a reboot under a task (process, namespace mount and table gone)
# is cleaned up and the task replaced; deleting the service removes every
# namespace, record and the table; a
# deployer may not ask for networkMode host.
#
# usage: network_test.sh BIN_DIR
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
e2e_start_cp --no-pin-digests --task-cidr 10.244.0.0/16
e2e_start_agent 1 a --containerd-namespace "$NS"
e2e_start_agent 2 b --containerd-namespace "$NS"
gantry_wait_for 30 have_connected 2 || fail "agents did not register"

subnet_of() { ctl get nodes -o json | jq -r --arg n "$1" '.nodes[] | select(.name == $n) | .taskSubnet'; }
s1=$(subnet_of node-1)
s2=$(subnet_of node-2)
[[ $s1 == 10.244.*.0/24 && $s2 == 10.244.*.0/24 && $s1 != "$s2" ]] ||
  fail "nodes did not get distinct task subnets: $s1 $s2"
ctl get nodes | matches "$s1" || fail "get nodes does not show the task subnet"
log "node-1 has task subnet $s1, node-2 $s2"

cat > "$WORK/net.yaml" <<'YAML'
kind: TaskDefinition
family: net
networkMode: task
containers:
  - name: httpd
    image: example.org/demo/busybox:1
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; httpd -f -vv -p 8080 -h /www & wait"]
    cpu: 100m
    memory: 32Mi
    stopTimeout: 2s
    portMappings: [{name: http, containerPort: 8080, hostPort: 0}]
---
kind: Service
name: net
taskDefinition: net
desiredCount: 2
YAML
ctl apply -f "$WORK/net.yaml" > /dev/null
gantry_wait_for 60 have_running 2 || fail "two tasks did not reach RUNNING: $(ctl get tasks)"
addressed() { [[ $(tasks_json | jq '[.tasks[] | select(.address != null and .address != "")] | length') == 2 ]]; }
gantry_wait_for 10 addressed || fail "tasks report no addresses: $(tasks_json | jq -c '[.tasks[] | {node, address}]')"
addr_on() { tasks_json | jq -r --arg n "$1" '.tasks[] | select(.node == $n) | .address'; }
id_on() { tasks_json | jq -r --arg n "$1" '.tasks[] | select(.node == $n) | .id'; }
a1=$(addr_on node-1)
a2=$(addr_on node-2)
[[ $a1 == "${s1%.0/24}".* && $a2 == "${s2%.0/24}".* ]] ||
  fail "task addresses $a1, $a2 are not in their nodes' subnets $s1, $s2"
ctl get tasks | matches "$a1" || fail "get tasks does not show task addresses"
log "tasks have their own addresses: $a1 on node-1, $a2 on node-2"

# Published ports: the node's address and the host port, through portmap.
check_http 2
log "published ports reach the tasks through their nodes' addresses"

in_task() { # NODE CMD...: runs CMD in the task's container on NODE
  local node=$1
  shift
  # (busybox-static wget crashes with -T: timeout bounds it instead)
  ctr --address "$CONTAINERD_SOCK" -n "$NS" tasks exec --exec-id "probe-$RANDOM" \
    "$(id_on "$node")-httpd" "$@"
}
[[ $(in_task node-1 sh -c 'echo $GANTRY_TASK_ADDRESS') == "$a1" ]] || fail "GANTRY_TASK_ADDRESS is not $a1"
in_task node-1 ip -4 addr show eth0 | matches "$a1/24" || fail "the task's eth0 does not hold $a1"
in_task node-1 timeout 5 wget -q -O - "http://$a2:8080/" | matches "hello" ||
  fail "the task on node-1 cannot reach the task on node-2 at $a2"
in_task node-2 timeout 5 wget -q -O - "http://$a1:8080/" | matches "hello" ||
  fail "the task on node-2 cannot reach the task on node-1 at $a1"
ip -n "${NETNS[0]}" route show "$s2" | matches "via $SUBNET.12" ||
  fail "node-1 has no route to node-2's tasks: $(ip -n "${NETNS[0]}" route)"
# Default deny: node-1 itself is not one of the service's tasks.
! ip netns exec "${NETNS[0]}" curl -sf --max-time 3 "http://$a2:8080/" > /dev/null ||
  fail "node-1's own address reached node-2's task past the default deny"
# Between tasks the source is the task's own address (no masquerade); only
# what leaves the task CIDR is masqueraded, by Gantry's nftables table.
id2=$(id_on node-2)
from_task() { ctl logs "${id2:0:12}" --tail 100 | matches -F "$a1]:"; }
gantry_wait_for 10 from_task || fail "node-2's task did not see $a1 as the source: $(ctl logs "${id2:0:12}" --tail 5)"
# Outside the cluster (the test host, which has no route to task subnets),
# a task is answered only through the masquerade.
OUT_PORT=$(gantry_free_port)
mkdir -p "$WORK/outside" && echo "hello from outside" > "$WORK/outside/index.html"
python3 -m http.server --bind "$SUBNET.1" --directory "$WORK/outside" "$OUT_PORT" > /dev/null 2>&1 &
EXTRA_PIDS+=($!)
outside() { in_task node-1 timeout 5 wget -q -O - "http://$SUBNET.1:$OUT_PORT/" | matches "hello from outside"; }
gantry_wait_for 10 outside || fail "a task cannot reach a host outside the cluster"
ip netns exec "${NETNS[0]}" nft list table ip gantry | matches "ip saddr $s1 ip daddr != 10.244.0.0/16 masquerade" ||
  fail "node-1 has no masquerade rule in table ip gantry"
log "tasks reach each other by address across nodes (host-gateway routes), sources kept"

# An agent restart keeps the tasks, their processes and their networks.
procs() { ctr --address "$CONTAINERD_SOCK" -n "$NS" tasks list | awk 'NR>1 {print $1, $2}' | sort; }
before=$(procs)
kill "${AGENT_PIDS[1]}"
wait "${AGENT_PIDS[1]}" 2> /dev/null || true
e2e_start_agent 1 a
gantry_wait_for 30 have_connected 2 || fail "node-1 did not come back"
sleep 3 # a few passes: a failed CHECK would stop the task
[[ $(procs) == "$before" ]] || fail "tasks restarted after the agent restarted"
matches -v "TaskNetworkError" "$WORK/agent1.log" || fail "a network CHECK failed after the restart"
in_task node-1 timeout 5 wget -q -O - "http://$a2:8080/" | matches "hello" ||
  fail "cross-node traffic broke after the agent restarted"
log "an agent restart keeps tasks and networks (CHECK passes)"

# A reboot of node-1 under its task: the agent, the container's process,
# the namespace's mount and the nftables table go; the attachment record
# and the namespace's (now plain) file stay. The restarted agent undoes the
# record (DEL without a namespace), removes the file and the task is
# replaced with a network of its own.
old=$(id_on node-1)
kill -9 "${AGENT_PIDS[1]}"
wait "${AGENT_PIDS[1]}" 2> /dev/null || true
ctr --address "$CONTAINERD_SOCK" -n "$NS" tasks kill -s SIGKILL "$old-httpd" > /dev/null
gone() { ! ctr --address "$CONTAINERD_SOCK" -n "$NS" tasks list -q | matches "$old-httpd"; }
ctr --address "$CONTAINERD_SOCK" -n "$NS" tasks delete -f "$old-httpd" > /dev/null 2>&1 || true
gantry_wait_for 10 gone || fail "the container's process did not go"
umount "$WORK/agent1/netns/$old" || fail "the task's namespace was not mounted"
ip netns exec "${NETNS[0]}" nft delete table ip gantry
[[ -f $WORK/agent1/cni/attachments/$old.json ]] || fail "no attachment record for $old"
e2e_start_agent 1 a
gantry_wait_for 30 have_connected 2 || fail "node-1 did not come back after the reboot"
replaced() { [[ -n $(id_on node-1) && $(id_on node-1) != "$old" ]] && have_running 2; }
gantry_wait_for 60 replaced || fail "the task lost in the reboot was not replaced: $(ctl get tasks)"
cleaned() { [[ ! -e $WORK/agent1/cni/attachments/$old.json && ! -e $WORK/agent1/netns/$old ]]; }
gantry_wait_for 30 cleaned || fail "the lost task's record or namespace file remains: $(ls "$WORK/agent1/netns" "$WORK/agent1/cni/attachments")"
a1=$(addr_on node-1)
in_task node-2 timeout 5 wget -q -O - "http://$a1:8080/" | matches "hello" ||
  fail "the replacement on node-1 ($a1) is not reachable from node-2"
log "after a reboot the lost task's network is undone and its replacement has its own"

# A deployer may not take the node's network.
(umask 077 && ctl token create --role deployer --description ci-net > "$WORK/deployer.token")
sed 's/networkMode: task/networkMode: host/; s/containerPort: 8080/containerPort: 0/' "$WORK/net.yaml" > "$WORK/host.yaml"
out=$("$BIN/gantryctl" --config /dev/null --server "127.0.0.1:$PORT" --tls-ca "$CA" \
  --token-file "$WORK/deployer.token" apply -f "$WORK/host.yaml" 2>&1) && fail "a deployer applied networkMode host"
[[ $out == *'(role deployer) may not use network host'* ]] || fail "deployer networkMode host: $out"
log "networkMode host needs use on network host (a deployer is refused)"

# Deleting the service removes the networks, namespaces and records.
ctl delete service net > /dev/null
gantry_wait_for 60 have_running 0 || fail "tasks did not stop"
no_networks() {
  local i
  for i in 1 2; do
    [[ -z $(ls -A "$WORK/agent$i/netns" 2> /dev/null) ]] || return 1
    [[ -z $(ls -A "$WORK/agent$i/cni/attachments" 2> /dev/null) ]] || return 1
  done
}
gantry_wait_for 30 no_networks || fail "task namespaces or records remain: $(ls -R "$WORK"/agent*/netns "$WORK"/agent*/cni/attachments)"
for ns in "${NETNS[@]}"; do
  ! ip netns exec "$ns" nft list table ip gantry > /dev/null 2>&1 || fail "table ip gantry remains in $ns"
done
log "deleting the service removed every task network and the nftables table"
log "PASS"
