/*
 * Azure VM 2017 -> VMs (services with a step curve), one workload per VM.
 *
 * Each VM lives from its arrival bin for the representative length of its duration bin
 * (the middle of the bin's range; censored VMs live to the end of the trace). One local
 * day is cut out; a VM occupies every slot it is alive in. With bundle_vms (for very
 * large samples), VMs are bundled in arrival order (a tenant's batch stays together)
 * while the summed flavors fit a bundle: placing a bundle on one host is a valid
 * placement of its VMs, only less flexible, so bundling can cost hosts, never capacity.
 */
#include "traces.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Arrival times are seconds from the trace's start (the 2017 trace spans 30 days);
 * larger ones are rejected rows, so that the day arithmetic below cannot overflow. */
#define ARRIVAL_MAX (1L << 40)

struct vm_bins {
    double lo[256], hi[256];
    int n;
};

static int read_flavors(struct trace_ctx *c, double fl[26][TSCHED_NRES])
{
    char path[512], line[256];
    FILE *f = trace_open(c, "azure-vm-2017/flavors.txt", path, sizeof path);
    if (!f)
        return -1;
    long lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        double cpu, mem;
        char letter;
        if (sscanf(line, "%lf,%lf %c", &cpu, &mem, &letter) != 3 || letter < 'a' || letter > 'z' ||
            !(cpu > 0) || !(mem > 0)) {
            fclose(f);
            return tsched_errf(c->err, "%s:%ld: expected \"<vCPUs>,<GB> <letter>\"", path, lineno);
        }
        fl[letter - 'a'][TSCHED_CPU] = cpu;
        fl[letter - 'a'][TSCHED_MEM] = mem;
    }
    fclose(f);
    return 0;
}

static int read_bins(struct trace_ctx *c, struct vm_bins *b)
{
    char path[512], line[256];
    FILE *f = trace_open(c, "azure-vm-2017/interval_map.txt", path, sizeof path);
    if (!f)
        return -1;
    for (int i = 0; i < 256; i++)
        b->lo[i] = INFINITY, b->hi[i] = -1;
    b->n = 0;
    long lineno = 0, t;
    int k;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (sscanf(line, "%ld %d", &t, &k) != 2 || k < 0 || k > 255 || t < 0) {
            fclose(f);
            return tsched_errf(c->err, "%s:%ld: expected \"<seconds> <bin>\"", path, lineno);
        }
        b->lo[k] = fmin(b->lo[k], (double)t);
        b->hi[k] = fmax(b->hi[k], (double)t);
        if (k >= b->n)
            b->n = k + 1;
    }
    fclose(f);
    return 0;
}

struct bundle {
    float *cpu, *mem;
    double sum[TSCHED_NRES];
    int vms, id;
};

static int flush(struct trace_ctx *c, struct bundle *b)
{
    if (b->vms == 0)
        return 0;
    char name[TSCHED_NAME_MAX];
    snprintf(name, sizeof name, "vms-%d", b->id++);
    if (trace_add_day(c, TSCHED_SERVICE, name, b->cpu, b->mem, false) < 0)
        return -1;
    c->rep->vm_bundles++;
    memset(b->cpu, 0, (size_t)c->m->nslots * sizeof *b->cpu);
    memset(b->mem, 0, (size_t)c->m->nslots * sizeof *b->mem);
    b->sum[0] = b->sum[1] = 0;
    b->vms = 0;
    return 0;
}

int trace_vms(struct trace_ctx *c)
{
    struct tsched_model *m = c->m;
    double fl[26][TSCHED_NRES] = {{0}};
    struct vm_bins bins;
    if (read_flavors(c, fl) < 0 || read_bins(c, &bins) < 0)
        return -1;
    char pa[512], pd[512];
    FILE *fa = trace_open(c, "azure-vm-2017/arrivals.txt", pa, sizeof pa);
    FILE *fd = fa ? trace_open(c, "azure-vm-2017/durations.txt", pd, sizeof pd) : NULL;
    if (!fd) {
        if (fa)
            fclose(fa);
        return -1;
    }
    /* First pass: the trace's time span, to pick the day. */
    char *la = NULL, *ld = NULL;
    size_t ca = 0, cd = 0;
    long first = -1, last = -1, lineno = 0;
    while (getline(&la, &ca, fa) > 0) {
        long t;
        if (sscanf(la, "%ld", &t) == 1 && t >= 0 && t <= ARRIVAL_MAX) {
            if (first < 0)
                first = t;
            last = t > last ? t : last;
        }
    }
    int rc = -1;
    struct bundle b = {0};
    b.cpu = calloc((size_t)m->nslots, sizeof *b.cpu);
    b.mem = calloc((size_t)m->nslots, sizeof *b.mem);
    if (!b.cpu || !b.mem) {
        tsched_errf(c->err, "out of memory");
        goto out;
    }
    if (first < 0) {
        tsched_errf(c->err, "%s: no arrival lines", pa);
        goto out;
    }
    long end_trace = last + 300;
    /* Local day k covers local times [k, k+1) days, i.e. UTC [k*86400 - off, ...). */
    long off = m->tz_offset_s;
    long kfirst = (long)ceil((double)(first + off) / 86400), klast = (end_trace + off) / 86400 - 1;
    if (klast < kfirst) {
        tsched_errf(c->err, "%s: the trace covers no full day", pa);
        goto out;
    }
    long k = c->o->vm_day < 0 ? klast : kfirst + c->o->vm_day;
    if (k > klast) {
        tsched_errf(c->err, "--vm-day %d: the VM trace has %ld full days (0..%ld)", c->o->vm_day,
                    klast - kfirst + 1, klast - kfirst);
        goto out;
    }
    long day0 = k * 86400 - off;
    rewind(fa);
    while (getline(&la, &ca, fa) > 0) {
        lineno++;
        if (getline(&ld, &cd, fd) <= 0) {
            tsched_errf(c->err, "%s: fewer lines than %s (line %ld)", pd, pa, lineno);
            goto out;
        }
        long t, td;
        char *sa = strchr(la, ' '), *sd = strchr(ld, ' ');
        if (sscanf(la, "%ld", &t) != 1 || sscanf(ld, "%ld", &td) != 1 || t != td || !sa || !sd) {
            trace_skip(c, pa, lineno, "arrival and duration lines disagree");
            continue;
        }
        if (t < 0 || t > ARRIVAL_MAX) {
            trace_skip(c, pa, lineno, "arrival time out of range");
            continue;
        }
        sa++;
        sd++;
        sa[strcspn(sa, "\r\n")] = '\0';
        sd[strcspn(sd, "\r\n")] = '\0';
        int batch = 0;
        char *pa_save = NULL, *pd_save = NULL;
        char *fla = strtok_r(sa, ",", &pa_save), *dur = strtok_r(sd, ",", &pd_save);
        bool keep = trace_keep(c, (uint64_t)t * 1000003u + 0);
        for (; fla && dur;
             fla = strtok_r(NULL, ",", &pa_save), dur = strtok_r(NULL, ",", &pd_save)) {
            if (!strcmp(fla, "|") || !strcmp(dur, "|")) {
                if (strcmp(fla, dur) != 0) {
                    trace_skip(c, pa, lineno, "batch separators do not line up");
                    break;
                }
                batch++;
                keep = trace_keep(c, (uint64_t)t * 1000003u + (uint64_t)batch);
                continue;
            }
            int f = fla[0] - 'a', bin = atoi(dur + 1);
            if (fla[1] || f < 0 || f >= 26 || fl[f][0] <= 0 || (dur[0] != 'U' && dur[0] != 'C') ||
                bin < 0 || bin >= bins.n || bins.hi[bin] < 0) {
                trace_skip(c, pa, lineno, "unknown flavor or duration bin");
                continue;
            }
            if (!keep)
                continue;
            double life = dur[0] == 'C' ? INFINITY : (bins.lo[bin] + bins.hi[bin] + 300) / 2;
            double a = fmax((double)t, (double)day0), e = fmin(t + life, (double)(day0 + 86400));
            if (dur[0] == 'C')
                e = fmin((double)end_trace, (double)(day0 + 86400));
            if (e <= a)
                continue;
            c->rep->vms++;
            bool full = !c->o->bundle_vms && b.vms > 0;
            for (int r = 0; r < TSCHED_NRES; r++)
                full |= b.vms > 0 && b.sum[r] + fl[f][r] > c->bundle[r] + TSCHED_EPS;
            if (full && flush(c, &b) < 0)
                goto out;
            int s0 = (int)((a - day0) / m->slot_s), s1 = (int)ceil((e - day0) / m->slot_s);
            for (int s = s0; s < s1 && s < m->nslots; s++) {
                b.cpu[s] += (float)fl[f][TSCHED_CPU];
                b.mem[s] += (float)fl[f][TSCHED_MEM];
            }
            for (int r = 0; r < TSCHED_NRES; r++)
                b.sum[r] += fl[f][r];
            b.vms++;
        }
    }
    if (flush(c, &b) < 0)
        goto out;
    rc = 0;
out:
    free(la);
    free(ld);
    free(b.cpu);
    free(b.mem);
    fclose(fa);
    fclose(fd);
    return rc;
}
