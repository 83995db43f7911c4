/* The etcd client against a real one-member cluster: keys, transactions, leases. */
#include "helpers.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(etcd, .init = start_one, .fini = stop_cluster, .timeout = 120);

Test(etcd, put_get_delete)
{
    struct tidal_err err;
    int64_t rev1, rev2;
    cr_assert_eq(etcd_put(e, "a/1", "one", 3, 0, &rev1, &err), 0, "%s", err.msg);
    /* Values are bytes: a NUL inside comes back. */
    cr_assert_eq(etcd_put(e, "a/2", "t\0o", 3, 0, &rev2, &err), 0, "%s", err.msg);
    cr_assert_gt(rev2, rev1);
    char *value;
    size_t len;
    struct etcd_kv_meta meta;
    cr_assert_eq(etcd_get(e, "a/2", &value, &len, &meta, &err), 0, "%s", err.msg);
    cr_assert_eq(len, 3);
    cr_assert_eq(memcmp(value, "t\0o", 4), 0);
    cr_assert_eq(meta.create_revision, rev2);
    cr_assert_eq(meta.mod_revision, rev2);
    cr_assert_eq(meta.version, 1);
    cr_assert_eq(meta.lease, 0);
    free(value);

    int64_t rev3;
    cr_assert_eq(etcd_put(e, "a/2", "", 0, 0, &rev3, &err), 0, "%s", err.msg);
    cr_assert_eq(etcd_get(e, "a/2", &value, &len, &meta, &err), 0, "%s", err.msg);
    cr_assert_eq(len, 0);
    cr_assert_str_eq(value, "");
    cr_assert_eq(meta.create_revision, rev2);
    cr_assert_eq(meta.mod_revision, rev3);
    cr_assert_eq(meta.version, 2);
    free(value);

    cr_assert_eq(etcd_get(e, "a/3", &value, &len, NULL, &err), ETCD_ABSENT);
    cr_assert_null(value);
    int64_t deleted;
    cr_assert_eq(etcd_delete(e, "a/1", false, &deleted, &err), 0, "%s", err.msg);
    cr_assert_eq(deleted, 1);
    cr_assert_eq(etcd_delete(e, "a/1", false, &deleted, &err), 0, "%s", err.msg);
    cr_assert_eq(deleted, 0);
    cr_assert_eq(etcd_get(e, "a/1", &value, &len, NULL, &err), ETCD_ABSENT);
    cr_assert_eq(etcd_get(e, "a/2", &value, &len, NULL, &err), 0, "%s", err.msg);
    free(value);
    cr_assert_geq(etcd_requests(e), 10);
}

struct listing {
    int n;
    char last[64];
    int stop_at;
};

static int count_key(const struct etcd_kv *kv, void *arg, struct tidal_err *err)
{
    struct listing *l = arg;
    cr_assert_gt(strcmp(kv->key, l->last), 0, "%s after %s", kv->key, l->last);
    snprintf(l->last, sizeof(l->last), "%s", kv->key);
    char want[32];
    snprintf(want, sizeof(want), "v%s", kv->key + 2);
    cr_assert_str_eq(kv->value, want);
    if (++l->n == l->stop_at)
        return tidal_err_set(err, "enough at %s", kv->key);
    return 0;
}

/* n keys p/0000.. with values v0000.., put 100 to a transaction. */
static void put_many(int n)
{
    struct etcd_op ops[100];
    char keys[100][16], values[100][16];
    for (int done = 0; done < n;) {
        int batch = n - done < 100 ? n - done : 100;
        for (int i = 0; i < batch; i++) {
            snprintf(keys[i], sizeof(keys[i]), "p/%04d", done + i);
            snprintf(values[i], sizeof(values[i]), "v%04d", done + i);
            ops[i] = (struct etcd_op){.kind = ETCD_OP_PUT,
                                      .key = keys[i],
                                      .value = values[i],
                                      .value_len = strlen(values[i])};
        }
        bool ok;
        struct tidal_err err;
        cr_assert_eq(etcd_txn(e, NULL, 0, ops, batch, NULL, 0, &ok, NULL, &err), 0, "%s", err.msg);
        cr_assert(ok);
        done += batch;
    }
}

Test(etcd, prefix_lists_every_page_at_one_revision)
{
    struct tidal_err err;
    put_many(1234); /* more than two pages */
    cr_assert_eq(etcd_put(e, "p0", "outside", 7, 0, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(etcd_put(e, "o", "outside", 7, 0, NULL, &err), 0, "%s", err.msg);
    int64_t rev, now;
    cr_assert_eq(etcd_put(e, "x", "", 0, 0, &now, &err), 0, "%s", err.msg);

    struct listing l = {0};
    uint64_t before = etcd_requests(e);
    cr_assert_eq(etcd_get_prefix(e, "p/", count_key, &l, &rev, &err), 0, "%s", err.msg);
    cr_assert_eq(l.n, 1234);
    cr_assert_str_eq(l.last, "p/1233");
    cr_assert_eq(rev, now);
    cr_assert_eq(etcd_requests(e) - before, 3, "pages of 500 keys");

    /* The callback's error stops the listing and is the listing's. */
    l = (struct listing){.stop_at = 10};
    cr_assert_eq(etcd_get_prefix(e, "p/", count_key, &l, NULL, &err), -1);
    cr_assert_str_eq(err.msg, "enough at p/0009");

    int64_t deleted;
    cr_assert_eq(etcd_delete(e, "p/", true, &deleted, &err), 0, "%s", err.msg);
    cr_assert_eq(deleted, 1234);
    l = (struct listing){0};
    cr_assert_eq(etcd_get_prefix(e, "p/", count_key, &l, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(l.n, 0);
    char *value;
    size_t len;
    cr_assert_eq(etcd_get(e, "p0", &value, &len, NULL, &err), 0, "%s", err.msg);
    free(value);
}

static int count_any(const struct etcd_kv *kv, void *arg, struct tidal_err *err)
{
    (void)kv, (void)err;
    ++*(int *)arg;
    return 0;
}

Test(etcd, empty_prefix_lists_everything)
{
    struct tidal_err err;
    cr_assert_eq(etcd_put(e, "a", "1", 1, 0, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(etcd_put(e, "\x7f", "2", 1, 0, NULL, &err), 0, "%s", err.msg);
    int n = 0;
    cr_assert_eq(etcd_get_prefix(e, "", count_any, &n, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 2);
}

Test(etcd, txn_compare_and_swap)
{
    struct tidal_err err;
    bool ok;
    int64_t rev;
    /* Create only if absent: the first succeeds, the second runs the failure ops. */
    struct etcd_compare absent = {.key = "vm/1", .target = ETCD_CREATE, .result = ETCD_EQUAL};
    struct etcd_op create = {.kind = ETCD_OP_PUT, .key = "vm/1", .value = "A", .value_len = 1};
    struct etcd_op mark = {.kind = ETCD_OP_PUT, .key = "lost", .value = "1", .value_len = 1};
    cr_assert_eq(etcd_txn(e, &absent, 1, &create, 1, &mark, 1, &ok, &rev, &err), 0, "%s", err.msg);
    cr_assert(ok);
    char *value;
    size_t len;
    struct etcd_kv_meta meta;
    cr_assert_eq(etcd_get(e, "lost", &value, &len, NULL, &err), ETCD_ABSENT);
    cr_assert_eq(etcd_txn(e, &absent, 1, &create, 1, &mark, 1, &ok, NULL, &err), 0, "%s", err.msg);
    cr_assert_not(ok);
    cr_assert_eq(etcd_get(e, "lost", &value, &len, NULL, &err), 0, "%s", err.msg);
    free(value);

    /* Fencing: write only while the fence key still has the create revision seen. */
    int64_t fence_rev;
    cr_assert_eq(etcd_put(e, "fence", "leader", 6, 0, &fence_rev, &err), 0, "%s", err.msg);
    struct etcd_compare fence = {
        .key = "fence", .target = ETCD_CREATE, .result = ETCD_EQUAL, .number = fence_rev};
    struct etcd_op assign = {.kind = ETCD_OP_PUT, .key = "vm/1", .value = "B", .value_len = 1};
    cr_assert_eq(etcd_txn(e, &fence, 1, &assign, 1, NULL, 0, &ok, NULL, &err), 0, "%s", err.msg);
    cr_assert(ok);
    cr_assert_eq(etcd_delete(e, "fence", false, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(etcd_put(e, "fence", "leader", 6, 0, NULL, &err), 0, "%s", err.msg);
    assign.value = "C";
    cr_assert_eq(etcd_txn(e, &fence, 1, &assign, 1, NULL, 0, &ok, NULL, &err), 0, "%s", err.msg);
    cr_assert_not(ok, "a new fence key has a new create revision");
    cr_assert_eq(etcd_get(e, "vm/1", &value, &len, &meta, &err), 0, "%s", err.msg);
    cr_assert_str_eq(value, "B");
    free(value);

    /* Every target and result, each once true and once false. */
    struct etcd_compare c[] = {
        {.key = "vm/1", .target = ETCD_VERSION, .result = ETCD_EQUAL, .number = 2},
        {.key = "vm/1", .target = ETCD_VERSION, .result = ETCD_GREATER, .number = 1},
        {.key = "vm/1", .target = ETCD_MOD, .result = ETCD_EQUAL, .number = meta.mod_revision},
        {.key = "vm/1", .target = ETCD_MOD, .result = ETCD_LESS, .number = meta.mod_revision + 1},
        {.key = "vm/1", .target = ETCD_VALUE, .result = ETCD_EQUAL, .value = "B", .value_len = 1},
        {.key = "vm/1",
         .target = ETCD_VALUE,
         .result = ETCD_NOT_EQUAL,
         .value = "A",
         .value_len = 1},
        {.key = "vm/1", .target = ETCD_CREATE, .result = ETCD_NOT_EQUAL, .number = 0},
    };
    size_t n = sizeof(c) / sizeof(c[0]);
    cr_assert_eq(etcd_txn(e, c, n, NULL, 0, NULL, 0, &ok, NULL, &err), 0, "%s", err.msg);
    cr_assert(ok);
    for (size_t i = 0; i < n; i++) {
        struct etcd_compare wrong = c[i];
        wrong.number += wrong.result == ETCD_LESS ? -1 : wrong.result == ETCD_NOT_EQUAL ? 0 : 5;
        if (wrong.target == ETCD_VALUE)
            wrong.value = wrong.result == ETCD_EQUAL ? "X" : "B";
        if (wrong.target == ETCD_CREATE)
            wrong.key = "nothing";
        cr_assert_eq(etcd_txn(e, &wrong, 1, NULL, 0, NULL, 0, &ok, NULL, &err), 0, "%s", err.msg);
        cr_assert_not(ok, "compare %zu", i);
    }

    /* A delete op, of a prefix, with a lease on the put. */
    int64_t lease;
    cr_assert_eq(etcd_lease_grant(e, 60, &lease, &err), 0, "%s", err.msg);
    struct etcd_op ops[] = {
        {.kind = ETCD_OP_DELETE, .key = "vm/", .prefix = true},
        {.kind = ETCD_OP_PUT, .key = "host/1", .value = "up", .value_len = 2, .lease = lease},
    };
    cr_assert_eq(etcd_txn(e, NULL, 0, ops, 2, NULL, 0, &ok, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(etcd_get(e, "vm/1", &value, &len, NULL, &err), ETCD_ABSENT);
    cr_assert_eq(etcd_get(e, "host/1", &value, &len, &meta, &err), 0, "%s", err.msg);
    cr_assert_eq(meta.lease, lease);
    free(value);

    struct etcd_compare bad = {.key = "x", .target = 7};
    cr_assert_eq(etcd_txn(e, &bad, 1, NULL, 0, NULL, 0, &ok, NULL, &err), -1);
    cr_assert(strstr(err.msg, "unknown target 7"), "%s", err.msg);
}

/* Waits (up to 30 s) until key is gone: its lease ended. */
static bool gone_soon(const char *key)
{
    for (int i = 0; i < 300; i++) {
        char *value;
        size_t len;
        struct tidal_err err;
        int rc = etcd_get(e, key, &value, &len, NULL, &err);
        cr_assert_neq(rc, -1, "%s", err.msg);
        if (rc == ETCD_ABSENT)
            return true;
        free(value);
        usleep(100000);
    }
    return false;
}

Test(etcd, key_with_lease_vanishes_without_keepalive)
{
    struct tidal_err err;
    int64_t lease, ttl, granted;
    cr_assert_eq(etcd_lease_grant(e, 1, &lease, &err), 0, "%s", err.msg);
    cr_assert_eq(etcd_put(e, "host/a", "up", 2, lease, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(etcd_lease_ttl(e, lease, &ttl, &granted, &err), 0, "%s", err.msg);
    cr_assert_eq(granted, 1);
    cr_assert_leq(ttl, 1);
    cr_assert(gone_soon("host/a"));
    cr_assert_eq(etcd_lease_keepalive_once(e, lease, &ttl, &err), ETCD_ABSENT);
    cr_assert_eq(etcd_lease_ttl(e, lease, &ttl, NULL, &err), ETCD_ABSENT);
}

Test(etcd, key_with_lease_stays_with_keepalives)
{
    struct tidal_err err;
    int64_t lease, ttl;
    cr_assert_eq(etcd_lease_grant(e, 2, &lease, &err), 0, "%s", err.msg);
    cr_assert_eq(etcd_put(e, "host/a", "up", 2, lease, NULL, &err), 0, "%s", err.msg);
    /* Two TTLs long, renewed every 200 ms. */
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(etcd_lease_keepalive_once(e, lease, &ttl, &err), 0, "%s", err.msg);
        cr_assert_eq(ttl, 2);
        usleep(200000);
    }
    char *value;
    size_t len;
    cr_assert_eq(etcd_get(e, "host/a", &value, &len, NULL, &err), 0, "%s", err.msg);
    free(value);

    cr_assert_eq(etcd_lease_revoke(e, lease, &err), 0, "%s", err.msg);
    cr_assert_eq(etcd_get(e, "host/a", &value, &len, NULL, &err), ETCD_ABSENT);
    cr_assert_eq(etcd_lease_keepalive_once(e, lease, &ttl, &err), ETCD_ABSENT);
    cr_assert_eq(etcd_lease_revoke(e, lease, &err), ETCD_ABSENT);
    cr_assert_eq(etcd_lease_ttl(e, lease, &ttl, NULL, &err), ETCD_ABSENT);
    cr_assert_eq(etcd_lease_grant(e, 0, &lease, &err), -1);
}
