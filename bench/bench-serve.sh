#!/usr/bin/env bash
# tidal serve under load, run by `make bench`: wrk on loopback, BENCH_SERVE_SECONDS
# (default 10) per case, each case on both backends of the same HTTP front end:
#   vm      - every request on a microVM reused in place (reset to the function's
#             template after each request);
#   process - every request fork+exec's the function's static musl Linux build
#             (build/examples/NAME.linux), the process-per-request baseline.
# Cases: echo (examples/echo.c) and a compute function (examples/prime_count.c, primes
# below 200000) at low load (1 connection): throughput and p50/p99 latency (wrk's
# latency distribution: p50 is the median request); then echo with 200 concurrent
# connections: throughput, errors (socket errors, answers slower than 10 s, non-2xx
# answers) and requests lost
# (completed by wrk vs counted by the server's /metrics).
# Figures are reported next to their targets, never asserted.
#
# Without a usable /dev/kvm it prints `BENCH-SKIP serve: ...` and exits 0.
# --nested (or TIDAL_BENCH_NESTED=1) runs it inside ci/kvm-in-qemu: a check of the
# benchmark only; emulated figures mean nothing (and the 200-connection case on one
# emulated CPU mostly measures QEMU).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. bench/lib.sh

bench_init serve figures "$@"
seconds=${BENCH_SERVE_SECONDS:-10}
tidal=build/tidal
probe=build/bench/bringup
bench_require build/bench/bringup "$tidal" "$probe" build/examples/echo.elf \
    build/examples/echo.linux build/examples/prime_count.elf build/examples/prime_count.linux
command -v wrk > /dev/null || { echo "bench-serve: wrk is missing (make deps installs it)" >&2; exit 1; }

bench_hand_off_nested BENCH_SERVE_SECONDS="$seconds"
bench_skip_without_kvm "$probe"
bench_begin

echo "== serve benchmarks$label"
echo "host: $(uname -r), $(nproc) CPUs; wrk $seconds s per case on 127.0.0.1"

cat > "$tmp/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.body = os.getenv("BENCH_BODY")
LUA

server_pid=""
stop_server() {
    if [ -n "$server_pid" ]; then
        kill -TERM "$server_pid" 2> /dev/null || true
        wait "$server_pid" 2> /dev/null || true
        server_pid=""
    fi
}
trap 'stop_server; rm -rf "$tmp"' EXIT

# start_server BACKEND: both functions, in their vm or process build; sets port.
start_server() {
    local ext=elf
    [ "$1" = process ] && ext=linux
    "$tidal" serve --listen 127.0.0.1:0 --backend "$1" \
        --function "echo=build/examples/echo.$ext" \
        --function "compute=build/examples/prime_count.$ext" 2> "$tmp/server.log" &
    server_pid=$!
    port=""
    for _ in $(seq 1 3000); do
        port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$tmp/server.log")
        [ -n "$port" ] && return 0
        kill -0 "$server_pid" 2> /dev/null || break
        sleep 0.05
    done
    echo "bench-serve: the $1 server did not start:" >&2
    cat "$tmp/server.log" >&2
    exit 1
}

# wrk's latency percentile P ("50%", "99%") from its --latency output, in ms.
wrk_ms() {
    awk -v p="$2" '$1 == p {
        v = $2; unit = v; sub(/[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v)
        print (unit == "us") ? v / 1000 : (unit == "s") ? v * 1000 : v }' "$1"
}
wrk_rps() { awk '/^Requests\/sec:/ { print $2 }' "$1"; }
wrk_completed() { awk '/requests in/ { print $1 }' "$1"; }
wrk_errors() {
    awk '/Socket errors:/ { for (i = 3; i <= NF; i++) { gsub(/,/, "", $i); if ($i ~ /^[0-9]+$/) e += $i } }
         /Non-2xx or 3xx responses:/ { e += $NF } END { print e + 0 }' "$1"
}
server_ok_count() {
    curl -s "http://127.0.0.1:$port/metrics" |
        awk -v f="$1" '$1 == "tidal_invocations_total{function=\"" f "\",outcome=\"ok\"}" { print $2 }'
}

# run_case BACKEND FUNCTION BODY CONNECTIONS THREADS: one wrk run; BENCH lines.
run_case() {
    local backend=$1 fn=$2 body=$3 conns=$4 threads=$5 out="$tmp/wrk.$1.$2.$4" before
    before=$(server_ok_count "$fn")
    BENCH_BODY=$body wrk -t"$threads" -c"$conns" -d"${seconds}s" --timeout 10s --latency \
        -s "$tmp/post.lua" \
        "http://127.0.0.1:$port/v1/functions/$fn/invoke" > "$out"
    local name="serve_${fn}_${backend}_c${conns}"
    echo "BENCH ${name}_rps $(wrk_rps "$out") req/s"
    echo "BENCH ${name}_p50 $(wrk_ms "$out" 50%) ms"
    echo "BENCH ${name}_p99 $(wrk_ms "$out" 99%) ms"
    if [ "$conns" -gt 1 ]; then
        local done served
        done=$(wrk_completed "$out")
        served=$(($(server_ok_count "$fn") - before))
        echo "BENCH ${name}_errors $(wrk_errors "$out") requests"
        # wrk stops with requests in flight that it does not count: the server may have
        # answered up to one per connection more than wrk reports, never fewer.
        echo "BENCH ${name}_lost $((done > served ? done - served : 0)) requests"
    fi
}

for backend in vm process; do
    start_server "$backend"
    echo "-- $backend backend ($(grep -c ' ready (' "$tmp/server.log") functions registered)"
    run_case "$backend" echo "hello from wrk" 1 1
    run_case "$backend" compute 200000 1 1
    run_case "$backend" echo "hello from wrk" 200 2
    stop_server
done

echo "-- summary (vm vs process, same script, same front end)"
summary() {
    local fn=$1 conns=$2
    local vm_rps proc_rps
    vm_rps=$(wrk_rps "$tmp/wrk.vm.$fn.$conns")
    proc_rps=$(wrk_rps "$tmp/wrk.process.$fn.$conns")
    printf '%-8s c=%-3s vm %9s req/s p50 %7s ms p99 %7s ms | process %9s req/s p50 %7s ms p99 %7s ms | throughput ratio vm/process %s\n' \
        "$fn" "$conns" "$vm_rps" "$(wrk_ms "$tmp/wrk.vm.$fn.$conns" 50%)" "$(wrk_ms "$tmp/wrk.vm.$fn.$conns" 99%)" \
        "$proc_rps" "$(wrk_ms "$tmp/wrk.process.$fn.$conns" 50%)" "$(wrk_ms "$tmp/wrk.process.$fn.$conns" 99%)" \
        "$(awk -v a="$vm_rps" -v b="$proc_rps" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')"
}
summary echo 1
summary compute 1
summary echo 200
# Throughput ratio vm/process of a case.
rps_ratio() {
    awk -v a="$(wrk_rps "$tmp/wrk.vm.$1.$2")" -v b="$(wrk_rps "$tmp/wrk.process.$1.$2")" \
        'BEGIN { printf "%.3f", (b > 0) ? a / b : 0 }'
}
echo "BENCH serve_echo_rps_ratio_vm_over_process $(rps_ratio echo 1) x"
echo "BENCH serve_compute_rps_ratio_vm_over_process $(rps_ratio compute 1) x"
echo "BENCH serve_echo_c200_rps_ratio_vm_over_process $(rps_ratio echo 200) x"
p50=$(wrk_ms "$tmp/wrk.vm.echo.1" 50%)
echo "target: echo p50 <= 0.15 ms at 1 connection: $p50 ms -> $(verdict "$p50" '<=' 0.15)"
echo "target: echo throughput >= 3x process-per-request at 1 connection: $(rps_ratio echo 1) -> $(verdict "$(rps_ratio echo 1)" '>=' 3)"
echo "target: echo throughput >= 3x process-per-request at 200 connections: $(rps_ratio echo 200) -> $(verdict "$(rps_ratio echo 200)" '>=' 3)"
echo "target: compute throughput >= process-per-request: $(rps_ratio compute 1) -> $(verdict "$(rps_ratio compute 1)" '>=' 1)"
errs=$(wrk_errors "$tmp/wrk.vm.echo.200")
echo "target: 200 connections, no error: $errs errors -> $(verdict "$errs" '<=' 0)"
