/*
 * Batch workloads fill what the day leaves: hardest first (most contended windows, then
 * biggest), each where it is cheapest over its run ("valley filling" weighted by the
 * job's own shape, counting the batch work still to place): preferably one contiguous
 * run on one host, else (if suspendable) in pieces, resuming where it stopped if it can.
 */
#include "packer.h"

#include <math.h>
#include <stdlib.h>

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

static const struct tsched_model *sort_m;
static const double *sort_ref;
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

int pack_batches(struct packer *k, int *order, int nb)
{
    const struct tsched_model *m = k->m;
    int T = k->T, rc = -1;
    double *key = malloc(((size_t)m->nw + 1) * sizeof *key);
    if (!key)
        return -1;
    sort_m = m;
    sort_ref = k->ref;
    for (int t = 0; t < T; t++)
        refresh_maxfree(k, t);
    for (int i = 0; i < nb; i++)
        spread_work(k, &m->w[order[i]], 1);
    /* Hardest first: the jobs whose windows are the most contended, counting the day
     * and all batch work spread over its windows; within a contention level, big ones. */
    for (int i = 0; i < nb; i++) {
        const struct tsched_workload *w = &m->w[order[i]];
        double sum = 0;
        for (int o = 0; o < w->win_len; o++) {
            int t = (w->win_start + o) % T;
            double f = 0;
            for (int r = 0; r < TSCHED_NRES; r++)
                f = dmax(f, (k->agg[t * TSCHED_NRES + r] + k->pres[t * TSCHED_NRES + r]) /
                                k->fleet[r]);
            sum += f;
        }
        /* Coarse levels, so that size still orders jobs of similar contention. */
        key[order[i]] = floor(sum / w->win_len * k->levels);
    }
    sort_key = key;
    qsort(order, (size_t)nb, sizeof *order, cmp_batch);
    for (int i = 0; i < nb; i++) {
        int wi = order[i];
        spread_work(k, &m->w[wi], -1);
        if (place_contiguous(k, wi))
            continue;
        if (m->w[wi].suspendable && place_pieces(k, wi))
            continue;
        rc = 0;
        goto out;
    }
    rc = 1;
out:
    free(key);
    return rc;
}
