/* What the cluster suite's tests share. */
#ifndef TIDAL_TEST_CLUSTER_HELPERS_H
#define TIDAL_TEST_CLUSTER_HELPERS_H

#include "../../host/cluster/etcd.h"
#include "../common/etcd_fixture.h"

/* The test's cluster, and a handle on all its members. */
extern struct etcd_cluster cluster;
extern struct etcd *e;

/* .init and .fini of a suite on a one-member or a three-member cluster. */
void start_one(void);
void start_three(void);
void stop_cluster(void);

/* etcd_open with a 5 s timeout; fails the test when it fails. */
struct etcd *open_etcd(const char *endpoints);

#endif
