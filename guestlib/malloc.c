/* The guest's malloc. musl's mallocng asks the kernel for memory with brk/mmap, and
 * every such syscall is an exit here; this allocator takes pages straight from
 * guestlib's page pool, so malloc/free/realloc never leave the guest.
 *
 * Small requests (<= 4 KiB) use 28 size classes (16-byte steps to 128, then four
 * steps per power of two) carved from 64 KiB slabs; freed blocks go to per-class
 * lists. Larger requests get their own pages, returned to the pool on free, so a
 * burst of big blocks never strands memory in a size class. A header
 * before every block carries a magic value so that free() of a wild or already
 * freed pointer stops the guest with a fault report instead of corrupting the heap. */
#include "guest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HDR 16u
#define SMALL_MAX 4096u
#define NCLASSES 28
#define SLAB_BYTES (64u * 1024)
#define MAGIC_USED 0x7a11u
#define MAGIC_FREE 0xf4eeu
#define KIND_SMALL 0
#define KIND_LARGE 1
#define KIND_ALIGNED 2

struct header {
    uint16_t magic;
    uint8_t kind;
    uint8_t cls;
    uint32_t reserved;
    uint64_t size; /* usable bytes (large: bytes of pages; aligned: offset to base) */
};
_Static_assert(sizeof(struct header) == HDR, "header keeps payloads 16-byte aligned");

struct free_block {
    struct free_block *next;
};

static struct free_block *free_lists[NCLASSES];
static unsigned char *slab_pos[NCLASSES], *slab_end[NCLASSES];

static unsigned size_class(size_t n)
{
    if (n <= 128)
        return n ? (unsigned)((n + 15) >> 4) - 1 : 0;
    unsigned b = 63u - (unsigned)__builtin_clzll(n - 1);
    size_t step = (size_t)1 << (b - 2);
    unsigned sub = (unsigned)((n - 1 - ((size_t)1 << b)) / step);
    return 8 + (b - 7) * 4 + sub;
}

static size_t class_size(unsigned cls)
{
    if (cls < 8)
        return (cls + 1) * 16;
    unsigned b = 7 + (cls - 8) / 4, sub = (cls - 8) % 4;
    return ((size_t)1 << b) + (sub + 1) * ((size_t)1 << (b - 2));
}

static struct header *header_of(void *p)
{
    struct header *h = (struct header *)((unsigned char *)p - HDR);
    if (((uintptr_t)p & (HDR - 1)) || h->magic != MAGIC_USED)
        __builtin_trap(); /* invalid or double free: a bug in the guest, report it */
    return h;
}

static void *small_alloc(size_t n)
{
    unsigned cls = size_class(n);
    struct free_block *b = free_lists[cls];
    struct header *h;
    if (b) {
        free_lists[cls] = b->next;
        h = (struct header *)((unsigned char *)b - HDR);
    } else {
        size_t stride = HDR + class_size(cls);
        if ((size_t)(slab_end[cls] - slab_pos[cls]) < stride) {
            size_t len = SLAB_BYTES;
            unsigned char *slab = tidal_pages_alloc(len);
            if (!slab)
                return 0;
            slab_pos[cls] = slab;
            slab_end[cls] = slab + len;
        }
        h = (struct header *)slab_pos[cls];
        slab_pos[cls] += stride;
    }
    *h = (struct header){
        .magic = MAGIC_USED, .kind = KIND_SMALL, .cls = (uint8_t)cls, .size = class_size(cls)};
    return h + 1;
}

static void *large_alloc(size_t n)
{
    if (n > SIZE_MAX - HDR - 4096)
        return 0;
    struct header *h = tidal_pages_alloc(n + HDR);
    if (!h)
        return 0;
    *h = (struct header){.magic = MAGIC_USED, .kind = KIND_LARGE, .size = n};
    return h + 1;
}

static void *alloc(size_t n)
{
    void *p = n <= SMALL_MAX ? small_alloc(n) : large_alloc(n);
    if (!p)
        errno = ENOMEM;
    return p;
}

static void release(void *p)
{
    struct header *h = header_of(p);
    switch (h->kind) {
    case KIND_SMALL: {
        h->magic = MAGIC_FREE;
        struct free_block *b = p;
        b->next = free_lists[h->cls];
        free_lists[h->cls] = b;
        break;
    }
    case KIND_LARGE:
        h->magic = MAGIC_FREE;
        tidal_pages_free(h, h->size + HDR);
        break;
    case KIND_ALIGNED: {
        void *base = (unsigned char *)p - h->size;
        h->magic = MAGIC_FREE;
        release(base);
        break;
    }
    default:
        __builtin_trap();
    }
}

static size_t usable(void *p)
{
    struct header *h = header_of(p);
    if (h->kind == KIND_ALIGNED) {
        void *base = (unsigned char *)p - h->size;
        return usable(base) - h->size;
    }
    return h->size;
}

static void *aligned(size_t align, size_t n)
{
    if (align <= HDR)
        return alloc(n);
    if (n > SIZE_MAX - align - HDR) {
        errno = ENOMEM;
        return 0;
    }
    unsigned char *base = alloc(n + align + HDR);
    if (!base)
        return 0;
    uintptr_t p = ((uintptr_t)base + HDR + align - 1) & ~(uintptr_t)(align - 1);
    struct header *h = (struct header *)(p - HDR);
    *h = (struct header){.magic = MAGIC_USED, .kind = KIND_ALIGNED, .size = p - (uintptr_t)base};
    return (void *)p;
}

static int power_of_two(size_t a)
{
    return a && !(a & (a - 1));
}

void *malloc(size_t n)
{
    return alloc(n);
}

void free(void *p)
{
    if (p)
        release(p);
}

void *calloc(size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return 0;
    }
    void *p = alloc(n);
    if (p)
        memset(p, 0, n);
    return p;
}

void *realloc(void *p, size_t n)
{
    if (!p)
        return alloc(n);
    size_t have = usable(p);
    if (n <= have)
        return p;
    void *q = alloc(n);
    if (q) {
        memcpy(q, p, have);
        release(p);
    }
    return q;
}

void *aligned_alloc(size_t align, size_t n)
{
    if (!power_of_two(align)) {
        errno = EINVAL;
        return 0;
    }
    return aligned(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (!power_of_two(align) || align % sizeof(void *))
        return EINVAL;
    void *p = aligned(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *memalign(size_t align, size_t n)
{
    return aligned_alloc(align, n);
}

void *valloc(size_t n)
{
    return aligned(4096, n);
}

size_t malloc_usable_size(void *p)
{
    return p ? usable(p) : 0;
}

/* musl's own internal callers use these names; pointing them here keeps mallocng
 * out of the image entirely. */
void *__libc_malloc(size_t n);
void *__libc_malloc_impl(size_t n);
void __libc_free(void *p);
void *__libc_calloc(size_t count, size_t size);
void *__libc_realloc(void *p, size_t n);

void *__libc_malloc(size_t n)
{
    return malloc(n);
}
void *__libc_malloc_impl(size_t n)
{
    return malloc(n);
}
void __libc_free(void *p)
{
    free(p);
}
void *__libc_calloc(size_t count, size_t size)
{
    return calloc(count, size);
}
void *__libc_realloc(void *p, size_t n)
{
    return realloc(p, n);
}
