#!/usr/bin/env bash
# Live migration, run by `make bench` (which builds build/bench/migrate-bench and the
# guest tests/guests/migrate_load.c first): a running guest moved over a socketpair
# between two threads of one process (build/bench/migrate-bench), 16 and 64 MiB of
# memory (half of it filled), idle (1 ms sleeps) and writing (an eighth of memory
# rewritten without pause). Next to each, in the same run and interleaved: the same
# engine without pre-copy rounds (stop and copy: all of memory while paused) and a
# snapshot saved to a file, opened and restored. Medians of BENCH_MIGRATE_RUNS runs:
#   downtime   pause request -> the target's VM ready for tidal_vm_run
#   acked      pause request -> the source reads the target's acknowledgement
#   total      tidal_migrate_begin -> that acknowledgement
# with the counts that carry to other hosts (rounds, pages per round, final pages,
# KVM_GET_DIRTY_LOG calls, bytes streamed). A socketpair moves memory at memcpy speed:
# over a network, add bytes / bandwidth to each phase (docs/migration.md).
#
# Without a usable /dev/kvm it prints `BENCH-SKIP migrate: ...` and exits 0.
# --nested (or TIDAL_BENCH_NESTED=1) runs it inside ci/kvm-in-qemu: counts only.
# Environment: BENCH_MIGRATE_RUNS (default 10).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. bench/lib.sh

bench_init migrate figures "$@"
runs=${BENCH_MIGRATE_RUNS:-10}
mbench=build/bench/migrate-bench
guest=build/tests/guests/migrate_load.elf
bench_require "build/bench/migrate-bench $guest" "$mbench" "$guest"
bench_hand_off_nested BENCH_MIGRATE_RUNS="$runs"
bench_skip_without_kvm "$mbench"
bench_begin

echo "== live migration$label"
echo "host: $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs"
"$mbench" -n "$runs" -d "$tmp" "$guest" | tee "$tmp/out"
echo
echo "-- downtime, pre-copy vs stop and copy in the same run$label"
for load in 16m_idle 16m_writing 64m_idle 64m_writing; do
    pre=$(bench_value "$tmp/out" "migrate_${load}_downtime")
    stop=$(bench_value "$tmp/out" "migrate_${load}_stopcopy_downtime")
    ratio=$(awk -v a="$stop" -v b="$pre" 'BEGIN { printf "%.1f", a / b }')
    echo "$load: pre-copy ${pre} us, stop and copy ${stop} us: ${ratio}x shorter"
done
echo "== end of live migration$label"
