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

/* Fills p (sized for n hosts by the caller) and returns 1 if everything fits on n
 * hosts, 0 if not, -1 on allocation failure. */
int tsched_pack(const struct tsched_model *m, int n, const struct pack_rule *rule,
                struct tsched_plan *p, struct tsched_err *err);

/* A plan's arrays but the loads, then the loads for n hosts (planner.c). */
int tsched_plan_alloc(const struct tsched_model *m, struct tsched_plan *p);
int tsched_plan_resize(const struct tsched_model *m, int n, struct tsched_plan *p);
/* The most hosts any search needs to try. */
long tsched_fleet_limit(const struct tsched_model *m);

#endif
