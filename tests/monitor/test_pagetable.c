#include "tidal/elf.h"
#include "tidal/pagetable.h"

#include <criterion/criterion.h>
#include <stdlib.h>

#define MEM (64ull << 20)
#define POOL 0x10000ull
#define POOL_END 0x200000ull

static uint8_t *mem;

static void setup(void)
{
    mem = calloc(1, MEM);
}

static void teardown(void)
{
    free(mem);
}

TestSuite(pagetable, .init = setup, .fini = teardown);

static void walk_entries(uint64_t table, int level, int *bad)
{
    for (int i = 0; i < 512; i++) {
        uint64_t e;
        memcpy(&e, mem + table + i * 8, 8);
        if (!(e & TIDAL_PTE_P))
            continue;
        if (!(e & TIDAL_PTE_U))
            (*bad)++;
        if (level > 0 && !(level == 1 && (e & TIDAL_PTE_PS)))
            walk_entries(e & TIDAL_PTE_ADDR, level - 1, bad);
        /* never a 1 GiB page */
        if (level == 2 && (e & TIDAL_PTE_PS))
            (*bad)++;
    }
}

Test(pagetable, identity_maps_with_permissions)
{
    struct tidal_pt pt;
    struct tidal_err err;
    cr_assert_eq(tidal_pt_init(&pt, mem, MEM, POOL, POOL_END, &err), 0);
    cr_assert_eq(tidal_pt_map(&pt, 0x200000, 0x1000, TIDAL_SEG_R | TIDAL_SEG_X, &err), 0);
    cr_assert_eq(tidal_pt_map(&pt, 0x201000, 0x1000, TIDAL_SEG_R, &err), 0);
    cr_assert_eq(tidal_pt_map(&pt, 0x202000, 0x1000, TIDAL_SEG_R | TIDAL_SEG_W, &err), 0);

    uint64_t pa, flags;
    cr_assert_eq(tidal_pt_lookup(mem, MEM, pt.root, 0x200123, &pa, &flags), 0);
    cr_assert_eq(pa, 0x200123);
    cr_assert(!(flags & TIDAL_PTE_NX) && !(flags & TIDAL_PTE_W), "text: executable, read-only");
    cr_assert_eq(tidal_pt_lookup(mem, MEM, pt.root, 0x201000, &pa, &flags), 0);
    cr_assert((flags & TIDAL_PTE_NX) && !(flags & TIDAL_PTE_W), "rodata: NX, read-only");
    cr_assert_eq(tidal_pt_lookup(mem, MEM, pt.root, 0x202fff, &pa, &flags), 0);
    cr_assert((flags & TIDAL_PTE_NX) && (flags & TIDAL_PTE_W), "data: NX, writable");
    cr_assert_eq(tidal_pt_lookup(mem, MEM, pt.root, 0x0, &pa, &flags), -1, "NULL page unmapped");
    cr_assert_eq(tidal_pt_lookup(mem, MEM, pt.root, 0x203000, &pa, &flags), -1);
}

Test(pagetable, uses_2m_pages_where_aligned)
{
    struct tidal_pt pt;
    struct tidal_err err;
    cr_assert_eq(tidal_pt_init(&pt, mem, MEM, POOL, POOL_END, &err), 0);
    /* 4 KiB head, two whole 2 MiB pages, 4 KiB tail */
    cr_assert_eq(tidal_pt_map(&pt, 0x3ff000, 0x1000 + (4ull << 20) + 0x3000,
                              TIDAL_SEG_R | TIDAL_SEG_W, &err),
                 0, "%s", err.msg);
    cr_assert_eq(pt.pages_2m, 2);
    cr_assert_eq(pt.pages_4k, 4);
    uint64_t pa, flags;
    cr_assert_eq(tidal_pt_lookup(mem, MEM, pt.root, 0x400000 + 0x12345, &pa, &flags), 0);
    cr_assert_eq(pa, 0x412345);
    cr_assert(flags & TIDAL_PTE_PS);
    cr_assert_eq(tidal_pt_lookup(mem, MEM, pt.root, 0x802fff, &pa, &flags), 0);
    cr_assert(!(flags & TIDAL_PTE_PS));
    cr_assert_eq(tidal_pt_lookup(mem, MEM, pt.root, 0x803000, &pa, &flags), -1);
}

Test(pagetable, every_entry_is_user_accessible_and_no_1g_pages)
{
    struct tidal_pt pt;
    struct tidal_err err;
    cr_assert_eq(tidal_pt_init(&pt, mem, MEM, POOL, POOL_END, &err), 0);
    cr_assert_eq(tidal_pt_map(&pt, 0x1000, 0x8000, TIDAL_SEG_R, &err), 0);
    cr_assert_eq(tidal_pt_map(&pt, 0x200000, MEM - 0x200000, TIDAL_SEG_R | TIDAL_SEG_W, &err), 0);
    int bad = 0;
    walk_entries(pt.root, 3, &bad);
    cr_assert_eq(bad, 0, "%d entries without U/S or with 1 GiB pages", bad);
}

Test(pagetable, rejects_double_mapping_and_bad_ranges)
{
    struct tidal_pt pt;
    struct tidal_err err;
    cr_assert_eq(tidal_pt_init(&pt, mem, MEM, POOL, POOL_END, &err), 0);
    cr_assert_eq(tidal_pt_map(&pt, 0x200000, 0x2000, TIDAL_SEG_R, &err), 0);
    cr_assert_eq(tidal_pt_map(&pt, 0x201000, 0x1000, TIDAL_SEG_R, &err), -1);
    cr_assert(strstr(err.msg, "mapped twice"), "%s", err.msg);
    cr_assert_eq(tidal_pt_map(&pt, 0x400000, 0x200000, TIDAL_SEG_R, &err), 0);
    cr_assert_eq(tidal_pt_map(&pt, 0x401000, 0x1000, TIDAL_SEG_R, &err), -1);
    cr_assert(strstr(err.msg, "large page"), "%s", err.msg);
    cr_assert_eq(tidal_pt_map(&pt, 0x1001, 0x1000, TIDAL_SEG_R, &err), -1);
    cr_assert_eq(tidal_pt_map(&pt, MEM - 0x1000, 0x2000, TIDAL_SEG_R, &err), -1);
    cr_assert_eq(tidal_pt_map(&pt, UINT64_MAX - 0xfff, 0x2000, TIDAL_SEG_R, &err), -1);
}

Test(pagetable, runs_out_of_pool_cleanly)
{
    struct tidal_pt pt;
    struct tidal_err err;
    cr_assert_eq(tidal_pt_init(&pt, mem, MEM, POOL, POOL + 0x3000, &err), 0);
    /* root + pdpt + pd fit; the page table for 4 KiB pages does not */
    cr_assert_eq(tidal_pt_map(&pt, 0x201000, 0x1000, TIDAL_SEG_R, &err), -1);
    cr_assert(strstr(err.msg, "out of table pages"), "%s", err.msg);
}
