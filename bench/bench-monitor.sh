#!/usr/bin/env bash
# Monitor benchmarks, run by `make bench` (which builds build/tidal, the examples and
# build/bench/{proc-timer,bringup} first):
#   1. hello: whole-process time of `tidal run hello.elf` vs the static musl Linux
#      build of the same program, interleaved run by run; median, p90, ratio.
#   2. bring-up breakdown, in process: VM, memory, vCPU, load, first instruction,
#      teardown.
#   3. primes: compute time under Tidal vs as a Linux process, and KVM's
#      insn_emulation count (native execution means almost no emulated instructions).
# Figures are reported next to their targets, never asserted: a missed target does
# not fail the script (the tests assert what must hold).
#
# Without a usable /dev/kvm it prints `BENCH-SKIP monitor: ...` and exits 0.
# --nested (or TIDAL_BENCH_NESTED=1) runs it all inside ci/kvm-in-qemu (QEMU/TCG with
# emulated SVM): a correctness check of the benchmark only, its times mean nothing.
#
# Environment: BENCH_RUNS (hello and bring-up runs, default 200), BENCH_PRIMES_RUNS
# (default 7), BENCH_PRIMES_LIMIT (primes' argument; default: the example's own).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. bench/lib.sh

bench_init monitor times "$@"
runs=${BENCH_RUNS:-200}
primes_runs=${BENCH_PRIMES_RUNS:-7}
primes_limit=${BENCH_PRIMES_LIMIT:-}

tidal=build/tidal
timer=build/bench/proc-timer
bringup=build/bench/bringup
bench_require "build/bench/proc-timer build/bench/bringup" "$tidal" "$timer" "$bringup" \
    build/examples/hello.elf build/examples/hello.linux \
    build/examples/primes.elf build/examples/primes.linux

bench_hand_off_nested BENCH_RUNS="$runs" BENCH_PRIMES_RUNS="$primes_runs" \
    BENCH_PRIMES_LIMIT="$primes_limit"
bench_skip_without_kvm "$bringup"
bench_begin

echo "== monitor benchmarks$label"
echo "host: $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs"

echo
echo "-- hello: whole process, tidal run hello.elf vs static musl Linux hello ($runs runs each, interleaved)$label"
"$timer" -n "$runs" -w 5 -p hello --name-a tidal --name-b linux -- \
    "$tidal" run build/examples/hello.elf --vs build/examples/hello.linux | tee "$tmp/hello"
hello_median=$(bench_value "$tmp/hello" hello_tidal_median)
echo "target: tidal run hello.elf whole process <= 1.5 ms (reference host): $hello_median ms:" \
    "$(verdict "$hello_median" "<=" 1.5); stretch < 1.0 ms: $(verdict "$hello_median" "<" 1.0)"

echo
echo "-- bring-up breakdown: create/run/destroy hello.elf in one process ($runs runs)$label"
echo "   (first instruction = first KVM_RUN until the guest's first exit, its first call)"
"$bringup" -n "$runs" -w 5 build/examples/hello.elf

echo
echo "-- primes: compute, tidal run primes.elf vs static musl Linux primes ($primes_runs runs each, interleaved)$label"
echo "   (compute = whole-process time for both: Tidal's bring-up, ~1 ms, is noise next to"
echo "    ~400 ms of compute, and process start-up is counted on both sides alike;"
echo "    primes_guest_run_median is the monitor's run_us, the guest's run alone)"
"$timer" -n "$primes_runs" -w 1 -p primes --name-a tidal --name-b linux \
    --stderr-a "$tmp/primes.stats" -- \
    "$tidal" run --stats build/examples/primes.elf ${primes_limit:+"$primes_limit"} \
    --vs build/examples/primes.linux ${primes_limit:+"$primes_limit"} | tee "$tmp/primes"
primes_ratio=$(bench_value "$tmp/primes" primes_ratio)
# One JSON stats line per tidal run (warm-up included). KVM's vCPU stats leave out
# zero counters, so a missing insn_emulation is 0; an empty "vcpu" object means the
# kernel has no binary stats at all.
stats=$(grep '^{' "$tmp/primes.stats" | tail -n 1)
if [ -z "$stats" ]; then
    echo "bench-monitor: no --stats line from tidal run primes.elf" >&2
    exit 1
fi
if grep -q '"vcpu":{}' <<<"$stats"; then
    insn="n/a"
    echo "insn_emulation: unavailable (this kernel has no KVM binary stats)"
else
    insn=$(grep -o '"insn_emulation":[0-9]*' <<<"$stats" | cut -d: -f2 || true)
    insn=${insn:-0}
    echo "BENCH primes_insn_emulation $insn count"
fi
# The first line is the warm-up run's: left out, as proc-timer leaves it out.
run_us=$(grep '^{' "$tmp/primes.stats" | tail -n +2 | grep -o '"run_us":[0-9.e+-]*' | cut -d: -f2 |
    sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "BENCH primes_guest_run_median $(awk -v u="$run_us" 'BEGIN { printf "%.3f", u / 1e3 }') ms"
echo "pvm: $(grep -o '"pvm":[a-z]*' <<<"$stats" | cut -d: -f2)"
echo "target: primes ratio <= 1.5x: ${primes_ratio}x: $(verdict "$primes_ratio" "<=" 1.5)"
# A count, not a time: meaningful even nested (though there it is TCG's SVM that runs).
insn_verdict=n/a
[ "$insn" != n/a ] && insn_verdict=$(awk -v v="$insn" 'BEGIN { print v < 100 ? "met" : "MISSED" }')
echo "target: primes insn_emulation < 100: $insn: $insn_verdict"
echo "== end of monitor benchmarks$label"
