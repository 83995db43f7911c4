# shellcheck shell=bash
# Sourced by bench/bench-monitor.sh and bench/bench-snapshot.sh, from the repository
# root: the harness around each benchmark (options, nested hand-off, skips, verdicts)
# lives here so that both report and skip alike.

# bench_init NAME NOUN ARGS...: NAME names the script (bench-NAME.sh), NOUN what its
# figures are ("times", "figures"), as its messages call them. Sets nested (--nested
# or TIDAL_BENCH_NESTED=1) and nested_label.
bench_init() {
    bench_name=$1
    bench_noun=$2
    shift 2
    nested=${TIDAL_BENCH_NESTED:-0}
    local arg
    for arg in "$@"; do
        case $arg in
            --nested) nested=1 ;;
            *) echo "usage: $0 [--nested]" >&2; exit 2 ;;
        esac
    done
    nested_label="nested TCG emulation: correctness only, $bench_noun are not meaningful"
}

# bench_require TARGETS FILE...: exits 1 unless every FILE is built; TARGETS is what
# to add to `make all` to build them.
bench_require() {
    local targets=$1 f
    shift
    for f in "$@"; do
        if [ ! -x "$f" ]; then
            echo "bench-$bench_name: $f is missing; build with: make all $targets" >&2
            exit 1
        fi
    done
}

# bench_hand_off_nested VAR=VALUE...: when nested and not yet inside the emulated
# machine, runs the whole script there and exits with its status. The machine passes
# no environment through, so the knobs travel as env arguments on the command line.
# BENCH lines become BENCH-NESTED so that nothing collecting BENCH figures takes these
# for real ones.
bench_hand_off_nested() {
    if [ "$nested" != 1 ] || [ "${KVMQ_GUEST:-}" = 1 ]; then
        return 0
    fi
    echo "== bench-$bench_name: $nested_label"
    local rc=0
    ci/kvm-in-qemu/run.sh -- env "$@" TIDAL_BENCH_NESTED=1 bash "bench/bench-$bench_name.sh" |
        sed -u 's/^BENCH /BENCH-NESTED /' || rc=$?
    echo "== bench-$bench_name: end of nested run (status $rc; $nested_label)"
    exit "$rc"
}

# bench_skip_without_kvm PROBE: a missing or unusable /dev/kvm is no failure of the
# benchmark, so it prints BENCH-SKIP and exits 0. PROBE --probe says why KVM fails.
bench_skip_without_kvm() {
    local why
    if [ ! -e /dev/kvm ]; then
        echo "BENCH-SKIP $bench_name: /dev/kvm missing (no KVM on this host; bench/bench-$bench_name.sh --nested checks the benchmark itself under ci/kvm-in-qemu, without meaningful $bench_noun)"
        exit 0
    fi
    if ! why=$("$1" --probe); then
        echo "BENCH-SKIP $bench_name: /dev/kvm missing or unusable ($why)"
        exit 0
    fi
}

# bench_begin: sets label (for headings; empty unless nested) and tmp, a scratch
# directory removed on exit.
# shellcheck disable=SC2034  # label is for the sourcing script
bench_begin() {
    label=""
    [ "$nested" = 1 ] && label=" [$nested_label]"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
}

# Prints "met" or "MISSED" for `value op target` (op: <, <= or >=), or "n/a" when
# nested (emulated figures say nothing about a target) or when the value is unknown.
verdict() {
    if [ "$nested" = 1 ] || [ -z "$1" ] || [ "$1" = n/a ]; then
        echo "n/a"
        return
    fi
    awk -v v="$1" -v op="$2" -v t="$3" \
        'BEGIN { ok = (op == "<") ? (v < t) : (op == ">=") ? (v >= t) : (v <= t); print ok ? "met" : "MISSED" }'
}
# The value of `BENCH <name> <value> <unit>` in file $1.
bench_value() { awk -v n="$2" '$1 == "BENCH" && $2 == n { print $3 }' "$1"; }

# The median of the numbers on stdin, one per line ("n/a" for none).
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Exit round trips per second of one run of the exit_storm guest for $storm_sec
# seconds under "$tidal" run (extra options in "$@"), from its --stats line.
storm_rate() {
    "$tidal" run "$@" --stats --timeout "$storm_sec" build/tests/guests/exit_storm.elf \
        2>"$tmp/stats" >/dev/null || true
    tail -n 1 "$tmp/stats" | sed -E 's/.*"exits":\{"io":([0-9]+).*"run_us":([0-9.]+).*/\1 \2/' |
        awk '{ printf "%.0f\n", $1 / ($2 / 1e6) }'
}
