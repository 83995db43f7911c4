/* A running guest publishes its console output in a ring that the monitor drains
 * only when the guest exits; a service may run for hours without one. This thread
 * drains the rings of running VMs into their console logs every 100 ms, so a log
 * lags its guest by about that much at most. */
#include "internal.h"

#include <time.h>

#define DRAIN_INTERVAL_NS 100000000L

void *daemon_console_drainer(void *arg)
{
    struct daemon *d = arg;
    const struct timespec interval = {.tv_sec = 0, .tv_nsec = DRAIN_INTERVAL_NS};
    while (!d->stopping) {
        nanosleep(&interval, NULL);
        /* The lock keeps v->vm alive: a runner clears it under the lock before it
         * destroys the VM. The drain itself is serialised with the runner's own. */
        pthread_mutex_lock(&d->lock);
        for (struct dvm *v = d->vms; v; v = v->next) {
            struct tidal_err err;
            /* A malformed ring ends the guest at its next exit, on its runner */
            if (v->vm && v->state == DVM_RUNNING)
                tidal_vm_drain_console(v->vm, &err);
        }
        pthread_mutex_unlock(&d->lock);
    }
    return NULL;
}
