/* The two baselines printed next to every plan: what a fleet without time awareness
 * needs. Both are first-fit decreasing over the fleet order, like the planner. */
#include "host_index.h"

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

int tsched_baseline_p95(const struct tsched_model *m, int *overloads)
{
    int T = m->nslots, rc = -1;
    double *size = malloc(((size_t)m->nw + 1) * TSCHED_NRES * sizeof *size);
    int *host_of = malloc(((size_t)m->nw + 1) * sizeof *host_of);
    float *tmp = malloc((size_t)T * sizeof *tmp);
    double *load = NULL;
    if (!size || !host_of || !tmp)
        goto out;
    for (int i = 0; i < m->nw; i++) {
        const struct tsched_workload *w = &m->w[i];
        for (int r = 0; r < TSCHED_NRES; r++) {
            if (w->kind == TSCHED_BATCH) {
                size[i * TSCHED_NRES + r] = w->req[r];
                continue;
            }
            /* Nearest-rank P95 of the day's slots, as a VPA-style recommender would. */
            memcpy(tmp, w->demand[r], (size_t)T * sizeof *tmp);
            qsort(tmp, (size_t)T, sizeof *tmp, cmp_float);
            int k = (int)ceil(0.95 * T) - 1;
            size[i * TSCHED_NRES + r] = tmp[k < 0 ? 0 : k];
        }
    }
    int n = tsched_ffd_static(m, size, m->nw, host_of);
    if (n < 0)
        goto out;
    /* Replays the real curves on that packing: P95 requests overcommit the peaks. */
    load = calloc((size_t)n * T * TSCHED_NRES + 1, sizeof *load);
    if (!load)
        goto out;
    for (int i = 0; i < m->nw; i++) {
        const struct tsched_workload *w = &m->w[i];
        for (int t = 0; t < T; t++)
            for (int r = 0; r < TSCHED_NRES; r++)
                load[((size_t)host_of[i] * T + t) * TSCHED_NRES + r] +=
                    w->kind == TSCHED_BATCH ? w->req[r] : w->demand[r][t];
    }
    int over = 0;
    for (int h = 0; h < n; h++) {
        double cap[TSCHED_NRES];
        tsched_host_cap(m, h, cap);
        for (int t = 0; t < T; t++) {
            bool bad = false;
            for (int r = 0; r < TSCHED_NRES; r++)
                bad |= load[((size_t)h * T + t) * TSCHED_NRES + r] > cap[r] * (1 + 1e-9) + 1e-9;
            over += bad;
        }
    }
    if (overloads)
        *overloads = over;
    rc = n;
out:
    free(size);
    free(host_of);
    free(tmp);
    free(load);
    return rc;
}
