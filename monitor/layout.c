#include "tidal/layout.h"

#include <string.h>

#define PAGE 4096ull
#define HUGE (2ull << 20)
#define STACK_MIN (64ull << 10)
#define STACK_MAX (8ull << 20)

static uint64_t page_down(uint64_t v)
{
    return v & ~(PAGE - 1);
}

static uint64_t page_up(uint64_t v)
{
    return (v + PAGE - 1) & ~(PAGE - 1);
}

int tidal_layout_check_mem(uint64_t mem_size, struct tidal_err *err)
{
    if (mem_size < TIDAL_MEM_MIN || mem_size > TIDAL_MEM_MAX)
        return tidal_err_set(
            err, "--mem %llu KiB is outside the supported range %llu KiB .. %llu MiB",
            (unsigned long long)(mem_size >> 10), (unsigned long long)(TIDAL_MEM_MIN >> 10),
            (unsigned long long)(TIDAL_MEM_MAX >> 20));
    if (mem_size % PAGE)
        return tidal_err_set(err, "--mem %llu bytes is not a multiple of 4 KiB",
                             (unsigned long long)mem_size);
    return 0;
}

int tidal_layout_plan(uint64_t mem_size, const struct tidal_elf_image *img,
                      struct tidal_layout *out, struct tidal_err *err)
{
    if (tidal_layout_check_mem(mem_size, err))
        return -1;
    /* A stack of 1/16 of memory, within [64 KiB, 8 MiB]: room for deep recursion in
     * big guests without starving small ones of heap. */
    uint64_t stack = page_down(mem_size / 16);
    stack = stack < STACK_MIN ? STACK_MIN : stack > STACK_MAX ? STACK_MAX : stack;
    out->mem_size = mem_size;
    out->stack_top = mem_size;
    out->stack_bottom = mem_size - stack;
    out->heap_start = page_up(img->image_end);
    out->heap_end = out->stack_bottom - PAGE; /* guard page */
    out->fs_start = out->fs_size = 0;         /* tidal_layout_reserve_fs takes it from the heap */
    if (img->image_end > out->heap_end || out->heap_end - out->heap_start < (64ull << 10))
        return tidal_err_set(err,
                             "--mem %llu KiB is too small for this image (it ends at 0x%llx; "
                             "the stack takes %llu KiB and the heap needs at least 64 KiB)",
                             (unsigned long long)(mem_size >> 10),
                             (unsigned long long)img->image_end, (unsigned long long)(stack >> 10));
    return 0;
}

int tidal_layout_reserve_fs(struct tidal_layout *lay, uint64_t size, struct tidal_err *err)
{
    uint64_t need = page_up(size);
    if (need > lay->heap_end - lay->heap_start ||
        lay->heap_end - lay->heap_start - need < (64ull << 10))
        return tidal_err_set(err,
                             "guest memory of %llu KiB is too small for %llu KiB of files and a "
                             "heap of at least 64 KiB",
                             (unsigned long long)(lay->mem_size >> 10),
                             (unsigned long long)(need >> 10));
    lay->fs_start = lay->heap_end - need;
    lay->fs_size = need;
    lay->heap_end = lay->fs_start;
    return 0;
}

int tidal_layout_map(struct tidal_pt *pt, uint8_t *mem, const struct tidal_layout *lay,
                     const struct tidal_elf_image *img, struct tidal_err *err)
{
    if (tidal_pt_init(pt, mem, lay->mem_size, TIDAL_PT_POOL_GPA, TIDAL_PT_POOL_END, err) ||
        tidal_pt_map(pt, TIDAL_BOOT_INFO_GPA, TIDAL_BOOT_AREA_END - TIDAL_BOOT_INFO_GPA,
                     TIDAL_SEG_R, err) ||
        tidal_pt_map(pt, TIDAL_GDT_GPA, PAGE, TIDAL_SEG_R, err) ||
        tidal_pt_map(pt, TIDAL_VIF_GPA, PAGE, TIDAL_SEG_R | TIDAL_SEG_W, err) ||
        tidal_pt_map(pt, TIDAL_XSTACK_GPA, TIDAL_XSTACK_TOP - TIDAL_XSTACK_GPA,
                     TIDAL_SEG_R | TIDAL_SEG_W, err))
        return -1;
    for (unsigned i = 0; i < img->nsegments; i++) {
        const struct tidal_segment *s = &img->seg[i];
        uint64_t start = page_down(s->vaddr), end = page_up(s->vaddr + s->memsz);
        if (tidal_pt_map(pt, start, end - start, s->perm, err))
            return -1;
    }
    if (tidal_pt_map(pt, lay->heap_start, lay->heap_end - lay->heap_start,
                     TIDAL_SEG_R | TIDAL_SEG_W, err) ||
        tidal_pt_map(pt, lay->stack_bottom, lay->stack_top - lay->stack_bottom,
                     TIDAL_SEG_R | TIDAL_SEG_W, err))
        return -1;
    /* Read-only: a guest's stray write into its files faults instead of changing them. */
    if (lay->fs_size && tidal_pt_map(pt, lay->fs_start, lay->fs_size, TIDAL_SEG_R, err))
        return -1;
    return 0;
}

unsigned tidal_layout_bulk(const struct tidal_layout *lay, struct tidal_mem_range out[2])
{
    uint64_t heap_from = lay->heap_start & ~(HUGE - 1), stack_at = lay->stack_bottom & ~(HUGE - 1);
    uint64_t stack_from = (lay->stack_bottom + HUGE - 1) & ~(HUGE - 1);
    uint64_t stack_to = lay->stack_top & ~(HUGE - 1);
    unsigned n = 0;
    if (heap_from < stack_at)
        out[n++] = (struct tidal_mem_range){heap_from, stack_at};
    if (stack_from < stack_to)
        out[n++] = (struct tidal_mem_range){stack_from, stack_to};
    return n;
}

static void put64(uint8_t *mem, uint64_t gpa, uint64_t v)
{
    memcpy(mem + gpa, &v, sizeof(v));
}

void tidal_layout_write_cpu_tables(uint8_t *mem, const struct tidal_image_note *note)
{
    /* Accessed bits preset, so the CPU never needs to write the read-only GDT. */
    put64(mem, TIDAL_GDT_GPA + 0x00, 0);
    put64(mem, TIDAL_GDT_GPA + TIDAL_SEL_CODE, 0x00af9b000000ffffull); /* 64-bit code, DPL0 */
    put64(mem, TIDAL_GDT_GPA + TIDAL_SEL_DATA, 0x00cf93000000ffffull); /* data, DPL0 */
    uint64_t base = TIDAL_TSS_GPA, limit = 103;
    uint64_t tss_lo = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0xbull << 40) /* busy */ |
                      (1ull << 47) | (((base >> 24) & 0xff) << 56);
    put64(mem, TIDAL_GDT_GPA + TIDAL_SEL_TSS, tss_lo);
    put64(mem, TIDAL_GDT_GPA + TIDAL_SEL_TSS + 8, base >> 32);

    memset(mem + TIDAL_TSS_GPA, 0, 104);
    put64(mem, TIDAL_TSS_GPA + 0x24, TIDAL_XSTACK_TOP); /* IST1 */
    uint16_t iomap = 104;                               /* no I/O bitmap */
    memcpy(mem + TIDAL_TSS_GPA + 0x66, &iomap, sizeof(iomap));

    /* Every exception runs on IST1, so a stack overflow still reaches the handler. */
    for (unsigned v = 0; v < TIDAL_IDT_VECTORS; v++) {
        uint64_t h = note->exception_stubs + (uint64_t)v * note->exception_stub_stride;
        uint64_t lo = (h & 0xffff) | ((uint64_t)TIDAL_SEL_CODE << 16) | (1ull << 32) /* IST1 */ |
                      (0xeull << 40) /* interrupt gate */ | (1ull << 47) |
                      (((h >> 16) & 0xffff) << 48);
        put64(mem, TIDAL_IDT_GPA + v * 16, lo);
        put64(mem, TIDAL_IDT_GPA + v * 16 + 8, h >> 32);
    }
}

static uint64_t argv_gpa_of(void)
{
    return (TIDAL_BOOT_INFO_GPA + sizeof(struct tidal_boot_info) + 7) & ~7ull;
}

int tidal_layout_check_boot_args(const struct tidal_boot_args *args, struct tidal_err *err)
{
    uint64_t need = argv_gpa_of() + ((uint64_t)args->argc + 1 + (uint64_t)args->envc + 1) * 8 -
                    TIDAL_BOOT_INFO_GPA;
    for (int i = 0; i < args->argc; i++)
        need += strlen(args->argv[i]) + 1;
    for (int i = 0; i < args->envc; i++)
        need += strlen(args->envp[i]) + 1;
    if (need > TIDAL_BOOT_AREA_END - TIDAL_BOOT_INFO_GPA)
        return tidal_err_set(err,
                             "arguments and environment take %llu bytes with the boot info; "
                             "at most %u fit",
                             (unsigned long long)need, TIDAL_BOOT_AREA_END - TIDAL_BOOT_INFO_GPA);
    return 0;
}

int tidal_layout_write_boot(uint8_t *mem, const struct tidal_layout *lay,
                            const struct tidal_boot_args *args, struct tidal_err *err)
{
    if (tidal_layout_check_boot_args(args, err))
        return -1;
    uint64_t argv_gpa = argv_gpa_of();
    uint64_t envp_gpa = argv_gpa + ((uint64_t)args->argc + 1) * 8;
    uint64_t str = envp_gpa + ((uint64_t)args->envc + 1) * 8;
    for (int i = 0; i < args->argc + args->envc; i++) {
        const char *s = i < args->argc ? args->argv[i] : args->envp[i - args->argc];
        uint64_t slot = i < args->argc ? argv_gpa + 8ull * i : envp_gpa + 8ull * (i - args->argc);
        size_t n = strlen(s) + 1;
        memcpy(mem + str, s, n);
        put64(mem, slot, str);
        str += n;
    }
    put64(mem, argv_gpa + 8ull * args->argc, 0);
    put64(mem, envp_gpa + 8ull * args->envc, 0);

    struct tidal_boot_info bi = {
        .magic = TIDAL_BOOT_MAGIC,
        .abi_version = TIDAL_ABI_VERSION,
        .mem_size = lay->mem_size,
        .heap_start = lay->heap_start,
        .heap_end = lay->heap_end,
        .stack_bottom = lay->stack_bottom,
        .stack_top = lay->stack_top,
        .tsc_khz = args->tsc_khz,
        .flags = args->flags,
        .argc = (uint32_t)args->argc,
        .envc = (uint32_t)args->envc,
        .argv_gpa = argv_gpa,
        .envp_gpa = envp_gpa,
        .fs_gpa = lay->fs_size ? lay->fs_start : 0,
        .fs_size = lay->fs_size,
        .scratch_max = args->scratch_max,
    };
    memcpy(bi.entropy, args->entropy, sizeof(bi.entropy));
    memcpy(mem + TIDAL_BOOT_INFO_GPA, &bi, sizeof(bi));
    return 0;
}

void tidal_layout_set_clock(uint8_t *mem, uint64_t guest_tsc, uint64_t wall_ns, uint64_t mono_ns)
{
    struct tidal_boot_info *bi = (struct tidal_boot_info *)(mem + TIDAL_BOOT_INFO_GPA);
    bi->boot_tsc = guest_tsc;
    bi->boot_wall_ns = wall_ns;
    bi->mono_base_ns = mono_ns;
}
