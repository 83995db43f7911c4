/*
 * The host index: per slot, a binary tree over the hosts whose nodes hold the most and
 * the least free room below them. Choosing a host for a job is a branch and bound
 * down the trees of the job's slots: a subtree is skipped when no host in it has room
 * in some slot, or when the best score it could hold cannot beat the host in hand.
 * Within HIDX_VISITS nodes the answer is the one a scan of every host would give, ties
 * included.
 */
#include "host_index.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>

#define NR TSCHED_NRES

static double *node_hi(const struct host_index *x, int t, int node)
{
    return x->room[(size_t)node * x->T + t].hi;
}

static float *node_fit(const struct host_index *x, int t, int node)
{
    return x->room[(size_t)node * x->T + t].fit;
}

static double *node_lo(const struct host_index *x, int t, int node)
{
    return &x->lo[((size_t)node * x->T + t) * NR];
}

static double *node_along(const struct host_index *x, int t, int node)
{
    return &x->along[((size_t)node * x->T + t) * HIDX_DIRS];
}

/* Recomputes a node from its children; false if nothing changed (nor will above it). */
static bool pull(struct host_index *x, int t, int node)
{
    bool changed = false;
    double *h = node_hi(x, t, node), *l = node_lo(x, t, node);
    const double *ha = node_hi(x, t, 2 * node), *hb = node_hi(x, t, 2 * node + 1);
    const double *la = node_lo(x, t, 2 * node), *lb = node_lo(x, t, 2 * node + 1);
    for (int r = 0; r < NR; r++) {
        double hv = ha[r] > hb[r] ? ha[r] : hb[r];
        changed |= hv != h[r];
        h[r] = hv;
    }
    for (int r = 0; r < NR && x->keep_lo; r++) {
        double lv = la[r] < lb[r] ? la[r] : lb[r];
        changed |= lv != l[r];
        l[r] = lv;
    }
    double *d = node_along(x, t, node);
    const double *da = node_along(x, t, 2 * node), *db = node_along(x, t, 2 * node + 1);
    for (int k = 0; k < HIDX_DIRS && x->keep_along; k++) {
        double v = da[k] > db[k] ? da[k] : db[k];
        changed |= v != d[k];
        d[k] = v;
    }
    float *f = node_fit(x, t, node);
    const float *fa = node_fit(x, t, 2 * node), *fb = node_fit(x, t, 2 * node + 1);
    for (int k = 0; k < HIDX_DIRS - 2; k++) {
        float v = fa[k] > fb[k] ? fa[k] : fb[k];
        changed |= v != f[k];
        f[k] = v;
    }
    return changed;
}

/* v as a float no smaller: the fit summaries are upper bounds, rounding must keep them
 * so. */
static float up(double v)
{
    float f = (float)v;
    return (double)f < v ? nextafterf(f, INFINITY) : f;
}

static double dmin(double a, double b)
{
    return b < a ? b : a;
}

/* A leaf's value along each direction: the spreading score is linear in free/cap^2. */
static void leaf_along(struct host_index *x, int t, int h)
{
    int leaf = x->leaves + h;
    float *f = node_fit(x, t, leaf);
    const double *room = node_hi(x, t, leaf);
    /* Leaves change with every placement: the constant factors are computed once. */
    const double *ac = &x->acoef[(size_t)h * HIDX_DIRS * NR];
    for (int k = 0; k < HIDX_DIRS; k++) {
        if (x->keep_along) {
            double d = 0;
            for (int r = 0; r < NR; r++)
                d += ac[k * NR + r] * room[r];
            node_along(x, t, leaf)[k] = d;
        }
        if (k > 0 && k < HIDX_DIRS - 1) {
            double fk = INFINITY; /* inner directions have both components positive */
            for (int r = 0; r < NR; r++)
                fk = dmin(fk, room[r] * x->fcoef[k][r]);
            f[k - 1] = up(fk);
        }
    }
}

/* The summaries are read at random over up to a few hundred MB: with 4 KB pages most
 * reads also miss the TLB. They are mapped apart from the heap (zeroed, returned whole
 * when freed), 2 MB aligned and advised into huge pages where the system allows it
 * (madvise mode); ordinary pages otherwise. */
enum { HUGE = 2 << 20 };

static size_t big_len(size_t size)
{
    return (size + HUGE - 1) / HUGE * HUGE;
}

static void *big_zalloc(size_t size)
{
    if (size < HUGE)
        return calloc(1, size ? size : 1);
    size_t len = big_len(size);
    char *p = mmap(NULL, len + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    /* Keep the 2 MB aligned part. */
    size_t head = (HUGE - (uintptr_t)p % HUGE) % HUGE;
    if (head)
        munmap(p, head);
    munmap(p + head + len, HUGE - head);
    madvise(p + head, len, MADV_HUGEPAGE);
    return p + head;
}

static void big_free(void *p, size_t size)
{
    if (size < HUGE)
        free(p);
    else if (p)
        munmap(p, big_len(size));
}

int hidx_init(struct host_index *x, const struct tsched_model *m, int n, int T)
{
    memset(x, 0, sizeof *x);
    x->n = n;
    x->T = T;
    x->keep_lo = x->keep_along = true;
    x->leaves = 1;
    while (x->leaves < n)
        x->leaves *= 2;
    size_t nodes = 2 * (size_t)x->leaves;
    x->cap = malloc(((size_t)n + 1) * NR * sizeof *x->cap);
    x->capmax = malloc(nodes * NR * sizeof *x->capmax);
    x->acoef = malloc(((size_t)n + 1) * HIDX_DIRS * NR * sizeof *x->acoef);
    x->room = big_zalloc(nodes * T * sizeof *x->room);
    x->lo = big_zalloc(nodes * T * NR * sizeof *x->lo);
    x->along = big_zalloc(nodes * T * HIDX_DIRS * sizeof *x->along);
    if (!x->cap || !x->capmax || !x->acoef || !x->room || !x->lo || !x->along) {
        hidx_free(x);
        return -1;
    }
    for (int r = 0; r < NR; r++)
        x->ref[r] = m->types[0].cap[r];
    for (int k = 0; k < HIDX_DIRS; k++) {
        double a = M_PI / 2 * k / (HIDX_DIRS - 1);
        x->dir[k][TSCHED_CPU] = k == HIDX_DIRS - 1 ? 0 : cos(a);
        x->dir[k][TSCHED_MEM] = k == 0 ? 0 : sin(a);
    }
    for (int k = 0; k < HIDX_DIRS; k++)
        for (int r = 0; r < NR; r++)
            x->fcoef[k][r] = x->dir[k][r] > 0 ? 1 / (x->ref[r] * x->dir[k][r]) : INFINITY;
    for (int h = 0; h < n; h++) {
        double c[NR];
        tsched_host_cap(m, h, c);
        for (int k = 0; k < HIDX_DIRS; k++)
            for (int r = 0; r < NR; r++)
                x->acoef[((size_t)h * HIDX_DIRS + k) * NR + r] =
                    x->dir[k][r] * x->ref[r] / (c[r] * c[r]);
    }
    /* Padding leaves past n never fit (no room) and never lower a minimum. */
    for (int h = 0; h < x->leaves; h++) {
        double *cmax = &x->capmax[((size_t)x->leaves + h) * NR];
        if (h < n)
            tsched_host_cap(m, h, &x->cap[h * NR]);
        for (int r = 0; r < NR; r++)
            cmax[r] = h < n ? x->cap[h * NR + r] : 0;
        for (int t = 0; t < T; t++) {
            for (int r = 0; r < NR; r++) {
                node_hi(x, t, x->leaves + h)[r] = h < n ? x->cap[h * NR + r] : -INFINITY;
                node_lo(x, t, x->leaves + h)[r] = h < n ? x->cap[h * NR + r] : INFINITY;
            }
            if (h < n)
                leaf_along(x, t, h);
            else
                for (int k = 0; k < HIDX_DIRS; k++) {
                    node_along(x, t, x->leaves + h)[k] = -INFINITY;
                    if (k < HIDX_DIRS - 2)
                        node_fit(x, t, x->leaves + h)[k] = -INFINITY;
                }
        }
    }
    for (int node = x->leaves - 1; node >= 1; node--) {
        for (int r = 0; r < NR; r++)
            x->capmax[node * NR + r] =
                fmax(x->capmax[2 * node * NR + r], x->capmax[(2 * node + 1) * NR + r]);
        for (int t = 0; t < T; t++)
            pull(x, t, node);
    }
    return 0;
}

void hidx_free(struct host_index *x)
{
    free(x->cap);
    free(x->capmax);
    free(x->acoef);
    size_t nodes = 2 * (size_t)x->leaves;
    big_free(x->room, nodes * x->T * sizeof *x->room);
    big_free(x->lo, nodes * x->T * NR * sizeof *x->lo);
    big_free(x->along, nodes * x->T * HIDX_DIRS * sizeof *x->along);
    memset(x, 0, sizeof *x);
}

void hidx_keep_for(struct host_index *x, enum hidx_rule rule)
{
    x->keep_lo = rule == HIDX_BEST_FIT;
    x->keep_along = rule == HIDX_SPREAD;
}

void hidx_set_load(struct host_index *x, int h, int t, const double load[TSCHED_NRES])
{
    int node = x->leaves + h;
    double *hi = node_hi(x, t, node), *lo = node_lo(x, t, node);
    for (int r = 0; r < NR; r++)
        hi[r] = lo[r] = x->cap[h * NR + r] - load[r];
    leaf_along(x, t, h);
    /* A node that did not change leaves its ancestors as they were. */
    for (node /= 2; node >= 1 && pull(x, t, node); node /= 2)
        ;
}

struct query {
    const struct host_index *x;
    const int *slots;
    int len;
    const double *req;
    enum hidx_rule rule;
    int best_h;
    double best;
    int k;                  /* SPREAD: the job lies between directions k and k+1 ... */
    double wk, wk1;         /* ... as wk x dir[k] + wk1 x dir[k+1] (in units of ref) */
    double need[HIDX_DIRS]; /* a host with room needs at least this along each direction */
    int visits;             /* nodes expanded so far */
    struct hidx_memo *memo; /* or NULL */
};

/* A search for the best host expands at most this many nodes. On a big fleet of
 * evenly filled hosts, proving the best exactly means visiting most of the tree, and
 * proving that no host has room for a job whose shape the node summaries cannot rule
 * out does too; the best-bound-first descent has usually met the best (or one within
 * rounding of it) early. So a choice may be a near-best host, and rarely a job is told
 * there is no room where one deep host had it (the planner then tries its next start
 * or a bigger fleet). Fleets of up to 32 hosts (63 nodes) are searched exhaustively,
 * and first fit always is: the baselines open hosts when it finds none. */
#define HIDX_VISITS 64

/* False when some host below `node` might have room in every slot. */
static bool no_room(const struct query *q, int node)
{
    for (int i = 0; i < q->len; i++) {
        const double *hi = node_hi(q->x, q->slots[i], node);
        for (int r = 0; r < NR; r++)
            if (hi[r] + TSCHED_EPS < q->req[r])
                return true;
        const float *f = node_fit(q->x, q->slots[i], node);
        for (int k = 1; k < HIDX_DIRS - 1; k++)
            if (f[k - 1] < q->need[k])
                return true;
    }
    return false;
}

/* The lowest score any host below `node` could have (lower is better). */
static double bound(const struct query *q, int node)
{
    const struct host_index *x = q->x;
    if (q->rule == HIDX_FIRST_FIT) {
        while (node < x->leaves)
            node *= 2;
        return node - x->leaves;
    }
    double s = 0;
    if (q->rule == HIDX_SPREAD) {
        for (int i = 0; i < q->len; i++) {
            const double *d = node_along(x, q->slots[i], node);
            s -= q->wk * d[q->k] + q->wk1 * d[q->k + 1];
        }
        return s - 1e-9 * (fabs(s) + 1e-9);
    }
    for (int i = 0; i < q->len; i++) {
        for (int r = 0; r < NR; r++) {
            double f = (node_lo(x, q->slots[i], node)[r] - q->req[r]) / x->capmax[node * NR + r];
            s += f > 0 ? f * f : 0;
        }
    }
    /* A hair below, so that rounding never prunes the exact best. */
    return s - 1e-9 * (fabs(s) + 1e-9);
}

/* Score of host h, which has room: the sum over the job's slots. */
static double score(const struct query *q, int h)
{
    const struct host_index *x = q->x;
    if (q->rule == HIDX_FIRST_FIT)
        return h;
    const double *c = &x->cap[h * NR];
    double s = 0;
    for (int i = 0; i < q->len; i++) {
        const double *room = node_hi(x, q->slots[i], x->leaves + h);
        for (int r = 0; r < NR; r++) {
            if (q->rule == HIDX_SPREAD) {
                s -= q->req[r] / c[r] * room[r] / c[r];
            } else {
                double f = (room[r] - q->req[r]) / c[r];
                s += f * f;
            }
        }
    }
    return s;
}

static int first_leaf(const struct host_index *x, int node)
{
    while (node < x->leaves)
        node *= 2;
    return node - x->leaves;
}

static bool cannot_win(const struct query *q, int node, double lb)
{
    return q->best_h >= 0 &&
           (lb > q->best || (lb == q->best && first_leaf(q->x, node) > q->best_h));
}

/* The memo's entry for node, emptied if it is from another query or was forgotten. */
static unsigned char *memo_have(const struct query *q, int node)
{
    struct hidx_memo *mm = q->memo;
    if (mm->stamp[node] != mm->epoch) {
        mm->stamp[node] = mm->epoch;
        mm->have[node] = 0;
    }
    return &mm->have[node];
}

enum { HAVE_LB = 1, HAVE_ROOM = 2, NO_ROOM = 4, HAVE_SCORE = 8 };

static double memo_bound(const struct query *q, int node)
{
    if (!q->memo)
        return bound(q, node);
    unsigned char *have = memo_have(q, node);
    if (!(*have & HAVE_LB)) {
        q->memo->lb[node] = bound(q, node);
        *have |= HAVE_LB;
    }
    return q->memo->lb[node];
}

static bool memo_no_room(const struct query *q, int node)
{
    if (!q->memo)
        return no_room(q, node);
    unsigned char *have = memo_have(q, node);
    if (!(*have & HAVE_ROOM))
        *have |= HAVE_ROOM | (no_room(q, node) ? NO_ROOM : 0);
    return *have & NO_ROOM;
}

static double memo_score(const struct query *q, int h)
{
    int node = q->x->leaves + h;
    if (!q->memo)
        return score(q, h);
    unsigned char *have = memo_have(q, node);
    if (!(*have & HAVE_SCORE)) {
        q->memo->score[node] = score(q, h);
        *have |= HAVE_SCORE;
    }
    return q->memo->score[node];
}

static void search(struct query *q, int node)
{
    const struct host_index *x = q->x;
    if (q->rule != HIDX_FIRST_FIT && ++q->visits > HIDX_VISITS)
        return;
    if (node >= x->leaves) {
        int h = node - x->leaves;
        double s = memo_score(q, h);
        if (q->best_h < 0 || s < q->best || (s == q->best && h < q->best_h))
            q->best = s, q->best_h = h;
        return;
    }
    int kid[2] = {2 * node, 2 * node + 1};
    /* Both children's summaries are read next (unless remembered), each a cache miss on
     * a big fleet: ask for all of them at once rather than one after the other. */
    for (int c = 0; c < 2; c++) {
        if (q->memo && q->memo->stamp[kid[c]] == q->memo->epoch)
            continue;
        for (int i = 0; i < q->len; i++) {
            if (q->rule == HIDX_SPREAD)
                __builtin_prefetch(node_along(x, q->slots[i], kid[c]));
            else if (q->rule == HIDX_BEST_FIT)
                __builtin_prefetch(node_lo(x, q->slots[i], kid[c]));
            __builtin_prefetch(node_hi(x, q->slots[i], kid[c]));
        }
    }
    double lb[2];
    bool open[2];
    /* The bound first: a child that cannot beat the host in hand is never searched
     * (the best only improves), so whether it has room need not be asked. */
    for (int i = 0; i < 2; i++) {
        lb[i] = memo_bound(q, kid[i]);
        open[i] = !cannot_win(q, kid[i], lb[i]) && !memo_no_room(q, kid[i]);
        if (!open[i])
            lb[i] = INFINITY;
    }
    /* The more promising child first: its result prunes the other. */
    int first = open[1] && (!open[0] || lb[1] < lb[0]) ? 1 : 0;
    for (int j = 0; j < 2; j++) {
        int i = j == 0 ? first : 1 - first;
        if (open[i] && !cannot_win(q, kid[i], lb[i]))
            search(q, kid[i]);
        if (q->rule == HIDX_FIRST_FIT && q->best_h >= 0)
            return;
    }
}

int hidx_memo_init(struct hidx_memo *mm, const struct host_index *x)
{
    size_t nodes = 2 * (size_t)x->leaves;
    memset(mm, 0, sizeof *mm);
    mm->epoch = 1;
    mm->stamp = calloc(nodes, sizeof *mm->stamp);
    mm->have = calloc(nodes, sizeof *mm->have);
    mm->lb = malloc(nodes * sizeof *mm->lb);
    mm->score = malloc(nodes * sizeof *mm->score);
    if (!mm->stamp || !mm->have || !mm->lb || !mm->score) {
        hidx_memo_free(mm);
        return -1;
    }
    return 0;
}

void hidx_memo_free(struct hidx_memo *mm)
{
    free(mm->stamp);
    free(mm->have);
    free(mm->lb);
    free(mm->score);
    memset(mm, 0, sizeof *mm);
}

void hidx_memo_forget(struct hidx_memo *mm, const struct host_index *x, int h)
{
    for (int node = x->leaves + h; node >= 1; node /= 2)
        mm->stamp[node] = 0;
}

int hidx_choose(const struct host_index *x, const int *slots, int len, const double *req,
                enum hidx_rule rule)
{
    return hidx_choose_memo(x, slots, len, req, rule, NULL);
}

int hidx_choose_memo(const struct host_index *x, const int *slots, int len, const double *req,
                     enum hidx_rule rule, struct hidx_memo *memo)
{
    assert(rule == HIDX_FIRST_FIT || (rule == HIDX_SPREAD ? x->keep_along : x->keep_lo));
    struct query q = {
        .x = x, .slots = slots, .len = len, .req = req, .rule = rule, .best_h = -1, .memo = memo};
    /* Room for req means room/ref >= req/ref in both resources, so at least
     * min_r(req_r / ref_r / dir_r) along every direction (less a hair for rounding). */
    for (int k = 0; k < HIDX_DIRS; k++) {
        q.need[k] = INFINITY;
        for (int r = 0; r < NR; r++)
            if (x->dir[k][r] > 0)
                q.need[k] = fmin(q.need[k], (req[r] - TSCHED_EPS) / x->ref[r] / x->dir[k][r]);
        q.need[k] -= 1e-9 * fabs(q.need[k]);
    }
    if (x->n == 0 || memo_no_room(&q, 1))
        return -1;
    if (rule == HIDX_SPREAD) {
        /* req / ref as a non-negative mix of the two directions around it. */
        double b[NR],
            ang = atan2(req[TSCHED_MEM] / x->ref[TSCHED_MEM], req[TSCHED_CPU] / x->ref[TSCHED_CPU]);
        for (int r = 0; r < NR; r++)
            b[r] = req[r] / x->ref[r];
        q.k = (int)(ang / (M_PI / 2) * (HIDX_DIRS - 1));
        if (q.k > HIDX_DIRS - 2)
            q.k = HIDX_DIRS - 2;
        const double *d0 = x->dir[q.k], *d1 = x->dir[q.k + 1];
        double det = d0[0] * d1[1] - d0[1] * d1[0];
        q.wk = (b[0] * d1[1] - b[1] * d1[0]) / det;
        q.wk1 = (d0[0] * b[1] - d0[1] * b[0]) / det;
        q.wk = q.wk > 0 ? q.wk : 0;
        q.wk1 = q.wk1 > 0 ? q.wk1 : 0;
    }
    search(&q, 1);
    return q.best_h;
}
