/* Which MSRs a reused VM resets, and when (reset_msrs.h). Any MSR a guest can write
 * and read back is a place where one request could leave data for the next, so the
 * full set is every MSR KVM keeps for a vCPU. Writing ~50 MSRs costs more than the
 * dozen a guest may write without an exit, so the full set is written only after a
 * request in which KVM handled an exit by itself (reuse.c decides). */
#include "reset_msrs.h"
#include "msr.h"
#include "vm_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define MAX_LISTED 512

/* Passed through to the guest by VMX or SVM KVM, or so where the CPU has the feature
 * (SPEC_CTRL after the guest's first write). */
static const uint32_t written_without_exit[] = {
    MSR_STAR,         MSR_LSTAR,        MSR_CSTAR,          MSR_SFMASK,
    MSR_FS_BASE,      MSR_GS_BASE,      MSR_KERNEL_GS_BASE, MSR_SYSENTER_CS,
    MSR_SYSENTER_ESP, MSR_SYSENTER_EIP, MSR_TSC_AUX,        MSR_PAT,
    MSR_SPEC_CTRL};

/* Not in KVM's list, but per-vCPU, guest-writable and readable: the MTRRs. */
static const uint32_t mtrrs[] = {0x2ff, 0x250, 0x258, 0x259, 0x268, 0x269, 0x26a,
                                 0x26b, 0x26c, 0x26d, 0x26e, 0x26f, 0x200, 0x201,
                                 0x202, 0x203, 0x204, 0x205, 0x206, 0x207, 0x208,
                                 0x209, 0x20a, 0x20b, 0x20c, 0x20d, 0x20e, 0x20f};

/* Time goes on across requests: the counters that advance by themselves are left
 * alone (written back, they would turn the guest's clocks back; compared, they always
 * differ), Hyper-V's two clocks among them where KVM lists them (a KVM built with
 * Hyper-V emulation, for Windows guests, lists its MSRs; PVM's does not). Both are
 * read-only to the guest: no request can leave data in them. The monitor's own PVM
 * MSRs are set at memory attach. */
static bool excluded(uint32_t index)
{
    return index == MSR_IA32_TSC || index == MSR_TSC_ADJUST || index == MSR_TSC_DEADLINE ||
           index == MSR_IA32_MPERF || index == MSR_IA32_APERF || index == MSR_SMI_COUNT ||
           index == MSR_HV_VP_RUNTIME || index == MSR_HV_TIME_REF_COUNT || index == MSR_PVM_VIF ||
           index == MSR_PVM_SIGNATURE;
}

static struct kvm_msrs *msrs_new(uint32_t n)
{
    return calloc(1, sizeof(struct kvm_msrs) + n * sizeof(struct kvm_msr_entry));
}

static void add(struct kvm_msrs *m, uint32_t index)
{
    if (excluded(index))
        return;
    for (uint32_t i = 0; i < m->nmsrs; i++)
        if (m->entries[i].index == index)
            return;
    m->entries[m->nmsrs++] = (struct kvm_msr_entry){.index = index};
}

/* KVM_GET_MSRS / KVM_SET_MSRS stop at the first MSR they refuse and return how many
 * they did: keep those, drop the refused one, go on with the rest. */
static void keep_accepted(struct tidal_vm *vm, struct kvm_msrs *m, unsigned long req)
{
    struct kvm_msrs *rest = msrs_new(m->nmsrs);
    uint32_t kept = 0, at = 0;
    while (rest && at < m->nmsrs) {
        rest->nmsrs = m->nmsrs - at;
        memcpy(rest->entries, m->entries + at, rest->nmsrs * sizeof(struct kvm_msr_entry));
        int done = ioctl(vm->vcpu_fd, req, rest);
        if (done < 0)
            break;
        memmove(m->entries + kept, rest->entries, (size_t)done * sizeof(struct kvm_msr_entry));
        kept += (uint32_t)done;
        at += (uint32_t)done + 1;
    }
    m->nmsrs = rest ? kept : 0;
    free(rest);
}

int tidal_reset_msrs_init(struct tidal_vm *vm, struct reset_msrs *m, struct tidal_err *err)
{
    size_t nwritten = sizeof(written_without_exit) / sizeof(written_without_exit[0]);
    size_t nmtrr = sizeof(mtrrs) / sizeof(mtrrs[0]);
    struct kvm_msr_list *list = calloc(1, sizeof(*list) + MAX_LISTED * sizeof(uint32_t));
    m->all = msrs_new((uint32_t)(MAX_LISTED + nwritten + nmtrr));
    m->always = msrs_new((uint32_t)nwritten);
    if (!list || !m->all || !m->always) {
        free(list);
        return tidal_err_set(err, "out of memory for the MSR lists");
    }
    list->nmsrs = MAX_LISTED;
    if (ioctl(vm->kvm->fd, KVM_GET_MSR_INDEX_LIST, list) < 0)
        list->nmsrs = 0; /* then the guest-writable ones and the MTRRs only */
    for (size_t i = 0; i < nwritten; i++)
        add(m->all, written_without_exit[i]);
    for (size_t i = 0; i < nmtrr; i++)
        add(m->all, mtrrs[i]);
    for (uint32_t i = 0; i < list->nmsrs; i++)
        add(m->all, list->indices[i]);
    free(list);
    keep_accepted(vm, m->all, KVM_GET_MSRS);
    keep_accepted(vm, m->all, KVM_SET_MSRS); /* the same values: changes nothing */
    for (uint32_t i = 0; i < m->all->nmsrs; i++)
        for (size_t k = 0; k < nwritten; k++)
            if (m->all->entries[i].index == written_without_exit[k])
                m->always->entries[m->always->nmsrs++] = m->all->entries[i];
    return 0;
}

int tidal_reset_msrs_apply(struct tidal_vm *vm, const struct reset_msrs *m, bool all,
                           struct tidal_err *err)
{
    struct kvm_msrs *set = all ? m->all : m->always;
    int done = set->nmsrs ? ioctl(vm->vcpu_fd, KVM_SET_MSRS, set) : 0;
    if (done < 0)
        return tidal_err_set(err, "KVM_SET_MSRS: %s", strerror(errno));
    if ((uint32_t)done != set->nmsrs)
        return tidal_err_set(err,
                             "KVM_SET_MSRS refused MSR 0x%x, which it took at the template point",
                             set->entries[done].index);
    return 0;
}

int tidal_reset_msrs_verify(struct tidal_vm *vm, const struct reset_msrs *m, struct tidal_err *err)
{
    struct kvm_msrs *now = msrs_new(m->all->nmsrs);
    if (!now)
        return tidal_err_set(err, "out of memory");
    now->nmsrs = m->all->nmsrs;
    for (uint32_t i = 0; i < now->nmsrs; i++)
        now->entries[i].index = m->all->entries[i].index;
    int r = 0;
    if (now->nmsrs && ioctl(vm->vcpu_fd, KVM_GET_MSRS, now) != (int)now->nmsrs)
        r = tidal_err_set(err, "KVM_GET_MSRS: %s", strerror(errno));
    for (uint32_t i = 0; !r && i < now->nmsrs; i++)
        if (now->entries[i].data != m->all->entries[i].data)
            r = tidal_err_set(err, "after the reset, MSR 0x%x differs from the template point",
                              now->entries[i].index);
    free(now);
    return r;
}

void tidal_reset_msrs_free(struct reset_msrs *m)
{
    free(m->all);
    free(m->always);
    m->all = m->always = NULL;
}
