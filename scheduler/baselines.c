/* The two baselines printed next to every plan: what a fleet without time awareness
 * needs. Both are first-fit decreasing over the fleet order, like the planner. */
#include "sched_internal.h"

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
    int *order = malloc((size_t)n * sizeof *order);
    double *used = NULL, *hcap = NULL; /* per open host: used, capacity */
    int hosts = 0, cap_hosts = 0, rc = -1;
    if (!order)
        return -1;
    for (int i = 0; i < n; i++)
        order[i] = i;
    sort_size = size;
    for (int r = 0; r < TSCHED_NRES; r++)
        sort_ref[r] = m->types[0].cap[r];
    qsort(order, (size_t)n, sizeof *order, cmp_size);
    int fleet_max = tsched_fleet_max(m);
    for (int k = 0; k < n; k++) {
        const double *s = &size[order[k] * TSCHED_NRES];
        int h = 0;
        for (; h < hosts; h++) {
            bool fit = true;
            for (int r = 0; r < TSCHED_NRES; r++)
                fit &= used[h * TSCHED_NRES + r] + s[r] <= hcap[h * TSCHED_NRES + r] + TSCHED_EPS;
            if (fit)
                break;
        }
        if (h == hosts) {
            /* Opens hosts until one can hold it: a bigger type may come later. */
            for (;; h++) {
                if (h >= fleet_max)
                    goto out;
                if (h >= cap_hosts) {
                    cap_hosts = cap_hosts ? cap_hosts * 2 : 64;
                    double *nu = realloc(used, (size_t)cap_hosts * TSCHED_NRES * sizeof *nu);
                    if (!nu)
                        goto out;
                    used = nu;
                    double *nc = realloc(hcap, (size_t)cap_hosts * TSCHED_NRES * sizeof *nc);
                    if (!nc)
                        goto out;
                    hcap = nc;
                }
                memset(&used[h * TSCHED_NRES], 0, TSCHED_NRES * sizeof *used);
                double *cap = &hcap[h * TSCHED_NRES];
                tsched_host_cap(m, h, cap);
                bool fit = true;
                for (int r = 0; r < TSCHED_NRES; r++)
                    fit &= s[r] <= cap[r] + TSCHED_EPS;
                if (fit)
                    break;
            }
            hosts = h + 1;
        }
        for (int r = 0; r < TSCHED_NRES; r++)
            used[h * TSCHED_NRES + r] += s[r];
        if (host_of)
            host_of[order[k]] = h;
    }
    rc = hosts;
out:
    free(order);
    free(used);
    free(hcap);
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
