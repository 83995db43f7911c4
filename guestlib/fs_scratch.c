/* The scratch file system: /tmp and /out, writable, in the guest's own heap, so a
 * snapshot keeps it and a reused VM's reset takes it back to the template's files.
 * Every byte it holds counts against the budget the host gives (boot info
 * scratch_max): file capacity plus a fixed charge per node, so a guest that fills it
 * gets ENOSPC, not a heap exhausted under its other allocations. */
#include "fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NODE_CHARGE 128u /* the node and its name, roughly, so empty files count too */

static struct snode mounts[2] = {
    {.name = "tmp", .name_len = 3, .is_dir = 1, .linked = 1, .perm = 01777, .ino = 1},
    {.name = "out", .name_len = 3, .is_dir = 1, .linked = 1, .perm = 0755, .ino = 2},
};
static uint64_t used, next_ino = 3;

static uint64_t budget(void)
{
    return tidal_boot->scratch_max;
}

static int charge(uint64_t more)
{
    if (more > budget() || used > budget() - more)
        return -ENOSPC;
    used += more;
    return 0;
}

void fs_scratch_touch(struct snode *n)
{
    n->mtime = (int64_t)(tidal_realtime_ns() / 1000000000u);
}

struct snode *fs_scratch_mount(const char *name, size_t len)
{
    for (unsigned i = 0; i < 2; i++)
        if (len == 3 && !memcmp(name, mounts[i].name, 3)) {
            if (!mounts[i].mtime)
                fs_scratch_touch(&mounts[i]);
            return &mounts[i];
        }
    return 0;
}

struct snode *fs_scratch_child(const struct snode *dir, const char *name, size_t len)
{
    for (struct snode *c = dir->child; c; c = c->next)
        if (c->name_len == len && !memcmp(c->name, name, len))
            return c;
    return 0;
}

struct snode *fs_scratch_nth_child(const struct snode *dir, uint32_t i)
{
    struct snode *c = dir->child;
    while (c && i--)
        c = c->next;
    return c;
}

void fs_scratch_attach(struct snode *dir, struct snode *n, const char *name, size_t len)
{
    (void)name;
    (void)len;
    n->parent = dir;
    n->linked = 1;
    n->next = dir->child;
    dir->child = n;
    fs_scratch_touch(dir);
}

void fs_scratch_detach(struct snode *n)
{
    struct snode *dir = n->parent;
    if (dir) {
        struct snode **pp = &dir->child;
        while (*pp && *pp != n)
            pp = &(*pp)->next;
        if (*pp)
            *pp = n->next;
        fs_scratch_touch(dir);
    }
    n->parent = n->next = 0;
    n->linked = 0;
}

int fs_scratch_rename_name(struct snode *n, const char *name, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return -ENOSPC;
    memcpy(copy, name, len);
    copy[len] = 0;
    free(n->name);
    n->name = copy;
    n->name_len = len;
    return 0;
}

int fs_scratch_create(struct snode *dir, const char *name, size_t len, int is_dir, uint32_t perm,
                      struct snode **out)
{
    int r = charge(NODE_CHARGE + len);
    if (r)
        return r;
    struct snode *n = calloc(1, sizeof(*n));
    if (!n || fs_scratch_rename_name(n, name, len)) {
        free(n);
        used -= NODE_CHARGE + len;
        return -ENOSPC;
    }
    n->is_dir = is_dir;
    n->perm = perm & 07777;
    n->ino = next_ino++;
    fs_scratch_touch(n);
    fs_scratch_attach(dir, n, name, len);
    *out = n;
    return 0;
}

int fs_scratch_resize(struct snode *f, size_t size)
{
    if (size > f->cap) {
        /* Grow by doubling while the budget allows, so appends cost amortised O(1);
         * near the limit, take exactly what is needed. */
        size_t want = f->cap ? f->cap : 256;
        while (want < size)
            want = want > SIZE_MAX / 2 ? size : want * 2;
        if (charge(want - f->cap)) {
            want = size;
            if (charge(want - f->cap))
                return -ENOSPC;
        }
        unsigned char *p = realloc(f->data, want);
        if (!p) {
            used -= want - f->cap;
            return -ENOSPC;
        }
        memset(p + f->cap, 0, want - f->cap);
        f->data = p;
        f->cap = want;
    }
    if (size < f->size)
        memset(f->data + size, 0, f->size - size); /* a later extension reads zeros */
    f->size = size;
    fs_scratch_touch(f);
    return 0;
}

void fs_scratch_put(struct snode *n)
{
    if (n->linked || n->opens || n == &mounts[0] || n == &mounts[1])
        return;
    used -= n->cap + NODE_CHARGE + n->name_len;
    free(n->data);
    free(n->name);
    free(n);
}
