/* A hash table from workload name to index (FNV-1a, linear probing, kept under half full). */
#include "name_index.h"

#include <stdlib.h>
#include <string.h>

static size_t hash(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

static int grow(struct name_index *x, size_t size)
{
    int *slot = calloc(size, sizeof *slot);
    if (!slot)
        return -1;
    int *old = x->slot;
    size_t old_size = x->size;
    x->slot = slot;
    x->size = size;
    for (size_t i = 0; i < old_size; i++)
        if (old[i]) {
            size_t j = hash(x->m->w[old[i] - 1].name) & (size - 1);
            while (slot[j])
                j = (j + 1) & (size - 1);
            slot[j] = old[i];
        }
    free(old);
    return 0;
}

int nidx_add(struct name_index *x, int i)
{
    if ((size_t)x->m->nw * 2 > x->size && grow(x, x->size * 2) < 0)
        return -1;
    size_t j = hash(x->m->w[i].name) & (x->size - 1);
    while (x->slot[j])
        j = (j + 1) & (x->size - 1);
    x->slot[j] = i + 1;
    return 0;
}

int nidx_build(struct name_index *x, const struct tsched_model *m)
{
    memset(x, 0, sizeof *x);
    x->m = m;
    size_t size = 64;
    while (size < (size_t)m->nw * 2 + 2)
        size *= 2;
    if (grow(x, size) < 0)
        return -1;
    for (int i = 0; i < m->nw; i++)
        if (nidx_add(x, i) < 0)
            return -1;
    return 0;
}

int nidx_find(const struct name_index *x, const char *name)
{
    for (size_t j = hash(name) & (x->size - 1); x->slot[j]; j = (j + 1) & (x->size - 1))
        if (strcmp(x->m->w[x->slot[j] - 1].name, name) == 0)
            return x->slot[j] - 1;
    return -1;
}

void nidx_free(struct name_index *x)
{
    free(x->slot);
    memset(x, 0, sizeof *x);
}
