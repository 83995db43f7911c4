/* The state of one packing attempt, shared by pack.c, pack_day.c and pack_batch.c. */
#ifndef TSCHED_PACKER_H
#define TSCHED_PACKER_H

#include "host_index.h"
#include "pack.h"

/* Day placement scores hosts on the day cut into NBLK blocks (hourly maxima): cheap
 * enough to score every host for every workload, fine enough to see complementary
 * shapes (a night-heavy curve next to a day-heavy one). */
#define NBLK 24
#define BLK(k, t) ((int)((long)(t)*NBLK / (k)->T))

struct packer {
    const struct tsched_model *m;
    bool spread; /* host choice: spread by alignment, or consolidate by best fit */
    int levels;  /* contention levels ordering the batch jobs (coarser: size counts more) */
    struct tsched_plan *p;
    int n, T;
    double *cap;  /* [host][res] */
    double *hmax; /* [host][res]: the host's highest load over the day */
    double *hblk; /* [host][block][res]: highest load in each of NBLK parts of the day */
    double bw[NBLK * TSCHED_NRES]; /* weight of a block: how close the fleet is to its peak */
    double *agg;                   /* [slot][res] summed over hosts */
    double *pres; /* [slot][res]: batch work not yet placed, spread over its window */
    double fleet[TSCHED_NRES];
    double ref[TSCHED_NRES]; /* first host type: makes sizes comparable */
    struct host_index ix;    /* free room per host and slot, built for the batch phase */
    struct pack_prep *prep;  /* or NULL */
};

/* fmax() is a libm call here; the hot loops want a plain compare. */
static inline double dmax(double a, double b)
{
    return a > b ? a : b;
}

static inline double *L(struct packer *k, int h, int t)
{
    return &k->p->load[((size_t)h * k->T + t) * TSCHED_NRES];
}

static inline bool fits(struct packer *k, int h, int t, const double *req)
{
    const double *l = L(k, h, t), *c = &k->cap[h * TSCHED_NRES];
    for (int r = 0; r < TSCHED_NRES; r++)
        if (l[r] + req[r] > c[r] + TSCHED_EPS)
            return false;
    return true;
}

void add(struct packer *k, int h, int t, const double *req);
double slot_cost(struct packer *k, int t, const double *req);

/* Places the day workloads order[0..nd) (sorted here); 1 if all fit, 0, -1 on OOM. */
int pack_days(struct packer *k, int *order, int nd);
/* Places the batch workloads order[0..nb) (sorted here); 1 if all fit, 0, -1 on OOM. */
int pack_batches(struct packer *k, int *order, int nb);
/* The same as a FIFO job queue (pack_fifo.c). */
int pack_fifo(struct packer *k, int *order, int nb);
/* Builds k->ix from the loads so far, for queries by `rule` (and first fit); -1 on OOM. */
int build_index(struct packer *k, enum hidx_rule rule);

#endif
