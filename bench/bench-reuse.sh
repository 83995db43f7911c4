#!/usr/bin/env bash
# Reused VMs, run by `make bench`: one echo request on a VM reused in place (input
# placed in guest memory, run to exit, registers and written pages reset), against a
# fresh clone restored per request and against posix_spawn of the static Linux build
# of the same program, interleaved round by round in one process
# (build/bench/reuse-bench). Prints medians and p99 with the ratios, and the counts
# per reused request (exits, pages reset, pages re-protected, KVM ioctls of the reset,
# pf_taken), which mean something even where the times do not.
#
# Without a usable /dev/kvm it prints `BENCH-SKIP reuse: ...` and exits 0.
# --nested (or TIDAL_BENCH_NESTED=1) runs it inside ci/kvm-in-qemu: counts only.
# Environment: BENCH_REUSE_ROUNDS (default 2000), BENCH_WARMUP (default 50).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. bench/lib.sh

bench_init reuse figures "$@"
rounds=${BENCH_REUSE_ROUNDS:-2000}
warmup=${BENCH_WARMUP:-50}
rbench=build/bench/reuse-bench
bench_require build/bench/reuse-bench "$rbench" build/examples/echo.elf build/examples/echo.linux
bench_hand_off_nested BENCH_REUSE_ROUNDS="$rounds" BENCH_WARMUP="$warmup"
bench_skip_without_kvm "$rbench"
bench_begin

echo "== reused VMs$label"
printf '{"request": "echo me", "n": 42}\n' >"$tmp/req.json"
"$rbench" -n "$rounds" -w "$warmup" -s "$tmp/echo.snap" -i "$tmp/req.json" \
    build/examples/echo.elf build/examples/echo.linux | tee "$tmp/out"
cycle=$(bench_value "$tmp/out" reuse_cycle_median)
speedup=$(bench_value "$tmp/out" reuse_speedup_vs_spawn)
echo "target: cycle median <= 60 us: $(verdict "$cycle" "<=" 60); >= 5x faster than" \
    "posix_spawn in the same run: $(verdict "$speedup" ">=" 5)"
