/*
 * Synthetic fleets for the benchmark: office-hours services and function pools, and a
 * night of batch jobs, drawn deterministically from a seed. The shapes are generic
 * (a raised cosine around a random peak hour), not fitted to any trace.
 */
#include "sched_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* 0..1 activity at hour h for a day peaking at `peak` with night floor `base`. */
static double diurnal(double h, double peak, double base)
{
    double d = fabs(h - peak);
    if (d > 12)
        d = 24 - d;
    double x = d < 6 ? 0.5 * (1 + cos(M_PI * d / 6)) : 0;
    return base + (1 - base) * x;
}

static double uniform(uint64_t *s, double a, double b)
{
    return a + (b - a) * tsched_rng_unit(s);
}

int tsched_synth(struct tsched_model *m, int n, uint64_t seed, struct tsched_err *err)
{
    if (m->ntypes == 0) {
        m->types = calloc(1, sizeof *m->types);
        if (!m->types)
            return tsched_errf(err, "out of memory");
        snprintf(m->types[0].name, sizeof m->types[0].name, "std-64c-256g");
        m->types[0].cap[TSCHED_CPU] = 64;
        m->types[0].cap[TSCHED_MEM] = 256;
        m->ntypes = 1;
    }
    uint64_t s = seed;
    for (int i = 0; i < n; i++) {
        double u = tsched_rng_unit(&s);
        char name[TSCHED_NAME_MAX];
        if (u < 0.6) {
            bool fn = u < 0.2;
            snprintf(name, sizeof name, "%s-%d", fn ? "fn" : "svc", i);
            struct tsched_workload *w =
                tsched_add(m, fn ? TSCHED_FUNCTION : TSCHED_SERVICE, name, err);
            if (!w)
                return -1;
            double peak = uniform(&s, 10, 16), base = uniform(&s, 0.05, 0.35);
            double cpu = uniform(&s, 0.5, 8), mem = fn ? uniform(&s, 0.5, 8) : uniform(&s, 1, 24);
            double mem_base = fn ? base : uniform(&s, 0.5, 0.9);
            for (int t = 0; t < m->nslots; t++) {
                double h = (t + 0.5) * m->slot_s / 3600.0;
                double noise = 1 + 0.05 * (tsched_rng_unit(&s) - 0.5);
                w->demand[TSCHED_CPU][t] = (float)(cpu * diurnal(h, peak, base) * noise);
                w->demand[TSCHED_MEM][t] = (float)(mem * diurnal(h, peak, mem_base));
            }
            tsched_finish_workload(m, w);
            continue;
        }
        snprintf(name, sizeof name, "batch-%d", i);
        struct tsched_workload *w = tsched_add(m, TSCHED_BATCH, name, err);
        if (!w)
            return -1;
        w->req[TSCHED_CPU] = uniform(&s, 1, 16);
        w->req[TSCHED_MEM] = w->req[TSCHED_CPU] * uniform(&s, 1, 4);
        w->duration_s = floor(uniform(&s, 900, 6 * 3600));
        w->suspendable = tsched_rng_unit(&s) < 0.7;
        w->switch_s = 2 * w->req[TSCHED_MEM] / m->snapshot_gbs;
        int start = (int)(uniform(&s, 17, 23) * 3600) / m->slot_s;
        int len = (int)(uniform(&s, 9, 14) * 3600) / m->slot_s;
        int need = tsched_batch_slots_needed(m, w, 1, 0);
        w->win_start = start % m->nslots;
        w->win_len = len < need ? need : len;
        tsched_finish_workload(m, w);
    }
    return 0;
}
