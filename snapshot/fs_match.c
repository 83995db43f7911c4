/* A restore given --dir/--file checks them against the trees its snapshot recorded:
 * the records live in the file image in the saved guest's memory (abi.h, struct
 * tidal_fs_tree), found through its boot info. Guest memory is the guest's, so
 * every place read there is checked first. */
#include "tidal/abi.h"
#include "tidal/fsimage.h"

#include <stdlib.h>
#include <string.h>

struct trees {
    const uint8_t *img;
    struct tidal_fs_header h;
};

static int trees_of(const uint8_t *img, size_t size, struct trees *t, struct tidal_err *err)
{
    if (tidal_fs_image_check(img, size, err))
        return -1;
    t->img = img;
    memcpy(&t->h, img, sizeof(t->h));
    return 0;
}

static struct tidal_fs_tree tree_at(const struct trees *t, uint32_t i)
{
    struct tidal_fs_tree r;
    memcpy(&r, t->img + t->h.trees_off + (uint64_t)i * sizeof(r), sizeof(r));
    if (r.path_off > t->h.size || r.path_len > t->h.size - r.path_off)
        r.path_len = 0; /* a malformed record names nothing, so it matches nothing */
    return r;
}

static int same_path(const struct trees *a, struct tidal_fs_tree x, const struct trees *b,
                     struct tidal_fs_tree y)
{
    return x.path_len == y.path_len &&
           !memcmp(a->img + x.path_off, b->img + y.path_off, x.path_len);
}

int tidal_fs_match_snapshot(const uint8_t *mem, uint64_t mem_size,
                            const struct tidal_fs_spec *specs, unsigned n, struct tidal_err *err)
{
    struct tidal_boot_info bi;
    if (mem_size < TIDAL_BOOT_INFO_GPA + sizeof(bi))
        return tidal_err_set(err, "the snapshot's memory holds no boot info");
    memcpy(&bi, mem + TIDAL_BOOT_INFO_GPA, sizeof(bi));
    struct trees old = {0}, now;
    if (bi.fs_size) {
        if (bi.fs_gpa > mem_size || bi.fs_size > mem_size - bi.fs_gpa)
            return tidal_err_set(err,
                                 "the snapshot's file image (0x%llx, %llu bytes) lies "
                                 "outside its memory",
                                 (unsigned long long)bi.fs_gpa, (unsigned long long)bi.fs_size);
        if (trees_of(mem + bi.fs_gpa, bi.fs_size, &old, err))
            return -1;
    }
    uint8_t *img;
    size_t size;
    if (tidal_fs_build(specs, n, &img, &size, err))
        return -1;
    int rc = trees_of(img, size, &now, err);
    for (uint32_t i = 0; !rc && i < now.h.ntrees; i++) {
        struct tidal_fs_tree t = tree_at(&now, i);
        uint32_t j = 0;
        while (j < old.h.ntrees && !same_path(&now, t, &old, tree_at(&old, j)))
            j++;
        if (j == old.h.ntrees)
            rc = tidal_err_set(err, "%s: the snapshot has no tree at %.*s", specs[i].host,
                               (int)t.path_len, (const char *)img + t.path_off);
        else if (tree_at(&old, j).checksum != t.checksum)
            rc = tidal_err_set(err,
                               "%s: changed since the snapshot (its tree at %.*s has checksum "
                               "%016llx, the host's now %016llx)",
                               specs[i].host, (int)t.path_len, (const char *)img + t.path_off,
                               (unsigned long long)tree_at(&old, j).checksum,
                               (unsigned long long)t.checksum);
    }
    if (!rc && old.h.ntrees != now.h.ntrees)
        rc = tidal_err_set(err, "the snapshot recorded %u trees; %u --dir/--file given",
                           old.h.ntrees, now.h.ntrees);
    free(img);
    return rc;
}
