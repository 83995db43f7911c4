/* /v1/batch (submit, list, get, cancel), /v1/host, /v1/clock and /metrics. */
#include "api.h"
#include "cluster.h"
#include "../json_fields.h"
#include "../kvm_metrics.h"
#include "tidal/abi.h"
#include "tidal/monitor.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *last_line(const char *text, char *out, size_t size)
{
    size_t n = strlen(text);
    while (n && text[n - 1] == '\n')
        n--;
    size_t start = n;
    while (start && text[start - 1] != '\n')
        start--;
    size_t len = n - start < size - 1 ? n - start : size - 1;
    memcpy(out, text + start, len);
    out[len] = 0;
    return out;
}

cJSON *job_json(struct daemon *d, struct dvm *v)
{
    dvm_refresh_progress(v);
    double now = tidal_clock_now(&d->clock);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", v->name);
    cJSON_AddStringToObject(o, "state", job_state_name(v));
    cJSON_AddStringToObject(o, "vm_state", dvm_state_name(v->state));
    cJSON *p = cJSON_AddObjectToObject(o, "progress");
    cJSON_AddNumberToObject(p, "done", (double)v->progress_done);
    cJSON_AddNumberToObject(p, "total", (double)v->progress_total);
    cJSON_AddNumberToObject(p, "fraction",
                            v->progress_total ? (double)v->progress_done / (double)v->progress_total
                                              : 0);
    cJSON *w = cJSON_AddObjectToObject(o, "window");
    bool open = tidal_window_open(&v->job->window, now);
    char t[32];
    cJSON_AddBoolToObject(w, "open", open);
    tidal_format_time(tidal_window_next_change(&v->job->window, now), t);
    cJSON_AddStringToObject(w, open ? "closes" : "opens", t);
    if (v->job->deadline > 0) {
        tidal_format_time(v->job->deadline, t);
        cJSON_AddStringToObject(o, "deadline", t);
        double end = v->job_state == JOB_ACTIVE ? now : v->finished_at;
        cJSON_AddBoolToObject(o, "late", end > v->job->deadline);
    }
    tidal_format_time(v->submitted_at, t);
    cJSON_AddStringToObject(o, "submitted", t);
    if (v->job_state != JOB_ACTIVE && v->finished_at > 0) {
        tidal_format_time(v->finished_at, t);
        cJSON_AddStringToObject(o, "finished", t);
    }
    cJSON_AddNumberToObject(o, "suspensions", v->suspensions);
    cJSON_AddNumberToObject(o, "resumptions", v->resumptions);
    if (v->state == DVM_EXITED)
        cJSON_AddNumberToObject(o, "exit_status", v->exit_status);
    if (v->report[0])
        cJSON_AddStringToObject(o, "report", v->report);
    char *tail = console_tail(v, 4096);
    if (tail) {
        char line[1024];
        cJSON_AddStringToObject(o, "output_last_line", last_line(tail, line, sizeof(line)));
        free(tail);
    }
    cJSON_AddItemToObject(o, "spec", tidal_job_spec_json(v->job));
    return o;
}

struct dvm *api_job_define(struct daemon *d, struct tidal_job_spec *spec, struct tidal_err *err)
{
    struct dvm *v = dvm_new(d, spec->name, DVM_BATCH, spec->image, spec->argc, spec->argv,
                            spec->mem_size, spec->cpus, err);
    if (!v || tidal_fs_trees_copy(&v->trees, &spec->trees)) {
        if (v) {
            tidal_err_set(err, "out of memory");
            d->vms = v->next; /* dvm_new put it first */
            dvm_free(v);
        }
        tidal_job_spec_free(spec);
        free(spec);
        return NULL;
    }
    v->job = spec;
    v->scratch_max = spec->scratch_max;
    v->job_state = JOB_ACTIVE;
    v->state = DVM_CREATED;
    v->submitted_at = tidal_clock_now(&d->clock);
    daemon_plan_invalidate(d);
    return v;
}

static void submit(struct daemon *d, const struct api_request *q, struct api_reply *r)
{
    struct tidal_err err;
    if (!q->body) {
        api_fail(r, 400, "bad_request", "POST /v1/batch needs a job as its JSON body");
        return;
    }
    struct tidal_job_spec *spec = calloc(1, sizeof(*spec));
    if (!spec) {
        api_fail(r, 500, "internal", "out of memory");
        return;
    }
    if (tidal_job_spec_parse(q->body, spec, &err) || tidal_json_check_trees(&spec->trees, &err)) {
        tidal_job_spec_free(spec);
        free(spec);
        api_fail(r, 400, "bad_request", "%s", err.msg);
        return;
    }
    if (d->cluster) {
        unsigned status;
        if (cluster_define(d, spec->name, "batch", q->body, &status, &err))
            api_fail(r, status, status == 409 ? "conflict" : "cluster", "%s", err.msg);
        else {
            r->status = 202;
            r->json = cJSON_CreateObject();
            cJSON_AddStringToObject(r->json, "name", spec->name);
            cJSON_AddStringToObject(r->json, "state", "placing");
        }
        tidal_job_spec_free(spec);
        free(spec);
        return;
    }
    char name[TIDAL_DAEMON_NAME_MAX];
    snprintf(name, sizeof(name), "%s", spec->name);
    pthread_mutex_lock(&d->lock);
    struct dvm *v = api_job_define(d, spec, &err);
    if (!v) {
        pthread_mutex_unlock(&d->lock);
        api_fail(r, 409, "conflict", "%s", err.msg);
        return;
    }
    r->status = 201;
    r->json = job_json(d, v);
    pthread_mutex_unlock(&d->lock);
    dlog(d, "%s: batch job submitted", name);
    daemon_persist(d);
}

static void cancel(struct daemon *d, struct dvm *v, struct api_reply *r)
{
    struct tidal_err err;
    if (v->job_state != JOB_ACTIVE) {
        api_fail(r, 409, "wrong_state", "cannot cancel job \"%s\": it is %s already", v->name,
                 job_state_name(v));
        return;
    }
    v->job_state = JOB_CANCELLED; /* first, so the enforcer leaves it alone */
    if (v->thread_live && dvm_command(d, v, CMD_STOP, &err)) {
        api_fail(r, 500, "failed", "cancel %s: %s", v->name, err.msg);
        return;
    }
    if (v->state == DVM_SUSPENDED || v->state == DVM_CREATED)
        v->state = DVM_STOPPED;
    v->finished_at = tidal_clock_now(&d->clock);
    daemon_plan_invalidate(d);
    r->json = job_json(d, v);
}

void api_batch(struct daemon *d, const struct api_request *q, struct api_reply *r)
{
    const char *m = q->method;
    if (q->nparts == 2) {
        if (!strcmp(m, "POST")) {
            submit(d, q, r);
        } else if (!strcmp(m, "GET")) {
            r->json = cJSON_CreateArray();
            pthread_mutex_lock(&d->lock);
            for (struct dvm *v = d->vms; v; v = v->next)
                if (v->job)
                    cJSON_AddItemToArray(r->json, job_json(d, v));
            pthread_mutex_unlock(&d->lock);
        } else {
            api_fail(r, 405, "method_not_allowed", "%s /v1/batch: expected GET or POST", m);
        }
        return;
    }
    const char *name = q->parts[2];
    if (q->nparts >= 4 && !strcmp(q->parts[3], "outputs")) {
        char dir[4200] = "";
        pthread_mutex_lock(&d->lock);
        struct dvm *v = dvm_find(d, name);
        if (v && v->job)
            snprintf(dir, sizeof(dir), "%s", v->dir);
        pthread_mutex_unlock(&d->lock);
        if (dir[0]) /* read without the lock: the directory's name never changes */
            api_job_outputs(dir, name, q, r);
        else
            api_fail(r, 404, "unknown_job", "no batch job named \"%s\"", name);
        return;
    }
    bool is_cancel = q->nparts == 4 && !strcmp(q->parts[3], "cancel");
    if (q->nparts > 4 || (q->nparts == 4 && !is_cancel)) {
        api_fail(r, 404, "not_found", "no endpoint %s /v1/batch/%s/%s", m, name,
                 q->nparts > 3 ? q->parts[3] : "");
        return;
    }
    pthread_mutex_lock(&d->lock);
    struct dvm *v = dvm_find(d, name);
    bool changed = false;
    if (!v || !v->job) {
        api_fail(r, 404, "unknown_job", "no batch job named \"%s\"", name);
    } else if (is_cancel ? !strcmp(m, "POST") : !strcmp(m, "DELETE")) {
        cancel(d, v, r);
        changed = !r->error;
    } else if (!is_cancel && !strcmp(m, "GET")) {
        r->json = job_json(d, v);
    } else {
        api_fail(r, 405, "method_not_allowed", "%s %s: expected %s", m, is_cancel ? "cancel" : name,
                 is_cancel ? "POST" : "GET or DELETE");
    }
    pthread_mutex_unlock(&d->lock);
    if (changed)
        daemon_persist(d);
}

void api_host(struct daemon *d, const struct api_request *q, struct api_reply *r)
{
    if (strcmp(q->method, "GET")) {
        api_fail(r, 405, "method_not_allowed", "%s /v1/host: expected GET", q->method);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "version", "0.1.0");
    cJSON_AddNumberToObject(o, "guest_abi", TIDAL_ABI_VERSION);
    cJSON_AddNumberToObject(o, "cpus", (double)sysconf(_SC_NPROCESSORS_ONLN));
    cJSON_AddNumberToObject(o, "mem_bytes",
                            (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE));
    struct tidal_err err;
    bool kvm = !tidal_kvm_available(&err);
    cJSON_AddBoolToObject(o, "kvm", kvm);
    if (!kvm)
        cJSON_AddStringToObject(o, "kvm_problem", err.msg);
    cJSON_AddStringToObject(o, "state_dir", d->state_dir);
    cJSON_AddBoolToObject(o, "cgroups", d->cgroups_ok);
    cJSON_AddStringToObject(o, "cgroups_note", d->cgroup_note);
    if (d->cgroups_ok)
        cJSON_AddStringToObject(o, "cgroup_dir", d->cgroup_dir);
    cJSON *c = cJSON_AddObjectToObject(o, "clock");
    char t[32];
    tidal_format_time(tidal_clock_now(&d->clock), t);
    cJSON_AddStringToObject(c, "now", t);
    cJSON_AddNumberToObject(c, "epoch", tidal_clock_now(&d->clock));
    cJSON_AddBoolToObject(c, "simulated", d->clock.simulated);
    if (d->clock.simulated)
        cJSON_AddNumberToObject(c, "scale", d->clock.scale);
    cJSON_AddNumberToObject(o, "checkpoint_interval_s", d->opts.checkpoint_interval);
    pthread_mutex_lock(&d->lock);
    int n = 0;
    for (struct dvm *v = d->vms; v; v = v->next)
        n++;
    cJSON_AddNumberToObject(o, "vms", n);
    cJSON_AddStringToObject(o, "plan", d->plan_note);
    pthread_mutex_unlock(&d->lock);
    cJSON_AddNumberToObject(o, "uptime_s", mono_now() - d->started_real);
    r->json = o;
}

void api_clock(struct daemon *d, const struct api_request *q, struct api_reply *r)
{
    struct tidal_err err;
    if (!strcmp(q->method, "POST")) {
        const cJSON *adv = q->body ? cJSON_GetObjectItemCaseSensitive(q->body, "advance") : NULL;
        if (!q->body || !cJSON_IsObject(q->body) || !cJSON_IsNumber(adv) ||
            cJSON_GetArraySize(q->body) != 1) {
            api_fail(r, 400, "bad_request", "POST /v1/clock: expected {\"advance\": SECONDS}");
            return;
        }
        pthread_mutex_lock(&d->lock);
        int rc = tidal_clock_advance(&d->clock, adv->valuedouble, &err);
        pthread_mutex_unlock(&d->lock);
        if (rc) {
            api_fail(r, 409, "wrong_state", "%s", err.msg);
            return;
        }
    } else if (strcmp(q->method, "GET")) {
        api_fail(r, 405, "method_not_allowed", "%s /v1/clock: expected GET or POST", q->method);
        return;
    }
    char t[32];
    double now = tidal_clock_now(&d->clock);
    tidal_format_time(now, t);
    r->json = cJSON_CreateObject();
    cJSON_AddStringToObject(r->json, "now", t);
    cJSON_AddNumberToObject(r->json, "epoch", now);
}

struct text {
    char *buf;
    size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = t->buf ? vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap) : -1;
        va_end(ap);
        if (n >= 0 && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 4096;
        char *grown = realloc(t->buf, cap);
        if (!grown)
            return;
        t->buf = grown;
        t->cap = cap;
    }
}

/* A row of the kernel's counters is a VM's when its thread is the VM's runner; rows
 * of runners that have ended (a VM restored runs on a new thread) are left out. */
static const char *vm_of_row(const struct tidal_top_vm *row, void *arg)
{
    const struct daemon *d = arg;
    for (const struct dvm *v = d->vms; v; v = v->next)
        if (v->runner_tid && (uint32_t)v->runner_tid == row->tid)
            return v->name;
    return NULL;
}

/* Lock held. */
static void kernel_metrics(struct daemon *d, struct text *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return;
    tidal_kvm_metrics_write(f, d->kvm, "vm", vm_of_row, d);
    fclose(f);
    put(t, "%s", buf ? buf : "");
    free(buf);
}

void api_metrics(struct daemon *d, const struct api_request *q, struct api_reply *r)
{
    if (strcmp(q->method, "GET")) {
        api_fail(r, 405, "method_not_allowed", "%s /metrics: expected GET", q->method);
        return;
    }
    struct text t = {0};
    put(&t, "# TYPE tidal_vm_state gauge\n");
    pthread_mutex_lock(&d->lock);
    int by_state[DVM_FAILED + 1] = {0};
    for (struct dvm *v = d->vms; v; v = v->next)
        by_state[v->state]++;
    for (int s = 0; s <= DVM_FAILED; s++)
        put(&t, "tidal_vms{state=\"%s\"} %d\n", dvm_state_name((enum dvm_state)s), by_state[s]);
    put(&t, "# TYPE tidal_vm_progress_ratio gauge\n");
    for (struct dvm *v = d->vms; v; v = v->next) {
        dvm_refresh_progress(v);
        if (v->progress_total)
            put(&t, "tidal_vm_progress_ratio{vm=\"%s\"} %.6f\n", v->name,
                (double)v->progress_done / (double)v->progress_total);
    }
    put(&t, "# TYPE tidal_vm_snapshots_total counter\n");
    for (struct dvm *v = d->vms; v; v = v->next) {
        put(&t, "tidal_vm_snapshots_total{vm=\"%s\",kind=\"full\"} %llu\n", v->name,
            (unsigned long long)v->snapshots_full);
        put(&t, "tidal_vm_snapshots_total{vm=\"%s\",kind=\"diff\"} %llu\n", v->name,
            (unsigned long long)v->snapshots_diff);
        put(&t, "tidal_vm_snapshot_last_bytes{vm=\"%s\"} %llu\n", v->name,
            (unsigned long long)v->bytes_last_save);
        put(&t, "tidal_vm_snapshot_last_save_ms{vm=\"%s\"} %.3f\n", v->name, v->last_save_ms);
    }
    put(&t, "# TYPE tidal_batch_suspensions_total counter\n");
    for (struct dvm *v = d->vms; v; v = v->next)
        if (v->job)
            put(&t, "tidal_batch_suspensions_total{job=\"%s\"} %u\n", v->name, v->suspensions);
    if (d->kvm)
        kernel_metrics(d, &t);
    put(&t, "# TYPE tidal_api_requests_total counter\ntidal_api_requests_total %llu\n",
        (unsigned long long)d->api_requests);
    put(&t, "# TYPE tidal_api_errors_total counter\ntidal_api_errors_total %llu\n",
        (unsigned long long)d->api_errors);
    pthread_mutex_unlock(&d->lock);
    r->text = t.buf ? t.buf : strdup("");
}
