/* A function's reused VMs in `tidal serve`: each waits at the template point, runs
 * one request, is reset in place and waits again. A VM that crashed, timed out, hit
 * a limit or exited with an error is torn down and replaced by a background thread,
 * so no VM is created or destroyed on a request's path. Private to serve. */
#ifndef TIDAL_HOST_SERVE_POOL_H
#define TIDAL_HOST_SERVE_POOL_H

#include "tidal/calls.h"
#include "tidal/err.h"
#include "tidal/reuse.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct tidal_snap;
struct tidal_vm;

struct tidal_pooled_vm {
    struct tidal_vm *vm;
    struct tidal_out_buf out, err; /* the request's stdout and stderr */
    uint64_t requests;             /* run on this VM so far */
    uint64_t pf_taken;             /* the vCPU's pf_taken when it last waited */
};

struct tidal_vm_pool_counts {
    atomic_ulong creations, teardowns, resets, pages_reset, guest_dirty, hot_pages, reprotected,
        reset_ioctls, failed_creations;
};

struct tidal_vm_pool;

/* Starts a pool of `target` VMs restored from `snap` (kept open by the caller), each
 * with output buffers of max_output and stderr_limit bytes; returns once the first
 * VM is ready (so a bad template is reported at start), the rest come from the
 * background thread. */
struct tidal_vm_pool *tidal_vm_pool_start(const struct tidal_snap *snap, unsigned target,
                                          double timeout_sec, uint64_t max_output,
                                          uint64_t stderr_limit, struct tidal_err *err);
/* A VM at the template point, waiting for one when all are busy; NULL once stopping. */
struct tidal_pooled_vm *tidal_vm_pool_take(struct tidal_vm_pool *p);
/* Back after a request: reset and kept when `healthy`, else replaced. */
void tidal_vm_pool_give_back(struct tidal_vm_pool *p, struct tidal_pooled_vm *pv, bool healthy);
/* Reused VMs ready now. */
unsigned tidal_vm_pool_idle(struct tidal_vm_pool *p);
const struct tidal_vm_pool_counts *tidal_vm_pool_counts(const struct tidal_vm_pool *p);
/* Stops the refill thread and destroys every VM (none may be taken). */
void tidal_vm_pool_free(struct tidal_vm_pool *p);

#endif
