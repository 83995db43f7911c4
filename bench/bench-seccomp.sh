#!/usr/bin/env bash
# seccomp benchmark, run by `make bench`: what confinement costs a busy guest.
# exit_storm makes exits to the monitor as fast as it can for BENCH_STORM_SEC
# seconds, under `tidal run` (confined, the default) and `tidal run --no-seccomp`,
# interleaved round by round; medians, their ratio, and the median of each round's
# own confined/unconfined ratio. Every KVM_RUN and every call the monitor makes
# while handling an exit passes the filter.
# Figures are reported next to their target (confined/unconfined >= 0.97), never
# asserted.
#
# Environment: BENCH_SECCOMP_ROUNDS (default 11), BENCH_STORM_SEC (default 1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. bench/lib.sh

bench_init seccomp figures "$@"
rounds=${BENCH_SECCOMP_ROUNDS:-11}
storm_sec=${BENCH_STORM_SEC:-1}
tidal=build/tidal
bench_require "build/bench/bringup" "$tidal" build/bench/bringup build/tests/guests/exit_storm.elf
bench_hand_off_nested BENCH_SECCOMP_ROUNDS="$rounds" BENCH_STORM_SEC="$storm_sec"
bench_skip_without_kvm build/bench/bringup
bench_begin

echo "== seccomp benchmarks$label"
echo "-- exit_storm for ${storm_sec}s, confined vs --no-seccomp, $rounds rounds interleaved"
: >"$tmp/off"
: >"$tmp/on"
# Which goes first alternates, so that neither always runs on a machine the other
# has just warmed (or loaded).
for ((r = 0; r < rounds; r++)); do
    if ((r % 2)); then
        storm_rate >>"$tmp/on"
        storm_rate --no-seccomp >>"$tmp/off"
    else
        storm_rate --no-seccomp >>"$tmp/off"
        storm_rate >>"$tmp/on"
    fi
done
off=$(median <"$tmp/off")
on=$(median <"$tmp/on")
ratio=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')
paired=$(paste "$tmp/on" "$tmp/off" | awk '{ printf "%.4f\n", $1 / $2 }' | median)
echo "unconfined: $(tr '\n' ' ' <"$tmp/off")"
echo "confined:   $(tr '\n' ' ' <"$tmp/on")"
echo "BENCH exit_round_trips_unconfined $off per_s"
echo "BENCH exit_round_trips_confined $on per_s"
echo "BENCH exit_round_trips_confined_ratio $ratio x"
echo "BENCH exit_round_trips_confined_paired_ratio $paired x"
echo "target: confined/unconfined >= 0.97 (median of paired rounds): $paired: $(verdict "$paired" ">=" 0.97)"
echo "== end of seccomp benchmarks"
