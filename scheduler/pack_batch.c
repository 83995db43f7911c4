/*
 * Batch workloads fill what the day leaves: hardest first (most contended windows, then
 * biggest), each where it is cheapest over its run ("valley filling" weighted by the
 * job's own shape, counting the batch work still to place): preferably one contiguous
 * run on one host, else (if suspendable) in pieces, resuming where it stopped if it can.
 *
 * Identical jobs (a task's instances cut into chunks, say) are placed as one class, one
 * after another: the slot costs of their common window are computed once and updated
 * only where a job was placed, and a start that found no host stays closed for the rest
 * of the class, since batch placements only ever take room. Each job still gets the
 * start and host it would get alone, so grouping changes cost, not plans.
 */
#include "packer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The window of the class being placed, in window offsets o = 0..W-1. */
struct class_state {
    const struct tsched_workload *w;
    int W, need;
    int *slot;              /* [W]: slot of offset o */
    double *cost;           /* [W]: slot_cost of offset o for this shape */
    double *pre;            /* [W+1]: prefix sums of cost */
    double *start;          /* [W]: cost of a run starting at o (pre[o+need] - pre[o]) */
    bool *closed;           /* [W]: no host can take a run starting at o */
    int *pick;              /* [W]: offsets in order of cost (pieces) */
    struct hidx_memo *memo; /* [T]: the host search of a run starting at o, remembered:
                               the class asks it again after each placement */
};

/* Adds `sign` times a job's evenly spread share of its window to pres. */
static void spread_work(struct packer *k, const struct tsched_workload *w, double sign)
{
    double f = sign * tsched_batch_slots_needed(k->m, w, 1, 0) / w->win_len;
    for (int o = 0; o < w->win_len; o++) {
        int t = (w->win_start + o) % k->T;
        for (int r = 0; r < TSCHED_NRES; r++)
            k->pres[t * TSCHED_NRES + r] += f * w->req[r];
    }
}

/* All jobs' spread at once: a difference array over the day, O(jobs + slots). */
static int spread_all(struct packer *k, const int *order, int nb)
{
    int T = k->T;
    double *d = calloc(((size_t)T + 1) * TSCHED_NRES, sizeof *d);
    if (!d)
        return -1;
    for (int i = 0; i < nb; i++) {
        const struct tsched_workload *w = &k->m->w[order[i]];
        double f = (double)tsched_batch_slots_needed(k->m, w, 1, 0) / w->win_len;
        int a = w->win_start, b = w->win_start + w->win_len; /* [a, b), may pass T */
        for (int r = 0; r < TSCHED_NRES; r++) {
            double v = f * w->req[r];
            d[a * TSCHED_NRES + r] += v;
            d[(b < T ? b : T) * TSCHED_NRES + r] -= v;
            if (b > T) {
                d[r] += v;
                d[(b - T) * TSCHED_NRES + r] -= v;
            }
        }
    }
    double run[TSCHED_NRES] = {0};
    for (int t = 0; t < T; t++)
        for (int r = 0; r < TSCHED_NRES; r++) {
            run[r] += d[t * TSCHED_NRES + r];
            k->pres[t * TSCHED_NRES + r] = run[r];
        }
    free(d);
    return 0;
}

static const struct tsched_model *sort_m;
static const double *sort_size; /* tsched_norm_size of each job, computed once */
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
    double zx = sort_size[*(const int *)a], zy = sort_size[*(const int *)b];
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

static bool room_somewhere(struct packer *k, int t, const double *req)
{
    const double *most = hidx_most_free(&k->ix, t);
    for (int r = 0; r < TSCHED_NRES; r++)
        if (most[r] + TSCHED_EPS < req[r])
            return false;
    return true;
}

static enum hidx_rule host_rule(const struct packer *k)
{
    return k->spread ? HIDX_SPREAD : HIDX_BEST_FIT;
}

/* Start costs from slot costs, the same sums for every job of the class. */
static void update_starts(struct class_state *c)
{
    for (int o = 0; o < c->W; o++)
        c->pre[o + 1] = c->pre[o] + c->cost[o];
    for (int o = 0; o + c->need <= c->W; o++)
        c->start[o] = c->pre[o + c->need] - c->pre[o];
}

static void commit_run(struct packer *k, struct class_state *c, int wi, int off, int len, int h)
{
    int *run = &k->p->run_host[k->p->run_off[wi]];
    for (int o = off; o < off + len; o++) {
        int t = c->slot[o];
        run[o] = h;
        add(k, h, t, c->w->req);
        hidx_set_load(&k->ix, h, t, L(k, h, t));
        c->cost[o] = slot_cost(k, t, c->w->req);
    }
    /* The runs whose slots meet this one saw host h change. */
    int q0 = off - c->need + 1 > 0 ? off - c->need + 1 : 0;
    for (int q = q0; q < off + len && q + c->need <= c->W; q++)
        hidx_memo_forget(&c->memo[q], &k->ix, h);
}

/* One run of `need` slots on one host, where the fleet is emptiest. */
static bool place_contiguous(struct packer *k, struct class_state *c, int wi)
{
    const double *req = c->w->req;
    for (;;) {
        int o = -1;
        for (int q = 0; q + c->need <= c->W; q++)
            if (!c->closed[q] && (o < 0 || c->start[q] < c->start[o]))
                o = q;
        if (o < 0)
            return false;
        bool room = true;
        for (int i = 0; i < c->need && room; i++)
            room = room_somewhere(k, c->slot[o + i], req);
        int h = room
                    ? hidx_choose_memo(&k->ix, &c->slot[o], c->need, req, host_rule(k), &c->memo[o])
                    : -1;
        if (h < 0) {
            c->closed[o] = true;
            continue;
        }
        commit_run(k, c, wi, o, c->need, h);
        update_starts(c);
        return true;
    }
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
static bool place_pieces(struct packer *k, struct class_state *c, int wi)
{
    const struct tsched_workload *w = c->w;
    int W = c->W;
    int *run = &k->p->run_host[k->p->run_off[wi]];
    for (int o = 0; o < W; o++) {
        c->pick[o] = o;
        run[o] = -1;
    }
    cand_score = c->cost;
    qsort(c->pick, (size_t)W, sizeof *c->pick, cmp_cand);
    for (int i = 0; i < W; i++) {
        int o = c->pick[i], t = c->slot[o];
        if (!room_somewhere(k, t, w->req))
            continue;
        int h = -1;
        if (o > 0 && run[o - 1] >= 0 && fits(k, run[o - 1], t, w->req))
            h = run[o - 1];
        else if (o + 1 < W && run[o + 1] >= 0 && fits(k, run[o + 1], t, w->req))
            h = run[o + 1];
        if (h < 0)
            h = hidx_choose(&k->ix, &c->slot[o], 1, w->req, host_rule(k));
        if (h < 0)
            continue;
        run[o] = h;
        int segs, moves, slots;
        count_runs(run, W, &segs, &moves, &slots);
        if (slots >= tsched_batch_slots_needed(k->m, w, segs, moves)) {
            for (int q = 0; q < W; q++)
                if (run[q] >= 0)
                    commit_run(k, c, wi, q, 1, run[q]);
            update_starts(c);
            return true;
        }
    }
    for (int o = 0; o < W; o++)
        run[o] = -1;
    return false;
}

/* Places the class order[0..count): 1 if all fit, 0 if not. */
static int place_class(struct packer *k, struct class_state *c, const int *order, int count)
{
    const struct tsched_workload *w = &k->m->w[order[0]];
    c->w = w;
    c->W = w->win_len;
    c->need = tsched_batch_slots_needed(k->m, w, 1, 0);
    /* The class's own spread leaves the window at once: the costs of its slots then
     * all shift by the same amount, which changes no job's choice. */
    spread_work(k, w, -count);
    for (int o = 0; o < c->W; o++) {
        c->slot[o] = (w->win_start + o) % k->T;
        c->cost[o] = slot_cost(k, c->slot[o], w->req);
        c->closed[o] = false;
        hidx_memo_reset(&c->memo[o]);
    }
    c->pre[0] = 0;
    update_starts(c);
    for (int i = 0; i < count; i++) {
        if (place_contiguous(k, c, order[i]))
            continue;
        if (w->suspendable && place_pieces(k, c, order[i]))
            continue;
        return 0;
    }
    return 1;
}

/* Contention of every window: the mean over its slots of the fleet's fullness (the
 * day plus all batch work spread over its windows), from prefix sums over two days. */
static int contention_keys(struct packer *k, const int *order, int nb, double *key)
{
    int T = k->T;
    double *pre = malloc((2 * (size_t)T + 1) * sizeof *pre);
    if (!pre)
        return -1;
    pre[0] = 0;
    for (int t = 0; t < 2 * T; t++) {
        int s = t % T;
        double f = 0;
        for (int r = 0; r < TSCHED_NRES; r++)
            f = dmax(f, (k->agg[s * TSCHED_NRES + r] + k->pres[s * TSCHED_NRES + r]) / k->fleet[r]);
        pre[t + 1] = pre[t] + f;
    }
    for (int i = 0; i < nb; i++) {
        const struct tsched_workload *w = &k->m->w[order[i]];
        double sum = pre[w->win_start + w->win_len] - pre[w->win_start];
        /* Coarse levels, so that size still orders jobs of similar contention. */
        key[order[i]] = floor(sum / w->win_len * k->levels);
    }
    free(pre);
    return 0;
}

int pack_batches(struct packer *k, int *order, int nb)
{
    const struct tsched_model *m = k->m;
    int T = k->T, rc = -1;
    double *key = malloc(((size_t)m->nw + 1) * sizeof *key);
    double *size = malloc(((size_t)m->nw + 1) * sizeof *size);
    struct class_state c = {0};
    c.slot = malloc(((size_t)T + 1) * sizeof *c.slot);
    c.cost = malloc(((size_t)T + 1) * sizeof *c.cost);
    c.pre = malloc(((size_t)T + 2) * sizeof *c.pre);
    c.start = malloc(((size_t)T + 1) * sizeof *c.start);
    c.closed = malloc(((size_t)T + 1) * sizeof *c.closed);
    c.pick = malloc(((size_t)T + 1) * sizeof *c.pick);
    if (!key || !size || !c.slot || !c.cost || !c.pre || !c.start || !c.closed || !c.pick ||
        build_index(k, host_rule(k)) < 0 || !(c.memo = calloc((size_t)T, sizeof *c.memo)))
        goto out;
    for (int o = 0; o < T; o++)
        if (hidx_memo_init(&c.memo[o], &k->ix) < 0)
            goto out;
    if (spread_all(k, order, nb) < 0 || contention_keys(k, order, nb, key) < 0)
        goto out;
    /* Hardest first: the jobs whose windows are the most contended; within a contention
     * level, big ones. Identical jobs next to each other in that order (a task's chunks,
     * which the adapters number consecutively) form a class. */
    for (int i = 0; i < nb; i++)
        size[order[i]] = tsched_norm_size(m->w[order[i]].req, k->ref);
    sort_m = m;
    sort_size = size;
    sort_key = key;
    qsort(order, (size_t)nb, sizeof *order, cmp_batch);
    rc = 1;
    for (int i = 0, j; i < nb && rc == 1; i = j) {
        for (j = i + 1; j < nb && tsched_batch_cmp(&m->w[order[i]], &m->w[order[j]]) == 0; j++)
            ;
        rc = place_class(k, &c, &order[i], j - i);
    }
out:
    free(key);
    free(size);
    free(c.slot);
    free(c.cost);
    free(c.pre);
    free(c.start);
    free(c.closed);
    free(c.pick);
    for (int o = 0; c.memo && o < T; o++)
        hidx_memo_free(&c.memo[o]);
    free(c.memo);
    return rc;
}
