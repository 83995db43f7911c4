#include "helpers.h"

#include <criterion/criterion.h>

struct etcd_cluster cluster;
struct etcd *e;

struct etcd *open_etcd(const char *endpoints)
{
    struct tidal_err err;
    struct etcd *h = etcd_open(endpoints, 5.0, &err);
    cr_assert_not_null(h, "%s", err.msg);
    return h;
}

void start_one(void)
{
    etcd_cluster_start(&cluster, 1, NULL);
    e = open_etcd(cluster.endpoints);
}

void start_three(void)
{
    etcd_cluster_start(&cluster, 3, NULL);
    e = open_etcd(cluster.endpoints);
}

void stop_cluster(void)
{
    etcd_close(e);
    e = NULL;
    etcd_cluster_stop(&cluster);
}
