/* Snapshots of running guests: save a VM stopped at tidal_ready() to a file, and
 * build VMs from a file, each with its own clone id. */
#ifndef TIDAL_SNAPSHOT_VM_H
#define TIDAL_SNAPSHOT_VM_H

#include "tidal/monitor.h"
#include "tidal/snapshot.h"

/* Saves a VM whose last run ended with TIDAL_EXIT_READY (atomically: see snapshot.h).
 * The VM can go on running afterwards. */
int tidal_snapshot_save(struct tidal_vm *vm, const char *path, struct tidal_err *err);

/* Saves only what changed since `base` was saved from this same VM: the caller
 * starts tracking (tidal_vm_track_dirty) right after saving the base, and each diff
 * starts the next interval, so a chain base, diff1, diff2... restores the latest
 * state. Used to suspend long batch guests cheaply. */
int tidal_snapshot_save_diff(struct tidal_vm *vm, const struct tidal_snap *base, const char *path,
                             struct tidal_err *err);

/* Builds a VM from an opened snapshot chain (a full snapshot, then any diffs on it in
 * order; n = 1 for a plain snapshot): memory mapped copy-on-write from the files, so
 * any number of VMs share their pages; vCPU and monitor state from the last file.
 * Returns 0 or a TIDAL_CREATE_* code; on failure pass *out to tidal_vm_destroy. cfg
 * supplies I/O and the timeout; memory size comes from the snapshot. pool (may be
 * NULL) supplies a ready VM shell when it has one. */
int tidal_snapshot_restore(const struct tidal_snap *const *chain, unsigned n,
                           const struct tidal_vm_config *cfg, uint64_t clone_id,
                           struct tidal_shell_pool *pool, struct tidal_vm **out,
                           struct tidal_err *err);

/* The memory of a full snapshot mapped read-only: the template that reused VMs are
 * reset to (tidal/reuse.h), shared by all of them. Unmap with munmap(mem, mem_size). */
uint8_t *tidal_snapshot_template_memory(const struct tidal_snap *snap, struct tidal_err *err);

/* Restores a VM from a full snapshot taken at tidal_ready() and starts reusing it in
 * place against template_mem (from tidal_snapshot_template_memory of the same file).
 * Returns 0 or a TIDAL_CREATE_* code; on failure pass *out to tidal_vm_destroy. */
int tidal_snapshot_restore_reusable(const struct tidal_snap *snap, const uint8_t *template_mem,
                                    const struct tidal_vm_config *cfg, uint64_t clone_id,
                                    struct tidal_shell_pool *pool, struct tidal_vm **out,
                                    struct tidal_err *err);

#endif
