#include "tidal/snapshot_vm.h"
#include "tidal/vmstate.h"

int tidal_snapshot_save(struct tidal_vm *vm, const char *path, struct tidal_err *err)
{
    struct tidal_vcpu_state vcpu;
    struct tidal_vm_state state;
    if (tidal_vm_save_state(vm, &vcpu, &state, err))
        return -1;
    struct tidal_snap_header_info info = {
        .abi_version = state.abi_version,
        .mem_size = state.mem_size,
        .cpu_features = {state.features.leaf1_ecx, state.features.leaf1_edx,
                         state.features.leaf7_ebx, state.features.leaf7_ecx},
    };
    const struct tidal_snap_blob blobs[] = {
        {.type = TIDAL_SNAP_VCPU, .data = &vcpu, .size = sizeof(vcpu)},
        {.type = TIDAL_SNAP_MONITOR, .data = &state, .size = sizeof(state)},
    };
    uint64_t size;
    const uint8_t *mem = tidal_vm_memory(vm, &size);
    return tidal_snap_write(path, &info, blobs, 2, mem, err);
}
