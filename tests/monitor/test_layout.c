/* Which guest memory is "bulk" (host huge pages when asked for) and that the guest's
 * page tables map it with 2 MiB pages, while text keeps its own 4 KiB permissions. */
#include "tidal/layout.h"

#include <criterion/criterion.h>
#include <stdlib.h>

#define MIB (1ull << 20)

static uint8_t *mem;
static uint64_t mem_size;

static void teardown(void)
{
    free(mem);
}

TestSuite(layout, .fini = teardown);

/* An image of one text page and one data page at 2 MiB, with nothing else. */
static void plan(uint64_t size, struct tidal_layout *lay, struct tidal_pt *pt)
{
    static struct tidal_elf_image img = {
        .nsegments = 2,
        .seg = {{.vaddr = 0x200000, .memsz = 0x1000, .perm = TIDAL_SEG_R | TIDAL_SEG_X},
                {.vaddr = 0x201000, .memsz = 0x1000, .perm = TIDAL_SEG_R | TIDAL_SEG_W}},
        .image_start = 0x200000,
        .image_end = 0x202000,
    };
    struct tidal_err err;
    free(mem);
    mem_size = size;
    mem = calloc(1, size);
    cr_assert_not_null(mem);
    cr_assert_eq(tidal_layout_plan(size, &img, lay, &err), 0, "%s", err.msg);
    cr_assert_eq(tidal_layout_map(pt, mem, lay, &img, &err), 0, "%s", err.msg);
}

static bool huge_leaf(const struct tidal_pt *pt, uint64_t va)
{
    uint64_t pa, flags;
    cr_assert_eq(tidal_pt_lookup(mem, mem_size, pt->root, va, &pa, &flags), 0, "0x%llx unmapped",
                 (unsigned long long)va);
    return flags & TIDAL_PTE_PS;
}

Test(layout, small_guest_bulk_is_the_heap_below_the_stack_page)
{
    struct tidal_layout lay;
    struct tidal_pt pt;
    plan(8 * MIB, &lay, &pt);
    struct tidal_mem_range r[2];
    /* 512 KiB of stack share the last 2 MiB with the heap's top: it stays 4 KiB, so a
     * guest that only touches its stack never commits a huge page. */
    cr_assert_eq(tidal_layout_bulk(&lay, r), 1);
    cr_assert_eq(r[0].start, 2 * MIB, "from the 2 MiB page the heap starts in");
    cr_assert_eq(r[0].end, 6 * MIB);
    cr_assert(huge_leaf(&pt, 4 * MIB), "whole heap pages are 2 MiB in the guest");
    cr_assert(!huge_leaf(&pt, 0x200000), "text keeps its own 4 KiB page");
    cr_assert(!huge_leaf(&pt, 7 * MIB));
}

Test(layout, large_stack_is_bulk_too)
{
    struct tidal_layout lay;
    struct tidal_pt pt;
    plan(64 * MIB, &lay, &pt);
    struct tidal_mem_range r[2];
    cr_assert_eq(tidal_layout_bulk(&lay, r), 2);
    cr_assert_eq(r[0].start, 2 * MIB);
    cr_assert_eq(r[0].end, 60 * MIB, "the heap reaches the 4 MiB stack");
    cr_assert_eq(r[1].start, 60 * MIB);
    cr_assert_eq(r[1].end, 64 * MIB);
    for (uint64_t va = 4 * MIB; va < 58 * MIB; va += 2 * MIB)
        cr_assert(huge_leaf(&pt, va), "heap page 0x%llx", (unsigned long long)va);
    cr_assert(huge_leaf(&pt, 60 * MIB) && huge_leaf(&pt, 62 * MIB), "stack pages");
}

Test(layout, tiny_guest_has_no_bulk)
{
    struct tidal_layout lay;
    struct tidal_pt pt;
    plan(4 * MIB, &lay, &pt);
    struct tidal_mem_range r[2];
    cr_assert_eq(tidal_layout_bulk(&lay, r), 0, "heap and stack share the only 2 MiB page");
}
