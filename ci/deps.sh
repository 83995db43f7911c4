#!/usr/bin/env bash
# Installs the Debian packages Tidal needs that are missing; silent when none are.
set -euo pipefail
# libclang-rt-14-dev: libFuzzer and clang's sanitizer runtimes (`make fuzz`); clang only
# recommends it, and recommendations are not installed here.
packages=(build-essential linux-libc-dev musl-tools musl-dev libcriterion-dev libcjson-dev
          binutils libmicrohttpd-dev libseccomp-dev libcurl4-openssl-dev curl wrk
          libbpf-dev clang bpftool libclang-rt-14-dev etcd-server etcd-client iproute2)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# etcd-server's install starts a system etcd where it can; the tests start their own
# members on free ports, and a container may have no init to start it with. Debian's
# policy-rc.d hook (exit 101: "action forbidden") keeps packages from starting
# services during this install, if no policy of the machine's own says otherwise.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    trap '$sudo rm -f "$policy"' EXIT
fi
$sudo apt-get update -q >/dev/null || echo "deps: apt-get update failed; trying the install anyway" >&2
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
