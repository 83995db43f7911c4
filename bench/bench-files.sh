#!/usr/bin/env bash
# Files for guests, run by `make bench`:
#   1. examples/filesum on a 10 MB file: as a guest (tidal run --file) and as a static
#      musl Linux process, interleaved, whole runs; then the time the program itself
#      spends reading (its read_us line), median of the runs, guest vs Linux.
#   2. exits per open+read+close: files.elf's loop of 2,000 rounds against 0 rounds,
#      exits reaching the monitor and the vCPU's own exit count (traps included).
# Figures are reported next to their targets, never asserted.
#
# Environment: BENCH_RUNS (runs of each command, default 30).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. bench/lib.sh

bench_init files times "$@"
runs=${BENCH_RUNS:-30}
tidal=build/tidal
timer=build/bench/proc-timer
guest=build/examples/filesum.elf
linux=build/examples/filesum.linux
files=build/tests/guests/files.elf
bench_require "build/bench/proc-timer build/bench/bringup build/tests/guests/files.elf" "$tidal" "$timer" build/bench/bringup \
    "$guest" "$linux" "$files"
bench_hand_off_nested BENCH_RUNS="$runs"
bench_skip_without_kvm build/bench/bringup
bench_begin

data=$tmp/data.bin
head -c 10000000 /dev/urandom > "$data"
echo "== files benchmarks$label"
echo
echo "-- filesum of a 10 MB file: guest vs static musl Linux process ($runs runs each, interleaved)$label"
"$timer" -n "$runs" -w 3 -p files_10mb --name-a tidal --name-b linux -- \
    "$tidal" run --mem 16M --file "$data:/data/data.bin" "$guest" /data/data.bin \
    --vs "$linux" "$data" | tee "$tmp/whole"

for _ in $(seq 1 "$runs"); do
    "$tidal" run --mem 16M --file "$data:/data/data.bin" "$guest" /data/data.bin
    "$linux" "$data" >> "$tmp/linux_reads"
done | awk '{ print $6 }' > "$tmp/guest_reads"
g=$(median < "$tmp/guest_reads")
l=$(awk '{ print $6 }' "$tmp/linux_reads" | median)
read_ratio=$(awk -v g="$g" -v l="$l" 'BEGIN { printf "%.3f", g / l }')
echo "BENCH files_read_10mb_guest $g us"
echo "BENCH files_read_10mb_linux $l us"
echo "BENCH files_read_10mb_ratio $read_ratio x"
whole=$(bench_value "$tmp/whole" files_10mb_ratio)
echo "target: reading 10 MB, guest <= 1.2x Linux: the read itself ${read_ratio}x: $(verdict "$read_ratio" "<=" 1.2); whole run with boot and image build ${whole}x"

echo
echo "-- exits per open+read+close (2000 rounds against 0)$label"
stat_of() { sed -n "s/.*\"$1\":{\"$2\":\([0-9]*\).*/\1/p" | head -1; }
"$tidal" run --stats --file "$data:/f" "$files" exits 2000 /f 2> "$tmp/s2000" > /dev/null
"$tidal" run --stats --file "$data:/f" "$files" exits 0 /f 2> "$tmp/s0" > /dev/null
io2000=$(stat_of exits io < "$tmp/s2000")
io0=$(stat_of exits io < "$tmp/s0")
v2000=$(sed -n 's/.*"vcpu":{[^}]*"exits":\([0-9]*\).*/\1/p' "$tmp/s2000")
v0=$(sed -n 's/.*"vcpu":{[^}]*"exits":\([0-9]*\).*/\1/p' "$tmp/s0")
per=$(awk -v a="$io2000" -v b="$io0" 'BEGIN { printf "%.4f", (a - b) / 2000 }')
vper=$(awk -v a="$v2000" -v b="$v0" 'BEGIN { printf "%.4f", (a - b) / 2000 }')
echo "BENCH files_exits_per_open_read_close $per exits"
echo "BENCH files_kvm_exits_per_open_read_close $vper exits"
echo "target: 0 exits per open+read+close: $per to the monitor, $vper in KVM (page faults included): $(verdict "$per" "<=" 0)"
echo "== end of files benchmarks$label"
