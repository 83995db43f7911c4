/* The cluster leader's placement: which live host each VM that needs one goes to.
 * Pure (no etcd, no KVM), so tests give it hosts and VMs and check the answer. */
#ifndef TIDAL_DAEMON_CLUSTER_PLACE_H
#define TIDAL_DAEMON_CLUSTER_PLACE_H

#include <stdbool.h>
#include <stdint.h>

#define CLUSTER_NAME_MAX 64

struct place_host {
    char name[CLUSTER_NAME_MAX];
    double cpus;
    uint64_t mem;
    double used_cpus; /* filled by cluster_place: what its VMs take */
    uint64_t used_mem;
};

struct place_vm {
    char name[CLUSTER_NAME_MAX];
    double cpus;
    uint64_t mem;
    bool active;                 /* wants to run (not exited, failed, stopped or cancelled) */
    char host[CLUSTER_NAME_MAX]; /* its assignment, "" for none */
    uint64_t epoch;              /* of that assignment; 0 for none */
    /* out */
    bool moved;    /* given a new host (and epoch + 1) by this round */
    bool unplaced; /* needs a host and none has room */
};

/* Keeps every active VM whose host is live where it is, and places the others on the
 * live host with the most free memory that holds them (largest VMs first, so a big one
 * is not left without room by small ones); CPUs count as a tie-breaker only, since
 * they are shared by time, memory is not. A VM that is not active keeps its record.
 * Returns how many VMs moved. */
int cluster_place(struct place_host *hosts, int nhosts, struct place_vm *vms, int nvms);

#endif
