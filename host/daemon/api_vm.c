/* /v1/vms: create, list, get, delete, and the state transitions
 * (start, pause, resume, snapshot, suspend, restore, stop), plus the console. */
#include "api.h"
#include "cluster.h"
#include "../json_fields.h"
#include "tidal/layout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONSOLE_TAIL (64u << 10)

char *console_tail(const struct dvm *v, size_t max)
{
    char path[4500];
    dvm_console_path(v, path, sizeof(path));
    char *buf = malloc(max + 1);
    if (!buf)
        return NULL;
    buf[0] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return buf;
    struct stat st;
    off_t from = !fstat(fd, &st) && (size_t)st.st_size > max ? st.st_size - (off_t)max : 0;
    ssize_t n = pread(fd, buf, max, from);
    buf[n > 0 ? n : 0] = 0;
    close(fd);
    return buf;
}

cJSON *dvm_json(struct daemon *d, struct dvm *v)
{
    dvm_refresh_progress(v);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", v->name);
    cJSON_AddStringToObject(o, "class", v->cls == DVM_BATCH ? "batch" : "service");
    cJSON_AddStringToObject(o, "state", dvm_state_name(v->state));
    dvm_spec_json(o, v);
    if (v->scratch_max)
        cJSON_AddNumberToObject(o, "scratch", (double)v->scratch_max);
    if (v->state == DVM_EXITED)
        cJSON_AddNumberToObject(o, "exit_status", v->exit_status);
    if (v->report[0])
        cJSON_AddStringToObject(o, "report", v->report);
    cJSON *p = cJSON_AddObjectToObject(o, "progress");
    cJSON_AddNumberToObject(p, "done", (double)v->progress_done);
    cJSON_AddNumberToObject(p, "total", (double)v->progress_total);
    cJSON *s = cJSON_AddObjectToObject(o, "snapshots");
    cJSON_AddNumberToObject(s, "chain", v->snap_len);
    cJSON_AddNumberToObject(s, "generation", v->snap_gen);
    cJSON_AddNumberToObject(s, "full", (double)v->snapshots_full);
    cJSON_AddNumberToObject(s, "diff", (double)v->snapshots_diff);
    cJSON_AddNumberToObject(s, "last_bytes", (double)v->bytes_last_save);
    cJSON_AddNumberToObject(s, "last_save_ms", v->last_save_ms);
    cJSON_AddNumberToObject(s, "last_restore_ms", v->last_restore_ms);
    cJSON *st = cJSON_AddObjectToObject(o, "stats");
    cJSON_AddNumberToObject(st, "uptime_s", v->vm ? mono_now() - v->started_real : 0);
    uint64_t exits;
    if (v->vm && !tidal_vm_stat(v->vm, "exits", &exits))
        cJSON_AddNumberToObject(st, "exits", (double)exits);
    (void)d;
    return o;
}

int api_vm_spec_parse(const cJSON *body, struct api_vm_spec *spec, struct tidal_err *err)
{
    static const char *const known[] = {"name",  "image", "args",  "mem",     "cpus",
                                        "start", "dirs",  "files", "scratch", NULL};
    *spec = (struct api_vm_spec){.mem = TIDAL_MEM_DEFAULT, .cpus = 1, .start = true};
    if (tidal_json_only_fields(body, "", known, err) ||
        tidal_json_string(body, "", "name", true, &spec->name, err) ||
        tidal_check_name("field \"name\"", spec->name, err) ||
        tidal_json_image(body, spec->image, sizeof(spec->image), err) ||
        tidal_json_args(body, "args", DVM_MAX_ARGS, spec->args, &spec->argc, err) ||
        tidal_json_check_args_fit(spec->image, spec->args, spec->argc, err) ||
        tidal_json_mem(body, "", "mem", &spec->mem, err) ||
        tidal_json_number(body, "", "cpus", 0.01, 1024, &spec->cpus, err) ||
        tidal_json_trees(body, "", &spec->trees, err) ||
        tidal_json_size(body, "", "scratch", &spec->scratch, err))
        return -1;
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(body, "start");
    if (start && !cJSON_IsBool(start))
        return tidal_err_set(err, "field \"start\": expected true or false");
    spec->start = !start || cJSON_IsTrue(start);
    return 0;
}

void api_vm_spec_free(struct api_vm_spec *spec)
{
    for (int i = 0; i < spec->argc; i++)
        free(spec->args[i]);
    spec->argc = 0;
    tidal_fs_trees_free(&spec->trees);
}

struct dvm *api_vm_define(struct daemon *d, struct api_vm_spec *spec, struct tidal_err *err)
{
    struct dvm *v = dvm_new(d, spec->name, DVM_SERVICE, spec->image, spec->argc, spec->args,
                            spec->mem, spec->cpus, err);
    if (v) {
        v->trees = spec->trees; /* moved: the VM owns the copies now */
        spec->trees.n = 0;
        v->scratch_max = spec->scratch;
    }
    return v;
}

static void create(struct daemon *d, const struct api_request *q, struct api_reply *r)
{
    struct tidal_err err;
    struct api_vm_spec spec;
    if (!q->body) {
        api_fail(r, 400, "bad_request",
                 "POST /v1/vms needs a JSON body: {\"name\": ..., "
                 "\"image\": ...}");
        return;
    }
    /* The trees are walked here, not in the parser: it reads no file. */
    if (api_vm_spec_parse(q->body, &spec, &err) || tidal_json_check_trees(&spec.trees, &err)) {
        api_vm_spec_free(&spec);
        api_fail(r, 400, "bad_request", "%s", err.msg);
        return;
    }
    if (d->cluster) {
        unsigned status;
        if (cluster_define(d, spec.name, "service", q->body, &status, &err))
            api_fail(r, status, status == 409 ? "conflict" : "cluster", "%s", err.msg);
        else {
            r->status = 202;
            r->json = cJSON_CreateObject();
            cJSON_AddStringToObject(r->json, "name", spec.name);
            cJSON_AddStringToObject(r->json, "state", "placing");
        }
        api_vm_spec_free(&spec);
        return;
    }
    pthread_mutex_lock(&d->lock);
    struct dvm *v = api_vm_define(d, &spec, &err);
    api_vm_spec_free(&spec);
    if (!v) {
        pthread_mutex_unlock(&d->lock);
        api_fail(r, 409, "conflict", "%s", err.msg);
        return;
    }
    int rc = 0;
    if (spec.start)
        rc = dvm_launch(d, v, false, DVM_RUNNING, &err);
    if (rc)
        api_fail(r, 422, "boot_failed", "VM \"%s\" was created but did not boot: %s", spec.name,
                 err.msg);
    else {
        r->status = 201;
        r->json = dvm_json(d, v);
    }
    pthread_mutex_unlock(&d->lock);
    dlog(d, "%s: created", spec.name);
    daemon_persist(d);
}

static bool live(const struct dvm *v)
{
    return v->state == DVM_RUNNING || v->state == DVM_PAUSED;
}

static int wrong_state(struct api_reply *r, const struct dvm *v, const char *action,
                       const char *expected)
{
    return api_fail(r, 409, "wrong_state", "cannot %s VM \"%s\": it is %s (expected %s)", action,
                    v->name, dvm_state_name(v->state), expected);
}

/* POST /v1/vms/NAME/input {"data": TEXT}: appends TEXT to the guest's stdin. Lock held;
 * never blocks: a guest that does not read fills its pipe, and the caller gets 503. */
static void send_input(struct dvm *v, const cJSON *body, struct api_reply *r)
{
    static const char *const known[] = {"data", NULL};
    struct tidal_err err;
    const char *data;
    if (tidal_json_only_fields(body, "", known, &err) ||
        tidal_json_string(body, "", "data", true, &data, &err)) {
        api_fail(r, 400, "bad_request", "%s", err.msg);
        return;
    }
    if (v->migrating) {
        api_fail(r, 503, "migrating",
                 "VM \"%s\" is moving to another host: send it there (GET /v1/cluster)", v->name);
        return;
    }
    if (v->input_fd < 0) {
        wrong_state(r, v, "take input", "it is not running: start or resume it");
        return;
    }
    size_t len = strlen(data);
    ssize_t n = write(v->input_fd, data, len);
    if (n < 0 && errno == EAGAIN) {
        api_fail(r, 503, "input_full",
                 "VM \"%s\" has not read its earlier input yet (its stdin pipe is full)", v->name);
        return;
    }
    if (n < 0) {
        api_fail(r, 500, "internal", "writing to VM \"%s\": %s", v->name, strerror(errno));
        return;
    }
    r->status = 202;
    r->json = cJSON_CreateObject();
    cJSON_AddNumberToObject(r->json, "accepted", (double)n);
    cJSON_AddNumberToObject(r->json, "sent", (double)len);
}

/* One transition; lock held. */
static void act(struct daemon *d, struct dvm *v, const char *action, struct api_reply *r)
{
    struct tidal_err err;
    int rc = -2;
    if (v->cls == DVM_BATCH && strcmp(action, "snapshot")) {
        api_fail(r, 409, "batch_job",
                 "VM \"%s\" is a batch job: the daemon starts, suspends "
                 "and resumes it with its window (use /v1/batch/%s/cancel)",
                 v->name, v->name);
        return;
    }
    if (v->migrating) {
        api_fail(r, 409, "migrating", "cannot %s VM \"%s\": it is moving to another host", action,
                 v->name);
        return;
    }
    bool starts =
        !strcmp(action, "start") || !strcmp(action, "resume") || !strcmp(action, "restore");
    if (starts && cluster_fenced(d)) {
        api_fail(r, 503, "fenced",
                 "cannot %s VM \"%s\": this host has lost touch with the cluster's etcd, "
                 "and its VMs stay paused until it is back",
                 action, v->name);
        return;
    }
    if (!strcmp(action, "start")) {
        if (live(v) || v->state == DVM_SUSPENDED)
            wrong_state(r, v, action, "created, stopped, exited or failed");
        else
            rc = dvm_launch(d, v, false, DVM_RUNNING, &err);
    } else if (!strcmp(action, "pause")) {
        if (v->state != DVM_RUNNING)
            wrong_state(r, v, action, "running");
        else
            rc = dvm_command(d, v, CMD_PAUSE, &err);
    } else if (!strcmp(action, "resume")) {
        if (v->state == DVM_PAUSED)
            rc = dvm_command(d, v, CMD_RESUME, &err);
        else if (v->state == DVM_SUSPENDED)
            rc = dvm_launch(d, v, true, DVM_RUNNING, &err);
        else
            wrong_state(r, v, action, "paused or suspended");
    } else if (!strcmp(action, "snapshot")) {
        if (!live(v))
            wrong_state(r, v, action, "running or paused");
        else
            rc = dvm_command(d, v, CMD_SNAPSHOT, &err);
    } else if (!strcmp(action, "suspend")) {
        if (!live(v))
            wrong_state(r, v, action, "running or paused");
        else
            rc = dvm_command(d, v, CMD_SUSPEND, &err);
    } else if (!strcmp(action, "restore")) {
        if (live(v))
            wrong_state(r, v, action, "not running: stop it first");
        else if (!v->snap_len)
            api_fail(r, 409, "no_snapshot",
                     "VM \"%s\" has no snapshot (take one with POST "
                     "/v1/vms/%s/snapshot)",
                     v->name, v->name);
        else
            rc = dvm_launch(d, v, true, DVM_RUNNING, &err);
    } else if (!strcmp(action, "stop")) {
        if (live(v)) {
            rc = dvm_command(d, v, CMD_STOP, &err);
        } else if (v->state == DVM_SUSPENDED) {
            v->state = DVM_STOPPED; /* its snapshot stays: restore brings it back */
            rc = 0;
        } else {
            wrong_state(r, v, action, "running, paused or suspended");
        }
    } else {
        api_fail(r, 404, "not_found",
                 "unknown action \"%s\" (expected start, pause, resume, snapshot, suspend, "
                 "restore or stop)",
                 action);
        return;
    }
    if (rc == -1)
        api_fail(r, 500, "failed", "%s %s: %s", action, v->name, err.msg);
    else if (rc == 0)
        r->json = dvm_json(d, v);
}

void api_vms(struct daemon *d, const struct api_request *q, struct api_reply *r)
{
    const char *m = q->method;
    if (q->nparts == 2) {
        if (!strcmp(m, "POST")) {
            create(d, q, r);
        } else if (!strcmp(m, "GET")) {
            r->json = cJSON_CreateArray();
            pthread_mutex_lock(&d->lock);
            for (struct dvm *v = d->vms; v; v = v->next)
                cJSON_AddItemToArray(r->json, dvm_json(d, v));
            pthread_mutex_unlock(&d->lock);
        } else {
            api_fail(r, 405, "method_not_allowed", "%s /v1/vms: expected GET or POST", m);
        }
        return;
    }
    if (q->nparts > 4) {
        api_fail(r, 404, "not_found", "no endpoint %s with %d path parts", m, q->nparts);
        return;
    }
    const char *name = q->parts[2];
    if (q->nparts == 3 && !strcmp(m, "DELETE") && d->cluster) {
        struct tidal_err err;
        unsigned status;
        if (cluster_undefine(d, name, &status, &err))
            api_fail(r, status, status == 404 ? "unknown_vm" : "cluster", "%s", err.msg);
        else {
            r->status = 202; /* its owner stops it and removes its files */
            r->json = cJSON_CreateObject();
            cJSON_AddStringToObject(r->json, "name", name);
            cJSON_AddStringToObject(r->json, "state", "deleting");
        }
        return;
    }
    if (q->nparts == 4 && !strcmp(q->parts[3], "migrate") && !strcmp(m, "POST")) {
        api_migrate(d, name, q->body, r); /* takes the lock as it goes: it waits on the net */
        return;
    }
    pthread_mutex_lock(&d->lock);
    struct dvm *v = dvm_find(d, name);
    if (!v) {
        pthread_mutex_unlock(&d->lock);
        api_fail(r, 404, "unknown_vm", "no VM named \"%s\"", name);
        return;
    }
    bool changed = false;
    if (q->nparts == 3) {
        if (!strcmp(m, "GET")) {
            r->json = dvm_json(d, v);
        } else if (!strcmp(m, "DELETE")) {
            dvm_wait_wound_down(d, v);
            if (v->thread_live)
                wrong_state(r, v, "delete", "not running: stop it first");
            else {
                for (struct dvm **pp = &d->vms; *pp; pp = &(*pp)->next)
                    if (*pp == v) {
                        *pp = v->next;
                        break;
                    }
                dvm_remove_tree(v->dir);
                dvm_free(v);
                r->status = 204;
                r->text = strdup("");
                changed = true;
            }
        } else {
            api_fail(r, 405, "method_not_allowed", "%s /v1/vms/%s: expected GET or DELETE", m,
                     name);
        }
    } else if (!strcmp(q->parts[3], "input")) {
        if (strcmp(m, "POST"))
            api_fail(r, 405, "method_not_allowed", "%s input: expected POST", m);
        else
            send_input(v, q->body, r);
    } else if (!strcmp(q->parts[3], "console")) {
        if (strcmp(m, "GET"))
            api_fail(r, 405, "method_not_allowed", "%s console: expected GET", m);
        else
            r->text = console_tail(v, CONSOLE_TAIL);
    } else if (strcmp(m, "POST")) {
        api_fail(r, 405, "method_not_allowed", "%s /v1/vms/%s/%s: expected POST", m, name,
                 q->parts[3]);
    } else if (q->body && (!cJSON_IsObject(q->body) || q->body->child)) {
        api_fail(r, 400, "bad_request", "%s takes no fields (send no body or {})", q->parts[3]);
    } else {
        act(d, v, q->parts[3], r);
        changed = !r->error;
    }
    pthread_mutex_unlock(&d->lock);
    if (changed)
        daemon_persist(d);
}
