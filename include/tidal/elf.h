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

enum tidal_seg_perm { TIDAL_SEG_R = 4, TIDAL_SEG_W = 2, TIDAL_SEG_X = 1 };

struct tidal_segment {
    uint64_t vaddr;  /* page-aligned by validation */
    uint64_t memsz;  /* bytes in memory (>= filesz); the tail is zeroed (bss) */
    uint64_t filesz; /* bytes copied from the file */
    uint64_t offset; /* file offset of the first byte */
    uint32_t perm;   /* TIDAL_SEG_* */
};

struct tidal_elf_image {
    uint64_t entry;
    unsigned nsegments; /* sorted by vaddr, non-overlapping */
    struct tidal_segment seg[TIDAL_ELF_MAX_SEGMENTS];
    uint64_t image_start; /* page-aligned lowest vaddr */
    uint64_t image_end;   /* page-aligned end of the highest segment */
    struct tidal_image_note note; /* from the "Tidal" note; required */
};

/* Validates `file` (named `path` in messages) as a guest image for a guest whose
 * memory is [mem_lo, mem_hi). Rejects, with a precise message naming the field and
 * value: not ELF, wrong class/endianness/machine/type, truncated headers or segments,
 * segments outside guest memory or overlapping, writable+executable segments,
 * entry outside executable segments, absurd sizes, a missing or wrong-version note. */
int tidal_elf_parse(const uint8_t *file, size_t size, const char *path, uint64_t mem_lo,
                    uint64_t mem_hi, struct tidal_elf_image *img, struct tidal_err *err);

/* Copies the segments into guest memory (indexed by GPA) and zeroes their bss.
 * `img` must come from tidal_elf_parse of the same file. */
void tidal_elf_load(const uint8_t *file, const struct tidal_elf_image *img, uint8_t *guest_mem);

/* Function symbols of an image, for naming the code at a crash address. */
struct tidal_symtab;
struct tidal_symtab *tidal_symtab_load(const uint8_t *file, size_t size); /* NULL if none */
/* Name of the function containing addr (NULL if none); *offset = addr - start. */
const char *tidal_symtab_lookup(const struct tidal_symtab *tab, uint64_t addr, uint64_t *offset);
void tidal_symtab_free(struct tidal_symtab *tab);

#endif
