#!/usr/bin/env bash
# End-to-end test of the container sandbox with the real binaries, runc and
# containerd: every container runs under the default seccomp filter, without
# CAP_NET_RAW and with a pids limit (1024 unless the definition says
# otherwise), so inside a task a fork bomb stops at its limit while the node
# stays healthy, `unshare --user` and raw sockets are refused; a read-only
# root refuses writes; `user: nobody` runs as the image's nobody; an added
# capability needs `use capabilities` (admin yes, deployer no) and then is
# held; an unknown user fails the task with the image's words.
#
# usage: sandbox_test.sh BIN_DIR
set -euo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

NS=gantry
PORT=$(gantry_free_port)
gantry_start_containerd "$WORK/containerd"
gantry_import_busybox "$CONTAINERD_SOCK" "$NS" example.org/demo/busybox:1 "$WORK"
e2e_make_nodes 1
e2e_start_cp --no-pin-digests
e2e_start_agent 1 a --containerd-namespace "$NS"
gantry_wait_for 30 have_connected 1 || fail "the agent did not register"

# probe NAME SCRIPT [CONTAINER FIELDS]: a one-task service whose container
# runs SCRIPT, prints "done" and stays up so its output can be read.
probe() {
  cat > "$WORK/$1.yaml" <<YAML
kind: TaskDefinition
family: $1
containers:
  - name: main
    image: example.org/demo/busybox:1
    command:
      - /bin/sh
      - -c
      - |
        $2
        echo done; exec sleep 1000
    cpu: 100m
    memory: 32Mi
    stopTimeout: 1s
${3:-}
---
kind: Service
name: $1
taskDefinition: $1
desiredCount: 1
YAML
}
task_of() { tasks_json --service "$1" | jq -r '[.tasks[] | select(.lastStatus == "RUNNING")][0].id // empty'; }
output_of() {
  local id
  id=$(task_of "$1")
  [[ -n $id ]] && ctl logs "${id:0:12}" --tail 100 2> /dev/null
}
probe_done() { output_of "$1" | matches -x done; }
run_probe() { # NAME: applies it and waits for its output
  ctl apply -f "$WORK/$1.yaml" > /dev/null
  gantry_wait_for 60 probe_done "$1" || fail "probe $1 did not finish: $(output_of "$1"; tail -5 "$WORK/agent1.log")"
  output_of "$1" > "$WORK/$1.out"
}
expect() { # NAME LINE
  matches -xF "$2" "$WORK/$1.out" || fail "probe $1: expected \"$2\", got: $(cat "$WORK/$1.out")"
}
# Bit N of the capability mask on the line KEY of /proc/self/status.
cap_probe='for k in CapBnd CapEff; do m=$(grep ^$k: /proc/self/status | cut -f2); echo $k=$(( (0x$m >> 13) & 1 ))$(( (0x$m >> 12) & 1 )); done'

# --- Defaults: seccomp, no raw sockets, no user namespaces, pids limit 1024.
probe defaults "$cap_probe; unshare -U true 2>/dev/null && echo unshare=allowed || echo unshare=refused; ping -c1 -W1 127.0.0.1 >/dev/null 2>&1 && echo ping=allowed || echo ping=refused; echo seccomp=\$(grep -c '^Seccomp:[[:space:]]*2' /proc/self/status)"
run_probe defaults
expect defaults "CapBnd=00"  # neither NET_RAW (13) nor NET_ADMIN (12)
expect defaults "unshare=refused"
expect defaults "ping=refused"
expect defaults "seccomp=1"  # a filter is loaded
cid=$(ctr --address "$CONTAINERD_SOCK" -n "$NS" containers list -q | grep "^$(task_of defaults)")
ctr --address "$CONTAINERD_SOCK" -n "$NS" containers info "$cid" > "$WORK/defaults.info"
jq -e '.Spec.linux.resources.pids.limit == 1024 and .Spec.linux.seccomp.defaultAction == "SCMP_ACT_ERRNO"' \
  "$WORK/defaults.info" > /dev/null || fail "the default spec lacks the pids limit or seccomp"
log "defaults: seccomp filter, no CAP_NET_RAW, no user namespaces, pids limit 1024"

# --- A fork bomb stops at its pids limit; the node and other tasks stay up.
# The shell forks until it cannot, in a subshell (a shell whose fork fails
# may exit); counting uses builtins only, as no fork is left.
probe bomb '(n=0; while [ $n -lt 500 ]; do sleep 300 & n=$((n+1)); done) 2>/dev/null; set -- /proc/[0-9]*; echo procs=$#' \
  '    pidsLimit: 50'
run_probe bomb
procs=$(sed -n 's/^procs=//p' "$WORK/bomb.out")
((procs > 10 && procs <= 50)) || fail "the fork bomb ran $procs processes under a limit of 50"
checks_pass() { [[ $(ctl get nodes -o json | jq '[.nodes[0].checks[] | select(.passed)] | length') == 3 ]]; }
gantry_wait_for 20 checks_pass || fail "the node fails its checks after the fork bomb: $(ctl get nodes)"
[[ -n $(task_of defaults) ]] || fail "another task stopped during the fork bomb"
log "a fork bomb stops at pidsLimit ($procs processes); the node passes its checks"

# --- Read-only root, and users from the image.
probe readonly '(echo x > /etc/probe) 2>/dev/null && echo write=allowed || echo write=refused; id -u' \
  $'    readonlyRootFilesystem: true\n    user: nobody'
run_probe readonly
expect readonly "write=refused"
expect readonly "65534"
probe numeric 'echo $(id -u):$(id -g)' '    user: "1234:4321"'
run_probe numeric
expect numeric "1234:4321"
probe ulimit 'echo nofile=$(ulimit -n)' '    ulimits: [{name: nofile, softLimit: 256, hardLimit: 512}]'
run_probe ulimit
expect ulimit "nofile=256"
log "read-only root refuses writes; user nobody is 65534; ulimits apply"

# --- An unknown user fails the task with the reason.
probe ghost 'true' '    user: ghost'
ctl apply -f "$WORK/ghost.yaml" > /dev/null
ghost_failed() { ctl describe service ghost | matches 'user "ghost" is not in the image'; }
gantry_wait_for 60 ghost_failed || fail "an unknown user did not fail with its reason: $(ctl describe service ghost)"
ctl delete service ghost > /dev/null
log "an unknown user fails the task and says why"

# --- Adding a capability needs `use capabilities`.
(umask 077 && ctl token create --role deployer --description ci-tools > "$WORK/deployer.token")
as_deployer() { "$BIN/gantryctl" --config /dev/null --server "127.0.0.1:$PORT" --tls-ca "$CA" --token-file "$WORK/deployer.token" "$@"; }
probe netadmin "$cap_probe" '    linuxParameters: {capabilities: {add: [NET_ADMIN]}}'
out=$(as_deployer apply -f "$WORK/netadmin.yaml" 2>&1) && fail "a deployer added NET_ADMIN"
[[ $out == *'token "ci-tools" (role deployer) may not use capability NET_ADMIN'* ]] ||
  fail "deployer adding NET_ADMIN: $out"
run_probe netadmin
expect netadmin "CapBnd=01"
expect netadmin "CapEff=01"
log "adding NET_ADMIN: refused to a deployer, granted to the admin"
log "PASS"
