/*
 * A plan judged on the day that actually came: every workload keeps the host (and a
 * batch job the runs) the plan gave it, by name, and carries its actual demand. What
 * the forecast missed shows as host-slots over capacity, demand beyond capacity (not
 * served), batch jobs whose planned runs do not cover their actual work, and workloads
 * the plan never saw.
 */
#include "name_index.h"

#include <stdlib.h>
#include <string.h>

/* Adds the demand above capacity to r; counts the host-slot if there is any. */
static void judge_slot(const double *load, const double *cap, double hours, struct tsched_replay *r)
{
    bool over = false;
    for (int k = 0; k < TSCHED_NRES; k++)
        if (load[k] > cap[k] * (1 + 1e-9) + 1e-6) {
            over = true;
            r->unserved[k] += (load[k] - cap[k]) * hours;
        }
    r->overloaded_host_slots += over;
}

int tsched_replay(const struct tsched_model *pm, const struct tsched_plan *p,
                  const struct tsched_model *am, struct tsched_replay *r, struct tsched_err *err)
{
    int T = pm->nslots, n = p->nhosts;
    double hours = pm->slot_s / 3600.0;
    memset(r, 0, sizeof *r);
    r->host_slots = n * T;
    r->suspends = p->suspends;
    r->resumes = p->resumes;
    if (am->slot_s != pm->slot_s)
        return tsched_errf(err, "the replayed day has %d s slots, the plan %d s", am->slot_s,
                           pm->slot_s);
    struct name_index ix;
    double *load = calloc((size_t)n * T * TSCHED_NRES + 1, sizeof *load);
    if (!load || nidx_build(&ix, pm) < 0) {
        free(load);
        return tsched_errc(err, tsched_errf(err, "out of memory replaying"), TSCHED_E_INTERNAL);
    }
    for (int i = 0; i < am->nw; i++) {
        const struct tsched_workload *w = &am->w[i];
        int j = nidx_find(&ix, w->name);
        if (j < 0 || pm->w[j].kind != w->kind) {
            /* Nowhere to run: all of it goes unserved, and a job misses its deadline. */
            r->unplanned++;
            if (w->kind == TSCHED_BATCH) {
                r->deadline_misses++;
                for (int k = 0; k < TSCHED_NRES; k++)
                    r->unserved[k] += w->req[k] * w->duration_s / 3600.0;
            } else {
                for (int k = 0; k < TSCHED_NRES; k++)
                    for (int t = 0; t < T; t++)
                        r->unserved[k] += w->demand[k][t] * hours;
            }
            continue;
        }
        if (w->kind != TSCHED_BATCH) {
            int h = p->day_host[j];
            for (int t = 0; t < T; t++)
                for (int k = 0; k < TSCHED_NRES; k++)
                    load[((size_t)h * T + t) * TSCHED_NRES + k] += w->demand[k][t];
            continue;
        }
        /* The job runs in its planned slots at its actual size; the work those give, net
         * of the planned switch costs, must cover its actual run time. */
        const struct tsched_workload *pw = &pm->w[j];
        const int *run = &p->run_host[p->run_off[j]];
        for (int o = 0; o < pw->win_len; o++)
            if (run[o] >= 0)
                for (int k = 0; k < TSCHED_NRES; k++)
                    load[((size_t)run[o] * T + (pw->win_start + o) % T) * TSCHED_NRES + k] +=
                        w->req[k];
        if (tsched_batch_done(pm, p, j, NULL, NULL) + 1e-6 < w->duration_s)
            r->deadline_misses++;
    }
    for (int h = 0; h < n; h++) {
        double cap[TSCHED_NRES];
        tsched_host_cap(pm, h, cap);
        for (int t = 0; t < T; t++)
            judge_slot(&load[((size_t)h * T + t) * TSCHED_NRES], cap, hours, r);
    }
    nidx_free(&ix);
    free(load);
    return 0;
}
