/* CPU shares per class through cgroups. VMs are threads of the daemon, so they are
 * placed per thread: cgroup v2 in a threaded subtree (<root>/tidal.daemon with
 * "service" and "batch" children of cgroup.type threaded, cpu.weight 1000 vs 100,
 * batch limited by cpu.max to the CPUs its jobs asked for), or cgroup v1's cpu
 * controller (tasks files, cpu.shares 4096 vs 256, cfs quota). Memory limits in
 * both versions charge whole processes, so they apply to the daemon as a whole
 * (memory.max / memory.limit_in_bytes of its own cgroup, left to the service
 * manager); a VM's own memory is bounded by its --mem. When no hierarchy is
 * writable the daemon runs on with a warning in its log and in /v1/host. */
#include "daemon_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[512];        /* the directory holding "service" and "batch" */
static char threads_file[32]; /* "cgroup.threads" (v2) or "tasks" (v1) */

static int put(const char *dir, const char *file, const char *value)
{
    char path[1100];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, value, strlen(value));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(value) ? 0 : -1;
}

static int make_class(const char *name, bool v2, const char *weight, const char *limit)
{
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/%s", base, name);
    if (mkdir(dir, 0755) && errno != EEXIST)
        return -1;
    if (v2)
        return put(dir, "cgroup.type", "threaded") || put(dir, "cpu.weight", weight) ||
                       (limit && put(dir, "cpu.max", limit))
                   ? -1
                   : 0;
    return put(dir, "cpu.shares", weight) || (limit && (put(dir, "cpu.cfs_period_us", "100000") ||
                                                        put(dir, "cpu.cfs_quota_us", limit)))
               ? -1
               : 0;
}

static int try_v2(struct daemon *d)
{
    const char *root = "/sys/fs/cgroup";
    char probe[256];
    snprintf(probe, sizeof(probe), "%s/cgroup.controllers", root);
    if (access(probe, F_OK))
        return -1;
    snprintf(base, sizeof(base), "%s/tidal.daemon", root);
    char pid[32];
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    char limit[64];
    snprintf(limit, sizeof(limit), "%ld 100000", sysconf(_SC_NPROCESSORS_ONLN) * 100000L);
    /* Controllers and threaded children first, the daemon's process last: a cgroup
     * with processes may not enable controllers for its children. */
    if ((mkdir(base, 0755) && errno != EEXIST) || put(base, "cgroup.subtree_control", "+cpu") ||
        make_class("service", true, "1000", NULL) || make_class("batch", true, "100", limit) ||
        put(base, "cgroup.procs", pid)) {
        snprintf(d->cgroup_note, sizeof(d->cgroup_note),
                 "cgroup v2 at %s not writable (%s): no CPU weights or limits per class", base,
                 strerror(errno));
        return -1;
    }
    snprintf(threads_file, sizeof(threads_file), "cgroup.threads");
    snprintf(d->cgroup_note, sizeof(d->cgroup_note),
             "cgroup v2 threaded subtree %s: service cpu.weight 1000, batch 100 (cpu.max %s)", base,
             limit);
    return 0;
}

static int try_v1(struct daemon *d)
{
    const char *root = "/sys/fs/cgroup/cpu";
    char probe[256];
    snprintf(probe, sizeof(probe), "%s/cpu.shares", root);
    if (access(probe, F_OK))
        return -1;
    snprintf(base, sizeof(base), "%s/tidal.daemon", root);
    char quota[32];
    snprintf(quota, sizeof(quota), "%ld", sysconf(_SC_NPROCESSORS_ONLN) * 100000L);
    if ((mkdir(base, 0755) && errno != EEXIST) || make_class("service", false, "4096", NULL) ||
        make_class("batch", false, "256", quota)) {
        snprintf(d->cgroup_note, sizeof(d->cgroup_note),
                 "cgroup v1 cpu controller at %s not writable (%s): no CPU shares per class", base,
                 strerror(errno));
        return -1;
    }
    snprintf(threads_file, sizeof(threads_file), "tasks");
    snprintf(d->cgroup_note, sizeof(d->cgroup_note),
             "cgroup v1 %s: service cpu.shares 4096, batch 256 (quota %s us per 100 ms)", base,
             quota);
    return 0;
}

void daemon_cgroup_init(struct daemon *d)
{
    snprintf(d->cgroup_note, sizeof(d->cgroup_note), "no cgroup hierarchy found");
    d->cgroups_ok = !try_v2(d) || !try_v1(d);
    if (!d->cgroups_ok)
        dlog(d, "WARNING: %s; VMs share the CPU equally", d->cgroup_note);
}

/* Called on the VM's runner thread. */
void daemon_cgroup_place(struct daemon *d, struct dvm *v)
{
    if (!d->cgroups_ok)
        return;
    char dir[600], tid[32];
    snprintf(dir, sizeof(dir), "%s/%s", base, v->cls == DVM_BATCH ? "batch" : "service");
    snprintf(tid, sizeof(tid), "%d", (int)gettid());
    if (put(dir, threads_file, tid))
        dlog(d, "%s: cannot place its thread in %s: %s", v->name, dir, strerror(errno));
}
