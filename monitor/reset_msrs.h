/* The MSRs a VM reused in place goes back to after each request (reuse.c). */
#ifndef TIDAL_MONITOR_RESET_MSRS_H
#define TIDAL_MONITOR_RESET_MSRS_H

#include "tidal/err.h"

#include <linux/kvm.h>
#include <stdbool.h>

struct tidal_vm;

/* Template values of two sets of MSRs. `all`: every MSR this KVM lists or emulates
 * (KVM_GET_MSR_INDEX_LIST, the MTRRs) that the host can read and write back, but the
 * TSC's (its clocks are rebased per request instead). `always`: the subset that some
 * KVM lets a guest write without an exit (passed through on VMX or SVM). */
struct reset_msrs {
    struct kvm_msrs *all, *always;
};

/* Reads the VM's current values (at the template point). */
int tidal_reset_msrs_init(struct tidal_vm *vm, struct reset_msrs *m, struct tidal_err *err);
/* Writes `all` or `always` back in one KVM_SET_MSRS. */
int tidal_reset_msrs_apply(struct tidal_vm *vm, const struct reset_msrs *m, bool all,
                           struct tidal_err *err);
/* 0 when every MSR of `all` holds its template value; else -1 with the first that
 * does not in err. */
int tidal_reset_msrs_verify(struct tidal_vm *vm, const struct reset_msrs *m, struct tidal_err *err);
void tidal_reset_msrs_free(struct reset_msrs *m);

#endif
