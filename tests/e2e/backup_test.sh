#!/usr/bin/env bash
# End-to-end test of backup, restore and migration with the real binaries:
# gantryctl snapshot save (admin only, 0600), gantry-controlplane restore
# into a new data dir with the cluster's PKI (and not over a used store, nor
# with another cluster's PKI), and gantry-controlplane migrate of the SQLite
# store into etcd (Debian's etcd-server, TLS with client certificates),
# where a control plane then serves the same cluster.
#
# usage: backup_test.sh BIN_DIR
set -euo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
command -v etcd > /dev/null || fail "etcd is missing; run deploy/install-deps.sh"

PORT=$(gantry_free_port)
e2e_start_cp --no-pin-digests
sed -e 's/desiredCount: [0-9]*/desiredCount: 0/' "$ROOT/deploy/examples/web.yaml" > "$WORK/web.yaml"
ctl apply -f "$WORK/web.yaml" > /dev/null
(umask 077 && ctl token create --role viewer --description backup-view > "$WORK/viewer.token")

# --- Save: admin only, a file only root reads.
out=$("$BIN/gantryctl" --config /dev/null --server "127.0.0.1:$PORT" --tls-ca "$CA" \
  --token-file "$WORK/viewer.token" snapshot save "$WORK/nope.snap" 2>&1) &&
  fail "a viewer saved a snapshot"
[[ $out == *"may not create"* ]] || fail "viewer snapshot: $out"
ctl snapshot save "$WORK/state.snap" | matches "saved .* keys of cluster" || fail "snapshot save"
[[ $(stat -c %a "$WORK/state.snap") == 600 ]] || fail "the snapshot is not mode 0600"
ctl audit -o json | jq -e '.records[] | select(.method == "SaveSnapshot")' > /dev/null ||
  fail "the snapshot is not in the audit log"
kill "$CP_PID"
wait "$CP_PID" || true
CP_PID=
log "snapshot saved by the admin only, 0600, audited"

# --- Restore: into a new data dir with the cluster's pki; never over a store.
restore() { "$BIN/gantry-controlplane" restore --from "$WORK/state.snap" "$@"; }
out=$(restore --data-dir "$WORK/cp" 2>&1) && fail "restored over a used store"
[[ $out == *"is not empty"* ]] || fail "restore over a store: $out"
out=$(restore --data-dir "$WORK/bare" 2>&1) && fail "restored without the pki"
[[ $out == *"holds no cluster PKI"* ]] || fail "restore without pki: $out"
mkdir -p "$WORK/restored"
cp -a "$WORK/cp/pki" "$WORK/restored/pki"
restore --data-dir "$WORK/restored" | matches "restored .* keys" || fail "restore"
port2=$(gantry_free_port)
"$BIN/gantry-controlplane" --listen "127.0.0.1:$port2" --data-dir "$WORK/restored" \
  --http-listen off --no-pin-digests >> "$WORK/restored.log" 2>&1 &
EXTRA_PIDS+=($!)
restored() { ctl --server "127.0.0.1:$port2" get services -o json | jq -e '.services[] | select(.name == "web")' > /dev/null; }
gantry_wait_for 20 restored || fail "the restored control plane does not have web: $(cat "$WORK/restored.log")"
log "restored into a new data dir; the same admin token and services work there"

# --- Migrate the SQLite store into etcd; a control plane serves it there.
ETCD_DIR=$WORK/etcd
ep=$(gantry_free_port)
gantry_start_etcd "$ETCD_DIR" "$ep" || fail "etcd did not start"
certs=$ETCD_DIR/certs
etcd_flags=(--store "etcd://$ETCD_ENDPOINTS" --etcd-ca "$certs/ca.pem"
  --etcd-cert "$certs/client.pem" --etcd-key "$certs/client.key")
"$BIN/gantry-controlplane" migrate --from-data-dir "$WORK/cp" "${etcd_flags[@]}" |
  matches "restored .* keys" || fail "migrate"
out=$("$BIN/gantry-controlplane" migrate --from-data-dir "$WORK/cp" "${etcd_flags[@]}" 2>&1) &&
  fail "migrated twice into one etcd"
[[ $out == *"is not empty"* ]] || fail "second migrate: $out"
port3=$(gantry_free_port)
"$BIN/gantry-controlplane" --listen "127.0.0.1:$port3" --data-dir "$WORK/cp" --http-listen off \
  --no-pin-digests "${etcd_flags[@]}" >> "$WORK/etcd-cp.log" 2>&1 &
EXTRA_PIDS+=($!)
on_etcd() { ctl --server "127.0.0.1:$port3" get services -o json | jq -e '.services[] | select(.name == "web")' > /dev/null; }
gantry_wait_for 20 on_etcd || fail "the control plane on etcd does not have web: $(cat "$WORK/etcd-cp.log")"
ctl --server "127.0.0.1:$port3" get controlplanes -o json | jq -e '.replicas[0].leader' > /dev/null ||
  fail "the migrated control plane does not lead"
log "migrated into etcd with the same cluster identity"
log "PASS"
