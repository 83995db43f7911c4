/*
 * One packing attempt on a fixed fleet of n hosts.
 *
 * Day workloads go first, first-fit decreasing on their whole curves: each stays on one
 * host all day, so services and function pools never move. Batch workloads then fill
 * what is left, most constrained first (least slack in their window), each where the
 * fleet is emptiest over its run ("valley filling"): preferably one contiguous run on
 * one host, else (if suspendable) in pieces, preferring to resume where it stopped.
 */
#include "pack.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct packer {
    const struct tsched_model *m;
    struct tsched_plan *p;
    int n, T;
    double *cap;     /* [host][res] */
    double *hmax;    /* [host][res]: the host's highest load over the day */
    double *agg;     /* [slot][res] summed over hosts */
    double *maxfree; /* [slot][res]: most room any host has; a cheap necessary test */
    double fleet[TSCHED_NRES];
    double *score; /* per window offset */
    int *cand, *pick;
};

static inline double *L(struct packer *k, int h, int t)
{
    return &k->p->load[((size_t)h * k->T + t) * TSCHED_NRES];
}

static inline bool fits(struct packer *k, int h, int t, const double *req)
{
    const double *l = L(k, h, t), *c = &k->cap[h * TSCHED_NRES];
    for (int r = 0; r < TSCHED_NRES; r++)
        if (l[r] + req[r] > c[r] + TSCHED_EPS)
            return false;
    return true;
}

static inline bool room_somewhere(struct packer *k, int t, const double *req)
{
    for (int r = 0; r < TSCHED_NRES; r++)
        if (k->maxfree[t * TSCHED_NRES + r] + TSCHED_EPS < req[r])
            return false;
    return true;
}

static void refresh_maxfree(struct packer *k, int t)
{
    for (int r = 0; r < TSCHED_NRES; r++) {
        double best = 0;
        for (int h = 0; h < k->n; h++)
            best = fmax(best, k->cap[h * TSCHED_NRES + r] - L(k, h, t)[r]);
        k->maxfree[t * TSCHED_NRES + r] = best;
    }
}

static void add(struct packer *k, int h, int t, const double *req)
{
    double *l = L(k, h, t);
    for (int r = 0; r < TSCHED_NRES; r++) {
        l[r] += req[r];
        k->agg[t * TSCHED_NRES + r] += req[r];
        k->hmax[h * TSCHED_NRES + r] = fmax(k->hmax[h * TSCHED_NRES + r], l[r]);
    }
}

/* How full the fleet is in slot t, by its scarcest resource. */
static double fullness(struct packer *k, int t)
{
    double f = 0;
    for (int r = 0; r < TSCHED_NRES; r++)
        f = fmax(f, k->agg[t * TSCHED_NRES + r] / k->fleet[r]);
    return f;
}

/* ---- day workloads ---- */

static const struct tsched_model *sort_m;
static double sort_ref[TSCHED_NRES];
static int cmp_day(const void *a, const void *b)
{
    double x = tsched_norm_size(sort_m->w[*(const int *)a].peak, sort_ref);
    double y = tsched_norm_size(sort_m->w[*(const int *)b].peak, sort_ref);
    if (x != y)
        return x > y ? -1 : 1;
    return *(const int *)a - *(const int *)b;
}

static bool day_fits(struct packer *k, int h, const struct tsched_workload *w, int tpeak)
{
    const double *c = &k->cap[h * TSCHED_NRES];
    bool easy = true;
    for (int r = 0; r < TSCHED_NRES; r++)
        easy &= k->hmax[h * TSCHED_NRES + r] + w->peak[r] <= c[r] + TSCHED_EPS;
    if (easy)
        return true;
    /* The workload's own peak is where it most likely fails: test it first. */
    for (int i = -1; i < k->T; i++) {
        int t = i < 0 ? tpeak : i;
        const double *l = L(k, h, t);
        for (int r = 0; r < TSCHED_NRES; r++)
            if (l[r] + w->demand[r][t] > c[r] + TSCHED_EPS)
                return false;
    }
    return true;
}

static int place_day(struct packer *k, int wi)
{
    const struct tsched_workload *w = &k->m->w[wi];
    int tpeak = 0;
    double best = -1;
    for (int t = 0; t < k->T; t++) {
        double v = 0;
        for (int r = 0; r < TSCHED_NRES; r++)
            v = fmax(v, w->demand[r][t] / sort_ref[r]);
        if (v > best)
            best = v, tpeak = t;
    }
    for (int h = 0; h < k->n; h++) {
        if (!day_fits(k, h, w, tpeak))
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

/* ---- batch workloads ---- */

static int cmp_batch(const void *a, const void *b)
{
    const struct tsched_workload *x = &sort_m->w[*(const int *)a];
    const struct tsched_workload *y = &sort_m->w[*(const int *)b];
    int sx = x->win_len - tsched_batch_slots_needed(sort_m, x, 1, 0);
    int sy = y->win_len - tsched_batch_slots_needed(sort_m, y, 1, 0);
    if (x->suspendable != y->suspendable)
        return x->suspendable ? 1 : -1;
    if (sx != sy)
        return sx - sy;
    double zx = tsched_norm_size(x->req, sort_ref), zy = tsched_norm_size(y->req, sort_ref);
    if (zx != zy)
        return zx > zy ? -1 : 1;
    return *(const int *)a - *(const int *)b;
}

static const double *cand_score;
static int cmp_cand(const void *a, const void *b)
{
    double x = cand_score[*(const int *)a], y = cand_score[*(const int *)b];
    if (x != y)
        return x < y ? -1 : 1;
    return *(const int *)a - *(const int *)b;
}

static void commit_run(struct packer *k, int wi, int off, int len, int h)
{
    const struct tsched_workload *w = &k->m->w[wi];
    int *run = &k->p->run_host[k->p->run_off[wi]];
    for (int o = off; o < off + len; o++) {
        int t = (w->win_start + o) % k->T;
        run[o] = h;
        add(k, h, t, w->req);
        refresh_maxfree(k, t);
    }
}

/* One run of `need` slots on one host, where the fleet is emptiest. */
static bool place_contiguous(struct packer *k, int wi)
{
    const struct tsched_workload *w = &k->m->w[wi];
    int need = tsched_batch_slots_needed(k->m, w, 1, 0), W = w->win_len, nc = 0;
    double *pre = k->score; /* prefix sums of fullness over the window */
    pre[0] = 0;
    for (int o = 0; o < W; o++)
        pre[o + 1] = pre[o] + fullness(k, (w->win_start + o) % k->T);
    for (int o = 0; o + need <= W; o++) {
        k->pick[o] = o;
        nc++;
    }
    /* score of start o = pre[o+need] - pre[o]; stored past the prefix array. */
    double *sc = pre + W + 1;
    for (int o = 0; o < nc; o++)
        sc[o] = pre[o + need] - pre[o];
    cand_score = sc;
    qsort(k->pick, (size_t)nc, sizeof *k->pick, cmp_cand);
    for (int c = 0; c < nc; c++) {
        int o = k->pick[c];
        bool room = true;
        for (int i = 0; i < need && room; i++)
            room = room_somewhere(k, (w->win_start + o + i) % k->T, w->req);
        if (!room)
            continue;
        for (int h = 0; h < k->n; h++) {
            int i = 0;
            while (i < need && fits(k, h, (w->win_start + o + i) % k->T, w->req))
                i++;
            if (i == need) {
                commit_run(k, wi, o, need, h);
                return true;
            }
        }
    }
    return false;
}

static void count_runs(const int *run, int W, int *segs, int *moves, int *slots)
{
    *segs = *moves = *slots = 0;
    for (int o = 0; o < W; o++) {
        if (run[o] < 0)
            continue;
        (*slots)++;
        if (o == 0 || run[o - 1] < 0)
            (*segs)++;
        else if (run[o - 1] != run[o])
            (*moves)++;
    }
}

/* Suspendable work in pieces: emptiest slots first, staying on a neighbour's host when
 * it has room so that a resume does not become a move. */
static bool place_pieces(struct packer *k, int wi)
{
    const struct tsched_workload *w = &k->m->w[wi];
    int W = w->win_len;
    int *run = &k->p->run_host[k->p->run_off[wi]];
    double *sc = k->score;
    for (int o = 0; o < W; o++) {
        k->pick[o] = o;
        sc[o] = fullness(k, (w->win_start + o) % k->T);
        run[o] = -1;
    }
    cand_score = sc;
    qsort(k->pick, (size_t)W, sizeof *k->pick, cmp_cand);
    for (int c = 0; c < W; c++) {
        int o = k->pick[c], t = (w->win_start + o) % k->T;
        if (!room_somewhere(k, t, w->req))
            continue;
        int h = -1;
        if (o > 0 && run[o - 1] >= 0 && fits(k, run[o - 1], t, w->req))
            h = run[o - 1];
        else if (o + 1 < W && run[o + 1] >= 0 && fits(k, run[o + 1], t, w->req))
            h = run[o + 1];
        for (int g = 0; h < 0 && g < k->n; g++)
            if (fits(k, g, t, w->req))
                h = g;
        if (h < 0)
            continue;
        run[o] = h;
        int segs, moves, slots;
        count_runs(run, W, &segs, &moves, &slots);
        if (slots >= tsched_batch_slots_needed(k->m, w, segs, moves)) {
            for (int q = 0; q < W; q++)
                if (run[q] >= 0) {
                    int hq = run[q];
                    run[q] = -1; /* commit_run sets it again */
                    commit_run(k, wi, q, 1, hq);
                }
            return true;
        }
    }
    for (int o = 0; o < W; o++)
        run[o] = -1;
    return false;
}

int tsched_pack(const struct tsched_model *m, int n, struct tsched_plan *p, struct tsched_err *err)
{
    int T = m->nslots, rc = -1;
    struct packer k = {.m = m, .p = p, .n = n, .T = T};
    k.cap = malloc((size_t)n * TSCHED_NRES * sizeof *k.cap);
    k.hmax = calloc((size_t)n * TSCHED_NRES, sizeof *k.hmax);
    k.agg = calloc((size_t)T * TSCHED_NRES, sizeof *k.agg);
    k.maxfree = malloc((size_t)T * TSCHED_NRES * sizeof *k.maxfree);
    k.score = malloc((2 * (size_t)T + 2) * sizeof *k.score);
    k.pick = malloc(((size_t)T + 1) * sizeof *k.pick);
    int *order = malloc(((size_t)m->nw + 1) * sizeof *order);
    if (!k.cap || !k.hmax || !k.agg || !k.maxfree || !k.score || !k.pick || !order) {
        tsched_errf(err, "out of memory packing %d hosts", n);
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
    sort_m = m;
    for (int r = 0; r < TSCHED_NRES; r++)
        sort_ref[r] = m->types[0].cap[r];

    int nd = 0, nb = 0;
    for (int i = 0; i < m->nw; i++)
        if (m->w[i].kind != TSCHED_BATCH)
            order[nd++] = i;
    qsort(order, (size_t)nd, sizeof *order, cmp_day);
    for (int i = 0; i < nd; i++)
        if (!place_day(&k, order[i])) {
            rc = 0;
            goto out;
        }

    for (int t = 0; t < T; t++)
        refresh_maxfree(&k, t);
    for (int i = 0; i < m->nw; i++)
        if (m->w[i].kind == TSCHED_BATCH)
            order[nb++] = i;
    qsort(order, (size_t)nb, sizeof *order, cmp_batch);
    for (int i = 0; i < nb; i++) {
        int wi = order[i];
        if (place_contiguous(&k, wi))
            continue;
        if (m->w[wi].suspendable && place_pieces(&k, wi))
            continue;
        rc = 0;
        goto out;
    }
    rc = 1;
out:
    free(k.cap);
    free(k.hmax);
    free(k.agg);
    free(k.maxfree);
    free(k.score);
    free(k.pick);
    free(order);
    return rc;
}
