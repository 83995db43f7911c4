/* Per-VM KVM figures counted in the kernel by a BPF program at the kvm tracepoints
 * (telemetry/), and the processes' vCPU statistics when BPF is not allowed. */
#ifndef TIDAL_TELEMETRY_H
#define TIDAL_TELEMETRY_H

#include "tidal/err.h"

#include <stddef.h>
#include <stdint.h>

#define TIDAL_TOP_EXIT_REASONS 48
#define TIDAL_TOP_LAT_BUCKETS 32

/* One VM as the kernel saw it: kvm tells VMs of one process apart (an opaque id). */
/* flags: the row is a vCPU whose counts could not be read (no statistics fd). */
#define TIDAL_TOP_NO_COUNTS 1u

struct tidal_top_vm {
    uint32_t pid, tid;
    uint32_t flags;
    uint64_t kvm;
    uint64_t kernel_exits;
    uint64_t user_exits[TIDAL_TOP_EXIT_REASONS]; /* by KVM_EXIT_* reason */
    uint64_t page_faults;
    uint64_t guest_ns, handling_ns; /* in the guest; kernel handling exits (VMX/SVM) */
    /* log2 ns between consecutive exits to the monitor: one round trip (guest work,
     * the kernel's and the monitor's handling) each; bucket i holds [2^i, 2^(i+1)) */
    uint64_t lat_hist[TIDAL_TOP_LAT_BUCKETS];
    uint64_t interval_ns; /* the sum of those intervals */
};

struct tidal_telemetry;

/* Loads and attaches the BPF program. only_pid 0 counts every VM on the host.
 * NULL with err set (naming what is missing: privileges, BTF) when it cannot. The
 * environment variable TIDAL_TOP_DENY_BPF=1 makes it refuse as an unprivileged
 * user would be refused, so the fallback can be tested as root. */
struct tidal_telemetry *tidal_telemetry_open(uint32_t only_pid, struct tidal_err *err);
void tidal_telemetry_close(struct tidal_telemetry *t);

/* The VM (its kvm id, as in struct tidal_top_vm) that thread tid of this process
 * last ran, or 0 when the kernel has seen it run none. */
uint64_t tidal_telemetry_thread_vm(struct tidal_telemetry *t, uint32_t tid);

/* Copies up to max VMs into out; returns how many, or -1 with err set. */
int tidal_telemetry_read(struct tidal_telemetry *t, struct tidal_top_vm *out, size_t max,
                         struct tidal_err *err);

/* Without BPF: the vCPUs of every process on the host that holds KVM vCPU
 * descriptors. Counted from a copy (pidfd_getfd) of the process's vCPU statistics
 * descriptor where it opened one; KVM refuses vCPU ioctls from other processes, so
 * other vCPUs are listed with TIDAL_TOP_NO_COUNTS. One entry per vCPU; kvm is its
 * descriptor number, times and the histogram stay 0, user_exits holds only what the
 * statistics name (io, mmio, hlt). *denied counts processes whose descriptors could
 * not be read (another user's, or no ptrace access). */
int tidal_top_read_vcpu_stats(struct tidal_top_vm *out, size_t max, unsigned *denied);

/* The process's command line (spaces between arguments, cut to size) and resident
 * memory in KiB; 0 when it is gone. */
int tidal_top_proc_info(uint32_t pid, char *name, size_t size, uint64_t *rss_kib);

/* Sum of user_exits. */
uint64_t tidal_top_user_exits(const struct tidal_top_vm *v);

#endif
