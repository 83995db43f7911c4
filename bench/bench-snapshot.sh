#!/usr/bin/env bash
# Snapshot benchmarks, run by `make bench` (which builds build/tidal, the examples and
# build/bench/restore-bench first), all on examples/echo.c (waits at tidal_ready(),
# then answers its input):
#   1. restore to first guest instruction, in process (build/bench/restore-bench):
#      echo is booted to tidal_ready() and saved once, then restored BENCH_RESTORES
#      times with a warm shell pool and as many times with cold shells (no pool);
#      median and p99. "To first guest instruction" = the tidal_snapshot_restore()
#      call + the first KVM_RUN up to the guest's first exit (for echo its READ of
#      the input), i.e. the restored guest has run; pool refills and teardown are
#      not timed.
#   2. restore to output vs cold boot, in process, interleaved (BENCH_COLD_RUNS
#      rounds): restore + run to exit (input read, output written), vs a cold boot
#      of echo.elf to tidal_ready() (the point the snapshot holds); their ratio.
#   3. host memory per idle clone: `tidal clone SNAP -n BENCH_CLONES` restores all
#      clones, measures the drop of MemAvailable (kernel memory included) divided by
#      the clones alive, then runs each to completion; with and without prefetch
#      (`--prefetch`, when tidal clone has it: the working set is recorded first by
#      `tidal restore --prefetch`). Stretch: BENCH_CLONES_STRETCH clones,
#      capped at BENCH_CLONE_TIMEOUT seconds: held, or the limit and why.
# Figures are reported next to their targets, never asserted: a missed target does
# not fail the script (the tests assert what must hold). MemAvailable is the whole
# machine's: other load during step 3 shows up in its figure.
#
# Without a usable /dev/kvm it prints `BENCH-SKIP snapshot: ...` and exits 0.
# --nested (or TIDAL_BENCH_NESTED=1) runs it all inside ci/kvm-in-qemu (QEMU/TCG with
# emulated SVM): a correctness check of the benchmark only, its figures mean nothing.
#
# Environment: BENCH_RESTORES (restores per pool mode, default 1000), BENCH_COLD_RUNS
# (restore-to-output vs cold boot rounds, default 200), BENCH_WARMUP (default 20),
# BENCH_CLONES (default 1000), BENCH_CLONES_STRETCH (default 10000; 0 skips it),
# BENCH_CLONE_TIMEOUT (seconds per `tidal clone` run, default 300).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. bench/lib.sh

bench_init snapshot figures "$@"
restores=${BENCH_RESTORES:-1000}
cold_runs=${BENCH_COLD_RUNS:-200}
warmup=${BENCH_WARMUP:-20}
clones=${BENCH_CLONES:-1000}
stretch=${BENCH_CLONES_STRETCH:-10000}
clone_timeout=${BENCH_CLONE_TIMEOUT:-300}

tidal=build/tidal
rbench=build/bench/restore-bench
echo_elf=build/examples/echo.elf
bench_require build/bench/restore-bench "$tidal" "$rbench" "$echo_elf"

bench_hand_off_nested BENCH_RESTORES="$restores" BENCH_COLD_RUNS="$cold_runs" \
    BENCH_WARMUP="$warmup" BENCH_CLONES="$clones" BENCH_CLONES_STRETCH="$stretch" \
    BENCH_CLONE_TIMEOUT="$clone_timeout"
bench_skip_without_kvm "$rbench"
bench_begin

echo "== snapshot benchmarks$label"
echo "host: $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"

mkdir -p "$tmp/inputs"
printf '{"request": "echo me", "n": 42}\n' >"$tmp/inputs/req.json"
snap=$tmp/echo.snap

echo
echo "-- restore to first guest instruction, and to output vs cold boot: echo.elf, in process$label"
echo "   ($restores restores per pool mode; $cold_runs interleaved rounds of restore-to-output vs cold boot)"
echo "   first instruction = tidal_snapshot_restore() + KVM_RUN entry to the guest's first exit"
echo "   (echo's READ of its input); output = restore + run to exit (input read, output written);"
echo "   cold boot = tidal_vm_create + run to tidal_ready(), the point the snapshot holds"
"$rbench" -n "$restores" -c "$cold_runs" -w "$warmup" -s "$snap" -i "$tmp/inputs/req.json" \
    "$echo_elf" | tee "$tmp/restore"
first_median=$(bench_value "$tmp/restore" restore_first_insn_pool_median)
first_p99=$(bench_value "$tmp/restore" restore_first_insn_pool_p99)
speedup_pool=$(bench_value "$tmp/restore" restore_speedup_pool)
speedup_nopool=$(bench_value "$tmp/restore" restore_speedup_nopool)
first_ws_median=$(bench_value "$tmp/restore" restore_first_insn_pool_ws_median)
first_ws_p99=$(bench_value "$tmp/restore" restore_first_insn_pool_ws_p99)
speedup_ws=$(bench_value "$tmp/restore" restore_speedup_pool_ws)
speedup_exit=$(bench_value "$tmp/restore" restore_speedup_pool_vs_cold_output)

# ---- memory per idle clone ----
# Runs `tidal clone SNAP -n N [--prefetch]` under a time cap; prints its summary line
# and leaves alive / exited-0 / KiB per clone in clone_alive, clone_ok, clone_kib
# (empty when unknown) and its exit status in clone_rc.
run_clones() {
    local n=$1 tag=$2
    shift 2
    clone_rc=0
    timeout --signal=KILL "$clone_timeout" "$tidal" clone "$snap" -n "$n" \
        --input-dir "$tmp/inputs" "$@" >/dev/null 2>"$tmp/clone.$tag" || clone_rc=$?
    local summary
    summary=$(grep -m1 'host memory per idle clone' "$tmp/clone.$tag" || true)
    clone_alive=$(sed -n 's/.* \([0-9][0-9]*\) alive at once.*/\1/p' <<<"$summary")
    clone_ok=$(sed -n 's/.* \([0-9][0-9]*\) exited 0.*/\1/p' <<<"$summary")
    clone_kib=$(sed -n 's/.*host memory per idle clone \([-0-9.]*\) KiB.*/\1/p' <<<"$summary")
    # -1.0: tidal clone could not read MemAvailable (e.g. no descriptor left to open it).
    [ "$clone_kib" = "-1.0" ] && clone_kib=""
    if [ -n "$summary" ]; then
        echo "$summary"
    elif [ "$clone_rc" = 137 ]; then
        echo "tidal clone -n $n: killed after the ${clone_timeout}s cap (BENCH_CLONE_TIMEOUT)"
    else
        echo "tidal clone -n $n: exit $clone_rc, no summary: $(head -c 600 "$tmp/clone.$tag")"
    fi
    # Per-clone failures (at most 10 are printed by tidal clone).
    grep -m3 'tidal clone: clone ' "$tmp/clone.$tag" | sed 's/^/  /' || true
}

echo
echo "-- host memory per idle clone: tidal clone echo.snap -n $clones (MemAvailable drop / clones alive)$label"
echo "   limits that bind first: open files (hard $(ulimit -Hn); tidal clone raises its soft limit to it;" \
    "one per idle clone), vm.max_map_count $(cat /proc/sys/vm/max_map_count 2>/dev/null || echo '?')," \
    "MemAvailable $(awk '/MemAvailable/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
run_clones "$clones" plain
mem_plain=$clone_kib
hold_alive=$clone_alive hold_ok=$clone_ok
[ -n "$mem_plain" ] && echo "BENCH snapshot_clone_mem_kib ${mem_plain} KiB"
echo "BENCH snapshot_clones_alive ${hold_alive:-0} count"
echo "BENCH snapshot_clones_exited_ok ${hold_ok:-0} count"

# Prefetch is a `tidal clone` option when it exists: a usage error (64) means not yet.
mem_prefetch="n/a (no prefetch yet)"
mem_prefetch_kib=""
prefetch_rc=0
"$tidal" clone "$snap" -n 1 --input-dir "$tmp/inputs" --prefetch >/dev/null 2>&1 || prefetch_rc=$?
if [ "$prefetch_rc" = 64 ]; then
    echo "with prefetch: n/a (no prefetch yet: tidal clone has no --prefetch)"
else
    # The working set to prefetch (SNAP.ws) is what one restored run touched, recorded
    # by `tidal restore --prefetch`; without it --prefetch has nothing to populate.
    rm -f "$snap.ws"
    "$tidal" restore --prefetch --input "$tmp/inputs/req.json" "$snap" >/dev/null 2>"$tmp/ws.err" || true
    echo "-- the same with --prefetch$label"
    if [ -s "$snap.ws" ]; then
        echo "   working set: $(stat -c %s "$snap.ws") bytes, recorded by tidal restore --prefetch"
    else
        echo "   no working set recorded (tidal restore --prefetch: $(head -c 300 "$tmp/ws.err")): prefetch populates nothing"
    fi
    run_clones "$clones" prefetch --prefetch
    if [ -n "$clone_kib" ]; then
        mem_prefetch="$clone_kib KiB"
        mem_prefetch_kib=$clone_kib
        echo "BENCH snapshot_clone_mem_prefetch_kib ${clone_kib} KiB"
    else
        mem_prefetch="unknown (tidal clone --prefetch exit $clone_rc)"
    fi
fi

stretch_result="skipped (BENCH_CLONES_STRETCH=0)"
if [ "$stretch" -gt 0 ]; then
    echo
    echo "-- stretch: tidal clone echo.snap -n $stretch (cap ${clone_timeout}s)$label"
    t0=$(date +%s.%N)
    run_clones "$stretch" stretch
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    if [ "$clone_rc" = 0 ] && [ "${clone_alive:-0}" = "$stretch" ]; then
        stretch_result="held: $stretch alive at once, all exited 0 (${clone_kib:-?} KiB per idle clone, ${secs}s)"
    elif [ "$clone_rc" = 137 ]; then
        stretch_result="did not finish within ${clone_timeout}s"
    else
        why=$(grep -m1 'tidal clone: clone ' "$tmp/clone.stretch" | sed 's/^tidal clone: //' || true)
        stretch_result="limit: ${clone_alive:-?} of $stretch alive at once, ${clone_ok:-?} exited 0 (exit $clone_rc${why:+; first failure: $why})"
    fi
    echo "BENCH snapshot_stretch_clones_alive ${clone_alive:-0} count"
    [ -n "$clone_kib" ] && echo "BENCH snapshot_stretch_clone_mem_kib ${clone_kib} KiB"
    echo "stretch $stretch clones: $stretch_result"
fi

echo
echo "-- targets$label"
echo "target: restore to first instruction, warm pool, median <= 150 us: ${first_median:-?} us (p99 ${first_p99:-?} us): $(verdict "$first_median" "<=" 150);" \
    "with --prefetch: ${first_ws_median:-?} us (p99 ${first_ws_p99:-?} us): $(verdict "$first_ws_median" "<=" 150)"
echo "target: restore to output >= 3x faster than cold boot to tidal_ready() (warm pool): ${speedup_pool:-?}x: $(verdict "$speedup_pool" ">=" 3);" \
    "with --prefetch: ${speedup_ws:-?}x: $(verdict "$speedup_ws" ">=" 3); cold boot to the output itself / restore to output (warm pool): ${speedup_exit:-?}x"
echo "        (cold shells, no pool: ${speedup_nopool:-?}x: $(verdict "$speedup_nopool" ">=" 3))"
mem_verdict=n/a
[ "$clones" -ge 1000 ] && mem_verdict=$(verdict "$mem_plain" "<=" 256)
mem_prefetch_verdict=n/a
[ "$clones" -ge 1000 ] && [ -n "$mem_prefetch_kib" ] && mem_prefetch_verdict=$(verdict "$mem_prefetch_kib" "<=" 256)
echo "target: host memory per idle clone <= 256 KiB ($clones clones): without prefetch ${mem_plain:-unknown} KiB: $mem_verdict; with prefetch: $mem_prefetch: $mem_prefetch_verdict"
# A count, not a time: meaningful even nested, but only at the target's clone count.
hold_verdict=n/a
if [ "$clones" -ge 1000 ]; then
    hold_verdict=MISSED
    [ "${hold_alive:-0}" = "$clones" ] && [ "${hold_ok:-0}" = "$clones" ] && hold_verdict=met
fi
echo "target: 1000 concurrent clones hold: ${hold_alive:-0} of $clones alive at once, ${hold_ok:-0} exited 0: $hold_verdict"
echo "stretch: $stretch concurrent clones: $stretch_result"
echo "== end of snapshot benchmarks$label"
