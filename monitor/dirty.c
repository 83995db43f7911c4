/* Which guest pages changed, for each reader of the dirty log (tidal/vmstate.h):
 * KVM's dirty log for the guest's writes, plus the monitor's own writes, which KVM
 * does not see. */
#include "vm_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

size_t tidal_vm_dirty_words(const struct tidal_vm *vm)
{
    return (vm->mem.size / TIDAL_PAGE_SIZE + 63) / 64;
}

/* Reads KVM's log (which clears it and write-protects the pages again) and the
 * monitor's record, and adds both to every tracking reader's pending pages. Lock
 * held. */
static int collect(struct tidal_vm *vm, struct tidal_err *err)
{
    size_t words = tidal_vm_dirty_words(vm);
    memset(vm->dirty.log, 0, words * sizeof(uint64_t));
    struct kvm_dirty_log log = {.slot = 0, .dirty_bitmap = vm->dirty.log};
    if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
        return tidal_err_set(err, "KVM_GET_DIRTY_LOG: %s", strerror(errno));
    for (size_t i = 0; i < words; i++) {
        /* The vCPU's thread may be marking pages right now: take each word whole. */
        uint64_t w =
            vm->dirty.log[i] | __atomic_exchange_n(&vm->mem.host_dirty[i], 0, __ATOMIC_ACQ_REL);
        if (!w)
            continue;
        for (int r = 0; r < TIDAL_DIRTY_READERS; r++)
            if (vm->dirty.pending[r])
                vm->dirty.pending[r][i] |= w;
    }
    return 0;
}

/* Lock held. Allocates what tracking needs and turns KVM's log on. */
static int start_logging(struct tidal_vm *vm, struct tidal_err *err)
{
    size_t words = tidal_vm_dirty_words(vm);
    if (!vm->dirty.log && !(vm->dirty.log = calloc(words, sizeof(uint64_t))))
        return tidal_err_set(err, "out of memory for the dirty bitmap");
    if (!vm->mem.host_dirty) {
        uint64_t *host = calloc(words, sizeof(uint64_t));
        if (!host)
            return tidal_err_set(err, "out of memory for the dirty bitmap");
        /* Published to the vCPU's thread, which reads it in tidal_guest_mark_written;
         * kept until the VM is destroyed, since that thread may hold it at any time. */
        __atomic_store_n(&vm->mem.host_dirty, host, __ATOMIC_RELEASE);
    }
    /* What the monitor wrote while no reader tracked is older than this interval. */
    for (size_t i = 0; i < words; i++)
        __atomic_store_n(&vm->mem.host_dirty[i], 0, __ATOMIC_RELAXED);
    if (tidal_vm_set_memslot(vm, KVM_MEM_LOG_DIRTY_PAGES, err))
        return -1;
    vm->dirty.logging = true;
    return 0;
}

int tidal_vm_dirty_start(struct tidal_vm *vm, enum tidal_dirty_reader who, struct tidal_err *err)
{
    if (vm->reuse)
        return tidal_err_set(err, "a VM reused in place cannot track dirty pages: its resets "
                                  "own the dirty log");
    if (vm->vm_fd < 0)
        return tidal_err_set(err, "the VM's descriptor was dropped: its dirty log is out of reach");
    pthread_mutex_lock(&vm->dirty.lock);
    int r = 0;
    if (!vm->dirty.pending[who] &&
        !(vm->dirty.pending[who] = calloc(tidal_vm_dirty_words(vm), sizeof(uint64_t))))
        r = tidal_err_set(err, "out of memory for the dirty bitmap");
    else if (!vm->dirty.logging)
        r = start_logging(vm, err);
    else /* pages written before now go to the other readers, not to this one */
        r = collect(vm, err);
    if (r) {
        free(vm->dirty.pending[who]);
        vm->dirty.pending[who] = NULL;
    } else {
        memset(vm->dirty.pending[who], 0, tidal_vm_dirty_words(vm) * sizeof(uint64_t));
    }
    pthread_mutex_unlock(&vm->dirty.lock);
    return r;
}

int tidal_vm_dirty_take(struct tidal_vm *vm, enum tidal_dirty_reader who, uint64_t *bitmap,
                        struct tidal_err *err)
{
    pthread_mutex_lock(&vm->dirty.lock);
    int r = !vm->dirty.pending[who] ? tidal_err_set(err, "dirty pages were not being tracked")
                                    : collect(vm, err);
    if (!r) {
        size_t bytes = tidal_vm_dirty_words(vm) * sizeof(uint64_t);
        memcpy(bitmap, vm->dirty.pending[who], bytes);
        memset(vm->dirty.pending[who], 0, bytes);
    }
    pthread_mutex_unlock(&vm->dirty.lock);
    return r;
}

void tidal_vm_dirty_stop(struct tidal_vm *vm, enum tidal_dirty_reader who)
{
    pthread_mutex_lock(&vm->dirty.lock);
    free(vm->dirty.pending[who]);
    vm->dirty.pending[who] = NULL;
    bool any = false;
    for (int r = 0; r < TIDAL_DIRTY_READERS; r++)
        any |= vm->dirty.pending[r] != NULL;
    /* Without a reader the log would only cost the guest a write fault per page. A
     * failure leaves it on, which costs only that. */
    struct tidal_err ignored;
    if (!any && vm->dirty.logging && tidal_vm_set_memslot(vm, 0, &ignored) == 0)
        vm->dirty.logging = false;
    pthread_mutex_unlock(&vm->dirty.lock);
}

int tidal_vm_track_dirty(struct tidal_vm *vm, struct tidal_err *err)
{
    return tidal_vm_dirty_start(vm, TIDAL_DIRTY_SNAPSHOT, err);
}

int tidal_vm_take_dirty(struct tidal_vm *vm, uint64_t *bitmap, struct tidal_err *err)
{
    return tidal_vm_dirty_take(vm, TIDAL_DIRTY_SNAPSHOT, bitmap, err);
}
