/* A three-member cluster losing the member a handle talks to (kill -9): requests and a
 * running watch go on through the others. */
#include "watcher.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(failover, .init = start_three, .fini = stop_cluster, .timeout = 180);

static void put(const char *key, const char *value)
{
    struct tidal_err err;
    cr_assert_eq(etcd_put(e, key, value, strlen(value), 0, NULL, &err), 0, "%s", err.msg);
}

static void assert_value(const char *key, const char *want)
{
    struct tidal_err err;
    char *value;
    size_t len;
    cr_assert_eq(etcd_get(e, key, &value, &len, NULL, &err), 0, "%s", err.msg);
    cr_assert_str_eq(value, want);
    free(value);
}

/* Kills the member e talks to: its index. */
static int kill_current(void)
{
    int victim = etcd_cluster_member(&cluster, etcd_endpoint(e));
    cr_assert_geq(victim, 0, "%s is no member's", etcd_endpoint(e));
    etcd_cluster_kill(&cluster, victim);
    return victim;
}

Test(failover, requests_go_on_when_the_member_in_use_dies)
{
    put("k1", "before");
    int first = kill_current();
    put("k2", "after");
    assert_value("k1", "before");
    assert_value("k2", "after");
    cr_assert_neq(etcd_cluster_member(&cluster, etcd_endpoint(e)), first);

    /* Back with its data, it catches up; then the next member in use dies. */
    etcd_cluster_restart(&cluster, first);
    int second = kill_current();
    cr_assert_neq(second, first);
    put("k3", "again");
    assert_value("k1", "before");
    assert_value("k3", "again");
}

Test(failover, a_watch_resumes_on_another_member_without_losing_events)
{
    struct tidal_err err;
    int64_t from;
    cr_assert_eq(etcd_put(e, "start", "", 0, 0, &from, &err), 0, "%s", err.msg);
    struct watcher w = {0};
    watcher_start(&w, "w/", from + 1);
    char key[16], value[16];
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "w/%02d", i);
        snprintf(value, sizeof(value), "%d", i);
        put(key, value);
    }
    watcher_wait(&w, 10);
    /* Every handle starts at the first endpoint: the watch's member is e's. */
    kill_current();
    for (int i = 10; i < 20; i++) {
        snprintf(key, sizeof(key), "w/%02d", i);
        snprintf(value, sizeof(value), "%d", i);
        put(key, value);
    }
    watcher_wait(&w, 20);
    cr_assert_eq(watcher_stop(&w), ETCD_STOPPED, "%s", w.err.msg);
    cr_assert_eq(w.n, 20, "no event lost or repeated");
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "w/%02d", i);
        cr_assert_str_eq(w.ev[i].key, key);
        cr_assert(i == 0 || w.ev[i].revision > w.ev[i - 1].revision);
    }
    cr_assert_geq(w.requests, 2, "the watch was opened again");
}
