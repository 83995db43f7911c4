/* The read-only file image the monitor placed in guest memory (abi.h, "Files").
 * It is checked once, whole, before first use: afterwards every offset is known to
 * lie inside it, so lookups index it directly. A guest booted without trees (or
 * with an image that fails the check) sees an empty root. */
#include "fs.h"

#include <string.h>

static const struct tidal_fs_header *hdr;
static const struct tidal_fs_node *nodes;
static uint32_t nnodes;
static int checked;

static const struct tidal_fs_node empty_root = {
    .type = TIDAL_FS_DIR,
    .perm = 0555,
};

static int node_ok(const struct tidal_fs_node *n, uint32_t i, uint64_t size)
{
    if (n->type != TIDAL_FS_DIR && n->type != TIDAL_FS_FILE)
        return 0;
    if (n->parent >= nnodes || (i && n->parent >= i) || n->name_off > size ||
        n->name_len > size - n->name_off || (i && (n->name_len == 0 || n->name_len > 255)))
        return 0;
    if (n->type == TIDAL_FS_FILE)
        return n->data_off <= size && n->size <= size - n->data_off;
    return n->first_child <= nnodes && n->nchildren <= nnodes - n->first_child &&
           (n->nchildren == 0 || n->first_child > i);
}

static void check_image(void)
{
    checked = 1;
    const struct tidal_boot_info *b = tidal_boot;
    if (!b->fs_gpa || b->fs_size < sizeof(struct tidal_fs_header))
        return;
    const struct tidal_fs_header *h = (const void *)(uintptr_t)b->fs_gpa;
    if (h->magic != TIDAL_FS_MAGIC || h->size > b->fs_size || h->nnodes == 0 || h->nodes_off % 8 ||
        h->nodes_off > h->size ||
        h->nnodes > (h->size - h->nodes_off) / sizeof(struct tidal_fs_node))
        return;
    nodes = (const void *)((const char *)h + h->nodes_off);
    nnodes = h->nnodes;
    for (uint32_t i = 0; i < nnodes; i++)
        if (!node_ok(&nodes[i], i, h->size) || (i == 0 && nodes[0].type != TIDAL_FS_DIR)) {
            nodes = 0;
            nnodes = 0;
            return;
        }
    hdr = h;
}

const struct tidal_fs_node *fs_ro_root(void)
{
    if (!checked)
        check_image();
    return hdr ? &nodes[0] : &empty_root;
}

uint32_t fs_ro_index(const struct tidal_fs_node *n)
{
    return hdr && n != &empty_root ? (uint32_t)(n - nodes) : 0;
}

const struct tidal_fs_node *fs_ro_parent(const struct tidal_fs_node *n)
{
    return hdr && n != &empty_root ? &nodes[n->parent] : n;
}

const char *fs_ro_name(const struct tidal_fs_node *n)
{
    return hdr ? (const char *)hdr + n->name_off : "";
}

const unsigned char *fs_ro_data(const struct tidal_fs_node *n)
{
    return (const unsigned char *)hdr + n->data_off;
}

const struct tidal_fs_node *fs_ro_nth_child(const struct tidal_fs_node *dir, uint32_t i)
{
    if (!hdr || dir->type != TIDAL_FS_DIR || i >= dir->nchildren)
        return 0;
    return &nodes[dir->first_child + i];
}

/* Children are sorted bytewise by name: a binary search. */
const struct tidal_fs_node *fs_ro_child(const struct tidal_fs_node *dir, const char *name,
                                        size_t len)
{
    if (!hdr || dir->type != TIDAL_FS_DIR)
        return 0;
    uint32_t lo = 0, hi = dir->nchildren;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct tidal_fs_node *c = &nodes[dir->first_child + mid];
        size_t clen = c->name_len;
        int cmp = memcmp(fs_ro_name(c), name, clen < len ? clen : len);
        if (cmp == 0)
            cmp = clen < len ? -1 : clen > len ? 1 : 0;
        if (cmp == 0)
            return c;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}
