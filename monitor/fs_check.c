/* The image checked as a guest checks it (guestlib/fs_ro.c): the host's own builder
 * is tested against it, and a restore reads tree records through it. */
#include "tidal/abi.h"
#include "tidal/fsimage.h"

#include <string.h>

int tidal_fs_image_check(const uint8_t *image, size_t size, struct tidal_err *err)
{
    struct tidal_fs_header h;
    if (size < sizeof(h))
        return tidal_err_set(err, "file image: %zu bytes, shorter than its header", size);
    memcpy(&h, image, sizeof(h));
    if (h.magic != TIDAL_FS_MAGIC)
        return tidal_err_set(err, "file image: magic 0x%x (expected 0x%x)", h.magic,
                             TIDAL_FS_MAGIC);
    if (h.size > size || h.nnodes == 0 || h.nodes_off % 8 || h.nodes_off > h.size ||
        h.nnodes > (h.size - h.nodes_off) / sizeof(struct tidal_fs_node) || h.trees_off > h.size ||
        h.ntrees > (h.size - h.trees_off) / sizeof(struct tidal_fs_tree))
        return tidal_err_set(err,
                             "file image: header out of bounds (size %llu, %u nodes at "
                             "%llu, %u trees at %llu)",
                             (unsigned long long)h.size, h.nnodes, (unsigned long long)h.nodes_off,
                             h.ntrees, (unsigned long long)h.trees_off);
    for (uint32_t i = 0; i < h.nnodes; i++) {
        struct tidal_fs_node n;
        memcpy(&n, image + h.nodes_off + (uint64_t)i * sizeof(n), sizeof(n));
        int ok = (n.type == TIDAL_FS_DIR || n.type == TIDAL_FS_FILE) && n.parent < h.nnodes &&
                 (i == 0 || n.parent < i) && n.name_off <= h.size &&
                 n.name_len <= h.size - n.name_off && (i == 0 || (n.name_len && n.name_len < 256));
        if (ok && n.type == TIDAL_FS_FILE)
            ok = n.data_off <= h.size && n.size <= h.size - n.data_off;
        else if (ok)
            ok = n.first_child <= h.nnodes && n.nchildren <= h.nnodes - n.first_child &&
                 (n.nchildren == 0 || n.first_child > i);
        if (!ok || (i == 0 && n.type != TIDAL_FS_DIR))
            return tidal_err_set(err, "file image: node %u is malformed", i);
    }
    return 0;
}
