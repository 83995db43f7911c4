/* A function's reused VMs (pool.h). */
#include "pool.h"
#include "tidal/snapshot.h"
#include "tidal/snapshot_vm.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct tidal_vm_pool {
    pthread_mutex_t lock;
    pthread_cond_t idle_ready, work;
    const struct tidal_snap *snap;
    uint8_t *template_mem;
    uint64_t mem_size;
    double timeout_sec;
    uint64_t max_output, stderr_limit;
    struct tidal_pooled_vm **idle;
    unsigned nidle;
    struct tidal_pooled_vm **doomed; /* to tear down, off the requests' path */
    unsigned ndoomed;
    unsigned live; /* idle + taken + doomed-to-replace count against target */
    unsigned target;
    bool stopping, refill_failed;
    pthread_t refiller;
    bool refiller_started;
    struct tidal_vm_pool_counts counts;
};

static void destroy_pooled(struct tidal_vm_pool *p, struct tidal_pooled_vm *pv)
{
    if (!pv)
        return;
    tidal_vm_destroy(pv->vm);
    free(pv->out.data);
    free(pv->err.data);
    free(pv);
    atomic_fetch_add(&p->counts.teardowns, 1);
}

static struct tidal_pooled_vm *create_pooled(struct tidal_vm_pool *p, struct tidal_err *err)
{
    struct tidal_pooled_vm *pv = calloc(1, sizeof(*pv));
    if (!pv) {
        tidal_err_set(err, "out of memory");
        return NULL;
    }
    /* Untouched buffer pages cost nothing: only what requests write is ever backed. */
    pv->out.data = malloc(p->max_output);
    pv->err.data = malloc(p->stderr_limit);
    pv->out.cap = p->max_output;
    pv->err.cap = p->stderr_limit;
    struct tidal_vm_config cfg = {
        .timeout_sec = p->timeout_sec, .in_fd = -1, .out_fd = -1, .err_fd = -1};
    int rc =
        pv->out.data && pv->err.data
            ? tidal_snapshot_restore_reusable(p->snap, p->template_mem, &cfg, 0, NULL, &pv->vm, err)
            : tidal_err_set(err, "out of memory for output buffers");
    atomic_fetch_add(&p->counts.creations, 1);
    if (rc) {
        atomic_fetch_add(&p->counts.failed_creations, 1);
        destroy_pooled(p, pv);
        return NULL;
    }
    tidal_vm_stat(pv->vm, "pf_taken", &pv->pf_taken);
    return pv;
}

static void push_idle(struct tidal_vm_pool *p, struct tidal_pooled_vm *pv)
{
    pthread_mutex_lock(&p->lock);
    p->idle[p->nidle++] = pv;
    pthread_cond_signal(&p->idle_ready);
    pthread_mutex_unlock(&p->lock);
}

/* Tears down what failed and creates what is missing, until told to stop. */
static void *refill(void *arg)
{
    struct tidal_vm_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stopping) {
        if (p->ndoomed) {
            struct tidal_pooled_vm *pv = p->doomed[--p->ndoomed];
            pthread_mutex_unlock(&p->lock);
            destroy_pooled(p, pv);
            pthread_mutex_lock(&p->lock);
            continue;
        }
        if (p->live < p->target && !p->refill_failed) {
            p->live++;
            pthread_mutex_unlock(&p->lock);
            struct tidal_err err;
            struct tidal_pooled_vm *pv = create_pooled(p, &err);
            pthread_mutex_lock(&p->lock);
            if (pv) {
                p->idle[p->nidle++] = pv;
                pthread_cond_signal(&p->idle_ready);
            } else {
                /* The template restored once already: a failure now is the host's
                 * (memory, descriptors). Run with fewer VMs rather than spin. */
                p->live--;
                p->refill_failed = p->live > 0;
                fprintf(stderr, "tidal serve: could not add a VM to a pool: %s\n", err.msg);
                if (!p->refill_failed) {
                    pthread_mutex_unlock(&p->lock);
                    sleep(1);
                    pthread_mutex_lock(&p->lock);
                }
            }
            continue;
        }
        pthread_cond_wait(&p->work, &p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

struct tidal_vm_pool *tidal_vm_pool_start(const struct tidal_snap *snap, unsigned target,
                                          double timeout_sec, uint64_t max_output,
                                          uint64_t stderr_limit, struct tidal_err *err)
{
    struct tidal_vm_pool *p = calloc(1, sizeof(*p));
    if (!p || !(p->idle = calloc(target, sizeof(*p->idle))) ||
        !(p->doomed = calloc(target, sizeof(*p->doomed)))) {
        if (p)
            free(p->idle);
        free(p);
        tidal_err_set(err, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->idle_ready, NULL);
    pthread_cond_init(&p->work, NULL);
    p->snap = snap;
    p->mem_size = tidal_snap_info(snap)->mem_size;
    p->target = target;
    p->timeout_sec = timeout_sec;
    p->max_output = max_output;
    p->stderr_limit = stderr_limit;
    p->template_mem = tidal_snapshot_template_memory(snap, err);
    struct tidal_pooled_vm *first = p->template_mem ? create_pooled(p, err) : NULL;
    if (!first) {
        tidal_vm_pool_free(p);
        return NULL;
    }
    p->live = 1;
    push_idle(p, first);
    int rc = pthread_create(&p->refiller, NULL, refill, p);
    if (rc) {
        tidal_err_set(err, "starting the VM pool's thread: %s", strerror(rc));
        tidal_vm_pool_free(p);
        return NULL;
    }
    p->refiller_started = true;
    return p;
}

struct tidal_pooled_vm *tidal_vm_pool_take(struct tidal_vm_pool *p)
{
    pthread_mutex_lock(&p->lock);
    while (!p->nidle && !p->stopping)
        pthread_cond_wait(&p->idle_ready, &p->lock);
    struct tidal_pooled_vm *pv = p->nidle ? p->idle[--p->nidle] : NULL;
    pthread_mutex_unlock(&p->lock);
    return pv;
}

static void doom(struct tidal_vm_pool *p, struct tidal_pooled_vm *pv)
{
    pthread_mutex_lock(&p->lock);
    p->doomed[p->ndoomed++] = pv;
    p->live--;
    p->refill_failed = false;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
}

void tidal_vm_pool_give_back(struct tidal_vm_pool *p, struct tidal_pooled_vm *pv, bool healthy)
{
    if (!healthy)
        return doom(p, pv);
    struct tidal_reset_counts c;
    struct tidal_err err;
    if (tidal_vm_reset(pv->vm, &c, &err)) {
        fprintf(stderr, "tidal serve: reset failed, replacing the VM: %s\n", err.msg);
        return doom(p, pv);
    }
    if (tidal_reuse_verify_enabled() && tidal_vm_reuse_verify(pv->vm, &err)) {
        fprintf(stderr, "tidal serve: TIDAL_VERIFY_RESET: %s\n", err.msg);
        abort();
    }
    atomic_fetch_add(&p->counts.resets, 1);
    atomic_fetch_add(&p->counts.pages_reset, c.pages_reset);
    atomic_fetch_add(&p->counts.guest_dirty, c.guest_dirty);
    atomic_fetch_add(&p->counts.hot_pages, c.hot_pages);
    atomic_fetch_add(&p->counts.reprotected, c.reprotected);
    atomic_fetch_add(&p->counts.reset_ioctls, c.kvm_ioctls);
    push_idle(p, pv);
}

unsigned tidal_vm_pool_idle(struct tidal_vm_pool *p)
{
    pthread_mutex_lock(&p->lock);
    unsigned n = p->nidle;
    pthread_mutex_unlock(&p->lock);
    return n;
}

const struct tidal_vm_pool_counts *tidal_vm_pool_counts(const struct tidal_vm_pool *p)
{
    return &p->counts;
}

void tidal_vm_pool_free(struct tidal_vm_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->work);
    pthread_cond_broadcast(&p->idle_ready);
    pthread_mutex_unlock(&p->lock);
    if (p->refiller_started)
        pthread_join(p->refiller, NULL);
    while (p->nidle)
        destroy_pooled(p, p->idle[--p->nidle]);
    while (p->ndoomed)
        destroy_pooled(p, p->doomed[--p->ndoomed]);
    if (p->template_mem)
        munmap(p->template_mem, p->mem_size);
    pthread_cond_destroy(&p->idle_ready);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p->idle);
    free(p->doomed);
    free(p);
}
