#include "tidal/snapshot_vm.h"
#include "tidal/reuse.h"
#include "tidal/vmstate.h"

#include <errno.h>
#include <sys/mman.h>

#include <string.h>

/* Blobs are the monitor's structs byte for byte: a size mismatch means another
 * build wrote them, and nothing in them can be trusted. */
static const void *blob_of(const struct tidal_snap *snap, uint32_t type, uint64_t want,
                           const char *what, struct tidal_err *err)
{
    uint64_t size = 0;
    const void *data = tidal_snap_blob(snap, type, &size);
    if (!data) {
        tidal_err_set(err, "snapshot has no %s section", what);
        return NULL;
    }
    if (size != want) {
        tidal_err_set(err,
                      "snapshot's %s section is %llu bytes, expected %llu: written by an "
                      "incompatible Tidal",
                      what, (unsigned long long)size, (unsigned long long)want);
        return NULL;
    }
    return data;
}

int tidal_snapshot_restore(const struct tidal_snap *const *chain, unsigned n,
                           const struct tidal_vm_config *cfg, uint64_t clone_id,
                           struct tidal_shell_pool *pool, struct tidal_vm **out,
                           struct tidal_err *err)
{
    *out = NULL;
    if (tidal_snap_check_chain(chain, n, err))
        return TIDAL_CREATE_BAD_INPUT;
    /* Damaged page data would otherwise run as the guest's memory, silently. */
    for (unsigned i = 0; i < n; i++)
        if (tidal_snap_verify_memory(chain[i], err))
            return TIDAL_CREATE_BAD_INPUT;
    const struct tidal_snap *snap = chain[n - 1]; /* the latest state */
    struct tidal_vcpu_state vcpu;
    struct tidal_vm_state state;
    const void *v = blob_of(snap, TIDAL_SNAP_VCPU, sizeof(vcpu), "vCPU", err);
    const void *m = v ? blob_of(snap, TIDAL_SNAP_MONITOR, sizeof(state), "monitor", err) : NULL;
    if (!m)
        return TIDAL_CREATE_BAD_INPUT;
    memcpy(&vcpu, v, sizeof(vcpu));
    memcpy(&state, m, sizeof(state));
    if (state.mem_size != tidal_snap_info(snap)->mem_size) {
        tidal_err_set(err, "snapshot header says %llu bytes of memory, its monitor section %llu",
                      (unsigned long long)tidal_snap_info(snap)->mem_size,
                      (unsigned long long)state.mem_size);
        return TIDAL_CREATE_BAD_INPUT;
    }
    uint8_t *mem = n == 1 ? tidal_snap_map_memory(snap, err) : tidal_snap_map_chain(chain, n, err);
    if (!mem)
        return TIDAL_CREATE_SYSTEM;
    return tidal_vm_restore(cfg, &vcpu, &state, mem, clone_id, pool, out, err);
}

uint8_t *tidal_snapshot_template_memory(const struct tidal_snap *snap, struct tidal_err *err)
{
    uint8_t *mem = tidal_snap_map_memory(snap, err);
    if (mem && mprotect(mem, tidal_snap_info(snap)->mem_size, PROT_READ) < 0) {
        tidal_err_set(err, "mprotect of the template memory: %s", strerror(errno));
        tidal_snap_unmap_memory(snap, mem);
        return NULL;
    }
    return mem;
}

int tidal_snapshot_restore_reusable(const struct tidal_snap *snap, const uint8_t *template_mem,
                                    const struct tidal_vm_config *cfg, uint64_t clone_id,
                                    struct tidal_shell_pool *pool, struct tidal_vm **out,
                                    struct tidal_err *err)
{
    const struct tidal_snap *chain[1] = {snap};
    int r = tidal_snapshot_restore(chain, 1, cfg, clone_id, pool, out, err);
    if (r)
        return r;
    return tidal_vm_reuse_begin(*out, template_mem, err) ? TIDAL_CREATE_SYSTEM : 0;
}
