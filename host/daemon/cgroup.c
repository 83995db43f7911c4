/* CPU shares per class through cgroups. VMs are threads of the daemon, so they are
 * placed per thread: cgroup v2 in a threaded subtree (<root>/tidal.daemon.<pid> with
 * "service" and "batch" children of cgroup.type threaded, cpu.weight 1000 vs 100,
 * batch limited by cpu.max to the CPUs its jobs asked for), or cgroup v1's cpu
 * controller (tasks files, cpu.shares 4096 vs 256, cfs quota). Memory limits in
 * both versions charge whole processes, so they apply to the daemon as a whole
 * (memory.max / memory.limit_in_bytes of its own cgroup, left to the service
 * manager); a VM's own memory is bounded by its --mem. When no hierarchy is
 * writable the daemon runs on with a warning in its log and in /v1/host.
 *
 * Each daemon has a group of its own, named by its PID, so that daemons side by side
 * never share or remove each other's. A daemon that stops moves its threads out and
 * removes its group; one killed with SIGKILL cannot, so every daemon removes, at
 * start, the groups of daemons that no longer exist. */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GROUP_PREFIX "tidal.daemon"

static const char *const classes[] = {"service", "batch"};

static char root[256];        /* the hierarchy's mount point */
static char base[512];        /* this daemon's group, holding "service" and "batch" */
static char origin[1024];     /* the group the daemon started in, where its threads go back */
static char threads_file[32]; /* "cgroup.threads" (v2) or "tasks" (v1) */
static bool is_v2;

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

static int make_class(const char *name, const char *weight, const char *limit)
{
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/%s", base, name);
    if (mkdir(dir, 0755) && errno != EEXIST)
        return -1;
    if (is_v2)
        return put(dir, "cgroup.type", "threaded") || put(dir, "cpu.weight", weight) ||
                       (limit && put(dir, "cpu.max", limit))
                   ? -1
                   : 0;
    return put(dir, "cpu.shares", weight) || (limit && (put(dir, "cpu.cfs_period_us", "100000") ||
                                                        put(dir, "cpu.cfs_quota_us", limit)))
               ? -1
               : 0;
}

static bool lists_cpu(const char *controllers)
{
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", controllers);
    char *save = NULL;
    for (char *c = strtok_r(copy, ",", &save); c; c = strtok_r(NULL, ",", &save))
        if (strcmp(c, "cpu") == 0)
            return true;
    return false;
}

/* The daemon's own group in the hierarchy: the "0::" line of /proc/self/cgroup for
 * v2, the line naming the cpu controller for v1. */
static void find_origin(void)
{
    snprintf(origin, sizeof(origin), "%s", root);
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        char *ctl = strchr(line, ':');
        char *path = ctl ? strchr(ctl + 1, ':') : NULL;
        if (!path)
            continue;
        *path++ = 0;
        ctl++;
        if ((is_v2 ? *ctl == 0 : lists_cpu(ctl)) && path[0] == '/') {
            snprintf(origin, sizeof(origin), "%s%s", root, strcmp(path, "/") ? path : "");
            break;
        }
    }
    fclose(f);
}

/* Removes a group and its class children; fails, changing nothing that runs, while
 * any thread is still in it (the kernel refuses rmdir of a populated group). */
static void remove_group(const char *dir)
{
    char child[1200];
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
        snprintf(child, sizeof(child), "%s/%s", dir, classes[i]);
        rmdir(child);
    }
    rmdir(dir);
}

static void sweep_dead_daemons(struct daemon *d)
{
    DIR *dir = opendir(root);
    if (!dir)
        return;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strncmp(e->d_name, GROUP_PREFIX, strlen(GROUP_PREFIX)))
            continue;
        const char *tail = e->d_name + strlen(GROUP_PREFIX);
        char *end;
        long pid = *tail == '.' ? strtol(tail + 1, &end, 10) : 0;
        /* The unsuffixed name is an older daemon's; empty, it goes too. */
        bool dead = *tail == 0 || (*tail == '.' && *end == 0 && pid > 0 && pid != getpid() &&
                                   kill((pid_t)pid, 0) && errno == ESRCH);
        if (!dead)
            continue;
        char path[1100];
        snprintf(path, sizeof(path), "%s/%s", root, e->d_name);
        remove_group(path);
        if (access(path, F_OK) != 0)
            dlog(d, "cgroups: removed %s, left by a daemon that no longer runs", path);
    }
    closedir(dir);
}

static int set_up(struct daemon *d, const char *mount, bool v2)
{
    snprintf(root, sizeof(root), "%s", mount);
    is_v2 = v2;
    snprintf(base, sizeof(base), "%s/" GROUP_PREFIX ".%d", root, (int)getpid());
    find_origin();
    sweep_dead_daemons(d);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    char limit[64], pid[32];
    if (v2)
        snprintf(limit, sizeof(limit), "%ld 100000", cpus * 100000L);
    else
        snprintf(limit, sizeof(limit), "%ld", cpus * 100000L);
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    /* v2: controllers and threaded children first, the daemon's process last: a
     * cgroup with processes may not enable controllers for its children. */
    if ((mkdir(base, 0755) && errno != EEXIST) ||
        (v2 && put(base, "cgroup.subtree_control", "+cpu")) ||
        make_class("service", v2 ? "1000" : "4096", NULL) ||
        make_class("batch", v2 ? "100" : "256", limit) || (v2 && put(base, "cgroup.procs", pid))) {
        snprintf(d->cgroup_note, sizeof(d->cgroup_note),
                 "cgroup %s at %s not writable (%s): no CPU %s per class",
                 v2 ? "v2" : "v1 cpu controller", base, strerror(errno),
                 v2 ? "weights or limits" : "shares");
        remove_group(base);
        return -1;
    }
    snprintf(threads_file, sizeof(threads_file), v2 ? "cgroup.threads" : "tasks");
    if (v2)
        snprintf(d->cgroup_note, sizeof(d->cgroup_note),
                 "cgroup v2 threaded subtree %s: service cpu.weight 1000, batch 100 (cpu.max %s)",
                 base, limit);
    else
        snprintf(d->cgroup_note, sizeof(d->cgroup_note),
                 "cgroup v1 %s: service cpu.shares 4096, batch 256 (quota %s us per 100 ms)", base,
                 limit);
    return 0;
}

void daemon_cgroup_init(struct daemon *d)
{
    snprintf(d->cgroup_note, sizeof(d->cgroup_note), "no cgroup hierarchy found");
    if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
        d->cgroups_ok = !set_up(d, "/sys/fs/cgroup", true);
    else if (access("/sys/fs/cgroup/cpu/cpu.shares", F_OK) == 0)
        d->cgroups_ok = !set_up(d, "/sys/fs/cgroup/cpu", false);
    if (d->cgroups_ok)
        snprintf(d->cgroup_dir, sizeof(d->cgroup_dir), "%s", base);
    else
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

/* Moves every thread still in a class back to the daemon's original group (v1 moves
 * threads one by one; v2 moves the whole process, which takes its threads along). */
static void move_back(void)
{
    char pid[32];
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    if (is_v2) {
        put(origin, "cgroup.procs", pid);
        return;
    }
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
        char path[1100];
        snprintf(path, sizeof(path), "%s/%s/tasks", base, classes[i]);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        char tid[32];
        while (fgets(tid, sizeof(tid), f)) {
            tid[strcspn(tid, "\n")] = 0;
            put(origin, "tasks", tid);
        }
        fclose(f);
    }
}

void daemon_cgroup_release(struct daemon *d)
{
    if (!d->cgroups_ok)
        return;
    move_back();
    remove_group(base);
    if (access(base, F_OK) == 0)
        dlog(d, "cgroups: cannot remove %s: %s; the next daemon to start removes it", base,
             strerror(errno));
}
