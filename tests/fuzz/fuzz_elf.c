/* Guest images (monitor/elf.c, monitor/symtab.c): an image file is the user's, or a
 * client's through the daemon's API, and is read by validation, loading and, for crash
 * reports, its symbol table. The input is the whole file. */
#include "tidal/abi.h"
#include "tidal/elf.h"

#include <stdlib.h>
#include <string.h>

/* Guest memory as the builder images and small guests use it: loading writes only
 * inside [MEM_LO, MEM_HI), which validation promised. */
#define MEM_LO ((uint64_t)TIDAL_IMAGE_MIN_GPA)
#define MEM_HI (8ull << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *mem;
    if (!mem && !(mem = malloc(MEM_HI)))
        abort();
    struct tidal_elf_image img;
    struct tidal_err err;
    if (tidal_elf_parse(data, size, "fuzz.elf", MEM_LO, MEM_HI, &img, &err) == 0)
        tidal_elf_load(data, &img, mem);

    struct tidal_symtab *tab = tidal_symtab_load(data, size);
    if (tab) {
        /* Every lookup of a crash report: the entry, segment edges and a wild address. */
        uint64_t off;
        const uint64_t probes[] = {img.entry, MEM_LO, MEM_HI - 1, 0, UINT64_MAX};
        for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
            const char *name = tidal_symtab_lookup(tab, probes[i], &off);
            if (name && !memchr(name, 0, 4096))
                abort(); /* a name must be a bounded string */
        }
        for (unsigned i = 0; i < img.nsegments; i++)
            tidal_symtab_lookup(tab, img.seg[i].vaddr + img.seg[i].memsz / 2, &off);
        tidal_symtab_free(tab);
    }
    return 0;
}
