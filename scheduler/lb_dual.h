/* Lagrangian certificates that sharpen the max-flow lower bound (lb_dual.c). */
#ifndef TSCHED_LB_DUAL_H
#define TSCHED_LB_DUAL_H

#include "sched_internal.h"

struct lb_dual_job {
    int win_start, win_len, need; /* need: slots of work */
    double a[TSCHED_NRES];        /* size while running (identical copies summed) */
};

struct lb_dual_in {
    int T;
    const double *day; /* [slot][res] */
    const struct lb_dual_job *jobs;
    int nj;
};

/* The smallest n in [lo, hi] not proven infeasible (n - 1 was, if n > lo). */
int tsched_lb_dual(const struct tsched_model *m, const struct lb_dual_in *in, int lo, int hi,
                   int iters);

#endif
