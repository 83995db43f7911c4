/* Packing every workload onto a fixed number of hosts: one attempt of the planner. */
#ifndef TSCHED_PACK_H
#define TSCHED_PACK_H

#include "sched_internal.h"

/* Fills p (allocated for n hosts by the caller) and returns 1 if everything fits on n
 * hosts, 0 if not, -1 on allocation failure. `spread` picks the host-choice rule;
 * batch jobs are ordered by `levels` levels of window contention, then by size. */
int tsched_pack(const struct tsched_model *m, int n, bool spread, int levels, struct tsched_plan *p,
                struct tsched_err *err);

#endif
