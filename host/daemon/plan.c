/* The time-aware plan for this one host: the daemon's services (all day, at their
 * CPU and memory size) and its active batch jobs (in their windows, suspendable)
 * go to the scheduler (include/tidal/scheduler.h) as a one-host fleet. A job then
 * runs from the first slot the plan gives it until its window closes: the plan
 * staggers starts when the host cannot hold every job at once, and the window stays
 * the hard limit. When no plan exists (a job larger than the host, say), windows
 * alone decide and host info says why. */
#include "internal.h"
#include "tidal/scheduler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLOT_S 300
#define NSLOTS (86400 / SLOT_S)
#define GB (1024.0 * 1024 * 1024)

struct plan_job {
    char name[TIDAL_DAEMON_NAME_MAX];
    bool allowed[NSLOTS]; /* UTC slots of the day in which the job may run */
};

struct daemon_plan {
    int njobs;
    struct plan_job *jobs;
};

static uint64_t signature(struct daemon *d, long day)
{
    uint64_t h = 1469598103934665603u ^ (uint64_t)day;
    for (struct dvm *v = d->vms; v; v = v->next) {
        if (v->job && v->job_state != JOB_ACTIVE)
            continue;
        for (const char *c = v->name; *c; c++)
            h = (h ^ (unsigned char)*c) * 1099511628211u;
        h = (h ^ (uint64_t)v->cls) * 1099511628211u;
    }
    return h;
}

static double host_mem_gb(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size / GB : 1;
}

static void free_plan(struct daemon_plan *p)
{
    if (p) {
        free(p->jobs);
        free(p);
    }
}

static int add_job(struct tsched_model *m, struct dvm *v, long day, struct tsched_err *err)
{
    struct tsched_workload *w = tsched_add(m, TSCHED_BATCH, v->name, err);
    if (!w)
        return -1;
    const struct tidal_window *win = &v->job->window;
    int off = 0;
    struct tsched_err ignored;
    tsched_tz_offset(win->tz, day, &off, &ignored);
    long start_utc = ((win->start_s - off) % 86400 + 86400) % 86400;
    w->req[TSCHED_CPU] = v->cpus;
    w->req[TSCHED_MEM] = (double)v->mem_size / GB;
    w->win_start = (int)(start_utc / SLOT_S);
    w->win_len = (int)ceil((double)win->duration_s / SLOT_S);
    if (w->win_len < 1)
        w->win_len = 1;
    double left = v->progress_total ? 1 - (double)v->progress_done / (double)v->progress_total : 1;
    double estimate = v->job->duration_s > 0 ? v->job->duration_s : (double)win->duration_s;
    w->duration_s = fmax(SLOT_S, estimate * left);
    if (w->duration_s > (double)w->win_len * SLOT_S)
        w->duration_s = (double)w->win_len * SLOT_S;
    w->suspendable = true;
    w->switch_s = 2 * w->req[TSCHED_MEM] / m->snapshot_gbs;
    tsched_finish_workload(m, w);
    return 0;
}

static int add_service(struct tsched_model *m, struct dvm *v, struct tsched_err *err)
{
    struct tsched_workload *w = tsched_add(m, TSCHED_SERVICE, v->name, err);
    if (!w)
        return -1;
    for (int t = 0; t < m->nslots; t++) {
        w->demand[TSCHED_CPU][t] = (float)v->cpus;
        w->demand[TSCHED_MEM][t] = (float)((double)v->mem_size / GB);
    }
    tsched_finish_workload(m, w);
    return 0;
}

static struct daemon_plan *build(struct daemon *d, long day, char *note, size_t note_size)
{
    struct tsched_model m;
    struct tsched_err err;
    struct tsched_plan p = {0};
    struct daemon_plan *out = NULL;
    if (tsched_model_init(&m, SLOT_S, &err)) {
        snprintf(note, note_size, "no plan: %s", err.msg);
        return NULL;
    }
    m.ref_day = day;
    m.types = calloc(1, sizeof(*m.types));
    if (!m.types)
        goto done;
    m.ntypes = 1;
    snprintf(m.types[0].name, sizeof(m.types[0].name), "this-host");
    m.types[0].cap[TSCHED_CPU] = (double)sysconf(_SC_NPROCESSORS_ONLN);
    m.types[0].cap[TSCHED_MEM] = host_mem_gb();
    m.types[0].count = 1;
    int njobs = 0;
    for (struct dvm *v = d->vms; v; v = v->next) {
        int rc = 0;
        if (v->job && v->job_state == JOB_ACTIVE) {
            rc = add_job(&m, v, day, &err);
            njobs++;
        } else if (v->cls == DVM_SERVICE && (v->state == DVM_RUNNING || v->state == DVM_PAUSED)) {
            rc = add_service(&m, v, &err);
        }
        if (rc) {
            snprintf(note, note_size, "no plan: %s", err.msg);
            goto done;
        }
    }
    if (!njobs) {
        snprintf(note, note_size, "no active batch jobs");
        goto done;
    }
    if (tsched_check(&m, &err) || tsched_plan_build(&m, 1, &p, &err)) {
        snprintf(note, note_size, "no plan (%s): windows alone decide", err.msg);
        goto done;
    }
    out = calloc(1, sizeof(*out));
    if (!out || !(out->jobs = calloc((size_t)njobs, sizeof(*out->jobs)))) {
        free_plan(out);
        out = NULL;
        goto done;
    }
    for (int wi = 0; wi < m.nw; wi++) {
        const struct tsched_workload *w = &m.w[wi];
        if (w->kind != TSCHED_BATCH)
            continue;
        struct plan_job *j = &out->jobs[out->njobs++];
        snprintf(j->name, sizeof(j->name), "%s", w->name);
        bool started = false;
        for (int k = 0; k < w->win_len; k++) {
            started = started || p.run_host[p.run_off[wi] + (size_t)k] >= 0;
            j->allowed[(w->win_start + k) % NSLOTS] = started;
        }
    }
    snprintf(note, note_size, "planned %d batch job(s) with the scheduler (%d-minute slots)",
             out->njobs, SLOT_S / 60);
done:
    tsched_plan_free(&p);
    tsched_model_free(&m);
    return out;
}

void daemon_plan_invalidate(struct daemon *d)
{
    d->plan_stale = true;
}

void daemon_plan_refresh(struct daemon *d, double now)
{
    long day = (long)floor(now / 86400);
    uint64_t sig = signature(d, day);
    if (!d->plan_stale && sig == d->plan_signature)
        return;
    free_plan(d->plan);
    char before[sizeof(d->plan_note)];
    memcpy(before, d->plan_note, sizeof(before));
    d->plan = build(d, day, d->plan_note, sizeof(d->plan_note));
    if (strcmp(before, d->plan_note))
        dlog(d, "plan: %s", d->plan_note);
    d->plan_stale = false;
    d->plan_signature = sig;
}

bool daemon_job_may_run(struct daemon *d, struct dvm *v, double now)
{
    if (!tidal_window_open(&v->job->window, now))
        return false;
    if (!d->plan)
        return true;
    long slot = ((long)floor(now) % 86400) / SLOT_S;
    for (int i = 0; i < d->plan->njobs; i++)
        if (!strcmp(d->plan->jobs[i].name, v->name))
            return d->plan->jobs[i].allowed[slot];
    return true; /* submitted since the plan was made: the next tick replans */
}
