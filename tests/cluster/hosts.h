/* A cluster on one machine for tests: host daemons, each in a network namespace of
 * its own (netns.h), sharing an etcd cluster on the bridge and a snapshot store (a
 * common directory). Spoken to over their Unix sockets, which the namespaces share. */
#ifndef TIDAL_TEST_CLUSTER_HOSTS_H
#define TIDAL_TEST_CLUSTER_HOSTS_H

#include "netns.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <sys/types.h>

#define CLUSTER_TTL "3" /* seconds: the lease of every test host */

struct test_host {
    char name[16];
    char socket[320];
    char state[320];
    pid_t pid;
};

struct test_cluster {
    char dir[256]; /* state, sockets, store, logs */
    char store[300];
    char endpoints[512];
    struct test_net *net;
    int n;
    struct test_host hosts[NETNS_MAX_HOSTS];
};

/* Starts n daemons on net's hosts against the etcd endpoints. */
void cluster_up(struct test_cluster *c, struct test_net *net, int n, const char *endpoints);
void host_start(struct test_cluster *c, int i);
void host_kill9(struct test_cluster *c, int i);
void cluster_down(struct test_cluster *c); /* SIGTERM to each, then removes dir */

/* One API call to host i; the HTTP status, and the body in *out if not NULL. */
int host_api(struct test_cluster *c, int i, const char *method, const char *path, const char *body,
             cJSON **out);
/* The cluster's view of VM `name` from host i (GET /v1/cluster): its host ("" none),
 * epoch and state; false when host i cannot say. */
bool cluster_vm(struct test_cluster *c, int i, const char *name, char host[16], double *epoch,
                char state[32]);
/* Index of the host named `name`, or -1. */
int host_index(const struct test_cluster *c, const char *name);
/* The VM's console as its current owner shows it (malloc'ed), or NULL. */
char *host_console(struct test_cluster *c, int i, const char *name);

#endif
