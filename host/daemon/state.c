/* state.json: every VM and job the daemon knows, enough to bring each back after a
 * crash. Written atomically after every change that matters (a state transition, a
 * saved snapshot); snapshot files are written before the state that names them, so
 * a crash at any point leaves a state.json whose files all exist. */
#include "internal.h"
#include "tidal/host_file.h"
#include "../json_fields.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATE_VERSION 1
#define STATE_LIMIT (64u << 20)

static const char *const class_names[] = {[DVM_SERVICE] = "service", [DVM_BATCH] = "batch"};
static const char *const job_state_names[] = {[JOB_ACTIVE] = "active",
                                              [JOB_DONE] = "done",
                                              [JOB_FAILED] = "failed",
                                              [JOB_CANCELLED] = "cancelled"};

static cJSON *vm_record(const struct dvm *v)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", v->name);
    cJSON_AddStringToObject(o, "class", class_names[v->cls]);
    dvm_spec_json(o, v);
    cJSON_AddNumberToObject(o, "scratch", (double)v->scratch_max);
    cJSON_AddStringToObject(o, "state", dvm_state_name(v->state));
    cJSON_AddNumberToObject(o, "snap_gen", v->snap_gen);
    cJSON_AddNumberToObject(o, "snap_len", v->snap_len);
    cJSON_AddNumberToObject(o, "log_at_snap", (double)v->log_at_snap);
    cJSON_AddNumberToObject(o, "progress_done", (double)v->progress_done);
    cJSON_AddNumberToObject(o, "progress_total", (double)v->progress_total);
    cJSON_AddNumberToObject(o, "exit_status", v->exit_status);
    cJSON_AddStringToObject(o, "report", v->report);
    cJSON_AddNumberToObject(o, "snapshots_full", (double)v->snapshots_full);
    cJSON_AddNumberToObject(o, "snapshots_diff", (double)v->snapshots_diff);
    if (v->job) {
        cJSON *j = cJSON_AddObjectToObject(o, "job");
        cJSON_AddItemToObject(j, "spec", tidal_job_spec_json(v->job));
        cJSON_AddStringToObject(j, "state", job_state_names[v->job_state]);
        cJSON_AddNumberToObject(j, "submitted_at", v->submitted_at);
        cJSON_AddNumberToObject(j, "finished_at", v->finished_at);
        cJSON_AddNumberToObject(j, "suspensions", v->suspensions);
        cJSON_AddNumberToObject(j, "resumptions", v->resumptions);
    }
    return o;
}

int daemon_persist(struct daemon *d)
{
    if (d->opts.etcd) /* etcd holds a cluster's state (cluster_note_change) */
        return 0;
    pthread_mutex_lock(&d->persist_lock);
    pthread_mutex_lock(&d->lock);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "version", STATE_VERSION);
    cJSON *vms = cJSON_AddArrayToObject(root, "vms");
    for (struct dvm *v = d->vms; v; v = v->next) {
        dvm_refresh_progress(v);
        cJSON_AddItemToArray(vms, vm_record(v));
    }
    pthread_mutex_unlock(&d->lock);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    char path[4200];
    snprintf(path, sizeof(path), "%s/state.json", d->state_dir);
    struct tidal_err err;
    int rc = text ? tidal_write_atomic(path, text, strlen(text), &err)
                  : tidal_err_set(&err, "out of memory");
    free(text);
    pthread_mutex_unlock(&d->persist_lock);
    if (rc)
        dlog(d, "cannot save the daemon state: %s", err.msg);
    return rc;
}

static double num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* Counts and sizes: whole numbers up to 2^53, the doubles that hold them exactly. */
#define COUNT_MAX 9007199254740992.0

/* A whole number member in lo..hi (0 when absent) into *out. The file is the daemon's
 * own, but a damaged or edited one is refused, naming the field: converting a value
 * out of an integer's range is undefined behaviour. */
static int whole(const cJSON *o, const char *name, double lo, double hi, double *out,
                 const char *path, const char *vm, struct tidal_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    *out = 0;
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
        v->valuedouble != floor(v->valuedouble))
        return tidal_err_set(err,
                             "%s: VM \"%s\": field \"%s\": expected a whole number in %.0f..%.0f",
                             path, vm, name, lo, hi);
    *out = v->valuedouble;
    return 0;
}

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int load_job(struct dvm *v, const cJSON *j, const char *path, struct tidal_err *err)
{
    struct tidal_err inner;
    v->job = calloc(1, sizeof(*v->job));
    if (!v->job)
        return tidal_err_set(err, "out of memory");
    if (tidal_job_spec_parse(cJSON_GetObjectItemCaseSensitive(j, "spec"), v->job, &inner))
        return tidal_err_set(err, "%s: job \"%s\": %s", path, v->name, inner.msg);
    const char *state = str(j, "state");
    bool known = false;
    for (unsigned i = 0; state && i < 4; i++)
        if (!strcmp(state, job_state_names[i])) {
            v->job_state = (enum job_state)i;
            known = true;
        }
    if (!known)
        return tidal_err_set(err,
                             "%s: job \"%s\": field \"state\": expected active, done, "
                             "failed or cancelled",
                             path, v->name);
    v->submitted_at = num(j, "submitted_at");
    v->finished_at = num(j, "finished_at");
    double suspensions, resumptions;
    if (whole(j, "suspensions", 0, UINT_MAX, &suspensions, path, v->name, err) ||
        whole(j, "resumptions", 0, UINT_MAX, &resumptions, path, v->name, err))
        return -1;
    v->suspensions = (unsigned)suspensions;
    v->resumptions = (unsigned)resumptions;
    return 0;
}

static int load_vm(struct daemon *d, const cJSON *o, const char *path, struct tidal_err *err)
{
    const char *name = str(o, "name"), *cls = str(o, "class"), *image = str(o, "image"),
               *state = str(o, "state");
    struct tidal_err inner;
    if (!name || tidal_check_name("name", name, &inner))
        return tidal_err_set(err, "%s: a VM record without a valid \"name\"", path);
    if (!cls || !image || !state)
        return tidal_err_set(err, "%s: VM \"%s\": missing \"class\", \"image\" or \"state\"", path,
                             name);
    double mem, gen, len, log_at, done, total, status, full, diff, scratch;
    if (whole(o, "mem", 0, COUNT_MAX, &mem, path, name, err) ||
        whole(o, "scratch", 0, COUNT_MAX, &scratch, path, name, err) ||
        whole(o, "snap_gen", 0, UINT_MAX, &gen, path, name, err) ||
        whole(o, "snap_len", 0, DVM_MAX_CHAIN, &len, path, name, err) ||
        whole(o, "log_at_snap", 0, COUNT_MAX, &log_at, path, name, err) ||
        whole(o, "progress_done", 0, COUNT_MAX, &done, path, name, err) ||
        whole(o, "progress_total", 0, COUNT_MAX, &total, path, name, err) ||
        whole(o, "exit_status", INT_MIN, INT_MAX, &status, path, name, err) ||
        whole(o, "snapshots_full", 0, COUNT_MAX, &full, path, name, err) ||
        whole(o, "snapshots_diff", 0, COUNT_MAX, &diff, path, name, err))
        return -1;
    char *args[DVM_MAX_ARGS];
    int argc = 0;
    if (tidal_json_args(o, "args", DVM_MAX_ARGS, args, &argc, &inner))
        return tidal_err_set(err, "%s: VM \"%s\": %s", path, name, inner.msg);
    struct dvm *v = dvm_new(d, name, strcmp(cls, "batch") ? DVM_SERVICE : DVM_BATCH, image, argc,
                            args, (uint64_t)mem, num(o, "cpus"), &inner);
    for (int i = 0; i < argc; i++)
        free(args[i]);
    if (!v)
        return tidal_err_set(err, "%s: VM \"%s\": %s", path, name, inner.msg);
    if (dvm_state_parse(state, &v->state))
        return tidal_err_set(err, "%s: VM \"%s\": unknown state \"%s\"", path, name, state);
    if (tidal_json_trees(o, "", &v->trees, &inner))
        return tidal_err_set(err, "%s: VM \"%s\": %s", path, name, inner.msg);
    v->scratch_max = (uint64_t)scratch;
    v->snap_gen = (unsigned)gen;
    v->snap_len = (unsigned)len;
    v->log_at_snap = (uint64_t)log_at;
    v->progress_done = (uint64_t)done;
    v->progress_total = (uint64_t)total;
    v->exit_status = (int)status;
    v->snapshots_full = (uint64_t)full;
    v->snapshots_diff = (uint64_t)diff;
    if (str(o, "report"))
        snprintf(v->report, sizeof(v->report), "%s", str(o, "report"));
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, "job");
    return j ? load_job(v, j, path, err) : 0;
}

/* A daemon killed while writing state.json leaves its temporary file: with the state
 * directory locked, no writer is alive to own one. */
static void remove_interrupted_writes(const struct daemon *d)
{
    DIR *dir = opendir(d->state_dir);
    if (!dir)
        return;
    for (struct dirent *e; (e = readdir(dir));) {
        if (strncmp(e->d_name, "state.json.tmp.", strlen("state.json.tmp.")))
            continue;
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s", d->state_dir, e->d_name);
        unlink(path);
    }
    closedir(dir);
}

int daemon_load(struct daemon *d, struct tidal_err *err)
{
    remove_interrupted_writes(d);
    char path[4200];
    snprintf(path, sizeof(path), "%s/state.json", d->state_dir);
    if (access(path, F_OK) && errno == ENOENT)
        return 0; /* a fresh state directory */
    char *text;
    size_t len;
    if (tidal_read_file(path, STATE_LIMIT, &text, &len, err))
        return -1;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root)
        return tidal_err_set(err, "%s: not valid JSON", path);
    int rc = 0;
    const cJSON *vms = cJSON_GetObjectItemCaseSensitive(root, "vms");
    if (num(root, "version") != STATE_VERSION || !cJSON_IsArray(vms)) {
        rc = tidal_err_set(err, "%s: expected {\"version\": %d, \"vms\": [...]}", path,
                           STATE_VERSION);
    } else {
        const cJSON *o;
        pthread_mutex_lock(&d->lock);
        cJSON_ArrayForEach(o, vms) if (!rc) rc = load_vm(d, o, path, err);
        pthread_mutex_unlock(&d->lock);
    }
    cJSON_Delete(root);
    return rc;
}

void daemon_recover(struct daemon *d)
{
    pthread_mutex_lock(&d->lock);
    for (struct dvm *v = d->vms; v; v = v->next) {
        dvm_prune_snapshots(v);
        if (v->state != DVM_RUNNING && v->state != DVM_PAUSED)
            continue;
        if (v->job && v->job_state == JOB_ACTIVE &&
            !daemon_job_may_run(d, v, tidal_clock_now(&d->clock))) {
            /* its window closed while the daemon was down: the enforcer resumes it */
            v->state = v->snap_len ? DVM_SUSPENDED : DVM_CREATED;
            dlog(d, "%s: window closed while the daemon was down: left %s", v->name,
                 dvm_state_name(v->state));
            continue;
        }
        enum dvm_state as = v->state;
        bool from_chain = v->snap_len > 0;
        struct tidal_err err;
        dlog(d, "%s: was %s when the daemon stopped: %s", v->name, dvm_state_name(as),
             from_chain ? "restoring its latest snapshot" : "booting it again");
        if (dvm_launch(d, v, from_chain, as, &err))
            dlog(d, "%s: recovery failed: %s", v->name, err.msg);
    }
    pthread_mutex_unlock(&d->lock);
}
