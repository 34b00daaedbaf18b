#!/usr/bin/env bash
# Installs the Debian packages, builds, and runs every test: unit,
# integration and end-to-end (real containerd, network namespaces). Each
# end-to-end test starts the services it needs in private temp dirs and
# removes them afterwards. Needs root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ $(id -u) -ne 0 ]]; then
  echo "test.sh: needs root (packages, containerd, network namespaces); try: sudo $0" >&2
  exit 1
fi
bash "$root/deploy/install-deps.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$root/build" -j2
cd "$root/build"
ctest --output-on-failure -L 'unit|integration' -j2
ctest --output-on-failure -L e2e
