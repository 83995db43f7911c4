/* Trace adapters: turn the public traces into a model (see docs/scheduler.md). */
#include "traces.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void tsched_trace_opts_default(struct tsched_trace_opts *o)
{
    memset(o, 0, sizeof *o);
    o->tz = "UTC";
    o->sample = 1.0;
    o->vm_day = -1;
    o->batch_start_s = 18 * 3600;
    o->batch_window_s = 12 * 3600;
    o->bundle_frac = 0.0625;
}

FILE *trace_open(struct trace_ctx *c, const char *sub, char *path, size_t pathlen)
{
    snprintf(path, pathlen, "%s/%s", c->dir, sub);
    FILE *f = fopen(path, "r");
    if (!f)
        tsched_errc(c->err, tsched_errf(c->err, "%s: cannot open: %s", path, strerror(errno)),
                    TSCHED_E_NOFILE);
    return f;
}

int trace_split(char *line, char sep, char **f, int max)
{
    int n = 0;
    char *p = line;
    size_t len = strlen(p);
    while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
        p[--len] = '\0';
    while (n < max) {
        f[n++] = p;
        char *q = strchr(p, sep);
        if (!q)
            break;
        *q = '\0';
        p = q + 1;
    }
    return n;
}

uint64_t trace_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

bool trace_keep(const struct trace_ctx *c, uint64_t id)
{
    if (c->o->sample >= 1)
        return true;
    uint64_t s = id;
    return tsched_rng_unit(&s) < c->o->sample;
}

void trace_skip(struct trace_ctx *c, const char *file, long line, const char *why)
{
    if (c->rep->skipped_rows++ == 0)
        snprintf(c->skip_note, sizeof c->skip_note, "first: %s:%ld: %s", file, line, why);
}

int trace_add_day(struct trace_ctx *c, enum tsched_kind kind, const char *name, const float *cpu,
                  const float *mem, bool split)
{
    struct tsched_model *m = c->m;
    double peak[TSCHED_NRES] = {0};
    for (int t = 0; t < m->nslots; t++) {
        peak[TSCHED_CPU] = fmax(peak[TSCHED_CPU], cpu[t]);
        peak[TSCHED_MEM] = fmax(peak[TSCHED_MEM], mem[t]);
    }
    if (peak[TSCHED_CPU] <= 0 && peak[TSCHED_MEM] <= 0)
        return 0; /* idle all day: nothing to place */
    double pieces = 1;
    for (int r = 0; split && r < TSCHED_NRES; r++)
        pieces = fmax(pieces, ceil(peak[r] / c->bundle[r] - 1e-9));
    /* Checked before the conversion: an absurd demand (a count of 1e308 invocations)
     * would not fit an int, nor its replicas memory. */
    if (!(pieces <= TRACE_MAX_REPLICAS))
        return TRACE_TOO_LARGE;
    int k = (int)pieces;
    for (int i = 0; i < k; i++) {
        char nm[TSCHED_NAME_MAX];
        if (k > 1)
            snprintf(nm, sizeof nm, "%.48s#%d", name, i);
        else
            snprintf(nm, sizeof nm, "%.56s", name);
        struct tsched_workload *w = tsched_add(m, kind, nm, c->err);
        if (!w)
            return -1;
        for (int t = 0; t < m->nslots; t++) {
            w->demand[TSCHED_CPU][t] = cpu[t] / k;
            w->demand[TSCHED_MEM][t] = mem[t] / k;
        }
        tsched_finish_workload(m, w);
    }
    return k;
}

int tsched_load_traces(struct tsched_model *m, const char *dir, const struct tsched_trace_opts *o,
                       struct tsched_trace_report *rep, struct tsched_err *err)
{
    memset(rep, 0, sizeof *rep);
    if (m->ntypes == 0)
        return tsched_errf(err, "--from-traces needs --hosts (the bundle sizes and the batch "
                                "memory scale come from the first host type)");
    if (!(o->sample > 0 && o->sample <= 1))
        return tsched_errf(err, "--sample %g: expected a fraction in (0, 1]", o->sample);
    if (!(o->bundle_frac > 0 && o->bundle_frac <= 1))
        return tsched_errf(err, "bundle fraction %g: expected (0, 1]", o->bundle_frac);
    struct trace_ctx c = {.m = m, .o = o, .rep = rep, .err = err, .dir = dir};
    for (int r = 0; r < TSCHED_NRES; r++)
        c.bundle[r] = o->bundle_frac * m->types[0].cap[r];
    /* The traces are in UTC; the plan runs in the zone they are shifted into. */
    struct tsched_err e2;
    int off;
    if (tsched_tz_offset(o->tz, m->ref_day, &off, &e2) < 0)
        return tsched_errf(err, "--tz: %s", e2.msg);
    m->tz_offset_s = off;
    snprintf(m->tz, sizeof m->tz, "%s", o->tz);
    if (!o->no_functions && trace_functions(&c) < 0)
        return -1;
    if (!o->no_vms && trace_vms(&c) < 0)
        return -1;
    if (!o->no_batch && trace_alibaba(&c) < 0)
        return -1;
    snprintf(rep->note, sizeof rep->note, "%s", c.skip_note);
    return 0;
}
