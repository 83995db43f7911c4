/* vCPU state for a 64-bit guest that runs natively both on PVM (software-assisted
 * KVM, see docs) and on VMX/SVM: long mode from the first instruction, U/S=1 page
 * tables, lower-half addresses, and on PVM the VIF page registered by MSR. */
#include "msr.h"
#include "vm_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define PVM_SIGNATURE 0x4d5650u /* "PVM" */
#define PVM_VIF_HOST_WRITE 0x400u

#define CR0_PE (1u << 0)
#define CR0_MP (1u << 1)
#define CR0_ET (1u << 4)
#define CR0_NE (1u << 5)
#define CR0_WP (1u << 16)
#define CR0_AM (1u << 18)
#define CR0_PG (1u << 31)
#define CR4_PAE (1u << 5)
#define CR4_OSFXSR (1u << 9)
#define CR4_OSXMMEXCPT (1u << 10)
#define CR4_FSGSBASE (1u << 16)
#define CR4_OSXSAVE (1u << 18)
#define EFER_SCE (1u << 0)
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)
#define EFER_NXE (1u << 11)
/* syscall clears these RFLAGS bits: TF, IF, DF, IOPL, NT, AC */
#define SYSCALL_FLAG_MASK 0x47700u

#define XCR0_X87 1u
#define XCR0_SSE 2u
#define XCR0_AVX 4u

struct msr_list {
    struct kvm_msrs hdr;
    struct kvm_msr_entry entries[TIDAL_STATE_MAX_MSRS];
};

static int set_msrs(struct tidal_vm *vm, struct msr_list *m, unsigned n, struct tidal_err *err)
{
    m->hdr.nmsrs = n;
    int r = ioctl(vm->vcpu_fd, KVM_SET_MSRS, m);
    if (r != (int)n)
        return tidal_err_set(err, "KVM_SET_MSRS: set %d of %u (first failing MSR 0x%x)%s%s", r, n,
                             r >= 0 && r < (int)n ? m->entries[r].index : 0, r < 0 ? ": " : "",
                             r < 0 ? strerror(errno) : "");
    return 0;
}

/* PVM answers this MSR with its signature; VMX/SVM KVM returns no entry. */
static bool detect_pvm(struct tidal_vm *vm)
{
    struct msr_list m = {.hdr.nmsrs = 1, .entries[0].index = MSR_PVM_SIGNATURE};
    return ioctl(vm->vcpu_fd, KVM_GET_MSRS, &m) == 1 && m.entries[0].data == PVM_SIGNATURE;
}

static const struct kvm_cpuid_entry2 *cpuid_find(const struct kvm_cpuid2 *c, uint32_t fn,
                                                 uint32_t idx)
{
    for (uint32_t i = 0; i < c->nent; i++)
        if (c->entries[i].function == fn && c->entries[i].index == idx)
            return &c->entries[i];
    return NULL;
}

static struct tidal_cpu_features features_of(const struct kvm_cpuid2 *c)
{
    const struct kvm_cpuid_entry2 *leaf1 = cpuid_find(c, 1, 0), *leaf7 = cpuid_find(c, 7, 0);
    return (struct tidal_cpu_features){.leaf1_ecx = leaf1 ? leaf1->ecx : 0,
                                       .leaf1_edx = leaf1 ? leaf1->edx : 0,
                                       .leaf7_ebx = leaf7 ? leaf7->ebx : 0,
                                       .leaf7_ecx = leaf7 ? leaf7->ecx : 0};
}

int tidal_kvm_cpu_features(struct tidal_cpu_features *out, struct tidal_err *err)
{
    const struct tidal_kvm *kvm = tidal_kvm_get(err);
    if (!kvm)
        return -1;
    *out = features_of(kvm->cpuid);
    return 0;
}

static int setup_cpuid(struct tidal_vm *vm, bool *xsave, uint64_t *xcr0_ok, struct tidal_err *err)
{
    const struct kvm_cpuid2 *c = vm->kvm->cpuid;
    const struct kvm_cpuid_entry2 *leaf1 = cpuid_find(c, 1, 0), *leaf7 = cpuid_find(c, 7, 0),
                                  *leafd = cpuid_find(c, 0xd, 0);
    *xsave = leaf1 && (leaf1->ecx & (1u << 26));
    *xcr0_ok = leafd ? ((uint64_t)leafd->edx << 32 | leafd->eax) : XCR0_X87 | XCR0_SSE;
    vm->fsgsbase = leaf7 && (leaf7->ebx & 1u);
    vm->features = features_of(c);
    if (ioctl(vm->vcpu_fd, KVM_SET_CPUID2, c) < 0)
        return tidal_err_set(err, "KVM_SET_CPUID2: %s", strerror(errno));
    return 0;
}

int tidal_vcpu_setup(struct tidal_vm *vm, struct tidal_err *err)
{
    bool xsave = false;
    uint64_t xcr0_ok = 0;
    /* CPUID first: KVM checks XCR0 against the guest's CPUID. */
    if (setup_cpuid(vm, &xsave, &xcr0_ok, err))
        return -1;
    if (xsave) {
        struct kvm_xcrs xcrs = {.nr_xcrs = 1};
        xcrs.xcrs[0].xcr = 0;
        xcrs.xcrs[0].value = (XCR0_X87 | XCR0_SSE | XCR0_AVX) & xcr0_ok;
        if (ioctl(vm->vcpu_fd, KVM_SET_XCRS, &xcrs) < 0)
            return tidal_err_set(err, "KVM_SET_XCRS: %s", strerror(errno));
    }
    struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
    if (ioctl(vm->vcpu_fd, KVM_SET_FPU, &fpu) < 0)
        return tidal_err_set(err, "KVM_SET_FPU: %s", strerror(errno));
    int khz = ioctl(vm->vcpu_fd, KVM_GET_TSC_KHZ, 0);
    vm->tsc_khz = khz > 0 ? (uint64_t)khz : 0;
    vm->pvm = detect_pvm(vm);
    vm->cr4_osxsave = xsave;
    return 0;
}

/* The VIF page must lie inside a memslot, so PVM gets it once memory exists. */
int tidal_vcpu_attach_memory(struct tidal_vm *vm, struct tidal_err *err)
{
    if (!vm->pvm)
        return 0;
    struct msr_list m = {
        .entries[0] = {.index = MSR_PVM_VIF, .data = TIDAL_VIF_GPA | PVM_VIF_HOST_WRITE}};
    return set_msrs(vm, &m, 1, err);
}

/* Flat 4 GiB segments: a 64-bit code segment (L=1) or a data segment. */
static struct kvm_segment flat_segment(uint16_t selector, bool code)
{
    return (struct kvm_segment){.limit = 0xffffffff,
                                .selector = selector,
                                .type = code ? 11 : 3,
                                .present = 1,
                                .db = !code,
                                .s = 1,
                                .l = code,
                                .g = 1};
}

void tidal_vcpu_long_mode_sregs(const struct tidal_vm *vm, struct kvm_sregs *s, uint64_t cr3)
{
    s->cs = flat_segment(TIDAL_SEL_CODE, true);
    s->ds = flat_segment(TIDAL_SEL_DATA, false);
    s->es = s->fs = s->gs = s->ss = s->ds;
    s->tr = (struct kvm_segment){
        .base = TIDAL_TSS_GPA, .limit = 103, .selector = TIDAL_SEL_TSS, .type = 11, .present = 1};
    s->ldt = (struct kvm_segment){.type = 2, .unusable = 1};
    s->gdt.base = TIDAL_GDT_GPA;
    s->gdt.limit = TIDAL_SEL_TSS + 16 - 1;
    s->idt.base = TIDAL_IDT_GPA;
    s->idt.limit = TIDAL_IDT_VECTORS * 16 - 1;
    s->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
    s->cr3 = cr3;
    s->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | (vm->cr4_osxsave ? CR4_OSXSAVE : 0);
    s->efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
}

int tidal_vcpu_set_boot_state(struct tidal_vm *vm, struct tidal_err *err)
{
    struct kvm_sregs sregs;
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
        return tidal_err_set(err, "KVM_GET_SREGS: %s", strerror(errno));
    tidal_vcpu_long_mode_sregs(vm, &sregs, vm->pt.root);
    sregs.cr4 |= vm->fsgsbase ? CR4_FSGSBASE : 0;
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0) {
        if (!vm->fsgsbase)
            return tidal_err_set(err, "KVM_SET_SREGS: %s", strerror(errno));
        /* Some hosts report FSGSBASE but refuse the CR4 bit: boot without it. */
        vm->fsgsbase = false;
        struct tidal_boot_info *bi = (struct tidal_boot_info *)(vm->mem.base + TIDAL_BOOT_INFO_GPA);
        bi->flags &= ~(uint32_t)TIDAL_BOOT_FSGSBASE;
        sregs.cr4 &= ~(uint64_t)CR4_FSGSBASE;
        if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
            return tidal_err_set(err, "KVM_SET_SREGS: %s", strerror(errno));
    }

    struct kvm_regs regs = {
        .rip = vm->img.entry,
        .rsp = vm->layout.stack_top,
        .rdi = TIDAL_BOOT_INFO_GPA,
        .rflags = 0x2,
    };
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0)
        return tidal_err_set(err, "KVM_SET_REGS: %s", strerror(errno));

    /* Set here rather than by the guest: every wrmsr from the guest is an exit. */
    struct msr_list m = {.entries = {
                             {.index = MSR_STAR, .data = (uint64_t)TIDAL_SEL_CODE << 32},
                             {.index = MSR_LSTAR, .data = vm->img.note.syscall_entry},
                             {.index = MSR_CSTAR, .data = 0},
                             {.index = MSR_SFMASK, .data = SYSCALL_FLAG_MASK},
                             {.index = MSR_FS_BASE, .data = 0},
                             {.index = MSR_GS_BASE, .data = 0},
                             {.index = MSR_KERNEL_GS_BASE, .data = 0},
                         }};
    return set_msrs(vm, &m, 7, err);
}

int tidal_vcpu_read_tsc(struct tidal_vm *vm, uint64_t *tsc)
{
    struct msr_list m = {.hdr.nmsrs = 1, .entries[0].index = MSR_IA32_TSC};
    if (ioctl(vm->vcpu_fd, KVM_GET_MSRS, &m) != 1)
        return -1;
    *tsc = m.entries[0].data;
    return 0;
}

static uint64_t host_tsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

/* A reused VM starts its clocks at every request, and a KVM_GET_MSRS costs as much as
 * the rest of the request's set-up. The monitor never sets a TSC rate of its own
 * (KVM_SET_TSC_KHZ), so KVM does not scale the guest's TSC: it is the host's plus an
 * offset, which changes only when the guest writes the TSC (an exit KVM handles).
 * Learnt from one read, it is right to within half that read's duration. */
int tidal_vcpu_guest_tsc(struct tidal_vm *vm, uint64_t *tsc)
{
    if (vm->tsc_offset_known) {
        *tsc = host_tsc() + (uint64_t)vm->tsc_offset;
        return 0;
    }
    uint64_t before = host_tsc();
    if (tidal_vcpu_read_tsc(vm, tsc))
        return -1;
    uint64_t after = host_tsc();
    vm->tsc_offset = (int64_t)(*tsc - (before + (after - before) / 2));
    vm->tsc_offset_known = true;
    return 0;
}

void tidal_vcpu_recheck_tsc(struct tidal_vm *vm)
{
    vm->tsc_offset_known = false;
}

/* The MSRs a guest's state includes beyond regs/sregs: the syscall set-up and the
 * segment bases. The TSC is not saved: a restored guest's clocks are rebased. */
static const uint32_t saved_msrs[] = {MSR_STAR,    MSR_LSTAR,   MSR_CSTAR,         MSR_SFMASK,
                                      MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE};
#define NSAVED (sizeof(saved_msrs) / sizeof(saved_msrs[0]))
_Static_assert(NSAVED <= TIDAL_STATE_MAX_MSRS, "state has room for the saved MSRs");

int tidal_vcpu_save(struct tidal_vm *vm, struct tidal_vcpu_state *st, struct tidal_err *err)
{
    memset(st, 0, sizeof(*st));
    if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &st->regs) < 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_SREGS, &st->sregs) < 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_XSAVE, &st->xsave) < 0 ||
        (vm->cr4_osxsave && ioctl(vm->vcpu_fd, KVM_GET_XCRS, &st->xcrs) < 0))
        return tidal_err_set(err, "reading vCPU state: %s", strerror(errno));
    struct msr_list m = {.hdr.nmsrs = NSAVED};
    for (unsigned i = 0; i < NSAVED; i++)
        m.entries[i].index = saved_msrs[i];
    if (ioctl(vm->vcpu_fd, KVM_GET_MSRS, &m) != (int)NSAVED)
        return tidal_err_set(err, "KVM_GET_MSRS: %s", strerror(errno));
    st->nmsrs = NSAVED;
    for (unsigned i = 0; i < NSAVED; i++) {
        st->msrs[i].index = m.entries[i].index;
        st->msrs[i].data = m.entries[i].data;
    }
    return 0;
}

int tidal_vcpu_load(struct tidal_vm *vm, const struct tidal_vcpu_state *st, struct tidal_err *err)
{
    if (st->nmsrs > TIDAL_STATE_MAX_MSRS) {
        tidal_err_set(err, "vCPU state lists %u MSRs (at most %u)", st->nmsrs,
                      TIDAL_STATE_MAX_MSRS);
        return TIDAL_CREATE_BAD_INPUT;
    }
    struct kvm_sregs sregs = st->sregs;
    const char *failed =
        ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0     ? "KVM_SET_SREGS"
        : ioctl(vm->vcpu_fd, KVM_SET_REGS, &st->regs) < 0 ? "KVM_SET_REGS"
        : vm->cr4_osxsave && st->xcrs.nr_xcrs && ioctl(vm->vcpu_fd, KVM_SET_XCRS, &st->xcrs) < 0
            ? "KVM_SET_XCRS"
        : ioctl(vm->vcpu_fd, KVM_SET_XSAVE, &st->xsave) < 0 ? "KVM_SET_XSAVE"
                                                            : NULL;
    if (failed) {
        /* EINVAL: KVM checked the saved registers and found them impossible. */
        int e = errno;
        tidal_err_set(err, "%s: %s%s", failed, strerror(e),
                      e == EINVAL ? " (the saved vCPU state is invalid)" : "");
        return e == EINVAL ? TIDAL_CREATE_BAD_INPUT : TIDAL_CREATE_SYSTEM;
    }
    struct msr_list m = {0};
    for (unsigned i = 0; i < st->nmsrs; i++)
        m.entries[i] = (struct kvm_msr_entry){.index = st->msrs[i].index, .data = st->msrs[i].data};
    /* An MSR KVM will not take is the saved state's fault, as above. */
    return st->nmsrs && set_msrs(vm, &m, st->nmsrs, err) ? TIDAL_CREATE_BAD_INPUT : 0;
}
