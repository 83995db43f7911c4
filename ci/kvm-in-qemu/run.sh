#!/usr/bin/env bash
# Runs a command inside a QEMU/TCG machine whose emulated AMD CPU has SVM, so
# the guest kernel's kvm-amd gives it a working /dev/kvm even though this host
# has none. The host's / is the guest's root (read-only), DIR is mounted
# read-write at the same path, and the command runs in DIR.
# Usage: run.sh [--dir DIR] [--mem SIZE] [--smp N] -- command args...
# Exit status: the command's; 125 if the machine never reported one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
. "$here/common.sh"
dir=$(cd "$here/../.." && pwd)   # default: the repo root
# One vCPU: with two, QEMU 7.2's multi-threaded TCG now and then leaves the second
# CPU's clock stuck (RCU stalls, a KVM_CREATE_VCPU that never returns); tests run
# one guest at a time anyway.
mem=2G smp=1
while [ $# -gt 0 ]; do
    case $1 in
        --dir) dir=$(cd "$2" && pwd -P); shift 2 ;;
        --mem) mem=$2; shift 2 ;;
        --smp) smp=$2; shift 2 ;;
        --) shift; break ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || { sed -n '2,7s/^# \{0,1\}//p' "$0" >&2; exit 2; }

qemu=$(command -v qemu-system-x86_64 || true)
if [ -z "$qemu" ] || [ ! -f "$KVMQ_CACHE/kernel/vmlinuz" ] || [ ! -f "$KVMQ_CACHE/initrd.img" ]; then
    echo "kvm-in-qemu: QEMU or the guest kernel/initramfs is missing (cache: $KVMQ_CACHE)." >&2
    echo "kvm-in-qemu: run $here/setup.sh first (apt installs qemu-system-x86, busybox-static, cpio, kmod)." >&2
    exit 125
fi
if [ "$here/init" -nt "$KVMQ_CACHE/initrd.img" ]; then
    echo "kvm-in-qemu: init changed since the initramfs was built; rerun $here/setup.sh" >&2
    exit 125
fi

# The control dir carries the command in (quoted by printf %q) and the exit status out.
ctl=$(mktemp -d /tmp/kvmq-ctl.XXXXXX)
trap 'rm -rf "$ctl"' EXIT
printf 'KVMQ_DIR=%q\n' "$dir" > "$ctl/env"
{ printf 'exec'; printf ' %q' "$@"; printf '\n'; } > "$ctl/cmd"

# The guest's stderr arrives through a FIFO copied to our fd 2 by cat, so it
# shares our stderr's file offset (QEMU reopening /dev/stderr would not).
# Separate .in/.out FIFOs: with a single one QEMU reads back its own output.
mkfifo "$ctl/stderr.in" "$ctl/stderr.out"
cat "$ctl/stderr.out" >&2 &
catpid=$!

# -cpu max under TCG = every feature TCG emulates, including svm and npt.
# thread=multi runs each vCPU on its own host thread. multidevs=remap keeps
# inode numbers unique across the host mounts the 9p root export spans.
fs=security_model=none,multidevs=remap
"$qemu" -accel tcg,thread=multi -cpu max -smp "$smp" -m "$mem" \
    -nodefaults -no-user-config -display none -no-reboot \
    -chardev stdio,id=out -serial chardev:out \
    -chardev pipe,id=err,path="$ctl/stderr" -serial chardev:err \
    -serial "file:$ctl/kernel.log" \
    -kernel "$KVMQ_CACHE/kernel/vmlinuz" -initrd "$KVMQ_CACHE/initrd.img" \
    -append "console=ttyS2 earlyprintk=serial,0x3e8,115200 panic=-1" \
    -fsdev "local,id=root,path=/,readonly=on,$fs" -device virtio-9p-pci,fsdev=root,mount_tag=hostroot \
    -fsdev "local,id=work,path=$dir,$fs" -device virtio-9p-pci,fsdev=work,mount_tag=work \
    -fsdev "local,id=ctl,path=$ctl,$fs" -device virtio-9p-pci,fsdev=ctl,mount_tag=ctl \
    < /dev/null &
# QEMU runs in the background so that a signal to this script (Ctrl-C,
# timeout(1)) stops the machine too instead of leaving it running orphaned.
qpid=$!
trap 'kill "$qpid" 2>/dev/null' INT TERM HUP
rc=0; wait "$qpid" || rc=$?
# wait returns early (>128) when a trapped signal arrives; reap QEMU for real.
while kill -0 "$qpid" 2>/dev/null; do wait "$qpid" || rc=$?; done
# Let cat see EOF even if QEMU never opened the FIFO (an O_RDWR open never blocks).
exec 4<>"$ctl/stderr.out"; exec 4>&-
wait "$catpid" || true
[ $rc -eq 0 ] || { echo "kvm-in-qemu: qemu exited with status $rc" >&2; exit 125; }
if [ -s "$ctl/status" ]; then
    exit "$(cat "$ctl/status")"
fi
echo "kvm-in-qemu: the guest did not report an exit status; end of its kernel log:" >&2
tail -n 30 "$ctl/kernel.log" >&2
exit 125
