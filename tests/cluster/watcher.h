/* A watch running in a thread of its own, recording what it sees. */
#ifndef TIDAL_TEST_CLUSTER_WATCHER_H
#define TIDAL_TEST_CLUSTER_WATCHER_H

#include "helpers.h"

#include <pthread.h>

#define WATCHER_MAX 256

struct seen_event {
    enum etcd_event_type type;
    char key[32], value[32];
    int64_t revision;
};

struct watcher {
    struct etcd *h; /* its own handle: a handle is one thread's */
    const char *prefix;
    int64_t start;
    int fail_at; /* > 0: the callback fails on this event (1 = the first) */
    volatile int stop;
    pthread_t thread;
    pthread_mutex_t lock;
    struct seen_event ev[WATCHER_MAX];
    int n;
    int rc;
    int64_t next;
    uint64_t requests; /* etcd_requests of its handle, when stopped */
    struct tidal_err err;
};

/* Starts watching prefix from start (0: now) on a new handle. */
void watcher_start(struct watcher *w, const char *prefix, int64_t start);
/* Waits (up to 30 s) until it has seen n events; fails the test otherwise. */
void watcher_wait(struct watcher *w, int n);
/* Sets stop, joins the thread, closes the handle: etcd_watch's result. */
int watcher_stop(struct watcher *w);

#endif
