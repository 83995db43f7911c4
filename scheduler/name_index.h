/* Workloads found by name: days of history and the replayed day name the same
 * workloads, and their indices differ from one model to the next. */
#ifndef TSCHED_NAME_INDEX_H
#define TSCHED_NAME_INDEX_H

#include "sched_internal.h"

struct name_index {
    const struct tsched_model *m;
    int *slot; /* open addressing: workload index + 1, 0 = empty */
    size_t size;
};

int nidx_build(struct name_index *x, const struct tsched_model *m);
/* Adds workload i of x->m (its name must be new); -1 if the table must grow first. */
int nidx_add(struct name_index *x, int i);
/* Index of the workload called `name`, or -1. */
int nidx_find(const struct name_index *x, const char *name);
void nidx_free(struct name_index *x);

#endif
