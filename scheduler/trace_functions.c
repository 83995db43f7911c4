/*
 * Azure Functions 2019 -> function pools.
 *
 * Per minute, busy instances = invocations/60 s x average duration (Little's law); a
 * slot's CPU is the mean over its minutes (one core per busy instance), its memory the
 * busiest minute's whole instances x the app's average allocated memory. Minutes are
 * UTC and shifted by the plan zone's offset (the day wraps).
 */
#include "traces.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FN_ID_MAX 80

struct kv {
    char id[FN_ID_MAX];
    double v;
};

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const struct kv *)a)->id, ((const struct kv *)b)->id);
}

/* Reads `id column -> value column` from a CSV with a header into a sorted table. */
static struct kv *read_table(struct trace_ctx *c, const char *sub, int idcol, const char *vname,
                             int *count)
{
    char path[512];
    FILE *f = trace_open(c, sub, path, sizeof path);
    if (!f)
        return NULL;
    char *line = NULL, *fld[32];
    size_t cap = 0;
    int n = 0, ncap = 0, vcol = -1;
    long lineno = 0;
    struct kv *t = NULL;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        int nf = trace_split(line, ',', fld, 32);
        if (lineno == 1) {
            for (int i = 0; i < nf; i++)
                if (!strcmp(fld[i], vname))
                    vcol = i;
            if (vcol < 0) {
                tsched_errf(c->err, "%s:1: no column \"%s\" in the header", path, vname);
                goto fail;
            }
            continue;
        }
        char *end;
        double v = nf > vcol ? strtod(fld[vcol], &end) : 0;
        if (nf <= vcol || nf <= idcol || end == fld[vcol] || *end || !(v > 0) || !isfinite(v) ||
            strlen(fld[idcol]) >= FN_ID_MAX) {
            trace_skip(c, path, lineno, "bad or non-positive value");
            continue;
        }
        if (n == ncap) {
            ncap = ncap ? ncap * 2 : 1024;
            struct kv *nt = realloc(t, (size_t)ncap * sizeof *nt);
            if (!nt) {
                tsched_errf(c->err, "out of memory reading %s", path);
                goto fail;
            }
            t = nt;
        }
        snprintf(t[n].id, FN_ID_MAX, "%s", fld[idcol]);
        t[n++].v = v;
    }
    free(line);
    fclose(f);
    if (n > 1) /* an empty file has no table at all, and qsort of NULL is undefined */
        qsort(t, (size_t)n, sizeof *t, cmp_kv);
    *count = n;
    return t ? t : calloc(1, sizeof *t);
fail:
    free(line);
    free(t);
    fclose(f);
    return NULL;
}

static const struct kv *lookup(const struct kv *t, int n, const char *id)
{
    struct kv key;
    snprintf(key.id, sizeof key.id, "%s", id);
    return bsearch(&key, t, (size_t)n, sizeof *t, cmp_kv);
}

int trace_functions(struct trace_ctx *c)
{
    struct tsched_model *m = c->m;
    int ndur = 0, nmem = 0, rc = -1;
    struct kv *dur = read_table(c, "azure-functions-2019/durations_ms.csv", 0, "Average", &ndur);
    struct kv *mem =
        dur ? read_table(c, "azure-functions-2019/memory_mb.csv", 0, "AverageAllocatedMb", &nmem)
            : NULL;
    char path[512];
    FILE *f =
        mem ? trace_open(c, "azure-functions-2019/invocations_per_minute.csv", path, sizeof path)
            : NULL;
    char *line = NULL, **fld = malloc(1600 * sizeof *fld);
    float *cpu = calloc((size_t)m->nslots, sizeof *cpu),
          *mm = calloc((size_t)m->nslots, sizeof *mm);
    size_t cap = 0;
    long lineno = 0;
    if (!f || !fld || !cpu || !mm) {
        if (f)
            tsched_errf(c->err, "out of memory");
        goto out;
    }
    while (getline(&line, &cap, f) > 0) {
        if (++lineno == 1)
            continue;
        int nf = trace_split(line, ',', fld, 1600);
        if (nf != 3 + 1440) {
            trace_skip(c, path, lineno, "expected 3 ids + 1440 minutes");
            continue;
        }
        const struct kv *d = lookup(dur, ndur, fld[0]), *mb = lookup(mem, nmem, fld[1]);
        if (!d || !mb) {
            trace_skip(c, path, lineno, "function without duration or app memory");
            continue;
        }
        if (!trace_keep(c, trace_hash(fld[0])))
            continue;
        for (int t = 0; t < m->nslots; t++)
            cpu[t] = mm[t] = 0;
        bool bad = false;
        for (int i = 0; i < 1440 && !bad; i++) {
            char *end;
            double n = strtod(fld[3 + i], &end);
            if (end == fld[3 + i] || *end || !(n >= 0) || !isfinite(n)) {
                bad = true;
                break;
            }
            double busy = n / 60.0 * d->v / 1000.0;
            long local = (long)i * 60 + m->tz_offset_s;
            int t = (int)(tsched_mod(local, 86400) / m->slot_s);
            /* A minute longer than a slot (slots < 60 s are not offered) would spill. */
            cpu[t] += (float)(busy * 60.0 / m->slot_s);
            mm[t] = (float)fmax(mm[t], ceil(busy - 1e-9) * mb->v / 1024.0);
        }
        if (bad) {
            trace_skip(c, path, lineno, "invocation count not a number >= 0");
            continue;
        }
        char name[TSCHED_NAME_MAX];
        snprintf(name, sizeof name, "fn-%.12s", fld[0]);
        int added = trace_add_day(c, TSCHED_FUNCTION, name, cpu, mm, true);
        if (added == TRACE_TOO_LARGE) {
            trace_skip(c, path, lineno, "demand beyond any pool of replicas");
            continue;
        }
        if (added < 0)
            goto out;
        c->rep->functions++;
    }
    rc = 0;
out:
    if (f)
        fclose(f);
    free(line);
    free(fld);
    free(cpu);
    free(mm);
    free(dur);
    free(mem);
    return rc;
}
