#!/usr/bin/env bash
# End-to-end test of image distribution with Debian's docker-registry (basic
# authentication) and real containerd: three nodes (each agent in its own
# containerd namespace, so each pulls for itself) run a service by tag; the
# control plane pins one digest per deployment; a redeploy to a new tag
# moves every task to the new digest; the unused image is garbage collected
# while the used one stays; while the registry cannot be reached, a new
# revision's tasks wait saying so (image, host, retrying) and the old ones
# keep serving, and they start by themselves once it is back; a reference
# that does not exist fails with the registry's words; a registry that goes
# away in the middle of a blob download (cut by tests/e2e/cutting_proxy.py,
# then stopped) is retried and the pull succeeds once it is back, the half
# blob never unpacked; a registry serving HTTPS with a certificate from a
# private CA is pulled from (and pinned) once that CA is its caFile, and
# refused as untrusted, with what to do, under a name without one.
#
# usage: registry_test.sh BIN_DIR
set -euo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
for tool in docker-registry skopeo htpasswd python3 openssl; do
  command -v "$tool" > /dev/null || fail "$tool is missing; run deploy/install-deps.sh"
done

e2e_make_certs
PORT=$(gantry_free_port)
REG_PORT=$(gantry_free_port)
REG=127.0.0.1:$REG_PORT
PROXY_PORT=$(gantry_free_port)
PROXY=127.0.0.1:$PROXY_PORT  # the same registry, through cutting_proxy.py
gantry_start_containerd "$WORK/containerd"
gantry_start_registry "$WORK/registry" "$REG_PORT" ci s3cret
for v in 1 2 3; do
  "$ROOT/deploy/images/build-busybox-image.sh" "$WORK/web$v.tar" "$REG/demo/web:$v" \
    "hello from v$v" > /dev/null
  gantry_push_image "$WORK/web$v.tar" "$REG/demo/web:$v" ci:s3cret
done
digest_of() {  # TAG [BASE_URL [CURL_ARGS...]]
  local tag=$1 base=${2:-http://$REG}
  shift $(($# < 2 ? $# : 2))
  curl -sfI -u ci:s3cret "$@" -H "Accept: application/vnd.oci.image.manifest.v1+json" \
    "$base/v2/demo/web/manifests/$tag" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest" {print $2}'
}
D1=$(digest_of 1)
D2=$(digest_of 2)
[[ -n $D1 && -n $D2 && $D1 != "$D2" ]] || fail "could not read the pushed digests"
log "registry on $REG (basic auth) holds demo/web:1 $D1 and :2 $D2"

# A second registry on HTTPS, its certificate (for 127.0.0.1 and localhost)
# signed by a CA made here, which no system store holds.
TLS_PORT=$(gantry_free_port)
TLS_REG=127.0.0.1:$TLS_PORT
pki=$WORK/registry-pki
mkdir -p "$pki" && chmod 700 "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj "/CN=Gantry e2e registry CA" -keyout "$pki/ca.key" -out "$pki/ca.pem" 2> /dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$pki/registry.key" -out "$pki/registry.csr" 2> /dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > "$pki/ext.cnf"
openssl x509 -req -in "$pki/registry.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
  -days 1 -extfile "$pki/ext.cnf" -out "$pki/registry.pem" 2> /dev/null
gantry_start_registry "$WORK/registry-tls" "$TLS_PORT" "" "" "$pki/registry.pem" "$pki/registry.key"
gantry_push_image "$WORK/web1.tar" "$TLS_REG/demo/web:1"
DT=$(digest_of 1 "https://$TLS_REG" --cacert "$pki/ca.pem")
[[ -n $DT ]] || fail "could not read the digest from the HTTPS registry with its CA"
log "HTTPS registry on $TLS_REG (private CA) holds demo/web:1 $DT"

# Credentials live in a file; the registries section serves control plane and agents.
echo s3cret > "$WORK/registry-password"
cat > "$WORK/registries.yaml" <<YAML
registries:
  $REG: {insecure: true, username: ci, passwordFile: $WORK/registry-password}
  $PROXY: {insecure: true, username: ci, passwordFile: $WORK/registry-password}
  $TLS_REG: {caFile: $pki/ca.pem}
YAML
e2e_make_nodes 3
e2e_start_cp --registry-config "$WORK/registries.yaml"
zones=(a b c)
for i in 1 2 3; do
  e2e_start_agent "$i" "${zones[$((i - 1))]}" --config "$WORK/registries.yaml" \
    --containerd-namespace "node-$i" --image-gc-unused-after 3s --image-gc-keep 0 \
    --image-gc-interval 1s --image-pull-timeout 2m
done
gantry_wait_for 30 have_connected 3 || fail "agents did not register"
if grep -q s3cret "$WORK"/*.log; then fail "a log contains the registry password"; fi

node_images() { ctr --address "$CONTAINERD_SOCK" -n "node-$1" images list -q; }
service_yaml() {  # service image desired [extra container lines]
  cat <<YAML
kind: TaskDefinition
family: $1
containers:
  - name: httpd
    image: $2
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; httpd -f -p \$GANTRY_PORT_HTTP -h /www & wait"]
    cpu: 100m
    memory: 32Mi
    stopTimeout: 5s
    portMappings: [{name: http, containerPort: 0, hostPort: 0}]
${4:-}
---
kind: Service
name: $1
taskDefinition: $1
desiredCount: $3
YAML
}
answers() {  # service expected-body count
  local n=0 addr
  for addr in $(tasks_json --service "$1" | jq -r '.tasks[]? | select(.lastStatus == "RUNNING") | .ports[0] | "\(.hostAddress):\(.hostPort)"'); do
    [[ $(curl -sf --max-time 5 "http://$addr/") == "$2" ]] && n=$((n + 1))
  done
  ((n == $3))
}
digests_are() {  # service digest count: RUNNING tasks all run `digest`
  local got
  got=$(tasks_json --service "$1" | jq -r --arg d "$2" '[.tasks[]? | select(.lastStatus == "RUNNING" and .containers[0].imageDigest == $d)] | length')
  [[ $got == "$3" ]]
}

# --- Deploy by tag on three nodes: each node pulls; one digest for all.
service_yaml web "$REG/demo/web:1" 3 > "$WORK/web.yaml"
ctl apply -f "$WORK/web.yaml"
gantry_wait_for 90 have_running 3 || fail "web:1 did not reach three RUNNING tasks"
digests_are web "$D1" 3 || fail "tasks do not all run the pinned digest $D1"
gantry_wait_for 10 answers web "hello from v1" 3 || fail "tasks do not serve v1"
for i in 1 2 3; do
  node_images "$i" | matches -x "$REG/demo/web@$D1" || fail "node-$i did not pull $D1"
done
ctl describe service web | matches "pinned to $D1" || fail "describe service does not show the pin"
task=$(tasks_json --service web | jq -r '.tasks[0].id')
ctl describe task "${task:0:12}" | grep "$REG/demo/web:1" | matches "$D1" ||
  fail "describe task does not show reference and digest"
images_reported() { ctl get images --node node-2 | matches "$REG/demo/web@${D1:0:19}"; }
gantry_wait_for 40 images_reported || fail "gantryctl get images does not list node-2's image"
log "three nodes pulled web:1; every task runs $D1"

# --- Redeploy with a new tag: all tasks move to the new digest.
service_yaml web "$REG/demo/web:2" 3 > "$WORK/web.yaml"
ctl apply -f "$WORK/web.yaml"
new_running() { digests_are web "$D2" 3 && have_running 3; }
gantry_wait_for 90 new_running || fail "web:2 did not replace web:1"
gantry_wait_for 10 answers web "hello from v2" 3 || fail "tasks do not serve v2"
log "redeploy moved every task to $D2"

# --- Garbage collection: the unused image goes, the used one stays.
gc_done() {
  for i in 1 2 3; do
    node_images "$i" | matches -x "$REG/demo/web@$D1" && return 1
    node_images "$i" | matches -x "$REG/demo/web@$D2" || return 1
  done
  return 0
}
gantry_wait_for 60 gc_done || fail "image gc did not remove $D1 and keep $D2: $(node_images 1 | tr '\n' ' ')"
log "image gc removed the unused image and kept the used one"

# --- The registry cannot be reached when a new revision needs a pull
# (web@D1, removed above): its tasks wait and say why, web:2 keeps serving,
# and the same tasks start once the registry is back.
gantry_stop_registry "$WORK/registry"
t0=$SECONDS
service_yaml web "$REG/demo/web@$D1" 3 > "$WORK/web.yaml"
ctl apply -f "$WORK/web.yaml" > /dev/null
waiting() {  # the first web:3 task: "ID REASON"
  tasks_json --service web | jq -r '[.tasks[] | select(.taskDefinition == "web:3")][0] // {} | "\(.id) \(.containers[0].reason // "")"'
}
says_unreachable() {
  [[ $(waiting) == *" pulling $REG/demo/web@$D1: "*"cannot connect to $REG "*"Retrying"* ]]
}
gantry_wait_for 20 says_unreachable || fail "a web:3 task does not say why it waits: $(waiting)"
read -r task reason <<< "$(waiting)"
answers web "hello from v2" 3 || fail "web:2 stopped serving while the registry was away"
gantry_start_registry "$WORK/registry" "$REG_PORT" ci s3cret
v1_running() { answers web "hello from v1" 3; }
gantry_wait_for 60 v1_running || fail "web:3 did not start by itself once the registry was back"
[[ $(tasks_json --service web | jq -r --arg t "$task" '.tasks[] | select(.id == $t) | .lastStatus') == RUNNING ]] ||
  fail "task $task was replaced instead of its pull retried"
log "registry away: web:3 waited ($reason), web:2 kept serving; running $((SECONDS - t0)) s after the fault"

# --- A reference that does not exist: the registry's words reach the user.
service_yaml ghost "$REG/demo/web:9" 1 "    pinDigest: false" > "$WORK/ghost.yaml"
ctl apply -f "$WORK/ghost.yaml"
ghost_failed() {
  ctl get tasks -a --service ghost -o json | jq -r '.tasks[]?.stoppedReason' |
    matches "CannotPullContainerError: pull $REG/demo/web:9: manifest unknown"
}
gantry_wait_for 60 ghost_failed || fail "a missing image did not fail its task with the registry's answer"
ctl delete service ghost --wait > /dev/null
service_yaml pinned-ghost "$REG/demo/web:9" 1 > "$WORK/pinned-ghost.yaml"
ctl apply -f "$WORK/pinned-ghost.yaml"
pin_failed() { ctl describe service pinned-ghost | matches "cannot pin the image.*manifest unknown"; }
gantry_wait_for 30 pin_failed || fail "an unresolvable tag was not explained in the service's events"
# With pinning on too, the task itself fails with the registry's answer.
pinned_ghost_failed() {
  ctl get tasks -a --service pinned-ghost -o json | jq -r '.tasks[]?.stoppedReason' |
    matches "CannotPullContainerError: pull $REG/demo/web:9: manifest unknown"
}
gantry_wait_for 60 pinned_ghost_failed || fail "a pinned missing image did not fail its task"
ctl delete service pinned-ghost --wait > /dev/null
log "missing references fail with 'manifest unknown'"

# --- HTTPS with a private CA: listed with its caFile, the registry's
# images are pinned by the control plane and pulled by the agents; the same
# registry named localhost, which has no caFile, is refused as untrusted by
# both, saying what to do, and nothing is retried for it.
service_yaml secure "$TLS_REG/demo/web:1" 2 > "$WORK/secure.yaml"
ctl apply -f "$WORK/secure.yaml"
secure_up() { answers secure "hello from v1" 2 && digests_are secure "$DT" 2; }
gantry_wait_for 60 secure_up || fail "tasks from the HTTPS registry did not run $DT: $(ctl describe service secure)"
service_yaml untrusted "localhost:$TLS_PORT/demo/web:1" 1 > "$WORK/untrusted.yaml"
ctl apply -f "$WORK/untrusted.yaml"
pin_untrusted() {
  ctl describe service untrusted | matches "cannot pin the image.*certificate of localhost:$TLS_PORT is not trusted.*caFile"
}
gantry_wait_for 30 pin_untrusted || fail "the control plane did not say the certificate is untrusted: $(ctl describe service untrusted)"
pull_untrusted() {
  ctl get tasks -a --service untrusted -o json | jq -r '.tasks[]?.stoppedReason' |
    matches "CannotPullContainerError: pull localhost:$TLS_PORT/demo/web:1: the certificate of localhost:$TLS_PORT is not trusted"
}
gantry_wait_for 30 pull_untrusted || fail "the agent did not fail the pull as untrusted: $(ctl get tasks -a --service untrusted)"
ctl delete service untrusted --wait > /dev/null
ctl delete service secure --wait > /dev/null
log "HTTPS with a private CA: pulled and pinned with caFile, refused as untrusted without"

# --- The registry goes away in the middle of a blob download and comes
# back: the pull is retried and succeeds.
mkdir -p "$WORK/proxy"
python3 "$(dirname "$0")/cutting_proxy.py" "$PROXY_PORT" "$REG" "$WORK/proxy" 2>> "$WORK/proxy.log" &
AGENT_PIDS[proxy]=$!
proxy_up() { (: < "/dev/tcp/127.0.0.1/$PROXY_PORT") 2> /dev/null; }
gantry_wait_for 10 proxy_up || fail "cutting_proxy.py did not start; see $WORK/proxy.log"
touch "$WORK/proxy/cut"
service_yaml web "$PROXY/demo/web:3" 3 "    pinDigest: false" > "$WORK/web.yaml"
ctl apply -f "$WORK/web.yaml"
was_cut() { [[ -e $WORK/proxy/down ]]; }
gantry_wait_for 60 was_cut || fail "no blob download went through the proxy"
gantry_stop_registry "$WORK/registry"
retrying() { grep -q "pull $PROXY/demo/web:3: .*retrying" "$WORK"/agent*.log; }
gantry_wait_for 30 retrying || fail "agents did not retry the interrupted pull"
ghosts=$(ctl get tasks -a --service web -o json | jq '[.tasks[] | select((.stoppedReason // "") | test("CannotPull"))] | length')
((ghosts == 0)) || fail "a pull failed for good while the registry was briefly away"
log "$(tail -1 "$WORK/proxy.log")"
gantry_start_registry "$WORK/registry" "$REG_PORT" ci s3cret
rm "$WORK/proxy/down"
v3_running() { answers web "hello from v3" 3; }
gantry_wait_for 120 v3_running || fail "pulls did not recover when the registry came back"
log "pulls retried until the registry came back"
# Credentials were used for every pull and resolution above: still in no log.
if grep -q s3cret "$WORK"/*.log; then fail "a log contains the registry password"; fi
log "PASS"
