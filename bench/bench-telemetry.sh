#!/usr/bin/env bash
# Telemetry benchmark, run by `make bench`: what the kvm tracepoint counters behind
# `tidal top` cost a busy guest. exit_storm makes exits to the monitor as fast as it
# can for BENCH_STORM_SEC seconds; its exit round trips per second are measured with
# tracing off and on (a `tidal top` holding the BPF programs attached, counting
# every VM on the host), interleaved round by round; medians, their ratio, and
# the median of each round's own on/off ratio.
# Figures are reported next to their target (on/off >= 0.95), never asserted.
#
# Without a usable /dev/kvm it prints `BENCH-SKIP telemetry: ...`; without BPF
# privileges or BTF, `BENCH-SKIP telemetry: ...` with tidal top's reason.
#
# Environment: BENCH_TELEMETRY_ROUNDS (default 11), BENCH_STORM_SEC (default 1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. bench/lib.sh

bench_init telemetry figures "$@"
rounds=${BENCH_TELEMETRY_ROUNDS:-11}
storm_sec=${BENCH_STORM_SEC:-1}
tidal=build/tidal
bench_require "build/bench/bringup" "$tidal" build/tidal-host build/bench/bringup \
    build/tests/guests/exit_storm.elf
bench_hand_off_nested BENCH_TELEMETRY_ROUNDS="$rounds" BENCH_STORM_SEC="$storm_sec"
bench_skip_without_kvm build/bench/bringup
bench_begin

probe=$("$tidal" top --once --json --interval 0.05 2>&1) || true
if ! grep -q '"source":"bpf"' <<<"$probe"; then
    echo "BENCH-SKIP telemetry: tidal top cannot load its BPF programs here: $probe"
    exit 0
fi

echo "== telemetry benchmarks$label"
echo "-- exit_storm for ${storm_sec}s, tracing off vs on (tidal top attached), $rounds rounds interleaved"
: >"$tmp/off"
: >"$tmp/on"
for ((r = 0; r < rounds; r++)); do
    storm_rate >>"$tmp/off"
    # Attached for the whole storm run, and past it; stopped once the run is done.
    "$tidal" top --once --json --interval $((storm_sec + 30)) >/dev/null 2>&1 &
    top_pid=$!
    sleep 0.5
    storm_rate >>"$tmp/on"
    kill "$top_pid" 2>/dev/null || true
    wait "$top_pid" 2>/dev/null || true
done
off=$(median <"$tmp/off")
on=$(median <"$tmp/on")
ratio=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')
# Each round's on/off pair runs back to back, so its ratio is spared most of the
# drift of a shared machine's load; their median is the figure the target is met by.
paired=$(paste "$tmp/on" "$tmp/off" | awk '{ printf "%.4f\n", $1 / $2 }' | median)
echo "off: $(tr '\n' ' ' <"$tmp/off")"
echo "on:  $(tr '\n' ' ' <"$tmp/on")"
echo "BENCH exit_round_trips_tracing_off $off per_s"
echo "BENCH exit_round_trips_tracing_on $on per_s"
echo "BENCH exit_round_trips_on_off_ratio $ratio x"
echo "BENCH exit_round_trips_on_off_paired_ratio $paired x"
echo "target: on/off >= 0.95 (median of paired rounds): $paired: $(verdict "$paired" ">=" 0.95)"
