# Shared by setup.sh and run.sh: where the kernel and initramfs are cached.
if [ -n "${KVMQ_CACHE:-}" ]; then :
elif [ "$(id -u)" -eq 0 ]; then KVMQ_CACHE=/var/cache/tidal-kvm-in-qemu
else KVMQ_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/tidal-kvm-in-qemu
fi
