/* Draining a VM's console ring (monitor/console_ring.c) from the vCPU's thread and
 * from others, one drain at a time. */
#include "vm_internal.h"

#include <stdio.h>

int tidal_vm_drain_console(struct tidal_vm *vm, struct tidal_err *err)
{
    char msg[sizeof(err->msg)];
    pthread_mutex_lock(&vm->console_lock);
    int r = tidal_console_ring_drain(&vm->mem, &vm->io, &vm->console_ring, msg, sizeof(msg));
    pthread_mutex_unlock(&vm->console_lock);
    return r ? tidal_err_set(err, "%s", msg) : 0;
}

bool tidal_vm_drain_or_crash(struct tidal_vm *vm, struct tidal_run_result *res)
{
    struct tidal_err err;
    if (!tidal_vm_drain_console(vm, &err))
        return true;
    char what[sizeof(err.msg) + 32];
    snprintf(what, sizeof(what), "invalid call: %s", err.msg);
    tidal_crash_from_vcpu(vm, what, res->report, sizeof(res->report));
    res->reason = TIDAL_EXIT_CRASHED;
    return false;
}
