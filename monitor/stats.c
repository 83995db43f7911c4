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

/* The stats file's header and descriptors (malloc'ed; NULL when the kernel has none). */
static char *read_descriptors(struct tidal_vm *vm, struct kvm_stats_header *h, size_t *desc_size)
{
    int fd = stats_fd(vm);
    if (fd < 0 || pread(fd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h) || h->num_desc > 4096 ||
        h->name_size > 1024)
        return NULL;
    *desc_size = sizeof(struct kvm_stats_desc) + h->name_size;
    ssize_t want = (ssize_t)(*desc_size * h->num_desc);
    char *descs = malloc(*desc_size * h->num_desc);
    if (descs && pread(fd, descs, (size_t)want, h->desc_offset) != want) {
        free(descs);
        return NULL;
    }
    for (uint32_t i = 0; descs && i < h->num_desc; i++)
        ((struct kvm_stats_desc *)(descs + i * *desc_size))->name[h->name_size - 1] = 0;
    return descs;
}

/* A plain counter or gauge, not a histogram. */
static bool single_value(const struct kvm_stats_desc *d)
{
    return (d->flags & KVM_STATS_TYPE_MASK) != KVM_STATS_TYPE_LINEAR_HIST &&
           (d->flags & KVM_STATS_TYPE_MASK) != KVM_STATS_TYPE_LOG_HIST && d->size == 1;
}

int tidal_vm_stats(struct tidal_vm *vm, void (*emit)(void *ctx, const char *name, uint64_t value),
                   void *ctx)
{
    struct kvm_stats_header h;
    size_t desc_size;
    char *descs = read_descriptors(vm, &h, &desc_size);
    if (!descs)
        return -1;
    for (uint32_t i = 0; i < h.num_desc; i++) {
        struct kvm_stats_desc *d = (struct kvm_stats_desc *)(descs + i * desc_size);
        uint64_t v;
        if (single_value(d) &&
            pread(vm->stats_fd, &v, sizeof(v), h.data_offset + d->offset) == (ssize_t)sizeof(v))
            emit(ctx, d->name, v);
    }
    free(descs);
    return 0;
}

/* Where a stat's value lies in the stats file, found once per VM and name: a lookup
 * on every request (pf_taken per serve request, exits per reset) then costs one pread. */
static int find_offset(struct tidal_vm *vm, const char *name, uint64_t *offset)
{
    size_t slots = sizeof(vm->stat_cache) / sizeof(vm->stat_cache[0]);
    for (size_t i = 0; i < slots; i++)
        if (vm->stat_cache[i].name[0] && !strcmp(vm->stat_cache[i].name, name)) {
            *offset = vm->stat_cache[i].offset;
            return 0;
        }
    struct kvm_stats_header h;
    size_t desc_size;
    char *descs = read_descriptors(vm, &h, &desc_size);
    int found = -1;
    for (uint32_t i = 0; descs && i < h.num_desc && found < 0; i++) {
        struct kvm_stats_desc *d = (struct kvm_stats_desc *)(descs + i * desc_size);
        if (single_value(d) && !strcmp(d->name, name)) {
            *offset = h.data_offset + d->offset;
            found = 0;
        }
    }
    free(descs);
    if (!found && strlen(name) < sizeof(vm->stat_cache[0].name)) {
        unsigned slot = vm->stat_cache_next++ % slots;
        strcpy(vm->stat_cache[slot].name, name);
        vm->stat_cache[slot].offset = *offset;
    }
    return found;
}

int tidal_vm_stat(struct tidal_vm *vm, const char *name, uint64_t *value)
{
    uint64_t offset;
    if (find_offset(vm, name, &offset))
        return -1;
    return pread(vm->stats_fd, value, sizeof(*value), (off_t)offset) == (ssize_t)sizeof(*value)
               ? 0
               : -1;
}

void tidal_vm_progress(const struct tidal_vm *vm, uint64_t *done, uint64_t *total)
{
    *done = __atomic_load_n(&vm->io.progress_done, __ATOMIC_ACQUIRE);
    *total = __atomic_load_n(&vm->io.progress_total, __ATOMIC_RELAXED);
    if (*done > *total) /* read between the two stores of a report with a smaller total */
        *done = *total;
}
