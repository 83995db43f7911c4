/* Packing every workload onto a fixed number of hosts: one attempt of the planner. */
#ifndef TSCHED_PACK_H
#define TSCHED_PACK_H

#include "sched_internal.h"

/* How an attempt packs: `spread` picks the host-choice rule; batch jobs are planned
 * (ordered by `levels` levels of window contention, then by size) or, with `fifo`, run
 * as a FIFO job queue the way a cluster without batch planning runs them. */
struct pack_rule {
    bool spread;
    int levels;
    bool fifo;
};

/* What every packing attempt of one model computes alike, whatever the fleet size: the
 * day workloads' order and classes (hashing every curve) and the weights of the day's
 * blocks. A fleet search fills it with its first attempt and reuses it after. */
struct pack_prep {
    bool ready;
    int nd, nclass;
    int *day_order; /* [nd] */
    int *class_end; /* [nclass]: the classes are day_order[previous end .. end) */
    double *bw;     /* the block weights */
};
void pack_prep_free(struct pack_prep *prep);

/* Fills p (sized for n hosts by the caller) and returns 1 if everything fits on n
 * hosts, 0 if not, -1 on allocation failure. prep may be NULL. */
int tsched_pack(const struct tsched_model *m, int n, const struct pack_rule *rule,
                struct pack_prep *prep, struct tsched_plan *p, struct tsched_err *err);

/* A plan's arrays but the loads, then the loads for n hosts (planner.c). */
int tsched_plan_alloc(const struct tsched_model *m, struct tsched_plan *p);
int tsched_plan_resize(const struct tsched_model *m, int n, struct tsched_plan *p);
/* The most hosts any search needs to try. */
long tsched_fleet_limit(const struct tsched_model *m);

#endif
