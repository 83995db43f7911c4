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
/* What the room test reads of a node in one slot, in one cache line: the most free room
 * below it, and along the inner directions the largest multiple (in units of ref) that
 * some host below has room for (a float rounded up: a looser test, never a wrong no). */
struct hidx_room {
    double hi[TSCHED_NRES];
    float fit[HIDX_DIRS - 2];
};

struct host_index {
    int n, T, leaves;         /* leaves: a power of two >= n */
    bool keep_lo, keep_along; /* which summaries updates maintain (hidx_keep_for) */
    double ref[TSCHED_NRES];  /* first host type */
    double dir[HIDX_DIRS][TSCHED_NRES];
    double *cap;   /* [host][res] */
    double *acoef; /* [host][dir][res]: dir x ref / cap^2, a leaf's direction values */
    double fcoef[HIDX_DIRS][TSCHED_NRES]; /* 1 / (ref x dir): a leaf's fit */
    double *capmax; /* [node][res]: largest capacity below the node (best-fit bound) */
    /* Per node, the slots side by side: a job's slots mostly follow each other. */
    struct hidx_room *room; /* [node][slot] */
    double *lo;             /* [node][slot][res]: least free room below the node */
    double *along;          /* [node][slot][dir]: most of free/cap^2 x ref along each
                               direction */
};

/* Hosts 0..n-1 with the capacities of the model's fleet order, all empty. */
int hidx_init(struct host_index *x, const struct tsched_model *m, int n, int T);
void hidx_free(struct host_index *x);
/* From now on only `rule` (and first fit) will query: updates then skip the summaries
 * only the other rule reads (the least room for best fit, the directions for spreading). */
void hidx_keep_for(struct host_index *x, enum hidx_rule rule);
/* Host h in slot t now carries `load` (per resource). */
void hidx_set_load(struct host_index *x, int h, int t, const double load[TSCHED_NRES]);
/* The most free room of any host in slot t, per resource. */
static inline const double *hidx_most_free(const struct host_index *x, int t)
{
    return x->room[(size_t)x->T + t].hi;
}
/* A host with room for `req` in every slot of slots[0..len), chosen by `rule` (on big
 * fleets possibly a near-best one, see HIDX_VISITS; first fit is exact); -1 if none
 * was found. */
int hidx_choose(const struct host_index *x, const int *slots, int len, const double *req,
                enum hidx_rule rule);

/* What a search computed per tree node, for one query asked again and again (the jobs of
 * a class at one start: same slots, same size), so that a repeated search recomputes only
 * the nodes a placement changed. Entries are valid while stamp[node] == epoch. */
struct hidx_memo {
    int epoch;
    int *stamp;          /* [node] */
    unsigned char *have; /* [node]: which of the values below are known */
    double *lb;          /* [node]: the subtree's bound */
    double *score;       /* [leaf node]: the host's score */
};

int hidx_memo_init(struct hidx_memo *mm, const struct host_index *x);
void hidx_memo_free(struct hidx_memo *mm);
/* Another query from now on: forgets everything. */
static inline void hidx_memo_reset(struct hidx_memo *mm)
{
    mm->epoch++;
}
/* Host h's room changed in some of the query's slots: forgets its path to the root. */
void hidx_memo_forget(struct hidx_memo *mm, const struct host_index *x, int h);
/* hidx_choose, remembering in memo (the same query each time since the last reset, the
 * changes since forgotten); the answer is the one hidx_choose gives. */
int hidx_choose_memo(const struct host_index *x, const int *slots, int len, const double *req,
                     enum hidx_rule rule, struct hidx_memo *memo);

#endif
