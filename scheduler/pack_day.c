/*
 * Day workloads: largest peak first, each onto one host for the whole day (services and
 * function pools never move). Hosts are scored on the day cut into blocks, the exact
 * per-slot fit is checked for the best.
 */
#include "packer.h"

#include <math.h>
#include <stdlib.h>

static const struct tsched_model *sort_m;
static const double *sort_ref;
static int cmp_day(const void *a, const void *b)
{
    double x = tsched_norm_size(sort_m->w[*(const int *)a].peak, sort_ref);
    double y = tsched_norm_size(sort_m->w[*(const int *)b].peak, sort_ref);
    if (x != y)
        return x > y ? -1 : 1;
    return *(const int *)a - *(const int *)b;
}

static bool day_fits(struct packer *k, int h, const struct tsched_workload *w, int tpeak,
                     double wb[][TSCHED_NRES])
{
    const double *c = &k->cap[h * TSCHED_NRES];
    bool easy = true;
    for (int r = 0; r < TSCHED_NRES; r++)
        easy &= k->hmax[h * TSCHED_NRES + r] + w->peak[r] <= c[r] + TSCHED_EPS;
    if (easy)
        return true;
    /* The workload's own peak is where it most likely fails: test it first. */
    const double *l = L(k, h, tpeak);
    for (int r = 0; r < TSCHED_NRES; r++)
        if (l[r] + w->demand[r][tpeak] > c[r] + TSCHED_EPS)
            return false;
    /* Blocks whose maxima fit need no slot-by-slot look. */
    for (int b = 0; b < NBLK; b++) {
        const double *hb = &k->hblk[((size_t)h * NBLK + b) * TSCHED_NRES];
        bool blk = true;
        for (int r = 0; r < TSCHED_NRES; r++)
            blk &= hb[r] + wb[b][r] <= c[r] + TSCHED_EPS;
        if (blk)
            continue;
        int t0 = (int)(((long)b * k->T + NBLK - 1) / NBLK),
            t1 = (int)(((long)(b + 1) * k->T + NBLK - 1) / NBLK);
        for (int t = t0; t < t1; t++) {
            l = L(k, h, t);
            for (int r = 0; r < TSCHED_NRES; r++)
                if (l[r] + w->demand[r][t] > c[r] + TSCHED_EPS)
                    return false;
        }
    }
    return true;
}

/* Room left matters where the fleet peaks: the host count is set there. A block's weight
 * is its summed day demand relative to the busiest block's, to the 4th power, so the
 * peak hours dominate and quiet hours only break ties. */
static void block_weights(struct packer *k, const int *order, int nd)
{
    double agg[NBLK * TSCHED_NRES] = {0}, mx[TSCHED_NRES] = {0};
    double *slot = calloc((size_t)k->T * TSCHED_NRES, sizeof *slot);
    for (int i = 0; slot && i < nd; i++)
        for (int t = 0; t < k->T; t++)
            for (int r = 0; r < TSCHED_NRES; r++)
                slot[t * TSCHED_NRES + r] += k->m->w[order[i]].demand[r][t];
    for (int t = 0; slot && t < k->T; t++)
        for (int r = 0; r < TSCHED_NRES; r++) {
            double *a = &agg[BLK(k, t) * TSCHED_NRES + r];
            *a = dmax(*a, slot[t * TSCHED_NRES + r]);
            mx[r] = dmax(mx[r], *a);
        }
    free(slot);
    for (int b = 0; b < NBLK; b++)
        for (int r = 0; r < TSCHED_NRES; r++) {
            double x = mx[r] > 0 ? agg[b * TSCHED_NRES + r] / mx[r] : 1;
            k->bw[b * TSCHED_NRES + r] = x * x * x * x;
        }
}

struct day_cand {
    int h;
    double score;
};

/* Best fit over the day: among the hosts it fits, the one left with the least room in
 * every block of the day and in both resources, so that day-heavy and night-heavy, CPU-
 * heavy and memory-heavy workloads share hosts instead of each stranding capacity. */
static int place_day(struct packer *k, int wi, struct day_cand *cand)
{
    const struct tsched_workload *w = &k->m->w[wi];
    double wb[NBLK][TSCHED_NRES] = {{0}};
    int tpeak = 0;
    double best = -1;
    for (int t = 0; t < k->T; t++) {
        double v = 0;
        for (int r = 0; r < TSCHED_NRES; r++) {
            v = dmax(v, w->demand[r][t] / k->ref[r]);
            wb[BLK(k, t)][r] = dmax(wb[BLK(k, t)][r], w->demand[r][t]);
        }
        if (v > best)
            best = v, tpeak = t;
    }
    /* The weighted demand per block, computed once for every host's score. */
    double a[NBLK * TSCHED_NRES], *wbf = &wb[0][0];
    for (int j = 0; j < NBLK * TSCHED_NRES; j++)
        a[j] = k->bw[j] * wbf[j];
    int nc = 0;
    for (int h = 0; h < k->n; h++) {
        const double *l = L(k, h, tpeak), *c = &k->cap[h * TSCHED_NRES];
        bool ok = true;
        for (int r = 0; r < TSCHED_NRES; r++)
            ok &= l[r] + w->demand[r][tpeak] <= c[r] + TSCHED_EPS;
        if (!ok)
            continue;
        double sc = 0, inv[TSCHED_NRES];
        for (int r = 0; r < TSCHED_NRES; r++)
            inv[r] = 1.0 / c[r];
        const double *hb = &k->hblk[(size_t)h * NBLK * TSCHED_NRES];
        if (k->spread) {
            for (int j = 0; j < NBLK * TSCHED_NRES; j++) {
                int r = j % TSCHED_NRES;
                sc -= a[j] * (c[r] - hb[j]) * inv[r] * inv[r]; /* alignment with free room */
            }
        } else {
            for (int j = 0; j < NBLK * TSCHED_NRES; j++) {
                int r = j % TSCHED_NRES;
                double f = (c[r] - hb[j] - wbf[j]) * inv[r]; /* room left after placing */
                sc += f > 0 ? k->bw[j] * f * f : 0;
            }
        }
        cand[nc++] = (struct day_cand){.h = h, .score = sc};
    }
    /* Best candidate first; usually it fits, so a selection beats sorting them all. */
    for (int tries = 0; tries < nc; tries++) {
        int bi = -1;
        for (int i = 0; i < nc; i++)
            if (cand[i].h >= 0 && (bi < 0 || cand[i].score < cand[bi].score))
                bi = i;
        int h = cand[bi].h;
        cand[bi].h = -1;
        if (!day_fits(k, h, w, tpeak, wb))
            continue;
        for (int t = 0; t < k->T; t++) {
            double req[TSCHED_NRES];
            for (int r = 0; r < TSCHED_NRES; r++)
                req[r] = w->demand[r][t];
            add(k, h, t, req);
        }
        k->p->day_host[wi] = h;
        return 1;
    }
    return 0;
}

int pack_days(struct packer *k, int *order, int nd)
{
    struct day_cand *cand = malloc(((size_t)k->n + 1) * sizeof *cand);
    if (!cand)
        return -1;
    sort_m = k->m;
    sort_ref = k->ref;
    qsort(order, (size_t)nd, sizeof *order, cmp_day);
    block_weights(k, order, nd);
    int rc = 1;
    for (int i = 0; i < nd && rc == 1; i++)
        if (!place_day(k, order[i], cand))
            rc = 0;
    free(cand);
    return rc;
}
