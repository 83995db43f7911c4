/* The target's side of a migration (tidal/migrate.h): the stream parsed into fresh
 * guest memory, the VM made while pre-copy rounds still arrive, then built around that
 * memory with the snapshot restore's code; and the answer to the source. */
#include "migrate_wire.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long a refusing target keeps reading what the source still sends: until the
 * source closes, stops sending for a while, or this much time has passed. */
#define DRAIN_NS (5ull * 1000000000u)
#define DRAIN_IDLE_MS 250

struct target {
    struct tidal_shell_pool *pool; /* the VM and vCPU, made during the pre-copy rounds */
};

/* Refused before any memory comes: a CPU that lacks what the guest may use. */
static int check_cpu(void *ctx, const struct mig_incoming *in, struct tidal_err *err)
{
    (void)ctx;
    struct tidal_cpu_features here;
    if (tidal_kvm_cpu_features(&here, err))
        return TIDAL_CREATE_NO_KVM;
    return tidal_cpu_features_check(&in->features, &here, err) ? TIDAL_CREATE_BAD_INPUT : 0;
}

/* KVM_CREATE_VM, the vCPU and its first run cost about a millisecond: paid here,
 * while the source still runs the guest, not in its downtime. */
static int make_shell(void *ctx, struct tidal_err *err)
{
    struct target *t = ctx;
    if (!(t->pool = tidal_shell_pool_new()))
        return tidal_err_set(err, "out of memory");
    return tidal_shell_pool_fill(t->pool, 1, err) ? TIDAL_CREATE_SYSTEM : 0;
}

int tidal_migrate_receive(int fd, const struct tidal_vm_config *cfg, struct tidal_vm **out,
                          struct tidal_migrate_stats *st, struct tidal_err *err)
{
    *out = NULL;
    *st = (struct tidal_migrate_stats){0};
    struct target t = {0};
    struct mig_parse_hooks hooks = {.header = check_cpu, .full_copy = make_shell, .ctx = &t};
    struct mig_reader r = {0};
    struct mig_incoming *in = calloc(1, sizeof(*in)); /* the vCPU state is several KiB */
    int rc = !in || mig_reader_open(&r, fd, err) ? tidal_err_set(err, "out of memory")
                                                 : mig_parse(&r, in, &hooks, st, err);
    if (!rc) {
        uint8_t *mem = in->mem;
        in->mem = NULL; /* the VM's from here on, once it exists */
        struct tidal_err why;
        rc = tidal_vm_restore(cfg, &in->vcpu, &in->state, mem, TIDAL_CLONE_ID_KEEP, t.pool, out,
                              &why);
        if (!*out)
            munmap(mem, in->mem_size);
        if (rc == TIDAL_CREATE_BAD_INPUT)
            tidal_err_set(err, "migration stream's VM state: %s", why.msg);
        else if (rc)
            *err = why;
    }
    if (!rc)
        st->t_ready = tidal_now_ns();
    mig_reader_close(&r);
    if (in)
        mig_incoming_free(in);
    free(in);
    tidal_shell_pool_free(t.pool); /* empty unless the restore failed before taking it */
    if (rc) {
        struct tidal_err ignored; /* the source may be gone: nothing to add then */
        tidal_migrate_ack(fd, false, err->msg, &ignored);
    }
    return rc;
}

/* Reads and drops what the source still sends: a socket closed with unread data
 * resets the connection, and the source would read that instead of the refusal. */
static void drain(int fd)
{
    char sink[16 << 10];
    uint64_t deadline = tidal_now_ns() + DRAIN_NS;
    while (tidal_now_ns() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, DRAIN_IDLE_MS);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        ssize_t k = read(fd, sink, sizeof(sink));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return;
    }
}

int tidal_migrate_ack(int fd, bool ok, const char *message, struct tidal_err *err)
{
    if (mig_send_ack(fd, ok ? MIG_ACK_RESUMED : MIG_ACK_REFUSED, message, err))
        return -1;
    if (!ok) {
        shutdown(fd, SHUT_WR); /* no socket (a pipe): nothing to shut */
        drain(fd);
    }
    return 0;
}
