/*
 * Day workloads: largest peak first, each onto one host for the whole day (services and
 * function pools never move). Hosts are scored on the day cut into blocks, the exact
 * per-slot fit is checked for the best.
 *
 * Workloads with the same curves (VMs of one flavour alive all day, say) are placed as
 * one class: every host is scored once for the class, and after each placement only
 * the host that took it is scored again; a host found too full for one of them stays
 * out for the rest, since loads only grow. Each gets the host it would get alone.
 */
#include "packer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double *sort_size; /* tsched_norm_size of each peak, computed once */
static const uint64_t *sort_hash;
static int cmp_day(const void *a, const void *b)
{
    int ia = *(const int *)a, ib = *(const int *)b;
    double x = sort_size[ia], y = sort_size[ib];
    if (x != y)
        return x > y ? -1 : 1;
    /* Equal curves side by side, so that they form a class. */
    if (sort_hash[ia] != sort_hash[ib])
        return sort_hash[ia] < sort_hash[ib] ? -1 : 1;
    return ia - ib;
}

/* FNV-1a over the curves' bytes: equal curves hash equal. */
static uint64_t curve_hash(const struct tsched_workload *w, int T)
{
    uint64_t h = 14695981039346656037ull;
    for (int r = 0; r < TSCHED_NRES; r++) {
        const unsigned char *b = (const unsigned char *)w->demand[r];
        for (size_t i = 0; i < (size_t)T * sizeof *w->demand[r]; i++)
            h = (h ^ b[i]) * 1099511628211ull;
    }
    return h;
}

static bool same_curves(const struct tsched_workload *x, const struct tsched_workload *y, int T)
{
    for (int r = 0; r < TSCHED_NRES; r++)
        if (memcmp(x->demand[r], y->demand[r], (size_t)T * sizeof *x->demand[r]))
            return false;
    return true;
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
    int h; /* -1: out for this class */
    double score;
};

/* What scoring a host for a class needs, computed once per class. */
struct day_class {
    const struct tsched_workload *w;
    int tpeak;                    /* the workload's own peak slot */
    double wb[NBLK][TSCHED_NRES]; /* its block maxima */
    double a[NBLK * TSCHED_NRES]; /* block maxima x block weights */
};

static void class_init(struct packer *k, const struct tsched_workload *w, struct day_class *dc)
{
    dc->w = w;
    memset(dc->wb, 0, sizeof dc->wb);
    dc->tpeak = 0;
    double best = -1;
    for (int t = 0; t < k->T; t++) {
        double v = 0;
        for (int r = 0; r < TSCHED_NRES; r++) {
            v = dmax(v, w->demand[r][t] / k->ref[r]);
            dc->wb[BLK(k, t)][r] = dmax(dc->wb[BLK(k, t)][r], w->demand[r][t]);
        }
        if (v > best)
            best = v, dc->tpeak = t;
    }
    for (int j = 0; j < NBLK * TSCHED_NRES; j++)
        dc->a[j] = k->bw[j] * dc->wb[j / TSCHED_NRES][j % TSCHED_NRES];
}

/* Best fit over the day: among the hosts it fits, the one left with the least room in
 * every block of the day and in both resources, so that day-heavy and night-heavy, CPU-
 * heavy and memory-heavy workloads share hosts instead of each stranding capacity.
 * False when the host has no room at the workload's peak. */
static bool host_score(struct packer *k, const struct day_class *dc, int h, double *score)
{
    const struct tsched_workload *w = dc->w;
    const double *l = L(k, h, dc->tpeak), *c = &k->cap[h * TSCHED_NRES];
    bool ok = true;
    for (int r = 0; r < TSCHED_NRES; r++)
        ok &= l[r] + w->demand[r][dc->tpeak] <= c[r] + TSCHED_EPS;
    if (!ok)
        return false;
    double sc = 0, inv[TSCHED_NRES];
    for (int r = 0; r < TSCHED_NRES; r++)
        inv[r] = 1.0 / c[r];
    const double *hb = &k->hblk[(size_t)h * NBLK * TSCHED_NRES], *wbf = &dc->wb[0][0];
    if (k->spread) {
        for (int j = 0; j < NBLK * TSCHED_NRES; j++) {
            int r = j % TSCHED_NRES;
            sc -= dc->a[j] * (c[r] - hb[j]) * inv[r] * inv[r]; /* alignment with free room */
        }
    } else {
        for (int j = 0; j < NBLK * TSCHED_NRES; j++) {
            int r = j % TSCHED_NRES;
            double f = (c[r] - hb[j] - wbf[j]) * inv[r]; /* room left after placing */
            sc += f > 0 ? k->bw[j] * f * f : 0;
        }
    }
    *score = sc;
    return true;
}

/* Places the class order[0..count); 1 if all fit, 0 if not. */
static int place_class(struct packer *k, const int *order, int count, struct day_cand *cand)
{
    struct day_class dc;
    class_init(k, &k->m->w[order[0]], &dc);
    for (int h = 0; h < k->n; h++) {
        cand[h].h = h;
        if (!host_score(k, &dc, h, &cand[h].score))
            cand[h].h = -1;
    }
    for (int i = 0; i < count; i++) {
        /* Best candidate first; usually it fits, so a selection beats sorting them all. */
        for (;;) {
            int bi = -1;
            for (int c = 0; c < k->n; c++)
                if (cand[c].h >= 0 && (bi < 0 || cand[c].score < cand[bi].score))
                    bi = c;
            if (bi < 0)
                return 0;
            int h = cand[bi].h;
            if (!day_fits(k, h, dc.w, dc.tpeak, dc.wb)) {
                cand[bi].h = -1;
                continue;
            }
            for (int t = 0; t < k->T; t++) {
                double req[TSCHED_NRES];
                for (int r = 0; r < TSCHED_NRES; r++)
                    req[r] = dc.w->demand[r][t];
                add(k, h, t, req);
            }
            k->p->day_host[order[i]] = h;
            if (!host_score(k, &dc, h, &cand[bi].score))
                cand[bi].h = -1;
            break;
        }
    }
    return 1;
}

int pack_days(struct packer *k, int *order, int nd)
{
    struct day_cand *cand = malloc(((size_t)k->n + 1) * sizeof *cand);
    uint64_t *hash = malloc(((size_t)k->m->nw + 1) * sizeof *hash);
    double *size = malloc(((size_t)k->m->nw + 1) * sizeof *size);
    int rc = -1;
    if (!cand || !hash || !size)
        goto out;
    for (int i = 0; i < nd; i++) {
        hash[order[i]] = curve_hash(&k->m->w[order[i]], k->T);
        size[order[i]] = tsched_norm_size(k->m->w[order[i]].peak, k->ref);
    }
    sort_size = size;
    sort_hash = hash;
    qsort(order, (size_t)nd, sizeof *order, cmp_day);
    block_weights(k, order, nd);
    rc = 1;
    for (int i = 0, j; i < nd && rc == 1; i = j) {
        for (j = i + 1; j < nd && hash[order[j]] == hash[order[i]] &&
                        same_curves(&k->m->w[order[i]], &k->m->w[order[j]], k->T);
             j++)
            ;
        rc = place_class(k, &order[i], j - i, cand);
    }
out:
    free(cand);
    free(hash);
    free(size);
    return rc;
}
