/* Per-VM KVM figures for `tidal top`, counted in the kernel. BTF-typed tracepoints
 * need no tracefs and read their arguments directly.
 *
 * Where each figure comes from, and why:
 * - The VM: the vcpu argument of kvm_entry/kvm_exit (VMX, SVM), else the vCPU loaded
 *   on the thread when kvm_pio fires (running_vcpu()). Under PVM kvm_entry/kvm_exit
 *   never fire (its exit path bypasses them), and kernels without kprobes or BPF
 *   trampolines leave tracepoints as the only hooks. The vCPU thread remembers its
 *   VM for kvm_userspace_exit, which comes after KVM has unloaded the vCPU. So under
 *   PVM a VM's exits other than port I/O (hlt, mmio) are charged to the VM its
 *   thread last made port I/O for: Tidal's guests call the monitor by port I/O, and
 *   a thread runs one VM until it ends.
 * - kvm_userspace_exit: exits to the monitor by KVM_EXIT_* reason, and the interval
 *   between two of them (the latency histogram: one exit round trip each).
 * - kvm_entry/kvm_exit/kvm_page_fault (VMX and SVM): every exit from the guest, time
 *   in the guest, time the kernel spends handling exits, and page faults. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "kvm_top.h"

char LICENSE[] SEC("license") = "GPL";

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, TOP_MAX_VMS);
    __type(key, struct top_key);
    __type(value, struct top_vm);
} vms SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, TOP_MAX_VMS * 4);
    __type(key, __u32);
    __type(value, struct top_thread);
} threads SEC(".maps");

/* Set by the loader: 0 counts every VM on the host, otherwise only this process
 * (tests use it to keep other users' guests out of their figures). */
const volatile __u32 only_tgid = 0;

/* The templates new entries start from: too big for the 512-byte BPF stack. */
const struct top_vm zero_vm = {};
const struct top_thread zero_thread = {};

static __always_inline struct top_vm *vm_of(struct top_key *key, __u32 tid)
{
    struct top_vm *v = bpf_map_lookup_elem(&vms, key);
    if (!v) {
        bpf_map_update_elem(&vms, key, &zero_vm, BPF_NOEXIST);
        v = bpf_map_lookup_elem(&vms, key);
    }
    if (v)
        v->last_tid = tid;
    return v;
}

static __always_inline __u32 log2_bucket(__u64 ns)
{
    __u32 b = 0;
    for (int i = 0; i < TOP_LAT_BUCKETS - 1; i++) {
        if (ns < 2)
            break;
        ns >>= 1;
        b++;
    }
    return b;
}

/* Moves the thread's counters into its VM's entry, before the thread changes VM. */
static __always_inline void flush(struct top_thread *t, __u32 tid)
{
    struct top_vm *v = vm_of(&t->key, tid);
    for (int i = 0; i < TOP_EXIT_REASONS; i++) {
        if (v && t->user_exits[i])
            __sync_fetch_and_add(&v->user_exits[i], t->user_exits[i]);
        t->user_exits[i] = 0;
    }
    for (int i = 0; i < TOP_LAT_BUCKETS; i++) {
        if (v && t->lat_hist[i])
            __sync_fetch_and_add(&v->lat_hist[i], t->lat_hist[i]);
        t->lat_hist[i] = 0;
    }
    if (v && t->interval_ns)
        __sync_fetch_and_add(&v->interval_ns, t->interval_ns);
    t->interval_ns = 0;
    t->user_exit_ns = t->entered_ns = t->exited_ns = 0;
}

/* The calling thread's state, created for vcpu's VM (when given) if it has none, or
 * moved to it: a thread may run another VM after one ends (clones, reused shells). */
static __always_inline struct top_thread *thread_of(struct kvm_vcpu *vcpu, __u32 *tid_out)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32, tid = (__u32)id;
    *tid_out = tid;
    if (only_tgid && only_tgid != tgid)
        return 0;
    struct top_thread *t = bpf_map_lookup_elem(&threads, &tid);
    if (!vcpu)
        return t;
    __u64 kvm = (__u64)BPF_CORE_READ(vcpu, kvm);
    if (t && t->key.kvm == kvm && t->key.tgid == tgid)
        return t;
    if (t) {
        flush(t, tid);
    } else {
        bpf_map_update_elem(&threads, &tid, &zero_thread, BPF_ANY);
        t = bpf_map_lookup_elem(&threads, &tid);
        if (!t)
            return 0;
    }
    t->key.tgid = tgid;
    t->key.kvm = kvm;
    return t;
}

/* The vCPU loaded on this thread, NULL outside KVM_RUN. vcpu_load registers the
 * vCPU's preempt notifier on the running task (KVM is its only user), so the task's
 * first notifier sits inside the kvm_vcpu. Data symbols such as kvm_running_vcpu are
 * not always visible to BPF (kallsyms without data), the task always is. */
static __always_inline struct kvm_vcpu *running_vcpu(void)
{
    struct task_struct *task = bpf_get_current_task_btf();
    struct hlist_node *first = BPF_CORE_READ(task, preempt_notifiers.first);
    if (!first)
        return 0;
    __u64 off = bpf_core_field_offset(struct kvm_vcpu, preempt_notifier) +
                bpf_core_field_offset(struct preempt_notifier, link);
    return (struct kvm_vcpu *)((char *)first - off);
}

SEC("tp_btf/kvm_userspace_exit")
int BPF_PROG(on_userspace_exit, __u32 reason, int err)
{
    __u32 tid;
    struct top_thread *t = thread_of(0, &tid);
    if (!t)
        return 0;
    /* An interrupted KVM_RUN (err < 0: a signal, a pause) hands the monitor no exit. */
    if (err < 0)
        return 0;
    __u32 r = reason < TOP_EXIT_REASONS ? reason : TOP_EXIT_REASONS - 1;
    t->user_exits[r]++;
    __u64 now = bpf_ktime_get_ns();
    if (t->user_exit_ns) {
        t->interval_ns += now - t->user_exit_ns;
        __u32 b = log2_bucket(now - t->user_exit_ns);
        if (b < TOP_LAT_BUCKETS)
            t->lat_hist[b]++;
    }
    t->user_exit_ns = now;
    return 0;
}

SEC("tp_btf/kvm_entry")
int BPF_PROG(on_entry, struct kvm_vcpu *vcpu)
{
    __u32 tid;
    struct top_thread *t = thread_of(vcpu, &tid);
    if (!t)
        return 0;
    __u64 now = bpf_ktime_get_ns();
    if (t->exited_ns) {
        struct top_vm *v = vm_of(&t->key, tid);
        if (v)
            __sync_fetch_and_add(&v->handling_ns, now - t->exited_ns);
    }
    t->exited_ns = 0;
    t->entered_ns = now;
    return 0;
}

SEC("tp_btf/kvm_exit")
int BPF_PROG(on_exit, struct kvm_vcpu *vcpu)
{
    __u32 tid;
    struct top_thread *t = thread_of(vcpu, &tid);
    if (!t)
        return 0;
    struct top_vm *v = vm_of(&t->key, tid);
    if (!v)
        return 0;
    __u64 now = bpf_ktime_get_ns();
    __sync_fetch_and_add(&v->kernel_exits, 1);
    if (t->entered_ns)
        __sync_fetch_and_add(&v->guest_ns, now - t->entered_ns);
    t->entered_ns = 0;
    t->exited_ns = now;
    return 0;
}

SEC("tp_btf/kvm_page_fault")
int BPF_PROG(on_page_fault, struct kvm_vcpu *vcpu)
{
    __u32 tid;
    struct top_thread *t = thread_of(vcpu, &tid);
    struct top_vm *v = t ? vm_of(&t->key, tid) : 0;
    if (v)
        __sync_fetch_and_add(&v->page_faults, 1);
    return 0;
}

/* Only names the thread's VM for the userspace exit that follows (under PVM nothing
 * else does): every I/O exit passes here, so it does no more than that. */
SEC("tp_btf/kvm_pio")
int BPF_PROG(on_pio)
{
    __u32 tid;
    thread_of(running_vcpu(), &tid);
    return 0;
}
