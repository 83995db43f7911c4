/* struct tidal_vm, shared by the monitor's own files only. */
#ifndef TIDAL_VM_INTERNAL_H
#define TIDAL_VM_INTERNAL_H

#include "tidal/elf.h"
#include "tidal/layout.h"
#include "tidal/monitor.h"
#include "tidal/vmstate.h"

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>

/* kvm.c: per-process KVM facts, probed once (thread-safe). */
struct tidal_kvm {
    int fd;
    int run_size;
    bool set_tss_addr;
    struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID */
};
const struct tidal_kvm *tidal_kvm_get(struct tidal_err *err);

struct tidal_vm {
    const struct tidal_kvm *kvm;
    int vm_fd, vcpu_fd, stats_fd;
    struct kvm_run *run;
    size_t run_size;
    struct tidal_guest_mem mem;
    struct tidal_elf_image img;
    struct tidal_layout layout;
    struct tidal_pt pt;
    char *image_path;             /* for crash reports; NULL for restored VMs */
    struct tidal_symtab *symbols; /* loaded from image_path at the first crash */
    struct tidal_call_io io;
    struct tidal_console_ring_place console_ring;
    pthread_mutex_t console_lock; /* one drain of the ring at a time (vCPU thread, daemon) */
    double timeout_sec;
    bool huge_pages; /* fresh memory: host huge pages where the guest uses it in bulk */
    bool pvm;
    bool fsgsbase;
    bool cr4_osxsave;
    struct tidal_cpu_features features; /* what this host's KVM offers the guest */
    uint64_t tsc_khz;
    struct tidal_vm_timing timing;
    bool is_shell;         /* VM and vCPU exist, memory not yet */
    bool started;          /* has run at least once */
    uint64_t deadline_ns;  /* CLOCK_MONOTONIC end of the guest's time; 0: none */
    uint64_t mono_base_ns; /* guest CLOCK_MONOTONIC at its clock pair (restores) */
    uint64_t ready_gpa;    /* the guest's tidal_ready_info, once it has called READY */
    bool place_file_input; /* restored at READY: stdin goes in its window at the first run */
    volatile int stop_io;  /* set from signal handlers: leave KVM_RUN and any sleep */
    volatile sig_atomic_t pause_requested;
    struct tidal_reuse *reuse; /* reuse.c: set while the VM is reused in place */
    struct {
        char name[48];
        uint64_t offset;
    } stat_cache[4]; /* stats.c: stats looked up, and where they lie */
    unsigned stat_cache_next;
    /* vcpu.c: the guest's TSC is the host's plus this, learnt from one KVM_GET_MSRS */
    int64_t tsc_offset;
    bool tsc_offset_known;
    /* run.c: KVM_RUN calls that returned an exit, and whether one was interrupted */
    uint64_t kvm_run_exits;
    bool kvm_run_interrupted;
    /* dirty.c: the readers of the dirty log (tidal/vmstate.h). KVM keeps one log for
     * all, and reading it clears it: what one reader takes is added to the others'
     * pending pages. The lock serialises readers, which may be on any thread. */
    struct {
        pthread_mutex_t lock;
        uint64_t *pending[TIDAL_DIRTY_READERS]; /* NULL: that reader is not tracking */
        uint64_t *log;                          /* KVM_GET_DIRTY_LOG reads into here */
        bool logging;                           /* the memslot has KVM_MEM_LOG_DIRTY_PAGES */
    } dirty;
};

/* reuse.c */
void tidal_reuse_free(struct tidal_reuse *r);

/* vm.c: shared by boot and restore. alloc takes a shell from the pool when it has
 * one, and sizes and I/O from cfg; bringup makes the VM and vCPU unless it is a
 * shell already, then gives it memory (fresh when mem is NULL; else mem, which the
 * VM then owns). Returns 0 or TIDAL_CREATE_*. */
struct tidal_vm *tidal_vm_alloc(const struct tidal_vm_config *cfg, struct tidal_shell_pool *pool);
int tidal_vm_bringup(struct tidal_vm *vm, uint8_t *mem, struct tidal_err *err);
/* (Re)registers guest memory as memslot 0 with KVM_MEM_* flags. */
int tidal_vm_set_memslot(struct tidal_vm *vm, uint32_t flags, struct tidal_err *err);
struct tidal_vm *tidal_shell_pool_take(struct tidal_shell_pool *p);

/* memory.c: maps fresh guest memory of vm->mem.size bytes for vm->layout into
 * vm->mem.base, with host huge pages on its bulk ranges when vm->huge_pages. */
int tidal_guest_memory_map(struct tidal_vm *vm, struct tidal_err *err);

/* vcpu.c: CPU model first (CPUID, XCR0, FPU, PVM detection and its VIF page, TSC
 * rate), then, once the image is loaded, the boot state (segments, control
 * registers, entry registers, syscall MSRs). */
int tidal_vcpu_setup(struct tidal_vm *vm, struct tidal_err *err);
int tidal_vcpu_set_boot_state(struct tidal_vm *vm, struct tidal_err *err);
/* Fills the special registers of a Tidal guest in 64-bit mode (flat segments, GDT, IDT
 * and TSS at their usual addresses, paging from cr3), without FSGSBASE. */
void tidal_vcpu_long_mode_sregs(const struct tidal_vm *vm, struct kvm_sregs *s, uint64_t cr3);
/* Steps that need guest memory in place: PVM's VIF page. */
int tidal_vcpu_attach_memory(struct tidal_vm *vm, struct tidal_err *err);
int tidal_vcpu_read_tsc(struct tidal_vm *vm, uint64_t *tsc);
/* The guest's TSC now, from the host's through the learnt offset where it can. */
int tidal_vcpu_guest_tsc(struct tidal_vm *vm, uint64_t *tsc);
/* The next tidal_vcpu_guest_tsc reads the MSR again: the guest may have written it. */
void tidal_vcpu_recheck_tsc(struct tidal_vm *vm);
/* state.c: a KVM_RUN with immediate_exit, which does not enter the guest but does
 * what a run does first: finishes a pending `out` (KVM advances RIP only then),
 * applies sync_regs writes, and reports the synced registers afresh. */
int tidal_vm_run_no_entry(struct tidal_vm *vm, struct tidal_err *err);
/* A guest restored at tidal_ready() whose stdin is a regular file finds the file's
 * next bytes in its input window (as many as fit), so its reads of them cost no READ
 * exit; the file offset moves past them, and reads beyond continue through READ.
 * Any other stdin, or a guest without a window, is left as it is. */
void tidal_vm_place_file_input(struct tidal_vm *vm);
/* state.c: writes the host's fields of the guest's tidal_ready_info (generation,
 * clone id, fresh entropy, input placement), keeping the guest's own. */
int tidal_vm_write_ready_info(struct tidal_vm *vm, uint64_t generation, uint64_t clone_id,
                              uint64_t input_len, uint64_t input_flags, struct tidal_err *err);
int tidal_vcpu_save(struct tidal_vm *vm, struct tidal_vcpu_state *st, struct tidal_err *err);
/* Returns 0, TIDAL_CREATE_BAD_INPUT when KVM refuses the saved state (a snapshot's
 * fault: exit 65) or TIDAL_CREATE_SYSTEM when the host failed. */
int tidal_vcpu_load(struct tidal_vm *vm, const struct tidal_vcpu_state *st, struct tidal_err *err);

/* warmup.c: runs a shell's vCPU once, so that its first real run is a warm one,
 * and leaves it as a never-run vCPU would be. */
int tidal_vcpu_warm_up(struct tidal_vm *vm, struct tidal_err *err);
/* console.c: drains the console ring (tidal_vm_drain_console) and, when the guest
 * left it malformed, makes the run end as a crash naming what is wrong. */
bool tidal_vm_drain_or_crash(struct tidal_vm *vm, struct tidal_run_result *res);

/* crash.c: one readable paragraph about a guest that stopped abnormally. */
void tidal_crash_from_fault(struct tidal_vm *vm, const struct tidal_fault *f, char *out,
                            size_t size);
void tidal_crash_from_vcpu(struct tidal_vm *vm, const char *what, char *out, size_t size);

#endif
