/*
 * A compact copy of a plan. The fleet search packs every size into one plan (its
 * run_host array, a slot per window slot of every batch job, is most of the memory on
 * big inputs); the best plan so far is kept here as runs, a few per job, so that the
 * search may try other sizes without packing the best one again at the end.
 */
#include "plan_copy.h"
#include "pack.h"

#include <stdlib.h>
#include <string.h>

static int push_run(struct plan_copy *c, int w, int off, int len, int host)
{
    if (c->nruns == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 1024;
        struct plan_run *r = realloc(c->runs, cap * sizeof *r);
        if (!r)
            return -1;
        c->runs = r;
        c->cap = cap;
    }
    c->runs[c->nruns++] = (struct plan_run){w, off, len, host};
    return 0;
}

int plan_copy_save(const struct tsched_model *m, const struct tsched_plan *p, struct plan_copy *c)
{
    size_t ld = (size_t)p->nhosts * m->nslots * TSCHED_NRES;
    double *load = realloc(c->load, (ld + 1) * sizeof *load);
    if (!load)
        return -1;
    c->load = load;
    if (!c->day_host && !(c->day_host = malloc(((size_t)m->nw + 1) * sizeof *c->day_host)))
        return -1;
    memcpy(c->load, p->load, ld * sizeof *load);
    memcpy(c->day_host, p->day_host, (size_t)m->nw * sizeof *c->day_host);
    c->nruns = 0;
    c->n = 0;
    for (int i = 0; i < m->nw; i++) {
        if (m->w[i].kind != TSCHED_BATCH)
            continue;
        const int *run = &p->run_host[p->run_off[i]];
        for (int o = 0, e; o < m->w[i].win_len; o = e) {
            for (e = o + 1; e < m->w[i].win_len && run[e] == run[o]; e++)
                ;
            if (run[o] >= 0 && push_run(c, i, o, e - o, run[o]) < 0)
                return -1;
        }
    }
    c->n = p->nhosts;
    return 0;
}

int plan_copy_restore(const struct tsched_model *m, const struct plan_copy *c,
                      struct tsched_plan *p)
{
    if (tsched_plan_resize(m, c->n, p) < 0)
        return -1;
    memcpy(p->load, c->load, (size_t)c->n * m->nslots * TSCHED_NRES * sizeof *p->load);
    memcpy(p->day_host, c->day_host, (size_t)m->nw * sizeof *p->day_host);
    for (int i = 0; i < m->nw; i++)
        if (m->w[i].kind == TSCHED_BATCH)
            for (int o = 0; o < m->w[i].win_len; o++)
                p->run_host[p->run_off[i] + o] = -1;
    for (size_t r = 0; r < c->nruns; r++) {
        const struct plan_run *u = &c->runs[r];
        for (int o = u->off; o < u->off + u->len; o++)
            p->run_host[p->run_off[u->w] + o] = u->host;
    }
    return 0;
}

void plan_copy_free(struct plan_copy *c)
{
    free(c->day_host);
    free(c->load);
    free(c->runs);
    memset(c, 0, sizeof *c);
}
