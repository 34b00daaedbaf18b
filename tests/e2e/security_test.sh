#!/usr/bin/env bash
# End-to-end test of identity and access with the real binaries: the control
# plane serves TLS only and refuses callers without credentials; roles
# limit what tokens may do (a viewer cannot apply, a deployer scoped to web*
# cannot scale db); agents join with one-time tokens (a second use is
# refused); a node certificate cannot register as another node; a deleted
# (revoked) node and a revoked token are refused; the audit log records each
# of these, in gantryctl audit and in DATA_DIR/audit.log (0600), without a
# token's secret.
#
# usage: security_test.sh BIN_DIR
set -euo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

PORT=$(gantry_free_port)
gantry_start_containerd "$WORK/containerd"
e2e_make_nodes 2
e2e_start_cp --no-pin-digests --heartbeat-grace 3s
[[ $(stat -c %a "$WORK/cp/admin.token") == 600 ]] || fail "admin.token is not mode 0600"
[[ $(stat -c %a "$WORK/cp/pki/ca.key") == 600 ]] || fail "ca.key is not mode 0600"
[[ $(stat -c %a "$WORK/cp/pki") == 700 ]] || fail "the pki directory is not mode 0700"
grep -q "ca.key\|BEGIN" "$WORK/cp.log" && fail "key material in the control plane's log"

# --- No plaintext, no anonymous calls.
if curl -s --max-time 5 --http2-prior-knowledge "http://127.0.0.1:$PORT/" > /dev/null 2>&1; then
  fail "the control plane answered plaintext"
fi
anon() { "$BIN/gantryctl" --config /dev/null --server "127.0.0.1:$PORT" --tls-ca "$CA" "$@"; }
out=$(anon get services 2>&1) && fail "an anonymous client was answered"
[[ $out == *"no credentials: pass --token or set GANTRY_TOKEN"* ]] || fail "anonymous: $out"
out=$(anon --token gantry_000000000000_0000 get services 2>&1) && fail "a forged token was accepted"
log "plaintext and anonymous clients are refused"

# --- Roles.
(umask 077 && ctl token create --role viewer --description ci-view > "$WORK/viewer.token")
(umask 077 && ctl token create --role deployer --services 'web*' --description ci-web > "$WORK/deployer.token")
as() { local t=$1; shift; "$BIN/gantryctl" --config /dev/null --server "127.0.0.1:$PORT" --tls-ca "$CA" --token-file "$WORK/$t.token" "$@"; }
ctl apply -f "$ROOT/deploy/examples/web.yaml" > /dev/null
sed -e 's/\bweb\b/db/g' -e 's/^    cpu: 100m/    environment: {DB_PASSWORD: s3cret}\n    cpu: 100m/' \
  "$ROOT/deploy/examples/web.yaml" > "$WORK/db.yaml"
ctl apply -f "$WORK/db.yaml" > /dev/null
as viewer get services > /dev/null || fail "a viewer cannot list services"
out=$(as viewer apply -f "$ROOT/deploy/examples/web.yaml" 2>&1) && fail "a viewer applied"
[[ $out == *'token "ci-view" (role viewer) may not apply'* ]] || fail "viewer apply: $out"
[[ $(ctl get taskdefs db -o json | jq -r '.. | .DB_PASSWORD? // empty') == s3cret ]] ||
  fail "the admin does not see the environment"
[[ $(as viewer get taskdefs db -o json | jq -r '.. | .DB_PASSWORD? // empty') == "(redacted)" ]] ||
  fail "a viewer sees environment values"
as deployer scale service web --count 0 > /dev/null || fail "a deployer for web* cannot scale web"
out=$(as deployer scale service db --count 0 2>&1) && fail "a deployer for web* scaled db"
[[ $out == *'token "ci-web" (role deployer) may not scale service db'* ]] || fail "deployer: $out"
out=$(as deployer token create --role admin 2>&1) && fail "a deployer made an admin token"
log "viewer and scoped deployer are held to their roles"

# --- Token revocation.
accessor=$(ctl token list -o json | jq -r '.tokens[] | select(.description == "ci-view") | .accessor')
ctl token revoke "$accessor" > /dev/null
out=$(as viewer get services 2>&1) && fail "a revoked token was accepted"
[[ $out == *"was revoked"* ]] || fail "revoked token: $out"
ctl token list | matches -v "gantry_" || fail "token list shows a secret"
log "a revoked token is refused; token list shows no secrets"

# --- Joining: once per token.
e2e_start_agent 1 a --containerd-namespace node-1
gantry_wait_for 30 have_connected 1 || fail "node-1 did not join"
[[ $(stat -c %a "$WORK/agent1/identity/node.key") == 600 ]] || fail "node.key is not mode 0600"
# The same token again, for a second node.
cp "$WORK/join-1" "$WORK/join-reused"
"$BIN/gantry-agent" --controlplane "127.0.0.1:$PORT" --node-name node-1 --data-dir "$WORK/reuse" \
  --containerd-socket "$CONTAINERD_SOCK" --join-token-file "$WORK/join-reused" \
  --ca-hash "$(ctl node join-token create -o json | jq -r .caHash)" --metrics-listen off \
  > "$WORK/reuse.log" 2>&1 && fail "a used join token joined again"
matches "already used" "$WORK/reuse.log" || fail "reused token: $(cat "$WORK/reuse.log")"
# A token bound to another name.
ctl node join-token create --node-name node-9 -o json | jq -r .token > "$WORK/join-bound"
"$BIN/gantry-agent" --controlplane "127.0.0.1:$PORT" --node-name node-2 --data-dir "$WORK/bound" \
  --containerd-socket "$CONTAINERD_SOCK" --join-token-file "$WORK/join-bound" --tls-ca "$CA" \
  --metrics-listen off > "$WORK/bound.log" 2>&1 && fail "a token for node-9 joined node-2"
matches "is for node node-9" "$WORK/bound.log" || fail "bound token: $(cat "$WORK/bound.log")"
log "join tokens are single-use and bound to their node name"

# --- A node certificate is its identity: node-1's cannot register as node-2.
"$BIN/gantry-agent" --controlplane "127.0.0.1:$PORT" --node-name node-2 --data-dir "$WORK/impostor" \
  --containerd-socket "$CONTAINERD_SOCK" --tls-ca "$CA" \
  --tls-cert "$WORK/agent1/identity/node.pem" --tls-key "$WORK/agent1/identity/node.key" \
  --metrics-listen off >> "$WORK/impostor.log" 2>&1 &
IMPOSTOR=$!
AGENT_PIDS[impostor]=$IMPOSTOR
refused() { matches 'names node "node-1"; it cannot register as "node-2"' "$WORK/impostor.log"; }
gantry_wait_for 20 refused || fail "impostor: $(tail -3 "$WORK/impostor.log")"
ctl get nodes -o json | jq -e '[.nodes[] | select(.name == "node-2")] | length == 0' > /dev/null ||
  fail "node-2 was registered by node-1's certificate"
kill "$IMPOSTOR"
log "a node certificate registers only as its own node"

# --- Deleting a node revokes its certificate.
kill "${AGENT_PIDS[1]}"
wait "${AGENT_PIDS[1]}" 2> /dev/null || true
down() { ctl get nodes -o json | jq -e '.nodes[] | select(.name == "node-1") | .status == "DOWN"' > /dev/null; }
gantry_wait_for 30 down || fail "node-1 did not go DOWN"
ctl delete node node-1 > /dev/null
e2e_start_agent 1 a
revoked() { matches "was revoked" "$WORK/agent1.log"; }
gantry_wait_for 20 revoked || fail "a deleted node's certificate was accepted: $(tail -3 "$WORK/agent1.log")"
log "a deleted node's certificate is refused"

# --- The audit log shows each of these.
ctl audit -o json > "$WORK/audit.json"
has() { # METHOD OBJECT OUTCOME [IDENTITY]
  jq -e --arg m "$1" --arg o "$2" --arg r "$3" --arg i "${4:-}" \
    '[.records[] | select(.method == $m and .object == $o and .outcome == $r and
      ($i == "" or .identity == $i))] | length > 0' "$WORK/audit.json" > /dev/null ||
    fail "no audit record $*: $(jq -c '.records[-5:]' "$WORK/audit.json")"
}
has ListServices services UNAUTHENTICATED
jq -e '[.records[] | select(.identityKind == "anonymous")] | length >= 2' "$WORK/audit.json" > /dev/null ||
  fail "anonymous refusals are not audited"
has Apply "taskdefinitions/web, services/web" PERMISSION_DENIED ci-view
has ScaleService services/web OK ci-web
has ScaleService services/db PERMISSION_DENIED ci-web
has RevokeToken "tokens/$accessor" OK
has Join nodes/node-1 OK
has Join nodes/node-1 UNAUTHENTICATED
has Join nodes/node-2 PERMISSION_DENIED
has Connect nodes/node-1 OK node-1
has Connect nodes/node-2 PERMISSION_DENIED node-1
has DeleteNode nodes/node-1 OK
jq -e '[.records[] | select(.method == "Connect" and .outcome == "PERMISSION_DENIED" and
  (.message | contains("was revoked")))] | length > 0' "$WORK/audit.json" > /dev/null ||
  fail "the revoked node's attempt is not audited"
ctl audit --identity ci-web -o json |
  jq -e '.records | length >= 2 and all(.identity == "ci-web")' > /dev/null ||
  fail "gantryctl audit --identity does not filter"
ctl audit --since 1h | matches "PERMISSION_DENIED" || fail "gantryctl audit prints no table"
out=$(as deployer audit 2>&1) && fail "a deployer read the audit log"
[[ $out == *"may not list audit records"* ]] || fail "deployer audit: $out"
[[ $(stat -c %a "$WORK/cp/audit.log") == 600 ]] || fail "audit.log is not mode 0600"
jq -e . "$WORK/cp/audit.log" > /dev/null || fail "audit.log is not JSON lines"
for secret in "$WORK/viewer.token" "$WORK/deployer.token" "$WORK/cp/admin.token" "$WORK/join-bound"; do
  part=$(sed 's/.*_//' "$secret")
  grep -qF "$part" "$WORK/cp/audit.log" "$WORK/audit.json" && fail "a token secret is in the audit log"
done
log "the audit log records changes, refusals and joins, without secrets"
log "PASS"
