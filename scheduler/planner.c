/*
 * The planner: the fewest fleet hosts on which tsched_pack succeeds.
 *
 * Starting from the lower bound (the caller's, or 1), it grows the fleet by 1, 2, 4...
 * hosts per failed attempt, then bisects back between the last failure and the first
 * success: a plan k hosts above LB* costs about 2 log2(k) attempts.
 */
#include "pack.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int alloc_plan(const struct tsched_model *m, int n, struct tsched_plan *p)
{
    memset(p, 0, sizeof *p);
    p->nhosts = n;
    p->day_host = malloc(((size_t)m->nw + 1) * sizeof *p->day_host);
    p->run_off = malloc(((size_t)m->nw + 1) * sizeof *p->run_off);
    size_t total = 0;
    for (int i = 0; p->run_off && i < m->nw; i++) {
        p->run_off[i] = total;
        if (m->w[i].kind == TSCHED_BATCH)
            total += (size_t)m->w[i].win_len;
    }
    p->run_host = malloc((total + 1) * sizeof *p->run_host);
    p->load = malloc(((size_t)n * m->nslots * TSCHED_NRES + 1) * sizeof *p->load);
    p->hosts_per_slot = calloc((size_t)m->nslots, sizeof *p->hosts_per_slot);
    if (!p->day_host || !p->run_off || !p->run_host || !p->load || !p->hosts_per_slot) {
        tsched_plan_free(p);
        return -1;
    }
    return 0;
}

void tsched_plan_free(struct tsched_plan *p)
{
    free(p->day_host);
    free(p->run_off);
    free(p->run_host);
    free(p->load);
    free(p->hosts_per_slot);
    memset(p, 0, sizeof *p);
}

/* Rejects what no fleet can hold, with the workload's name. */
int tsched_check(const struct tsched_model *m, struct tsched_err *err)
{
    double big[TSCHED_NRES] = {0};
    for (int i = 0; i < m->ntypes; i++)
        for (int r = 0; r < TSCHED_NRES; r++)
            big[r] = fmax(big[r], m->types[i].cap[r]);
    for (int i = 0; i < m->nw; i++) {
        const struct tsched_workload *w = &m->w[i];
        for (int r = 0; r < TSCHED_NRES; r++) {
            if (w->peak[r] > big[r] + TSCHED_EPS) {
                tsched_errf(err,
                            "%s \"%s\" needs %.3g %s at its peak but the largest host type has "
                            "%.3g: split it (\"replicas\") or add a larger host type",
                            tsched_kind_name(w->kind), w->name, w->peak[r],
                            r == TSCHED_CPU ? "cores" : "GB", big[r]);
                return tsched_errc(err, -1, TSCHED_E_INFEASIBLE);
            }
        }
        /* A workload must fit one host type in both resources at once. */
        bool ok = false;
        for (int t = 0; t < m->ntypes && !ok; t++) {
            bool fit = true;
            for (int r = 0; r < TSCHED_NRES; r++)
                fit &= w->peak[r] <= m->types[t].cap[r] + TSCHED_EPS;
            ok = fit;
        }
        if (!ok) {
            tsched_errf(err, "%s \"%s\" (%.3g cores, %.3g GB at peak) fits no single host type",
                        tsched_kind_name(w->kind), w->name, w->peak[TSCHED_CPU],
                        w->peak[TSCHED_MEM]);
            return tsched_errc(err, -1, TSCHED_E_INFEASIBLE);
        }
    }
    return 0;
}

/* A portfolio of packing rules, tried in turn until one fits: spreading host choice
 * with fine contention levels (best on fleets of many small workloads), the same with
 * coarse levels (size then weighs more than contention), and consolidating host choice
 * (best when big jobs need whole hosts). No one rule wins on every instance. */
static int pack_any(const struct tsched_model *m, int n, struct tsched_plan *p,
                    struct tsched_err *err)
{
    static const struct {
        bool spread;
        int levels;
    } rules[] = {{true, 20}, {true, 5}, {false, 20}};
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        int r = tsched_pack(m, n, rules[i].spread, rules[i].levels, p, err);
        if (r != 0)
            return r;
    }
    return 0;
}

int tsched_plan_build(const struct tsched_model *m, int lb, struct tsched_plan *out,
                      struct tsched_err *err)
{
    if (m->ntypes == 0)
        return tsched_errf(err, "no host types");
    if (tsched_check(m, err) < 0)
        return -1;
    int fleet_max = tsched_fleet_max(m);
    int n = lb > 0 ? lb : 1, fail = n - 1, attempts = 0, step = 1;
    struct tsched_plan best = {0}, cur;
    bool have = false;
    /* Any plan needs at most one host per workload, past the hosts of the limited types
     * that come first in fleet order (a workload may fit only a later, bigger type). */
    long limit = (long)m->nw + 1;
    for (int i = 0; i < m->ntypes; i++)
        limit += m->types[i].count;
    if (limit > fleet_max)
        limit = fleet_max;
    while (!have) {
        if (n > limit)
            return tsched_errc(
                err,
                tsched_errf(err, "no plan fits on %ld host(s)%s", limit,
                            limit == fleet_max ? " (all the hosts hostTypes allows)" : ""),
                TSCHED_E_INFEASIBLE);
        if (alloc_plan(m, n, &cur) < 0)
            return tsched_errf(err, "out of memory planning %d hosts", n);
        attempts++;
        int r = pack_any(m, n, &cur, err);
        if (r < 0) {
            tsched_plan_free(&cur);
            return -1;
        }
        if (r == 1) {
            best = cur;
            have = true;
            break;
        }
        tsched_plan_free(&cur);
        fail = n;
        /* Doubling steps, clamped so that n + step cannot overflow past the limit. */
        n = (long)n + step > limit ? (n < limit ? limit : limit + 1) : n + step;
        step = step < (1 << 29) ? step * 2 : step;
    }
    /* Bisection between the last failure and the first success. */
    int lo = fail + 1, hi = best.nhosts - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (alloc_plan(m, mid, &cur) < 0) {
            tsched_plan_free(&best);
            return tsched_errf(err, "out of memory planning %d hosts", mid);
        }
        attempts++;
        int r = pack_any(m, mid, &cur, err);
        if (r < 0) {
            tsched_plan_free(&cur);
            tsched_plan_free(&best);
            return -1;
        }
        if (r == 1) {
            tsched_plan_free(&best);
            best = cur;
            hi = mid - 1;
        } else {
            tsched_plan_free(&cur);
            lo = mid + 1;
        }
    }
    *out = best;
    out->attempts = attempts;
    tsched_plan_stats(m, out);
    return 0;
}
