/* Hosts of their own on one machine, for tests of what crosses a network: a bridge in
 * this namespace holds the cluster's shared address (.1, where etcd listens), and each
 * host is a network namespace joined to it by a veth pair, with an address of its own
 * (.11, .12, ...). Cutting a host's link takes its end of the bridge down. Needs
 * CAP_NET_ADMIN; tests skip, saying so, without it. */
#ifndef TIDAL_TEST_NETNS_H
#define TIDAL_TEST_NETNS_H

#include <stdbool.h>

#define NETNS_MAX_HOSTS 4

struct test_net {
    int hosts;
    char bridge[16];
    char prefix[16]; /* "10.199.K." */
    char hub[20];    /* the bridge's address: etcd's */
    char ns[NETNS_MAX_HOSTS][32];
    char veth[NETNS_MAX_HOSTS][16]; /* this namespace's end of each host's link */
    char addr[NETNS_MAX_HOSTS][20];
    bool up;
};

/* Whether this process may make namespaces and links; why not in *why. */
bool netns_possible(char *why, int size);
/* Builds the bridge and `hosts` namespaces; fails the test if it cannot. */
void netns_setup(struct test_net *n, int hosts);
/* Takes host i's link down (cut) or up again. */
void netns_link(struct test_net *n, int i, bool up);
/* Removes the namespaces, links and bridge (idempotent). */
void netns_teardown(struct test_net *n);

#endif
