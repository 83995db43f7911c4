/* workloads.json: services, function pools and batch jobs, validated field by field. */
#include "json_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rotates a curve given in a workload's local day into the plan's day. */
static void shift_curve(const struct tsched_model *m, float *v, int shift_slots, float *tmp)
{
    if (shift_slots == 0)
        return;
    for (int t = 0; t < m->nslots; t++)
        tmp[tsched_mod((long)t + shift_slots, m->nslots)] = v[t];
    memcpy(v, tmp, (size_t)m->nslots * sizeof *v);
}

/* Slots to add to a time in zone `tz` to get plan-local time. */
static int zone_shift(const struct tsched_model *m, const struct jctx *c, const cJSON *o,
                      long *shift_s)
{
    const char *tz = NULL;
    *shift_s = 0;
    if (jk_str(c, o, "timeZone", false, &tz) < 0)
        return -1;
    if (!tz)
        return 0;
    int off;
    struct tsched_err e2;
    if (tsched_tz_offset(tz, m->ref_day, &off, &e2) < 0)
        return jerr(c, "timeZone", "%s", e2.msg);
    *shift_s = (long)m->tz_offset_s - off;
    return 0;
}

static int day_workload(struct tsched_model *m, const struct jctx *c, const cJSON *o,
                        const char *name, bool function, float *tmp)
{
    static const char *const skeys[] = {"name",     "type",     "cpu", "memoryGB",
                                        "replicas", "timeZone", NULL};
    static const char *const fkeys[] = {
        "name",           "type",         "ratePerSec", "durationMs", "memoryMBPerInstance",
        "cpuPerInstance", "minInstances", "replicas",   "timeZone",   NULL};
    if (jk_only(c, o, function ? fkeys : skeys) < 0)
        return -1;
    double replicas = 1, dur_ms = 0, mem_mb = 0, cpu_inst = 1, min_inst = 0;
    long shift_s;
    if (jk_num(c, o, "replicas", false, 1, 10000, &replicas) < 0 ||
        zone_shift(m, c, o, &shift_s) < 0)
        return -1;
    if (replicas != floor(replicas))
        return jerr(c, "replicas", "%g: expected a whole number >= 1", replicas);
    int n = m->nslots, k = (int)replicas;
    float *cpu = malloc((size_t)n * sizeof *cpu), *mem = malloc((size_t)n * sizeof *mem);
    int rc = -1;
    if (!cpu || !mem) {
        jerr(c, NULL, "out of memory");
        goto out;
    }
    if (!function) {
        if (jk_curve(c, o, "cpu", true, 1e6, cpu, n) < 0 ||
            jk_curve(c, o, "memoryGB", true, 1e9, mem, n) < 0)
            goto out;
    } else {
        if (jk_curve(c, o, "ratePerSec", true, 1e9, cpu, n) < 0 ||
            jk_num(c, o, "durationMs", true, 0.001, 86400e3, &dur_ms) < 0 ||
            jk_num(c, o, "memoryMBPerInstance", true, 0, 1e9, &mem_mb) < 0 ||
            jk_num(c, o, "cpuPerInstance", false, 0, 1e6, &cpu_inst) < 0 ||
            jk_num(c, o, "minInstances", false, 0, 1e6, &min_inst) < 0)
            goto out;
        /* Little's law: busy instances = arrival rate x time in system. Memory is held by
         * whole instances; CPU only while they run. */
        for (int t = 0; t < n; t++) {
            double conc = cpu[t] * dur_ms / 1000.0 / k;
            double inst = fmax(ceil(conc - 1e-9), min_inst);
            cpu[t] = (float)(conc * cpu_inst * k);
            mem[t] = (float)(inst * mem_mb / 1024.0 * k);
        }
    }
    int shift = (int)lround((double)shift_s / m->slot_s);
    shift_curve(m, cpu, shift, tmp);
    shift_curve(m, mem, shift, tmp);
    for (int i = 0; i < k; i++) {
        char nm[TSCHED_NAME_MAX];
        if (k > 1)
            snprintf(nm, sizeof nm, "%.50s#%d", name, i);
        else
            snprintf(nm, sizeof nm, "%s", name);
        struct tsched_workload *w =
            tsched_add(m, function ? TSCHED_FUNCTION : TSCHED_SERVICE, nm, c->err);
        if (!w)
            goto out;
        for (int t = 0; t < n; t++) {
            w->demand[TSCHED_CPU][t] = cpu[t] / k;
            w->demand[TSCHED_MEM][t] = mem[t] / k;
        }
        tsched_finish_workload(m, w);
    }
    rc = 0;
out:
    free(cpu);
    free(mem);
    return rc;
}

/* Window start: "start" (HH:MM) or "schedule" (cron); default midnight. */
static int batch_window(struct tsched_model *m, const struct jctx *c, const cJSON *o,
                        struct tsched_workload *w)
{
    const char *start = NULL, *sched = NULL, *deadline = NULL, *active = NULL;
    long shift_s, start_s = 0, len_s = 86400;
    if (jk_str(c, o, "start", false, &start) < 0 || jk_str(c, o, "schedule", false, &sched) < 0 ||
        jk_str(c, o, "deadline", false, &deadline) < 0 ||
        jk_str(c, o, "activeDeadline", false, &active) < 0 || zone_shift(m, c, o, &shift_s) < 0)
        return -1;
    if (start && sched)
        return jerr(c, "schedule", "give either \"start\" or \"schedule\", not both");
    if (deadline && active)
        return jerr(c, "activeDeadline",
                    "give either \"deadline\" or \"activeDeadline\", not both");
    if (start && tsched_parse_clock(start, &start_s) < 0)
        return jerr(c, "start", "\"%s\": expected a local time HH:MM", start);
    if (sched) {
        struct tsched_err e2;
        if (tsched_parse_cron(sched, &start_s, &e2) < 0)
            return jerr(c, "schedule", "%s", e2.msg);
    }
    if (deadline) {
        long d;
        if (tsched_parse_clock(deadline, &d) < 0)
            return jerr(c, "deadline",
                        "\"%s\": expected a local time HH:MM (a deadline at or "
                        "before the start means the next day)",
                        deadline);
        len_s = tsched_mod(d - start_s, 86400);
        if (len_s == 0)
            len_s = 86400;
    }
    if (active && (tsched_parse_duration(active, &len_s) < 0 || len_s > 86400))
        return jerr(c, "activeDeadline", "\"%s\": expected a duration like 90m or 8h, at most 24h",
                    active);
    /* A job may not start before its start nor end after its deadline: round inwards. */
    long s = start_s + shift_s;
    long first = (long)ceil((double)s / m->slot_s);
    long last = (long)floor((double)(s + len_s) / m->slot_s);
    w->win_start = tsched_mod(first, m->nslots);
    w->win_len = last > first ? (int)(last - first) : 0; /* shorter than a slot: empty */
    if (w->win_len > m->nslots)
        w->win_len = m->nslots;
    return 0;
}

static int batch_workload(struct tsched_model *m, const struct jctx *c, const cJSON *o,
                          const char *name)
{
    static const char *const keys[] = {
        "name",          "type",       "cpu",      "memoryGB", "runTime",
        "workCoreHours", "start",      "schedule", "deadline", "activeDeadline",
        "suspendable",   "snapshotGB", "timeZone", NULL};
    if (jk_only(c, o, keys) < 0)
        return -1;
    struct tsched_workload *w = tsched_add(m, TSCHED_BATCH, name, c->err);
    if (!w)
        return -1;
    double cpu, mem, work = -1, snap = -1;
    const char *run = NULL;
    if (jk_num(c, o, "cpu", true, 0.001, 1e6, &cpu) < 0 ||
        jk_num(c, o, "memoryGB", true, 0, 1e9, &mem) < 0 ||
        jk_str(c, o, "runTime", false, &run) < 0 ||
        jk_num(c, o, "workCoreHours", false, 1e-6, 1e9, &work) < 0 ||
        jk_bool(c, o, "suspendable", &w->suspendable) < 0 ||
        jk_num(c, o, "snapshotGB", false, 0, 1e9, &snap) < 0)
        goto fail;
    w->req[TSCHED_CPU] = cpu;
    w->req[TSCHED_MEM] = mem;
    if ((run != NULL) == (work >= 0)) {
        jerr(c, "runTime", "give exactly one of \"runTime\" (like \"2h\") or \"workCoreHours\"");
        goto fail;
    }
    if (run) {
        long rs;
        if (tsched_parse_duration(run, &rs) < 0) {
            jerr(c, "runTime", "\"%s\": expected a duration like 45m or 2h", run);
            goto fail;
        }
        w->duration_s = (double)rs;
    } else {
        w->duration_s = work * 3600.0 / cpu;
    }
    /* Suspending saves the guest's memory image and resuming loads it back. */
    w->switch_s = 2.0 * (snap >= 0 ? snap : mem) / m->snapshot_gbs;
    if (batch_window(m, c, o, w) < 0)
        goto fail;
    int need = tsched_batch_slots_needed(m, w, 1, 0);
    if (w->win_len < need) {
        char a[6];
        tsched_fmt_clock((long)w->win_start * m->slot_s, a);
        jerr(c, NULL,
             "window of %d slot(s) from %s (plan time) is shorter than the run time "
             "%.0f s (%d slot(s) of %d s): the deadline can never be met",
             w->win_len, a, w->duration_s, need, m->slot_s);
        goto fail;
    }
    tsched_finish_workload(m, w);
    return 0;
fail:
    m->nw--;
    return -1;
}

int tsched_load_workloads(struct tsched_model *m, const char *path, struct tsched_err *err)
{
    if (m->ntypes == 0)
        return tsched_errf(err, "%s: load the hosts before the workloads", path);
    cJSON *root = tsched_json_load(path, err);
    if (!root)
        return -1;
    struct jctx c = {.file = path, .err = err};
    int rc = -1;
    float *tmp = malloc((size_t)m->nslots * sizeof *tmp);
    const cJSON *list = root;
    if (!tmp) {
        tsched_errf(err, "%s: out of memory", path);
        goto out;
    }
    if (cJSON_IsObject(root)) {
        static const char *const keys[] = {"workloads", NULL};
        if (jk_only(&c, root, keys) < 0)
            goto out;
        list = cJSON_GetObjectItemCaseSensitive(root, "workloads");
    }
    if (!cJSON_IsArray(list)) {
        jerr(&c, "workloads", "expected an array of workloads (or {\"workloads\": [...]})");
        goto out;
    }
    int i = 0;
    for (const cJSON *o = list->child; o; o = o->next, i++) {
        const char *name = "", *type = NULL;
        snprintf(c.path, sizeof c.path, "workloads[%d]", i);
        if (!cJSON_IsObject(o)) {
            jerr(&c, NULL, "expected an object");
            goto out;
        }
        if (jk_str(&c, o, "name", true, &name) < 0)
            goto out;
        snprintf(c.path, sizeof c.path, "workloads[%d] (\"%.40s\")", i, name);
        if (!*name || strlen(name) >= TSCHED_NAME_MAX - 8) {
            jerr(&c, "name", "expected 1 to %d characters", TSCHED_NAME_MAX - 9);
            goto out;
        }
        if (jk_str(&c, o, "type", true, &type) < 0)
            goto out;
        int r;
        if (!strcmp(type, "service"))
            r = day_workload(m, &c, o, name, false, tmp);
        else if (!strcmp(type, "function"))
            r = day_workload(m, &c, o, name, true, tmp);
        else if (!strcmp(type, "batch"))
            r = batch_workload(m, &c, o, name);
        else
            r = jerr(&c, "type", "\"%s\": expected \"service\", \"function\" or \"batch\"", type);
        if (r < 0)
            goto out;
    }
    rc = 0;
out:
    free(tmp);
    cJSON_Delete(root);
    return rc;
}
