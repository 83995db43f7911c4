/* The model: slots, host types, workloads. */
#include "sched_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tsched_model_init(struct tsched_model *m, int slot_s, struct tsched_err *err)
{
    memset(m, 0, sizeof *m);
    if (slot_s < 60 || 86400 % slot_s != 0)
        return tsched_errf(err,
                           "slot length %d s: expected a divisor of 24 h of at least 60 s "
                           "(e.g. 60s, 5m, 15m, 1h)",
                           slot_s);
    m->slot_s = slot_s;
    m->nslots = 86400 / slot_s;
    strcpy(m->tz, "UTC");
    m->snapshot_gbs = 1.0;
    m->ref_day = 20454; /* 2026-01-01: a fixed date so plans are reproducible */
    return 0;
}

void tsched_model_free(struct tsched_model *m)
{
    for (int i = 0; i < m->nw; i++)
        for (int r = 0; r < TSCHED_NRES; r++)
            free(m->w[i].demand[r]);
    free(m->w);
    free(m->types);
    memset(m, 0, sizeof *m);
}

struct tsched_workload *tsched_add(struct tsched_model *m, enum tsched_kind kind, const char *name,
                                   struct tsched_err *err)
{
    if (m->nw == m->capw) {
        int nc = m->capw ? m->capw * 2 : 64;
        struct tsched_workload *nw = realloc(m->w, (size_t)nc * sizeof *nw);
        if (!nw) {
            tsched_errf(err, "out of memory for %d workloads", nc);
            return NULL;
        }
        m->w = nw;
        m->capw = nc;
    }
    struct tsched_workload *w = &m->w[m->nw];
    memset(w, 0, sizeof *w);
    w->kind = kind;
    snprintf(w->name, sizeof w->name, "%s", name);
    if (kind != TSCHED_BATCH) {
        for (int r = 0; r < TSCHED_NRES; r++) {
            w->demand[r] = calloc((size_t)m->nslots, sizeof(float));
            if (!w->demand[r]) {
                free(w->demand[0]);
                tsched_errf(err, "out of memory for workload %s", name);
                return NULL;
            }
        }
    }
    m->nw++;
    return w;
}

void tsched_finish_workload(const struct tsched_model *m, struct tsched_workload *w)
{
    if (w->kind == TSCHED_BATCH) {
        for (int r = 0; r < TSCHED_NRES; r++)
            w->peak[r] = w->req[r];
        return;
    }
    for (int r = 0; r < TSCHED_NRES; r++) {
        double p = 0;
        for (int t = 0; t < m->nslots; t++)
            p = fmax(p, w->demand[r][t]);
        w->peak[r] = p;
    }
}

int tsched_fleet_type(const struct tsched_model *m, int host)
{
    for (int i = 0; i < m->ntypes; i++) {
        if (m->types[i].count == 0 || host < m->types[i].count)
            return i;
        host -= m->types[i].count;
    }
    return -1;
}

int tsched_fleet_max(const struct tsched_model *m)
{
    long n = 0;
    for (int i = 0; i < m->ntypes; i++) {
        if (m->types[i].count == 0)
            return INT32_MAX;
        n += m->types[i].count;
    }
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

void tsched_host_cap(const struct tsched_model *m, int host, double cap[TSCHED_NRES])
{
    int t = tsched_fleet_type(m, host);
    for (int r = 0; r < TSCHED_NRES; r++)
        cap[r] = t < 0 ? 0 : m->types[t].cap[r];
}

void tsched_fleet_cap(const struct tsched_model *m, int n, double cap[TSCHED_NRES])
{
    for (int r = 0; r < TSCHED_NRES; r++)
        cap[r] = 0;
    int left = n;
    for (int i = 0; i < m->ntypes && left > 0; i++) {
        int k = m->types[i].count == 0 || m->types[i].count > left ? left : m->types[i].count;
        for (int r = 0; r < TSCHED_NRES; r++)
            cap[r] += k * m->types[i].cap[r];
        left -= k;
    }
}

double tsched_norm_size(const double v[TSCHED_NRES], const double cap[TSCHED_NRES])
{
    double s = 0;
    for (int r = 0; r < TSCHED_NRES; r++)
        if (cap[r] > 0)
            s = fmax(s, v[r] / cap[r]);
    return s;
}

int tsched_batch_cmp(const struct tsched_workload *x, const struct tsched_workload *y)
{
    if (x->win_start != y->win_start)
        return x->win_start - y->win_start;
    if (x->win_len != y->win_len)
        return x->win_len - y->win_len;
    for (int r = 0; r < TSCHED_NRES; r++)
        if (x->req[r] != y->req[r])
            return x->req[r] < y->req[r] ? -1 : 1;
    if (x->duration_s != y->duration_s)
        return x->duration_s < y->duration_s ? -1 : 1;
    if (x->suspendable != y->suspendable)
        return x->suspendable ? 1 : -1;
    if (x->switch_s != y->switch_s)
        return x->switch_s < y->switch_s ? -1 : 1;
    return 0;
}

int tsched_batch_slots_needed(const struct tsched_model *m, const struct tsched_workload *w,
                              int segments, int moves)
{
    int switches = (segments > 0 ? segments - 1 : 0) + moves;
    double need = w->duration_s + switches * w->switch_s;
    /* A hair of tolerance so that exact multiples of the slot do not round up; more than
     * a day cannot fit any window, and capping keeps the int conversion defined. */
    double slots = ceil(need / m->slot_s - 1e-9);
    return slots > m->nslots ? m->nslots + 1 : (int)slots;
}

const char *tsched_kind_name(enum tsched_kind k)
{
    switch (k) {
    case TSCHED_SERVICE:
        return "service";
    case TSCHED_FUNCTION:
        return "function";
    case TSCHED_BATCH:
        return "batch";
    }
    return "?";
}
