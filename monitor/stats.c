/* vCPU binary statistics (KVM_GET_STATS_FD): exits and insn_emulation prove that
 * a guest ran natively; counts are stable across machines, times are not. */
#include "vm_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Opened on first use: most runs never ask, and bring-up stays one ioctl shorter. */
static int stats_fd(struct tidal_vm *vm)
{
    if (vm->stats_fd < 0)
        vm->stats_fd = ioctl(vm->vcpu_fd, KVM_GET_STATS_FD, NULL);
    return vm->stats_fd;
}

int tidal_vm_stats(struct tidal_vm *vm, void (*emit)(void *ctx, const char *name, uint64_t value),
                   void *ctx)
{
    int fd = stats_fd(vm);
    struct kvm_stats_header h;
    if (fd < 0 || pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.num_desc > 4096 ||
        h.name_size > 1024)
        return -1;
    size_t desc_size = sizeof(struct kvm_stats_desc) + h.name_size;
    char *descs = malloc(desc_size * h.num_desc);
    if (!descs)
        return -1;
    ssize_t want = (ssize_t)(desc_size * h.num_desc);
    if (pread(fd, descs, (size_t)want, h.desc_offset) != want) {
        free(descs);
        return -1;
    }
    for (uint32_t i = 0; i < h.num_desc; i++) {
        struct kvm_stats_desc *d = (struct kvm_stats_desc *)(descs + i * desc_size);
        if ((d->flags & KVM_STATS_TYPE_MASK) == KVM_STATS_TYPE_LINEAR_HIST ||
            (d->flags & KVM_STATS_TYPE_MASK) == KVM_STATS_TYPE_LOG_HIST || d->size != 1)
            continue;
        uint64_t v;
        if (pread(fd, &v, sizeof(v), h.data_offset + d->offset) != (ssize_t)sizeof(v))
            continue;
        d->name[h.name_size - 1] = 0;
        emit(ctx, d->name, v);
    }
    free(descs);
    return 0;
}

struct find_ctx {
    const char *name;
    uint64_t value;
    int found;
};

static void find_one(void *ctx, const char *name, uint64_t value)
{
    struct find_ctx *f = ctx;
    if (!strcmp(name, f->name)) {
        f->value = value;
        f->found = 1;
    }
}

int tidal_vm_stat(struct tidal_vm *vm, const char *name, uint64_t *value)
{
    struct find_ctx f = {.name = name};
    if (tidal_vm_stats(vm, find_one, &f) < 0 || !f.found)
        return -1;
    *value = f.value;
    return 0;
}

void tidal_vm_progress(const struct tidal_vm *vm, uint64_t *done, uint64_t *total)
{
    *done = __atomic_load_n(&vm->io.progress_done, __ATOMIC_ACQUIRE);
    *total = __atomic_load_n(&vm->io.progress_total, __ATOMIC_RELAXED);
    if (*done > *total) /* read between the two stores of a report with a smaller total */
        *done = *total;
}
