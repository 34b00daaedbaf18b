# Shared shell helpers for Gantry's local cluster and end-to-end tests:
# a private containerd instance, the busybox test image, network namespaces
# on a bridge, and free ports. Source it; every helper stops only what it
# started (by PID) and removes only what it created.

# gantry_start_containerd DIR
# Starts containerd with its root, state and socket under DIR. Sets
# CONTAINERD_PID and CONTAINERD_SOCK.
gantry_start_containerd() {
  local dir=$1
  mkdir -p "$dir/root" "$dir/state"
  cat > "$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"
TOML
  containerd --config "$dir/config.toml" > "$dir/containerd.log" 2>&1 &
  CONTAINERD_PID=$!
  CONTAINERD_SOCK=$dir/containerd.sock
  echo "$CONTAINERD_PID" > "$dir/containerd.pid"
  local i
  for i in $(seq 1 100); do
    if ctr --address "$CONTAINERD_SOCK" version > /dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$CONTAINERD_PID" 2> /dev/null; then
      echo "containerd failed to start; its log:" >&2
      cat "$dir/containerd.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "containerd did not answer on $CONTAINERD_SOCK within 10s" >&2
  return 1
}

# gantry_stop_containerd_namespace DIR NAMESPACE
# Kills and removes every container in NAMESPACE, so no shim outlives the
# daemon started by gantry_start_containerd.
gantry_stop_containerd_namespace() {
  local sock=$1/containerd.sock ns=$2 c i
  for c in $(ctr --address "$sock" -n "$ns" containers list -q 2> /dev/null); do
    ctr --address "$sock" -n "$ns" tasks kill -a -s SIGKILL "$c" > /dev/null 2>&1 || true
  done
  for c in $(ctr --address "$sock" -n "$ns" containers list -q 2> /dev/null); do
    for i in $(seq 1 50); do
      ctr --address "$sock" -n "$ns" tasks delete -f "$c" > /dev/null 2>&1 && break
      ctr --address "$sock" -n "$ns" tasks list -q 2> /dev/null | grep -qx "$c" || break
      sleep 0.1
    done
    ctr --address "$sock" -n "$ns" containers delete "$c" > /dev/null 2>&1 || true
  done
}

# gantry_stop_containerd DIR NAMESPACE
# Removes NAMESPACE's containers, then stops the containerd started by
# gantry_start_containerd and unmounts anything it left under DIR.
gantry_stop_containerd() {
  local dir=$1 ns=$2 pid i
  [[ -f $dir/containerd.pid ]] || return 0
  pid=$(cat "$dir/containerd.pid")
  if kill -0 "$pid" 2> /dev/null; then
    gantry_stop_containerd_namespace "$dir" "$ns"
    kill "$pid" 2> /dev/null || true
    for i in $(seq 1 50); do
      kill -0 "$pid" 2> /dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2> /dev/null || true
  fi
  rm -f "$dir/containerd.pid"
  # Snapshot mounts left by an interrupted run.
  local m
  for m in $(grep -o " $dir/[^ ]*" /proc/mounts 2> /dev/null | sort -r || true); do
    umount -l "$m" 2> /dev/null || true
  done
}

# gantry_import_busybox SOCK NAMESPACE REFERENCE WORKDIR
# Builds the busybox test image and imports (and unpacks) it.
gantry_import_busybox() {
  local sock=$1 ns=$2 ref=$3 work=$4
  local here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  "$here/images/build-busybox-image.sh" "$work/busybox.tar" "$ref" > /dev/null
  ctr --address "$sock" -n "$ns" images import "$work/busybox.tar" > /dev/null
}

# gantry_free_port: prints a TCP port nobody listens on.
gantry_free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 20000))
    if ! ss -Htln "sport = :$port" | grep -q .; then
      echo "$port"
      return
    fi
  done
}

# gantry_wait_for SECONDS COMMAND...: retries COMMAND until it succeeds.
gantry_wait_for() {
  local seconds=$1
  shift
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep 0.2
  done
}

# gantry_start_registry DIR PORT [USER PASSWORD [CERT KEY]]
# Starts Debian's docker-registry on 127.0.0.1:PORT with its storage under
# DIR, requiring HTTP basic authentication when USER is given (pass "" ""
# for none), serving HTTPS with CERT and KEY (PEM files) when they are given.
# Sets REGISTRY_PID; stop it with gantry_stop_registry DIR.
gantry_start_registry() {
  local dir=$1 port=$2 user=${3:-} password=${4:-} cert=${5:-} key=${6:-}
  local url=http://127.0.0.1:$port/v2/
  mkdir -p "$dir/data"
  {
    echo "version: 0.1"
    echo "log: {level: warn}"
    echo "storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}"
    if [[ -n $cert ]]; then
      echo "http: {addr: 127.0.0.1:$port, tls: {certificate: $cert, key: $key}}"
      url=https://127.0.0.1:$port/v2/
    else
      echo "http: {addr: 127.0.0.1:$port}"
    fi
    if [[ -n $user ]]; then
      htpasswd -Bbn "$user" "$password" > "$dir/htpasswd"
      echo "auth: {htpasswd: {realm: gantry, path: $dir/htpasswd}}"
    fi
  } > "$dir/config.yml"
  docker-registry serve "$dir/config.yml" >> "$dir/registry.log" 2>&1 &
  REGISTRY_PID=$!
  echo "$REGISTRY_PID" > "$dir/registry.pid"
  local i
  for i in $(seq 1 100); do
    curl -sk -o /dev/null "$url" && return 0
    if ! kill -0 "$REGISTRY_PID" 2> /dev/null; then
      echo "docker-registry failed to start; its log:" >&2
      cat "$dir/registry.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "docker-registry did not answer on 127.0.0.1:$port within 10s" >&2
  return 1
}

gantry_stop_registry() {
  local dir=$1 pid
  [[ -f $dir/registry.pid ]] || return 0
  pid=$(cat "$dir/registry.pid")
  kill "$pid" 2> /dev/null || true
  local i
  for i in $(seq 1 50); do
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
  done
  rm -f "$dir/registry.pid"
}

# gantry_push_image ARCHIVE REFERENCE [USER:PASSWORD]
# Pushes an OCI archive to a registry with skopeo (plain HTTP, or HTTPS
# without verifying its certificate).
gantry_push_image() {
  local archive=$1 ref=$2 creds=${3:-}
  local args=(--dest-tls-verify=false)
  [[ -n $creds ]] && args+=(--dest-creds "$creds")
  skopeo copy --quiet "${args[@]}" "oci-archive:$archive" "docker://$ref" > /dev/null
}
