#!/usr/bin/env bash
# Scheduler benchmarks, run by `make bench` (after `make all` built build/tidal):
#   1. synthetic: 10,000 workloads x 288 slots (deterministic, seed 1): plan time
#      (median of BENCH_PLAN_REPEAT runs, CPU time of one core; wall time beside it),
#      with LB*, the baselines and the checks of the same run.
#   2. traces: the docs/scheduler.md scenario built from ../shared/traces (skipped,
#      with BENCH-SKIP, when the traces are absent), at sample BENCH_PLAN_SAMPLE (median
#      of BENCH_PLAN_REPEAT runs, with baselines (a), (b), (c) and Tidal's reductions)
#      and on the whole trace (one run of about a minute of CPU, baselines (a) and (b)
#      skipped: they cost more than the plan there): plan time and peak RSS (target:
#      whole trace <= 60 s, <= 2 GB), fleet/LB* (target <= 1.02), misses, violations.
# Figures are reported next to their targets, never asserted: the tests assert what
# must hold, and a missed target does not fail the script.
#
# Environment: BENCH_PLAN_REPEAT (default 3), BENCH_PLAN_SAMPLE (default 0.1),
# BENCH_PLAN_WHOLE (default 1: also the whole trace; 0 skips it), TIDAL_TRACES (default
# ../shared/traces next to the repository).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

repeat=${BENCH_PLAN_REPEAT:-3}
sample=${BENCH_PLAN_SAMPLE:-0.1}
whole=${BENCH_PLAN_WHOLE:-1}
traces=${TIDAL_TRACES:-$root/../shared/traces}

# build/tidal carries `plan`; if the CLI does not link (a neighbour's work in progress),
# a throwaway driver around cli/plan.c and the scheduler library does the same job.
tidal=(build/tidal plan)
if ! build/tidal plan --help >/dev/null 2>&1; then
    make --no-print-directory build/libtidal-scheduler.a >/dev/null
    mkdir -p build/bench
    printf '#include <tidal/scheduler.h>\nint main(int c, char **v) { return tidal_cmd_plan(c - 1, v + 1); }\n' \
        >build/bench/plan-main.c
    gcc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Icli build/bench/plan-main.c cli/plan.c \
        build/libtidal-scheduler.a -lcjson -lm -o build/bench/tidal-plan
    tidal=(build/bench/tidal-plan plan)
fi

field() { awk -v k="$1" '$1 == "BENCH" && $2 ~ k"$" { print $3 }' "$2"; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT

summary() { # name
    echo "$1: plan $(field "$1"_plan_cpu_time "$out") s CPU, peak RSS $(field "$1"_max_rss "$out") MB;" \
        "fleet $(field "$1"_fleet_hosts "$out"), LB* $(field "$1"_lower_bound "$out")," \
        "fleet/LB* $(field "$1"_fleet_over_lb "$out") (target <= 1.02);" \
        "(a) k8s+FIFO $(field "$1"_k8s_fifo_hosts "$out") (-$(field "$1"_reduction_vs_k8s_fifo "$out")%)," \
        "(b) curves+FIFO $(field "$1"_fifo_hosts "$out") (-$(field "$1"_reduction_vs_fifo "$out")%)," \
        "(c) peak $(field "$1"_peak_packing_hosts "$out");" \
        "misses $(field "$1"_deadline_misses "$out"), violations $(field "$1"_capacity_violations "$out")"
}

echo "== scheduler: synthetic 10000 workloads x 288 slots (5 min), seed 1, median of $repeat"
"${tidal[@]}" --synthetic 10000 --seed 1 --slot 5m --repeat "$repeat" --bench plan_synth10k \
    | tee "$out"
summary plan_synth10k

if [ ! -d "$traces" ]; then
    echo "BENCH-SKIP plan_traces: no traces at $traces"
    exit 0
fi
echo
echo "== scheduler: trace scenario (docs/scheduler.md), sample $sample, median of $repeat"
"${tidal[@]}" --hosts examples/plan/hosts.json --from-traces "$traces" \
    --tz America/Los_Angeles --sample "$sample" --repeat "$repeat" --bench plan_traces | tee "$out"
summary plan_traces

if [ "$whole" = 0 ]; then
    echo "BENCH-SKIP plan_traces_whole: BENCH_PLAN_WHOLE=0"
    exit 0
fi
echo
echo "== scheduler: the whole trace (sample 1), one run, without baselines (a) and (b)"
"${tidal[@]}" --hosts examples/plan/hosts.json --from-traces "$traces" \
    --tz America/Los_Angeles --sample 1 --no-baselines --bench plan_traces_whole | tee "$out"
echo "plan_traces_whole: plan $(field plan_traces_whole_plan_cpu_time "$out") s CPU (target <= 60 s)," \
    "peak RSS $(field plan_traces_whole_max_rss "$out") MB (target <= 2048 MB);" \
    "fleet/LB* $(field plan_traces_whole_fleet_over_lb "$out");" \
    "misses $(field plan_traces_whole_deadline_misses "$out"), violations $(field plan_traces_whole_capacity_violations "$out")"
