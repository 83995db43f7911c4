#!/usr/bin/env bash
# Start-up of the `tidal` process itself, run by `make bench` (which builds
# build/tidal, the examples and build/bench/proc-timer first). No KVM needed: neither
# command reaches /dev/kvm.
#   1. `tidal --version` vs the static musl Linux build of hello, interleaved run by
#      run; median, p90, ratio. Both print a line and exit: what differs is what
#      happens before main (the dynamic loader and libraries, when there are any).
#   2. `tidal run` of a missing image (exit 66), likewise: option parsing and the
#      failed open added on top.
# Figures are reported next to their targets, never asserted.
#
# --nested (or TIDAL_BENCH_NESTED=1) runs it inside ci/kvm-in-qemu, like the other
# benchmarks: a correctness check only, its times mean nothing.
#
# Environment: BENCH_RUNS (runs of each command, default 400).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. bench/lib.sh

bench_init cli times "$@"
runs=${BENCH_RUNS:-400}

tidal=build/tidal
timer=build/bench/proc-timer
hello=build/examples/hello.linux
bench_require build/bench/proc-timer "$tidal" "$timer" "$hello"

bench_hand_off_nested BENCH_RUNS="$runs"
bench_begin

echo "== cli benchmarks$label"
echo "host: $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs"
echo "tidal: $(file -b "$tidal" | cut -d, -f1-2,4)"

echo
echo "-- tidal --version vs static musl Linux hello ($runs runs each, interleaved)$label"
"$timer" -n "$runs" -w 10 -p cli_version --name-a tidal --name-b hello -- \
    "$tidal" --version --vs "$hello" | tee "$tmp/version"
ratio=$(bench_value "$tmp/version" cli_version_ratio)
echo "target: tidal --version <= 2x static hello: ${ratio}x: $(verdict "$ratio" "<=" 2)"

echo
echo "-- tidal run /nonexistent.elf (exit 66) vs static musl Linux hello ($runs runs each, interleaved)$label"
"$timer" -n "$runs" -w 10 -p cli_missing --name-a tidal --name-b hello --status-a 66 -- \
    "$tidal" run /nonexistent.elf --vs "$hello"
echo "== end of cli benchmarks$label"
