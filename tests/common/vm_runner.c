#include "vm_runner.h"

#include <signal.h>
#include <string.h>

/* The daemon's is SIGRTMIN + 2, the monitor's timeout SIGRTMIN + 1. */
#define PAUSE_SIGNAL (SIGRTMIN + 3)

static _Thread_local struct tidal_vm *volatile running;

static void on_pause(int sig)
{
    (void)sig;
    struct tidal_vm *vm = running;
    if (vm)
        tidal_vm_request_pause(vm);
}

static void *run(void *arg)
{
    struct vm_runner *r = arg;
    running = r->vm;
    for (;;) {
        tidal_vm_run(r->vm, &r->res);
        if (r->res.reason == TIDAL_EXIT_READY)
            continue;
        pthread_mutex_lock(&r->lock);
        if (r->res.reason == TIDAL_EXIT_PAUSED) {
            r->paused = true;
            pthread_cond_broadcast(&r->cond);
            while (!r->resume && !r->release)
                pthread_cond_wait(&r->cond, &r->lock);
            r->paused = false;
            bool go = r->resume; /* asked before any release: it runs on */
            r->resume = false;
            if (go) {
                pthread_mutex_unlock(&r->lock);
                continue;
            }
        }
        running = NULL;
        r->done = true;
        pthread_cond_broadcast(&r->cond);
        pthread_mutex_unlock(&r->lock);
        return NULL;
    }
}

int vm_runner_start(struct vm_runner *r, struct tidal_vm *vm)
{
    struct sigaction sa = {.sa_handler = on_pause}; /* no SA_RESTART: leave sleeps and reads */
    sigemptyset(&sa.sa_mask);
    sigaction(PAUSE_SIGNAL, &sa, NULL);
    memset(r, 0, sizeof(*r));
    r->vm = vm;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    return pthread_create(&r->thread, NULL, run, r);
}

bool vm_runner_pause(struct vm_runner *r)
{
    pthread_mutex_lock(&r->lock);
    if (!r->done && !r->paused)
        pthread_kill(r->thread, PAUSE_SIGNAL);
    while (!r->done && !r->paused)
        pthread_cond_wait(&r->cond, &r->lock);
    bool paused = r->paused;
    pthread_mutex_unlock(&r->lock);
    return paused;
}

void vm_runner_resume(struct vm_runner *r)
{
    pthread_mutex_lock(&r->lock);
    r->resume = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

void vm_runner_join(struct vm_runner *r)
{
    pthread_mutex_lock(&r->lock);
    r->release = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
}
