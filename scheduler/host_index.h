/* Free room of every host in every slot, kept as a tree over the hosts per slot. */
#ifndef TSCHED_HOST_INDEX_H
#define TSCHED_HOST_INDEX_H

#include "sched_internal.h"

/* How a host is chosen among those with room for a job in all of its slots:
 * FIRST_FIT the lowest host number; SPREAD the host whose free room best aligns with
 * the job's shape (a dot product: CPU-heavy and memory-heavy work then share hosts);
 * BEST_FIT the host left with the least room in both resources (keeps whole hosts free
 * for big jobs). Ties go to the lowest host number. */
enum hidx_rule { HIDX_FIRST_FIT, HIDX_SPREAD, HIDX_BEST_FIT };

/* Directions of the free room (as fractions of the first host type) along which each
 * node keeps its hosts' best: with CPU-rich hosts next to memory-rich ones, the
 * per-resource maxima alone promise a host that does not exist. */
#define HIDX_DIRS 9

/* Each tree node holds the most and the least free room of the hosts below it, per slot
 * and resource, so that a query skips whole subtrees that cannot fit the job or cannot
 * beat the best host found so far. Queries and updates cost O(log n) per slot touched
 * in the usual case instead of a scan of the fleet. */
struct host_index {
    int n, T, leaves;        /* leaves: a power of two >= n */
    double ref[TSCHED_NRES]; /* first host type */
    double dir[HIDX_DIRS][TSCHED_NRES];
    double *cap;    /* [host][res] */
    double *capmax; /* [node][res]: largest capacity below the node (best-fit bound) */
    double *hi;     /* [slot][node][res]: most free room below the node */
    double *lo;     /* [slot][node][res]: least free room below the node */
    double *along;  /* [slot][node][dir]: most of free/cap^2 x ref along each direction */
    double *fit;    /* [slot][node][dir]: the largest multiple of each direction (in units
                       of ref) that some host below has room for */
};

/* Hosts 0..n-1 with the capacities of the model's fleet order, all empty. */
int hidx_init(struct host_index *x, const struct tsched_model *m, int n, int T);
void hidx_free(struct host_index *x);
/* Host h in slot t now carries `load` (per resource). */
void hidx_set_load(struct host_index *x, int h, int t, const double load[TSCHED_NRES]);
/* The most free room of any host in slot t, per resource. */
static inline const double *hidx_most_free(const struct host_index *x, int t)
{
    return &x->hi[((size_t)t * 2 * x->leaves + 1) * TSCHED_NRES];
}
/* A host with room for `req` in every slot of slots[0..len), chosen by `rule` (on big
 * fleets possibly a near-best one, see HIDX_VISITS; first fit is exact); -1 if none
 * was found. */
int hidx_choose(const struct host_index *x, const int *slots, int len, const double *req,
                enum hidx_rule rule);

#endif
