/* Joining and leaving the cluster, the lease and fencing, and the API's view of the
 * cluster. Fencing: the lease is renewed every ttl/6; when no renewal has worked for
 * 0.7 x ttl, every VM here is paused before the lease can expire (it expires no
 * earlier than ttl after the last renewal that worked was sent), so by the time the
 * leader moves them elsewhere they no longer run here. When renewals work again, or
 * a new lease is granted, each paused VM is claimed back if its assignment is
 * unchanged, and dropped if not. */
#include "cluster_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FENCE_AT 0.7       /* of the ttl since the last renewal that worked */
#define JOIN_PATIENCE 10.0 /* seconds a daemon tries to join at start */

void cluster_key(char *out, size_t size, const char *kind, const char *name)
{
    snprintf(out, size, "%s%s/%s", CLUSTER_PREFIX, kind, name);
}

cJSON *cluster_parse(struct daemon *d, const char *key, const char *val, size_t len)
{
    cJSON *o = cJSON_ParseWithLength(val, len);
    if (!o || !cJSON_IsObject(o)) {
        dlog(d, "cluster: %s: not a JSON object; ignored", key);
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static void nap(double seconds)
{
    struct timespec ts = {.tv_sec = (time_t)seconds,
                          .tv_nsec = (long)((seconds - floor(seconds)) * 1e9)};
    nanosleep(&ts, NULL);
}

static char *host_record(struct cluster *c)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", c->host);
    cJSON_AddStringToObject(o, "addr", c->addr);
    cJSON_AddNumberToObject(o, "port", c->port);
    cJSON_AddNumberToObject(o, "cpus", (double)(cpus > 0 ? cpus : 1));
    cJSON_AddNumberToObject(o, "mem", (double)pages * (double)page);
    cJSON_AddNumberToObject(o, "pid", (double)getpid());
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* A new lease and our host record under it. */
static int join(struct cluster *c, struct etcd *e, struct tidal_err *err)
{
    int64_t lease;
    if (etcd_lease_grant(e, (int64_t)ceil(c->ttl), &lease, err))
        return -1;
    double sent = mono_now();
    char key[256];
    cluster_key(key, sizeof(key), "hosts", c->host);
    char *rec = host_record(c);
    int rc = rec ? etcd_put(e, key, rec, strlen(rec), lease, NULL, err) : -1;
    free(rec);
    if (rc) {
        etcd_lease_revoke(e, lease, NULL);
        return -1;
    }
    pthread_mutex_lock(&c->d->lock);
    c->lease = lease;
    c->renewed_at = sent;
    pthread_mutex_unlock(&c->d->lock);
    dlog(c->d, "cluster: host %s joined (lease %llx, ttl %.1f s)", c->host,
         (unsigned long long)lease, c->ttl);
    return 0;
}

/* Pauses every cluster VM here that runs. */
static void fence(struct cluster *c, double silent_for)
{
    struct daemon *d = c->d;
    struct tidal_err err;
    int paused = 0;
    pthread_mutex_lock(&d->lock);
    c->fenced = true;
    c->fences++;
    for (struct dvm *v = d->vms; v; v = v->next) {
        if (!v->epoch || v->state != DVM_RUNNING || !v->thread_live)
            continue;
        if (dvm_command(d, v, CMD_PAUSE, &err))
            dlog(d, "cluster: fencing %s: %s", v->name, err.msg);
        else {
            v->fence_paused = true;
            paused++;
        }
    }
    pthread_mutex_unlock(&d->lock);
    dlog(d, "cluster: fenced: no lease renewal for %.1f s; %d VMs paused", silent_for, paused);
}

static void *keeper_main(void *arg)
{
    struct cluster *c = arg;
    struct daemon *d = c->d;
    struct tidal_err err;
    struct etcd *e = etcd_open(c->endpoints, c->ttl / 8, &err);
    if (!e) {
        dlog(d, "cluster: keeper: %s", err.msg);
        return NULL;
    }
    double period = c->ttl / 6 > 0.1 ? c->ttl / 6 : 0.1;
    double relisted = mono_now();
    while (!c->stopping) {
        if (mono_now() - relisted > 5) {
            c->relist = 1;
            relisted = mono_now();
        }
        pthread_mutex_lock(&d->lock);
        int64_t lease = c->lease;
        bool fenced = c->fenced;
        pthread_mutex_unlock(&d->lock);
        bool renewed = false;
        if (!lease) {
            renewed = !join(c, e, &err);
        } else {
            double sent = mono_now();
            int64_t left = 0;
            int rc = etcd_lease_keepalive_once(e, lease, &left, &err);
            if (rc == 0 && left > 0) {
                pthread_mutex_lock(&d->lock);
                c->renewed_at = sent;
                pthread_mutex_unlock(&d->lock);
                renewed = true;
            } else if (rc == ETCD_ABSENT || (rc == 0 && left <= 0)) {
                dlog(d, "cluster: lease %llx expired; joining again", (unsigned long long)lease);
                pthread_mutex_lock(&d->lock);
                c->lease = 0;
                c->leader = false;
                pthread_mutex_unlock(&d->lock);
                continue; /* the fencer has paused the VMs: the lease ran out long ago */
            }
        }
        if (renewed && fenced)
            cluster_reclaim(c, e);
        nap(period);
    }
    pthread_mutex_lock(&d->lock);
    int64_t lease = c->lease;
    c->lease = 0;
    pthread_mutex_unlock(&d->lock);
    if (lease) /* our VMs stop with us: let the others take them at once */
        etcd_lease_revoke(e, lease, NULL);
    etcd_close(e);
    return NULL;
}

/* Watches the renewal deadline on its own, so that a renewal hanging on an
 * unreachable endpoint cannot delay the fence. */
static void *fencer_main(void *arg)
{
    struct cluster *c = arg;
    struct daemon *d = c->d;
    while (!c->stopping) {
        pthread_mutex_lock(&d->lock);
        double silent = mono_now() - c->renewed_at;
        bool must_fence = !c->fenced && silent > FENCE_AT * c->ttl;
        pthread_mutex_unlock(&d->lock);
        if (must_fence)
            fence(c, silent);
        nap(0.05);
    }
    return NULL;
}

bool cluster_fenced(const struct daemon *d)
{
    return d->cluster && d->cluster->fenced;
}

void cluster_note_change(struct daemon *d, struct dvm *v)
{
    struct cluster *c = d->cluster;
    if (!c || !v->epoch)
        return;
    v->publish_pending = true;
    c->publish_wanted = true;
    pthread_cond_broadcast(&c->publish_cond);
}

int cluster_start(struct daemon *d, struct tidal_err *err)
{
    const struct tidal_daemon_options *o = &d->opts;
    struct cluster *c = calloc(1, sizeof(*c));
    if (!c)
        return tidal_err_set(err, "out of memory");
    c->d = d;
    c->ttl = o->lease_ttl > 0 ? o->lease_ttl : 10;
    c->port = o->peer_port;
    c->peer_fd = -1;
    snprintf(c->endpoints, sizeof(c->endpoints), "%s", o->etcd);
    if (o->host_name)
        snprintf(c->host, sizeof(c->host), "%s", o->host_name);
    else if (gethostname(c->host, sizeof(c->host)))
        snprintf(c->host, sizeof(c->host), "host-%d", (int)getpid());
    if (tidal_check_name("--host", c->host, err)) {
        free(c);
        return -1;
    }
    snprintf(c->addr, sizeof(c->addr), "%s", o->advertise ? o->advertise : "127.0.0.1");
    pthread_cond_init(&c->publish_cond, NULL);
    /* Join before serving: a host that cannot reach etcd says so at start. A cluster
     * busy electing its leader gets a few seconds. */
    struct etcd *e = etcd_open(c->endpoints, 2.0, err);
    if (!e) {
        free(c);
        return -1;
    }
    int rc;
    for (double t0 = mono_now(); (rc = join(c, e, err)) && mono_now() - t0 < JOIN_PATIENCE;)
        nap(0.2);
    etcd_close(e);
    if (rc) {
        free(c);
        return tidal_err_set(err, "--etcd %s: %s", o->etcd, err->msg);
    }
    if (cluster_peer_listen(c, err)) {
        free(c);
        return -1;
    }
    d->cluster = c;
    pthread_create(&c->keeper, NULL, keeper_main, c);
    pthread_create(&c->fencer, NULL, fencer_main, c);
    pthread_create(&c->leader_thread, NULL, cluster_leader_main, c);
    pthread_create(&c->agent, NULL, cluster_agent_main, c);
    pthread_create(&c->publisher, NULL, cluster_publisher_main, c);
    pthread_create(&c->peer, NULL, cluster_peer_main, c);
    return 0;
}

void cluster_stop(struct daemon *d)
{
    struct cluster *c = d->cluster;
    if (!c)
        return;
    c->stopping = 1;
    c->relist = 1;
    pthread_mutex_lock(&d->lock);
    pthread_cond_broadcast(&c->publish_cond);
    pthread_mutex_unlock(&d->lock);
    pthread_join(c->leader_thread, NULL);
    pthread_join(c->agent, NULL);
    pthread_join(c->publisher, NULL);
    pthread_join(c->peer, NULL);
    /* The VMs here stop with the daemon; the lease goes last, so that the others
     * take them only once they have. */
    pthread_mutex_lock(&d->lock);
    for (struct dvm *v = d->vms; v; v = v->next)
        if (v->epoch && v->thread_live) {
            struct tidal_err err;
            dvm_command(d, v, CMD_STOP, &err);
        }
    pthread_mutex_unlock(&d->lock);
    pthread_join(c->keeper, NULL);
    pthread_join(c->fencer, NULL);
    while (c->dropped) {
        struct dvm *next = c->dropped->next;
        dvm_free(c->dropped);
        c->dropped = next;
    }
    d->cluster = NULL;
    free(c);
}

/* ---- the API's side ---- */

int cluster_define(struct daemon *d, const char *name, const char *cls, const cJSON *body,
                   unsigned *status, struct tidal_err *err)
{
    struct cluster *c = d->cluster;
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "class", cls);
    cJSON_AddItemToObject(rec, "spec", cJSON_Duplicate(body, true));
    char *text = cJSON_PrintUnformatted(rec);
    cJSON_Delete(rec);
    struct etcd *e = text ? etcd_open(c->endpoints, 2.0, err) : NULL;
    if (!e) {
        free(text);
        *status = 503;
        return -1;
    }
    char key[256];
    cluster_key(key, sizeof(key), "vms", name);
    /* Created only if absent: two API calls on two hosts cannot both define it. */
    struct etcd_compare cmp = {.key = key, .target = ETCD_VERSION, .result = ETCD_EQUAL};
    struct etcd_op put = {
        .kind = ETCD_OP_PUT, .key = key, .value = text, .value_len = strlen(text)};
    bool ok = false;
    int rc = etcd_txn(e, &cmp, 1, &put, 1, NULL, 0, &ok, NULL, err);
    etcd_close(e);
    free(text);
    if (rc) {
        *status = 503;
        return -1;
    }
    if (!ok) {
        *status = 409;
        return tidal_err_set(err, "a VM or job named \"%s\" exists already in the cluster", name);
    }
    dlog(d, "cluster: %s defined (%s)", name, cls);
    return 0;
}

int cluster_undefine(struct daemon *d, const char *name, unsigned *status, struct tidal_err *err)
{
    struct etcd *e = etcd_open(d->cluster->endpoints, 2.0, err);
    if (!e) {
        *status = 503;
        return -1;
    }
    char key[256];
    int64_t n = 0;
    cluster_key(key, sizeof(key), "vms", name);
    int rc = etcd_delete(e, key, false, &n, err);
    etcd_close(e);
    if (rc) {
        *status = 503;
        return -1;
    }
    if (!n) {
        *status = 404;
        return tidal_err_set(err, "no VM or job named \"%s\" in the cluster", name);
    }
    dlog(d, "cluster: %s deleted", name);
    return 0;
}

struct view_ctx {
    struct daemon *d;
    cJSON *list;
};

static int add_host(const struct etcd_kv *kv, void *arg, struct tidal_err *err)
{
    (void)err;
    const char *key = kv->key, *val = kv->value;
    size_t len = kv->value_len;
    const struct etcd_kv_meta *m = &kv->meta;
    (void)m;
    struct view_ctx *x = arg;
    cJSON *o = cluster_parse(x->d, key, val, len);
    if (o)
        cJSON_AddItemToArray(x->list, o);
    return 0;
}

static int add_named(const struct etcd_kv *kv, void *arg, struct tidal_err *err)
{
    (void)err;
    const char *key = kv->key, *val = kv->value;
    size_t len = kv->value_len;
    const struct etcd_kv_meta *m = &kv->meta;
    struct view_ctx *x = arg;
    cJSON *o = cluster_parse(x->d, key, val, len);
    if (!o)
        return 0;
    const char *slash = strrchr(key, '/');
    cJSON_AddNumberToObject(o, "mod_revision", (double)m->mod_revision);
    cJSON_AddItemToObject(x->list, slash ? slash + 1 : key, o);
    return 0;
}

cJSON *cluster_view(struct daemon *d, unsigned *status, struct tidal_err *err)
{
    struct cluster *c = d->cluster;
    struct etcd *e = etcd_open(c->endpoints, 2.0, err);
    if (!e) {
        *status = 503;
        return NULL;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "host", c->host);
    pthread_mutex_lock(&d->lock);
    cJSON_AddBoolToObject(out, "fenced", c->fenced);
    cJSON_AddBoolToObject(out, "leader", c->leader);
    cJSON *r = cJSON_AddObjectToObject(out, "rounds");
    cJSON_AddNumberToObject(r, "count", (double)c->rounds);
    cJSON_AddNumberToObject(r, "last_ms", c->round_ms);
    cJSON_AddNumberToObject(r, "last_etcd_ops", (double)c->round_ops);
    cJSON_AddNumberToObject(r, "moves", (double)c->round_moves);
    cJSON_AddNumberToObject(out, "fences", (double)c->fences);
    pthread_mutex_unlock(&d->lock);
    struct etcd_leader lk;
    char *leader = NULL;
    size_t len;
    if (etcd_leader(e, CLUSTER_PREFIX "leader", &lk, &leader, &len, NULL) == 0 && leader) {
        char *name = strndup(leader, len);
        cJSON_AddStringToObject(out, "leader_host", name ? name : "");
        free(name);
    }
    free(leader);
    struct view_ctx hosts = {d, cJSON_AddArrayToObject(out, "hosts")};
    struct view_ctx vms = {d, cJSON_CreateObject()};
    struct view_ctx assign = {d, cJSON_CreateObject()};
    struct view_ctx stat = {d, cJSON_CreateObject()};
    int rc = etcd_get_prefix(e, CLUSTER_PREFIX "hosts/", add_host, &hosts, NULL, err) ||
             etcd_get_prefix(e, CLUSTER_PREFIX "vms/", add_named, &vms, NULL, err) ||
             etcd_get_prefix(e, CLUSTER_PREFIX "assign/", add_named, &assign, NULL, err) ||
             etcd_get_prefix(e, CLUSTER_PREFIX "status/", add_named, &stat, NULL, err);
    etcd_close(e);
    cJSON *list = cJSON_AddArrayToObject(out, "vms");
    for (cJSON *v = vms.list->child; v; v = v->next) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", v->string);
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(v, "class");
        cJSON_AddStringToObject(o, "class", cJSON_IsString(cls) ? cls->valuestring : "?");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(assign.list, v->string);
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(a, "host");
        const cJSON *ep = cJSON_GetObjectItemCaseSensitive(a, "epoch");
        cJSON_AddStringToObject(o, "host", cJSON_IsString(h) ? h->valuestring : "");
        cJSON_AddNumberToObject(o, "epoch", cJSON_IsNumber(ep) ? ep->valuedouble : 0);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(stat.list, v->string);
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(s, "state");
        const cJSON *se = cJSON_GetObjectItemCaseSensitive(s, "epoch");
        cJSON_AddStringToObject(o, "state", cJSON_IsString(st) ? st->valuestring : "placing");
        cJSON_AddNumberToObject(o, "status_epoch", cJSON_IsNumber(se) ? se->valuedouble : 0);
        cJSON_AddItemToArray(list, o);
    }
    cJSON_Delete(vms.list);
    cJSON_Delete(assign.list);
    cJSON_Delete(stat.list);
    if (rc) {
        cJSON_Delete(out);
        *status = 503;
        return NULL;
    }
    return out;
}
