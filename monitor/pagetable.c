#include "tidal/pagetable.h"
#include "tidal/elf.h"

#include <string.h>

#define PAGE 4096ull
#define HUGE (2ull << 20)
#define CANONICAL_LIMIT (1ull << 47)

static uint64_t *table_at(const struct tidal_pt *pt, uint64_t gpa)
{
    return (uint64_t *)(pt->mem + gpa);
}

static int alloc_table(struct tidal_pt *pt, uint64_t *gpa, struct tidal_err *err)
{
    if (pt->pool_next + PAGE > pt->pool_end)
        return tidal_err_set(err, "page tables: out of table pages (pool of %llu KiB)",
                             (unsigned long long)((pt->pool_end - pt->pool_next) >> 10));
    *gpa = pt->pool_next;
    pt->pool_next += PAGE;
    memset(pt->mem + *gpa, 0, PAGE);
    return 0;
}

int tidal_pt_init(struct tidal_pt *pt, uint8_t *mem, uint64_t mem_size, uint64_t pool_start,
                  uint64_t pool_end, struct tidal_err *err)
{
    memset(pt, 0, sizeof(*pt));
    if (pool_start % PAGE || pool_end % PAGE || pool_end > mem_size || pool_start >= pool_end)
        return tidal_err_set(err, "page tables: bad table pool [0x%llx, 0x%llx)",
                             (unsigned long long)pool_start, (unsigned long long)pool_end);
    pt->mem = mem;
    pt->mem_size = mem_size;
    pt->pool_next = pool_start;
    pt->pool_end = pool_end;
    return alloc_table(pt, &pt->root, err);
}

/* Returns the next-level table under entry `*e`, creating it if absent. */
static int descend(struct tidal_pt *pt, uint64_t *e, uint64_t **next, struct tidal_err *err,
                   uint64_t va)
{
    if (!(*e & TIDAL_PTE_P)) {
        uint64_t gpa = 0;
        if (alloc_table(pt, &gpa, err))
            return -1;
        /* Intermediate entries allow everything; the leaf decides. */
        *e = gpa | TIDAL_PTE_P | TIDAL_PTE_W | TIDAL_PTE_U | TIDAL_PTE_A;
    } else if (*e & TIDAL_PTE_PS) {
        return tidal_err_set(err, "page tables: 0x%llx is already mapped by a large page",
                             (unsigned long long)va);
    }
    *next = table_at(pt, *e & TIDAL_PTE_ADDR);
    return 0;
}

static uint64_t leaf_flags(unsigned perm)
{
    uint64_t f = TIDAL_PTE_P | TIDAL_PTE_U | TIDAL_PTE_A | TIDAL_PTE_D;
    if (perm & TIDAL_SEG_W)
        f |= TIDAL_PTE_W;
    if (!(perm & TIDAL_SEG_X))
        f |= TIDAL_PTE_NX;
    return f;
}

int tidal_pt_map(struct tidal_pt *pt, uint64_t va, uint64_t len, unsigned perm,
                 struct tidal_err *err)
{
    if (va % PAGE || len % PAGE || va + len < va || va + len > CANONICAL_LIMIT ||
        va + len > pt->mem_size)
        return tidal_err_set(err, "page tables: cannot map [0x%llx, +0x%llx) in %llu bytes",
                             (unsigned long long)va, (unsigned long long)len,
                             (unsigned long long)pt->mem_size);
    uint64_t end = va + len;
    while (va < end) {
        uint64_t *pml4 = table_at(pt, pt->root), *pdpt, *pd, *ptab;
        if (descend(pt, &pml4[(va >> 39) & 511], &pdpt, err, va) ||
            descend(pt, &pdpt[(va >> 30) & 511], &pd, err, va))
            return -1;
        uint64_t *pde = &pd[(va >> 21) & 511];
        if (va % HUGE == 0 && end - va >= HUGE && !(*pde & TIDAL_PTE_P)) {
            *pde = va | leaf_flags(perm) | TIDAL_PTE_PS;
            pt->pages_2m++;
            va += HUGE;
            continue;
        }
        if (descend(pt, pde, &ptab, err, va))
            return -1;
        uint64_t *pte = &ptab[(va >> 12) & 511];
        if (*pte & TIDAL_PTE_P)
            return tidal_err_set(err, "page tables: page 0x%llx is mapped twice",
                                 (unsigned long long)va);
        *pte = va | leaf_flags(perm);
        pt->pages_4k++;
        va += PAGE;
    }
    return 0;
}

int tidal_pt_lookup(const uint8_t *mem, uint64_t mem_size, uint64_t root, uint64_t va, uint64_t *pa,
                    uint64_t *flags)
{
    uint64_t table = root;
    for (int level = 3; level >= 0; level--) {
        if (table + PAGE > mem_size)
            return -1;
        uint64_t e;
        memcpy(&e, mem + table + ((va >> (12 + 9 * level)) & 511) * 8, sizeof(e));
        if (!(e & TIDAL_PTE_P))
            return -1;
        if (level == 0 || (level == 1 && (e & TIDAL_PTE_PS))) {
            uint64_t page = level ? HUGE : PAGE;
            *pa = (e & TIDAL_PTE_ADDR & ~(page - 1)) | (va & (page - 1));
            *flags = e & ~TIDAL_PTE_ADDR;
            return 0;
        }
        table = e & TIDAL_PTE_ADDR;
    }
    return -1;
}
