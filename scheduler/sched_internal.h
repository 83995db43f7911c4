/* Helpers shared by the scheduler's files; not part of the public API. */
#ifndef TSCHED_INTERNAL_H
#define TSCHED_INTERNAL_H

#include <tidal/scheduler.h>

/* Formats into err (if not NULL) and returns -1 so callers can `return tsched_errf()`. */
int tsched_errf(struct tsched_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets err->code after a tsched_errf(); returns rc. */
int tsched_errc(struct tsched_err *err, int rc, enum tsched_err_code code);

/* Capacities below this are treated as equal: the planner works in doubles. */
#define TSCHED_EPS 1e-9

static inline int tsched_mod(long a, int n)
{
    long r = a % n;
    return (int)(r < 0 ? r + n : r);
}

/* Size of a workload relative to a host, for "decreasing" orders. */
double tsched_norm_size(const double v[TSCHED_NRES], const double cap[TSCHED_NRES]);

/* Slots a batch workload must run with `segments` runs and `moves` host changes. */
int tsched_batch_slots_needed(const struct tsched_model *m, const struct tsched_workload *w,
                              int segments, int moves);

/* Orders batch workloads so that identical ones (size, run time, window, suspend rules)
 * sit side by side; 0 when identical. Identical jobs can be planned as one class. */
int tsched_batch_cmp(const struct tsched_workload *x, const struct tsched_workload *y);

/* The smallest n in [lo, limit] with works(ctx, n) == 1, assuming bigger fleets work
 * when smaller ones do (fleet_search.c); 0 if none, -1 if works() failed (-1). Counts
 * the calls in *attempts; *last_worked tells whether the last call was the answer's. */
int tsched_fleet_search(int lo, long limit, int (*works)(void *ctx, int n), void *ctx,
                        int *attempts, bool *last_worked);

/* Fleet capacities: cap of host i, and summed capacity of hosts 0..n-1. */
void tsched_host_cap(const struct tsched_model *m, int host, double cap[TSCHED_NRES]);
void tsched_fleet_cap(const struct tsched_model *m, int n, double cap[TSCHED_NRES]);

/* First-fit decreasing of static vectors (peaks or requests); returns hosts used. */
int tsched_ffd_static(const struct tsched_model *m, const double *size, int n, int *host_of);

/* splitmix64: a tiny deterministic generator for synthetic data and sampling. */
static inline uint64_t tsched_rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline double tsched_rng_unit(uint64_t *s)
{
    return (double)(tsched_rng(s) >> 11) / 9007199254740992.0;
}

#endif
