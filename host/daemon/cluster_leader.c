/* The leader: elected through etcd's election API under this host's lease; every
 * round it reads the hosts, VMs, assignments and status records (four range
 * requests), places what needs a host (cluster_place.c) and writes the new
 * assignments in transactions that hold only while its election key still has the
 * create revision it won with: a leader that lost its lease cannot write. */
#include "cluster_internal.h"
#include "../json_fields.h"
#include "tidal/layout.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUND_PERIOD 0.5 /* seconds between rounds */
#define TXN_BATCH 64     /* assignments per transaction (etcd allows 128 operations) */

struct round {
    struct cluster *c;
    struct place_host *hosts;
    int nhosts, host_cap;
    struct place_vm *vms;
    int64_t *assign_rev; /* per VM: its assignment's mod_revision, 0 for none */
    int nvms, vm_cap;
    char (*orphans)[CLUSTER_NAME_MAX]; /* assignments of VMs no longer defined */
    int norphans, orphan_cap;
};

static const char *tail(const char *key)
{
    const char *s = strrchr(key, '/');
    return s ? s + 1 : key;
}

static bool grow(void **p, int *cap, int need, size_t size)
{
    if (need <= *cap)
        return true;
    int n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, (size_t)n * size);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

static int on_host(const struct etcd_kv *kv, void *arg, struct tidal_err *err)
{
    (void)err;
    const char *key = kv->key, *val = kv->value;
    size_t len = kv->value_len;
    const struct etcd_kv_meta *m = &kv->meta;
    (void)m;
    struct round *r = arg;
    cJSON *o = cluster_parse(r->c->d, key, val, len);
    if (!o)
        return 0;
    const cJSON *cpus = cJSON_GetObjectItemCaseSensitive(o, "cpus");
    const cJSON *mem = cJSON_GetObjectItemCaseSensitive(o, "mem");
    if (cJSON_IsNumber(cpus) && cJSON_IsNumber(mem) && mem->valuedouble > 0 &&
        strlen(tail(key)) < CLUSTER_NAME_MAX &&
        grow((void **)&r->hosts, &r->host_cap, r->nhosts + 1, sizeof(*r->hosts))) {
        struct place_host *h = &r->hosts[r->nhosts++];
        memset(h, 0, sizeof(*h));
        strcpy(h->name, tail(key));
        h->cpus = cpus->valuedouble;
        h->mem = (uint64_t)mem->valuedouble;
    }
    cJSON_Delete(o);
    return 0;
}

static int on_vm(const struct etcd_kv *kv, void *arg, struct tidal_err *err)
{
    (void)err;
    const char *key = kv->key, *val = kv->value;
    size_t len = kv->value_len;
    const struct etcd_kv_meta *m = &kv->meta;
    (void)m;
    struct round *r = arg;
    cJSON *o = cluster_parse(r->c->d, key, val, len);
    if (!o)
        return 0;
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(o, "spec");
    uint64_t mem = TIDAL_MEM_DEFAULT;
    double cpus = 1;
    struct tidal_err why; /* a bad spec was refused by the API: it needs no host */
    if (strlen(tail(key)) < CLUSTER_NAME_MAX && cJSON_IsObject(spec) &&
        !tidal_json_mem(spec, "", "mem", &mem, &why) &&
        !tidal_json_number(spec, "", "cpus", 0.01, 1024, &cpus, &why) &&
        grow((void **)&r->vms, &r->vm_cap, r->nvms + 1, sizeof(*r->vms)) &&
        (r->assign_rev = realloc(r->assign_rev, (size_t)r->vm_cap * sizeof(int64_t)))) {
        struct place_vm *v = &r->vms[r->nvms];
        r->assign_rev[r->nvms++] = 0;
        memset(v, 0, sizeof(*v));
        strcpy(v->name, tail(key));
        v->mem = mem;
        v->cpus = cpus;
        v->active = true;
    }
    cJSON_Delete(o);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct place_vm *)a)->name, ((const struct place_vm *)b)->name);
}

static struct place_vm *vm_named(struct round *r, const char *name)
{
    if (!r->nvms)
        return NULL;
    struct place_vm key;
    snprintf(key.name, sizeof(key.name), "%s", name);
    return bsearch(&key, r->vms, (size_t)r->nvms, sizeof(*r->vms), by_name);
}

static int on_assign(const struct etcd_kv *kv, void *arg, struct tidal_err *err)
{
    (void)err;
    const char *key = kv->key, *val = kv->value;
    size_t len = kv->value_len;
    const struct etcd_kv_meta *m = &kv->meta;
    struct round *r = arg;
    struct place_vm *v = vm_named(r, tail(key));
    if (!v) {
        if (strlen(tail(key)) < CLUSTER_NAME_MAX &&
            grow((void **)&r->orphans, &r->orphan_cap, r->norphans + 1, sizeof(*r->orphans)))
            strcpy(r->orphans[r->norphans++], tail(key));
        return 0;
    }
    r->assign_rev[v - r->vms] = m->mod_revision;
    cJSON *o = cluster_parse(r->c->d, key, val, len);
    const cJSON *host = cJSON_GetObjectItemCaseSensitive(o, "host");
    const cJSON *epoch = cJSON_GetObjectItemCaseSensitive(o, "epoch");
    if (cJSON_IsString(host) && strlen(host->valuestring) < CLUSTER_NAME_MAX)
        strcpy(v->host, host->valuestring);
    if (cJSON_IsNumber(epoch) && epoch->valuedouble >= 0)
        v->epoch = (uint64_t)epoch->valuedouble;
    cJSON_Delete(o);
    return 0;
}

/* A VM that has ended (or a job that is done) keeps its host: it needs none. */
static int on_status(const struct etcd_kv *kv, void *arg, struct tidal_err *err)
{
    (void)err;
    const char *key = kv->key, *val = kv->value;
    size_t len = kv->value_len;
    const struct etcd_kv_meta *m = &kv->meta;
    (void)m;
    struct round *r = arg;
    struct place_vm *v = vm_named(r, tail(key));
    if (!v)
        return 0;
    cJSON *o = cluster_parse(r->c->d, key, val, len);
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(o, "state");
    const cJSON *job = cJSON_GetObjectItemCaseSensitive(o, "job_state");
    if (cJSON_IsString(state) &&
        (!strcmp(state->valuestring, "exited") || !strcmp(state->valuestring, "failed") ||
         !strcmp(state->valuestring, "stopped")))
        v->active = false;
    if (cJSON_IsString(job) && strcmp(job->valuestring, "active"))
        v->active = false;
    cJSON_Delete(o);
    return 0;
}

static void round_free(struct round *r)
{
    free(r->hosts);
    free(r->vms);
    free(r->assign_rev);
    free(r->orphans);
}

/* Writes moves [from, to) in one transaction; false when a compare failed. */
static int write_moves(struct cluster *c, struct etcd *e, struct round *r, const int *idx, int n,
                       bool *ok, struct tidal_err *err)
{
    struct etcd_compare cmp[TXN_BATCH + 1];
    struct etcd_op ops[TXN_BATCH];
    char keys[TXN_BATCH][128], vals[TXN_BATCH][160];
    cmp[0] = (struct etcd_compare){
        .key = c->leader_key, .target = ETCD_CREATE, .result = ETCD_EQUAL, .number = c->leader_rev};
    for (int i = 0; i < n; i++) {
        const struct place_vm *v = &r->vms[idx[i]];
        cluster_key(keys[i], sizeof(keys[i]), "assign", v->name);
        snprintf(vals[i], sizeof(vals[i]), "{\"host\":\"%s\",\"epoch\":%llu}", v->host,
                 (unsigned long long)v->epoch);
        cmp[i + 1] = (struct etcd_compare){.key = keys[i],
                                           .target = ETCD_MOD,
                                           .result = ETCD_EQUAL,
                                           .number = r->assign_rev[idx[i]]};
        ops[i] = (struct etcd_op){
            .kind = ETCD_OP_PUT, .key = keys[i], .value = vals[i], .value_len = strlen(vals[i])};
    }
    return etcd_txn(e, cmp, n + 1, ops, n, NULL, 0, ok, NULL, err);
}

static int delete_orphans(struct cluster *c, struct etcd *e, struct round *r, struct tidal_err *err)
{
    for (int i = 0; i < r->norphans; i++) {
        char akey[128], skey[128];
        cluster_key(akey, sizeof(akey), "assign", r->orphans[i]);
        cluster_key(skey, sizeof(skey), "status", r->orphans[i]);
        struct etcd_compare cmp = {.key = c->leader_key,
                                   .target = ETCD_CREATE,
                                   .result = ETCD_EQUAL,
                                   .number = c->leader_rev};
        struct etcd_op ops[2] = {{.kind = ETCD_OP_DELETE, .key = akey},
                                 {.kind = ETCD_OP_DELETE, .key = skey}};
        bool ok;
        if (etcd_txn(e, &cmp, 1, ops, 2, NULL, 0, &ok, NULL, err))
            return -1;
        if (!ok)
            return tidal_err_set(err, "no longer the leader");
    }
    return 0;
}

int cluster_round(struct cluster *c, struct etcd *e, struct tidal_err *err)
{
    double t0 = mono_now();
    uint64_t ops0 = etcd_requests(e);
    struct round r = {.c = c};
    int rc = -1;
    if (etcd_get_prefix(e, CLUSTER_PREFIX "hosts/", on_host, &r, NULL, err) ||
        etcd_get_prefix(e, CLUSTER_PREFIX "vms/", on_vm, &r, NULL, err))
        goto out;
    if (r.nvms)
        qsort(r.vms, (size_t)r.nvms, sizeof(*r.vms), by_name);
    if (etcd_get_prefix(e, CLUSTER_PREFIX "assign/", on_assign, &r, NULL, err) ||
        etcd_get_prefix(e, CLUSTER_PREFIX "status/", on_status, &r, NULL, err))
        goto out;
    int moved = cluster_place(r.hosts, r.nhosts, r.vms, r.nvms);
    int *idx = malloc((size_t)(moved > 0 ? moved : 1) * sizeof(int));
    if (moved < 0 || !idx) {
        free(idx);
        tidal_err_set(err, "out of memory");
        goto out;
    }
    int n = 0;
    for (int i = 0; i < r.nvms; i++)
        if (r.vms[i].moved)
            idx[n++] = i;
    rc = 0;
    for (int at = 0; at < n && !rc; at += TXN_BATCH) {
        int len = n - at < TXN_BATCH ? n - at : TXN_BATCH;
        bool ok;
        rc = write_moves(c, e, &r, idx + at, len, &ok, err);
        /* One VM changed hands meanwhile (a migration): the next round sees it. Or
         * we are no longer the leader: the caller finds out. */
        if (!rc && !ok)
            rc = tidal_err_set(err, "an assignment changed during the round");
    }
    for (int i = 0; i < n && !rc; i++)
        dlog(c->d, "cluster: %s assigned to %s (epoch %llu)", r.vms[idx[i]].name,
             r.vms[idx[i]].host, (unsigned long long)r.vms[idx[i]].epoch);
    free(idx);
    if (!rc)
        rc = delete_orphans(c, e, &r, err);
    pthread_mutex_lock(&c->d->lock);
    c->rounds++;
    c->round_ms = (mono_now() - t0) * 1e3;
    c->round_ops = etcd_requests(e) - ops0;
    c->round_moves = (uint64_t)(n > 0 ? n : 0);
    pthread_mutex_unlock(&c->d->lock);
out:
    round_free(&r);
    return rc;
}

static void nap(double seconds)
{
    struct timespec ts = {.tv_sec = (time_t)seconds,
                          .tv_nsec = (long)((seconds - floor(seconds)) * 1e9)};
    nanosleep(&ts, NULL);
}

void *cluster_leader_main(void *arg)
{
    struct cluster *c = arg;
    struct daemon *d = c->d;
    struct tidal_err err;
    struct etcd *e = etcd_open(c->endpoints, c->ttl / 4, &err);
    if (!e) {
        dlog(d, "cluster: leader: %s", err.msg);
        return NULL;
    }
    while (!c->stopping) {
        pthread_mutex_lock(&d->lock);
        int64_t lease = c->lease;
        bool fenced = c->fenced;
        pthread_mutex_unlock(&d->lock);
        if (!lease || fenced) {
            nap(0.2);
            continue;
        }
        struct etcd_leader lk;
        if (etcd_campaign(e, CLUSTER_PREFIX "leader", lease, c->host, strlen(c->host), &c->stopping,
                          &lk, &err)) {
            nap(0.2);
            continue;
        }
        pthread_mutex_lock(&d->lock);
        c->leader = true;
        c->leader_rev = lk.rev;
        snprintf(c->leader_key, sizeof(c->leader_key), "%s", lk.key);
        pthread_mutex_unlock(&d->lock);
        dlog(d, "cluster: elected leader (fencing token %lld)", (long long)lk.rev);
        for (;;) {
            pthread_mutex_lock(&d->lock);
            bool still = !c->stopping && c->lease == lease && !c->fenced;
            pthread_mutex_unlock(&d->lock);
            if (!still)
                break;
            if (cluster_round(c, e, &err)) {
                /* Still the leader? Our key is there with our revision, or it is not. */
                struct etcd_kv_meta m;
                char *val = NULL;
                size_t len;
                int got = etcd_get(e, lk.key, &val, &len, &m, NULL);
                free(val);
                if (got == ETCD_ABSENT || (got == 0 && m.create_revision != lk.rev)) {
                    dlog(d, "cluster: no longer the leader (%s)", err.msg);
                    break;
                }
            }
            nap(ROUND_PERIOD);
        }
        pthread_mutex_lock(&d->lock);
        c->leader = false;
        pthread_mutex_unlock(&d->lock);
        etcd_resign(e, &lk, NULL);
    }
    etcd_close(e);
    return NULL;
}
