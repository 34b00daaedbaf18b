#!/usr/bin/env bash
# End-to-end test of secrets with the real binaries and containerd: a task
# gets one secret as an environment variable and one as a file (mode 0400,
# on a tmpfs); no value appears in the control plane's store (before and
# after SQLite's WAL checkpoint), data dirs or logs, in the agents' data
# dirs or logs, in events, in -o json reads or in the audit log; a viewer
# cannot reveal a value and a node that runs no task of the service is
# refused it; updating the secret rolls the service through HAProxy with
# no failed request, and the new tasks see the new value; a used secret
# cannot be deleted; rotating the key-encryption key keeps every value.
#
# usage: secrets_test.sh BIN_DIR
set -euo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
command -v haproxy > /dev/null || fail "haproxy is missing; run deploy/install-deps.sh"

PORT=$(gantry_free_port)
LB_PORT=$(gantry_free_port)
gantry_start_containerd "$WORK/containerd"
"$ROOT/deploy/images/build-busybox-image.sh" "$WORK/web.tar" "example.org/demo/web:1" \
  "hello from v1" > /dev/null
for i in 1 2; do
  ctr --address "$CONTAINERD_SOCK" -n "node-$i" images import "$WORK/web.tar" > /dev/null
done
e2e_make_nodes 2
e2e_start_cp --no-pin-digests
e2e_start_agent 1 a --containerd-namespace node-1
e2e_start_agent 2 b --containerd-namespace node-2
gantry_wait_for 30 have_connected 2 || fail "agents did not register"
(umask 077 && ctl token create --role lb --description gantry-lb > "$WORK/lb.token")
"$BIN/gantry-lb" --controlplane "127.0.0.1:$PORT" --tls-ca "$CA" --token-file "$WORK/lb.token" \
  --work-dir "$WORK/lb" --poll-interval 200ms >> "$WORK/lb.log" 2>&1 &
AGENT_PIDS[lb]=$!

# Values no output may ever show.
PW1=pw-one-$RANDOM$RANDOM-marker
PW2=pw-two-$RANDOM$RANDOM-marker
KEY=key-$RANDOM$RANDOM-marker
ctl secret create db-password --from-literal "$PW1" | matches "version 1" ||
  fail "secret create did not say its version"
printf '%s' "$KEY" | ctl secret create tls-key --from-file - > /dev/null

# The task writes what it sees where httpd serves it: the variable, the
# file, the file's mode and its file system.
cat > "$WORK/web.yaml" <<YAML
kind: TaskDefinition
family: web
containers:
  - name: httpd
    image: example.org/demo/web:1
    command:
      - /bin/sh
      - -c
      - >-
        printf '%s|%s|%s|%s' "\$DB_PASSWORD" "\$(cat /run/secrets/tls.key)"
        "\$(stat -c %a /run/secrets/tls.key)" "\$(stat -f -c %T /run/secrets/tls.key)"
        > /www/seen.txt; trap 'exit 0' TERM; httpd -f -p \$GANTRY_PORT_HTTP -h /www & wait
    secrets:
      - {name: DB_PASSWORD, valueFrom: db-password}
      - {file: /run/secrets/tls.key, valueFrom: tls-key}
    cpu: 100m
    memory: 32Mi
    stopTimeout: 5s
    portMappings: [{name: http, containerPort: 0, hostPort: 0}]
    healthCheck: {http: {port: http, path: /}, interval: 5s, timeout: 2s, retries: 2}
---
kind: Service
name: web
taskDefinition: web
desiredCount: 2
loadBalancer: {port: $LB_PORT, targetPort: http, deregistrationDelay: 2s}
YAML
ctl deploy -f "$WORK/web.yaml" --wait --timeout 2m || fail "the service did not deploy"

# seen VALUE: every running task saw VALUE, the key, mode 400 and tmpfs.
seen() {
  local want="$1|$KEY|400|tmpfs" addr body n=0
  for addr in $(tasks_json --service web | jq -r '.tasks[] | select(.lastStatus == "RUNNING") | .ports[0] | "\(.hostAddress):\(.hostPort)"'); do
    body=$(curl -sf --max-time 5 "http://$addr/seen.txt") || return 1
    [[ $body == "$want" ]] || { log "task at $addr saw '${body//marker/…}'"; return 1; }
    n=$((n + 1))
  done
  ((n == 2))
}
seen "$PW1" || fail "the tasks did not see the secret as variable and 0400 tmpfs file"
log "tasks see the secret as a variable and as a 0400 file on a tmpfs"

# --- Never shown.
leaks() {
  local where=$1 value
  for value in "$PW1" "$PW2" "$KEY"; do
    if [[ -d $where ]]; then
      grep -rqa -- "$value" "$where" && { echo "$where"; return 0; }
    elif [[ -f $where ]]; then
      grep -qa -- "$value" "$where" && { echo "$where"; return 0; }
    else
      grep -qa -- "$value" <<< "$where" && { echo "an API read"; return 0; }
    fi
  done
  return 1
}
check_no_leaks() {
  local where
  for where in "$WORK/cp" "$WORK/cp.log" "$WORK/agent1" "$WORK/agent2" "$WORK/agent1.log" \
    "$WORK/agent2.log" "$WORK/lb.log" \
    "$(ctl get taskdefs -o json)" "$(ctl describe service web)" "$(ctl get tasks -o json)" \
    "$(ctl events --limit 500)" "$(ctl secret list -o json)" "$(ctl secret describe db-password -o json)" \
    "$(ctl audit --limit 1000 -o json)" "$(ctl get services -o json)"; do
    if found=$(leaks "$where"); then fail "a secret value is in $found"; fi
  done
}
# The check itself finds a value where there is one.
leaks "$(ctl secret get db-password --reveal)" > /dev/null || fail "the leak check finds nothing"
check_no_leaks
ctl secret list | matches "db-password *1 *1 .* web" || fail "secret list: $(ctl secret list)"
log "no value in the store, data dirs, logs, events or API reads"

# --- Who may read a value.
[[ $(ctl secret get db-password --reveal) == "$PW1" ]] || fail "the admin cannot reveal the value"
(umask 077 && ctl token create --role viewer --description ci-view > "$WORK/viewer.token")
as() { local t=$1; shift; "$BIN/gantryctl" --config /dev/null --server "127.0.0.1:$PORT" --tls-ca "$CA" --token-file "$WORK/$t.token" "$@"; }
out=$(as viewer secret get db-password --reveal 2>&1) && fail "a viewer revealed a secret"
[[ $out == *'token "ci-view" (role viewer) may not read secret db-password'* ]] ||
  fail "viewer reveal: $out"
as viewer secret list > /dev/null || fail "a viewer cannot list secrets"
ctl audit --limit 1000 | matches "RevealSecret.*secrets/db-password version 1" ||
  fail "the audit log does not record the reveal"
ctl audit --limit 1000 | matches "GetTaskSecrets.*secrets/db-password version 1" ||
  fail "the audit log does not record the nodes' reads"
log "only the admin reveals; reads are audited"

# --- Only the task's node gets its secrets. Scale to one task, then ask
# for it with the certificate of the node that does not run it.
ctl scale service web --count 1 > /dev/null
gantry_wait_for 30 have_running 1 || fail "web did not scale to 1"
task=$(tasks_json --service web | jq -r '.tasks[] | select(.lastStatus == "RUNNING") | .id')
node=$(tasks_json --service web | jq -r '.tasks[] | select(.lastStatus == "RUNNING") | .node')
other=1
[[ $node == node-1 ]] && other=2
out=$("$BIN/gantry-e2e-secret-probe" "127.0.0.1:$PORT" "$WORK/agent$other/identity" "$task") &&
  fail "node-$other got the secrets of a task on $node"
[[ $out == *"may not read the secrets of task $task"* ]] || fail "probe: $out"
own=${node#node-}
"$BIN/gantry-e2e-secret-probe" "127.0.0.1:$PORT" "$WORK/agent$own/identity" "$task" |
  matches "given db-password version 1" || fail "the task's own node is refused"
ctl audit --limit 1000 > "$WORK/audit.txt"
grep GetTaskSecrets "$WORK/audit.txt" | grep "node-$other" | grep "tasks/$task" |
  matches -i "denied" || fail "the refusal is not audited: $(grep GetTaskSecrets "$WORK/audit.txt")"
ctl scale service web --count 2 > /dev/null
ctl rollout status web --timeout 2m > /dev/null || fail "web did not scale back"
log "a node that runs no task of the service is refused its secrets"

# --- Rotation rolls the service, with no failed request.
"$BIN/gantry-loadgen" "http://127.0.0.1:$LB_PORT/" 6000 200 4 > "$WORK/load.log" 2>&1 &
LOAD_PID=$!
ctl secret update db-password --from-literal "$PW2" | matches "new deployments started for: web" ||
  fail "the update did not roll web"
ctl rollout status web --timeout 3m || fail "the rotation deployment did not complete"
rc=0
wait "$LOAD_PID" || rc=$?
cat "$WORK/load.log"
((rc == 0)) || fail "requests failed through the load balancer during the rotation"
gantry_wait_for 20 seen "$PW2" || fail "the new tasks do not see the new value"
ctl describe service web | matches "secret db-password is now version 2" ||
  fail "no event names the rotation"
log "updating the secret rolled the service with zero failed requests"

out=$(ctl secret delete db-password 2>&1) && fail "a used secret was deleted"
[[ $out == *"used by service(s) web"* ]] || fail "delete: $out"

# --- A new key-encryption key: everything re-wrapped, the old key gone.
[[ $(stat -c %a "$WORK/cp/pki/secrets.key") == 600 ]] || fail "secrets.key is not mode 0600"
old_key=$(sha256sum < "$WORK/cp/pki/secrets.key")
out=$(as viewer secret rotate-key 2>&1) && fail "a viewer rotated the key"
ctl secret rotate-key | matches "version(s) re-wrapped" || fail "rotate-key did not re-wrap"
[[ $(sha256sum < "$WORK/cp/pki/secrets.key") != "$old_key" ]] || fail "the key file did not change"
[[ ! -e $WORK/cp/pki/secrets.key.next ]] || fail "the rotation left secrets.key.next behind"
log "rotate-key re-wrapped every secret with a new key"

# WAL checkpointed: a clean restart of the control plane folds the WAL into
# state.db; still no value anywhere.
kill "$CP_PID"
wait "$CP_PID" 2> /dev/null || true
[[ ! -s $WORK/cp/state.db-wal ]] || log "note: the WAL is still there after a clean stop"
e2e_start_cp
check_no_leaks
[[ $(ctl secret get db-password --reveal --version 1) == "$PW1" ]] ||
  fail "version 1 (pinned by the earlier deployment) is gone after a restart"
[[ $(ctl secret get db-password --reveal) == "$PW2" ]] || fail "the current value is lost"
log "after the WAL checkpoint and a restart (on the new key): no value in the store; versions kept"
log "PASS"
