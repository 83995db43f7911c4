/*
 * The host index: per slot, a binary tree over the hosts whose nodes hold the most and
 * the least free room below them. Choosing a host for a job is a branch and bound
 * down the trees of the job's slots: a subtree is skipped when no host in it has room
 * in some slot, or when the best score it could hold cannot beat the host in hand. The
 * answer is the one a scan of every host would give, ties included.
 */
#include "host_index.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NR TSCHED_NRES

static double *node_hi(const struct host_index *x, int t, int node)
{
    return &x->hi[((size_t)t * 2 * x->leaves + node) * NR];
}

static double *node_lo(const struct host_index *x, int t, int node)
{
    return &x->lo[((size_t)t * 2 * x->leaves + node) * NR];
}

static void pull(struct host_index *x, int t, int node)
{
    double *h = node_hi(x, t, node), *l = node_lo(x, t, node);
    const double *ha = node_hi(x, t, 2 * node), *hb = node_hi(x, t, 2 * node + 1);
    const double *la = node_lo(x, t, 2 * node), *lb = node_lo(x, t, 2 * node + 1);
    for (int r = 0; r < NR; r++) {
        h[r] = ha[r] > hb[r] ? ha[r] : hb[r];
        l[r] = la[r] < lb[r] ? la[r] : lb[r];
    }
}

int hidx_init(struct host_index *x, const struct tsched_model *m, int n, int T)
{
    memset(x, 0, sizeof *x);
    x->n = n;
    x->T = T;
    x->leaves = 1;
    while (x->leaves < n)
        x->leaves *= 2;
    size_t nodes = 2 * (size_t)x->leaves;
    x->cap = malloc(((size_t)n + 1) * NR * sizeof *x->cap);
    x->capmin = malloc(nodes * NR * sizeof *x->capmin);
    x->capmax = malloc(nodes * NR * sizeof *x->capmax);
    x->hi = malloc(nodes * T * NR * sizeof *x->hi);
    x->lo = malloc(nodes * T * NR * sizeof *x->lo);
    if (!x->cap || !x->capmin || !x->capmax || !x->hi || !x->lo) {
        hidx_free(x);
        return -1;
    }
    /* Padding leaves past n never fit (no room) and never lower a minimum. */
    for (int h = 0; h < x->leaves; h++) {
        double *cmin = &x->capmin[((size_t)x->leaves + h) * NR];
        double *cmax = &x->capmax[((size_t)x->leaves + h) * NR];
        if (h < n)
            tsched_host_cap(m, h, &x->cap[h * NR]);
        for (int r = 0; r < NR; r++) {
            cmin[r] = h < n ? x->cap[h * NR + r] : INFINITY;
            cmax[r] = h < n ? x->cap[h * NR + r] : 0;
        }
        for (int t = 0; t < T; t++)
            for (int r = 0; r < NR; r++) {
                node_hi(x, t, x->leaves + h)[r] = h < n ? x->cap[h * NR + r] : -INFINITY;
                node_lo(x, t, x->leaves + h)[r] = h < n ? x->cap[h * NR + r] : INFINITY;
            }
    }
    for (int node = x->leaves - 1; node >= 1; node--) {
        for (int r = 0; r < NR; r++) {
            x->capmin[node * NR + r] =
                fmin(x->capmin[2 * node * NR + r], x->capmin[(2 * node + 1) * NR + r]);
            x->capmax[node * NR + r] =
                fmax(x->capmax[2 * node * NR + r], x->capmax[(2 * node + 1) * NR + r]);
        }
        for (int t = 0; t < T; t++)
            pull(x, t, node);
    }
    return 0;
}

void hidx_free(struct host_index *x)
{
    free(x->cap);
    free(x->capmin);
    free(x->capmax);
    free(x->hi);
    free(x->lo);
    memset(x, 0, sizeof *x);
}

void hidx_set_load(struct host_index *x, int h, int t, const double load[TSCHED_NRES])
{
    int node = x->leaves + h;
    double *hi = node_hi(x, t, node), *lo = node_lo(x, t, node);
    for (int r = 0; r < NR; r++)
        hi[r] = lo[r] = x->cap[h * NR + r] - load[r];
    for (node /= 2; node >= 1; node /= 2)
        pull(x, t, node);
}

struct query {
    const struct host_index *x;
    const int *slots;
    int len;
    const double *req;
    enum hidx_rule rule;
    int best_h;
    double best;
};

/* False when some host below `node` might have room in every slot. */
static bool no_room(const struct query *q, int node)
{
    for (int i = 0; i < q->len; i++) {
        const double *hi = node_hi(q->x, q->slots[i], node);
        for (int r = 0; r < NR; r++)
            if (hi[r] + TSCHED_EPS < q->req[r])
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
    for (int i = 0; i < q->len; i++)
        for (int r = 0; r < NR; r++) {
            if (q->rule == HIDX_SPREAD) {
                double c = x->capmin[node * NR + r], hi = node_hi(x, q->slots[i], node)[r];
                s -= q->req[r] * (hi > 0 ? hi : 0) / (c * c);
            } else {
                double f =
                    (node_lo(x, q->slots[i], node)[r] - q->req[r]) / x->capmax[node * NR + r];
                s += f > 0 ? f * f : 0;
            }
        }
    return s;
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

static void search(struct query *q, int node)
{
    const struct host_index *x = q->x;
    if (node >= x->leaves) {
        int h = node - x->leaves;
        double s = score(q, h);
        if (q->best_h < 0 || s < q->best || (s == q->best && h < q->best_h))
            q->best = s, q->best_h = h;
        return;
    }
    int kid[2] = {2 * node, 2 * node + 1};
    double lb[2];
    bool open[2];
    for (int i = 0; i < 2; i++) {
        open[i] = !no_room(q, kid[i]);
        lb[i] = open[i] ? bound(q, kid[i]) : INFINITY;
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

int hidx_choose(const struct host_index *x, const int *slots, int len, const double *req,
                enum hidx_rule rule)
{
    struct query q = {.x = x, .slots = slots, .len = len, .req = req, .rule = rule, .best_h = -1};
    if (x->n == 0 || no_room(&q, 1))
        return -1;
    search(&q, 1);
    return q.best_h;
}
