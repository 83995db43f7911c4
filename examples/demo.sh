#!/usr/bin/env bash
# `make demo`: boots each example guest the way a user would, then plans a day of
# mixed workloads. On a machine without /dev/kvm the guest part runs inside QEMU
# with nested KVM (ci/kvm-in-qemu): correct, but everything there is slow.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -w /dev/kvm ] && [ -z "${KVMQ_GUEST:-}" ]; then
    echo "demo: /dev/kvm is missing here; booting the guests inside QEMU with nested KVM"
    echo "demo: (emulated: times are meaningless there; on a KVM host they are sub-ms)"
    ci/kvm-in-qemu/setup.sh
    ci/kvm-in-qemu/run.sh -- examples/demo.sh --guests-only
else
    show() {
        echo
        echo "\$ $*"
        set +e
        "$@"
        echo "[exit status $?]"
        set -e
    }
    show build/tidal run build/examples/hello.elf
    show build/tidal run --env GREETING=hi build/examples/args.elf -- one "two words"
    show build/tidal run --stats build/examples/primes.elf
    show build/tidal run --mem 16M build/examples/alloc.elf
    show build/tidal run build/examples/time.elf
    show build/tidal run build/examples/crash.elf
    show build/tidal run --timeout 1 build/examples/spin.elf

    # Files: a data file from the host, read-only in the guest; the report the guest
    # writes under /out is copied to the host when it exits.
    files=$(mktemp -d)
    awk 'BEGIN { split("north south east west", r); print "region,amount"
                 for (i = 1; i <= 2000; i++) printf "%s,%d.25\n", r[i % 4 + 1], i % 97 }' > "$files/sales.csv"
    show build/tidal run --file "$files/sales.csv:/data/sales.csv" --output-dir "$files/out" \
        build/examples/report.elf
    show cat "$files/out/report.txt"
    rm -rf "$files"

    # A function server: kv builds its table once; each request runs in a fresh clone.
    echo
    echo "\$ build/tidal serve --listen 127.0.0.1:0 --function kv=build/examples/kv.elf --function echo=build/examples/echo.elf &"
    log=$(mktemp)
    build/tidal serve --listen 127.0.0.1:0 --function kv=build/examples/kv.elf \
        --function echo=build/examples/echo.elf 2> "$log" &
    serve_pid=$!
    port=""
    for _ in $(seq 1 1200); do
        port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$log")
        [ -n "$port" ] || ! kill -0 "$serve_pid" 2> /dev/null && break
        sleep 0.1
    done
    cat "$log"
    if [ -n "$port" ]; then
        url=http://127.0.0.1:$port
        show curl -s --data-binary $'k1\nk99999\nnope\n' "$url/v1/functions/kv/invoke"
        show curl -s --data-binary 'hello, function' "$url/v1/functions/echo/invoke"
        show curl -s -o /dev/null -w '%{http_code}\n' -d x "$url/v1/functions/missing/invoke"
        echo
        echo "\$ curl -s $url/metrics | grep -E 'invocations_total.*ok|restores'"
        curl -s "$url/metrics" | grep -E 'invocations_total.*outcome="ok"|^tidal_restores'
        # Every VM on the host, from the kernel's kvm tracepoints, while requests
        # keep the server's clones busy (without BPF privileges it says what is
        # missing and falls back to the vCPU statistics).
        for _ in $(seq 1 40); do
            curl -s -o /dev/null --data-binary 'busy' "$url/v1/functions/echo/invoke"
        done &
        load_pid=$!
        show build/tidal top --once --interval 0.5
        wait "$load_pid" || true
    fi
    kill -TERM "$serve_pid" 2> /dev/null || true
    wait "$serve_pid" || true
    echo "(the server's request log and shutdown:)"
    sed -n '/listening on/,$p' "$log" | tail -n +2
    rm -f "$log"

    # The host daemon on a manual clock: a day service (kv) and a night job that is
    # suspended when the day starts and resumed the next night.
    echo
    demo_dir=$(mktemp -d)
    export TIDAL_SOCKET=$demo_dir/tidal.sock
    echo "\$ build/tidal daemon --state-dir $demo_dir/state --socket \$TIDAL_SOCKET --clock-start 2026-12-01T21:00:00Z --clock-scale 0 &"
    build/tidal daemon --state-dir "$demo_dir/state" --socket "$TIDAL_SOCKET" \
        --clock-start 2026-12-01T21:00:00Z --clock-scale 0 --tick 0.05 2> "$demo_dir/daemon.err" &
    daemon_pid=$!
    for _ in $(seq 1 600); do [ -S "$TIDAL_SOCKET" ] && break; sleep 0.1; done
    api() { curl -s --unix-socket "$TIDAL_SOCKET" "$@"; }
    advance() {
        echo "(clock +$1 s: $(api -X POST -d "{\"advance\":$1}" http://tidal/v1/clock))"
    }
    job_field() { api http://tidal/v1/batch/nightly | sed -n "s/.*\"$1\":\"\{0,1\}\([a-z0-9.]*\).*/\1/p"; }
    # wait_job STATE...: until the job is in one of the states (at most 2 minutes).
    wait_job() {
        for _ in $(seq 1 1200); do
            case " $* " in *" $(job_field state) "*) return 0 ;; esac
            sleep 0.1
        done
    }
    # Until a fifth of the work is done (or the job is, on a fast host).
    wait_progress() {
        for _ in $(seq 1 1200); do
            [ "$(job_field state)" = done ] && return 0
            awk -v f="$(job_field fraction)" 'BEGIN { exit !(f >= 0.2) }' && return 0
            sleep 0.1
        done
    }
    show build/tidal vm create --name web build/examples/kv.elf --mem 16M
    show build/tidal vm input web k42
    sleep 1
    show build/tidal vm console web
    cat > "$demo_dir/job.json" <<JOB
{"name": "nightly", "image": "build/examples/hashchain.elf", "args": ["3000000000", "4"],
 "mem": "32M", "window": {"cron": "0 22 * * *", "duration": "8h", "tz": "UTC"}}
JOB
    show build/tidal batch submit "$demo_dir/job.json"
    show build/tidal batch ls
    advance 3600 # 22:00: the window opens
    wait_job running done
    wait_progress
    show build/tidal batch ls
    advance 28800 # 06:00: the day starts
    wait_job suspended done
    show build/tidal batch ls
    show build/tidal vm input web k7 # the day service answers all along
    sleep 1
    show build/tidal vm console web
    advance 57600 # 22:00 the next night
    wait_job done failed
    show build/tidal batch ls
    show build/tidal ps
    kill -TERM "$daemon_pid" 2> /dev/null || true
    wait "$daemon_pid" || true
    rm -rf "$demo_dir"
    unset TIDAL_SOCKET

    # Three hosts on etcd: one is killed, its services come back on the others.
    if command -v etcd > /dev/null; then
        examples/cluster-demo.sh
    else
        echo "(the cluster part needs etcd, which make deps installs; skipped here)"
    fi
fi
[ "${1:-}" = --guests-only ] && exit 0

if [ -f examples/plan/hosts.json ] && [ -d ../shared/traces ]; then
    echo
    # The scenario of docs/scheduler.md: a 10% sample of the traces, in office hours.
    echo "\$ build/tidal plan --from-traces ../shared/traces --hosts examples/plan/hosts.json" \
        "--tz America/Los_Angeles --sample 0.1 --out build/plan.json --svg build/plan.svg"
    build/tidal plan --from-traces ../shared/traces --hosts examples/plan/hosts.json \
        --tz America/Los_Angeles --sample 0.1 --out build/plan.json --svg build/plan.svg
fi
