#include "console_timer.h"

#include <signal.h>
#include <time.h>

#define INTERVAL_NS 100000000L

static void *tick(void *arg)
{
    struct console_timer *t = arg;
    pthread_mutex_lock(&t->lock);
    while (!t->stop) {
        struct timespec at;
        clock_gettime(CLOCK_MONOTONIC, &at);
        at.tv_nsec += INTERVAL_NS;
        if (at.tv_nsec >= 1000000000L) {
            at.tv_sec++;
            at.tv_nsec -= 1000000000L;
        }
        while (!t->stop && pthread_cond_timedwait(&t->wake, &t->lock, &at) == 0)
            ;
        if (t->stop)
            break;
        pthread_mutex_unlock(&t->lock);
        struct tidal_err err; /* a malformed ring ends the guest at its next exit */
        tidal_vm_drain_console(t->vm, &err);
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

void console_timer_start(struct console_timer *t, struct tidal_vm *vm, bool stdout_is_tty)
{
    *t = (struct console_timer){.vm = vm};
    if (stdout_is_tty)
        return;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->wake, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&t->lock, NULL);
    /* Signals (SIGUSR1 for a snapshot, the timeout's) must reach the thread that runs
     * the vCPU, so that they stop KVM_RUN: this thread takes none. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    t->running = pthread_create(&t->thread, NULL, tick, t) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!t->running) {
        pthread_cond_destroy(&t->wake);
        pthread_mutex_destroy(&t->lock);
    }
}

void console_timer_stop(struct console_timer *t)
{
    if (!t->running)
        return;
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    t->running = false;
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
}
