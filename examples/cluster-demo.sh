#!/usr/bin/env bash
# Part of `make demo`: a cluster of three hosts on this machine (three daemons on
# 127.0.0.1 with peer ports of their own, one etcd, a common snapshot store), three
# kv services placed by the leader, a value written into one of them; then the host
# that runs the most of them is killed (kill -9), and its services come back on the
# other two from their latest snapshots, the written value with them.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
show() {
    echo
    echo "\$ $*"
    "$@"
}

cport=$(free_port)
pport=$(free_port)
etcd_url=http://127.0.0.1:$cport
echo
echo "\$ etcd --listen-client-urls $etcd_url ... &    # the cluster's store (Debian's etcd-server)"
etcd --name demo --data-dir "$dir/etcd" --listen-client-urls "$etcd_url" \
    --advertise-client-urls "$etcd_url" --listen-peer-urls "http://127.0.0.1:$pport" \
    --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "demo=http://127.0.0.1:$pport" --heartbeat-interval 50 \
    --election-timeout 500 >"$dir/etcd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    curl -fs "$etcd_url/health" 2>/dev/null | grep -q true && break
    sleep 0.1
done

declare -A pid_of
for h in node1 node2 node3; do
    port=$(free_port)
    echo "\$ build/tidal daemon --state-dir $dir/$h --socket $dir/$h.sock --etcd $etcd_url --store $dir/store --host $h --advertise 127.0.0.1 --peer-port $port --lease-ttl 3 --checkpoint-interval 1 &"
    build/tidal daemon --state-dir "$dir/$h" --socket "$dir/$h.sock" --etcd "$etcd_url" \
        --store "$dir/store" --host "$h" --advertise 127.0.0.1 --peer-port "$port" \
        --lease-ttl 3 --checkpoint-interval 1 2>"$dir/$h.err" &
    pid_of[$h]=$!
    pids+=($!)
done
for h in node1 node2 node3; do
    for _ in $(seq 200); do [ -S "$dir/$h.sock" ] && break; sleep 0.05; done
done

export TIDAL_SOCKET=$dir/node1.sock
for s in web-1 web-2 web-3; do
    show build/tidal vm create --name "$s" build/examples/kv.elf --mem 16M
done
# running VMs per host, from the cluster's view
owners() {
    curl -s --unix-socket "$TIDAL_SOCKET" http://tidal/v1/cluster | python3 -c '
import json, sys
for v in json.load(sys.stdin)["vms"]:
    if v["state"] == "running":
        print(v["host"], v["name"])'
}
for _ in $(seq 200); do [ "$(owners | wc -l)" = 3 ] && break; sleep 0.05; done
show build/tidal ps --cluster

victim=$(owners | awk '{ n[$1]++ } END { for (h in n) if (n[h] > best) { best = n[h]; v = h }; print v }')
first=$(owners | awk -v h="$victim" '$1 == h { print $2; exit }')
echo
echo "(writing into $first on $victim, then waiting for its checkpoint)"
TIDAL_SOCKET=$dir/$victim.sock build/tidal vm input "$first" tide=42
sleep 1.5
TIDAL_SOCKET=$dir/$victim.sock build/tidal vm console "$first"

survivor=node1
[ "$victim" = node1 ] && survivor=node2
export TIDAL_SOCKET=$dir/$survivor.sock
echo
echo "\$ kill -9 <$victim's daemon>"
kill -9 "${pid_of[$victim]}"
wait "${pid_of[$victim]}" 2>/dev/null || true
t0=$(date +%s.%N)
for _ in $(seq 600); do
    moved=$(owners | awk -v h="$victim" '$1 != h' | wc -l)
    [ "$moved" = 3 ] && break
    sleep 0.05
done
echo "(all three running again $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after the kill, with a lease of 3 s)"
show build/tidal ps --cluster
owner=$(owners | awk -v n="$first" '$2 == n { print $1 }')
echo
echo "(reading the value back from $first, now on $owner)"
TIDAL_SOCKET=$dir/$owner.sock build/tidal vm input "$first" tide
sleep 0.5
TIDAL_SOCKET=$dir/$owner.sock build/tidal vm console "$first"
