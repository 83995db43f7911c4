#!/usr/bin/env bash
# Runs each libFuzzer harness for SECONDS from its committed seeds and prints one line
# per harness: executions, coverage (libFuzzer's cov: edges), corpus size. Inputs the
# fuzzer finds go to BUILD/fuzz-corpus/<harness>/, never into the committed seeds; a
# crash, leak, timeout or undefined behaviour leaves its input in
# BUILD/fuzz-artifacts/<harness>/ and makes the whole run fail (after all harnesses ran).
# Usage: tests/fuzz/run.sh SECONDS BUILD HARNESS...
set -uo pipefail
seconds=$1 build=$2
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
failed=()
for h in "$@"; do
    seeds=$root/tests/fuzz/corpus/$h
    work=$build/fuzz-corpus/$h
    art=$build/fuzz-artifacts/$h
    log=$build/fuzz-logs/$h.log
    rm -rf "$art"
    mkdir -p "$work" "$art" "$(dirname "$log")" "$seeds"
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb also caps single mallocs.
    "$build/fuzz/$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$art/" "$work" "$seeds" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    files=$(find "$work" -type f | wc -l)
    printf 'FUZZ %-22s execs %-10s cov %-6s corpus %-6s %s\n' "$h" "${execs:-?}" "${cov:-?}" \
        "$files" "$([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc, see $log)")"
    if [ $rc -ne 0 ]; then
        failed+=("$h")
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -5 | sed 's/^/    /'
        ls "$art" | sed 's/^/    artifact: /'
    fi
done
if [ ${#failed[@]} -ne 0 ]; then
    echo "fuzz: crashes in ${failed[*]}" >&2
    exit 1
fi
