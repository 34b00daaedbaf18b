#!/usr/bin/env bash
# A local Gantry cluster on this machine, for trying Gantry out: an OCI
# registry (Debian's docker-registry) holding a freshly built busybox web
# image, a private containerd, the control plane with its embedded store, and
# three agents in zones a, b and c (host network, each with its own dynamic
# port range and its own containerd namespace, as separate hosts would have)
# that pull the image and run the sample web service from
# deploy/examples/web.yaml.
#
# With `up --ha`, the state lives in etcd instead: three etcd members
# (Debian's etcd-server, TLS with client certificates, on 127.0.0.1:2379,
# 22379 and 32379) and three control plane replicas sharing one PKI, on
# 127.0.0.1:$GANTRY_PORT, +100 and +200 (one leads; the agents and gantryctl
# know all three).
#
# usage: deploy/local-cluster.sh up [--ha]|down|status
# Needs root and a build in ./build (deploy/quickstart.sh does both).
# State lives in $GANTRY_LOCAL_DIR (default /var/tmp/gantry-local); the
# control plane listens on 127.0.0.1:$GANTRY_PORT (default 7070) and serves
# metrics and Prometheus discovery on 127.0.0.1:$GANTRY_HTTP_PORT (default
# 7071), the agents' metrics are on 127.0.0.1:7081-7083, the registry on
# 127.0.0.1:$GANTRY_REGISTRY_PORT (default 5000) and, when the prometheus
# package is installed, Prometheus (deploy/prometheus/prometheus.yml) on
# 127.0.0.1:$GANTRY_PROMETHEUS_PORT (default 9090).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=lib/cluster-lib.sh
source "$here/lib/cluster-lib.sh"
# shellcheck source=lib/etcd-lib.sh
source "$here/lib/etcd-lib.sh"
BIN=${GANTRY_BIN:-$root/build/bin}
DIR=${GANTRY_LOCAL_DIR:-/var/tmp/gantry-local}
PORT=${GANTRY_PORT:-7070}
REGISTRY_PORT=${GANTRY_REGISTRY_PORT:-5000}
HTTP_PORT=${GANTRY_HTTP_PORT:-7071}
PROMETHEUS_PORT=${GANTRY_PROMETHEUS_PORT:-9090}
REGISTRY=127.0.0.1:$REGISTRY_PORT
NS=gantry
ETCD_PORTS=(2379 22379 32379)
CP_PORTS=("$PORT" "$((PORT + 100))" "$((PORT + 200))")
SERVERS=127.0.0.1:$PORT
if [[ -f $DIR/ha ]]; then
  SERVERS=127.0.0.1:${CP_PORTS[0]},127.0.0.1:${CP_PORTS[1]},127.0.0.1:${CP_PORTS[2]}
fi
export GANTRY_SERVER=$SERVERS

running() { [[ -f $DIR/$1.pid ]] && kill -0 "$(cat "$DIR/$1.pid")" 2> /dev/null; }

start_bg() {  # name command...: detached from this shell, survives its exit
  local name=$1
  shift
  setsid "$@" >> "$DIR/$name.log" 2>&1 < /dev/null &
  echo $! > "$DIR/$name.pid"
}

up() {
  local ha=false
  [[ ${1:-} == --ha ]] && ha=true
  if [[ $(id -u) -ne 0 ]]; then
    echo "local-cluster: needs root (containerd runs containers); try: sudo $0 up" >&2
    exit 1
  fi
  for b in gantry-controlplane gantry-agent gantryctl; do
    [[ -x $BIN/$b ]] || {
      echo "local-cluster: $BIN/$b is missing; build first (or run deploy/quickstart.sh)" >&2
      exit 1
    }
  done
  if running controlplane; then
    echo "local-cluster: already up (run '$0 down' first to start over)"
    status
    return
  fi
  if ss -Htln "sport = :$PORT" | grep -q .; then
    echo "local-cluster: port $PORT is taken; set GANTRY_PORT to another port" >&2
    exit 1
  fi
  local entry port var
  local ports=("$HTTP_PORT GANTRY_HTTP_PORT" "7081 -" "7082 -" "7083 -")
  command -v prometheus > /dev/null && ports+=("$PROMETHEUS_PORT GANTRY_PROMETHEUS_PORT")
  if $ha; then
    command -v etcd > /dev/null || {
      echo "local-cluster: --ha needs etcd; run deploy/install-deps.sh" >&2
      exit 1
    }
    for port in "${ETCD_PORTS[@]}"; do ports+=("$port -" "$((port + 1)) -"); done
    for port in "${CP_PORTS[@]:1}"; do ports+=("$port -" "$((port + 1)) -"); done
  fi
  for entry in "${ports[@]}"; do
    read -r port var <<< "$entry"
    if ss -Htln "sport = :$port" | grep -q .; then
      if [[ $var == - ]]; then
        echo "local-cluster: port $port (an agent's /metrics, etcd or a replica) is taken; free it first" >&2
      else
        echo "local-cluster: port $port is taken; set $var to another port" >&2
      fi
      exit 1
    fi
  done
  if ss -Htln "sport = :$REGISTRY_PORT" | grep -q .; then
    echo "local-cluster: port $REGISTRY_PORT is taken; set GANTRY_REGISTRY_PORT to another port" >&2
    exit 1
  fi
  mkdir -p "$DIR"
  gantry_start_registry "$DIR/registry" "$REGISTRY_PORT"
  "$here/images/build-busybox-image.sh" "$DIR/web.tar" "$REGISTRY/demo/web:1" > /dev/null
  gantry_push_image "$DIR/web.tar" "$REGISTRY/demo/web:1"
  echo "registry: $REGISTRY, pushed $REGISTRY/demo/web:1 (built from busybox-static)"
  gantry_start_containerd "$DIR/containerd"
  echo "containerd: up ($CONTAINERD_SOCK)"

  local store=()
  if $ha; then
    touch "$DIR/ha"
    gantry_start_etcd "$DIR/etcd" "${ETCD_PORTS[@]}" ||
      { echo "local-cluster: etcd did not start; see $DIR/etcd/m*/etcd.log" >&2; exit 1; }
    echo "etcd: $ETCD_ENDPOINTS (three members, TLS with client certificates)"
    store=(--store "etcd://$ETCD_ENDPOINTS" --etcd-ca "$DIR/etcd/certs/ca.pem"
      --etcd-cert "$DIR/etcd/certs/client.pem" --etcd-key "$DIR/etcd/certs/client.key"
      --replica-name cp1)
    SERVERS=127.0.0.1:${CP_PORTS[0]},127.0.0.1:${CP_PORTS[1]},127.0.0.1:${CP_PORTS[2]}
  fi
  start_bg controlplane "$BIN/gantry-controlplane" --listen "127.0.0.1:$PORT" \
    --data-dir "$DIR/controlplane" --insecure-registry "$REGISTRY" \
    --http-listen "127.0.0.1:$HTTP_PORT" "${store[@]}"
  # Log in with the bootstrap admin token the control plane wrote on its
  # first start (context "local" in ~/.config/gantry/config.yaml).
  cp_up() {
    "$BIN/gantryctl" login --server "$SERVERS" --ca "$DIR/controlplane/pki/ca.pem" \
      --token-file "$DIR/controlplane/admin.token" --context local > /dev/null 2>&1
  }
  if $ha; then
    first_up() { [[ -f $DIR/controlplane/admin.token ]]; }
    gantry_wait_for 20 first_up ||
      { echo "local-cluster: the control plane did not start; see $DIR/controlplane.log" >&2; exit 1; }
    # The other replicas share the first one's identity (a copy of its pki).
    cp -a "$DIR/controlplane/pki" "$DIR/pki-copy"
    local r
    for r in 2 3; do
      start_bg "controlplane$r" "$BIN/gantry-controlplane" --listen "127.0.0.1:${CP_PORTS[$((r - 1))]}" \
        --data-dir "$DIR/controlplane$r" --pki-dir "$DIR/pki-copy" --insecure-registry "$REGISTRY" \
        --http-listen "127.0.0.1:$((HTTP_PORT + (r - 1) * 100))" "${store[@]:0:8}" --replica-name "cp$r"
    done
  fi
  gantry_wait_for 20 cp_up ||
    { echo "local-cluster: the control plane did not start; see $DIR/controlplane.log" >&2; exit 1; }
  echo "gantryctl: logged in as the bootstrap admin (context local)"
  local i zones=(a b c) join pin
  for i in 1 2 3; do
    # Each agent joins with its own one-time token and the CA's pin.
    join=$("$BIN/gantryctl" node join-token create --node-name "local-$i" -o json)
    (umask 077 && jq -r .token <<< "$join" > "$DIR/agent$i.join")
    pin=$(jq -r .caHash <<< "$join")
    start_bg "agent$i" "$BIN/gantry-agent" --controlplane "$SERVERS" \
      --join-token-file "$DIR/agent$i.join" --ca-hash "$pin" \
      --node-name "local-$i" --zone "${zones[$((i - 1))]}" --address 127.0.0.1 \
      --containerd-socket "$CONTAINERD_SOCK" --containerd-namespace "local-$i" \
      --cgroup-parent /gantry-local --data-dir "$DIR/agent$i" \
      --port-range "$((20000 + i * 1000))-$((20999 + i * 1000))" --cpu 1 --memory 1Gi \
      --insecure-registry "$REGISTRY" \
      --min-disk-free-percent 1 --metrics-listen "127.0.0.1:$((7080 + i))" \
      --task-network "gantry_l$i"
  done
  nodes_up() { [[ $("$BIN/gantryctl" get nodes -o json | grep -c '"connected": true') == 3 ]]; }
  gantry_wait_for 30 nodes_up ||
    { echo "local-cluster: agents did not register; see $DIR/agent*.log" >&2; exit 1; }
  if $ha; then
    replicas_up() { [[ $("$BIN/gantryctl" get controlplanes -o json | jq '[.replicas[] | select(.up)] | length') == 3 ]]; }
    gantry_wait_for 30 replicas_up ||
      { echo "local-cluster: the replicas did not all come up; see $DIR/controlplane*.log" >&2; exit 1; }
    "$BIN/gantryctl" get controlplanes
    echo "control planes: $SERVERS (one leads), three agents in zones a, b, c"
  else
    echo "control plane: 127.0.0.1:$PORT, three agents in zones a, b, c"
  fi

  if command -v prometheus > /dev/null; then
    sed "s|127.0.0.1:7071|127.0.0.1:$HTTP_PORT|g" "$root/deploy/prometheus/prometheus.yml" \
      > "$DIR/prometheus.yml"
    start_bg prometheus prometheus --config.file="$DIR/prometheus.yml" \
      --storage.tsdb.path="$DIR/prometheus" --web.listen-address="127.0.0.1:$PROMETHEUS_PORT"
    echo "prometheus: http://127.0.0.1:$PROMETHEUS_PORT (discovers the cluster through the control plane)"
  fi
  sed "s|127.0.0.1:5000/|$REGISTRY/|" "$root/deploy/examples/web.yaml" > "$DIR/web.yaml"
  "$BIN/gantryctl" apply -f "$DIR/web.yaml"
  web_up() { [[ $("$BIN/gantryctl" get tasks -o json | grep -c '"lastStatus": "RUNNING"') == 3 ]]; }
  gantry_wait_for 60 web_up ||
    { echo "local-cluster: the web service did not start; try: $BIN/gantryctl describe service web" >&2; exit 1; }
  echo
  "$BIN/gantryctl" get tasks
  local first
  first=$("$BIN/gantryctl" get tasks -o json | grep -m1 '"hostPort"' | tr -dc '0-9')
  echo
  echo "curl http://127.0.0.1:$first/ says: $(curl -s "http://127.0.0.1:$first/")"
  cat <<TXT

The cluster keeps running. Try:
  export PATH=$BIN:\$PATH          # gantryctl is logged in (context local)
  gantryctl whoami
  gantryctl get nodes
  gantryctl get images
  gantryctl describe service web
  gantryctl scale service web --count 6
  curl -s http://127.0.0.1:$HTTP_PORT/metrics     # the control plane's metrics
  gantryctl apply -f deploy/examples/web-autoscaled.yaml && gantryctl get autoscaling
  gantryctl logs <TASK ID> --follow
  gantryctl delete service web
Stop everything with: $0 down
TXT
}

# Stops every service through the control plane, so each agent undoes its
# tasks' networks (CNI DEL, namespaces, its nftables table) itself.
stop_services() {
  running controlplane || return 0
  local s
  for s in $("$BIN/gantryctl" get services -o json 2> /dev/null | jq -r '.services[]?.name'); do
    "$BIN/gantryctl" delete service "$s" > /dev/null 2>&1 || true
  done
  no_tasks() { [[ $("$BIN/gantryctl" get tasks -o json 2> /dev/null | jq '.tasks | length') == 0 ]]; }
  gantry_wait_for 60 no_tasks || echo "local-cluster: some tasks did not stop; cleaning up by hand" >&2
}

down() {
  local p
  stop_services
  for p in prometheus agent1 agent2 agent3 controlplane controlplane2 controlplane3; do
    if running "$p"; then
      kill "$(cat "$DIR/$p.pid")"
    fi
  done
  for p in prometheus agent1 agent2 agent3 controlplane controlplane2 controlplane3; do
    if [[ -f $DIR/$p.pid ]]; then
      gantry_wait_for 10 bash -c "! kill -0 $(cat "$DIR/$p.pid") 2>/dev/null" || kill -9 "$(cat "$DIR/$p.pid")" 2> /dev/null || true
      rm -f "$DIR/$p.pid"
    fi
  done
  local ns
  for ns in $(ctr --address "$DIR/containerd/containerd.sock" namespaces list -q 2> /dev/null); do
    gantry_stop_containerd_namespace "$DIR/containerd" "$ns"
  done
  gantry_stop_containerd "$DIR/containerd" "$NS"
  gantry_stop_registry "$DIR/registry"
  gantry_stop_etcd "$DIR/etcd"
  # What a task network left behind (an agent killed under its tasks).
  local f i
  for f in "$DIR"/agent*/netns/*; do
    [[ -e $f ]] && { umount "$f" 2> /dev/null || true; }
  done
  for i in 1 2 3; do
    nft delete table ip "gantry_l$i" 2> /dev/null || true
    ip link delete "gantry_l${i}0" 2> /dev/null || true
  done
  for ctrl in /sys/fs/cgroup/*/; do rmdir "${ctrl}gantry-local" 2> /dev/null || true; done
  rmdir /sys/fs/cgroup/gantry-local 2> /dev/null || true
  rm -rf "$DIR"
  echo "local-cluster: down"
}

status() {
  local p
  local names=(controlplane agent1 agent2 agent3 prometheus)
  [[ -f $DIR/ha ]] && names+=(controlplane2 controlplane3)
  for p in "${names[@]}"; do
    if running "$p"; then echo "$p: running (pid $(cat "$DIR/$p.pid"))"; else echo "$p: stopped"; fi
  done
  if [[ -f $DIR/ha ]]; then "$BIN/gantryctl" get controlplanes || true; fi
  if running controlplane; then
    "$BIN/gantryctl" get nodes
    "$BIN/gantryctl" get services
  fi
}

case ${1:-} in
  up) up "${2:-}" ;;
  down) down ;;
  status) status ;;
  *)
    echo "usage: $0 up [--ha]|down|status" >&2
    exit 2
    ;;
esac
