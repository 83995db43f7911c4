/* The plan's invariants, rechecked from the placements alone: the planner's own load
 * bookkeeping is not trusted, so a bug there shows up as a violation here. */
#include "sched_internal.h"

#include <stdlib.h>
#include <string.h>

void tsched_plan_verify(const struct tsched_model *m, const struct tsched_plan *p,
                        struct tsched_verify *v)
{
    int T = m->nslots, n = p->nhosts;
    memset(v, 0, sizeof *v);
    double *load = calloc((size_t)n * T * TSCHED_NRES + 1, sizeof *load);
    if (!load) {
        v->unplaced = m->nw;
        return;
    }
    for (int i = 0; i < m->nw; i++) {
        const struct tsched_workload *w = &m->w[i];
        if (w->kind != TSCHED_BATCH) {
            int h = p->day_host[i];
            if (h < 0 || h >= n) {
                v->unplaced++;
                continue;
            }
            for (int t = 0; t < T; t++)
                for (int r = 0; r < TSCHED_NRES; r++)
                    load[((size_t)h * T + t) * TSCHED_NRES + r] += w->demand[r][t];
            continue;
        }
        const int *run = &p->run_host[p->run_off[i]];
        bool bad = false;
        /* Runs are stored per window offset, so a run outside the window cannot exist;
         * a wrong host index can. */
        for (int o = 0; o < w->win_len; o++) {
            if (run[o] < -1 || run[o] >= n) {
                bad = true;
                continue;
            }
            if (run[o] < 0)
                continue;
            int t = (w->win_start + o) % T;
            for (int r = 0; r < TSCHED_NRES; r++)
                load[((size_t)run[o] * T + t) * TSCHED_NRES + r] += w->req[r];
        }
        if (bad) {
            v->unplaced++;
            continue;
        }
        int segs, moves;
        double done = tsched_batch_done(m, p, i, &segs, &moves);
        if (done + 1e-6 < w->duration_s)
            v->deadline_misses++;
        if (!w->suspendable && (segs > 1 || moves > 0))
            v->rule_violations++;
    }
    for (int h = 0; h < n; h++) {
        double cap[TSCHED_NRES];
        tsched_host_cap(m, h, cap);
        for (int t = 0; t < T; t++) {
            int over = 0;
            for (int r = 0; r < TSCHED_NRES; r++)
                over += load[((size_t)h * T + t) * TSCHED_NRES + r] > cap[r] * (1 + 1e-9) + 1e-6;
            v->capacity_violations += over;
            v->overloaded_host_slots += over > 0;
        }
    }
    free(load);
}
