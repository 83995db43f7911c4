/* Timing and sample statistics shared by the benchmark programs, so that every figure
 * they report is computed the same way. */
#ifndef TIDAL_BENCH_STATS_H
#define TIDAL_BENCH_STATS_H

#include <stdint.h>

/* CLOCK_MONOTONIC: wall-clock steps must not land inside a timed region. */
uint64_t now_ns(void);

/* A count from the command line (min..1000000); on anything else prints
 * "PROG: 'S': expected ..." and exits 2, as a usage error. */
int parse_count(const char *prog, const char *s, int min);

/* Sorts v in place. Median: mean of the two middle samples when n is even. */
double median(double *v, int n);

/* Nearest-rank percentile of sorted v (as median() leaves it): the smallest sample
 * >= p% of all samples. */
double percentile(const double *v, int n, double p);

#endif
