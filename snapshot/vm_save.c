#include "tidal/snapshot_vm.h"
#include "tidal/vmstate.h"

#include <stdlib.h>

/* What a snapshot file holds besides memory, captured from a stopped VM. */
struct saved_vm {
    struct tidal_vcpu_state vcpu;
    struct tidal_vm_state state;
    struct tidal_snap_header_info info;
    struct tidal_snap_blob blobs[2];
};

static int capture(struct tidal_vm *vm, struct saved_vm *s, struct tidal_err *err)
{
    if (tidal_vm_save_state(vm, &s->vcpu, &s->state, err))
        return -1;
    s->info = (struct tidal_snap_header_info){
        .abi_version = s->state.abi_version,
        .mem_size = s->state.mem_size,
        .cpu_features = {s->state.features.leaf1_ecx, s->state.features.leaf1_edx,
                         s->state.features.leaf7_ebx, s->state.features.leaf7_ecx},
    };
    s->blobs[0] = (struct tidal_snap_blob){TIDAL_SNAP_VCPU, &s->vcpu, sizeof(s->vcpu)};
    s->blobs[1] = (struct tidal_snap_blob){TIDAL_SNAP_MONITOR, &s->state, sizeof(s->state)};
    return 0;
}

int tidal_snapshot_save(struct tidal_vm *vm, const char *path, struct tidal_err *err)
{
    struct saved_vm *s = malloc(sizeof(*s));
    uint64_t size;
    int r = !s ? tidal_err_set(err, "out of memory")
            : capture(vm, s, err)
                ? -1
                : tidal_snap_write(path, &s->info, s->blobs, 2, tidal_vm_memory(vm, &size), err);
    free(s);
    return r;
}

int tidal_snapshot_save_diff(struct tidal_vm *vm, const struct tidal_snap *base, const char *path,
                             struct tidal_err *err)
{
    uint64_t size;
    const uint8_t *mem = tidal_vm_memory(vm, &size);
    struct saved_vm *s = malloc(sizeof(*s));
    uint64_t *dirty = calloc(tidal_vm_dirty_words(vm), sizeof(uint64_t));
    int r;
    if (!s || !dirty) {
        r = tidal_err_set(err, "out of memory");
    } else if (capture(vm, s, err) || tidal_vm_take_dirty(vm, dirty, err)) {
        r = -1;
    } else {
        struct tidal_snap_diff diff = {.base = base, .dirty = dirty};
        r = tidal_snap_write_diff(path, &s->info, s->blobs, 2, mem, &diff, err);
    }
    free(dirty);
    free(s);
    return r;
}
