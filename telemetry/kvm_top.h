/* Shared by the BPF program (kvm_top.bpf.c) and the reader (reader.c): the map
 * layouts. Plain fixed-size integers only, so both compilers lay them out alike. */
#ifndef TIDAL_TELEMETRY_KVM_TOP_H
#define TIDAL_TELEMETRY_KVM_TOP_H

/* KVM_EXIT_* reasons counted one by one; larger ones land in the last slot. */
#define TOP_EXIT_REASONS 48
/* log2 buckets of the time between a vCPU's exits to the monitor, in ns: bucket i holds [2^i,
 * 2^(i+1)). */
#define TOP_LAT_BUCKETS 32
#define TOP_MAX_VMS 16384

/* One VM: the process that runs it and the kernel's struct kvm behind its fd (the
 * address only tells VMs apart; it is never dereferenced outside the kernel). */
struct top_key {
    __u32 tgid;
    __u32 pad;
    __u64 kvm;
};

struct top_vm {
    __u64 kernel_exits;                 /* kvm_exit: every exit from the guest */
    __u64 user_exits[TOP_EXIT_REASONS]; /* kvm_userspace_exit by KVM_EXIT_* */
    __u64 page_faults;                  /* kvm_page_fault */
    __u64 guest_ns;                     /* kvm_entry -> kvm_exit */
    __u64 handling_ns;                  /* kvm_exit -> next kvm_entry */
    __u64 lat_hist[TOP_LAT_BUCKETS];    /* between consecutive userspace exits */
    __u64 interval_ns;                  /* their sum */
    __u32 last_tid;                     /* the vCPU thread seen last */
    __u32 pad;
};

/* Per vCPU thread: its VM, the timestamps that open an interval (0: none open), and
 * the counters of the hot path under PVM (port I/O exits), which the thread alone
 * updates: plain adds, one map lookup per exit. They move into the VM's top_vm
 * when the thread changes VM; a reader adds them to it. */
struct top_thread {
    struct top_key key;
    __u64 user_exit_ns; /* the last exit to the monitor */
    __u64 entered_ns;   /* kvm_entry */
    __u64 exited_ns;    /* kvm_exit */
    __u64 user_exits[TOP_EXIT_REASONS];
    __u64 lat_hist[TOP_LAT_BUCKETS];
    __u64 interval_ns;
};

#endif
