# Shell helpers for a local etcd cluster (Debian's etcd-server) behind
# Gantry's high-availability control planes: a private CA, member and client
# certificates, and three members on loopback that speak only TLS and accept
# only clients with a certificate from that CA (anyone else on the host,
# tasks included, gets nowhere). Source it; the helpers stop only what they
# started (by PID) and remove only what they created.

# gantry_etcd_certs DIR
# Makes DIR/ca.pem, DIR/member.{pem,key} (server and peer, for 127.0.0.1
# and localhost) and DIR/client.{pem,key} (the control planes'), EC P-256.
gantry_etcd_certs() {
  local dir=$1
  mkdir -p "$dir"
  chmod 700 "$dir"
  (
    cd "$dir" || exit 1
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
      -keyout ca.key -out ca.pem -subj "/CN=gantry local etcd CA" 2> /dev/null
    local name ext
    for name in member client; do
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$name.key" -out "$name.csr" -subj "/CN=gantry-$name" 2> /dev/null
      if [[ $name == member ]]; then
        ext="subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth"
      else
        ext="extendedKeyUsage=clientAuth"
      fi
      openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
        -out "$name.pem" -extfile <(printf "%b\n" "$ext") 2> /dev/null
      rm -f "$name.csr"
    done
  )
}

# gantry_start_etcd DIR CLIENT_PORT... (one port per member; each member's
# peer port is its client port + 1)
# Starts the members with data, logs and PIDs under DIR (certificates from
# gantry_etcd_certs DIR/certs) and waits until the cluster answers. Sets
# ETCD_ENDPOINTS (HOST:PORT,...), ETCD_PIDS (space-separated) and
# ETCD_CLIENT_PORTS (member i, from 0, listens on ${ETCD_CLIENT_PORTS[i]}).
gantry_start_etcd() {
  local dir=$1
  shift
  local ports=("$@") cluster="" i port certs=$dir/certs
  [[ -f $certs/ca.pem ]] || gantry_etcd_certs "$certs"
  for i in "${!ports[@]}"; do
    cluster+="${cluster:+,}m$((i + 1))=https://127.0.0.1:$((ports[i] + 1))"
  done
  ETCD_ENDPOINTS=""
  ETCD_PIDS=""
  ETCD_CLIENT_PORTS=("${ports[@]}")
  for i in "${!ports[@]}"; do
    port=${ports[i]}
    mkdir -p "$dir/m$((i + 1))"
    chmod 700 "$dir/m$((i + 1))"
    printf '%s\n' --name "m$((i + 1))" --data-dir "$dir/m$((i + 1))/data" \
      --listen-client-urls "https://127.0.0.1:$port" \
      --advertise-client-urls "https://127.0.0.1:$port" \
      --listen-peer-urls "https://127.0.0.1:$((port + 1))" \
      --initial-advertise-peer-urls "https://127.0.0.1:$((port + 1))" \
      --initial-cluster "$cluster" --initial-cluster-state new \
      --cert-file "$certs/member.pem" --key-file "$certs/member.key" \
      --trusted-ca-file "$certs/ca.pem" --client-cert-auth \
      --peer-cert-file "$certs/member.pem" --peer-key-file "$certs/member.key" \
      --peer-trusted-ca-file "$certs/ca.pem" --peer-client-cert-auth \
      --logger zap --log-outputs "$dir/m$((i + 1))/etcd.log" > "$dir/m$((i + 1))/args"
    gantry_start_etcd_member "$dir" $((i + 1))
    ETCD_PIDS+="${ETCD_PIDS:+ }$(cat "$dir/m$((i + 1))/etcd.pid")"
    ETCD_ENDPOINTS+="${ETCD_ENDPOINTS:+,}127.0.0.1:$port"
  done
  etcd_healthy() {
    ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --cacert "$certs/ca.pem" \
      --cert "$certs/client.pem" --key "$certs/client.key" endpoint health > /dev/null 2>&1
  }
  gantry_wait_for 30 etcd_healthy || {
    echo "etcd did not become healthy; see $dir/m*/etcd.log" >&2
    return 1
  }
}

# gantry_start_etcd_member DIR I: (re)starts member I (from 1) of the
# cluster gantry_start_etcd made in DIR, with the flags it was made with (a
# member that has data rejoins with it).
gantry_start_etcd_member() {
  local dir=$1 i=$2 args=()
  mapfile -t args < "$dir/m$i/args"
  setsid etcd "${args[@]}" > /dev/null 2>&1 < /dev/null &
  echo $! > "$dir/m$i/etcd.pid"
}

# gantry_stop_etcd DIR: stops the members gantry_start_etcd started there.
gantry_stop_etcd() {
  local dir=$1 pidfile pid
  for pidfile in "$dir"/m*/etcd.pid; do
    [[ -f $pidfile ]] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2> /dev/null || true
    gantry_wait_for 10 bash -c "! kill -0 $pid 2>/dev/null" || kill -9 "$pid" 2> /dev/null || true
    rm -f "$pidfile"
  done
}
