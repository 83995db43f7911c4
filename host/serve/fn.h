/* Inside `tidal serve`: a registered function, one invocation of it, and the
 * dispatcher that runs invocations on worker threads. Not a public interface. */
#ifndef TIDAL_HOST_SERVE_FN_H
#define TIDAL_HOST_SERVE_FN_H

#include "tidal/serve.h"

#include <pthread.h>
#include <stdatomic.h>

enum tidal_outcome {
    OUTCOME_OK,           /* exit status 0: 200 with the output */
    OUTCOME_FAILED,       /* non-zero exit status: 502 */
    OUTCOME_CRASHED,      /* fault, invalid call, killed by a signal: 502 */
    OUTCOME_TIMEOUT,      /* 504 */
    OUTCOME_OUTPUT_LIMIT, /* wrote more than max_output: 502 */
    OUTCOME_ERROR,        /* the host failed (restore, spawn, files): 500 */
    OUTCOME_REJECTED,     /* concurrency and queue full: 503 */
    OUTCOME_TOO_LARGE,    /* body over max_body: 413 */
    OUTCOME_COUNT
};
const char *tidal_outcome_name(enum tidal_outcome o);

/* Latency histogram upper bounds, seconds (Prometheus "le"). */
#define TIDAL_LATENCY_BUCKETS 14
extern const double tidal_latency_bounds[TIDAL_LATENCY_BUCKETS];

struct tidal_fn_counters {
    atomic_ulong outcomes[OUTCOME_COUNT];
    atomic_ulong latency_buckets[TIDAL_LATENCY_BUCKETS + 1]; /* the last: +Inf */
    atomic_ulong latency_sum_ns;
    atomic_ulong exits, pf_taken, spawns;
};

struct tidal_snap;
struct tidal_vm_pool;
struct tidal_pooled_vm;

struct tidal_function {
    const struct tidal_fn_spec *spec;
    enum tidal_serve_backend backend;
    unsigned index;
    struct tidal_snap *template; /* VM backend: the state every request starts from */
    uint64_t template_bytes;
    struct tidal_vm_pool *vms; /* VM backend: reused VMs at the template point */
    unsigned pool_target;
    atomic_ulong next_request_id;
    struct tidal_fn_counters counters;
};

/* The result of one invocation. */
struct tidal_invocation {
    enum tidal_outcome outcome;
    char *out; /* malloc'ed output when OUTCOME_OK (the receiver frees it), else NULL */
    size_t out_len;
    uint64_t exits;       /* VM exits to the monitor (VM backend) */
    uint64_t pf_taken;    /* KVM page faults during the request (VM backend) */
    uint64_t vm_requests; /* requests the VM has run, this one included (1: a new VM) */
    bool output_overflow; /* the function wrote more than max_output */
    char detail[2048];
};

/* Boots function `index` of cfg to tidal_ready() and saves it as a template in dir
 * (VM backend), or checks that the program is executable (process backend). */
int tidal_function_register(struct tidal_function *fn, const struct tidal_serve_config *cfg,
                            unsigned index, const char *dir, struct tidal_err *err);
void tidal_function_release(struct tidal_function *fn);

/* Runs one request with body as stdin, on a reused VM (or a new process). The
 * worker calls tidal_function_after, off the request's path, to reset the VM and
 * give it back, `healthy` when the request succeeded; any other VM is replaced. */
void tidal_function_invoke(struct tidal_function *fn, const char *body, size_t len,
                           struct tidal_invocation *out, struct tidal_pooled_vm **used);
void tidal_function_after(struct tidal_function *fn, struct tidal_pooled_vm *used, bool healthy);

/* The process-per-request baseline (process.c). */
void tidal_process_invoke(struct tidal_function *fn, int in_fd, int out_fd, int err_fd,
                          struct tidal_invocation *out);

/* The guest exited with status: OK for 0, FAILED (with the status in detail) else. */
void tidal_invocation_exited(struct tidal_invocation *out, int status);

/* ---- dispatcher (dispatch.c) ---- */
struct tidal_job {
    struct tidal_job *next;
    struct tidal_function *fn;
    const char *body;
    size_t len;
    struct tidal_invocation result;
    void (*done)(struct tidal_job *job); /* called on the worker thread */
};

struct tidal_dispatcher;
struct tidal_dispatcher *tidal_dispatcher_start(struct tidal_function *fns, unsigned nfns,
                                                unsigned workers, struct tidal_err *err);
/* Queues a job; returns -1 when the function's concurrency and queue are both full. */
int tidal_dispatcher_submit(struct tidal_dispatcher *d, struct tidal_job *job);
/* Per-function gauges for metrics. */
void tidal_dispatcher_load(struct tidal_dispatcher *d, unsigned fn_index, unsigned *running,
                           unsigned *queued);
/* Refuses new jobs, finishes the queued and running ones, joins the workers. The
 * dispatcher still answers tidal_dispatcher_load and refuses submissions until freed. */
void tidal_dispatcher_stop(struct tidal_dispatcher *d);
void tidal_dispatcher_free(struct tidal_dispatcher *d);
/* For /metrics: how many workers, and worker i's state. True when it is between jobs,
 * with its thread and the function whose VM it ran last (seq changes with every job:
 * equal before and after a look, nothing ran in between). */
unsigned tidal_dispatcher_workers(const struct tidal_dispatcher *d);
bool tidal_dispatcher_idle_worker(struct tidal_dispatcher *d, unsigned i, int *tid, int *fn,
                                  unsigned *seq);

#endif
