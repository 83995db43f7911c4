/* A compact copy of a plan that fit, kept while the fleet search tries other sizes. */
#ifndef TSCHED_PLAN_COPY_H
#define TSCHED_PLAN_COPY_H

#include "sched_internal.h"

/* A batch job's runs are stored as (job, first offset, length, host): a plan's run_host
 * holds every slot of every window (most of them idle), the runs are a few per job. */
struct plan_run {
    int w, off, len, host;
};

struct plan_copy {
    int n; /* hosts; 0: nothing kept */
    int *day_host;
    double *load;
    struct plan_run *runs;
    size_t nruns, cap;
};

/* Keeps p (a plan of p->nhosts hosts) in c; -1 on OOM. */
int plan_copy_save(const struct tsched_model *m, const struct tsched_plan *p, struct plan_copy *c);
/* Puts the kept plan back into p (allocated by tsched_plan_alloc); -1 on OOM. */
int plan_copy_restore(const struct tsched_model *m, const struct plan_copy *c,
                      struct tsched_plan *p);
void plan_copy_free(struct plan_copy *c);

#endif
