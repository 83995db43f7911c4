/* Fresh guest memory for a boot: one anonymous mapping, lazily backed, with host page
 * sizes chosen per region. Where the guest uses memory in bulk (tidal_layout_bulk),
 * a transparent huge page makes a first touch one fault per 2 MiB instead of one per
 * 4 KiB; everywhere else 4 KiB pages keep a small guest's footprint small. */
#include "tidal/host_limits.h"
#include "vm_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE (2ull << 20)

/* KVM maps a huge host page with one large mapping only where guest-physical and
 * host-virtual addresses agree modulo 2 MiB: guest memory starts at GPA 0, so its host
 * address must be 2 MiB-aligned. Over-map by 2 MiB and trim both ends. */
static void *map_aligned(uint64_t size)
{
    uint8_t *raw = mmap(NULL, size + HUGE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED)
        return MAP_FAILED;
    uint8_t *base = (uint8_t *)(((uintptr_t)raw + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
    if (base > raw)
        munmap(raw, (size_t)(base - raw));
    munmap(base + size, (size_t)(raw + HUGE - base));
    return base;
}

int tidal_guest_memory_map(struct tidal_vm *vm, struct tidal_err *err)
{
    uint8_t *base = map_aligned(vm->mem.size);
    char why[300];
    if (base == MAP_FAILED)
        return tidal_err_set(err, "guest memory: mmap of %llu bytes: %s",
                             (unsigned long long)vm->mem.size,
                             tidal_describe_errno(errno, why, sizeof(why)));
    vm->mem.base = base;
    /* Explicit both ways, so that a host whose THP setting is "always" still gives the
     * boot area and small stacks 4 KiB pages, and "off" means off. Advice the kernel
     * refuses (no THP support) only costs the speed-up. */
    madvise(base, vm->mem.size, MADV_NOHUGEPAGE);
    if (!vm->huge_pages)
        return 0;
    struct tidal_mem_range bulk[2];
    unsigned n = tidal_layout_bulk(&vm->layout, bulk);
    for (unsigned i = 0; i < n; i++)
        madvise(base + bulk[i].start, bulk[i].end - bulk[i].start, MADV_HUGEPAGE);
    return 0;
}
