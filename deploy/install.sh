#!/usr/bin/env bash
# Installs a built Gantry on this host: binaries in /usr/local/bin, systemd
# units, default configuration in /etc/gantry (existing files are kept), and
# containerd's configuration if the host has none. Does not start anything
# unless --start is given.
#
# usage: deploy/install.sh [--build-dir build] [--role controlplane|agent|lb|both]
#          [--join-token T --ca-hash sha256:...] [--start]
# (both = control plane and agent; lb = gantry-lb with HAProxy). An agent
# joins with the one-time token and CA pin from `gantryctl node join-token
# create`; with --role both --start, the script makes the token itself from
# the control plane's bootstrap admin token.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$here/../build
role=both
start=false
join_token=
ca_hash=
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build=$2; shift 2 ;;
    --role) role=$2; shift 2 ;;
    --start) start=true; shift ;;
    --join-token) join_token=$2; shift 2 ;;
    --ca-hash) ca_hash=$2; shift 2 ;;
    *) echo "install.sh: unknown argument $1 (see the usage line in this script)" >&2; exit 2 ;;
  esac
done
case $role in controlplane | agent | lb | both) ;; *)
  echo "install.sh: --role must be controlplane, agent, lb or both" >&2; exit 2 ;;
esac
if [[ $(id -u) -ne 0 ]]; then
  echo "install.sh: must run as root" >&2
  exit 1
fi
for b in gantry-controlplane gantry-agent gantryctl gantry-lb; do
  if [[ ! -x $build/bin/$b ]]; then
    echo "install.sh: $build/bin/$b not found; build first (cmake -S . -B build -G Ninja && cmake --build build)" >&2
    exit 1
  fi
done

install -d /etc/gantry /usr/local/share/doc/gantry
install -m 0755 "$build/bin/gantryctl" /usr/local/bin/gantryctl
install -m 0644 "$here/../README.md" /usr/local/share/doc/gantry/README.md
units=()
if [[ $role == lb ]]; then
  install -m 0755 "$build/bin/gantry-lb" /usr/local/bin/gantry-lb
  install -m 0644 "$here/systemd/gantry-lb.service" /etc/systemd/system/
  [[ -f /etc/gantry/lb.env ]] || install -m 0644 "$here/config/lb.env" /etc/gantry/
  units+=(gantry-lb.service)
fi
if [[ $role == controlplane || $role == both ]]; then
  install -m 0755 "$build/bin/gantry-controlplane" /usr/local/bin/gantry-controlplane
  install -m 0644 "$here/systemd/gantry-controlplane.service" /etc/systemd/system/
  [[ -f /etc/gantry/controlplane.env ]] || install -m 0644 "$here/config/controlplane.env" /etc/gantry/
  units+=(gantry-controlplane.service)
fi
if [[ $role == agent || $role == both ]]; then
  install -m 0755 "$build/bin/gantry-agent" /usr/local/bin/gantry-agent
  install -m 0644 "$here/systemd/gantry-agent.service" /etc/systemd/system/
  [[ -f /etc/gantry/agent.yaml ]] || install -m 0644 "$here/config/agent.yaml" /etc/gantry/
  if [[ ! -s /etc/containerd/config.toml ]]; then
    install -d /etc/containerd
    install -m 0644 "$here/config/containerd.toml" /etc/containerd/config.toml
  fi
  units+=(gantry-agent.service)
fi
# The agent's join token goes into a file only root reads, never onto a
# command line other users can see.
write_join() {  # TOKEN PIN
  (umask 077 && printf '%s\n' "$1" > /etc/gantry/join-token)
  sed -i -e '/^#\? *joinTokenFile:/d' -e '/^#\? *caHash:/d' /etc/gantry/agent.yaml
  printf 'joinTokenFile: /etc/gantry/join-token\ncaHash: %s\n' "$2" >> /etc/gantry/agent.yaml
}
if [[ -n $join_token ]]; then
  [[ -n $ca_hash ]] || { echo "install.sh: --join-token needs --ca-hash" >&2; exit 2; }
  write_join "$join_token" "$ca_hash"
fi
if command -v systemctl > /dev/null && [[ -d /run/systemd/system ]]; then
  systemctl daemon-reload
  if $start; then
    [[ $role == agent || $role == both ]] && systemctl enable --now containerd.service
    if [[ $role == both && -z $join_token ]]; then
      # One host: start the control plane, log in as its admin, join the agent.
      systemctl enable --now gantry-controlplane.service
      data=/var/lib/gantry/controlplane
      for _ in $(seq 1 100); do [[ -s $data/admin.token ]] && break; sleep 0.2; done
      gantryctl login --server 127.0.0.1:7070 --ca "$data/pki/ca.pem" \
        --token-file "$data/admin.token" --context local > /dev/null
      join=$(gantryctl node join-token create -o json)
      write_join "$(jq -r .token <<< "$join")" "$(jq -r .caHash <<< "$join")"
    fi
    systemctl enable --now "${units[@]}"
  fi
else
  echo "install.sh: systemd is not running here; units are installed but not started"
fi
echo "install.sh: installed ${units[*]}"
