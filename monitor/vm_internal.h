/* struct tidal_vm, shared by the monitor's own files only. */
#ifndef TIDAL_VM_INTERNAL_H
#define TIDAL_VM_INTERNAL_H

#include "tidal/elf.h"
#include "tidal/layout.h"
#include "tidal/monitor.h"

#include <linux/kvm.h>

struct tidal_vm {
    int kvm_fd, vm_fd, vcpu_fd, stats_fd;
    struct kvm_run *run;
    size_t run_size;
    struct tidal_guest_mem mem;
    struct tidal_elf_image img;
    struct tidal_layout layout;
    struct tidal_pt pt;
    struct tidal_symtab *symbols;
    struct tidal_call_io io;
    double timeout_sec;
    bool pvm;
    bool fsgsbase;
    bool cr4_osxsave;
    uint64_t tsc_khz;
    struct tidal_vm_timing timing;
};

uint64_t tidal_now_ns(void);

/* vcpu.c: CPU model first (CPUID, XCR0, FPU, PVM detection and its VIF page, TSC
 * rate), then, once the image is loaded, the boot state (segments, control
 * registers, entry registers, syscall MSRs). */
int tidal_vcpu_setup(struct tidal_vm *vm, struct tidal_err *err);
int tidal_vcpu_set_boot_state(struct tidal_vm *vm, struct tidal_err *err);
int tidal_vcpu_read_tsc(struct tidal_vm *vm, uint64_t *tsc);

/* crash.c: one readable paragraph about a guest that stopped abnormally. */
void tidal_crash_from_fault(const struct tidal_vm *vm, const struct tidal_fault *f, char *out,
                            size_t size);
void tidal_crash_from_vcpu(const struct tidal_vm *vm, const char *what, char *out, size_t size);

#endif
