/* The enforcer: every tick it compares each batch job with its window (and the
 * plan, plan.c) and starts, resumes or suspends it; it also checkpoints
 * running jobs every --checkpoint-interval, so a crash loses at most that much work.
 * Day services are never started or suspended here; in a cluster they are
 * checkpointed, so that another host can take them over. */
#include "internal.h"
#include "cluster.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *job_state_name(const struct dvm *v)
{
    switch (v->job_state) {
    case JOB_DONE:
        return "done";
    case JOB_FAILED:
        return "failed";
    case JOB_CANCELLED:
        return "cancelled";
    case JOB_ACTIVE:
        break;
    }
    switch (v->state) {
    case DVM_CREATED:
        return "queued";
    case DVM_RUNNING:
    case DVM_PAUSED:
        return "running";
    case DVM_SUSPENDED:
        return "suspended";
    default:
        return "stopped";
    }
}

enum action { ACT_NONE, ACT_START, ACT_RESUME, ACT_SUSPEND, ACT_CHECKPOINT };

/* What a job needs now; lock held. */
static enum action decide(struct daemon *d, struct dvm *v, double now, double real)
{
    if (v->launching || v->migrating || cluster_fenced(d)) /* a fenced host changes nothing */
        return ACT_NONE;
    bool checkpoint_due = v->state == DVM_RUNNING && d->opts.checkpoint_interval > 0 &&
                          real - v->last_checkpoint_real >= d->opts.checkpoint_interval;
    /* A cluster's services are checkpointed too: another host restarts them from
     * their latest snapshot if this one fails. */
    if (!v->job)
        return v->epoch && checkpoint_due ? ACT_CHECKPOINT : ACT_NONE;
    if (v->job_state != JOB_ACTIVE)
        return ACT_NONE;
    bool want = daemon_job_may_run(d, v, now);
    if (want && v->state == DVM_CREATED)
        return ACT_START;
    if (want && v->state == DVM_SUSPENDED)
        return ACT_RESUME;
    if (!want && v->state == DVM_RUNNING)
        return ACT_SUSPEND;
    return checkpoint_due ? ACT_CHECKPOINT : ACT_NONE;
}

static void apply(struct daemon *d, const char *name, enum action a)
{
    struct tidal_err err;
    int rc = 0;
    pthread_mutex_lock(&d->lock);
    struct dvm *v = dvm_find(d, name);
    /* cancelled or deleted meanwhile */
    if (!v || (v->job ? v->job_state != JOB_ACTIVE : a != ACT_CHECKPOINT)) {
        pthread_mutex_unlock(&d->lock);
        return;
    }
    switch (a) {
    case ACT_START:
        rc = dvm_launch(d, v, false, DVM_RUNNING, &err);
        break;
    case ACT_RESUME:
        rc = dvm_launch(d, v, true, DVM_RUNNING, &err);
        if (!rc)
            v->resumptions++;
        break;
    case ACT_SUSPEND:
        rc = dvm_command(d, v, CMD_SUSPEND, &err);
        if (!rc)
            v->suspensions++;
        break;
    case ACT_CHECKPOINT:
        rc = v->state == DVM_RUNNING ? dvm_command(d, v, CMD_SNAPSHOT, &err) : 0;
        break;
    case ACT_NONE:
        break;
    }
    pthread_mutex_unlock(&d->lock);
    static const char *const what[] = {"", "start", "resume", "suspend", "checkpoint"};
    if (rc)
        dlog(d, "%s: %s failed: %s", name, what[a], err.msg);
    else if (a != ACT_CHECKPOINT)
        dlog(d, "%s: %s (window %s)", name, what[a], a == ACT_SUSPEND ? "closed" : "open");
    /* The runner has saved the state with the snapshot; only the job's counters
     * (suspensions, resumptions) are left to persist. */
    if (a != ACT_CHECKPOINT)
        daemon_persist(d);
}

static void enforce_once(struct daemon *d)
{
    char names[256][TIDAL_DAEMON_NAME_MAX];
    enum action acts[256];
    int n = 0;
    double now = tidal_clock_now(&d->clock), real = mono_now();
    pthread_mutex_lock(&d->lock);
    daemon_plan_refresh(d, now);
    for (struct dvm *v = d->vms; v && n < 256; v = v->next) {
        enum action a = decide(d, v, now, real);
        if (a != ACT_NONE) {
            snprintf(names[n], sizeof(names[n]), "%s", v->name);
            acts[n++] = a;
        }
    }
    pthread_mutex_unlock(&d->lock);
    /* Suspensions first: they give back the memory the resumptions take. */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++)
            if ((acts[i] == ACT_SUSPEND) == (pass == 0))
                apply(d, names[i], acts[i]);
}

void *daemon_enforcer(void *arg)
{
    struct daemon *d = arg;
    while (!d->stopping) {
        double t = d->opts.tick > 0 ? d->opts.tick : 0.2;
        struct timespec ts = {.tv_sec = (time_t)t, .tv_nsec = (long)((t - floor(t)) * 1e9)};
        nanosleep(&ts, NULL);
        if (!d->stopping)
            enforce_once(d);
    }
    return NULL;
}
