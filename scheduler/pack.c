/*
 * One packing attempt on a fixed fleet of n hosts: the day workloads (pack_day.c), then
 * the batch work into what they leave (pack_batch.c). This file holds the shared load
 * bookkeeping and the attempt itself.
 */
#include "packer.h"

#include <stdlib.h>
#include <string.h>

void add(struct packer *k, int h, int t, const double *req)
{
    double *l = L(k, h, t), *b = &k->hblk[((size_t)h * NBLK + BLK(k, t)) * TSCHED_NRES];
    for (int r = 0; r < TSCHED_NRES; r++) {
        l[r] += req[r];
        k->agg[t * TSCHED_NRES + r] += req[r];
        k->hmax[h * TSCHED_NRES + r] = dmax(k->hmax[h * TSCHED_NRES + r], l[r]);
        b[r] = dmax(b[r], l[r]);
    }
}

/* What running `req` in slot t costs: the fleet's fullness in each resource, weighted
 * by how much of that resource the job takes. A memory-heavy job thus prefers the
 * slots where memory is free even if CPU is not, and the other way round. Fullness
 * counts the batch work still to place as if spread evenly over its window, so a job
 * with a wide window leaves the slots that narrower windows will need. */
double slot_cost(struct packer *k, int t, const double *req)
{
    double c = 0;
    for (int r = 0; r < TSCHED_NRES; r++)
        c += req[r] / k->cap[r] * (k->agg[t * TSCHED_NRES + r] + k->pres[t * TSCHED_NRES + r]) /
             k->fleet[r];
    return c;
}

int build_index(struct packer *k, enum hidx_rule rule)
{
    if (hidx_init(&k->ix, k->m, k->n, k->T) < 0)
        return -1;
    hidx_keep_for(&k->ix, rule);
    for (int h = 0; h < k->n; h++)
        for (int t = 0; t < k->T; t++)
            hidx_set_load(&k->ix, h, t, L(k, h, t));
    return 0;
}

void pack_prep_free(struct pack_prep *prep)
{
    free(prep->day_order);
    free(prep->class_end);
    free(prep->bw);
    memset(prep, 0, sizeof *prep);
}

int tsched_pack(const struct tsched_model *m, int n, const struct pack_rule *rule,
                struct pack_prep *prep, struct tsched_plan *p, struct tsched_err *err)
{
    int T = m->nslots, rc = -1;
    struct packer k = {.m = m,
                       .p = p,
                       .n = n,
                       .T = T,
                       .spread = rule->spread,
                       .levels = rule->levels,
                       .prep = prep};
    k.cap = malloc((size_t)n * TSCHED_NRES * sizeof *k.cap);
    k.hmax = calloc((size_t)n * TSCHED_NRES, sizeof *k.hmax);
    k.hblk = calloc((size_t)n * NBLK * TSCHED_NRES, sizeof *k.hblk);
    k.agg = calloc((size_t)T * TSCHED_NRES, sizeof *k.agg);
    k.pres = calloc((size_t)T * TSCHED_NRES, sizeof *k.pres);
    int *order = malloc(((size_t)m->nw + 1) * sizeof *order);
    if (!k.cap || !k.hmax || !k.hblk || !k.agg || !k.pres || !order) {
        tsched_errc(err, tsched_errf(err, "out of memory packing %d hosts", n), TSCHED_E_INTERNAL);
        goto out;
    }
    for (int h = 0; h < n; h++)
        tsched_host_cap(m, h, &k.cap[h * TSCHED_NRES]);
    tsched_fleet_cap(m, n, k.fleet);
    memset(p->load, 0, (size_t)n * T * TSCHED_NRES * sizeof *p->load);
    for (int i = 0; i < m->nw; i++) {
        p->day_host[i] = -1;
        if (m->w[i].kind == TSCHED_BATCH)
            for (int o = 0; o < m->w[i].win_len; o++)
                p->run_host[p->run_off[i] + o] = -1;
    }
    for (int r = 0; r < TSCHED_NRES; r++)
        k.ref[r] = m->types[0].cap[r];

    int nd = 0, nb = 0;
    for (int i = 0; i < m->nw; i++)
        if (m->w[i].kind != TSCHED_BATCH)
            order[nd++] = i;
    rc = pack_days(&k, order, nd);
    if (rc == 1) {
        for (int i = 0; i < m->nw; i++)
            if (m->w[i].kind == TSCHED_BATCH)
                order[nb++] = i;
        rc = rule->fifo ? pack_fifo(&k, order, nb) : pack_batches(&k, order, nb);
    }
    if (rc < 0)
        tsched_errc(err, tsched_errf(err, "out of memory packing %d hosts", n), TSCHED_E_INTERNAL);
out:
    free(k.cap);
    free(k.hmax);
    free(k.hblk);
    free(k.agg);
    free(k.pres);
    hidx_free(&k.ix);
    free(order);
    return rc;
}
