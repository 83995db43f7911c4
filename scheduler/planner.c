/*
 * The planner: the fewest fleet hosts on which tsched_pack succeeds.
 *
 * Starting from the lower bound (the caller's, or 1), tsched_fleet_search grows the
 * fleet by doubling steps per failed attempt, then bisects back between the last
 * failure and the first success.
 */
#include "pack.h"
#include "plan_copy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tsched_plan_alloc(const struct tsched_model *m, struct tsched_plan *p)
{
    memset(p, 0, sizeof *p);
    p->day_host = malloc(((size_t)m->nw + 1) * sizeof *p->day_host);
    p->run_off = malloc(((size_t)m->nw + 1) * sizeof *p->run_off);
    size_t total = 0;
    for (int i = 0; p->run_off && i < m->nw; i++) {
        p->run_off[i] = total;
        if (m->w[i].kind == TSCHED_BATCH)
            total += (size_t)m->w[i].win_len;
    }
    p->run_host = malloc((total + 1) * sizeof *p->run_host);
    p->hosts_per_slot = calloc((size_t)m->nslots, sizeof *p->hosts_per_slot);
    if (!p->day_host || !p->run_off || !p->run_host || !p->hosts_per_slot) {
        tsched_plan_free(p);
        return -1;
    }
    return 0;
}

int tsched_plan_resize(const struct tsched_model *m, int n, struct tsched_plan *p)
{
    double *load = realloc(p->load, ((size_t)n * m->nslots * TSCHED_NRES + 1) * sizeof *load);
    if (!load)
        return -1;
    p->load = load;
    p->nhosts = n;
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

/* A portfolio of packing rules: spreading host choice with fine contention levels (best
 * on fleets of many small workloads), the same with coarse levels (size then weighs
 * more than contention), and consolidating host choice (best when big jobs need whole
 * hosts). No one rule wins on every instance. */
static const struct pack_rule rules[] = {{true, 20, false}, {true, 5, false}, {false, 20, false}};
#define NRULES (int)(sizeof rules / sizeof rules[0])

struct attempt_ctx {
    const struct tsched_model *m;
    struct tsched_plan *p;
    struct tsched_err *err;
    int rule;
    int held;              /* hosts of the plan that fit now in p, 0 if p holds none */
    struct plan_copy best; /* the smallest plan that fit so far, once p is reused */
    int *tried, sizes;     /* fleet sizes tried (the rules share sizes) */
    struct pack_prep prep; /* what every attempt computes alike */
};

/* Counts n among the sizes tried; -1 on OOM. */
static int note_size(struct attempt_ctx *a, int n)
{
    for (int i = 0; i < a->sizes; i++)
        if (a->tried[i] == n)
            return 0;
    int *t = realloc(a->tried, ((size_t)a->sizes + 1) * sizeof *t);
    if (!t)
        return -1;
    a->tried = t;
    a->tried[a->sizes++] = n;
    return 0;
}

/* One packing attempt on n hosts into p with the current rule: 1 fits, 0 does not, -1
 * error. A plan that fit and is about to be overwritten is kept first: the search
 * only tries smaller sizes after a fit, so it is the best so far. */
static int attempt(void *ctx, int n)
{
    struct attempt_ctx *a = ctx;
    if (a->held && plan_copy_save(a->m, a->p, &a->best) < 0)
        goto oom;
    a->held = 0;
    if (note_size(a, n) < 0 || tsched_plan_resize(a->m, n, a->p) < 0)
        goto oom;
    int r = tsched_pack(a->m, n, &rules[a->rule], &a->prep, a->p, a->err);
    if (r == 1)
        a->held = n;
    return r;
oom:
    return tsched_errc(a->err, tsched_errf(a->err, "out of memory planning %d hosts", n),
                       TSCHED_E_INTERNAL);
}

long tsched_fleet_limit(const struct tsched_model *m)
{
    /* Any plan needs at most one host per workload, past the hosts of the limited types
     * that come first in fleet order (a workload may fit only a later, bigger type). */
    long limit = (long)m->nw + 1;
    for (int i = 0; i < m->ntypes; i++)
        limit += m->types[i].count;
    return limit > tsched_fleet_max(m) ? tsched_fleet_max(m) : limit;
}

int tsched_plan_build(const struct tsched_model *m, int lb, struct tsched_plan *out,
                      struct tsched_err *err)
{
    if (m->ntypes == 0)
        return tsched_errf(err, "no host types");
    if (tsched_check(m, err) < 0)
        return -1;
    long limit = tsched_fleet_limit(m);
    /* One plan in memory (its runs are the big part), the best so far as a compact
     * copy (plan_copy.c). */
    if (tsched_plan_alloc(m, out) < 0)
        return tsched_errc(err, tsched_errf(err, "out of memory planning"), TSCHED_E_INTERNAL);
    struct attempt_ctx ctx = {.m = m, .p = out, .err = err};
    /* The first rule searches the fleet size; the others are then tried one host
     * below its answer (and further down while they fit). With each rule monotone in
     * the fleet size this finds the smallest fleet any rule fits, as trying every rule
     * at every size would, for two more packings instead of two per failed size. */
    int attempts;
    bool last;
    int best = tsched_fleet_search(lb, limit, attempt, &ctx, &attempts, &last);
    for (ctx.rule = 1; best > 0 && ctx.rule < NRULES; ctx.rule++) {
        while (best - 1 >= (lb > 1 ? lb : 1)) {
            int r = attempt(&ctx, best - 1);
            if (r < 0)
                best = -1;
            if (r != 1)
                break;
            best--;
        }
    }
    if (best == 0) {
        plan_copy_free(&ctx.best);
        free(ctx.tried);
        pack_prep_free(&ctx.prep);
        tsched_plan_free(out);
        return tsched_errc(
            err,
            tsched_errf(err, "no plan fits on %ld host(s)%s", limit,
                        limit == tsched_fleet_max(m) ? " (all the hosts hostTypes allows)" : ""),
            TSCHED_E_INFEASIBLE);
    }
    if (best < 0 || (ctx.held != best && plan_copy_restore(m, &ctx.best, out) < 0)) {
        plan_copy_free(&ctx.best);
        free(ctx.tried);
        pack_prep_free(&ctx.prep);
        tsched_plan_free(out);
        return -1;
    }
    plan_copy_free(&ctx.best);
    free(ctx.tried);
    pack_prep_free(&ctx.prep);
    out->attempts = ctx.sizes;
    tsched_plan_stats(m, out);
    return 0;
}
