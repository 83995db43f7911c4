#include "watcher.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <unistd.h>

static int record(const struct etcd_event *ev, void *arg, struct tidal_err *err)
{
    struct watcher *w = arg;
    pthread_mutex_lock(&w->lock);
    int n = w->n;
    if (n < WATCHER_MAX) {
        struct seen_event *s = &w->ev[n];
        s->type = ev->type;
        snprintf(s->key, sizeof(s->key), "%s", ev->kv.key);
        snprintf(s->value, sizeof(s->value), "%s", ev->kv.value ? ev->kv.value : "");
        s->revision = ev->kv.meta.mod_revision;
        w->n++;
    }
    pthread_mutex_unlock(&w->lock);
    if (n >= WATCHER_MAX)
        return tidal_err_set(err, "more than %d events", WATCHER_MAX);
    if (n + 1 == w->fail_at)
        return tidal_err_set(err, "refused event %d (%s)", n + 1, ev->kv.key);
    return 0;
}

static void *run(void *arg)
{
    struct watcher *w = arg;
    w->rc = etcd_watch(w->h, w->prefix, w->start, record, w, &w->stop, &w->next, &w->err);
    return NULL;
}

void watcher_start(struct watcher *w, const char *prefix, int64_t start)
{
    w->h = open_etcd(cluster.endpoints);
    w->prefix = prefix;
    w->start = start;
    pthread_mutex_init(&w->lock, NULL);
    cr_assert_eq(pthread_create(&w->thread, NULL, run, w), 0);
}

void watcher_wait(struct watcher *w, int n)
{
    for (int i = 0; i < 600; i++) {
        pthread_mutex_lock(&w->lock);
        int have = w->n;
        pthread_mutex_unlock(&w->lock);
        if (have >= n)
            return;
        usleep(50000);
    }
    cr_assert_fail("the watch saw %d of %d events in 30 s", w->n, n);
}

int watcher_stop(struct watcher *w)
{
    w->stop = 1;
    pthread_join(w->thread, NULL);
    w->requests = etcd_requests(w->h);
    etcd_close(w->h);
    return w->rc;
}
