#!/usr/bin/env bash
# Prepares what run.sh needs: QEMU, a Debian kernel (extracted, not installed,
# so the host's /boot and /lib/modules stay untouched) and a busybox initramfs
# that loads kvm-amd and the 9p modules. Idempotent; rerun with --force to rebuild.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
. "$here/common.sh"
force=0; [ "${1:-}" = --force ] && force=1

# Host tools: qemu (TCG), busybox for the initramfs, cpio to pack it,
# kmod for depmod (the extracted kernel ships without modules.dep).
need=()
for p in qemu-system-x86 busybox-static cpio kmod; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "kvm-in-qemu: installing ${need[*]}" >&2
    $sudo apt-get update -q >/dev/null || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

mkdir -p "$KVMQ_CACHE"
cd "$KVMQ_CACHE"
if [ $force = 1 ] || [ ! -f kernel/vmlinuz ]; then
    # Whatever kernel Debian's metapackage currently points at (6.1 on bookworm).
    pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    [ -n "$pkg" ] || { echo "kvm-in-qemu: cannot resolve linux-image-amd64" >&2; exit 1; }
    rm -rf kernel dl && mkdir -p kernel/modules dl
    (cd dl && apt-get download "$pkg" 2>/dev/null)
    dpkg-deb -x dl/*.deb dl/root
    ver=$(ls dl/root/lib/modules)
    depmod -b "$PWD/dl/root" "$ver"
    moddir=dl/root/lib/modules/$ver
    # Keep only the modules we load, with their dependencies, in load order
    # (modules.dep lists a module's dependencies deepest last).
    for m in virtio_pci 9pnet_virtio 9p kvm-amd; do
        line=$(grep -E "(^|/)$m\.ko(\.[a-z]+)?:" "$moddir/modules.dep")
        for f in $(echo "${line#*:}" | tr ' ' '\n' | tac) "${line%%:*}"; do
            grep -qsx "$(basename "$f")" kernel/modules/order && continue
            cp "$moddir/$f" kernel/modules/
            # busybox insmod can't load compressed modules (newer Debian kernels ship .ko.xz)
            case $f in
                *.xz) xz -d "kernel/modules/$(basename "$f")"; f=${f%.xz} ;;
                *.zst) zstd -q --rm -d "kernel/modules/$(basename "$f")"; f=${f%.zst} ;;
            esac
            basename "$f" >> kernel/modules/order
        done
    done
    cp "dl/root/boot/vmlinuz-$ver" kernel/vmlinuz
    echo "$ver" > kernel/version
    rm -rf dl   # the full module tree is ~400 MB; we need ~2 MB of it
fi
ver=$(cat kernel/version)

# The initramfs: busybox, those modules and /init.
rm -rf initrd.d && mkdir -p initrd.d/bin initrd.d/proc initrd.d/sys initrd.d/dev \
    initrd.d/newroot initrd.d/ctl
cp /bin/busybox initrd.d/bin/busybox
cp -r kernel/modules initrd.d/modules
cp "$here/init" initrd.d/init
chmod +x initrd.d/init
(cd initrd.d && find . | cpio -o -H newc --quiet | gzip -1) > initrd.img.tmp
mv initrd.img.tmp initrd.img
rm -rf initrd.d
echo "kvm-in-qemu: ready in $KVMQ_CACHE (kernel $ver)" >&2
