/* A synchronous etcd v3 client over etcd's JSON gateway (HTTP/1.1, http:// only): keys
 * and values, compare-and-swap transactions, leases, leader election and watches, which
 * the cluster mode of the daemon keeps its hosts, VMs and assignments in.
 *
 * A handle is used by one thread at a time; a program opens one per thread that talks to
 * etcd. Each request goes first to the endpoint that answered last. When that one cannot
 * be reached, times out, drops the connection or answers "unavailable" (a member
 * without a leader), the request goes to the next endpoint, round the list with a pause
 * of 100 ms after each round, until one answers or every one has failed and timeout_s
 * has passed since the first failure. A write whose answer was lost may therefore be
 * applied twice, or be applied and then reported as failed: a transaction that reports
 * failure means "re-read and decide again", never "nothing was written".
 *
 * Keys are text (no NUL byte); values are bytes, handed back with a NUL after them.
 * Every function returns -1 with a message in err on failure, and never crashes on a
 * malformed answer. */
#ifndef TIDAL_HOST_CLUSTER_ETCD_H
#define TIDAL_HOST_CLUSTER_ETCD_H

#include "tidal/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Return codes besides 0 (done) and -1 (error). */
enum {
    ETCD_ABSENT = 1,    /* no such key, the lease is gone, the election has no leader */
    ETCD_STOPPED = 2,   /* *stop was set */
    ETCD_COMPACTED = 3, /* a watch's start revision was compacted away: list again */
};

struct etcd;

/* endpoints: "http://10.0.0.1:2379,http://10.0.0.2:2379". timeout_s bounds each request
 * on each endpoint (and the connection set-up of a watch or campaign). */
struct etcd *etcd_open(const char *endpoints, double timeout_s, struct tidal_err *err);
void etcd_close(struct etcd *e);
/* HTTP requests sent through this handle, retries and pages of a listing included. */
uint64_t etcd_requests(const struct etcd *e);
/* The endpoint the next request goes to first ("http://host:port"). */
const char *etcd_endpoint(const struct etcd *e);

struct etcd_kv_meta {
    int64_t create_revision, mod_revision, version, lease; /* lease 0: none */
};

struct etcd_kv {
    const char *key;
    const char *value; /* value_len bytes, then a NUL */
    size_t value_len;
    struct etcd_kv_meta meta;
};

/* lease 0: none. *revision (may be NULL): the store's revision after the put. */
int etcd_put(struct etcd *e, const char *key, const void *value, size_t len, int64_t lease,
             int64_t *revision, struct tidal_err *err);
/* 0 and *value (malloc'ed, NUL after *len bytes; free it), or ETCD_ABSENT. meta may be
 * NULL. */
int etcd_get(struct etcd *e, const char *key, char **value, size_t *len, struct etcd_kv_meta *meta,
             struct tidal_err *err);
/* Calls fn for every key starting with prefix ("" = all), in key order, all read at one
 * revision (*revision, may be NULL: watch from *revision + 1 to miss nothing). fn returns
 * 0 to go on, -1 (with err set) to stop: etcd_get_prefix then returns -1. */
typedef int (*etcd_kv_fn)(const struct etcd_kv *kv, void *arg, struct tidal_err *err);
int etcd_get_prefix(struct etcd *e, const char *prefix, etcd_kv_fn fn, void *arg, int64_t *revision,
                    struct tidal_err *err);
/* Deletes key, or every key starting with it when prefix; *deleted (may be NULL) counts
 * them. */
int etcd_delete(struct etcd *e, const char *key, bool prefix, int64_t *deleted,
                struct tidal_err *err);

/* ---- transactions: if every compare holds, the success ops run, else the failure ops ---- */
enum etcd_target { ETCD_VERSION, ETCD_CREATE, ETCD_MOD, ETCD_VALUE };
enum etcd_result { ETCD_EQUAL, ETCD_GREATER, ETCD_LESS, ETCD_NOT_EQUAL };

/* key's <target> <result> number (VERSION, CREATE, MOD; a missing key has 0 for each)
 * or value[0..value_len) (VALUE). */
struct etcd_compare {
    const char *key;
    enum etcd_target target;
    enum etcd_result result;
    int64_t number;
    const void *value;
    size_t value_len;
};

enum etcd_op_kind { ETCD_OP_PUT, ETCD_OP_DELETE };

struct etcd_op {
    enum etcd_op_kind kind;
    const char *key;
    const void *value; /* PUT */
    size_t value_len;
    int64_t lease; /* PUT; 0: none */
    bool prefix;   /* DELETE: every key starting with key */
};

/* *succeeded: whether the compares held; *revision (may be NULL): the store's revision
 * after the transaction. */
int etcd_txn(struct etcd *e, const struct etcd_compare *compares, size_t n_compares,
             const struct etcd_op *success, size_t n_success, const struct etcd_op *failure,
             size_t n_failure, bool *succeeded, int64_t *revision, struct tidal_err *err);

/* ---- leases: keys put with a lease vanish when it expires or is revoked ---- */
int etcd_lease_grant(struct etcd *e, int64_t ttl_s, int64_t *id, struct tidal_err *err);
/* Renews the lease once: 0 and its *ttl_left (seconds, may be NULL), or ETCD_ABSENT when
 * it has expired or was revoked (its keys are gone). */
int etcd_lease_keepalive_once(struct etcd *e, int64_t id, int64_t *ttl_left, struct tidal_err *err);
/* 0, or ETCD_ABSENT when it was gone already. */
int etcd_lease_revoke(struct etcd *e, int64_t id, struct tidal_err *err);
/* Without renewing: 0 and its *ttl_left and *granted (either may be NULL), or
 * ETCD_ABSENT. */
int etcd_lease_ttl(struct etcd *e, int64_t id, int64_t *ttl_left, int64_t *granted,
                   struct tidal_err *err);

/* ---- leader election (etcd's election API): one campaigner at a time holds the
 * leader key, <name>/<lease in hex>, until it resigns or its lease ends ---- */
#define ETCD_KEY_MAX 512

struct etcd_leader {
    char name[ETCD_KEY_MAX]; /* the election */
    char key[ETCD_KEY_MAX];  /* the leader key */
    int64_t rev;             /* its create revision: the fencing token */
    int64_t lease;
};

/* Blocks until this lease holds the leader key of election `name`, with value as its
 * value: 0 and *leader. An endpoint that goes away is replaced by the next one; the
 * campaign then goes on. ETCD_STOPPED when *stop (may be NULL) was set: checked every
 * 100 ms; the server withdraws the candidacy, but an election won in that instant keeps
 * its key until the lease ends or etcd_leader shows it and the caller resigns. */
int etcd_campaign(struct etcd *e, const char *name, int64_t lease, const void *value, size_t len,
                  volatile int *stop, struct etcd_leader *leader, struct tidal_err *err);
/* The current leader: 0, *leader and, when value is not NULL, its value (malloc'ed, NUL
 * after *len bytes); ETCD_ABSENT when there is none. */
int etcd_leader(struct etcd *e, const char *name, struct etcd_leader *leader, char **value,
                size_t *len, struct tidal_err *err);
/* Gives up leadership: deletes the leader key if it is still this one (same create
 * revision); 0 also when it was gone. */
int etcd_resign(struct etcd *e, const struct etcd_leader *leader, struct tidal_err *err);

/* ---- watches ---- */
enum etcd_event_type { ETCD_EVENT_PUT, ETCD_EVENT_DELETE };

struct etcd_event {
    enum etcd_event_type type;
    struct etcd_kv kv; /* DELETE: key and meta.mod_revision (the deletion's) only */
};

/* fn returns 0 to go on, -1 (with err set) to stop the watch: etcd_watch returns -1. */
typedef int (*etcd_event_fn)(const struct etcd_event *ev, void *arg, struct tidal_err *err);

/* Streams the changes to keys starting with prefix, in revision order, from
 * start_revision (0: from now), until *stop is set (checked every 100 ms): then
 * ETCD_STOPPED. A dropped stream is resumed on the next endpoint after the last revision
 * seen, so no event is lost or repeated. *next (may be NULL) is always the revision to
 * resume from. ETCD_COMPACTED when that revision has been compacted: *next is then the
 * compaction's revision; list again (etcd_get_prefix) and watch from its revision + 1.
 * -1 when no endpoint accepts the watch, once round the list, or fn failed. */
int etcd_watch(struct etcd *e, const char *prefix, int64_t start_revision, etcd_event_fn fn,
               void *arg, volatile int *stop, int64_t *next, struct tidal_err *err);

#endif
