/*
 * Batch as a FIFO job queue, what a cluster without batch planning runs (a Kubernetes
 * Job queue, say): jobs in order of release, each started at the first slot of its
 * window where some host has room for its whole run, on the first such host, and never
 * suspended; a later job may take room an earlier, bigger one could not use. A job that
 * cannot start in time to meet its deadline fails the attempt.
 */
#include "packer.h"

#include <stdlib.h>

static const struct tsched_model *sort_m;
static int sort_origin;
static int cmp_release(const void *a, const void *b)
{
    int ia = *(const int *)a, ib = *(const int *)b, T = sort_m->nslots;
    int ra = tsched_mod(sort_m->w[ia].win_start - sort_origin, T);
    int rb = tsched_mod(sort_m->w[ib].win_start - sort_origin, T);
    return ra != rb ? ra - rb : ia - ib;
}

/* The day is a circle: the queue's day starts after the longest stretch with no
 * release, where a real queue would have drained. */
static int queue_origin(const struct tsched_model *m, const int *order, int nb, bool *seen)
{
    int T = m->nslots, origin = 0, best = -1;
    for (int t = 0; t < T; t++)
        seen[t] = false;
    for (int i = 0; i < nb; i++)
        seen[m->w[order[i]].win_start] = true;
    for (int t = 0; t < T; t++) {
        if (!seen[t])
            continue;
        int gap = 1; /* slots from the previous release to this one */
        while (gap < T && !seen[tsched_mod(t - gap, T)])
            gap++;
        if (gap > best)
            best = gap, origin = t;
    }
    return origin;
}

int pack_fifo(struct packer *k, int *order, int nb)
{
    const struct tsched_model *m = k->m;
    int T = k->T, rc = -1;
    int *slots = malloc(((size_t)T + 1) * sizeof *slots);
    bool *seen = malloc(((size_t)T + 1) * sizeof *seen);
    if (!slots || !seen || build_index(k, HIDX_FIRST_FIT) < 0)
        goto out;
    sort_m = m;
    sort_origin = queue_origin(m, order, nb, seen);
    qsort(order, (size_t)nb, sizeof *order, cmp_release);
    rc = 1;
    /* Identical jobs released together (a task's chunks) come one after another; a start
     * that had no room for one of them has none for the next, as room only shrinks. */
    int open_from = 0;
    for (int i = 0; i < nb && rc == 1; i++) {
        const struct tsched_workload *w = &m->w[order[i]];
        if (i == 0 || tsched_batch_cmp(w, &m->w[order[i - 1]]) != 0)
            open_from = 0;
        int need = tsched_batch_slots_needed(m, w, 1, 0), h = -1, o = open_from;
        for (int q = 0; q < w->win_len; q++)
            slots[q] = (w->win_start + q) % T;
        for (; o + need <= w->win_len; o++)
            if ((h = hidx_choose(&k->ix, &slots[o], need, w->req, HIDX_FIRST_FIT)) >= 0)
                break;
        if (h < 0) {
            rc = 0;
            break;
        }
        open_from = o;
        int *run = &k->p->run_host[k->p->run_off[order[i]]];
        for (int q = o; q < o + need; q++) {
            run[q] = h;
            add(k, h, slots[q], w->req);
            hidx_set_load(&k->ix, h, slots[q], L(k, h, slots[q]));
        }
    }
out:
    free(slots);
    free(seen);
    return rc;
}
