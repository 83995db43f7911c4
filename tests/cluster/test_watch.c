/* Watches on a one-member cluster: events in order, a replay from a revision, a stop on
 * request, compaction reported. */
#include "watcher.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

TestSuite(watch, .init = start_one, .fini = stop_cluster, .timeout = 120);

static int64_t put(const char *key, const char *value)
{
    struct tidal_err err;
    int64_t rev;
    cr_assert_eq(etcd_put(e, key, value, strlen(value), 0, &rev, &err), 0, "%s", err.msg);
    return rev;
}

static void assert_event(const struct watcher *w, int i, enum etcd_event_type type, const char *key,
                         const char *value)
{
    cr_assert_eq(w->ev[i].type, type, "event %d", i);
    cr_assert_str_eq(w->ev[i].key, key, "event %d", i);
    cr_assert_str_eq(w->ev[i].value, value, "event %d", i);
}

Test(watch, sees_puts_and_deletes_in_order_and_stops)
{
    struct tidal_err err;
    int64_t from = put("elsewhere", "x") + 1;
    struct watcher w = {0};
    watcher_start(&w, "w/", from);
    put("w/a", "1");
    put("w/b", "2");
    cr_assert_eq(etcd_delete(e, "w/a", false, NULL, &err), 0, "%s", err.msg);
    struct etcd_op two[] = {
        {.kind = ETCD_OP_PUT, .key = "w/c", .value = "3", .value_len = 1},
        {.kind = ETCD_OP_PUT, .key = "w/d", .value = "4", .value_len = 1},
    };
    bool ok;
    cr_assert_eq(etcd_txn(e, NULL, 0, two, 2, NULL, 0, &ok, NULL, &err), 0, "%s", err.msg);
    put("elsewhere", "y");
    int64_t last = put("w/b", "5");
    watcher_wait(&w, 6);
    cr_assert_eq(watcher_stop(&w), ETCD_STOPPED, "%s", w.err.msg);
    cr_assert_eq(w.n, 6);
    assert_event(&w, 0, ETCD_EVENT_PUT, "w/a", "1");
    assert_event(&w, 1, ETCD_EVENT_PUT, "w/b", "2");
    assert_event(&w, 2, ETCD_EVENT_DELETE, "w/a", "");
    assert_event(&w, 3, ETCD_EVENT_PUT, "w/c", "3");
    assert_event(&w, 4, ETCD_EVENT_PUT, "w/d", "4");
    assert_event(&w, 5, ETCD_EVENT_PUT, "w/b", "5");
    cr_assert_eq(w.ev[3].revision, w.ev[4].revision, "one transaction, one revision");
    for (int i = 1; i < 6; i++)
        cr_assert_geq(w.ev[i].revision, w.ev[i - 1].revision + (i != 4));
    cr_assert_eq(w.ev[5].revision, last);
    cr_assert_eq(w.next, last + 1);
}

Test(watch, replays_from_a_revision_or_starts_now)
{
    int64_t first = put("w/a", "1");
    put("w/b", "2");
    struct watcher past = {0};
    watcher_start(&past, "w/", first);
    watcher_wait(&past, 2);
    assert_event(&past, 0, ETCD_EVENT_PUT, "w/a", "1");
    assert_event(&past, 1, ETCD_EVENT_PUT, "w/b", "2");

    /* From now: it never sees w/a or w/b, only the ticks put after it began. */
    struct watcher now = {0};
    watcher_start(&now, "w/", 0);
    for (int i = 0; i < 600; i++) {
        put("w/tick", "t");
        pthread_mutex_lock(&now.lock);
        int n = now.n;
        pthread_mutex_unlock(&now.lock);
        if (n)
            break;
        usleep(50000);
    }
    cr_assert_eq(watcher_stop(&now), ETCD_STOPPED, "%s", now.err.msg);
    cr_assert_gt(now.n, 0);
    for (int i = 0; i < now.n; i++)
        assert_event(&now, i, ETCD_EVENT_PUT, "w/tick", "t");
    cr_assert_eq(watcher_stop(&past), ETCD_STOPPED, "%s", past.err.msg);
    for (int i = 2; i < past.n; i++)
        assert_event(&past, i, ETCD_EVENT_PUT, "w/tick", "t");
}

Test(watch, a_failing_callback_ends_the_watch_where_it_failed)
{
    int64_t first = put("w/a", "1");
    int64_t second = put("w/b", "2");
    put("w/c", "3");
    struct watcher w = {.fail_at = 2};
    watcher_start(&w, "w/", first);
    pthread_join(w.thread, NULL);
    cr_assert_eq(w.rc, -1);
    cr_assert_str_eq(w.err.msg, "refused event 2 (w/b)");
    cr_assert_eq(w.next, second, "resume at the event that failed");
    etcd_close(w.h);
}

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data, (void)arg;
    return size * n;
}

/* POST /v3/kv/compaction: the client has no call for it; an operator's job. */
static void compact(int64_t revision)
{
    char url[160], body[64];
    snprintf(url, sizeof(url), "%s/v3/kv/compaction", cluster.m[0].client_url);
    snprintf(body, sizeof(body), "{\"revision\":\"%lld\",\"physical\":true}", (long long)revision);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    long status = 0;
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    cr_assert_eq(status, 200);
}

Test(watch, reports_a_compacted_start)
{
    int64_t first = put("w/a", "1");
    put("w/a", "2");
    int64_t third = put("w/a", "3");
    compact(third);
    struct watcher w = {0};
    watcher_start(&w, "w/", first);
    pthread_join(w.thread, NULL);
    etcd_close(w.h);
    cr_assert_eq(w.rc, ETCD_COMPACTED, "%d: %s", w.rc, w.err.msg);
    cr_assert_eq(w.next, third);
    cr_assert_eq(w.n, 0);
}
