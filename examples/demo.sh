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
    fi
    kill -TERM "$serve_pid" 2> /dev/null || true
    wait "$serve_pid" || true
    echo "(the server's request log and shutdown:)"
    sed -n '/listening on/,$p' "$log" | tail -n +2
    rm -f "$log"
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
