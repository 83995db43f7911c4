#!/usr/bin/env bash
# Daemon benchmark, run by `make bench`: suspending a batch guest to disk and resuming
# it, through the daemon's API, full snapshots against diff snapshots.
#
# The guest is examples/hashchain.c in a 64 MiB VM with a 48 MiB table (every page
# written once at start, then one word per 1024 steps): the shape of a long batch job
# whose memory is mostly written early and read after. Two daemons run it in turn,
# one with --full-snapshots (every suspend writes all non-zero memory) and one as
# shipped (the first suspend is full, later ones diffs on the chain). For each, after
# the table is built, BENCH_DAEMON_ROUNDS rounds of: run BENCH_DAEMON_RUN_S seconds,
# `POST /v1/vms/NAME/suspend` (snapshot written and fsync'ed, VM destroyed, memory
# returned), `POST /v1/vms/NAME/resume` (VM rebuilt from the snapshot chain, running).
# Latencies are the API calls' wall time seen by the client (curl), medians; bytes are
# the size of the file each suspend wrote (the daemon's snapshots.last_bytes), medians.
# The first suspend of the diff daemon is a full one and is left out of its figures.
#
# Without a usable /dev/kvm it prints `BENCH-SKIP daemon: ...` and exits 0; --nested
# (or TIDAL_BENCH_NESTED=1) runs it inside ci/kvm-in-qemu, figures not meaningful.
#
# Environment: BENCH_DAEMON_ROUNDS (default 10), BENCH_DAEMON_RUN_S (default 0.5).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. bench/lib.sh

bench_init daemon figures "$@"
rounds=${BENCH_DAEMON_ROUNDS:-10}
run_s=${BENCH_DAEMON_RUN_S:-0.5}

tidal=build/tidal
bringup=build/bench/bringup
guest=build/examples/hashchain.elf
bench_require build/bench/bringup "$tidal" "$bringup"
[ -f "$guest" ] || { echo "bench-daemon: $guest is missing; build with: make all" >&2; exit 1; }

bench_hand_off_nested BENCH_DAEMON_ROUNDS="$rounds" BENCH_DAEMON_RUN_S="$run_s"
bench_skip_without_kvm "$bringup"
command -v curl >/dev/null || { echo "bench-daemon: curl is missing (make deps)" >&2; exit 1; }
bench_begin

echo "== daemon benchmarks$label"
echo "host: $(uname -r), $(nproc) CPUs; guest: hashchain, 64 MiB VM, 48 MiB table; $rounds rounds of ${run_s}s run + suspend + resume"


daemon_pid=""
stop_daemon() {
    if [ -n "$daemon_pid" ]; then
        kill "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
        daemon_pid=""
    fi
}
trap 'stop_daemon; rm -rf "$tmp"' EXIT

# call METHOD PATH: prints "SECONDS BODY" (curl's time_total, then the JSON)
call() {
    curl -s --unix-socket "$sock" -X "$1" -w '\n%{time_total}' "http://tidal$2" |
        awk 'NR == 1 { body = $0 } NR == 2 { print $1 * 1000, body }'
}
field() { sed -n "s/.*\"$1\":\\([0-9.]*\\).*/\\1/p"; }

# run_mode MODE [daemon options...]: one daemon, one guest, the rounds; writes
# $tmp/MODE.{suspend,resume,bytes}
run_mode() {
    local mode=$1
    shift
    local state=$tmp/$mode
    sock=$tmp/$mode.sock
    "$tidal" daemon --state-dir "$state" --socket "$sock" --checkpoint-interval 0 "$@" \
        2>"$tmp/$mode.err" &
    daemon_pid=$!
    for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
    local body
    body=$(printf '{"name":"job","image":"%s","args":["1000000000000","48"],"mem":"64M"}' \
        "$root/$guest")
    curl -s --unix-socket "$sock" -X POST -d "$body" http://tidal/v1/vms >/dev/null
    # the table is built once the guest has reported its first progress
    for _ in $(seq 600); do
        call GET /v1/vms/job | field total | grep -qv '^0$' && break
        sleep 0.1
    done
    : >"$tmp/$mode.suspend"
    : >"$tmp/$mode.resume"
    : >"$tmp/$mode.bytes"
    local i out
    for i in $(seq 0 "$rounds"); do
        sleep "$run_s"
        out=$(call POST /v1/vms/job/suspend)
        # round 0 of the diff daemon is its full base: not a diff figure
        if [ "$i" -gt 0 ] || [ "$mode" = full ]; then
            echo "$out" | awk '{ print $1 }' >>"$tmp/$mode.suspend"
            echo "$out" | field last_bytes >>"$tmp/$mode.bytes"
        fi
        out=$(call POST /v1/vms/job/resume)
        if [ "$i" -gt 0 ] || [ "$mode" = full ]; then
            echo "$out" | awk '{ print $1 }' >>"$tmp/$mode.resume"
        fi
        echo "$out" | grep -q '"state":"running"' ||
            { echo "bench-daemon: resume failed: $out" >&2; cat "$state/daemon.log" >&2; exit 1; }
    done
    stop_daemon
}

run_mode full --full-snapshots
run_mode diff

for mode in full diff; do
    s=$(median <"$tmp/$mode.suspend")
    r=$(median <"$tmp/$mode.resume")
    b=$(median <"$tmp/$mode.bytes")
    echo "BENCH daemon_suspend_${mode}_median $s ms"
    echo "BENCH daemon_resume_${mode}_median $r ms"
    echo "BENCH daemon_suspend_bytes_${mode}_median $b bytes"
    eval "bytes_$mode=$b suspend_$mode=$s"
done
# shellcheck disable=SC2154  # set by the eval above
awk -v f="$bytes_full" -v d="$bytes_diff" -v sf="$suspend_full" -v sd="$suspend_diff" 'BEGIN {
    if (d > 0) printf "BENCH daemon_suspend_bytes_full_over_diff %.1f x\n", f / d
    if (sd > 0) printf "BENCH daemon_suspend_time_full_over_diff %.1f x\n", sf / sd
}'
