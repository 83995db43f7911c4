/* A snapshot and its diffs (snapshot/format.c), as `tidal restore SNAP SNAP.1 ...` and a
 * suspended daemon VM resume them: every file opened, the chain's links checked, its
 * memory mapped with later pages winning. Input: a flags byte (bit 0: rewrite each
 * file's checksums, bit 1: also make each file a diff of the one before, see
 * snap_fixup.h), then up to 4 files, each a 32-bit little-endian length and its bytes. */
#include "fuzz_util.h"
#include "snap_fixup.h"

#include "tidal/snapshot.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MAX_FILES 4
#define MAP_MAX (64ull << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    uint8_t *files[MAX_FILES];
    size_t lens[MAX_FILES];
    unsigned n = 0;
    for (size_t pos = 1; n < MAX_FILES && size - pos >= 4;) {
        uint32_t len;
        memcpy(&len, data + pos, 4);
        pos += 4;
        if (len > size - pos)
            len = (uint32_t)(size - pos);
        files[n] = malloc(len ? len : 1);
        if (!files[n])
            abort();
        memcpy(files[n], data + pos, len);
        lens[n++] = len;
        pos += len;
    }
    for (unsigned i = 0; i < n; i++) {
        if ((flags & 2) && i > 0)
            snap_link(files[i], lens[i], files[i - 1], lens[i - 1]);
        else if (flags & 3)
            snap_fixup(files[i], lens[i]);
    }

    struct fuzz_file f[MAX_FILES];
    struct tidal_snap *chain[MAX_FILES] = {NULL};
    struct tidal_err err;
    bool opened = n > 0;
    for (unsigned i = 0; i < n; i++) {
        fuzz_file_open(&f[i], files[i], lens[i]);
        free(files[i]);
        if (opened && tidal_snap_open(f[i].path, &chain[i], &err))
            opened = false;
    }
    const struct tidal_snap *const *c = (const struct tidal_snap *const *)chain;
    if (opened && tidal_snap_check_chain(c, n, &err) == 0 &&
        tidal_snap_info(chain[0])->mem_size <= MAP_MAX) {
        bool verified = true;
        for (unsigned i = 0; i < n; i++)
            verified = verified && tidal_snap_verify_memory(chain[i], &err) == 0;
        uint8_t *mem = verified ? tidal_snap_map_chain(c, n, &err) : NULL;
        if (mem)
            munmap(mem, tidal_snap_info(chain[0])->mem_size);
    }
    for (unsigned i = 0; i < n; i++) {
        tidal_snap_close(chain[i]);
        fuzz_file_close(&f[i]);
    }
    return 0;
}
