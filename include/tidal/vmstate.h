/* A VM's state as plain data, for saving it and building a VM from it again. The
 * monitor knows nothing of files: snapshot/ stores these structs as opaque blobs. */
#ifndef TIDAL_VMSTATE_H
#define TIDAL_VMSTATE_H

#include "tidal/monitor.h"

#include <linux/kvm.h>

#define TIDAL_STATE_MAX_MSRS 16

struct tidal_vcpu_state {
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_xsave xsave;
    struct kvm_xcrs xcrs;
    uint32_t nmsrs;
    uint32_t reserved;
    struct {
        uint32_t index;
        uint32_t reserved;
        uint64_t data;
    } msrs[TIDAL_STATE_MAX_MSRS];
};

/* CPUID feature words a guest may rely on: leaf 1 ECX/EDX, leaf 7 EBX/ECX. */
struct tidal_cpu_features {
    uint32_t leaf1_ecx, leaf1_edx, leaf7_ebx, leaf7_ecx;
};

struct tidal_vm_state {
    uint32_t abi_version;
    uint32_t flags; /* TIDAL_STATE_* */
    uint64_t mem_size;
    uint64_t ready_gpa;     /* the guest's tidal_ready_info; 0 if it never called READY */
    uint64_t guest_mono_ns; /* the guest's CLOCK_MONOTONIC when saved */
    uint64_t generation;    /* tidal_ready_info.generation when saved */
    struct tidal_cpu_features features;
    uint64_t console_ring_gpa, console_ring_size; /* from the image note; drained when saved */
};

enum { TIDAL_STATE_FSGSBASE = 1 };

/* 0 when `here` has every instruction-set extension of `saved`; otherwise -1 and a
 * message naming the first one missing (e.g. "AVX2 (CPUID.7:EBX bit 5)"). */
int tidal_cpu_features_check(const struct tidal_cpu_features *saved,
                             const struct tidal_cpu_features *here, struct tidal_err *err);

/* The feature words this host's KVM offers a guest (what a VM built here gets). */
int tidal_kvm_cpu_features(struct tidal_cpu_features *out, struct tidal_err *err);

/* Captures vCPU and monitor state of a stopped guest (TIDAL_EXIT_READY or _PAUSED):
 * completes a pending I/O exit first, so the saved RIP is past the call, and drains
 * the console ring, so a restored guest repeats no output. */
int tidal_vm_save_state(struct tidal_vm *vm, struct tidal_vcpu_state *vcpu,
                        struct tidal_vm_state *state, struct tidal_err *err);

/* Dirty pages. Two readers follow them independently: snapshots (diffs on a base)
 * and migration (pre-copy rounds); each sees every page written since its own last
 * take, whichever of them read KVM's log in between. Guest writes come from KVM's
 * dirty log, the monitor's own writes (call results, the console ring's tail, placed
 * input) from its record of them: KVM does not see those.
 * Thread-safe: a reader may start, take and stop from any thread, also while another
 * thread runs the VM; a page written during a take is in that take or the next.
 * Refused for a VM reused in place (tidal/reuse.h), whose resets own the log, and for
 * one whose VM descriptor was dropped (tidal_vm_drop_vm_fd). */
enum tidal_dirty_reader {
    TIDAL_DIRTY_SNAPSHOT,  /* tidal_vm_track_dirty / tidal_vm_take_dirty below */
    TIDAL_DIRTY_MIGRATION, /* snapshot/migrate_send.c */
};
#define TIDAL_DIRTY_READERS 2

/* Starts the reader's interval: pages written from now on. A reader tracking already
 * starts a new interval (what it has not taken is forgotten). */
int tidal_vm_dirty_start(struct tidal_vm *vm, enum tidal_dirty_reader who, struct tidal_err *err);
/* Pages written since the reader's interval started or its last take, which this
 * clears: bitmap has tidal_vm_dirty_words(vm) words, bit p % 64 of word p / 64 set
 * for page p (bits past the last page are 0). Costs one KVM_GET_DIRTY_LOG. */
int tidal_vm_dirty_take(struct tidal_vm *vm, enum tidal_dirty_reader who, uint64_t *bitmap,
                        struct tidal_err *err);
/* Ends the reader's tracking (a no-op when it was not tracking); KVM's log is turned
 * off when no reader is left. */
void tidal_vm_dirty_stop(struct tidal_vm *vm, enum tidal_dirty_reader who);

/* The snapshot reader: starts tracking, or, when tracking already, a new interval. */
int tidal_vm_track_dirty(struct tidal_vm *vm, struct tidal_err *err);
/* The snapshot reader's pages changed since tracking started or since the last take. */
int tidal_vm_take_dirty(struct tidal_vm *vm, uint64_t *bitmap, struct tidal_err *err);
/* 64-bit words of a dirty bitmap for this VM's memory. */
size_t tidal_vm_dirty_words(const struct tidal_vm *vm);

/* Guest memory (for saving). */
const uint8_t *tidal_vm_memory(const struct tidal_vm *vm, uint64_t *size);

/* Builds a VM from saved state around `mem` (state->mem_size bytes, one mmap'ed
 * region that the VM then owns and unmaps). Refuses, naming the feature, a host
 * whose CPU lacks a feature the saved guest could use. The guest resumes from
 * tidal_ready() with a new generation, this clone id, fresh entropy, clocks rebased
 * to the host's now, and the I/O of cfg. A shell from `pool` (may be NULL) is used
 * when one is ready. Returns 0 or a TIDAL_CREATE_* code. */
int tidal_vm_restore(const struct tidal_vm_config *cfg, const struct tidal_vcpu_state *vcpu,
                     const struct tidal_vm_state *state, uint8_t *mem, uint64_t clone_id,
                     struct tidal_shell_pool *pool, struct tidal_vm **out, struct tidal_err *err);
/* As clone_id for tidal_vm_restore: the guest keeps the clone id it had (a guest that
 * moved, not a new clone). */
#define TIDAL_CLONE_ID_KEEP UINT64_MAX

#endif
