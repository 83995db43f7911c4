/* Leader election: one leader at a time, the next one elected when it resigns or its
 * lease ends, a campaign that can be called off. */
#include "helpers.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(election, .init = start_one, .fini = stop_cluster, .timeout = 120);

#define ELECTION "tidal/leader"

struct candidate {
    struct etcd *h;
    const char *value;
    int64_t lease;
    volatile int stop;
    pthread_t thread;
    int rc;
    struct etcd_leader leader;
    struct tidal_err err;
};

static void *campaign(void *arg)
{
    struct candidate *c = arg;
    c->rc = etcd_campaign(c->h, ELECTION, c->lease, c->value, strlen(c->value), &c->stop,
                          &c->leader, &c->err);
    return NULL;
}

/* A candidate with its own handle and a 60 s lease. */
static void candidate_init(struct candidate *c, const char *value)
{
    struct tidal_err err;
    *c = (struct candidate){.h = open_etcd(cluster.endpoints), .value = value};
    cr_assert_eq(etcd_lease_grant(c->h, 60, &c->lease, &err), 0, "%s", err.msg);
}

static void campaign_in_thread(struct candidate *c)
{
    cr_assert_eq(pthread_create(&c->thread, NULL, campaign, c), 0);
}

static void candidate_join(struct candidate *c)
{
    pthread_join(c->thread, NULL);
    etcd_close(c->h);
}

/* Waits until the candidate with this lease has its key under the election: it is
 * queued behind the leader. */
static void wait_queued(int64_t lease)
{
    char key[128];
    snprintf(key, sizeof(key), ELECTION "/%llx", (unsigned long long)lease);
    for (int i = 0; i < 300; i++) {
        char *value;
        size_t len;
        struct tidal_err err;
        int rc = etcd_get(e, key, &value, &len, NULL, &err);
        cr_assert_neq(rc, -1, "%s", err.msg);
        if (!rc) {
            free(value);
            return;
        }
        usleep(100000);
    }
    cr_assert_fail("no candidate key %s after 30 s", key);
}

static void assert_leader(const struct candidate *c)
{
    struct etcd_leader now;
    char *value;
    size_t len;
    struct tidal_err err;
    cr_assert_eq(etcd_leader(e, ELECTION, &now, &value, &len, &err), 0, "%s", err.msg);
    cr_assert_str_eq(now.key, c->leader.key);
    cr_assert_str_eq(now.name, ELECTION);
    cr_assert_eq(now.rev, c->leader.rev);
    cr_assert_eq(now.lease, c->lease);
    cr_assert_eq(len, strlen(c->value));
    cr_assert_str_eq(value, c->value);
    free(value);
}

Test(election, the_next_waits_until_the_leader_resigns)
{
    struct tidal_err err;
    struct etcd_leader none;
    cr_assert_eq(etcd_leader(e, ELECTION, &none, NULL, NULL, &err), ETCD_ABSENT, "%s", err.msg);

    struct candidate a, b;
    candidate_init(&a, "host-a");
    candidate_init(&b, "host-b");
    campaign(&a);
    cr_assert_eq(a.rc, 0, "%s", a.err.msg);
    cr_assert_str_eq(a.leader.name, ELECTION);
    cr_assert_eq(strncmp(a.leader.key, ELECTION "/", strlen(ELECTION "/")), 0, "%s", a.leader.key);
    cr_assert_gt(a.leader.rev, 0);
    cr_assert_eq(a.leader.lease, a.lease);
    assert_leader(&a);

    campaign_in_thread(&b);
    wait_queued(b.lease);
    /* b's key is younger than a's, which is still there: b cannot have won. */
    assert_leader(&a);

    /* The fencing token: writes guarded by the leader key's create revision. */
    struct etcd_compare fence = {
        .key = a.leader.key, .target = ETCD_CREATE, .result = ETCD_EQUAL, .number = a.leader.rev};
    struct etcd_op write = {.kind = ETCD_OP_PUT, .key = "assign/vm1", .value = "a", .value_len = 1};
    bool ok;
    cr_assert_eq(etcd_txn(e, &fence, 1, &write, 1, NULL, 0, &ok, NULL, &err), 0, "%s", err.msg);
    cr_assert(ok);

    cr_assert_eq(etcd_resign(a.h, &a.leader, &err), 0, "%s", err.msg);
    candidate_join(&b);
    cr_assert_eq(b.rc, 0, "%s", b.err.msg);
    cr_assert_gt(b.leader.rev, a.leader.rev);
    assert_leader(&b);
    cr_assert_eq(etcd_txn(e, &fence, 1, &write, 1, NULL, 0, &ok, NULL, &err), 0, "%s", err.msg);
    cr_assert_not(ok, "the old leader's token no longer fences");
    /* Resigning twice, or an old leadership, changes nothing. */
    cr_assert_eq(etcd_resign(a.h, &a.leader, &err), 0, "%s", err.msg);
    assert_leader(&b);
    etcd_close(a.h);
}

Test(election, the_next_wins_when_the_leaders_lease_is_revoked)
{
    struct tidal_err err;
    struct candidate a, b;
    candidate_init(&a, "host-a");
    candidate_init(&b, "host-b");
    campaign(&a);
    cr_assert_eq(a.rc, 0, "%s", a.err.msg);
    campaign_in_thread(&b);
    wait_queued(b.lease);
    cr_assert_eq(etcd_lease_revoke(a.h, a.lease, &err), 0, "%s", err.msg);
    candidate_join(&b);
    cr_assert_eq(b.rc, 0, "%s", b.err.msg);
    assert_leader(&b);
    etcd_close(a.h);
}

Test(election, a_stopped_campaign_withdraws)
{
    struct candidate a, c;
    candidate_init(&a, "host-a");
    candidate_init(&c, "host-c");
    campaign(&a);
    cr_assert_eq(a.rc, 0, "%s", a.err.msg);
    campaign_in_thread(&c);
    wait_queued(c.lease);
    c.stop = 1;
    candidate_join(&c);
    cr_assert_eq(c.rc, ETCD_STOPPED);
    /* The server deletes the withdrawn candidate's key. */
    char key[128];
    snprintf(key, sizeof(key), ELECTION "/%llx", (unsigned long long)c.lease);
    int rc = 0;
    for (int i = 0; i < 300 && rc == 0; i++) {
        char *value;
        size_t len;
        struct tidal_err err;
        rc = etcd_get(e, key, &value, &len, NULL, &err);
        cr_assert_neq(rc, -1, "%s", err.msg);
        if (!rc) {
            free(value);
            usleep(100000);
        }
    }
    cr_assert_eq(rc, ETCD_ABSENT, "%s still there after 30 s", key);
    assert_leader(&a);
    etcd_close(a.h);
}
