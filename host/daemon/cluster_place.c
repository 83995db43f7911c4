#include "cluster_place.h"

#include <stdlib.h>
#include <string.h>

static struct place_host *find_host(struct place_host *hosts, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(hosts[i].name, name))
            return &hosts[i];
    return NULL;
}

static int larger_first(const void *a, const void *b)
{
    const struct place_vm *x = *(const struct place_vm *const *)a;
    const struct place_vm *y = *(const struct place_vm *const *)b;
    if (x->mem != y->mem)
        return x->mem > y->mem ? -1 : 1;
    if (x->cpus != y->cpus)
        return x->cpus > y->cpus ? -1 : 1;
    return strcmp(x->name, y->name); /* the same answer on every leader */
}

static struct place_host *best_host(struct place_host *hosts, int n, const struct place_vm *v)
{
    struct place_host *best = NULL;
    for (int i = 0; i < n; i++) {
        struct place_host *h = &hosts[i];
        if (h->used_mem + v->mem > h->mem)
            continue;
        uint64_t free_mem = h->mem - h->used_mem;
        if (!best || free_mem > best->mem - best->used_mem ||
            (free_mem == best->mem - best->used_mem &&
             h->cpus - h->used_cpus > best->cpus - best->used_cpus))
            best = h;
    }
    return best;
}

int cluster_place(struct place_host *hosts, int nhosts, struct place_vm *vms, int nvms)
{
    for (int i = 0; i < nhosts; i++) {
        hosts[i].used_cpus = 0;
        hosts[i].used_mem = 0;
    }
    struct place_vm **homeless = malloc((size_t)(nvms ? nvms : 1) * sizeof(*homeless));
    if (!homeless)
        return -1;
    int nhomeless = 0;
    for (int i = 0; i < nvms; i++) {
        struct place_vm *v = &vms[i];
        v->moved = v->unplaced = false;
        if (!v->active)
            continue;
        struct place_host *h = v->host[0] ? find_host(hosts, nhosts, v->host) : NULL;
        if (h) {
            h->used_mem += v->mem;
            h->used_cpus += v->cpus;
        } else {
            homeless[nhomeless++] = v;
        }
    }
    qsort(homeless, (size_t)nhomeless, sizeof(*homeless), larger_first);
    int moved = 0;
    for (int i = 0; i < nhomeless; i++) {
        struct place_vm *v = homeless[i];
        struct place_host *h = best_host(hosts, nhosts, v);
        if (!h) {
            v->unplaced = true;
            continue;
        }
        h->used_mem += v->mem;
        h->used_cpus += v->cpus;
        strcpy(v->host, h->name);
        v->epoch++;
        v->moved = true;
        moved++;
    }
    free(homeless);
    return moved;
}
