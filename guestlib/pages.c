/* Page ranges for brk, mmap and malloc, inside the heap region the monitor gives.
 * brk grows up from the bottom, mmap takes from the top, so the two meet only when
 * memory is full. Freed pages are zeroed at free time: they were touched anyway,
 * while never-used pages stay untouched (host memory is only spent on first touch). */
#include "guest.h"

#include <string.h>

#define PAGE 4096u
#define MAX_RANGES 512

struct range {
    uint64_t start, end;
};

static struct range free_ranges[MAX_RANGES]; /* sorted, disjoint, non-adjacent */
static unsigned nfree;
static uint64_t heap_lo, brk_cur;

static uint64_t round_up(uint64_t v)
{
    return (v + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

void tidal_pages_init(uint64_t start, uint64_t end)
{
    heap_lo = brk_cur = round_up(start);
    end &= ~(uint64_t)(PAGE - 1);
    nfree = 0;
    if (end > heap_lo)
        free_ranges[nfree++] = (struct range){heap_lo, end};
}

void *tidal_pages_alloc(size_t len)
{
    if (!len || len > UINT64_MAX - PAGE)
        return 0;
    uint64_t need = round_up(len);
    for (unsigned i = nfree; i-- > 0;) {
        struct range *r = &free_ranges[i];
        if (r->end - r->start < need)
            continue;
        /* Keep the range that starts at the brk top for brk if another one fits. */
        r->end -= need;
        uint64_t p = r->end;
        if (r->start == r->end) {
            memmove(r, r + 1, (nfree - i - 1) * sizeof(*r));
            nfree--;
        }
        return (void *)(uintptr_t)p;
    }
    return 0;
}

/* Inserts [start, end) into the free list, merging neighbours. Returns 0, or -1 when
 * the list is full (the pages are then leaked, never handed out twice). */
static int insert_free(uint64_t start, uint64_t end)
{
    unsigned i = 0;
    while (i < nfree && free_ranges[i].start < start)
        i++;
    int joins_prev = i > 0 && free_ranges[i - 1].end == start;
    int joins_next = i < nfree && free_ranges[i].start == end;
    if (joins_prev && joins_next) {
        free_ranges[i - 1].end = free_ranges[i].end;
        memmove(&free_ranges[i], &free_ranges[i + 1], (nfree - i - 1) * sizeof(free_ranges[0]));
        nfree--;
    } else if (joins_prev) {
        free_ranges[i - 1].end = end;
    } else if (joins_next) {
        free_ranges[i].start = start;
    } else {
        if (nfree == MAX_RANGES)
            return -1;
        memmove(&free_ranges[i + 1], &free_ranges[i], (nfree - i) * sizeof(free_ranges[0]));
        free_ranges[i] = (struct range){start, end};
        nfree++;
    }
    return 0;
}

void tidal_pages_free(void *p, size_t len)
{
    uint64_t start = (uintptr_t)p, end = start + round_up(len);
    if (!len || start & (PAGE - 1) || start < brk_cur || end < start)
        return;
    memset(p, 0, end - start);
    insert_free(start, end);
}

int tidal_pages_brk(uint64_t want, uint64_t *current)
{
    if (want) {
        uint64_t target = round_up(want);
        if (target < heap_lo)
            target = heap_lo;
        if (target > brk_cur) {
            /* Grow only into the free range that begins exactly at the brk top. */
            if (!nfree || free_ranges[0].start != brk_cur || free_ranges[0].end < target) {
                *current = brk_cur;
                return -1;
            }
            free_ranges[0].start = target;
            if (free_ranges[0].start == free_ranges[0].end) {
                memmove(&free_ranges[0], &free_ranges[1], (nfree - 1) * sizeof(free_ranges[0]));
                nfree--;
            }
            brk_cur = target;
        } else if (target < brk_cur) {
            memset((void *)(uintptr_t)target, 0, brk_cur - target);
            if (insert_free(target, brk_cur) == 0)
                brk_cur = target;
        }
    }
    *current = brk_cur;
    return 0;
}
