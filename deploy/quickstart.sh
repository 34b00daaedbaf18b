#!/usr/bin/env bash
# From a fresh Debian 12 machine to a running local Gantry cluster: installs
# the Debian packages, builds, starts containerd, the control plane and three
# agents, deploys the sample web service and prints its tasks.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/deploy/install-deps.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$root/build" -j2
exec "$root/deploy/local-cluster.sh" up
