#!/usr/bin/env bash
# Checks Gantry's systemd units with `systemd-analyze verify`, pointing their
# ExecStart at the freshly built binaries (verify requires them to exist).
# usage: systemd_units_test.sh SOURCE_DIR BIN_DIR
set -euo pipefail
src=$1
bin=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for unit in gantry-controlplane.service gantry-agent.service gantry-lb.service; do
  sed "s|/usr/local/bin/|$bin/|g" "$src/deploy/systemd/$unit" > "$work/$unit"
done
out=$(systemd-analyze verify "$work"/*.service 2>&1) || {
  echo "$out" >&2
  exit 1
}
# verify exits 0 on some warnings; treat any line about our units as failure.
if grep -E "gantry-(controlplane|agent|lb)\.service" <<< "$out"; then
  exit 1
fi
echo "units verified"
