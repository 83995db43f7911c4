/* Crash reports: what happened, where (RIP and the function around it), and for
 * page faults which address (CR2) and why. One paragraph, for people. */
#include "vm_internal.h"
#include "tidal/file.h"

#include <stdio.h>
#include <sys/ioctl.h>

static const char *exception_name(uint64_t v)
{
    static const char *const names[] = {"divide error (#DE)",
                                        "debug (#DB)",
                                        "NMI",
                                        "breakpoint (#BP)",
                                        "overflow (#OF)",
                                        "bound range (#BR)",
                                        "invalid opcode (#UD)",
                                        "device not available (#NM)",
                                        "double fault (#DF)",
                                        "coprocessor segment overrun",
                                        "invalid TSS (#TS)",
                                        "segment not present (#NP)",
                                        "stack fault (#SS)",
                                        "general protection (#GP)",
                                        "page fault (#PF)",
                                        "reserved",
                                        "x87 floating point (#MF)",
                                        "alignment check (#AC)",
                                        "machine check (#MC)",
                                        "SIMD floating point (#XM)",
                                        "virtualization (#VE)",
                                        "control protection (#CP)"};
    return v < sizeof(names) / sizeof(names[0]) ? names[v] : "reserved exception";
}

static void load_symbols(struct tidal_vm *vm)
{
    const uint8_t *file;
    size_t size;
    struct tidal_err err;
    if (vm->symbols || !vm->image_path ||
        tidal_file_map(vm->image_path, TIDAL_IMAGE_MAX_BYTES, &file, &size, &err))
        return;
    vm->symbols = tidal_symtab_load(file, size);
    tidal_file_unmap(file, size);
}

static int symbolize(struct tidal_vm *vm, uint64_t rip, char *out, size_t size)
{
    load_symbols(vm);
    uint64_t off;
    const char *name = vm->symbols ? tidal_symtab_lookup(vm->symbols, rip, &off) : NULL;
    if (name)
        return snprintf(out, size, " in %s+0x%llx", name, (unsigned long long)off);
    return snprintf(out, size, "%s", "");
}

/* What a faulting address says about the bug, or "". The unmapped gap between heap
 * and stack is the stack's guard page: a fault there is a stack that ran off its end.
 * The boot-info page, read-only to the guest, says where both lie, for booted and
 * restored guests alike. */
static void diagnose_address(const struct tidal_vm *vm, uint64_t cr2, char *out, size_t size)
{
    const struct tidal_boot_info *bi =
        (const struct tidal_boot_info *)(vm->mem.base + TIDAL_BOOT_INFO_GPA);
    if (cr2 < TIDAL_PAGE_SIZE)
        snprintf(out, size, ": NULL pointer dereference");
    else if (bi->fs_size && cr2 >= bi->fs_gpa && cr2 - bi->fs_gpa < bi->fs_size)
        snprintf(out, size, ": inside the read-only file image");
    else if (cr2 >= bi->heap_end && cr2 < bi->stack_bottom)
        snprintf(out, size, ": stack overflow (the guard page below the %llu KiB stack)",
                 (unsigned long long)((bi->stack_top - bi->stack_bottom) >> 10));
    else
        snprintf(out, size, "%s", "");
}

static void page_fault_detail(const struct tidal_vm *vm, uint64_t err, uint64_t cr2, char *out,
                              size_t size)
{
    const char *why = !(err & 1)   ? "not mapped"
                      : (err & 16) ? "not executable"
                      : (err & 2)  ? "read-only"
                                   : "protection";
    const char *access = (err & 16) ? "instruction fetch" : (err & 2) ? "write" : "read";
    char diagnosis[96];
    diagnose_address(vm, cr2, diagnosis, sizeof(diagnosis));
    snprintf(out, size, "; %s at 0x%llx (%s)%s", access, (unsigned long long)cr2, why, diagnosis);
}

void tidal_crash_from_fault(struct tidal_vm *vm, const struct tidal_fault *f, char *out,
                            size_t size)
{
    char sym[160], pf[160] = "";
    symbolize(vm, f->rip, sym, sizeof(sym));
    if (f->vector == 14)
        page_fault_detail(vm, f->error_code, f->cr2, pf, sizeof(pf));
    snprintf(out, size,
             "guest crashed: %s at RIP 0x%llx%s, CR2 0x%llx, error code 0x%llx%s\n"
             "  rsp 0x%llx rbp 0x%llx rax 0x%llx rbx 0x%llx rcx 0x%llx rdx 0x%llx\n"
             "  rsi 0x%llx rdi 0x%llx r8 0x%llx r9 0x%llx r10 0x%llx r11 0x%llx",
             exception_name(f->vector), (unsigned long long)f->rip, sym, (unsigned long long)f->cr2,
             (unsigned long long)f->error_code, pf, (unsigned long long)f->rsp,
             (unsigned long long)f->rbp, (unsigned long long)f->rax, (unsigned long long)f->rbx,
             (unsigned long long)f->rcx, (unsigned long long)f->rdx, (unsigned long long)f->rsi,
             (unsigned long long)f->rdi, (unsigned long long)f->r8, (unsigned long long)f->r9,
             (unsigned long long)f->r10, (unsigned long long)f->r11);
}

void tidal_crash_from_vcpu(struct tidal_vm *vm, const char *what, char *out, size_t size)
{
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) < 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0) {
        snprintf(out, size, "guest crashed: %s (registers unavailable)", what);
        return;
    }
    char sym[160];
    symbolize(vm, regs.rip, sym, sizeof(sym));
    snprintf(out, size, "guest crashed: %s at RIP 0x%llx%s, CR2 0x%llx, RSP 0x%llx", what,
             (unsigned long long)regs.rip, sym, (unsigned long long)sregs.cr2,
             (unsigned long long)regs.rsp);
}
