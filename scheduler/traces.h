/* Shared pieces of the trace adapters (trace_*.c). */
#ifndef TSCHED_TRACES_H
#define TSCHED_TRACES_H

#include <stdio.h>

#include "sched_internal.h"

struct trace_ctx {
    struct tsched_model *m;
    const struct tsched_trace_opts *o;
    struct tsched_trace_report *rep;
    struct tsched_err *err;
    const char *dir;
    double bundle[TSCHED_NRES]; /* largest bundle, chunk or replica */
    char skip_note[256];        /* first rejected row, for the report */
};

/* Opens dir/sub; NULL (with a message naming the path) if it cannot. */
FILE *trace_open(struct trace_ctx *c, const char *sub, char *path, size_t pathlen);
/* Splits a CSV line in place; returns the number of fields (at most max). */
int trace_split(char *line, char sep, char **f, int max);
/* Deterministic keep/drop for sampling, from a stable id. */
bool trace_keep(const struct trace_ctx *c, uint64_t id);
uint64_t trace_hash(const char *s);
/* Records a rejected row: counted, and the first one is quoted in the report. */
void trace_skip(struct trace_ctx *c, const char *file, long line, const char *why);
/* Adds a day curve (plan-local slots) as one workload or, if `split`, as equal replicas
 * so that no piece exceeds the bundle size (a function pool can be split, a VM cannot). */
int trace_add_day(struct trace_ctx *c, enum tsched_kind kind, const char *name, const float *cpu,
                  const float *mem, bool split);
/* What trace_add_day returns for a curve that would need more than TRACE_MAX_REPLICAS
 * pieces (or an infinite demand): a damaged row, added as nothing. */
#define TRACE_TOO_LARGE (-2)
#define TRACE_MAX_REPLICAS 10000

int trace_functions(struct trace_ctx *c);
int trace_vms(struct trace_ctx *c);
int trace_alibaba(struct trace_ctx *c);

#endif
