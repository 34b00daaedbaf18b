#!/usr/bin/env bash
# End-to-end test of high availability with the real binaries: three etcd
# members (Debian's etcd-server, TLS with client certificates only), three
# control plane replicas on them sharing one PKI, and two agents that know
# all three. While writes go on through gantryctl, the Gantry leader is
# killed with kill -9: another replica takes over (the time until a new
# service's tasks are placed is measured and printed), every acknowledged
# write is there, no container was restarted (same containerd task PIDs).
# Then the etcd leader member is killed, and the Gantry leader is frozen
# (SIGSTOP) past its lease and resumed: it writes nothing, steps down and
# comes back as a follower, and no task is duplicated.
#
# usage: ha_test.sh BIN_DIR
set -euo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
command -v etcd > /dev/null || fail "etcd is missing; run deploy/install-deps.sh"

# shellcheck source=ha_lib.sh
source "$(dirname "$0")/ha_lib.sh"
ha_start_replicas 2
[[ $(leader) == cp1 ]] || fail "cp1 started first but does not lead: $(any get controlplanes)"
any get controlplanes
log "three replicas on one etcd, cp1 leads"

e2e_start_agent 1 a --containerd-namespace "$NS"
e2e_start_agent 2 b --containerd-namespace "$NS"
have_connected_any() { [[ $(any get nodes -o json | jq '[.nodes[]? | select(.connected)] | length') == "$1" ]]; }
gantry_wait_for 30 have_connected_any 2 || fail "agents did not reach the leader"
any apply -f "$WORK/web.yaml" > /dev/null
running_any() { [[ $(any get tasks -o json | jq '[.tasks[]? | select(.lastStatus == "RUNNING")] | length') == "$1" ]]; }
gantry_wait_for 90 running_any 3 || fail "web did not start: $(any get tasks 2>&1)"
task_pids() {
  local ns
  for ns in $(ctr --address "$CONTAINERD_SOCK" namespaces list -q); do
    ctr --address "$CONTAINERD_SOCK" -n "$ns" tasks list -q 2> /dev/null | while read -r id; do
      ctr --address "$CONTAINERD_SOCK" -n "$ns" tasks list 2> /dev/null | awk -v id="$id" '$1 == id {print id, $2}'
    done
  done | sort
}
before=$(task_pids)
[[ $(wc -l <<< "$before") -ge 3 ]] || fail "expected 3 containerd tasks: $before"
log "web runs 3 tasks through the leader"

# --- A write loop through gantryctl while the leader is killed with kill -9:
# each acknowledged write is recorded in $WORK/acked.
write_loop() {
  local i
  for i in $(seq 1 "$1"); do
    sed -e "s/\bweb\b/w$2-$i/g" -e 's/desiredCount: [0-9]*/desiredCount: 0/' \
      "$WORK/web.yaml" > "$WORK/w$2.yaml"
    if any apply -f "$WORK/w$2.yaml" > /dev/null 2>&1; then echo "w$2-$i" >> "$WORK/acked"; fi
  done
}
write_loop 5 a
write_loop 20 b &
writer=$!
leader_name=$(leader)
leader_index=${leader_name#cp}
kill -9 "${CP_PIDS[$leader_index]}"
killed_at=$(date +%s.%N)
# The new leader acts: a new service's task gets placed.
sed -e 's/\bweb\b/after/g' -e 's/desiredCount: [0-9]*/desiredCount: 1/' "$WORK/web.yaml" > "$WORK/after.yaml"
until any apply -f "$WORK/after.yaml" > /dev/null 2>&1; do sleep 0.1; done
placed() { any get tasks --service after -o json | jq -e '[.tasks[]? | select(.node != "")] | length == 1' > /dev/null; }
gantry_wait_for 30 placed || fail "no replica took over: $(any get controlplanes 2>&1)"
placed_at=$(date +%s.%N)
log "failover: kill -9 of the leader to the first placement by the new leader: $(awk -v a="$placed_at" -v b="$killed_at" 'BEGIN {printf "%.2f", a - b}') s"
new_leader=$(leader)
[[ -n $new_leader && $new_leader != "$leader_name" ]] || fail "no new leader: $(any get controlplanes)"
wait "$writer"
services=$(any get services -o json | jq -r '.services[].name')
while read -r name; do
  grep -qxF "$name" <<< "$services" || fail "acknowledged write $name is gone"
done < "$WORK/acked"
log "$(wc -l < "$WORK/acked") of 25 writes acknowledged, all there; $new_leader leads"
gantry_wait_for 30 have_connected_any 2 || fail "agents did not follow the new leader"
gantry_wait_for 30 running_any 4 || fail "tasks are not all running after the failover"
after=$(task_pids)
while read -r line; do
  grep -qxF "$line" <<< "$after" || fail "container restarted by the failover: $line (now: $after)"
done <<< "$before"
log "no container was restarted (same containerd task PIDs)"
# The killed replica comes back as a follower.
start_replica "$leader_index"
gantry_wait_for 30 replicas_up || fail "the killed replica did not come back"

# --- The etcd leader member is killed.
etcd_leader=$(ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --cacert "$certs/ca.pem" \
  --cert "$certs/client.pem" --key "$certs/client.key" endpoint status -w json |
  jq -r '.[] | select(.Status.leader == .Status.header.member_id) | .Endpoint')
[[ -n $etcd_leader ]] || fail "no etcd leader found"
member=
for i in "${!ETCD_CLIENT_PORTS[@]}"; do
  if [[ ${ETCD_CLIENT_PORTS[i]} == "${etcd_leader##*:}" ]]; then member=$ETCD_DIR/m$((i + 1)); fi
done
[[ -n $member ]] || fail "cannot find the etcd member for $etcd_leader"
kill -9 "$(cat "$member/etcd.pid")"
rm -f "$member/etcd.pid"
sed -e 's/\bweb\b/after-etcd/g' -e 's/desiredCount: [0-9]*/desiredCount: 1/' "$WORK/web.yaml" > "$WORK/after-etcd.yaml"
gantry_wait_for 30 any apply -f "$WORK/after-etcd.yaml" || fail "no writes after the etcd leader died"
placed_etcd() { any get tasks --service after-etcd -o json | jq -e '[.tasks[]? | select(.lastStatus == "RUNNING")] | length == 1' > /dev/null; }
gantry_wait_for 60 placed_etcd || fail "nothing placed after the etcd leader died"
log "the etcd leader member died ($etcd_leader); two members carry on"

# --- The Gantry leader frozen past its lease, then resumed.
frozen=$(leader)
frozen_index=${frozen#cp}
frozen_pid=${CP_PIDS[$frozen_index]}
kill -STOP "$frozen_pid"
sleep 6  # three leases
took_over() { local l; l=$(leader); [[ -n $l && $l != "$frozen" ]]; }
gantry_wait_for 30 took_over || fail "nobody took over from the frozen leader"
any scale service web --count 4 > /dev/null
kill -CONT "$frozen_pid"
gantry_wait_for 20 matches "lost the leadership; restarting as a follower" "$(log_of "$frozen_index")" ||
  fail "the resumed leader did not step down"
gantry_wait_for 30 running_any 6 || fail "web did not reach 4 tasks (and after, after-etcd 1 each)"
sleep 3  # let a duplicate show, if the resumed leader placed any
web_tasks=$(any get tasks --service web -o json | jq '[.tasks[]? | select(.desiredStatus == "RUNNING")] | length')
[[ $web_tasks == 4 ]] || fail "web has $web_tasks tasks meant to run, not 4: duplicated?"
if matches "placed .* task(s) of web" <(sed -n '/lost the leadership/,$p' "$(log_of "$frozen_index")"); then
  fail "the resumed leader placed tasks after stepping down"
fi
gantry_wait_for 30 replicas_up || fail "the resumed replica did not rejoin as a follower"
[[ $(kill -0 "$frozen_pid" 2> /dev/null && echo alive) == alive ]] || fail "the resumed replica died"
log "a frozen leader was replaced, wrote nothing after resuming, and rejoined as a follower"
log "PASS"
