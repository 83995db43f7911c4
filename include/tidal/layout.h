/* Where everything lives in a Tidal guest's memory, and the code that puts it there:
 * boot info and arguments, descriptor tables, page tables, image, heap and stack. */
#ifndef TIDAL_LAYOUT_H
#define TIDAL_LAYOUT_H

#include "tidal/abi.h"
#include "tidal/elf.h"
#include "tidal/err.h"
#include "tidal/pagetable.h"

#include <stdint.h>

/* Monitor-private pages between the boot area and the image (see abi.h). */
#define TIDAL_GDT_GPA 0x9000ull    /* GDT: null, code 0x08, data 0x10, TSS 0x18 */
#define TIDAL_TSS_GPA 0x9080ull    /* 64-bit TSS; IST1 = exception stack */
#define TIDAL_IDT_GPA 0x9800ull    /* 32 gates, to the image's exception stubs */
#define TIDAL_VIF_GPA 0xa000ull    /* PVM's virtual-interrupt-flag page */
#define TIDAL_XSTACK_GPA 0xb000ull /* exception stack, 8 KiB */
#define TIDAL_XSTACK_TOP 0xd000ull
#define TIDAL_PT_POOL_GPA 0x10000ull
#define TIDAL_PT_POOL_END 0x200000ull

#define TIDAL_SEL_CODE 0x08
#define TIDAL_SEL_DATA 0x10
#define TIDAL_SEL_TSS 0x18
#define TIDAL_IDT_VECTORS 32

#define TIDAL_MEM_MIN (4ull << 20)
#define TIDAL_MEM_MAX (3ull << 30) /* stays clear of KVM's TSS area below 4 GiB */
#define TIDAL_MEM_DEFAULT (8ull << 20)

struct tidal_layout {
    uint64_t mem_size;
    uint64_t heap_start, heap_end;
    uint64_t stack_bottom, stack_top; /* one unmapped guard page lies below stack_bottom */
    uint64_t fs_start, fs_size;       /* the read-only file image, between heap and guard */
};

/* Checks a guest memory size against the supported range and page granularity. */
int tidal_layout_check_mem(uint64_t mem_size, struct tidal_err *err);

/* Chooses heap and stack around the image; fails when memory is too small or
 * outside [TIDAL_MEM_MIN, TIDAL_MEM_MAX], naming the sizes. */
int tidal_layout_plan(uint64_t mem_size, const struct tidal_elf_image *img,
                      struct tidal_layout *out, struct tidal_err *err);

/* Takes `size` bytes (rounded up to 4 KiB) from the top of the heap for the read-only
 * file image; fails, naming the sizes, when the heap would keep less than 64 KiB. */
int tidal_layout_reserve_fs(struct tidal_layout *lay, uint64_t size, struct tidal_err *err);

/* Builds the page tables: boot area and exception stack, descriptor tables, each
 * image segment with its own permissions (W^X), heap and stack. Page 0 and the
 * stack guard stay unmapped. */
int tidal_layout_map(struct tidal_pt *pt, uint8_t *mem, const struct tidal_layout *lay,
                     const struct tidal_elf_image *img, struct tidal_err *err);

/* Guest memory the guest uses in bulk, where host huge pages pay off: the heap from
 * the 2 MiB page it starts in up to the 2 MiB page the stack starts in, and the whole
 * 2 MiB pages of the stack. The boot area and the page the stack shares with the heap
 * stay out: a small stack commits host memory 4 KiB at a time. Returns how many
 * ranges (0..2) it wrote to out, heap first; each is 2 MiB-aligned. */
struct tidal_mem_range {
    uint64_t start, end;
};
unsigned tidal_layout_bulk(const struct tidal_layout *lay, struct tidal_mem_range out[2]);

/* Writes GDT, TSS and IDT for an image whose note gives the exception stubs. */
void tidal_layout_write_cpu_tables(uint8_t *mem, const struct tidal_image_note *note);

struct tidal_boot_args {
    int argc;
    char *const *argv;
    int envc;
    char *const *envp;
    uint32_t flags; /* enum tidal_boot_flags */
    uint64_t tsc_khz;
    uint8_t entropy[32];
    uint64_t scratch_max; /* the scratch file system's budget (boot info) */
};

/* Fails, naming the sizes, when the arguments and environment do not fit in the boot
 * area with the boot info: checked at boot, and by the daemon when a VM is created. */
int tidal_layout_check_boot_args(const struct tidal_boot_args *args, struct tidal_err *err);

/* Writes the boot-info page and the argument strings; fails as
 * tidal_layout_check_boot_args when they do not fit. */
int tidal_layout_write_boot(uint8_t *mem, const struct tidal_layout *lay,
                            const struct tidal_boot_args *args, struct tidal_err *err);

/* Records the clock pair the guest's clocks start from, just before it runs, and the
 * guest's monotonic time at that instant (0 at boot; the saved value on restore). */
void tidal_layout_set_clock(uint8_t *mem, uint64_t guest_tsc, uint64_t wall_ns, uint64_t mono_ns);

#endif
