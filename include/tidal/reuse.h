/* Reusing a VM in place. A VM stopped at its template point (restored from a
 * template snapshot, resuming from tidal_ready()) runs one request after another;
 * after each, its registers and exactly the pages written are put back to the
 * template's, so the next request sees what a fresh clone would: the template's
 * memory and registers, fresh entropy, its own clone id, the host's clocks.
 *
 * The pages written are KVM's dirty log plus the monitor's own writes. With KVM's
 * manual-protect mode, pages that every request writes are learned and left
 * writable (copied back every time, never re-protected), so a steady request costs
 * no write faults; the rest are re-protected after each request. */
#ifndef TIDAL_REUSE_H
#define TIDAL_REUSE_H

#include "tidal/monitor.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What one reset did, for budgets that tests assert without timing. */
struct tidal_reset_counts {
    uint64_t pages_reset; /* pages copied back from the template */
    uint64_t guest_dirty; /* of them, reported by KVM's dirty log */
    uint64_t host_dirty;  /* of them, written only by the monitor (input, clocks, call results) */
    uint64_t hot_pages;   /* pages left writable because every request writes them */
    uint64_t reprotected; /* pages write-protected again (their next write is a fault) */
    uint64_t kvm_ioctls;  /* KVM ioctls the reset made */
    bool quiet;           /* every exit of the request came to the monitor: a shorter vCPU reset */
};

/* Starts reusing `vm`, which must be stopped at its template point (just restored,
 * not yet run). template_mem: the template's memory, read-only, the VM's size; it
 * must outlive the VM. Memory that differs from it now (the restore's own writes)
 * is put back. Turns on dirty logging (manual-protect where KVM offers it) and
 * records the registers to reset to. */
int tidal_vm_reuse_begin(struct tidal_vm *vm, const uint8_t *template_mem, struct tidal_err *err);

/* Readies the next request: up to the guest's input window of `input` placed in
 * guest memory (*placed says how much; the caller gives the rest as stdin when
 * *placed < len), a new generation and clone id `request_id`, fresh entropy, clocks
 * rebased to now (monotonic never goes back across requests), the timeout counted
 * afresh, and per-request counters at zero. Then tidal_vm_run. */
int tidal_vm_reuse_prepare(struct tidal_vm *vm, const void *input, size_t len, uint64_t request_id,
                           size_t *placed, struct tidal_err *err);

/* Puts the VM back to the template point after a request that ended with
 * TIDAL_EXIT_HALTED (a VM that crashed or timed out is destroyed, never reset). */
int tidal_vm_reset(struct tidal_vm *vm, struct tidal_reset_counts *counts, struct tidal_err *err);

/* Compares the whole guest memory and the vCPU state with the template point:
 * 0 when equal, else -1 and the first difference. For the verification mode. */
int tidal_vm_reuse_verify(struct tidal_vm *vm, struct tidal_err *err);

/* True when TIDAL_VERIFY_RESET is set to a non-empty value other than "0": callers
 * then verify after every reset and abort on a difference. */
bool tidal_reuse_verify_enabled(void);

/* Console output into host memory for this VM (NULL: back to its descriptors). */
void tidal_vm_set_capture(struct tidal_vm *vm, struct tidal_out_buf *out,
                          struct tidal_out_buf *err);

#endif
