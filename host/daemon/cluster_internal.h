/* What host/daemon/cluster*.c share. */
#ifndef TIDAL_DAEMON_CLUSTER_INTERNAL_H
#define TIDAL_DAEMON_CLUSTER_INTERNAL_H

#include "cluster.h"
#include "cluster_place.h"
#include "../cluster/etcd.h"

#include <cjson/cJSON.h>
#include <pthread.h>

struct cluster {
    struct daemon *d;
    char host[CLUSTER_NAME_MAX];
    char addr[64]; /* where other hosts reach our peer listener */
    int port;
    char endpoints[1024];
    double ttl; /* seconds */

    /* guarded by d->lock */
    int64_t lease;
    double renewed_at;  /* CLOCK_MONOTONIC when the last renewal that worked was sent */
    bool fenced;        /* the VMs here are paused: the lease may be gone */
    bool leader;        /* elected, and the key below still ours */
    int64_t leader_rev; /* the election key's create revision: the fencing token */
    char leader_key[ETCD_KEY_MAX];
    uint64_t rounds, round_ops, round_moves, fences;
    double round_ms;
    bool publish_wanted;
    struct dvm *dropped; /* VMs that moved away; freed when the daemon stops */

    volatile int stopping;
    volatile int relist; /* the agent's watch ends and it lists again (set now and then) */
    int peer_fd;
    pthread_t keeper, fencer, leader_thread, agent, publisher, peer;
    pthread_cond_t publish_cond; /* with d->lock */
};

/* Keys */
void cluster_key(char *out, size_t size, const char *kind, const char *name);

/* A JSON value from etcd: parsed, or NULL (with a log line naming the key). */
cJSON *cluster_parse(struct daemon *d, const char *key, const char *val, size_t len);

/* cluster_leader.c */
void *cluster_leader_main(void *arg);
/* One planning round with the given handle (the benchmark drives it too). */
int cluster_round(struct cluster *c, struct etcd *e, struct tidal_err *err);

/* cluster_agent.c */
/* A VM or job from its cluster record ({"class", "spec"}); lock held. */
struct dvm *cluster_define_here(struct daemon *d, const cJSON *rec, struct tidal_err *err);
void *cluster_agent_main(void *arg);
void *cluster_publisher_main(void *arg);
/* Drops the VM here without saving it: it runs elsewhere now, or (deleted) nowhere,
 * and its files go too. Lock held. */
void cluster_drop_vm(struct daemon *d, struct dvm *v, bool deleted, const char *why);
/* Claims the assignment of a fenced VM again (after the lease came back or a new
 * one was granted): resumes it if nobody took it meanwhile, else drops it. */
void cluster_reclaim(struct cluster *c, struct etcd *e);

/* migrate.c: the peer listener, taking migrations from other hosts */
int cluster_peer_listen(struct cluster *c, struct tidal_err *err);
void *cluster_peer_main(void *arg);

#endif
