/* Worker threads that run invocations. Each function has its own queue and its own
 * concurrency limit, and workers take functions in turn, so a function whose guests
 * spin until their timeout holds at most its own share of the workers while others
 * are served. */
#include "fn.h"
#include "tidal/confine.h"
#include "tidal/serve.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct fn_queue {
    struct tidal_job *head, *tail;
    unsigned queued, running;
};

/* What a worker is doing, read without the lock by /metrics: a worker between jobs
 * last ran a VM of function `fn` (seq changes with every job). */
struct worker_slot {
    atomic_int tid;
    atomic_int fn; /* -1: none yet */
    atomic_uint seq;
    atomic_bool busy;
};

struct tidal_dispatcher {
    pthread_mutex_t lock;
    pthread_cond_t work;
    struct tidal_function *fns;
    struct fn_queue *queues;
    unsigned nfns, next_fn; /* round robin start */
    pthread_t *threads;
    struct worker_slot *slots;
    unsigned nthreads;
    atomic_uint next_slot;
    bool stopping;
};

/* The next job a worker may start, taking functions in turn; NULL when none can. */
static struct tidal_job *take_job(struct tidal_dispatcher *d)
{
    for (unsigned k = 0; k < d->nfns; k++) {
        unsigned i = (d->next_fn + k) % d->nfns;
        struct fn_queue *q = &d->queues[i];
        if (!q->head || q->running >= d->fns[i].spec->limits.max_concurrency)
            continue;
        struct tidal_job *job = q->head;
        q->head = job->next;
        if (!q->head)
            q->tail = NULL;
        q->queued--;
        q->running++;
        d->next_fn = (i + 1) % d->nfns;
        return job;
    }
    return NULL;
}

static void *worker(void *arg)
{
    struct tidal_dispatcher *d = arg;
    struct worker_slot *slot = &d->slots[atomic_fetch_add(&d->next_slot, 1)];
    atomic_store(&slot->tid, (int)gettid());
    struct tidal_err err;
    if (tidal_confine(TIDAL_CONFINE_VCPU, &err)) {
        fprintf(stderr, "tidal serve: worker: %s\n", err.msg);
        _exit(TIDAL_SERVE_SYSTEM); /* never run guests unconfined by surprise */
    }
    pthread_mutex_lock(&d->lock);
    for (;;) {
        struct tidal_job *job = take_job(d);
        if (!job) {
            if (d->stopping)
                break;
            pthread_cond_wait(&d->work, &d->lock);
            continue;
        }
        pthread_mutex_unlock(&d->lock);
        struct tidal_function *fn = job->fn;
        struct tidal_pooled_vm *used;
        atomic_store(&slot->busy, true);
        atomic_fetch_add(&slot->seq, 1);
        atomic_store(&slot->fn, (int)fn->index);
        tidal_function_invoke(fn, job->body, job->len, &job->result, &used);
        bool healthy = job->result.outcome == OUTCOME_OK;
        job->done(job); /* the response goes out now (job is not ours after this); the
                         * VM's reset or replacement is off its path */
        tidal_function_after(fn, used, healthy);
        atomic_store(&slot->busy, false);
        pthread_mutex_lock(&d->lock);
        d->queues[fn->index].running--;
        /* A slot of this function freed up: another worker may start its next job. */
        pthread_cond_broadcast(&d->work);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

struct tidal_dispatcher *tidal_dispatcher_start(struct tidal_function *fns, unsigned nfns,
                                                unsigned workers, struct tidal_err *err)
{
    struct tidal_dispatcher *d = calloc(1, sizeof(*d));
    if (!d || !(d->queues = calloc(nfns, sizeof(*d->queues))) ||
        !(d->threads = calloc(workers, sizeof(*d->threads))) ||
        !(d->slots = calloc(workers, sizeof(*d->slots)))) {
        if (d) {
            free(d->queues);
            free(d->threads);
        }
        free(d);
        tidal_err_set(err, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->work, NULL);
    for (unsigned i = 0; i < workers; i++)
        atomic_init(&d->slots[i].fn, -1);
    d->fns = fns;
    d->nfns = nfns;
    for (; d->nthreads < workers; d->nthreads++) {
        int rc = pthread_create(&d->threads[d->nthreads], NULL, worker, d);
        if (rc) {
            tidal_err_set(err, "starting worker thread %u: %s", d->nthreads, strerror(rc));
            tidal_dispatcher_stop(d);
            tidal_dispatcher_free(d);
            return NULL;
        }
    }
    return d;
}

int tidal_dispatcher_submit(struct tidal_dispatcher *d, struct tidal_job *job)
{
    const struct tidal_fn_limits *l = &job->fn->spec->limits;
    pthread_mutex_lock(&d->lock);
    struct fn_queue *q = &d->queues[job->fn->index];
    /* Waiting jobs beyond the free slots count against the queue limit. */
    unsigned free_slots = l->max_concurrency - q->running;
    bool full = d->stopping || (q->queued >= free_slots && q->queued - free_slots >= l->max_queue);
    if (!full) {
        job->next = NULL;
        if (q->tail)
            q->tail->next = job;
        else
            q->head = job;
        q->tail = job;
        q->queued++;
        pthread_cond_signal(&d->work);
    }
    pthread_mutex_unlock(&d->lock);
    return full ? -1 : 0;
}

void tidal_dispatcher_load(struct tidal_dispatcher *d, unsigned fn_index, unsigned *running,
                           unsigned *queued)
{
    pthread_mutex_lock(&d->lock);
    *running = d->queues[fn_index].running;
    *queued = d->queues[fn_index].queued;
    pthread_mutex_unlock(&d->lock);
}

void tidal_dispatcher_stop(struct tidal_dispatcher *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    d->stopping = true;
    pthread_cond_broadcast(&d->work);
    pthread_mutex_unlock(&d->lock);
    for (unsigned i = 0; i < d->nthreads; i++)
        pthread_join(d->threads[i], NULL);
    d->nthreads = 0;
}

void tidal_dispatcher_free(struct tidal_dispatcher *d)
{
    if (!d)
        return;
    pthread_cond_destroy(&d->work);
    pthread_mutex_destroy(&d->lock);
    free(d->threads);
    free(d->slots);
    free(d->queues);
    free(d);
}

unsigned tidal_dispatcher_workers(const struct tidal_dispatcher *d)
{
    return d->nthreads;
}

bool tidal_dispatcher_idle_worker(struct tidal_dispatcher *d, unsigned i, int *tid, int *fn,
                                  unsigned *seq)
{
    struct worker_slot *s = &d->slots[i];
    *seq = atomic_load(&s->seq);
    *fn = atomic_load(&s->fn);
    *tid = atomic_load(&s->tid);
    return !atomic_load(&s->busy) && *fn >= 0 && *tid > 0;
}
