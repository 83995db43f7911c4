/* The /out archive (abi.h): what the guest wrote under /out, handed to the host
 * with the EXIT call when the host collects it. Built only at exit, in fresh pages,
 * so the scratch file system itself needs no layout the host understands. */
#include "fs.h"

#include <string.h>

#define PATH_CAP 4096u

struct writer {
    unsigned char *p; /* NULL: only measure */
    uint64_t len;
    int overflow; /* a path too deep for PATH_CAP: left out */
};

static void put_record(struct writer *w, const char *path, size_t plen, const struct snode *n)
{
    uint64_t size = n->is_dir ? 0 : n->size;
    uint64_t rec = (sizeof(struct tidal_out_record) + plen + size + 7) & ~7ull;
    if (w->p) {
        struct tidal_out_record h = {
            .type = n->is_dir ? TIDAL_FS_DIR : TIDAL_FS_FILE,
            .path_len = (uint32_t)plen,
            .size = size,
        };
        unsigned char *at = w->p + w->len;
        memcpy(at, &h, sizeof(h));
        memcpy(at + sizeof(h), path, plen);
        if (size)
            memcpy(at + sizeof(h) + plen, n->data, size);
    }
    w->len += rec;
}

/* Depth first, a directory before its entries; path holds plen bytes of n's parent. */
static void walk(struct writer *w, const struct snode *dir, char *path, size_t plen)
{
    for (const struct snode *c = dir->child; c; c = c->next) {
        size_t len = plen + (plen ? 1 : 0) + c->name_len;
        if (len >= PATH_CAP) {
            w->overflow = 1;
            continue;
        }
        if (plen)
            path[plen] = '/';
        memcpy(path + len - c->name_len, c->name, c->name_len);
        put_record(w, path, len, c);
        if (c->is_dir)
            walk(w, c, path, len);
    }
}

void fs_out_archive(uint64_t *gpa, uint64_t *len)
{
    static char path[PATH_CAP];
    struct snode *out = fs_scratch_mount("out", 3);
    struct writer w = {0};
    *gpa = *len = 0;
    walk(&w, out, path, 0);
    if (!w.len)
        return;
    w.p = tidal_pages_alloc(w.len);
    if (!w.p)
        return; /* no memory left to gather /out: the host gets nothing, not a part */
    w.len = 0;
    walk(&w, out, path, 0);
    *gpa = (uint64_t)(uintptr_t)w.p;
    *len = w.len;
}
