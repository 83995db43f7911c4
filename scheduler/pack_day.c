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
    int h;
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
 * heavy and memory-heavy workloads share hosts instead of each stranding capacity. */
static bool peak_fits(struct packer *k, const struct day_class *dc, int h)
{
    const double *l = L(k, h, dc->tpeak), *c = &k->cap[h * TSCHED_NRES];
    bool ok = true;
    for (int r = 0; r < TSCHED_NRES; r++)
        ok &= l[r] + dc->w->demand[r][dc->tpeak] <= c[r] + TSCHED_EPS;
    return ok;
}

/* The scores of hosts hs[0..cnt) (cnt <= SCORE_WAY) side by side: each host's sum runs
 * in the same order as alone (the same value), but the hosts' chains of additions
 * overlap instead of waiting on each other. */
#define SCORE_WAY 4
static void host_scores(struct packer *k, const struct day_class *dc, const int *hs, int cnt,
                        double *score)
{
    double sc[SCORE_WAY] = {0}, inv[SCORE_WAY][TSCHED_NRES];
    const double *c[SCORE_WAY], *hb[SCORE_WAY], *wbf = &dc->wb[0][0];
    for (int u = 0; u < SCORE_WAY; u++) {
        int h = hs[u < cnt ? u : 0];
        c[u] = &k->cap[h * TSCHED_NRES];
        hb[u] = &k->hblk[(size_t)h * NBLK * TSCHED_NRES];
        for (int r = 0; r < TSCHED_NRES; r++)
            inv[u][r] = 1.0 / c[u][r];
    }
    if (k->spread) {
        for (int j = 0; j < NBLK * TSCHED_NRES; j++) {
            int r = j % TSCHED_NRES;
            for (int u = 0; u < SCORE_WAY; u++) /* alignment with free room */
                sc[u] -= dc->a[j] * (c[u][r] - hb[u][j]) * inv[u][r] * inv[u][r];
        }
    } else {
        for (int j = 0; j < NBLK * TSCHED_NRES; j++) {
            int r = j % TSCHED_NRES;
            for (int u = 0; u < SCORE_WAY; u++) {
                double f = (c[u][r] - hb[u][j] - wbf[j]) * inv[u][r]; /* room left after */
                sc[u] += f > 0 ? k->bw[j] * f * f : 0;
            }
        }
    }
    for (int u = 0; u < cnt; u++)
        score[u] = sc[u];
}

/* False when the host has no room at the workload's peak. */
static bool host_score(struct packer *k, const struct day_class *dc, int h, double *score)
{
    if (!peak_fits(k, dc, h))
        return false;
    host_scores(k, dc, &h, 1, score);
    return true;
}

/* Candidates as a binary heap, best (lowest score, then lowest host) on top: the host
 * chosen is always the top, so a rejection pops it and a placement rescores it in place.
 * A scan for the best after every rejection made consolidating day packing quadratic. */
static bool cand_before(const struct day_cand *a, const struct day_cand *b)
{
    return a->score < b->score || (a->score == b->score && a->h < b->h);
}

static void sift_down(struct day_cand *heap, int len, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < len && cand_before(&heap[l], &heap[m]))
            m = l;
        if (r < len && cand_before(&heap[r], &heap[m]))
            m = r;
        if (m == i)
            return;
        struct day_cand tmp = heap[i];
        heap[i] = heap[m];
        heap[m] = tmp;
        i = m;
    }
}

/* Places the class order[0..count); 1 if all fit, 0 if not. */
static int place_class(struct packer *k, const int *order, int count, struct day_cand *heap)
{
    struct day_class dc;
    class_init(k, &k->m->w[order[0]], &dc);
    /* Only hosts with room at the workload's peak are scored (on a fleet packed to its
     * peaks, most are not). */
    int len = 0;
    for (int h = 0; h < k->n; h++)
        if (peak_fits(k, &dc, h))
            heap[len++].h = h;
    for (int i = 0; i < len; i += SCORE_WAY) {
        int cnt = len - i < SCORE_WAY ? len - i : SCORE_WAY, hs[SCORE_WAY];
        double sc[SCORE_WAY];
        for (int u = 0; u < cnt; u++)
            hs[u] = heap[i + u].h;
        host_scores(k, &dc, hs, cnt, sc);
        for (int u = 0; u < cnt; u++)
            heap[i + u].score = sc[u];
    }
    for (int i = len / 2 - 1; i >= 0; i--)
        sift_down(heap, len, i);
    for (int i = 0; i < count; i++) {
        for (;;) {
            if (len == 0)
                return 0;
            int h = heap[0].h;
            if (!day_fits(k, h, dc.w, dc.tpeak, dc.wb)) {
                heap[0] = heap[--len];
                sift_down(heap, len, 0);
                continue;
            }
            for (int t = 0; t < k->T; t++) {
                double req[TSCHED_NRES];
                for (int r = 0; r < TSCHED_NRES; r++)
                    req[r] = dc.w->demand[r][t];
                add(k, h, t, req);
            }
            k->p->day_host[order[i]] = h;
            if (!host_score(k, &dc, h, &heap[0].score))
                heap[0] = heap[--len];
            sift_down(heap, len, 0);
            break;
        }
    }
    return 1;
}

/* The day order and classes, and the block weights (all independent of the fleet). */
static int prepare(struct packer *k, int *order, int nd, struct pack_prep *pp)
{
    uint64_t *hash = malloc(((size_t)k->m->nw + 1) * sizeof *hash);
    double *size = malloc(((size_t)k->m->nw + 1) * sizeof *size);
    pp->day_order = malloc(((size_t)nd + 1) * sizeof *pp->day_order);
    pp->class_end = malloc(((size_t)nd + 1) * sizeof *pp->class_end);
    pp->bw = malloc(NBLK * TSCHED_NRES * sizeof *pp->bw);
    int rc = -1;
    if (!hash || !size || !pp->day_order || !pp->class_end || !pp->bw)
        goto out;
    for (int i = 0; i < nd; i++) {
        hash[order[i]] = curve_hash(&k->m->w[order[i]], k->T);
        size[order[i]] = tsched_norm_size(k->m->w[order[i]].peak, k->ref);
    }
    sort_size = size;
    sort_hash = hash;
    qsort(order, (size_t)nd, sizeof *order, cmp_day);
    block_weights(k, order, nd);
    memcpy(pp->day_order, order, (size_t)nd * sizeof *order);
    memcpy(pp->bw, k->bw, sizeof k->bw);
    pp->nd = nd;
    pp->nclass = 0;
    for (int i = 0, j; i < nd; i = j) {
        for (j = i + 1; j < nd && hash[order[j]] == hash[order[i]] &&
                        same_curves(&k->m->w[order[i]], &k->m->w[order[j]], k->T);
             j++)
            ;
        pp->class_end[pp->nclass++] = j;
    }
    pp->ready = true;
    rc = 0;
out:
    free(hash);
    free(size);
    return rc;
}

int pack_days(struct packer *k, int *order, int nd)
{
    struct pack_prep local = {0}, *pp = k->prep ? k->prep : &local;
    struct day_cand *cand = malloc(((size_t)k->n + 1) * sizeof *cand);
    int rc = -1;
    if (!cand)
        goto out;
    if (!pp->ready && prepare(k, order, nd, pp) < 0) {
        pack_prep_free(pp);
        goto out;
    }
    memcpy(order, pp->day_order, (size_t)nd * sizeof *order);
    memcpy(k->bw, pp->bw, sizeof k->bw);
    rc = 1;
    for (int c = 0, i = 0; c < pp->nclass && rc == 1; i = pp->class_end[c++])
        rc = place_class(k, &order[i], pp->class_end[c] - i, cand);
out:
    free(cand);
    pack_prep_free(&local);
    return rc;
}
