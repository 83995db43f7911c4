/* Which guest pages changed: KVM's dirty log for the guest's writes, plus the
 * monitor's own writes (KVM does not see those), for diff snapshots. */
#include "vm_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

size_t tidal_vm_dirty_words(const struct tidal_vm *vm)
{
    return (vm->mem.size / TIDAL_PAGE_SIZE + 63) / 64;
}

static int read_log(struct tidal_vm *vm, uint64_t *bitmap, struct tidal_err *err)
{
    struct kvm_dirty_log log = {.slot = 0, .dirty_bitmap = bitmap};
    if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
        return tidal_err_set(err, "KVM_GET_DIRTY_LOG: %s", strerror(errno));
    return 0;
}

int tidal_vm_track_dirty(struct tidal_vm *vm, struct tidal_err *err)
{
    size_t words = tidal_vm_dirty_words(vm);
    if (!vm->mem.host_dirty) {
        vm->mem.host_dirty = calloc(words, sizeof(uint64_t));
        if (!vm->mem.host_dirty)
            return tidal_err_set(err, "out of memory for the dirty bitmap");
        return tidal_vm_set_memslot(vm, KVM_MEM_LOG_DIRTY_PAGES, err);
    }
    /* Already tracking: start a new interval (reading the log clears it). */
    uint64_t *scratch = calloc(words, sizeof(uint64_t));
    if (!scratch)
        return tidal_err_set(err, "out of memory for the dirty bitmap");
    int r = read_log(vm, scratch, err);
    free(scratch);
    memset(vm->mem.host_dirty, 0, words * sizeof(uint64_t));
    return r;
}

int tidal_vm_take_dirty(struct tidal_vm *vm, uint64_t *bitmap, struct tidal_err *err)
{
    if (!vm->mem.host_dirty)
        return tidal_err_set(err, "dirty pages were not being tracked");
    size_t words = tidal_vm_dirty_words(vm);
    memset(bitmap, 0, words * sizeof(uint64_t));
    if (read_log(vm, bitmap, err))
        return -1;
    for (size_t i = 0; i < words; i++)
        bitmap[i] |= vm->mem.host_dirty[i];
    memset(vm->mem.host_dirty, 0, words * sizeof(uint64_t));
    return 0;
}
