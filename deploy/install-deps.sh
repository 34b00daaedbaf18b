#!/usr/bin/env bash
# Installs Gantry's build and runtime dependencies from Debian 12 packages.
# Idempotent: packages already present are left alone, and apt is not touched
# at all when nothing is missing. With --test it also installs what the
# test suite needs beyond a build: clang and its sanitizer and libFuzzer
# runtimes (deploy/test.sh, tests/fuzz/run.sh).
#
#   deploy/install-deps.sh [--test]
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build ccache pkg-config clang-format
  protobuf-compiler libprotobuf-dev protobuf-compiler-grpc libgrpc++-dev libgrpc-dev
  libabsl-dev libyaml-cpp-dev libspdlog-dev libfmt-dev prometheus-cpp-dev
  libcurl4-openssl-dev libgtest-dev libgmock-dev nlohmann-json3-dev libcli11-dev
  libsqlite3-dev libssl-dev golang-github-containerd-containerd-dev
  golang-github-containerd-cgroups-dev libcivetweb-dev golang-etcd-server-dev
  libnftables-dev
)
RUNTIME_PKGS=(
  containerd runc busybox-static iproute2 curl ca-certificates openssl
  systemd util-linux procps jq wget
  docker-registry skopeo apache2-utils haproxy prometheus python3 etcd-server etcd-client
  containernetworking-plugins nftables
)
TEST_PKGS=(clang clang-14 libclang-rt-14-dev llvm-14)
case ${1:-} in
  "") ;;
  --test) BUILD_PKGS+=("${TEST_PKGS[@]}") ;;
  *)
    echo "install-deps.sh: unknown argument '$1'; usage: $0 [--test]" >&2
    exit 2
    ;;
esac

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: must run as root (it installs Debian packages); try: sudo $0" >&2
  exit 1
fi

missing=()
for p in "${BUILD_PKGS[@]}" "${RUNTIME_PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps.sh: all packages present"
  exit 0
fi

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# --no-install-recommends keeps the machine small. The services we need are
# started by Gantry's own scripts in private directories; policy-rc.d keeps
# the packages' own service units (containerd, docker-registry) from
# starting during installation.
policy=/usr/sbin/policy-rc.d
created_policy=false
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  created_policy=true
fi
status=0
apt-get install -y -q --no-install-recommends "${missing[@]}" || status=$?
if $created_policy; then rm -f "$policy"; fi
exit $status
