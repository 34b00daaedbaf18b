# Three control plane replicas on three etcd members (TLS, client
# certificates), for the HA end-to-end test and the failover benchmark.
# Source it after lib.sh. ha_start_replicas starts them all (cp1 first,
# which makes the PKI; cp2 and cp3 with a copy of it) with containerd, the
# busybox image ($WORK/web.yaml runs it) and N node namespaces; then:
#   any ARGS...        gantryctl against all three replicas
#   leader             the leading replica's name (cp1, cp2 or cp3)
#   replicas_up        true while all three are up
#   start_replica I    (re)starts replica I
#   log_of I           replica I's log file
# CP_PIDS[I] holds each replica's PID; agents dial all three.

ha_start_replicas() {
  local nodes=$1
  local p1 p2 p3
  p1=$(gantry_free_port) p2=$(gantry_free_port) p3=$(gantry_free_port)
  ETCD_DIR=$WORK/etcd
  gantry_start_etcd "$ETCD_DIR" "$p1" "$p2" "$p3" || fail "etcd did not start"
  certs=$ETCD_DIR/certs
  ETCD_FLAGS=(--store "etcd://$ETCD_ENDPOINTS" --etcd-ca "$certs/ca.pem"
    --etcd-cert "$certs/client.pem" --etcd-key "$certs/client.key")
  log "etcd: $ETCD_ENDPOINTS (TLS, client certificates)"
  PORT=$(gantry_free_port)
  PORTS=([1]=$PORT [2]=$(gantry_free_port) [3]=$(gantry_free_port))
  gantry_start_containerd "$WORK/containerd"
  NS=gantry
  gantry_import_busybox "$CONTAINERD_SOCK" "$NS" example.org/demo/busybox:1 "$WORK"
  sed -e 's|image: .*|image: example.org/demo/busybox:1|' "$ROOT/deploy/examples/web.yaml" > "$WORK/web.yaml"
  e2e_make_nodes "$nodes"
  start_replica 1
  cp -a "$WORK/cp/pki" "$WORK/pki-copy"
  start_replica 2
  start_replica 3
  ALL="127.0.0.1:${PORTS[1]},127.0.0.1:${PORTS[2]},127.0.0.1:${PORTS[3]}"
  CONTROLPLANES=$ALL
  gantry_wait_for 30 replicas_up || fail "three replicas did not come up: $(any get controlplanes 2>&1)"
}

declare -A CP_PIDS=()
start_replica() {
  local i=$1
  if ((i == 1)); then
    # The first keeps lib.sh's layout ($WORK/cp, its log, gantryctl's login).
    e2e_start_cp --no-pin-digests --heartbeat-grace 5s --replica-name cp1 "${ETCD_FLAGS[@]}"
    CP_PIDS[1]=$CP_PID
    return
  fi
  "$BIN/gantry-controlplane" --listen "127.0.0.1:${PORTS[$i]}" --data-dir "$WORK/cp$i" \
    --pki-dir "$WORK/pki-copy" --http-listen off --heartbeat-interval 1s --no-pin-digests \
    --heartbeat-grace 5s --replica-name "cp$i" "${ETCD_FLAGS[@]}" >> "$WORK/cp$i.log" 2>&1 &
  CP_PIDS[$i]=$!
  EXTRA_PIDS+=($!)
}
any() { "$BIN/gantryctl" --config "$WORK/client.yaml" --server "$ALL" "$@"; }
replicas_up() { [[ $(any get controlplanes -o json | jq '[.replicas[] | select(.up)] | length') == 3 ]]; }
leader() { any get controlplanes -o json | jq -r '.replicas[] | select(.leader) | .name'; }
log_of() { if (($1 == 1)); then echo "$WORK/cp.log"; else echo "$WORK/cp$1.log"; fi; }
