/*
 * Forecast mode: the plan for a day made from earlier days only. History is a folder of
 * workloads files named by their day, YYYY-MM-DD.json (the workloads.json format), and
 * the forecast of each workload, by name, is
 *   services and functions: the highest demand each slot had on any history day,
 *   batch jobs: the longest run time and biggest size any day asked for, in the window
 *   of the latest day,
 * raised by a stated safety margin (run times capped at their window). Workloads that
 * appear only on the planned day cannot be foreseen; the replay counts them.
 */
#include "name_index.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An empty model on the same clock, zone, hosts and snapshot speed as m, for one day's
 * file. */
static int day_model(const struct tsched_model *m, struct tsched_model *d, struct tsched_err *err)
{
    if (tsched_model_init(d, m->slot_s, err) < 0)
        return -1;
    memcpy(d->tz, m->tz, sizeof d->tz);
    d->tz_offset_s = m->tz_offset_s;
    d->ref_day = m->ref_day;
    d->snapshot_gbs = m->snapshot_gbs;
    d->types = malloc(((size_t)m->ntypes + 1) * sizeof *d->types);
    if (!d->types)
        return tsched_errc(err, tsched_errf(err, "out of memory"), TSCHED_E_INTERNAL);
    memcpy(d->types, m->types, (size_t)m->ntypes * sizeof *d->types);
    d->ntypes = m->ntypes;
    return 0;
}

int tsched_load_day(const struct tsched_model *m, const char *dir, long day,
                    struct tsched_model *out, struct tsched_err *err)
{
    char path[4096], date[11];
    tsched_fmt_date(day, date);
    snprintf(path, sizeof path, "%s/%s.json", dir, date);
    if (day_model(m, out, err) < 0)
        return -1;
    if (tsched_load_workloads(out, path, err) < 0) {
        tsched_model_free(out);
        return -1;
    }
    return 0;
}

/* Folds one day into the forecast f (maxima so far). */
static int fold_day(struct tsched_model *f, struct name_index *ix, const struct tsched_model *d,
                    struct tsched_err *err)
{
    int T = f->nslots;
    for (int i = 0; i < d->nw; i++) {
        const struct tsched_workload *w = &d->w[i];
        int j = nidx_find(ix, w->name);
        if (j >= 0 && f->w[j].kind != w->kind)
            return tsched_errf(err, "workload \"%s\" is a %s one day and a %s another", w->name,
                               tsched_kind_name(f->w[j].kind), tsched_kind_name(w->kind));
        if (j < 0) {
            struct tsched_workload *n = tsched_add(f, w->kind, w->name, err);
            if (!n)
                return tsched_errc(err, -1, TSCHED_E_INTERNAL);
            j = f->nw - 1;
            if (nidx_add(ix, j) < 0)
                return tsched_errc(err, tsched_errf(err, "out of memory"), TSCHED_E_INTERNAL);
            float *keep[TSCHED_NRES] = {n->demand[0], n->demand[1]};
            *n = *w;
            for (int r = 0; r < TSCHED_NRES; r++) {
                n->demand[r] = keep[r];
                if (w->kind != TSCHED_BATCH)
                    memcpy(n->demand[r], w->demand[r], (size_t)T * sizeof *n->demand[r]);
            }
            continue;
        }
        struct tsched_workload *n = &f->w[j];
        if (w->kind != TSCHED_BATCH) {
            for (int r = 0; r < TSCHED_NRES; r++)
                for (int t = 0; t < T; t++)
                    if (w->demand[r][t] > n->demand[r][t])
                        n->demand[r][t] = w->demand[r][t];
            continue;
        }
        for (int r = 0; r < TSCHED_NRES; r++)
            n->req[r] = n->req[r] > w->req[r] ? n->req[r] : w->req[r];
        n->duration_s = n->duration_s > w->duration_s ? n->duration_s : w->duration_s;
        n->switch_s = n->switch_s > w->switch_s ? n->switch_s : w->switch_s;
        n->win_start = w->win_start;
        n->win_len = w->win_len;
        n->suspendable = w->suspendable;
    }
    return 0;
}

static void apply_margin(struct tsched_model *f, double margin)
{
    for (int i = 0; i < f->nw; i++) {
        struct tsched_workload *w = &f->w[i];
        if (w->kind == TSCHED_BATCH) {
            double cap = (double)w->win_len * f->slot_s;
            w->duration_s *= 1 + margin;
            w->duration_s = w->duration_s < cap ? w->duration_s : cap;
        } else {
            for (int r = 0; r < TSCHED_NRES; r++)
                for (int t = 0; t < f->nslots; t++)
                    w->demand[r][t] *= (float)(1 + margin);
        }
        tsched_finish_workload(f, w);
    }
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

int tsched_forecast(struct tsched_model *m, const char *dir, long day, double margin, int *ndays,
                    struct tsched_err *err)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return tsched_errc(
            err, tsched_errf(err, "%s: cannot read the history folder: %s", dir, strerror(errno)),
            TSCHED_E_NOFILE);
    long *days = NULL;
    int n = 0, cap = 0, rc = -1;
    struct dirent *e;
    while ((e = readdir(dp))) {
        char date[11];
        long dd;
        /* Other files may sit beside the days (notes, plans): only YYYY-MM-DD.json count. */
        if (strlen(e->d_name) != 15 || strcmp(e->d_name + 10, ".json") != 0)
            continue;
        memcpy(date, e->d_name, 10);
        date[10] = 0;
        if (tsched_parse_date(date, &dd) < 0 || dd >= day)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            long *nd = realloc(days, (size_t)cap * sizeof *nd);
            if (!nd) {
                closedir(dp);
                free(days);
                return tsched_errc(err, tsched_errf(err, "out of memory"), TSCHED_E_INTERNAL);
            }
            days = nd;
        }
        days[n++] = dd;
    }
    closedir(dp);
    if (n == 0) {
        free(days);
        return tsched_errc(err,
                           tsched_errf(err,
                                       "%s: no history before the planned day: expected files "
                                       "named YYYY-MM-DD.json for earlier days",
                                       dir),
                           TSCHED_E_NOFILE);
    }
    /* Oldest first, so that the latest day's batch windows are the ones kept. */
    qsort(days, (size_t)n, sizeof *days, cmp_long);
    struct name_index ix;
    if (nidx_build(&ix, m) < 0) {
        free(days);
        return tsched_errc(err, tsched_errf(err, "out of memory"), TSCHED_E_INTERNAL);
    }
    for (int i = 0; i < n; i++) {
        struct tsched_model d;
        if (tsched_load_day(m, dir, days[i], &d, err) < 0)
            goto out;
        int r = fold_day(m, &ix, &d, err);
        tsched_model_free(&d);
        if (r < 0)
            goto out;
    }
    apply_margin(m, margin);
    *ndays = n;
    rc = 0;
out:
    nidx_free(&ix);
    free(days);
    return rc;
}
