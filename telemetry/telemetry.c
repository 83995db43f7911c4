/* Loads the kvm tracepoint counters (kvm_top.bpf.c) through their generated skeleton
 * and copies the per-VM map out for `tidal top`, the tests and /metrics. */
#include "tidal/telemetry.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvm_top.h"
#include "kvm_top.skel.h"

_Static_assert(TOP_EXIT_REASONS == TIDAL_TOP_EXIT_REASONS, "exit reason slots differ");
_Static_assert(TOP_LAT_BUCKETS == TIDAL_TOP_LAT_BUCKETS, "latency buckets differ");

struct tidal_telemetry {
    struct kvm_top *skel;
};

/* libbpf prints its own diagnostics; ours name the cause in one line instead. */
static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    (void)level, (void)fmt, (void)ap;
    return 0;
}

static int loud(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    (void)level;
    return vfprintf(stderr, fmt, ap);
}

static const char *why(int e)
{
    if (e == EPERM || e == EACCES)
        return "not allowed: loading BPF programs needs CAP_BPF and CAP_PERFMON (or root)";
    if (e == ENOENT || e == ESRCH)
        return "the kernel lacks BTF (/sys/kernel/btf/vmlinux) or the kvm tracepoints "
               "(is the kvm module loaded?)";
    return strerror(e);
}

struct tidal_telemetry *tidal_telemetry_open(uint32_t only_pid, struct tidal_err *err)
{
    const char *deny = getenv("TIDAL_TOP_DENY_BPF");
    if (deny && !strcmp(deny, "1")) {
        tidal_err_set(err, "BPF load refused (TIDAL_TOP_DENY_BPF=1 simulates it): %s", why(EPERM));
        return NULL;
    }
    if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
        tidal_err_set(err, "BPF: /sys/kernel/btf/vmlinux is missing: %s", why(ENOENT));
        return NULL;
    }
    /* TIDAL_BPF_DEBUG=1 lets libbpf print the verifier's log, for developers. */
    const char *debug = getenv("TIDAL_BPF_DEBUG");
    libbpf_set_print(debug && !strcmp(debug, "1") ? loud : quiet);
    struct tidal_telemetry *t = calloc(1, sizeof(*t));
    if (!t) {
        tidal_err_set(err, "BPF: out of memory");
        return NULL;
    }
    t->skel = kvm_top__open();
    if (!t->skel) {
        tidal_err_set(err, "BPF: cannot open the kvm_top object: %s", why(errno));
        goto fail;
    }
    t->skel->rodata->only_tgid = only_pid;
    int rc = kvm_top__load(t->skel);
    if (rc) {
        tidal_err_set(err, "BPF: cannot load the kvm_top programs: %s", why(-rc));
        goto fail;
    }
    rc = kvm_top__attach(t->skel);
    if (rc) {
        tidal_err_set(err, "BPF: cannot attach to the kvm tracepoints: %s", why(-rc));
        goto fail;
    }
    return t;
fail:
    tidal_telemetry_close(t);
    return NULL;
}

void tidal_telemetry_close(struct tidal_telemetry *t)
{
    if (!t)
        return;
    kvm_top__destroy(t->skel);
    free(t);
}

static void copy_vm(struct tidal_top_vm *o, const struct top_key *k, const struct top_vm *v)
{
    memset(o, 0, sizeof(*o));
    o->pid = k->tgid;
    o->tid = v->last_tid;
    o->kvm = k->kvm;
    o->kernel_exits = v->kernel_exits;
    memcpy(o->user_exits, v->user_exits, sizeof(o->user_exits));
    o->page_faults = v->page_faults;
    o->guest_ns = v->guest_ns;
    o->handling_ns = v->handling_ns;
    memcpy(o->lat_hist, v->lat_hist, sizeof(o->lat_hist));
    o->interval_ns = v->interval_ns;
}

/* Adds a thread's own counters to its VM's row in out[0..*n), appending the row when
 * the VM has none yet. */
static void merge_thread(struct tidal_top_vm *out, size_t *n, size_t max, __u32 tid,
                         const struct top_thread *t)
{
    size_t i = 0;
    while (i < *n && !(out[i].pid == t->key.tgid && out[i].kvm == t->key.kvm))
        i++;
    if (i == *n) {
        if (*n == max)
            return;
        memset(&out[i], 0, sizeof(out[i]));
        out[i].pid = t->key.tgid;
        out[i].tid = tid;
        out[i].kvm = t->key.kvm;
        (*n)++;
    }
    for (int r = 0; r < TOP_EXIT_REASONS; r++)
        out[i].user_exits[r] += t->user_exits[r];
    for (int b = 0; b < TOP_LAT_BUCKETS; b++)
        out[i].lat_hist[b] += t->lat_hist[b];
    out[i].interval_ns += t->interval_ns;
}

int tidal_telemetry_read(struct tidal_telemetry *t, struct tidal_top_vm *out, size_t max,
                         struct tidal_err *err)
{
    int fd = bpf_map__fd(t->skel->maps.vms);
    struct top_key key, next;
    struct top_vm v;
    size_t n = 0;
    void *prev = NULL;
    int rc;
    while (n < max && (rc = bpf_map_get_next_key(fd, prev, &next)) == 0) {
        key = next;
        prev = &key;
        /* An entry deleted between the two calls is simply skipped. */
        if (bpf_map_lookup_elem(fd, &key, &v) == 0)
            copy_vm(&out[n++], &key, &v);
    }
    if (n < max && rc != 0 && errno != ENOENT)
        return tidal_err_set(err, "BPF: reading the vms map: %s", strerror(errno));
    fd = bpf_map__fd(t->skel->maps.threads);
    __u32 tid, next_tid;
    struct top_thread th;
    prev = NULL;
    while ((rc = bpf_map_get_next_key(fd, prev, &next_tid)) == 0) {
        tid = next_tid;
        prev = &tid;
        if (bpf_map_lookup_elem(fd, &tid, &th) == 0 && th.key.kvm)
            merge_thread(out, &n, max, tid, &th);
    }
    if (errno != ENOENT)
        return tidal_err_set(err, "BPF: reading the threads map: %s", strerror(errno));
    return (int)n;
}

uint64_t tidal_telemetry_thread_vm(struct tidal_telemetry *t, uint32_t tid)
{
    struct top_thread th;
    if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.threads), &tid, &th))
        return 0;
    return th.key.kvm;
}

uint64_t tidal_top_user_exits(const struct tidal_top_vm *v)
{
    uint64_t s = 0;
    for (int i = 0; i < TIDAL_TOP_EXIT_REASONS; i++)
        s += v->user_exits[i];
    return s;
}
