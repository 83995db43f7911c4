/* A warm-up run for pool shells. A vCPU's first KVM_RUN costs several times a later
 * one (~140 us against ~30 on the reference host: KVM sets up and loads per-vCPU
 * state on first entry). A shell in a pool therefore runs a stub once while the pool
 * fills, off the request path: one `out` to the call port, in a small memory slot of
 * its own, laid out like a guest (page tables in the table pool, PVM's VIF page at its
 * usual address) so that it runs natively like one.
 *
 * Afterwards the shell is what a never-run one would be: the `out` is completed (KVM
 * finishes it on the next KVM_RUN, and would otherwise skip an instruction of the real
 * guest if its RIP happened to match), registers and special registers are put back
 * to their values from before the run, and the slot is gone. Nothing else changed: the
 * stub writes no MSR (EFER comes from the special registers), runs with interrupts off
 * and raises no exception, so no event is pending; the VIF MSR is written again
 * when the shell gets its memory. */
#include "vm_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#define PAGE 4096ull
#define STUB_SLOT 1
#define STUB_CODE_GPA 0x1000ull
#define STUB_MEM_SIZE (TIDAL_PT_POOL_GPA + 4 * PAGE) /* PML4, PDPT, PD, PT */

/* mov $TIDAL_PORT_CALL, %dx; out %eax, %dx; hlt (never reached) */
static const uint8_t stub_code[] = {0x66, 0xba, TIDAL_PORT_CALL & 0xff, TIDAL_PORT_CALL >> 8,
                                    0xef, 0xf4};

static int set_slot(struct tidal_vm *vm, void *mem, uint64_t size, struct tidal_err *err)
{
    struct kvm_userspace_memory_region region = {
        .slot = STUB_SLOT, .memory_size = size, .userspace_addr = (uintptr_t)mem};
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return tidal_err_set(err, "vCPU warm-up: %s its memory slot: %s",
                             size ? "adding" : "removing", strerror(errno));
    return 0;
}

static int build_stub(struct tidal_vm *vm, uint8_t *mem, struct kvm_sregs *sregs,
                      struct tidal_err *err)
{
    struct tidal_pt pt;
    memcpy(mem + STUB_CODE_GPA, stub_code, sizeof(stub_code));
    if (tidal_pt_init(&pt, mem, STUB_MEM_SIZE, TIDAL_PT_POOL_GPA, STUB_MEM_SIZE, err) ||
        tidal_pt_map(&pt, STUB_CODE_GPA, PAGE, TIDAL_SEG_R | TIDAL_SEG_X, err) ||
        tidal_pt_map(&pt, TIDAL_VIF_GPA, PAGE, TIDAL_SEG_R | TIDAL_SEG_W, err))
        return -1;
    tidal_vcpu_long_mode_sregs(vm, sregs, pt.root);
    return 0;
}

/* The stub's one exit, then the KVM_RUN with immediate_exit that completes it. */
static int run_stub(struct tidal_vm *vm, struct tidal_err *err)
{
    int r = ioctl(vm->vcpu_fd, KVM_RUN, 0);
    if (r < 0)
        return tidal_err_set(err, "vCPU warm-up: KVM_RUN: %s", strerror(errno));
    const struct kvm_run *run = vm->run;
    if (run->exit_reason != KVM_EXIT_IO || run->io.port != TIDAL_PORT_CALL ||
        run->io.direction != KVM_EXIT_IO_OUT)
        return tidal_err_set(err, "vCPU warm-up: expected an out to port 0x%x, got exit %u (%s)",
                             TIDAL_PORT_CALL, run->exit_reason,
                             tidal_kvm_exit_name(run->exit_reason)
                                 ? tidal_kvm_exit_name(run->exit_reason)
                                 : "unnamed");
    return tidal_vm_run_no_entry(vm, err);
}

/* With the stub's memory in place: run it, then put the initial state back. */
static int run_and_reset(struct tidal_vm *vm, const struct kvm_sregs *stub_sregs,
                         const struct kvm_regs *regs, const struct kvm_sregs *sregs,
                         struct tidal_err *err)
{
    struct kvm_regs stub_regs = {.rip = STUB_CODE_GPA, .rflags = 0x2};
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, stub_sregs) < 0 ||
        ioctl(vm->vcpu_fd, KVM_SET_REGS, &stub_regs) < 0)
        return tidal_err_set(err, "vCPU warm-up: setting the stub's registers: %s",
                             strerror(errno));
    if (tidal_vcpu_attach_memory(vm, err) || run_stub(vm, err))
        return -1;
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, sregs) < 0 || ioctl(vm->vcpu_fd, KVM_SET_REGS, regs) < 0)
        return tidal_err_set(err, "vCPU warm-up: restoring the initial state: %s", strerror(errno));
    return 0;
}

int tidal_vcpu_warm_up(struct tidal_vm *vm, struct tidal_err *err)
{
    struct kvm_regs regs;
    struct kvm_sregs sregs, stub_sregs;
    if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) < 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
        return tidal_err_set(err, "vCPU warm-up: reading the initial state: %s", strerror(errno));
    stub_sregs = sregs;
    uint8_t *mem = mmap(NULL, STUB_MEM_SIZE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED)
        return tidal_err_set(err, "vCPU warm-up: mmap: %s", strerror(errno));
    if (build_stub(vm, mem, &stub_sregs, err) || set_slot(vm, mem, STUB_MEM_SIZE, err)) {
        munmap(mem, STUB_MEM_SIZE);
        return -1;
    }
    int r = run_and_reset(vm, &stub_sregs, &regs, &sregs, err);
    /* The slot goes whatever happened; the first failure is the one reported. */
    if (set_slot(vm, mem, 0, r ? NULL : err))
        r = -1;
    munmap(mem, STUB_MEM_SIZE);
    return r;
}
