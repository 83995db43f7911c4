/* The daemon as one host of a cluster whose state lives in etcd (docs/cluster.md).
 *
 * Keys, under /tidal/:
 *   hosts/NAME   the host's record (address, capacity), under the host's lease
 *   vms/NAME     a VM's or job's definition: {"class", "spec"} (the API body)
 *   assign/NAME  where it runs: {"host", "epoch"}; written by the leader (guarded by
 *                its election key's revision) or by the owner handing it over
 *   status/NAME  what its owner reports: state, snapshot chain, exit; written only
 *                while the assignment the owner holds is unchanged (guarded by that
 *                key's mod_revision), so a stale host's report is refused
 *   leader       the election
 *
 * Threads: the keeper renews the lease; the fencer pauses every VM here when no
 * renewal has worked for a while;
 * the leader thread campaigns and, once elected, places VMs every round; the agent
 * watches assignments and starts or drops VMs here; the publisher writes status
 * records; the peer listener takes migrations from other hosts. Each has its own
 * etcd handle. */
#ifndef TIDAL_DAEMON_CLUSTER_H
#define TIDAL_DAEMON_CLUSTER_H

#include "internal.h"

#include <cjson/cJSON.h>

#include <stdint.h>

#define CLUSTER_PREFIX "/tidal/"

struct cluster;

/* Joins the cluster (lease, host record) and starts the threads. 0, or -1 with why. */
int cluster_start(struct daemon *d, struct tidal_err *err);
/* Leaves: stops the threads, revokes the lease (the VMs here move at once). */
void cluster_stop(struct daemon *d);

/* API side. Each fills a reply-ready JSON object or returns -1 with a message and
 * an HTTP status in *status. */
/* Defines a VM or job in the cluster: {"class": "service"|"batch", "spec": body}. */
int cluster_define(struct daemon *d, const char *name, const char *cls, const cJSON *body,
                   unsigned *status, struct tidal_err *err);
/* Deletes a VM or job from the cluster; its owner stops it and removes its files. */
int cluster_undefine(struct daemon *d, const char *name, unsigned *status, struct tidal_err *err);
/* GET /v1/cluster: this host, the leader, the hosts, every VM with host and epoch. */
cJSON *cluster_view(struct daemon *d, unsigned *status, struct tidal_err *err);
/* Moves a VM running here to another host (live migration). */
int cluster_migrate(struct daemon *d, const char *name, const char *to, cJSON **report,
                    unsigned *status, struct tidal_err *err);

/* Runner side: the VM's snapshot chain or state changed; its status record is
 * written (asynchronously; the chain's older files are pruned once it is). */
void cluster_note_change(struct daemon *d, struct dvm *v);
/* Whether this host is fenced (its lease may have expired): nothing may start here. */
bool cluster_fenced(const struct daemon *d);

#endif
