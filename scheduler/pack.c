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

/* Day placement scores hosts on the day cut into NBLK blocks (hourly maxima): cheap
 * enough to score every host for every workload, fine enough to see complementary
 * shapes (a night-heavy curve next to a day-heavy one). */
#define NBLK 24
#define BLK(k, t) ((int)((long)(t)*NBLK / (k)->T))

struct packer {
    const struct tsched_model *m;
    bool spread; /* host choice: spread by alignment, or consolidate by best fit */
    int levels;  /* contention levels ordering the batch jobs (coarser: size counts more) */
    struct tsched_plan *p;
    int n, T;
    double *cap;  /* [host][res] */
    double *hmax; /* [host][res]: the host's highest load over the day */
    double *hblk; /* [host][block][res]: highest load in each of NBLK parts of the day */
    double bw[NBLK * TSCHED_NRES]; /* weight of a block: how close the fleet is to its peak */
    double *agg;                   /* [slot][res] summed over hosts */
    double *maxfree;               /* [slot][res]: most room any host has; a cheap necessary test */
    double *pres; /* [slot][res]: batch work not yet placed, spread over its window */
    double fleet[TSCHED_NRES];
    double *score; /* per window offset */
    int *cand, *pick;
};

/* fmax() is a libm call here; the hot loops want a plain compare. */
static inline double dmax(double a, double b)
{
    return a > b ? a : b;
}

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
            best = dmax(best, k->cap[h * TSCHED_NRES + r] - L(k, h, t)[r]);
        k->maxfree[t * TSCHED_NRES + r] = best;
    }
}

static void add(struct packer *k, int h, int t, const double *req)
{
    double *l = L(k, h, t);
    for (int r = 0; r < TSCHED_NRES; r++) {
        l[r] += req[r];
        k->agg[t * TSCHED_NRES + r] += req[r];
        k->hmax[h * TSCHED_NRES + r] = dmax(k->hmax[h * TSCHED_NRES + r], l[r]);
        double *b = &k->hblk[((size_t)h * NBLK + BLK(k, t)) * TSCHED_NRES + r];
        *b = dmax(*b, l[r]);
    }
}

/* What running `req` in slot t costs: the fleet's fullness in each resource, weighted
 * by how much of that resource the job takes. A memory-heavy job thus prefers the
 * slots where memory is free even if CPU is not, and the other way round. Fullness
 * counts the batch work still to place as if spread evenly over its window, so a job
 * with a wide window leaves the slots that narrower windows will need. */
static double slot_cost(struct packer *k, int t, const double *req)
{
    double c = 0;
    for (int r = 0; r < TSCHED_NRES; r++)
        c += req[r] / k->cap[r] * (k->agg[t * TSCHED_NRES + r] + k->pres[t * TSCHED_NRES + r]) /
             k->fleet[r];
    return c;
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
            v = dmax(v, w->demand[r][t] / sort_ref[r]);
            wb[BLK(k, t)][r] = dmax(wb[BLK(k, t)][r], w->demand[r][t]);
        }
        if (v > best)
            best = v, tpeak = t;
    }
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
        for (int b = 0; b < NBLK; b++)
            for (int r = 0; r < TSCHED_NRES; r++) {
                double room = c[r] - hb[b * TSCHED_NRES + r], d = wb[b][r];
                double bw = k->bw[b * TSCHED_NRES + r];
                if (k->spread) {
                    sc -= bw * d * room * inv[r] * inv[r]; /* alignment with free room */
                } else {
                    double f = (room - d) * inv[r]; /* room left after placing */
                    sc += f > 0 ? bw * f * f : 0;
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

/* ---- batch workloads ---- */

/* Adds (sign +1) or removes (-1) a job's evenly spread share of its window. */
static void spread_work(struct packer *k, const struct tsched_workload *w, double sign)
{
    double f = sign * tsched_batch_slots_needed(k->m, w, 1, 0) / w->win_len;
    for (int o = 0; o < w->win_len; o++) {
        int t = (w->win_start + o) % k->T;
        for (int r = 0; r < TSCHED_NRES; r++)
            k->pres[t * TSCHED_NRES + r] += f * w->req[r];
    }
}

static const double *sort_key;
static int cmp_batch(const void *a, const void *b)
{
    const struct tsched_workload *x = &sort_m->w[*(const int *)a];
    const struct tsched_workload *y = &sort_m->w[*(const int *)b];
    if (x->suspendable != y->suspendable)
        return x->suspendable ? 1 : -1;
    double kx = sort_key[*(const int *)a], ky = sort_key[*(const int *)b];
    if (kx != ky)
        return kx > ky ? -1 : 1;
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

/* Host choice, lower is better. Spreading: the host whose free room best aligns with
 * the job's shape (dot product), which keeps CPU-heavy and memory-heavy work sharing
 * hosts instead of each stranding the other resource. Consolidating: best fit, the host
 * left with the least room in both resources, which keeps whole hosts free for big
 * jobs. Neither wins everywhere, so the planner's portfolio tries both (first fit
 * stranded ~15% of the fleet on the trace scenario). */
static double leftover(struct packer *k, int h, int t, const double *req)
{
    const double *l = L(k, h, t), *c = &k->cap[h * TSCHED_NRES];
    double s = 0;
    for (int r = 0; r < TSCHED_NRES; r++) {
        if (k->spread) {
            s -= req[r] / c[r] * (c[r] - l[r]) / c[r];
        } else {
            double f = (c[r] - l[r] - req[r]) / c[r];
            s += f * f;
        }
    }
    return s;
}

/* One run of `need` slots on one host, where the fleet is emptiest. */
static bool place_contiguous(struct packer *k, int wi)
{
    const struct tsched_workload *w = &k->m->w[wi];
    int need = tsched_batch_slots_needed(k->m, w, 1, 0), W = w->win_len, nc = 0;
    double *pre = k->score; /* prefix sums of fullness over the window */
    pre[0] = 0;
    for (int o = 0; o < W; o++)
        pre[o + 1] = pre[o] + slot_cost(k, (w->win_start + o) % k->T, w->req);
    for (int o = 0; o + need <= W; o++) {
        k->pick[o] = o;
        nc++;
    }
    /* score of start o = pre[o+need] - pre[o]; stored past the prefix array. */
    double *sc = pre + W + 1;
    for (int o = 0; o < nc; o++)
        sc[o] = pre[o + need] - pre[o];
    /* The cheapest start usually works: pick the first few by selection and sort the
     * rest only when they fail (sorting every job's candidates cost ~15% of a plan). */
    const int lazy = 8;
    for (int c = 0; c < nc; c++) {
        int o;
        if (c < lazy) {
            o = -1;
            for (int q = 0; q < nc; q++)
                if (sc[q] < INFINITY && (o < 0 || sc[q] < sc[o]))
                    o = q;
            if (o < 0)
                break;
            sc[o] = INFINITY; /* used */
        } else {
            if (c == lazy) {
                cand_score = sc;
                qsort(k->pick, (size_t)nc, sizeof *k->pick, cmp_cand);
            }
            o = k->pick[c - lazy];
            if (sc[o] == INFINITY)
                break; /* the rest were tried in the lazy phase */
        }
        bool room = true;
        for (int i = 0; i < need && room; i++)
            room = room_somewhere(k, (w->win_start + o + i) % k->T, w->req);
        if (!room)
            continue;
        int best = -1;
        double best_left = INFINITY;
        for (int h = 0; h < k->n; h++) {
            double left = 0;
            int i = 0;
            for (; i < need; i++) {
                int t = (w->win_start + o + i) % k->T;
                if (!fits(k, h, t, w->req))
                    break;
                left += leftover(k, h, t, w->req);
            }
            if (i == need && left < best_left)
                best = h, best_left = left;
        }
        if (best >= 0) {
            commit_run(k, wi, o, need, best);
            return true;
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
        sc[o] = slot_cost(k, (w->win_start + o) % k->T, w->req);
        run[o] = -1;
    }
    cand_score = sc;
    qsort(k->pick, (size_t)W, sizeof *k->pick, cmp_cand);
    for (int c = 0; c < W; c++) {
        int o = k->pick[c], t = (w->win_start + o) % k->T;
        if (!room_somewhere(k, t, w->req))
            continue;
        int h = -1, hb = -1;
        if (o > 0 && run[o - 1] >= 0 && fits(k, run[o - 1], t, w->req))
            h = run[o - 1];
        else if (o + 1 < W && run[o + 1] >= 0 && fits(k, run[o + 1], t, w->req))
            h = run[o + 1];
        double best_left = INFINITY;
        for (int g = 0; h < 0 && g < k->n; g++)
            if (fits(k, g, t, w->req) && leftover(k, g, t, w->req) < best_left)
                best_left = leftover(k, g, t, w->req), hb = g;
        if (h < 0)
            h = hb;
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

int tsched_pack(const struct tsched_model *m, int n, bool spread, int levels, struct tsched_plan *p,
                struct tsched_err *err)
{
    int T = m->nslots, rc = -1;
    struct packer k = {.m = m, .p = p, .n = n, .T = T, .spread = spread, .levels = levels};
    k.cap = malloc((size_t)n * TSCHED_NRES * sizeof *k.cap);
    k.hmax = calloc((size_t)n * TSCHED_NRES, sizeof *k.hmax);
    k.hblk = calloc((size_t)n * NBLK * TSCHED_NRES, sizeof *k.hblk);
    struct day_cand *cand = malloc((size_t)n * sizeof *cand);
    k.agg = calloc((size_t)T * TSCHED_NRES, sizeof *k.agg);
    k.maxfree = malloc((size_t)T * TSCHED_NRES * sizeof *k.maxfree);
    k.pres = calloc((size_t)T * TSCHED_NRES, sizeof *k.pres);
    k.score = malloc((2 * (size_t)T + 2) * sizeof *k.score);
    k.pick = malloc(((size_t)T + 1) * sizeof *k.pick);
    int *order = malloc(((size_t)m->nw + 1) * sizeof *order);
    double *key = malloc(((size_t)m->nw + 1) * sizeof *key);
    if (!k.cap || !k.hmax || !k.hblk || !cand || !k.agg || !k.maxfree || !k.pres || !k.score ||
        !k.pick || !order || !key) {
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
    block_weights(&k, order, nd);
    for (int i = 0; i < nd; i++)
        if (!place_day(&k, order[i], cand)) {
            rc = 0;
            goto out;
        }

    for (int t = 0; t < T; t++)
        refresh_maxfree(&k, t);
    for (int i = 0; i < m->nw; i++)
        if (m->w[i].kind == TSCHED_BATCH)
            order[nb++] = i;
    for (int i = 0; i < nb; i++)
        spread_work(&k, &m->w[order[i]], 1);
    /* Hardest first: the jobs whose windows are the most contended, counting the day
     * and all batch work spread over its windows; within a contention level, big ones. */
    for (int i = 0; i < nb; i++) {
        const struct tsched_workload *w = &m->w[order[i]];
        double sum = 0;
        for (int o = 0; o < w->win_len; o++) {
            int t = (w->win_start + o) % T;
            double f = 0;
            for (int r = 0; r < TSCHED_NRES; r++)
                f = dmax(f,
                         (k.agg[t * TSCHED_NRES + r] + k.pres[t * TSCHED_NRES + r]) / k.fleet[r]);
            sum += f;
        }
        /* Coarse levels, so that size still orders jobs of similar contention. */
        key[order[i]] = floor(sum / w->win_len * k.levels);
    }
    sort_key = key;
    qsort(order, (size_t)nb, sizeof *order, cmp_batch);
    for (int i = 0; i < nb; i++) {
        int wi = order[i];
        spread_work(&k, &m->w[wi], -1);
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
    free(k.hblk);
    free(cand);
    free(k.agg);
    free(k.maxfree);
    free(k.pres);
    free(k.score);
    free(k.pick);
    free(order);
    free(key);
    return rc;
}
