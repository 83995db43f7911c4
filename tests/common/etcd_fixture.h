/* A real etcd cluster for tests: N members (1 to ETCD_FIXTURE_MAX) of Debian's
 * /usr/bin/etcd on one address, each with free client and peer ports and a data
 * directory under one temporary directory, with short raft timeouts so that a leader
 * is elected again within about a second.
 *
 *     struct etcd_cluster c;
 *     etcd_cluster_start(&c, 3, NULL);   // skips the test when etcd is not installed
 *     ... etcd_open(c.endpoints, 5, &err) ...
 *     etcd_cluster_kill(&c, 1);          // kill -9
 *     etcd_cluster_restart(&c, 1);       // same data: it rejoins
 *     etcd_cluster_stop(&c);             // also in .fini: it is idempotent
 *
 * Each member runs in a process group of its own and dies with the thread that started
 * it (PR_SET_PDEATHSIG), so a test that crashes leaves no etcd behind either. */
#ifndef TIDAL_TEST_ETCD_FIXTURE_H
#define TIDAL_TEST_ETCD_FIXTURE_H

#include <stdbool.h>
#include <sys/types.h>

#define ETCD_FIXTURE_MAX 5
#define ETCD_FIXTURE_BIN "/usr/bin/etcd"

struct etcd_member {
    char name[16];
    int client_port, peer_port;
    char client_url[96]; /* "http://HOST:PORT" */
    pid_t pid;           /* 0: not running */
};

struct etcd_cluster {
    int n;
    char host[64];
    char dir[128];       /* the temporary directory: data/<name>, <name>.log */
    char endpoints[512]; /* every member's client URL, comma-separated */
    struct etcd_member m[ETCD_FIXTURE_MAX];
};

/* Starts n members on host (NULL: 127.0.0.1; the address must be one of this
 * machine's) and waits until every one answers /health. Skips the test when etcd is not
 * installed; fails it when the cluster does not come up. */
void etcd_cluster_start(struct etcd_cluster *c, int n, const char *host);
/* Kills every member (SIGKILL to its process group), waits for it, and removes the
 * temporary directory. Does nothing for a cluster that is not started. */
void etcd_cluster_stop(struct etcd_cluster *c);
/* kill -9 of member i, waited for. */
void etcd_cluster_kill(struct etcd_cluster *c, int i);
/* Starts member i again on its ports and data (it rejoins the cluster) and waits until
 * it answers /health. */
void etcd_cluster_restart(struct etcd_cluster *c, int i);
/* The member whose client URL is url, or -1. */
int etcd_cluster_member(const struct etcd_cluster *c, const char *url);
/* Whether member i answers /health with {"health":"true"} (it has a leader). */
bool etcd_cluster_healthy(const struct etcd_cluster *c, int i);

#endif
