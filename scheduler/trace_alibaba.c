/*
 * Alibaba cluster-trace-v2017 batch tasks -> suspendable batch jobs.
 *
 * A task's instances are assumed to run side by side for the task's whole span
 * (end - create): an upper bound on its work, since the table does not say how the
 * instances overlapped. Instances are chunked so that a chunk stays within a bundle;
 * each chunk is a job of run time = span, released at batch_start + create time
 * (local, wrapping at midnight), due max(window, span + 2 slots) later. Normalized
 * memory is a fraction of a machine's memory: the first host type's. Rows with missing
 * sizes, negative or inverted times, or spans over a day are rejected and counted.
 */
#include "traces.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Task times are seconds from the trace's start (the 2017 trace spans a day) and tasks
 * have up to thousands of instances: rows past these bounds are rejected, so that
 * the arithmetic below cannot overflow and one row cannot add billions of jobs. */
#define CREATE_MAX (1L << 40)
#define INSTANCES_MAX 100000L

static bool parse_long(const char *s, long *v)
{
    char *end;
    *v = strtol(s, &end, 10);
    return end != s && *end == '\0';
}

static bool parse_pos(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    return end != s && *end == '\0' && *v > 0 && isfinite(*v);
}

int trace_alibaba(struct trace_ctx *c)
{
    struct tsched_model *m = c->m;
    char path[512];
    FILE *f = trace_open(c, "alibaba-batch-2017/batch_task.csv", path, sizeof path);
    if (!f)
        return -1;
    char *line = NULL, *fld[16];
    size_t cap = 0;
    long lineno = 0;
    int rc = -1;
    double memref = m->types[0].cap[TSCHED_MEM];
    while (getline(&line, &cap, f) > 0) {
        if (++lineno == 1)
            continue; /* header */
        int nf = trace_split(line, ',', fld, 16);
        long create, end, job, task, inst;
        double cpu, mem;
        if (nf != 8) {
            trace_skip(c, path, lineno, "expected 8 columns");
            continue;
        }
        if (!parse_long(fld[0], &create) || !parse_long(fld[1], &end) ||
            !parse_long(fld[2], &job) || !parse_long(fld[3], &task) || !parse_long(fld[4], &inst)) {
            trace_skip(c, path, lineno, "times, ids or instance count not integers");
            continue;
        }
        if (!parse_pos(fld[6], &cpu) || !parse_pos(fld[7], &mem) || mem > 1) {
            trace_skip(c, path, lineno, "missing or invalid CPU / normalized memory request");
            continue;
        }
        /* end - create is only taken once both are known to be in range */
        if (create < 0 || create > CREATE_MAX || end <= create || inst < 1 ||
            inst > INSTANCES_MAX || end - create > 86400 - 3L * m->slot_s) {
            trace_skip(c, path, lineno,
                       "odd times (negative, end <= create, or over a day) or "
                       "no instances, or over 100000");
            continue;
        }
        long span = end - create;
        if (!trace_keep(c, (uint64_t)job * 2654435761u))
            continue;
        c->rep->batch_tasks++;
        double icpu = cpu / 100.0, imem = mem * memref;
        /* Tiny requests fit more instances in a bundle than a long holds: compared as
         * doubles first. */
        double fit = floor(fmin(c->bundle[TSCHED_CPU] / icpu, c->bundle[TSCHED_MEM] / imem) + 1e-9);
        long per = fit >= (double)inst ? inst : (long)fmax(1, fit);
        long release = c->o->batch_start_s + create;
        long win = c->o->batch_window_s;
        if (win < span + 2L * m->slot_s)
            win = span + 2L * m->slot_s;
        if (win > 86400)
            win = 86400;
        long first = (long)ceil((double)release / m->slot_s);
        long lastslot = (long)floor((double)(release + win) / m->slot_s);
        for (long done = 0, part = 0; done < inst; part++) {
            long k = inst - done < per ? inst - done : per;
            char name[TSCHED_NAME_MAX];
            snprintf(name, sizeof name, "task-%ld-%ld.%ld", job, task, part);
            struct tsched_workload *w = tsched_add(m, TSCHED_BATCH, name, c->err);
            if (!w)
                goto out;
            w->req[TSCHED_CPU] = k * icpu;
            w->req[TSCHED_MEM] = k * imem;
            w->duration_s = (double)span;
            w->suspendable = true;
            w->switch_s = 2 * w->req[TSCHED_MEM] / m->snapshot_gbs;
            w->win_start = tsched_mod(first, m->nslots);
            w->win_len = (int)(lastslot - first);
            if (w->win_len > m->nslots)
                w->win_len = m->nslots;
            tsched_finish_workload(m, w);
            c->rep->batch_jobs++;
            done += k;
        }
    }
    rc = 0;
out:
    free(line);
    fclose(f);
    return rc;
}
