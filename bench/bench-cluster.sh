#!/usr/bin/env bash
# Cluster benchmark, run by `make bench`, on one machine against a real etcd (Debian's
# /usr/bin/etcd, one member on 127.0.0.1):
#   1. The leader's planning round at BENCH_CLUSTER_VMS VMs on 3 hosts
#      (build/bench/cluster-bench, no VM booted): the round that places them all, a
#      steady round, the round after a host's lease is revoked, each with its etcd
#      requests; beside them the floor every round pays, the four range reads alone.
#   2. Failover time: 3 host daemons (on 127.0.0.1, peer ports of their own, lease ttl
#      BENCH_CLUSTER_TTL s), a heartbeat service; its host is killed (kill -9) and the
#      time until the service runs on another host is measured from the kill,
#      BENCH_CLUSTER_FAILOVERS times (median). Its baseline is the lease ttl: no
#      failover can be faster than the lease the dead host held.
#
# Without a usable /dev/kvm, part 2 prints BENCH-SKIP; without etcd, the whole
# benchmark does (`make deps` installs it).
#
# Environment: BENCH_CLUSTER_VMS (default 1000), BENCH_CLUSTER_TTL (default 3),
# BENCH_CLUSTER_FAILOVERS (default 3).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. bench/lib.sh

bench_init cluster figures "$@"
vms=${BENCH_CLUSTER_VMS:-1000}
ttl=${BENCH_CLUSTER_TTL:-3}
failovers=${BENCH_CLUSTER_FAILOVERS:-3}
tidal=build/tidal
bench_require build/bench/cluster-bench "$tidal" build/bench/cluster-bench build/bench/bringup
if [ ! -x /usr/bin/etcd ]; then
    echo "BENCH-SKIP cluster: /usr/bin/etcd is not installed (make deps installs etcd-server)"
    exit 0
fi
bench_begin

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cport=$(free_port)
pport=$(free_port)
endpoint=http://127.0.0.1:$cport
etcd --name b0 --data-dir "$tmp/etcd" --listen-client-urls "$endpoint" \
    --advertise-client-urls "$endpoint" --listen-peer-urls "http://127.0.0.1:$pport" \
    --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "b0=http://127.0.0.1:$pport" --heartbeat-interval 50 \
    --election-timeout 500 >"$tmp/etcd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    curl -fs "$endpoint/health" 2>/dev/null | grep -q true && break
    sleep 0.1
done

echo "== cluster benchmarks$label"
echo "host: $(uname -r), $(nproc) CPUs; etcd $(etcd --version | head -1 | awk '{print $3}'), one member on 127.0.0.1"
build/bench/cluster-bench -e "$endpoint" -n "$vms" -H 3

if ! build/bench/bringup --probe >/dev/null 2>&1; then
    echo "BENCH-SKIP cluster_failover: /dev/kvm missing or unusable"
    exit 0
fi

# ---- failover ----
api() { curl -s --unix-socket "$tmp/$1.sock" -X "$2" ${3:+-d "$3"} "http://tidal$4"; }
start_host() {
    local h=$1 port
    port=$(free_port)
    "$tidal" daemon --state-dir "$tmp/$h" --socket "$tmp/$h.sock" --etcd "$endpoint" \
        --store "$tmp/store" --host "$h" --advertise 127.0.0.1 --peer-port "$port" \
        --lease-ttl "$ttl" --checkpoint-interval 1 2>"$tmp/$h.err" &
    eval "pid_$h=$!"
    pids+=($!)
    for _ in $(seq 200); do [ -S "$tmp/$h.sock" ] && break; sleep 0.05; done
}
# owner VM: the host the cluster view says runs VM, when it is running
owner() {
    api "$1" GET "" /v1/cluster | python3 -c '
import json, sys
try:
    o = json.load(sys.stdin)
except ValueError:
    sys.exit(0)
for v in o.get("vms", []):
    if v["name"] == sys.argv[1] and v["state"] == "running":
        print(v["host"])' "$2"
}
now() { date +%s.%N; }

for h in n0 n1 n2; do start_host "$h"; done
times=()
alive=(n0 n1 n2)
next=3
for round in $(seq "$failovers"); do
    vm=beat$round
    api "${alive[0]}" POST "{\"name\":\"$vm\",\"image\":\"$root/build/tests/guests/heartbeat.elf\",\"mem\":\"16M\"}" /v1/vms >/dev/null
    host=""
    for _ in $(seq 300); do host=$(owner "${alive[0]}" "$vm"); [ -n "$host" ] && break; sleep 0.05; done
    [ -n "$host" ] || { echo "bench-cluster: $vm did not start" >&2; exit 1; }
    sleep 1.5 # a checkpoint or two
    pid_var=pid_$host
    t0=$(now)
    kill -9 "${!pid_var}"
    wait "${!pid_var}" 2>/dev/null || true
    survivors=()
    for h in "${alive[@]}"; do [ "$h" != "$host" ] && survivors+=("$h"); done
    moved=""
    for _ in $(seq 1200); do
        moved=$(owner "${survivors[0]}" "$vm")
        [ -n "$moved" ] && [ "$moved" != "$host" ] && break
        sleep 0.02
    done
    t1=$(now)
    [ -n "$moved" ] && [ "$moved" != "$host" ] || { echo "bench-cluster: $vm did not move" >&2; exit 1; }
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')")
    # a new host takes the dead one's place, so that three stay
    replacement=n$next
    next=$((next + 1))
    start_host "$replacement"
    alive=("${survivors[@]}" "$replacement")
done
med=$(printf '%s\n' "${times[@]}" | median)
echo
echo "failover: kill -9 of a service's host until it runs on another (lease ttl $ttl s), $failovers rounds: ${times[*]} s"
echo "BENCH cluster_failover_s $med s"
echo "BENCH cluster_failover_vs_ttl $(awk -v m="$med" -v t="$ttl" 'BEGIN { printf "%.2f", m / t }') x"
