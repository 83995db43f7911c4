/* What a plan costs: hosts per slot, host-hours, and the batch events it implies. */
#include "sched_internal.h"

#include <math.h>

double tsched_batch_done(const struct tsched_model *m, const struct tsched_plan *p, int wi,
                         int *segments, int *moves)
{
    const struct tsched_workload *w = &m->w[wi];
    const int *run = &p->run_host[p->run_off[wi]];
    int segs = 0, mv = 0, slots = 0, last_host = -1;
    for (int o = 0; o < w->win_len; o++) {
        if (run[o] < 0)
            continue;
        slots++;
        if (o == 0 || run[o - 1] < 0) {
            segs++;
            /* Resuming elsewhere is a move, but it costs nothing beyond the resume. */
            if (last_host >= 0 && last_host != run[o])
                mv++;
        } else if (run[o - 1] != run[o]) {
            mv++;
        }
        last_host = run[o];
    }
    /* Live moves (host change between consecutive slots) pay a suspend + resume. */
    int live = 0;
    for (int o = 1; o < w->win_len; o++)
        live += run[o] >= 0 && run[o - 1] >= 0 && run[o] != run[o - 1];
    if (segments)
        *segments = segs;
    if (moves)
        *moves = mv;
    int switches = (segs > 0 ? segs - 1 : 0) + live;
    return (double)slots * m->slot_s - switches * w->switch_s;
}

void tsched_plan_stats(const struct tsched_model *m, struct tsched_plan *p)
{
    int T = m->nslots;
    p->peak_hosts = 0;
    p->host_hours = 0;
    for (int t = 0; t < T; t++) {
        int used = 0;
        for (int h = 0; h < p->nhosts; h++) {
            const double *l = &p->load[((size_t)h * T + t) * TSCHED_NRES];
            used += l[TSCHED_CPU] > TSCHED_EPS || l[TSCHED_MEM] > TSCHED_EPS;
        }
        p->hosts_per_slot[t] = used;
        if (used > p->peak_hosts)
            p->peak_hosts = used;
        p->host_hours += used * (double)m->slot_s / 3600.0;
    }
    p->starts = p->suspends = p->resumes = p->moves = 0;
    for (int i = 0; i < m->nw; i++) {
        if (m->w[i].kind != TSCHED_BATCH)
            continue;
        int segs, mv;
        tsched_batch_done(m, p, i, &segs, &mv);
        p->starts += segs > 0;
        p->suspends += segs > 1 ? segs - 1 : 0;
        p->resumes += segs > 1 ? segs - 1 : 0;
        p->moves += mv;
    }
}
