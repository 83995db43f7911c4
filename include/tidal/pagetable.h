/* Identity-mapped 4-level page tables in guest memory, built by the monitor.
 * Every entry carries U/S=1 (PVM runs the guest at hardware CPL 3 and livelocks on a
 * supervisor-only entry; harmless on VMX/SVM with SMEP/SMAP off). Leaves are 4 KiB or
 * 2 MiB, never 1 GiB (a 1 GiB page kills a PVM vCPU). */
#ifndef TIDAL_PAGETABLE_H
#define TIDAL_PAGETABLE_H

#include "tidal/err.h"

#include <stdint.h>

#define TIDAL_PTE_P (1ull << 0)
#define TIDAL_PTE_W (1ull << 1)
#define TIDAL_PTE_U (1ull << 2)
#define TIDAL_PTE_A (1ull << 5)
#define TIDAL_PTE_D (1ull << 6)
#define TIDAL_PTE_PS (1ull << 7)
#define TIDAL_PTE_NX (1ull << 63)
#define TIDAL_PTE_ADDR 0x000ffffffffff000ull

struct tidal_pt {
    uint8_t *mem;
    uint64_t mem_size;
    uint64_t pool_next, pool_end; /* GPAs of free pages for tables */
    uint64_t root;                /* GPA of the PML4: the value for CR3 */
    uint64_t pages_4k, pages_2m;  /* leaves written, for stats and tests */
};

/* Tables are allocated from [pool_start, pool_end), which must be zeroed memory. */
int tidal_pt_init(struct tidal_pt *pt, uint8_t *mem, uint64_t mem_size, uint64_t pool_start,
                  uint64_t pool_end, struct tidal_err *err);

/* Maps [va, va+len) to the same physical addresses with permissions `perm`
 * (TIDAL_SEG_R/W/X from tidal/elf.h); 2 MiB leaves wherever a whole aligned 2 MiB lies
 * in the range and no 4 KiB table exists there yet. va and len must be page-aligned;
 * mapping a page twice is an error. */
int tidal_pt_map(struct tidal_pt *pt, uint64_t va, uint64_t len, unsigned perm,
                 struct tidal_err *err);

/* Walks the tables like the MMU would. Returns 0 and the leaf entry's flags, or -1
 * if va is not mapped. Used by tests and crash reports. */
int tidal_pt_lookup(const uint8_t *mem, uint64_t mem_size, uint64_t root, uint64_t va, uint64_t *pa,
                    uint64_t *flags);

#endif
