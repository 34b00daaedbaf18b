#!/usr/bin/env bash
# End-to-end test of a watch that lost its history: a control plane replica
# talks to one etcd member only; that member is down while
# another replica writes and etcd's history is compacted past the
# replica's last revision. When the member resumes, the replica's watch
# cannot replay what it missed: it re-lists (as a Kubernetes informer does)
# and serves the write it never saw as an event. (The member is killed and
# restarted rather than frozen: a restarted member serves clients only once
# it has caught up, compaction included, so the test is deterministic.)
#
# usage: relist_test.sh BIN_DIR
set -euo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
command -v etcd > /dev/null || fail "etcd is missing; run deploy/install-deps.sh"

ETCD_DIR=$WORK/etcd
gantry_start_etcd "$ETCD_DIR" "$(gantry_free_port)" "$(gantry_free_port)" "$(gantry_free_port)" ||
  fail "etcd did not start"
certs=$ETCD_DIR/certs
tls=(--etcd-ca "$certs/ca.pem" --etcd-cert "$certs/client.pem" --etcd-key "$certs/client.key")
m=("${ETCD_CLIENT_PORTS[@]}")
# The leader's replica prefers members 2 and 3; the other knows member 1 only.
PORT=$(gantry_free_port)
e2e_start_cp --no-pin-digests --replica-name cp1 "${tls[@]}" \
  --store "etcd://127.0.0.1:${m[1]},127.0.0.1:${m[2]},127.0.0.1:${m[0]}"
port2=$(gantry_free_port)
"$BIN/gantry-controlplane" --listen "127.0.0.1:$port2" --data-dir "$WORK/cp2" \
  --pki-dir "$WORK/cp/pki" --http-listen off --no-pin-digests --replica-name cp2 "${tls[@]}" \
  --store "etcd://127.0.0.1:${m[0]}" >> "$WORK/cp2.log" 2>&1 &
EXTRA_PIDS+=($!)
sed -e 's/desiredCount: [0-9]*/desiredCount: 0/' "$ROOT/deploy/examples/web.yaml" > "$WORK/web.yaml"
ctl apply -f "$WORK/web.yaml" > /dev/null
via2() { ctl --server "127.0.0.1:$port2" "$@"; }
has() { via2 get services -o json | jq -e --arg n "$1" '.services[]? | select(.name == $n)' > /dev/null; }
gantry_wait_for 20 has web || fail "cp2 does not serve web: $(tail -n 5 "$WORK/cp2.log")"
log "cp2 follows the store through member 1 only"

kill -9 "$(cat "$ETCD_DIR/m1/etcd.pid")"
sed -e 's/\bweb\b/missed/g' "$WORK/web.yaml" > "$WORK/missed.yaml"
gantry_wait_for 30 ctl apply -f "$WORK/missed.yaml" || fail "no writes while member 1 is down"
etcdctl_() {
  ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:${m[1]},127.0.0.1:${m[2]}" --cacert "$certs/ca.pem" \
    --cert "$certs/client.pem" --key "$certs/client.key" "$@"
}
revision=$(etcdctl_ endpoint status -w json | jq '.[0].Status.header.revision')
etcdctl_ compact "$revision" > /dev/null || fail "cannot compact etcd"
gantry_start_etcd_member "$ETCD_DIR" 1
log "wrote 'missed' and compacted etcd to revision $revision while member 1 was down"

gantry_wait_for 60 has missed || fail "cp2 never saw 'missed': $(tail -n 20 "$WORK/cp2.log")"
matches "lost its history .*re-listing" "$WORK/cp2.log" || fail "cp2 did not re-list: $(tail -n 20 "$WORK/cp2.log")"
has web || fail "cp2 lost web in the re-list"
log "cp2's watch lost its history, re-listed, and serves what it missed"
log "PASS"
