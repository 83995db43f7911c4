/* Guest images: validation and loading of static ELF64 x86-64 executables, and the
 * symbol lookup used by crash reports. Pure functions over byte buffers. */
#ifndef TIDAL_ELF_H
#define TIDAL_ELF_H

#include "tidal/abi.h"
#include "tidal/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIDAL_ELF_MAX_SEGMENTS 16
/* Larger image files are refused as absurd rather than mapped. */
#define TIDAL_IMAGE_MAX_BYTES (256ull << 20)

enum tidal_seg_perm { TIDAL_SEG_R = 4, TIDAL_SEG_W = 2, TIDAL_SEG_X = 1 };

/* One PT_LOAD segment, its fields exactly as in the program header (not rounded).
 * Its pages are [vaddr & ~4095, round_up(vaddr + memsz, 4096)): validation guarantees
 * that this page range lies inside [mem_lo, mem_hi) and shares no page with any other
 * segment, so the page tables can map each segment's pages with its own perm. */
struct tidal_segment {
    uint64_t vaddr;  /* GPA of the first byte; vaddr % 4096 == offset % 4096 */
    uint64_t memsz;  /* bytes in memory (> 0, >= filesz); the tail is zeroed (bss) */
    uint64_t filesz; /* bytes copied from the file; offset + filesz <= file size */
    uint64_t offset; /* file offset of the first byte */
    uint32_t perm;   /* TIDAL_SEG_* from PF_R/W/X; never both W and X */
};

struct tidal_elf_image {
    uint64_t entry;     /* inside an executable segment */
    unsigned nsegments; /* 1..TIDAL_ELF_MAX_SEGMENTS, sorted by vaddr, no shared pages */
    /* The PT_LOADs with p_memsz > 0 (empty ones are dropped), by address. */
    struct tidal_segment seg[TIDAL_ELF_MAX_SEGMENTS];
    uint64_t image_start; /* seg[0].vaddr rounded down to 4 KiB */
    uint64_t image_end;   /* end of the last segment rounded up to 4 KiB */
    /* From the "Tidal" note; required. abi_version == TIDAL_ABI_VERSION, and the 32
     * exception stubs and syscall_entry lie inside executable segments. */
    struct tidal_image_note note;
};

/* Validates `file` (named `path` in messages) as a guest image for a guest whose
 * memory is [mem_lo, mem_hi). Rejects, with a precise message naming the field and
 * value: not ELF, wrong class/endianness/machine/type, truncated headers or segments,
 * segments outside guest memory or overlapping, writable+executable segments,
 * entry outside executable segments, absurd sizes, a missing or wrong-version note.
 * Only ELF64 little-endian x86-64 ET_EXEC is accepted; PT_INTERP is rejected, other
 * non-PT_LOAD types (PT_TLS, PT_GNU_STACK, PT_GNU_PROPERTY, ...) are ignored.
 * Returns 0, or -1 with err set (img is then zeroed/partial: do not use it).
 * Never reads outside [file, file + size). path and err may be NULL. */
int tidal_elf_parse(const uint8_t *file, size_t size, const char *path, uint64_t mem_lo,
                    uint64_t mem_hi, struct tidal_elf_image *img, struct tidal_err *err);

/* Copies the segments into guest memory (indexed by GPA) and zeroes their bss, i.e.
 * writes exactly [vaddr, vaddr + memsz) of each segment, nothing else (the rest of the
 * first and last pages is left as is: guest memory starts zeroed). `img` must come
 * from a successful tidal_elf_parse of the same file, and guest_mem must span mem_hi. */
void tidal_elf_load(const uint8_t *file, const struct tidal_elf_image *img, uint8_t *guest_mem);

/* Function symbols of an image, for naming the code at a crash address: STT_FUNC, and
 * STT_NOTYPE labels in executable sections (assembly entry points). The table copies
 * the names, so it outlives `file`. NULL if there is no usable .symtab (stripped,
 * malformed, or no function symbols). */
struct tidal_symtab;
struct tidal_symtab *tidal_symtab_load(const uint8_t *file, size_t size);
/* Name of the function containing addr: the nearest symbol at or below addr, if addr is
 * inside its st_size (or, for size-0 symbols, inside its section); NULL otherwise or if
 * tab is NULL. *offset = addr - start (offset may be NULL). */
const char *tidal_symtab_lookup(const struct tidal_symtab *tab, uint64_t addr, uint64_t *offset);
void tidal_symtab_free(struct tidal_symtab *tab);

#endif
