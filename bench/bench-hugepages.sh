#!/usr/bin/env bash
# Huge-page benchmarks, run by `make bench` (which builds build/tidal, the examples and
# build/bench/{proc-timer,bringup} first). Each guest runs with `--huge-pages on` and
# `--huge-pages off`, interleaved run by run with the static musl Linux build of the
# same program:
#   1. first touch: examples/touch.c writes one byte in each 4 KiB page of
#      BENCH_TOUCH_MIB MiB. Per page: the guest's run time (the monitor's run_us) and
#      the Linux process's whole time, divided by the pages; and the vCPU statistic
#      pf_taken (page faults KVM handled) of each mode.
#   2. an allocation-heavy guest: examples/alloc.c (malloc/realloc/free of a 4 MiB
#      live set, --mem 32M), whole process vs its Linux build; pf_taken of each mode.
# Figures are reported next to their targets, never asserted: a missed target does
# not fail the script (tests/integration asserts the tenfold drop of pf_taken).
#
# Without a usable /dev/kvm it prints `BENCH-SKIP hugepages: ...` and exits 0.
# --nested (or TIDAL_BENCH_NESTED=1) runs it all inside ci/kvm-in-qemu (QEMU/TCG with
# emulated SVM): its times mean nothing, its pf_taken counts hold (under nested SVM the
# host page size decides, as on any EPT/NPT host; under shadow paging, as on PVM, the
# guest's 2 MiB mappings are needed too, and the layout gives them).
#
# Environment: BENCH_HUGE_RUNS (runs per command, default 11; 1 when nested),
# BENCH_TOUCH_MIB (default 64).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. bench/lib.sh

bench_init hugepages times "$@"
default_runs=11
[ "$nested" = 1 ] && default_runs=1
runs=${BENCH_HUGE_RUNS:-$default_runs}
touch_mib=${BENCH_TOUCH_MIB:-64}

tidal=build/tidal
timer=build/bench/proc-timer
bench_require "build/bench/proc-timer build/bench/bringup" "$tidal" "$timer" build/bench/bringup \
    build/examples/touch.elf build/examples/touch.linux \
    build/examples/alloc.elf build/examples/alloc.linux

bench_hand_off_nested BENCH_HUGE_RUNS="$runs" BENCH_TOUCH_MIB="$touch_mib"
bench_skip_without_kvm build/bench/bringup
bench_begin

echo "== huge-page benchmarks$label"
echo "host: $(uname -r), $(nproc) CPUs, transparent huge pages: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unavailable)"

# Median of the "run_us" of the --stats lines in $1, leaving out the warm-up run's.
median_run_us() {
    grep '^{' "$1" | tail -n +2 | grep -o '"run_us":[0-9.e+-]*' | cut -d: -f2 | sort -g |
        awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# pf_taken of the last --stats line in $1 (0 when KVM left it out as zero, n/a
# when the kernel has no binary statistics).
pf_taken() {
    local line
    line=$(grep '^{' "$1" | tail -n 1)
    if grep -q '"vcpu":{}' <<<"$line"; then echo n/a; return; fi
    local v
    v=$(grep -o '"pf_taken":[0-9]*' <<<"$line" | cut -d: -f2 || true)
    echo "${v:-0}"
}

pages=$((touch_mib * 256))
touch_mem=$((touch_mib * 2 + 16))M
echo
echo "-- first touch: touch.elf $touch_mib MiB ($pages pages, --mem $touch_mem) vs touch.linux ($runs runs each, interleaved)$label"
for mode in on off; do
    "$timer" -n "$runs" -w 1 -p "touch_$mode" --name-a tidal --name-b linux \
        --stderr-a "$tmp/touch_$mode.stats" -- \
        "$tidal" run --stats --huge-pages "$mode" --mem "$touch_mem" build/examples/touch.elf "$touch_mib" \
        --vs build/examples/touch.linux "$touch_mib" | tee "$tmp/touch_$mode"
    run_us=$(median_run_us "$tmp/touch_$mode.stats")
    echo "BENCH touch_${mode}_per_page $(awk -v u="$run_us" -v n="$pages" 'BEGIN { printf "%.3f", u / n }') us"
    echo "BENCH touch_${mode}_pf_taken $(pf_taken "$tmp/touch_$mode.stats") count"
done
linux_ms=$(bench_value "$tmp/touch_on" touch_on_linux_median)
echo "BENCH touch_linux_per_page $(awk -v m="$linux_ms" -v n="$pages" 'BEGIN { printf "%.3f", m * 1000 / n }') us"
echo "   (guest per page: run time alone; Linux per page: the whole process, start-up included)"

echo
echo "-- allocation-heavy: alloc.elf --mem 32M vs alloc.linux ($runs runs each, interleaved)$label"
for mode in on off; do
    "$timer" -n "$runs" -w 1 -p "alloc_$mode" --name-a tidal --name-b linux \
        --stderr-a "$tmp/alloc_$mode.stats" -- \
        "$tidal" run --stats --huge-pages "$mode" --mem 32M build/examples/alloc.elf \
        --vs build/examples/alloc.linux | tee "$tmp/alloc_$mode"
    echo "BENCH alloc_${mode}_pf_taken $(pf_taken "$tmp/alloc_$mode.stats") count"
done
ratio=$(bench_value "$tmp/alloc_on" alloc_on_ratio)
echo "target: alloc.elf with huge pages <= 1.0x its Linux build: ${ratio}x: $(verdict "$ratio" "<=" 1.0)"
on=$(pf_taken "$tmp/alloc_on.stats")
off=$(pf_taken "$tmp/alloc_off.stats")
drop=n/a
[ "$on" != n/a ] && [ "$off" != n/a ] && [ "$on" -gt 0 ] && drop=$(awk -v a="$off" -v b="$on" 'BEGIN { printf "%.1f", a / b }')
# A count, not a time: meaningful even nested.
drop_verdict=n/a
[ "$drop" != n/a ] && drop_verdict=$(awk -v d="$drop" 'BEGIN { print (d >= 10) ? "met" : "MISSED" }')
echo "target: alloc pf_taken drops >= 10x with huge pages: ${drop}x: $drop_verdict"
echo "== end of huge-page benchmarks$label"
