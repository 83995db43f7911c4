/* This host's side of the assignments: the agent lists them, then watches them, and
 * starts each VM assigned here (from the snapshot chain its last owner reported, else
 * from its image) and drops each VM that is assigned elsewhere now. The publisher
 * writes the status records of the VMs here, each only while the assignment it runs
 * under is unchanged. */
#include "cluster_internal.h"
#include "api.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void nap(double seconds)
{
    struct timespec ts = {.tv_sec = (time_t)seconds,
                          .tv_nsec = (long)((seconds - floor(seconds)) * 1e9)};
    nanosleep(&ts, NULL);
}

static const char *tail(const char *key)
{
    const char *s = strrchr(key, '/');
    return s ? s + 1 : key;
}

void cluster_drop_vm(struct daemon *d, struct dvm *v, bool deleted, const char *why)
{
    struct tidal_err err;
    while (v->launching)
        pthread_cond_wait(&d->cond, &d->lock);
    if (v->thread_live && (v->state == DVM_RUNNING || v->state == DVM_PAUSED))
        dvm_command(d, v, CMD_STOP, &err);
    dvm_wait_wound_down(d, v);
    for (struct dvm **pp = &d->vms; *pp; pp = &(*pp)->next)
        if (*pp == v) {
            *pp = v->next;
            break;
        }
    dlog(d, "cluster: %s dropped here: %s", v->name, why);
    /* A VM deleted from the cluster goes with its files; one that moved leaves them
     * to its new owner. The structure is kept until the daemon stops, since an API
     * call may still be waiting on it. */
    if (deleted)
        dvm_remove_tree(v->dir);
    v->next = d->cluster->dropped;
    d->cluster->dropped = v;
}

/* The fields of the last owner's status record that a new owner carries on. */
struct last_status {
    uint64_t epoch;
    unsigned gen, len;
    uint64_t log_at_snap;
    unsigned suspensions, resumptions;
    double submitted_at;
};

static void read_status(const cJSON *o, struct last_status *s)
{
    const cJSON *f;
#define NUM(name)                                                                                  \
    ((f = cJSON_GetObjectItemCaseSensitive(o, name)) && cJSON_IsNumber(f) &&                       \
     f->valuedouble >= 0 && f->valuedouble < 1e15)
    if (NUM("epoch"))
        s->epoch = (uint64_t)f->valuedouble;
    if (NUM("gen"))
        s->gen = (unsigned)f->valuedouble;
    if (NUM("len") && f->valuedouble <= DVM_MAX_CHAIN)
        s->len = (unsigned)f->valuedouble;
    if (NUM("log_at_snap"))
        s->log_at_snap = (uint64_t)f->valuedouble;
    if (NUM("suspensions"))
        s->suspensions = (unsigned)f->valuedouble;
    if (NUM("resumptions"))
        s->resumptions = (unsigned)f->valuedouble;
    if (NUM("submitted_at"))
        s->submitted_at = f->valuedouble;
#undef NUM
}

struct dvm *cluster_define_here(struct daemon *d, const cJSON *rec, struct tidal_err *err)
{
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(rec, "class");
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(rec, "spec");
    if (!cJSON_IsString(cls) || !cJSON_IsObject(spec)) {
        tidal_err_set(err, "its record has no \"class\" and \"spec\"");
        return NULL;
    }
    if (!strcmp(cls->valuestring, "batch")) {
        struct tidal_job_spec *job = calloc(1, sizeof(*job));
        if (!job || tidal_job_spec_parse(spec, job, err)) {
            if (job)
                tidal_job_spec_free(job);
            free(job);
            return NULL;
        }
        return api_job_define(d, job, err);
    }
    struct api_vm_spec vs;
    struct dvm *v = NULL;
    if (!api_vm_spec_parse(spec, &vs, err))
        v = api_vm_define(d, &vs, err);
    api_vm_spec_free(&vs);
    return v;
}

/* An assignment of `name` to this host at `epoch`: start it here. */
static void adopt(struct cluster *c, struct etcd *e, const char *name, uint64_t epoch, int64_t rev)
{
    struct daemon *d = c->d;
    struct tidal_err err;
    char key[256], *val = NULL, *sval = NULL;
    size_t len, slen;
    struct etcd_kv_meta m;
    cluster_key(key, sizeof(key), "vms", name);
    if (etcd_get(e, key, &val, &len, &m, &err)) {
        free(val);
        dlog(d, "cluster: %s assigned here, but its record cannot be read", name);
        return;
    }
    cJSON *rec = cluster_parse(d, key, val, len);
    free(val);
    struct last_status last = {0};
    cluster_key(key, sizeof(key), "status", name);
    if (etcd_get(e, key, &sval, &slen, &m, NULL) == 0) {
        cJSON *s = cluster_parse(d, key, sval, slen);
        read_status(s, &last);
        cJSON_Delete(s);
    }
    free(sval);
    if (!rec)
        return;
    pthread_mutex_lock(&d->lock);
    struct dvm *v = dvm_find(d, name);
    if (v && v->epoch == epoch) { /* ours already (our own claim, or a migration) */
        v->assign_rev = rev;
        pthread_mutex_unlock(&d->lock);
        cJSON_Delete(rec);
        return;
    }
    if (v)
        cluster_drop_vm(d, v, false, "an older epoch");
    v = cluster_define_here(d, rec, &err);
    cJSON_Delete(rec);
    if (!v) {
        pthread_mutex_unlock(&d->lock);
        dlog(d, "cluster: %s cannot run here: %s", name, err.msg);
        return;
    }
    v->epoch = epoch;
    v->assign_rev = rev;
    bool from_chain = last.len > 0;
    if (from_chain) {
        v->snap_gen = last.gen;
        v->snap_len = last.len;
        v->log_at_snap = last.log_at_snap;
    }
    if (v->job) {
        v->suspensions = last.suspensions;
        v->resumptions = last.resumptions;
        if (last.submitted_at > 0)
            v->submitted_at = last.submitted_at;
        /* The enforcer runs it when its window and the plan allow. */
        v->state = from_chain ? DVM_SUSPENDED : DVM_CREATED;
    } else if (dvm_launch(d, v, from_chain, DVM_RUNNING, &err)) {
        dlog(d, "cluster: %s did not start: %s", name, err.msg);
    }
    cluster_note_change(d, v);
    pthread_mutex_unlock(&d->lock);
    dlog(d, "cluster: %s runs here now (epoch %llu, %s)", name, (unsigned long long)epoch,
         from_chain ? "from its latest snapshot" : "from its image");
}

struct agent {
    struct cluster *c;
    struct etcd *e;
};

static void apply(struct agent *a, const char *name, const char *val, size_t len, int64_t rev,
                  bool deleted)
{
    struct cluster *c = a->c;
    struct daemon *d = c->d;
    char host[CLUSTER_NAME_MAX] = "";
    uint64_t epoch = 0;
    if (!deleted) {
        char key[256];
        cluster_key(key, sizeof(key), "assign", name);
        cJSON *o = cluster_parse(d, key, val, len);
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "host");
        const cJSON *ep = cJSON_GetObjectItemCaseSensitive(o, "epoch");
        if (cJSON_IsString(h))
            snprintf(host, sizeof(host), "%s", h->valuestring);
        if (cJSON_IsNumber(ep) && ep->valuedouble >= 0)
            epoch = (uint64_t)ep->valuedouble;
        cJSON_Delete(o);
    }
    pthread_mutex_lock(&d->lock);
    struct dvm *v = dvm_find(d, name);
    bool mine = !deleted && !strcmp(host, c->host);
    if (v && v->migrating) { /* the migration decides what becomes of it */
        pthread_mutex_unlock(&d->lock);
        return;
    }
    if (!mine) {
        if (v && v->epoch)
            cluster_drop_vm(d, v, deleted,
                            deleted ? "deleted from the cluster" : "assigned elsewhere");
        pthread_mutex_unlock(&d->lock);
        return;
    }
    bool fenced = c->fenced;
    if (v && v->epoch == epoch) {
        v->assign_rev = rev;
        fenced = true; /* nothing to start */
    }
    pthread_mutex_unlock(&d->lock);
    if (!fenced) /* a fenced host starts nothing; the next listing sees it again */
        adopt(c, a->e, name, epoch, rev);
}

static int on_listed(const struct etcd_kv *kv, void *arg, struct tidal_err *err)
{
    (void)err;
    const char *key = kv->key, *val = kv->value;
    size_t len = kv->value_len;
    const struct etcd_kv_meta *m = &kv->meta;
    apply(arg, tail(key), val, len, m->mod_revision, false);
    return 0;
}

static int on_event(const struct etcd_event *ev, void *arg, struct tidal_err *err)
{
    (void)err;
    apply(arg, tail(ev->kv.key), ev->kv.value, ev->kv.value_len, ev->kv.meta.mod_revision,
          ev->type == ETCD_EVENT_DELETE);
    return 0;
}

/* VMs here whose assignment is gone altogether (deleted while we were not watching). */
struct seen {
    char (*names)[CLUSTER_NAME_MAX];
    int n, cap;
};

static int on_seen(const struct etcd_kv *kv, void *arg, struct tidal_err *err)
{
    (void)err;
    const char *key = kv->key, *val = kv->value;
    size_t len = kv->value_len;
    const struct etcd_kv_meta *m = &kv->meta;
    (void)val;
    (void)len;
    (void)m;
    struct seen *s = arg;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 64;
        void *p = realloc(s->names, (size_t)cap * CLUSTER_NAME_MAX);
        if (!p)
            return 0;
        s->names = p;
        s->cap = cap;
    }
    snprintf(s->names[s->n++], CLUSTER_NAME_MAX, "%s", tail(key));
    return 0;
}

static void drop_unassigned(struct cluster *c, struct etcd *e)
{
    struct seen s = {0};
    if (etcd_get_prefix(e, CLUSTER_PREFIX "assign/", on_seen, &s, NULL, NULL)) {
        free(s.names);
        return;
    }
    struct daemon *d = c->d;
    pthread_mutex_lock(&d->lock);
    for (struct dvm *v = d->vms, *next; v; v = next) {
        next = v->next;
        bool found = false;
        for (int i = 0; i < s.n && !found; i++)
            found = !strcmp(s.names[i], v->name);
        if (v->epoch && !found)
            cluster_drop_vm(d, v, true, "deleted from the cluster");
    }
    pthread_mutex_unlock(&d->lock);
    free(s.names);
}

void *cluster_agent_main(void *arg)
{
    struct cluster *c = arg;
    struct tidal_err err;
    struct agent a = {c, etcd_open(c->endpoints, c->ttl / 4, &err)};
    struct etcd *watcher = a.e ? etcd_open(c->endpoints, c->ttl / 4, &err) : NULL;
    if (!watcher) {
        dlog(c->d, "cluster: agent: %s", err.msg);
        etcd_close(a.e);
        return NULL;
    }
    while (!c->stopping) {
        int64_t rev = 0;
        if (etcd_get_prefix(a.e, CLUSTER_PREFIX "assign/", on_listed, &a, &rev, &err)) {
            nap(0.2);
            continue;
        }
        drop_unassigned(c, a.e);
        /* Back to a fresh listing now and then: what a fenced host did not start, a
         * compacted history, a watch that ended. */
        c->relist = 0;
        etcd_watch(watcher, CLUSTER_PREFIX "assign/", rev + 1, on_event, &a, &c->relist, NULL,
                   &err);
    }
    etcd_close(watcher);
    etcd_close(a.e);
    return NULL;
}

/* ---- claims after fencing ---- */

void cluster_reclaim(struct cluster *c, struct etcd *e)
{
    struct daemon *d = c->d;
    struct tidal_err err;
    pthread_mutex_lock(&d->lock);
    bool have_lease = c->lease != 0;
    pthread_mutex_unlock(&d->lock);
    if (!have_lease)
        return;
    for (;;) {
        pthread_mutex_lock(&d->lock);
        struct dvm *v = d->vms;
        while (v && !(v->epoch && v->fence_paused))
            v = v->next;
        if (!v)
            break;
        char key[256], val[160];
        cluster_key(key, sizeof(key), "assign", v->name);
        snprintf(val, sizeof(val), "{\"host\":\"%s\",\"epoch\":%llu}", c->host,
                 (unsigned long long)v->epoch);
        int64_t rev = v->assign_rev;
        v->fence_paused = false;
        pthread_mutex_unlock(&d->lock);
        /* Rewriting the same assignment moves its mod_revision: a leader that decided
         * to move the VM on an older view now fails its transaction instead. */
        struct etcd_compare cmp = {
            .key = key, .target = ETCD_MOD, .result = ETCD_EQUAL, .number = rev};
        struct etcd_op put = {
            .kind = ETCD_OP_PUT, .key = key, .value = val, .value_len = strlen(val)};
        bool ok = false;
        int64_t new_rev = 0;
        int rc = etcd_txn(e, &cmp, 1, &put, 1, NULL, 0, &ok, &new_rev, &err);
        pthread_mutex_lock(&d->lock);
        struct dvm *again = dvm_find(d, key + strlen(CLUSTER_PREFIX "assign/"));
        if (again == v) {
            if (rc) {
                v->fence_paused = true; /* try again at the next renewal */
                pthread_mutex_unlock(&d->lock);
                return;
            }
            if (ok) {
                v->assign_rev = new_rev;
                if (v->state == DVM_PAUSED && dvm_command(d, v, CMD_RESUME, &err))
                    dlog(d, "cluster: %s: resume after fencing: %s", v->name, err.msg);
                else
                    dlog(d, "cluster: %s claimed again and resumed", v->name);
            } else {
                cluster_drop_vm(d, v, false, "it moved while this host was fenced");
            }
        }
        pthread_mutex_unlock(&d->lock);
    }
    c->fenced = false;
    c->relist = 1; /* assignments made while fenced are started now */
    pthread_mutex_unlock(&d->lock);
    dlog(d, "cluster: fence lifted");
}

/* ---- status records ---- */

static char *status_record(struct cluster *c, struct dvm *v)
{
    dvm_refresh_progress(v);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "host", c->host);
    cJSON_AddNumberToObject(o, "epoch", (double)v->epoch);
    cJSON_AddStringToObject(o, "state", dvm_state_name(v->state));
    cJSON_AddNumberToObject(o, "gen", v->snap_gen);
    cJSON_AddNumberToObject(o, "len", v->snap_len);
    cJSON_AddNumberToObject(o, "log_at_snap", (double)v->log_at_snap);
    cJSON_AddNumberToObject(o, "progress_done", (double)v->progress_done);
    cJSON_AddNumberToObject(o, "progress_total", (double)v->progress_total);
    if (v->state == DVM_EXITED)
        cJSON_AddNumberToObject(o, "exit_status", v->exit_status);
    if (v->report[0])
        cJSON_AddStringToObject(o, "report", v->report);
    if (v->job) {
        cJSON_AddStringToObject(o, "job_state",
                                v->job_state == JOB_ACTIVE   ? "active"
                                : v->job_state == JOB_DONE   ? "done"
                                : v->job_state == JOB_FAILED ? "failed"
                                                             : "cancelled");
        cJSON_AddNumberToObject(o, "suspensions", v->suspensions);
        cJSON_AddNumberToObject(o, "resumptions", v->resumptions);
        cJSON_AddNumberToObject(o, "submitted_at", v->submitted_at);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

void *cluster_publisher_main(void *arg)
{
    struct cluster *c = arg;
    struct daemon *d = c->d;
    struct tidal_err err;
    struct etcd *e = etcd_open(c->endpoints, c->ttl / 4, &err);
    if (!e) {
        dlog(d, "cluster: publisher: %s", err.msg);
        return NULL;
    }
    pthread_mutex_lock(&d->lock);
    while (!c->stopping) {
        struct dvm *v = d->vms;
        while (v && !(v->publish_pending && v->epoch))
            v = v->next;
        if (!v || c->fenced) {
            c->publish_wanted = false;
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&c->publish_cond, &d->lock, &until);
            continue;
        }
        v->publish_pending = false;
        char key[256], name[TIDAL_DAEMON_NAME_MAX];
        snprintf(name, sizeof(name), "%s", v->name);
        cluster_key(key, sizeof(key), "status", v->name);
        char *rec = status_record(c, v);
        char akey[256];
        cluster_key(akey, sizeof(akey), "assign", v->name);
        struct etcd_compare cmp = {
            .key = akey, .target = ETCD_MOD, .result = ETCD_EQUAL, .number = v->assign_rev};
        pthread_mutex_unlock(&d->lock);
        struct etcd_op put = {
            .kind = ETCD_OP_PUT, .key = key, .value = rec, .value_len = strlen(rec)};
        bool ok = false;
        int rc = rec ? etcd_txn(e, &cmp, 1, &put, 1, NULL, 0, &ok, NULL, &err) : -1;
        free(rec);
        pthread_mutex_lock(&d->lock);
        struct dvm *again = dvm_find(d, name);
        if (rc && again == v) {
            v->publish_pending = true; /* etcd is away: again after a pause */
            pthread_mutex_unlock(&d->lock);
            nap(0.2);
            pthread_mutex_lock(&d->lock);
        } else if (ok && again == v) {
            /* The record names the chain now: older files may go. */
            dvm_prune_snapshots(v);
        }
    }
    pthread_mutex_unlock(&d->lock);
    etcd_close(e);
    return NULL;
}
