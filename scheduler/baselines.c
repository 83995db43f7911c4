/* The baselines printed next to every plan: what a fleet without Tidal needs.
 * (a) Kubernetes-style: day workloads reserve P95 requests all day, batch runs as a FIFO
 *     job queue on the room requests leave;
 * (b) the same queue next to the real day curves (a perfect autoscaler, no batch
 *     planning);
 * (c) peak packing, the extreme: everything reserves its peak all day, first-fit
 *     decreasing over the fleet order. */
#include "host_index.h"
#include "pack.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double *sort_size;
static double sort_ref[TSCHED_NRES];
static int cmp_size(const void *a, const void *b)
{
    double x = tsched_norm_size(&sort_size[*(const int *)a * TSCHED_NRES], sort_ref);
    double y = tsched_norm_size(&sort_size[*(const int *)b * TSCHED_NRES], sort_ref);
    if (x != y)
        return x > y ? -1 : 1;
    return *(const int *)a - *(const int *)b;
}

int tsched_ffd_static(const struct tsched_model *m, const double *size, int n, int *host_of)
{
    int *order = malloc(((size_t)n + 1) * sizeof *order);
    double *used = NULL; /* [host][res] */
    struct host_index ix = {0};
    int hosts = 0, rc = -1, fleet_max = tsched_fleet_max(m);
    if (!order)
        return -1;
    for (int i = 0; i < n; i++)
        order[i] = i;
    sort_size = size;
    for (int r = 0; r < TSCHED_NRES; r++)
        sort_ref[r] = m->types[0].cap[r];
    qsort(order, (size_t)n, sizeof *order, cmp_size);
    /* The index covers opened hosts and empty ones after them: the first host with room
     * is then first fit over the open hosts, or the next host of the fleet order big
     * enough, as opening hosts one by one would find. It doubles when all are tried. */
    int span = 0;
    for (int k = 0; k < n; k++) {
        const double *s = &size[order[k] * TSCHED_NRES];
        int slot0 = 0, h;
        while ((h = hidx_choose(&ix, &slot0, 1, s, HIDX_FIRST_FIT)) < 0) {
            if (span >= fleet_max)
                goto out;
            span = span ? (span > fleet_max / 2 ? fleet_max : span * 2) : 64;
            double *nu = realloc(used, (size_t)span * TSCHED_NRES * sizeof *nu);
            if (!nu)
                goto out;
            used = nu;
            memset(&used[hosts * TSCHED_NRES], 0,
                   (size_t)(span - hosts) * TSCHED_NRES * sizeof *used);
            hidx_free(&ix);
            if (hidx_init(&ix, m, span, 1) < 0)
                goto out;
            for (int g = 0; g < hosts; g++)
                hidx_set_load(&ix, g, 0, &used[g * TSCHED_NRES]);
        }
        for (int r = 0; r < TSCHED_NRES; r++)
            used[h * TSCHED_NRES + r] += s[r];
        hidx_set_load(&ix, h, 0, &used[h * TSCHED_NRES]);
        if (h >= hosts)
            hosts = h + 1;
        if (host_of)
            host_of[order[k]] = h;
    }
    rc = hosts;
out:
    free(order);
    free(used);
    hidx_free(&ix);
    return rc;
}

int tsched_baseline_peak(const struct tsched_model *m)
{
    double *size = malloc(((size_t)m->nw + 1) * TSCHED_NRES * sizeof *size);
    if (!size)
        return -1;
    for (int i = 0; i < m->nw; i++)
        for (int r = 0; r < TSCHED_NRES; r++)
            size[i * TSCHED_NRES + r] = m->w[i].peak[r];
    int n = tsched_ffd_static(m, size, m->nw, NULL);
    free(size);
    return n;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The model with every day curve replaced by its request: the nearest-rank P95 of the
 * day's slots, as a VPA-style recommender would set it. Batch is unchanged. */
static int requests_model(const struct tsched_model *m, struct tsched_model *out)
{
    *out = *m;
    out->w = malloc(((size_t)m->nw + 1) * sizeof *out->w);
    float *tmp = malloc((size_t)m->nslots * sizeof *tmp);
    if (!out->w || !tmp) {
        free(out->w);
        free(tmp);
        return -1;
    }
    memcpy(out->w, m->w, (size_t)m->nw * sizeof *out->w);
    int T = m->nslots, k = (int)ceil(0.95 * T) - 1, rc = 0;
    for (int i = 0; i < m->nw; i++) {
        struct tsched_workload *w = &out->w[i];
        if (w->kind == TSCHED_BATCH)
            continue;
        for (int r = 0; r < TSCHED_NRES; r++) {
            memcpy(tmp, m->w[i].demand[r], (size_t)T * sizeof *tmp);
            qsort(tmp, (size_t)T, sizeof *tmp, cmp_float);
            w->demand[r] = malloc((size_t)T * sizeof *w->demand[r]);
            if (!w->demand[r]) {
                rc = -1;
                continue;
            }
            for (int t = 0; t < T; t++)
                w->demand[r][t] = tmp[k < 0 ? 0 : k];
        }
        tsched_finish_workload(out, w);
    }
    free(tmp);
    return rc;
}

static void free_requests_model(struct tsched_model *r)
{
    for (int i = 0; i < r->nw; i++)
        for (int k = 0; r->w[i].kind != TSCHED_BATCH && k < TSCHED_NRES; k++)
            free(r->w[i].demand[k]);
    free(r->w);
}

struct fifo_ctx {
    const struct tsched_model *m;
    struct tsched_plan *p;
    struct tsched_err *err;
    struct pack_prep prep;
};

/* Day workloads placed by the planner's first rule (spreading, as a Kubernetes
 * scheduler spreads by default), batch jobs as a FIFO queue. */
static int fifo_works(void *ctx, int n)
{
    static const struct pack_rule rule = {.spread = true, .fifo = true};
    struct fifo_ctx *c = ctx;
    if (tsched_plan_resize(c->m, n, c->p) < 0)
        return -1;
    return tsched_pack(c->m, n, &rule, &c->prep, c->p, c->err);
}

/* The smallest fleet on which fifo_works, from lo; leaves that plan in p. */
static int fifo_fleet(const struct tsched_model *m, int lo, struct tsched_plan *p,
                      struct tsched_baseline *b, struct tsched_err *err)
{
    struct fifo_ctx c = {.m = m, .p = p, .err = err};
    bool last;
    if (tsched_plan_alloc(m, p) < 0)
        return tsched_errc(err, tsched_errf(err, "out of memory for a baseline"),
                           TSCHED_E_INTERNAL);
    b->hosts = tsched_fleet_search(lo, tsched_fleet_limit(m), fifo_works, &c, &b->attempts, &last);
    if (b->hosts < 0 || (b->hosts > 0 && !last && fifo_works(&c, b->hosts) != 1)) {
        pack_prep_free(&c.prep);
        tsched_plan_free(p);
        return tsched_errc(err, tsched_errf(err, "out of memory for a baseline"),
                           TSCHED_E_INTERNAL);
    }
    pack_prep_free(&c.prep);
    return 0;
}

int tsched_baseline_fifo(const struct tsched_model *m, int lb, struct tsched_baseline *b,
                         struct tsched_err *err)
{
    struct tsched_plan p;
    memset(b, 0, sizeof *b);
    if (fifo_fleet(m, lb, &p, b, err) < 0)
        return -1;
    tsched_plan_free(&p);
    return 0;
}

int tsched_baseline_k8s(const struct tsched_model *m, struct tsched_baseline *b,
                        struct tsched_err *err)
{
    struct tsched_model req;
    struct tsched_plan p;
    memset(b, 0, sizeof *b);
    if (requests_model(m, &req) < 0) {
        free_requests_model(&req);
        return tsched_errc(err, tsched_errf(err, "out of memory for a baseline"),
                           TSCHED_E_INTERNAL);
    }
    /* Requests below the real peaks may need fewer hosts than the real day's bound: the
     * search starts from the bound of the requests. */
    int upper = tsched_baseline_peak(&req);
    int lo = tsched_lower_bound(&req, upper > 0 ? upper : tsched_fleet_max(m), err);
    int rc = lo < 0 ? -1 : fifo_fleet(&req, lo, &p, b, err);
    if (rc == 0 && b->hosts > 0) {
        /* The same placements under the real curves: requests do not cap usage. */
        struct tsched_verify v;
        tsched_plan_verify(m, &p, &v);
        b->overloads = v.overloaded_host_slots;
    }
    if (rc == 0)
        tsched_plan_free(&p);
    free_requests_model(&req);
    return rc;
}
