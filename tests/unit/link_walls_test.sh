#!/usr/bin/env bash
# The binaries link only what they use: the CLI and the load balancer driver
# must not pull in libcurl (registry and Prometheus clients) or prometheus-cpp
# (metrics), and nothing may link civetweb but the daemons that serve HTTP.
set -euo pipefail
bin=${1:?usage: link_walls_test.sh BIN_DIR}
fail=0
for b in gantryctl gantry-lb; do
  libs=$(ldd "$bin/$b")
  for forbidden in libcurl libprometheus-cpp libcivetweb; do
    if grep -q "$forbidden" <<<"$libs"; then
      echo "FAIL: $b links $forbidden:"
      grep "$forbidden" <<<"$libs"
      fail=1
    fi
  done
done
# The daemons do serve HTTP on civetweb.
for b in gantry-controlplane gantry-agent; do
  if ! grep -q libcivetweb <<<"$(ldd "$bin/$b")"; then
    echo "FAIL: $b does not link civetweb (its HTTP endpoints)"
    fail=1
  fi
done
[[ $fail -eq 0 ]] && echo "ok: gantryctl and gantry-lb link neither libcurl nor prometheus-cpp"
exit $fail
