/* A VM run on a thread of its own, as the daemon runs each VM: a pause is a signal to
 * that thread whose handler calls tidal_vm_request_pause, so a vCPU inside KVM_RUN,
 * or the monitor inside a guest's sleep or read, stops at once. The migration tests
 * and its benchmark drive guests with it. No Criterion in here: the benchmark links
 * it too. */
#ifndef TIDAL_TEST_VM_RUNNER_H
#define TIDAL_TEST_VM_RUNNER_H

#include "tidal/monitor.h"

#include <pthread.h>
#include <stdbool.h>

struct vm_runner {
    struct tidal_vm *vm;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool paused;  /* tidal_vm_run returned TIDAL_EXIT_PAUSED; the thread waits */
    bool done;    /* the thread ended: the guest stopped (res says how) or was released */
    bool resume;  /* asked: run on */
    bool release; /* asked: stop, never run it again (it migrated away) */
    struct tidal_run_result res;
};

/* Starts running vm (which the caller keeps and destroys after vm_runner_join). */
int vm_runner_start(struct vm_runner *r, struct tidal_vm *vm);
/* Stops the guest: true once it is paused, false when it had stopped for good. */
bool vm_runner_pause(struct vm_runner *r);
void vm_runner_resume(struct vm_runner *r);
/* Waits for the thread to end; a paused guest is released (not run again). */
void vm_runner_join(struct vm_runner *r);

#endif
