/*
 * LB*: the fewest hosts (opened in fleet order) whose summed capacity holds, in every
 * slot and resource, the day demand plus some fractional schedule of the batch work.
 *
 * For a fleet size n and a weighting lambda of the resources, feasibility of the
 * fractional batch schedule is a transportation problem, solved as max-flow:
 *   source -> job (its work)  -> slot of its window (its size: at most one copy runs)
 *          -> sink (capacity left by the day demand in that slot).
 * A weighting sums the per-resource constraints with non-negative weights, so each
 * one is a relaxation of the two-resource LP and the maximum over the weightings is
 * still a lower bound (possibly below the LP optimum, never above it). Identical jobs
 * are merged into one node with their sizes summed, which is exact for identical jobs.
 *
 * Work is counted in whole slots: a plan can only give a job whole slots, so a 60 s job
 * costs a 5-min slot in every plan and the bound may count it so. What stays fractional
 * is how much of each slot and which slots (and no host boundaries, no switch costs).
 */
#include "lb_dual.h"
#include "maxflow.h"
#include "sched_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct group {
    int w;    /* representative workload */
    int mult; /* identical copies */
};

struct lbctx {
    const struct tsched_model *m;
    double *day; /* [slot][res] summed day demand */
    struct group *g;
    int ng;
    double ref[TSCHED_NRES]; /* first host type: makes resources comparable */
};

static const struct tsched_model *sort_model;
static int cmp_batch(const void *a, const void *b)
{
    return tsched_batch_cmp(&sort_model->w[*(const int *)a], &sort_model->w[*(const int *)b]);
}

/* Can n hosts carry everything under weighting lam? */
static int feasible(const struct lbctx *c, int n, const double lam[TSCHED_NRES], bool *ok)
{
    const struct tsched_model *m = c->m;
    int T = m->nslots;
    double cap[TSCHED_NRES];
    tsched_fleet_cap(m, n, cap);
    for (int t = 0; t < T; t++)
        for (int r = 0; r < TSCHED_NRES; r++)
            if (c->day[t * TSCHED_NRES + r] > cap[r] * (1 + 1e-12) + TSCHED_EPS) {
                *ok = false;
                return 0;
            }
    if (c->ng == 0) {
        *ok = true;
        return 0;
    }
    struct maxflow g;
    int src = 0, sink = 1 + c->ng + T;
    if (mf_init(&g, sink + 1) < 0)
        return -1;
    double need = 0;
    for (int i = 0; i < c->ng; i++) {
        const struct tsched_workload *w = &m->w[c->g[i].w];
        double s = 0;
        for (int r = 0; r < TSCHED_NRES; r++)
            s += lam[r] * w->req[r] / c->ref[r];
        s *= c->g[i].mult;
        double work = s * tsched_batch_slots_needed(m, w, 1, 0);
        need += work;
        if (mf_add(&g, src, 1 + i, work) < 0)
            goto oom;
        for (int k = 0; k < w->win_len; k++)
            if (mf_add(&g, 1 + i, 1 + c->ng + (w->win_start + k) % T, s) < 0)
                goto oom;
    }
    for (int t = 0; t < T; t++) {
        double left = 0;
        for (int r = 0; r < TSCHED_NRES; r++)
            left += lam[r] * (cap[r] - c->day[t * TSCHED_NRES + r]) / c->ref[r];
        if (mf_add(&g, 1 + c->ng + t, sink, fmax(left, 0)) < 0)
            goto oom;
    }
    double f = mf_run(&g, src, sink);
    *ok = f >= need * (1 - 1e-9) - 1e-9;
    mf_free(&g);
    return 0;
oom:
    mf_free(&g);
    return -1;
}

/* Volume and per-slot peak bounds: cheap, and the floor of the binary search. */
static int simple_bound(const struct lbctx *c, int upper)
{
    const struct tsched_model *m = c->m;
    int T = m->nslots;
    double peak[TSCHED_NRES] = {0}, vol[TSCHED_NRES] = {0};
    for (int t = 0; t < T; t++)
        for (int r = 0; r < TSCHED_NRES; r++) {
            peak[r] = fmax(peak[r], c->day[t * TSCHED_NRES + r]);
            vol[r] += c->day[t * TSCHED_NRES + r];
        }
    for (int i = 0; i < c->ng; i++) {
        const struct tsched_workload *w = &m->w[c->g[i].w];
        for (int r = 0; r < TSCHED_NRES; r++)
            vol[r] += c->g[i].mult * w->req[r] * tsched_batch_slots_needed(m, w, 1, 0);
    }
    int n = 0;
    for (; n < upper; n++) {
        double cap[TSCHED_NRES];
        tsched_fleet_cap(m, n, cap);
        bool ok = true;
        for (int r = 0; r < TSCHED_NRES; r++)
            ok &= peak[r] <= cap[r] * (1 + 1e-12) + TSCHED_EPS &&
                  vol[r] <= cap[r] * T * (1 + 1e-12) + TSCHED_EPS;
        if (ok)
            break;
    }
    return n;
}

int tsched_lower_bound(const struct tsched_model *m, int upper, struct tsched_err *err)
{
    int T = m->nslots, rc = -1;
    struct lbctx c = {.m = m};
    int *idx = malloc(((size_t)m->nw + 1) * sizeof *idx);
    c.day = calloc((size_t)T * TSCHED_NRES, sizeof *c.day);
    c.g = malloc(((size_t)m->nw + 1) * sizeof *c.g);
    if (!idx || !c.day || !c.g) {
        tsched_errf(err, "out of memory computing the lower bound");
        goto out;
    }
    for (int r = 0; r < TSCHED_NRES; r++)
        c.ref[r] = m->types[0].cap[r];
    int nb = 0;
    for (int i = 0; i < m->nw; i++) {
        const struct tsched_workload *w = &m->w[i];
        if (w->kind == TSCHED_BATCH) {
            idx[nb++] = i;
            continue;
        }
        for (int t = 0; t < T; t++)
            for (int r = 0; r < TSCHED_NRES; r++)
                c.day[t * TSCHED_NRES + r] += w->demand[r][t];
    }
    sort_model = m;
    qsort(idx, (size_t)nb, sizeof *idx, cmp_batch);
    for (int i = 0; i < nb; i++) {
        if (c.ng > 0 && cmp_batch(&idx[i], &c.g[c.ng - 1].w) == 0) {
            c.g[c.ng - 1].mult++;
            continue;
        }
        c.g[c.ng++] = (struct group){.w = idx[i], .mult = 1};
    }
    int lo = simple_bound(&c, upper);
    /* Pure weightings catch a single scarce resource; the mixed one catches jobs that
     * need both at the times the day leaves only one. */
    static const double lams[][TSCHED_NRES] = {{1, 0}, {0, 1}, {0.5, 0.5}};
    for (size_t k = 0; k < sizeof lams / sizeof lams[0]; k++) {
        int a = lo, b = upper; /* invariant: b feasible (or the caller's upper) */
        bool ok;
        if (feasible(&c, a, lams[k], &ok) < 0)
            goto oom;
        if (ok)
            continue;
        while (b - a > 1) {
            int mid = a + (b - a) / 2;
            if (feasible(&c, mid, lams[k], &ok) < 0)
                goto oom;
            if (ok)
                b = mid;
            else
                a = mid;
        }
        lo = b;
    }
    /* Then per-slot prices, which see a CPU-bound day and a memory-bound night. */
    struct lb_dual_job *jobs = malloc(((size_t)c.ng + 1) * sizeof *jobs);
    if (!jobs)
        goto oom;
    for (int i = 0; i < c.ng; i++) {
        const struct tsched_workload *w = &m->w[c.g[i].w];
        jobs[i] = (struct lb_dual_job){.win_start = w->win_start,
                                       .win_len = w->win_len,
                                       .need = tsched_batch_slots_needed(m, w, 1, 0)};
        for (int r = 0; r < TSCHED_NRES; r++)
            jobs[i].a[r] = c.g[i].mult * w->req[r];
    }
    struct lb_dual_in in = {.T = T, .day = c.day, .jobs = jobs, .nj = c.ng};
    lo = tsched_lb_dual(m, &in, lo, upper, 200);
    free(jobs);
    rc = lo;
    goto out;
oom:
    tsched_errf(err, "out of memory computing the lower bound");
out:
    free(idx);
    free(c.day);
    free(c.g);
    return rc;
}
