/* One snapshot file (snapshot/format.c): what `tidal restore`, `clone` and the daemon
 * open, and a file anyone with write access to a state directory could have replaced.
 * Opened, verified, its memory mapped and, as a restore given --dir does, the file
 * image in that memory read back. Input: a flags byte (bit 0: rewrite the checksums
 * after mutation, see snap_fixup.h), then the file. */
#include "fuzz_util.h"
#include "snap_fixup.h"

#include "tidal/fsimage.h"
#include "tidal/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Mapping builds an in-memory image of all guest memory: kept small, so each run
 * stays fast (the size checks themselves are fuzzed at any size). */
#define MAP_MAX (64ull << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    size_t len = size - 1;
    uint8_t *file = malloc(len ? len : 1);
    if (!file)
        abort();
    memcpy(file, data + 1, len);
    if (flags & 1)
        snap_fixup(file, len);

    /* A restore given --dir compares the snapshot's trees with one on the host. */
    static char tree[300];
    if (!tree[0]) {
        snprintf(tree, sizeof(tree), "%s/tree", fuzz_scratch_dir());
        mkdir(tree, 0700);
    }
    struct fuzz_file f;
    fuzz_file_open(&f, file, len);
    free(file);
    struct tidal_snap *snap;
    struct tidal_err err;
    if (tidal_snap_open(f.path, &snap, &err) == 0) {
        const struct tidal_snap_header_info *info = tidal_snap_info(snap);
        uint64_t blob_size;
        tidal_snap_blob(snap, TIDAL_SNAP_VCPU, &blob_size);
        tidal_snap_blob(snap, TIDAL_SNAP_MONITOR, &blob_size);
        tidal_snap_stored_pages(snap);
        if (tidal_snap_verify_memory(snap, &err) == 0 && !tidal_snap_is_diff(snap) &&
            info->mem_size <= MAP_MAX) {
            uint8_t *mem = tidal_snap_map_memory(snap, &err);
            if (mem) {
                struct tidal_fs_spec spec = {.host = tree, .guest = "/data", .is_dir = true};
                tidal_fs_match_snapshot(mem, info->mem_size, &spec, 1, &err);
                tidal_snap_unmap_memory(snap, mem);
            }
        }
        tidal_snap_close(snap);
    }
    fuzz_file_close(&f);
    return 0;
}
