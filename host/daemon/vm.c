/* One VM's life in the daemon: a runner thread builds it (from its image or its
 * snapshot chain), runs it, and carries out commands (pause, snapshot, suspend,
 * stop) that API handlers and the enforcer hand it. A command stops the vCPU with a
 * signal to the runner (tidal_vm_request_pause), so it takes effect within one
 * guest exit; the saving itself happens on the runner, outside the daemon's lock. */
#include "internal.h"
#include "cluster.h"
#include "../json_fields.h"
#include "tidal/confine.h"
#include "tidal/file.h"
#include "tidal/fsimage.h"
#include "tidal/layout.h"
#include "tidal/snapshot_vm.h"
#include "tidal/vmstate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAUSE_SIGNAL (SIGRTMIN + 2)

static _Thread_local struct tidal_vm *volatile runner_vm;

static void on_pause_signal(int sig)
{
    (void)sig;
    struct tidal_vm *vm = runner_vm;
    if (vm)
        tidal_vm_request_pause(vm);
}

void dvm_install_signal(void)
{
    struct sigaction sa = {.sa_handler = on_pause_signal}; /* no SA_RESTART: leave sleeps */
    sigemptyset(&sa.sa_mask);
    sigaction(PAUSE_SIGNAL, &sa, NULL);
}

static const char *const state_names[] = {
    [DVM_CREATED] = "created",     [DVM_RUNNING] = "running", [DVM_PAUSED] = "paused",
    [DVM_SUSPENDED] = "suspended", [DVM_STOPPED] = "stopped", [DVM_EXITED] = "exited",
    [DVM_FAILED] = "failed"};

const char *dvm_state_name(enum dvm_state s)
{
    return state_names[s];
}

int dvm_state_parse(const char *s, enum dvm_state *out)
{
    for (unsigned i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
        if (!strcmp(s, state_names[i])) {
            *out = (enum dvm_state)i;
            return 0;
        }
    return -1;
}

struct dvm *dvm_find(struct daemon *d, const char *name)
{
    for (struct dvm *v = d->vms; v; v = v->next)
        if (!strcmp(v->name, name))
            return v;
    return NULL;
}

void dvm_free(struct dvm *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->argc; i++)
        free(v->argv[i]);
    tidal_fs_trees_free(&v->trees);
    if (v->job) {
        tidal_job_spec_free(v->job);
        free(v->job);
    }
    free(v);
}

struct dvm *dvm_new(struct daemon *d, const char *name, enum dvm_class cls, const char *image,
                    int argc, char *const *argv, uint64_t mem_size, double cpus,
                    struct tidal_err *err)
{
    if (dvm_find(d, name)) {
        tidal_err_set(err, "a VM or job named \"%s\" exists already", name);
        return NULL;
    }
    if (argc > DVM_MAX_ARGS) {
        tidal_err_set(err, "more than %d guest arguments", DVM_MAX_ARGS);
        return NULL;
    }
    struct dvm *v = calloc(1, sizeof(*v));
    if (v)
        v->input_fd = v->input_read_fd = -1;
    if (!v) {
        tidal_err_set(err, "out of memory");
        return NULL;
    }
    snprintf(v->name, sizeof(v->name), "%s", name);
    snprintf(v->dir, sizeof(v->dir), "%s/%s", d->vm_root, name);
    snprintf(v->image, sizeof(v->image), "%s", image);
    v->cls = cls;
    v->mem_size = mem_size;
    v->cpus = cpus;
    v->argv[0] = strdup(image);
    v->argc = 1;
    for (int i = 0; i < argc; i++)
        v->argv[v->argc++] = strdup(argv[i]);
    for (int i = 0; i < v->argc; i++)
        if (!v->argv[i]) {
            dvm_free(v);
            tidal_err_set(err, "out of memory");
            return NULL;
        }
    if (mkdir(v->dir, 0700) && errno != EEXIST) {
        tidal_err_set(err, "%s: %s", v->dir, strerror(errno));
        dvm_free(v);
        return NULL;
    }
    v->next = d->vms;
    d->vms = v;
    return v;
}

void dvm_spec_json(cJSON *o, const struct dvm *v)
{
    cJSON_AddStringToObject(o, "image", v->image);
    cJSON *args = cJSON_AddArrayToObject(o, "args");
    for (int i = 1; i < v->argc; i++)
        cJSON_AddItemToArray(args, cJSON_CreateString(v->argv[i]));
    cJSON_AddNumberToObject(o, "mem", (double)v->mem_size);
    cJSON_AddNumberToObject(o, "cpus", v->cpus);
    tidal_json_add_trees(o, &v->trees);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0; /* what cannot be removed stays; the rest goes */
}

void dvm_remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void dvm_snap_path(const struct dvm *v, unsigned gen, unsigned i, char *out, size_t size)
{
    snprintf(out, size, "%s/snap-%u.%u", v->dir, gen, i);
}

void dvm_console_path(const struct dvm *v, char *out, size_t size)
{
    snprintf(out, size, "%s/console.log", v->dir);
}

void dvm_prune_snapshots(const struct dvm *v)
{
    DIR *dir = opendir(v->dir);
    if (!dir)
        return;
    struct dirent *e;
    while ((e = readdir(dir))) {
        unsigned gen, i;
        char tail;
        if (sscanf(e->d_name, "snap-%u.%u%c", &gen, &i, &tail) == 2 &&
            (gen != v->snap_gen || i >= v->snap_len)) {
            char path[4500];
            snprintf(path, sizeof(path), "%s/%s", v->dir, e->d_name);
            unlink(path);
        } else if (strstr(e->d_name, ".tmp.")) { /* left by a writer killed mid-save */
            char path[4500];
            snprintf(path, sizeof(path), "%s/%s", v->dir, e->d_name);
            unlink(path);
        }
    }
    closedir(dir);
}

void dvm_refresh_progress(struct dvm *v)
{
    if (!v->vm)
        return;
    uint64_t done, total;
    tidal_vm_progress(v->vm, &done, &total);
    if (total) { /* 0/0: a restored guest that has not reported since */
        v->progress_done = done;
        v->progress_total = total;
    }
}

/* ---- the runner ---- */

struct runner {
    struct daemon *d;
    struct dvm *v;
    struct tidal_vm *vm;
    int console_fd;
    int input_fd;            /* read end of the guest's stdin pipe */
    struct tidal_snap *last; /* the chain's newest file, the base of the next diff */
    bool tracking;           /* dirty pages are tracked since `last` was saved */
};

/* The console log, cut to its first `keep` bytes (-1: kept whole). */
static int open_console(struct runner *r, int64_t keep, struct tidal_err *err)
{
    char path[4500];
    dvm_console_path(r->v, path, sizeof(path));
    r->console_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (r->console_fd < 0)
        return tidal_err_set(err, "%s: %s", path, strerror(errno));
    if (keep >= 0 && ftruncate(r->console_fd, (off_t)keep))
        return tidal_err_set(err, "%s: truncate: %s", path, strerror(errno));
    return 0;
}

static int build_from_chain(struct runner *r, unsigned gen, unsigned len,
                            const struct tidal_vm_config *cfg, struct tidal_err *err)
{
    struct tidal_snap *chain[DVM_MAX_CHAIN];
    unsigned opened = 0;
    int rc = 0;
    for (; opened < len; opened++) {
        char path[4500];
        dvm_snap_path(r->v, gen, opened, path, sizeof(path));
        if (tidal_snap_open(path, &chain[opened], err)) {
            rc = -1;
            break;
        }
    }
    if (!rc && (rc = tidal_snapshot_restore((const struct tidal_snap *const *)chain, len, cfg, 0,
                                            NULL, &r->vm, err))) {
        tidal_vm_destroy(r->vm);
        r->vm = NULL;
    }
    if (!rc && !(rc = tidal_vm_track_dirty(r->vm, err))) {
        r->last = chain[len - 1];
        r->tracking = true;
        opened--; /* keep the last one open */
    }
    for (unsigned i = 0; i < opened; i++)
        tidal_snap_close(chain[i]);
    return rc ? -1 : 0;
}

static int build_from_image(struct runner *r, const struct tidal_vm_config *cfg,
                            struct tidal_err *err)
{
    const uint8_t *image;
    size_t size;
    if (tidal_file_map(r->v->image, TIDAL_IMAGE_MAX_BYTES, &image, &size, err))
        return -1;
    int rc = tidal_vm_create(cfg, image, size, r->v->image, &r->vm, err);
    tidal_file_unmap(image, size);
    if (rc) {
        tidal_vm_destroy(r->vm);
        r->vm = NULL;
        return -1;
    }
    return 0;
}

/* The guest's stdin: a pipe the API writes requests into (POST .../input). The write
 * end never blocks the API: a full pipe answers 503. */
static int open_input(struct runner *r, struct tidal_err *err)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC))
        return tidal_err_set(err, "stdin pipe: %s", strerror(errno));
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    r->input_fd = fds[0];
    pthread_mutex_lock(&r->d->lock);
    r->v->input_fd = fds[1];
    r->v->input_read_fd = fds[0];
    pthread_mutex_unlock(&r->d->lock);
    return 0;
}

static void close_input(struct runner *r)
{
    if (r->input_fd >= 0)
        close(r->input_fd);
    r->input_fd = -1;
    pthread_mutex_lock(&r->d->lock);
    if (r->v->input_fd >= 0)
        close(r->v->input_fd);
    r->v->input_fd = r->v->input_read_fd = -1;
    pthread_mutex_unlock(&r->d->lock);
}

void dvm_vm_config(const struct dvm *v, int in_fd, int out_fd, struct tidal_vm_config *cfg)
{
    *cfg = (struct tidal_vm_config){
        .mem_size = v->mem_size,
        .argc = v->argc,
        .argv = v->argv,
        .in_fd = in_fd,
        .out_fd = out_fd,
        .err_fd = out_fd,
        /* A batch job works through its memory in bulk; a service idles between
         * requests and is better off committing memory 4 KiB at a time. */
        .huge_pages = v->job != NULL,
        .scratch_max = v->scratch_max,
        /* A job's results are what it leaves under /out (GET /v1/batch/NAME/outputs). */
        .collect_out = v->job != NULL,
    };
}

/* A VM built by a migration's receiver, with its console and stdin: the runner's. */
static void take_incoming(struct runner *r, struct dvm_incoming *in)
{
    r->vm = in->vm;
    r->console_fd = in->console_fd;
    r->input_fd = in->input[0];
    pthread_mutex_lock(&r->d->lock);
    r->v->input_fd = in->input[1];
    r->v->input_read_fd = in->input[0];
    r->v->incoming = NULL;
    pthread_mutex_unlock(&r->d->lock);
}

static int build(struct runner *r, bool from_chain, struct tidal_err *err)
{
    struct daemon *d = r->d;
    pthread_mutex_lock(&d->lock);
    unsigned gen = r->v->snap_gen, len = r->v->snap_len;
    uint64_t keep = r->v->log_at_snap;
    struct dvm_incoming *in = r->v->incoming;
    pthread_mutex_unlock(&d->lock);
    if (in) {
        take_incoming(r, in);
        return 0;
    }
    /* A guest booted afresh starts an empty console. Output after the snapshot it
     * resumes from was written by a run that is lost: the resumed guest writes it
     * again. */
    if (open_console(r, from_chain ? (int64_t)keep : 0, err) || open_input(r, err))
        return -1;
    struct tidal_vm_config cfg;
    dvm_vm_config(r->v, r->input_fd, r->console_fd, &cfg);
    if (from_chain) /* the trees and scratch files are in the snapshot's memory */
        return len ? build_from_chain(r, gen, len, &cfg, err)
                   : tidal_err_set(err, "VM \"%s\" has no snapshot to restore", r->v->name);
    if (r->v->trees.n &&
        tidal_fs_plan(r->v->trees.specs, r->v->trees.n, &cfg.fs_plan, &cfg.fs_image_size, err))
        return -1;
    int rc = build_from_image(r, &cfg, err);
    tidal_fs_plan_free(cfg.fs_plan);
    return rc;
}

/* Outputs go to a fresh directory renamed into place once complete, so a reader of
 * <vm>/outputs never sees part of a run's files. */
static void keep_outputs(struct runner *r, const struct tidal_run_result *res)
{
    struct dvm *v = r->v;
    char dir[4300], tmp[4400];
    snprintf(dir, sizeof(dir), "%s/outputs", v->dir);
    snprintf(tmp, sizeof(tmp), "%s/outputs.tmp", v->dir);
    dvm_remove_tree(tmp);
    struct tidal_err err;
    if (tidal_fs_write_outputs(res->outputs, res->outputs_len, tmp, &err)) {
        dlog(r->d, "%s: outputs not kept: %s", v->name, err.msg);
        dvm_remove_tree(tmp);
        return;
    }
    dvm_remove_tree(dir);
    if (rename(tmp, dir))
        dlog(r->d, "%s: outputs not kept: rename %s: %s", v->name, tmp, strerror(errno));
}

/* Saves the VM: a diff on the chain when one is being tracked, else a full snapshot
 * that starts a new generation (older files go once state.json names the new one). */
static int save(struct runner *r, struct tidal_err *err)
{
    struct daemon *d = r->d;
    struct dvm *v = r->v;
    pthread_mutex_lock(&d->lock);
    unsigned gen = v->snap_gen, len = v->snap_len;
    pthread_mutex_unlock(&d->lock);
    bool full =
        !r->tracking || !r->last || len == 0 || len >= DVM_MAX_CHAIN || d->opts.full_snapshots;
    unsigned new_gen = full ? gen + 1 : gen, index = full ? 0 : len;
    char path[4500];
    dvm_snap_path(v, new_gen, index, path, sizeof(path));
    double t0 = mono_now();
    int rc = full ? tidal_snapshot_save(r->vm, path, err)
                  : tidal_snapshot_save_diff(r->vm, r->last, path, err);
    struct tidal_snap *opened = NULL;
    if (!rc)
        rc = tidal_snap_open(path, &opened, err);
    if (!rc && full)
        rc = tidal_vm_track_dirty(r->vm, err);
    if (rc) {
        tidal_snap_close(opened);
        r->tracking = false; /* the next save starts over with a full snapshot */
        return -1;
    }
    double ms = (mono_now() - t0) * 1e3;
    tidal_snap_close(r->last);
    r->last = opened;
    r->tracking = true;
    struct stat st;
    uint64_t bytes = stat(path, &st) ? 0 : (uint64_t)st.st_size;
    uint64_t log_size = fstat(r->console_fd, &st) ? 0 : (uint64_t)st.st_size;

    pthread_mutex_lock(&d->lock);
    dvm_refresh_progress(v);
    v->snap_gen = new_gen;
    v->snap_len = index + 1;
    v->log_at_snap = log_size;
    v->bytes_last_save = bytes;
    v->last_save_ms = ms;
    v->last_checkpoint_real = mono_now();
    if (full)
        v->snapshots_full++;
    else
        v->snapshots_diff++;
    bool clustered = v->epoch != 0;
    cluster_note_change(d, v); /* a cluster VM's older files go once etcd names the new ones */
    pthread_mutex_unlock(&d->lock);
    daemon_persist(d);
    if (full && !clustered) {
        pthread_mutex_lock(&d->lock);
        dvm_prune_snapshots(v);
        pthread_mutex_unlock(&d->lock);
    }
    dlog(d, "%s: saved %s snapshot %s (%llu bytes, %.1f ms)", v->name, full ? "full" : "diff", path,
         (unsigned long long)bytes, ms);
    return 0;
}

/* A terminal run result: the guest is gone. Lock held. */
static void finish(struct runner *r, const struct tidal_run_result *res)
{
    struct dvm *v = r->v;
    if (res->reason == TIDAL_EXIT_HALTED) {
        v->state = DVM_EXITED;
        v->exit_status = res->status;
    } else {
        v->state = DVM_FAILED;
        snprintf(v->report, sizeof(v->report), "%s", res->report);
    }
    if (v->job && v->job_state == JOB_ACTIVE) {
        v->job_state = v->state == DVM_EXITED && v->exit_status == 0 ? JOB_DONE : JOB_FAILED;
        v->finished_at = tidal_clock_now(&r->d->clock);
    }
}

/* Carries out one command; returns true when the runner should end. */
static bool execute(struct runner *r, enum dvm_cmd cmd, uint64_t seq)
{
    struct daemon *d = r->d;
    struct dvm *v = r->v;
    struct tidal_err err = {""};
    int rc = 0;
    pthread_mutex_lock(&d->lock);
    enum dvm_state next = v->state;
    pthread_mutex_unlock(&d->lock);
    switch (cmd) {
    case CMD_PAUSE:
        next = DVM_PAUSED;
        break;
    case CMD_RESUME:
        next = DVM_RUNNING;
        break;
    case CMD_SNAPSHOT:
        rc = save(r, &err);
        break;
    case CMD_SUSPEND:
        rc = save(r, &err);
        if (!rc)
            next = DVM_SUSPENDED;
        break;
    case CMD_STOP:
        next = DVM_STOPPED;
        break;
    case CMD_NONE:
        break;
    }
    pthread_mutex_lock(&d->lock);
    if (v->state != next)
        cluster_note_change(d, v);
    v->state = next;
    v->cmd = CMD_NONE;
    v->cmd_rc = rc;
    snprintf(v->cmd_msg, sizeof(v->cmd_msg), "%s", err.msg);
    v->done_seq = seq;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    if (next != DVM_RUNNING || cmd == CMD_RESUME)
        daemon_persist(d);
    return next == DVM_SUSPENDED || next == DVM_STOPPED;
}

static void *run_thread(void *arg)
{
    struct runner *r = arg;
    struct daemon *d = r->d;
    struct dvm *v = r->v;
    struct tidal_err err = {""};
    pthread_mutex_lock(&d->lock);
    bool from_chain = v->start_from_chain;
    enum dvm_state as = v->start_as;
    pthread_mutex_unlock(&d->lock);

    pthread_mutex_lock(&d->lock);
    v->runner_tid = gettid();
    pthread_mutex_unlock(&d->lock);
    double t0 = mono_now();
    int rc = tidal_confine(TIDAL_CONFINE_VCPU, &err);
    if (!rc)
        rc = build(r, from_chain, &err);
    pthread_mutex_lock(&d->lock);
    v->launching = false;
    v->launch_rc = rc;
    if (rc) {
        snprintf(v->cmd_msg, sizeof(v->cmd_msg), "%s", err.msg);
        snprintf(v->report, sizeof(v->report), "%s", err.msg);
        v->state = DVM_FAILED;
        v->thread_live = false;
        if (v->job && v->job_state == JOB_ACTIVE)
            v->job_state = JOB_FAILED;
        pthread_cond_broadcast(&d->cond);
        pthread_mutex_unlock(&d->lock);
        if (r->console_fd >= 0)
            close(r->console_fd);
        close_input(r);
        dlog(d, "%s: cannot %s: %s", v->name, from_chain ? "restore" : "boot", err.msg);
        daemon_persist(d);
        free(r);
        return NULL;
    }
    v->vm = r->vm;
    v->state = as;
    v->started_real = v->last_checkpoint_real = mono_now();
    if (from_chain)
        v->last_restore_ms = (v->started_real - t0) * 1e3;
    runner_vm = r->vm;
    cluster_note_change(d, v);
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    daemon_cgroup_place(d, v);
    dlog(d, "%s: %s (%s)", v->name, from_chain ? "restored from its snapshot" : "booted",
         dvm_state_name(as));
    daemon_persist(d);

    struct tidal_run_result res = {0};
    for (;;) {
        pthread_mutex_lock(&d->lock);
        while (v->state == DVM_PAUSED && v->cmd == CMD_NONE)
            pthread_cond_wait(&d->cond, &d->lock);
        enum dvm_cmd cmd = v->cmd;
        uint64_t seq = v->cmd_seq;
        pthread_mutex_unlock(&d->lock);
        if (cmd != CMD_NONE) {
            if (execute(r, cmd, seq))
                break;
            continue;
        }
        tidal_vm_run(r->vm, &res);
        if (res.reason == TIDAL_EXIT_PAUSED || res.reason == TIDAL_EXIT_READY)
            continue; /* a command is waiting, or the guest just goes on */
        if (res.reason == TIDAL_EXIT_HALTED && res.outputs)
            keep_outputs(r, &res); /* before the state says exited: then they are there */
        pthread_mutex_lock(&d->lock);
        finish(r, &res);
        cluster_note_change(d, v);
        pthread_mutex_unlock(&d->lock);
        dlog(d, "%s: %s %d%s%s", v->name,
             res.reason == TIDAL_EXIT_HALTED ? "exited with status" : "failed, reason",
             res.reason == TIDAL_EXIT_HALTED ? res.status : (int)res.reason,
             res.report[0] ? ": " : "", res.report);
        break;
    }
    runner_vm = NULL;
    pthread_mutex_lock(&d->lock);
    /* A migration reads the VM from another thread: it goes first. Commands it
     * sends meanwhile find the guest gone. */
    while (v->migrating) {
        if (v->cmd != CMD_NONE) {
            v->cmd_rc = -1;
            snprintf(v->cmd_msg, sizeof(v->cmd_msg), "VM \"%s\" is %s: the guest stopped", v->name,
                     dvm_state_name(v->state));
            v->done_seq = v->cmd_seq;
            v->cmd = CMD_NONE;
            pthread_cond_broadcast(&d->cond);
        }
        pthread_cond_wait(&d->cond, &d->lock);
    }
    dvm_refresh_progress(v);
    v->vm = NULL;
    pthread_mutex_unlock(&d->lock);
    tidal_vm_destroy(r->vm); /* memory goes back to the host here */
    tidal_snap_close(r->last);
    close(r->console_fd);
    close_input(r);
    pthread_mutex_lock(&d->lock);
    v->thread_live = false;
    if (v->cmd != CMD_NONE) { /* asked for while the guest was exiting */
        v->cmd_rc = -1;
        snprintf(v->cmd_msg, sizeof(v->cmd_msg), "VM \"%s\" is %s: the guest stopped meanwhile",
                 v->name, dvm_state_name(v->state));
        v->done_seq = v->cmd_seq;
        v->cmd = CMD_NONE;
    }
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    daemon_persist(d);
    free(r);
    return NULL;
}

void dvm_wait_wound_down(struct daemon *d, struct dvm *v)
{
    /* A runner that has answered stop or suspend still frees the VM and its files */
    while (v->thread_live && !v->launching && v->state != DVM_RUNNING && v->state != DVM_PAUSED)
        pthread_cond_wait(&d->cond, &d->lock);
}

int dvm_launch(struct daemon *d, struct dvm *v, bool from_chain, enum dvm_state as,
               struct tidal_err *err)
{
    dvm_wait_wound_down(d, v);
    if (v->thread_live)
        return tidal_err_set(err, "VM \"%s\" is %s already", v->name, dvm_state_name(v->state));
    struct runner *r = calloc(1, sizeof(*r));
    if (!r)
        return tidal_err_set(err, "out of memory");
    r->d = d;
    r->v = v;
    r->console_fd = -1;
    r->input_fd = -1;
    v->start_from_chain = from_chain;
    v->start_as = as;
    v->launching = true;
    v->thread_live = true;
    v->cmd = CMD_NONE;
    v->report[0] = 0;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&v->thread, &attr, run_thread, r);
    pthread_attr_destroy(&attr);
    if (e) {
        v->launching = false;
        v->thread_live = false;
        free(r);
        return tidal_err_set(err, "pthread_create: %s", strerror(e));
    }
    while (v->launching)
        pthread_cond_wait(&d->cond, &d->lock);
    return v->launch_rc ? tidal_err_set(err, "%s", v->cmd_msg) : 0;
}

int dvm_command(struct daemon *d, struct dvm *v, enum dvm_cmd cmd, struct tidal_err *err)
{
    while (v->thread_live && (v->cmd != CMD_NONE || v->launching))
        pthread_cond_wait(&d->cond, &d->lock);
    if (!v->thread_live)
        return tidal_err_set(err, "VM \"%s\" is %s: not in memory", v->name,
                             dvm_state_name(v->state));
    v->cmd = cmd;
    uint64_t seq = ++v->cmd_seq;
    pthread_kill(v->thread, PAUSE_SIGNAL);
    pthread_cond_broadcast(&d->cond);
    while (v->done_seq < seq)
        pthread_cond_wait(&d->cond, &d->lock);
    return v->cmd_rc ? tidal_err_set(err, "%s", v->cmd_msg) : 0;
}
