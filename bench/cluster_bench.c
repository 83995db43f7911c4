/* cluster-bench: the cluster leader's planning round against a real etcd, with no
 * VM booted: HOSTS host records (each under a lease of its own) and VMS VM records
 * are written, then this program campaigns, wins, and runs the daemon's own round
 * (cluster_round):
 *   place     the first round, which assigns every VM;
 *   steady    ROUNDS rounds with nothing to change (median);
 *   failover  the round after one host's lease is revoked, which moves its VMs;
 * each with its wall time and the etcd requests it made. Beside them, in the same
 * run, the floor every round pays: reading the four key ranges alone (median).
 *
 * usage: cluster-bench -e ENDPOINTS [-n VMS] [-H HOSTS] [-r ROUNDS] */
#include "../host/daemon/cluster_internal.h"
#include "bench_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "cluster-bench: %s: %s\n", what, msg);
    exit(1);
}

static int count_kv(const struct etcd_kv *kv, void *arg, struct tidal_err *err)
{
    (void)kv;
    (void)err;
    ++*(int *)arg;
    return 0;
}

static double read_floor(struct etcd *e)
{
    static const char *const ranges[] = {"hosts/", "vms/", "assign/", "status/"};
    struct tidal_err err;
    int n = 0;
    double t0 = mono_now();
    for (int i = 0; i < 4; i++) {
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "%s%s", CLUSTER_PREFIX, ranges[i]);
        if (etcd_get_prefix(e, prefix, count_kv, &n, NULL, &err))
            die("range", err.msg);
    }
    return (mono_now() - t0) * 1e3;
}

static void timed_round(struct cluster *c, struct etcd *e, double *ms, uint64_t *ops)
{
    struct tidal_err err;
    if (cluster_round(c, e, &err))
        die("round", err.msg);
    *ms = c->round_ms;
    *ops = c->round_ops;
}

int main(int argc, char **argv)
{
    const char *endpoints = NULL;
    int vms = 1000, hosts = 3, rounds = 20, opt;
    while ((opt = getopt(argc, argv, "e:n:H:r:")) != -1) {
        if (opt == 'e')
            endpoints = optarg;
        else if (opt == 'n')
            vms = atoi(optarg);
        else if (opt == 'H')
            hosts = atoi(optarg);
        else if (opt == 'r')
            rounds = atoi(optarg);
        else
            return 2;
    }
    if (!endpoints || vms < 1 || hosts < 2 || hosts > 64 || rounds < 1) {
        fprintf(stderr, "usage: cluster-bench -e ENDPOINTS [-n VMS] [-H HOSTS] [-r ROUNDS]\n");
        return 2;
    }
    struct tidal_err err;
    struct etcd *e = etcd_open(endpoints, 5.0, &err);
    if (!e)
        die(endpoints, err.msg);
    if (etcd_delete(e, CLUSTER_PREFIX, true, NULL, &err))
        die("clearing " CLUSTER_PREFIX, err.msg);

    int64_t lease[64];
    for (int i = 0; i < hosts; i++) {
        char key[64], val[160];
        snprintf(key, sizeof(key), "%shosts/h%d", CLUSTER_PREFIX, i);
        snprintf(val, sizeof(val), "{\"name\":\"h%d\",\"addr\":\"10.0.0.%d\",\"port\":7946,"
                 "\"cpus\":64,\"mem\":%.0f}", i, i + 1, 1024.0 * 1024 * 1024 * 1024);
        if (etcd_lease_grant(e, 60, &lease[i], &err) ||
            etcd_put(e, key, val, strlen(val), lease[i], NULL, &err))
            die(key, err.msg);
    }
    for (int i = 0; i < vms; i++) {
        char key[64], val[160];
        snprintf(key, sizeof(key), "%svms/vm%05d", CLUSTER_PREFIX, i);
        snprintf(val, sizeof(val),
                 "{\"class\":\"service\",\"spec\":{\"name\":\"vm%05d\",\"image\":\"/x.elf\","
                 "\"mem\":\"%dM\"}}", i, 16 << (i % 3));
        if (etcd_put(e, key, val, strlen(val), 0, NULL, &err))
            die(key, err.msg);
    }

    static struct daemon d;
    static struct cluster c;
    pthread_mutex_init(&d.lock, NULL);
    pthread_mutex_init(&d.log_lock, NULL);
    tidal_clock_init(&d.clock, false, 0, 0);
    d.log = fopen("/dev/null", "w");
    c.d = &d;
    snprintf(c.host, sizeof(c.host), "bench");
    int64_t own;
    struct etcd_leader lk;
    if (etcd_lease_grant(e, 60, &own, &err) ||
        etcd_campaign(e, CLUSTER_PREFIX "leader", own, "bench", 5, NULL, &lk, &err))
        die("campaign", err.msg);
    c.leader_rev = lk.rev;
    snprintf(c.leader_key, sizeof(c.leader_key), "%s", lk.key);

    double place_ms, fail_ms;
    uint64_t place_ops, fail_ops;
    timed_round(&c, e, &place_ms, &place_ops);
    uint64_t placed = c.round_moves;
    double *steady = malloc((size_t)rounds * sizeof(double));
    double *floor_ms = malloc((size_t)rounds * sizeof(double));
    uint64_t steady_ops = 0;
    for (int i = 0; i < rounds; i++) {
        timed_round(&c, e, &steady[i], &steady_ops);
        floor_ms[i] = read_floor(e);
    }
    if (etcd_lease_revoke(e, lease[0], &err))
        die("revoking h0's lease", err.msg);
    timed_round(&c, e, &fail_ms, &fail_ops);
    uint64_t moved = c.round_moves;

    double steady_med = median(steady, rounds), floor_med = median(floor_ms, rounds);
    printf("leader round, %d VMs on %d hosts (etcd %s)    ms   etcd requests\n", vms, hosts,
           etcd_endpoint(e));
    printf("  place (assigns %llu VMs)                %8.1f  %6llu\n",
           (unsigned long long)placed, place_ms, (unsigned long long)place_ops);
    printf("  steady, nothing to change (median of %d) %8.1f  %6llu\n", rounds, steady_med,
           (unsigned long long)steady_ops);
    printf("  failover (h0's lease revoked, moves %llu) %8.1f  %6llu\n", (unsigned long long)moved,
           fail_ms, (unsigned long long)fail_ops);
    printf("  floor: the four ranges alone (median)    %8.1f  %6d\n", floor_med, 4);
    printf("BENCH cluster_round_place_%d_ms %.1f ms\n", vms, place_ms);
    printf("BENCH cluster_round_place_%d_etcd_ops %llu requests\n", vms,
           (unsigned long long)place_ops);
    printf("BENCH cluster_round_steady_%d_ms %.1f ms\n", vms, steady_med);
    printf("BENCH cluster_round_steady_%d_etcd_ops %llu requests\n", vms,
           (unsigned long long)steady_ops);
    printf("BENCH cluster_round_failover_%d_ms %.1f ms\n", vms, fail_ms);
    printf("BENCH cluster_round_failover_%d_etcd_ops %llu requests\n", vms,
           (unsigned long long)fail_ops);
    printf("BENCH cluster_round_steady_vs_read_floor %.2f x\n", steady_med / floor_med);
    etcd_delete(e, CLUSTER_PREFIX, true, NULL, &err);
    etcd_lease_revoke(e, own, NULL);
    etcd_close(e);
    free(steady);
    free(floor_ms);
    return 0;
}
