# Shared setup for Gantry's end-to-end tests. Source it after setting BIN
# (the directory holding the built binaries). It creates a private work
# directory, and registers a cleanup that stops exactly the processes it
# started (by PID) and removes the namespaces, bridge, cgroups and files it
# made — also when a test fails.
#
# Provides: e2e_make_nodes N, e2e_start_cp [FLAGS...] (logs gantryctl in
# with the bootstrap admin token), e2e_start_agent I ZONE [FLAGS...] (joins
# with a one-time token), e2e_join_token I, ctl, and polling helpers. The control
# plane's HTTP port (/metrics, discovery) is CP_HTTP_PORT; agent I serves
# /metrics on 127.0.0.1:${AGENT_METRICS[I]}.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../deploy/lib/cluster-lib.sh
source "$ROOT/deploy/lib/cluster-lib.sh"
# shellcheck source=../../deploy/lib/etcd-lib.sh
source "$ROOT/deploy/lib/etcd-lib.sh"

if [[ $(id -u) -ne 0 ]]; then
  echo "e2e: needs root (containerd, network namespaces)" >&2
  exit 1
fi
for tool in containerd ctr runc ip jq curl openssl ss; do
  command -v "$tool" > /dev/null || {
    echo "e2e: $tool is missing; run deploy/install-deps.sh" >&2
    exit 1
  }
done

WORK=$(mktemp -d /tmp/gantry-e2e.XXXXXX)
TAG=$$
BRIDGE=gbr$TAG
SUBNET=10.$((100 + RANDOM % 100)).$((RANDOM % 250))
CGROUP=/gantry-e2e-$TAG
declare -A AGENT_PIDS=()
declare -A AGENT_ARGS=()
declare -A AGENT_METRICS=()  # node index -> its /metrics port
NETNS=()
CP_PID=
CP_ARGS=()
EXTRA_PIDS=()   # more processes a test started (other control plane replicas)
ETCD_DIR=       # set when a test started etcd members (gantry_start_etcd)
CONTROLPLANES=  # what agents dial; default 127.0.0.1:$PORT

log() { echo "e2e: $*"; }
# CMD | matches PATTERN: grep -q that reads all of its input. Under pipefail,
# grep -q leaves at the first match, and a writer that still has output gets
# SIGPIPE and fails the whole pipeline.
matches() { grep "$@" > /dev/null; }
fail() {
  echo "e2e: FAIL: $*" >&2
  exit 1
}

e2e_cleanup() {
  local rc=$?
  set +e
  if ((rc != 0)); then
    echo "---- control plane log (tail)" >&2
    tail -n 40 "$WORK/cp.log" >&2 2> /dev/null
    for i in "${!AGENT_PIDS[@]}"; do
      echo "---- agent $i log (tail)" >&2
      tail -n 20 "$WORK/agent$i.log" >&2 2> /dev/null
    done
  fi
  for pid in "${AGENT_PIDS[@]}" $CP_PID "${EXTRA_PIDS[@]}"; do
    kill -CONT "$pid" 2> /dev/null
    kill "$pid" 2> /dev/null
  done
  for pid in "${AGENT_PIDS[@]}" $CP_PID "${EXTRA_PIDS[@]}"; do
    wait "$pid" 2> /dev/null
  done
  [[ -n $ETCD_DIR ]] && gantry_stop_etcd "$ETCD_DIR"
  # A test that failed while it had containerd stopped: the shims still run
  # its containers, and a containerd started again stops them below.
  if [[ -f $WORK/containerd/containerd.pid ]] &&
    ! kill -0 "$(cat "$WORK/containerd/containerd.pid")" 2> /dev/null; then
    gantry_start_containerd "$WORK/containerd" > /dev/null 2>&1
  fi
  local ns
  for ns in $(ctr --address "$WORK/containerd/containerd.sock" namespaces list -q 2> /dev/null); do
    gantry_stop_containerd_namespace "$WORK/containerd" "$ns"
  done
  gantry_stop_containerd "$WORK/containerd" gantry
  local reg
  for reg in "$WORK"/registry*/; do [[ -d $reg ]] && gantry_stop_registry "${reg%/}"; done
  # The agents' secret tmpfs mounts.
  local mnt
  for mnt in $(findmnt -rn -o TARGET | grep "^$WORK/"); do umount -l "$mnt" 2> /dev/null; done
  for ns in "${NETNS[@]}"; do ip netns delete "$ns" 2> /dev/null; done
  ip link delete "$BRIDGE" 2> /dev/null
  for ctrl in /sys/fs/cgroup/*/; do rmdir "$ctrl${CGROUP#/}" 2> /dev/null; done
  rmdir "/sys/fs/cgroup${CGROUP}" 2> /dev/null
  rm -rf "$WORK"
  exit $rc
}
trap e2e_cleanup EXIT

# Kept for the tests' set-up order: the control plane makes the cluster's
# CA and certificates itself on first start (DATA_DIR/pki).
e2e_make_certs() { :; }

# N network namespaces ("nodes") on a bridge; node i has address SUBNET.(10+i).
e2e_make_nodes() {
  local n=$1 i ns
  ip link add "$BRIDGE" type bridge
  ip addr add "$SUBNET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  for i in $(seq 1 "$n"); do
    ns=gantry-e2e-$TAG-$i
    ip netns add "$ns"
    NETNS+=("$ns")
    ip link add "gv${TAG}h$i" type veth peer name "gv${TAG}c$i"
    ip link set "gv${TAG}c$i" netns "$ns"
    ip link set "gv${TAG}h$i" master "$BRIDGE"
    ip link set "gv${TAG}h$i" up
    ip -n "$ns" addr add "$SUBNET.$((10 + i))/24" dev "gv${TAG}c$i"
    ip -n "$ns" link set "gv${TAG}c$i" up
    ip -n "$ns" link set lo up
  done
}

# gantryctl as the operator logged in with the bootstrap admin token.
ctl() { "$BIN/gantryctl" --config "$WORK/client.yaml" "$@"; }
CA=$WORK/cp/pki/ca.pem

# Starts (or, with the same flags, restarts) the control plane; the first
# start logs gantryctl in with the bootstrap admin token it wrote.
e2e_start_cp() {
  (($# > 0)) && CP_ARGS=("$@")
  [[ -n ${CP_HTTP_PORT:-} ]] || CP_HTTP_PORT=$(gantry_free_port)
  "$BIN/gantry-controlplane" --listen "127.0.0.1:$PORT" --data-dir "$WORK/cp" \
    --http-listen "127.0.0.1:$CP_HTTP_PORT" --heartbeat-interval 1s "${CP_ARGS[@]}" \
    >> "$WORK/cp.log" 2>&1 &
  CP_PID=$!
  cp_up() {
    [[ -f $WORK/client.yaml ]] || "$BIN/gantryctl" --config "$WORK/client.yaml" login \
      --server "127.0.0.1:$PORT" --ca "$CA" --token-file "$WORK/cp/admin.token" \
      > /dev/null 2>&1 || return 1
    ctl get nodes > /dev/null 2>&1
  }
  gantry_wait_for 20 cp_up || fail "control plane did not come up"
}

# A one-time join token for node-I in $WORK/join-I (0600); prints the CA pin.
e2e_join_token() {
  local i=$1 out
  out=$(ctl node join-token create --node-name "node-$i" -o json) || return 1
  (umask 077 && jq -r .token <<< "$out" > "$WORK/join-$i")
  jq -r .caHash <<< "$out"
}

# e2e_start_agent I ZONE [FLAGS...]: node-I in namespace I; a restart with
# no flags reuses the first start's flags. Storage thresholds are off: a
# test machine's disk may be nearly full without anything being wrong.
e2e_start_agent() {
  local i=$1 zone=$2
  shift 2
  (($# > 0)) && AGENT_ARGS[$i]="$*"
  [[ -n ${AGENT_METRICS[$i]:-} ]] || AGENT_METRICS[$i]=$(gantry_free_port)
  # The first start joins with a token; later ones reuse the certificate.
  local join=()
  if [[ ! -f $WORK/agent$i/identity/node.pem ]]; then
    local pin
    pin=$(e2e_join_token "$i") || fail "cannot create a join token for node-$i"
    join=(--join-token-file "$WORK/join-$i" --ca-hash "$pin")
  fi
  # shellcheck disable=SC2086
  "$BIN/gantry-agent" --controlplane "${CONTROLPLANES:-127.0.0.1:$PORT}" --node-name "node-$i" \
    --zone "$zone" \
    --address "$SUBNET.$((10 + i))" --netns "/var/run/netns/${NETNS[$((i - 1))]}" \
    --containerd-socket "$CONTAINERD_SOCK" --cgroup-parent "$CGROUP" \
    --data-dir "$WORK/agent$i" --secrets-dir "$WORK/secrets$i" --cpu 1 --memory 512Mi --port-range 20000-20100 \
    --min-disk-free-percent 0 \
    --min-inodes-free-percent 0 --metrics-listen "127.0.0.1:${AGENT_METRICS[$i]}" \
    "${join[@]}" ${AGENT_ARGS[$i]:-} >> "$WORK/agent$i.log" 2>&1 &
  AGENT_PIDS[$i]=$!
}

tasks_json() { ctl get tasks "$@" -o json; }
running_count() { tasks_json | jq '[.tasks[]? | select(.lastStatus == "RUNNING")] | length'; }
have_running() { [[ $(running_count) == "$1" ]]; }
connected_nodes() { ctl get nodes -o json | jq '[.nodes[]? | select(.connected)] | length'; }
have_connected() { [[ $(connected_nodes) == "$1" ]]; }

# check_http N [SERVICE]: every RUNNING task answers HTTP with "hello ...".
check_http() {
  local expected=$1 service=${2:-} n=0 addr body
  local filter=()
  [[ -n $service ]] && filter=(--service "$service")
  for addr in $(tasks_json "${filter[@]}" | jq -r '.tasks[] | select(.lastStatus == "RUNNING") | .ports[0] | "\(.hostAddress):\(.hostPort)"'); do
    body=$(curl -sf --max-time 5 "http://$addr/") || fail "no HTTP answer from task at $addr"
    [[ $body == hello* ]] || fail "unexpected answer from $addr: $body"
    n=$((n + 1))
  done
  ((n == expected)) || fail "expected $expected tasks answering HTTP, got $n"
}
