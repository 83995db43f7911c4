/* The fallback source of `tidal top` when BPF is not allowed: the vCPU binary
 * statistics of the processes that run VMs, through copies of their descriptors. */
#include "tidal/telemetry.h"

#include <dirent.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* Copies the counters the statistics name into v (others keep 0). */
static void read_stats(int stats_fd, struct tidal_top_vm *v)
{
    struct kvm_stats_header h;
    if (pread(stats_fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.num_desc > 4096 ||
        h.name_size > 1024 || h.name_size == 0)
        return;
    size_t dsize = sizeof(struct kvm_stats_desc) + h.name_size;
    char *descs = malloc(dsize * h.num_desc);
    if (!descs)
        return;
    if (pread(stats_fd, descs, dsize * h.num_desc, h.desc_offset) != (ssize_t)(dsize * h.num_desc))
        goto out;
    for (uint32_t i = 0; i < h.num_desc; i++) {
        struct kvm_stats_desc *d = (struct kvm_stats_desc *)(descs + i * dsize);
        d->name[h.name_size - 1] = 0;
        uint64_t val;
        if (d->size != 1 ||
            pread(stats_fd, &val, sizeof(val), h.data_offset + d->offset) != (ssize_t)sizeof(val))
            continue;
        if (!strcmp(d->name, "exits"))
            v->kernel_exits = val;
        else if (!strcmp(d->name, "io_exits"))
            v->user_exits[KVM_EXIT_IO] = val;
        else if (!strcmp(d->name, "mmio_exits"))
            v->user_exits[KVM_EXIT_MMIO] = val;
        else if (!strcmp(d->name, "halt_exits"))
            v->user_exits[KVM_EXIT_HLT] = val;
        else if (!strcmp(d->name, "pf_taken"))
            v->page_faults = val;
    }
out:
    free(descs);
}

/* Adds a row for fd of pid: counted from a copy when it is a statistics descriptor,
 * empty (TIDAL_TOP_NO_COUNTS) for a bare vCPU. Returns -1 when the copy is refused. */
static int add_row(int pidfd, uint32_t pid, int fd, int is_stats, struct tidal_top_vm *v)
{
    memset(v, 0, sizeof(*v));
    v->pid = v->tid = pid;
    v->kvm = (uint64_t)fd;
    if (!is_stats) {
        v->flags = TIDAL_TOP_NO_COUNTS;
        return 0;
    }
    int copy = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
    if (copy < 0)
        return -1;
    read_stats(copy, v);
    close(copy);
    return 0;
}

/* The vCPUs of one process; returns how many rows were added, -1 when its
 * descriptors could not be read. KVM answers vCPU ioctls only in the process that
 * made the VM, so a vCPU's statistics are readable from outside only through a
 * statistics descriptor the process opened itself (`tidal run --stats` does). */
static int scan_process(uint32_t pid, struct tidal_top_vm *out, size_t max)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%u/fd", pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int vcpus[64], nvcpus = 0, stats[64], nstats = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char link[300], target[64];
        snprintf(link, sizeof(link), "/proc/%u/fd/%s", pid, e->d_name);
        ssize_t len = readlink(link, target, sizeof(target) - 1);
        if (len <= 0)
            continue;
        target[len] = 0;
        if (!strcmp(target, "anon_inode:kvm-vcpu-stats") && nstats < 64)
            stats[nstats++] = atoi(e->d_name);
        else if (!strncmp(target, "anon_inode:kvm-vcpu:", 20) && nvcpus < 64)
            vcpus[nvcpus++] = atoi(e->d_name);
    }
    closedir(d);
    if (nvcpus == 0 && nstats == 0)
        return 0;
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0)
        return -1;
    int n = 0, refused = 0;
    int *fds = nstats ? stats : vcpus, count = nstats ? nstats : nvcpus;
    for (int i = 0; i < count && (size_t)n < max; i++) {
        if (add_row(pidfd, pid, fds[i], nstats > 0, &out[n]) == 0)
            n++;
        else
            refused = 1;
    }
    close(pidfd);
    return refused && n == 0 ? -1 : n;
}

int tidal_top_read_vcpu_stats(struct tidal_top_vm *out, size_t max, unsigned *denied)
{
    *denied = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    uint32_t self = (uint32_t)getpid();
    while (n < max && (e = readdir(d))) {
        char *end;
        unsigned long pid = strtoul(e->d_name, &end, 10);
        if (*end || pid == 0 || pid == self)
            continue;
        int got = scan_process((uint32_t)pid, out + n, max - n);
        if (got < 0)
            (*denied)++;
        else
            n += (size_t)got;
    }
    closedir(d);
    return (int)n;
}

int tidal_top_proc_info(uint32_t pid, char *name, size_t size, uint64_t *rss_kib)
{
    char path[64];
    *rss_kib = 0;
    name[0] = 0;
    snprintf(path, sizeof(path), "/proc/%u/cmdline", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t len = fread(name, 1, size - 1, f);
    fclose(f);
    for (size_t i = 0; i < len; i++)
        if (name[i] == 0)
            name[i] = ' ';
    while (len > 0 && name[len - 1] == ' ')
        len--;
    name[len] = 0;
    snprintf(path, sizeof(path), "/proc/%u/status", pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long kib;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %lu kB", &kib) == 1) {
            *rss_kib = kib;
            break;
        }
    fclose(f);
    return 1;
}
