/* Live migration: a running guest's memory and state moved to another monitor over a
 * byte stream (a TCP socket between daemons, a socketpair in tests), by iterative
 * pre-copy: all of memory while the guest runs, then the pages it dirtied meanwhile,
 * round after round, and only the last few pages and the vCPU state while it is
 * paused. The stream is described in docs/migration.md.
 *
 * Source side, on a thread other than the VM's runner, while the runner keeps
 * calling tidal_vm_run:
 *   tidal_migrate_begin      header, dirty tracking on, all of memory (round 0)
 *   tidal_migrate_round      the pages dirtied since the last round (repeat; or let
 *                            tidal_migrate_precopy do begin and the rounds)
 * then the caller pauses the VM (a signal to the runner whose handler calls
 * tidal_vm_request_pause, as the daemon does; the runner's tidal_vm_run returns
 * TIDAL_EXIT_PAUSED and the runner waits), and, while no thread runs the VM:
 *   tidal_migrate_finish     last dirty pages, vCPU and monitor state, checksum; waits
 *                            for the target's acknowledgement
 * Its result says what becomes of the source's VM (enum tidal_migrate_outcome).
 *
 * Target side: tidal_migrate_receive builds the VM from the stream; the caller starts
 * running it, then calls tidal_migrate_ack. */
#ifndef TIDAL_MIGRATE_H
#define TIDAL_MIGRATE_H

#include "tidal/err.h"
#include "tidal/monitor.h"

#include <stdbool.h>
#include <stdint.h>

#define TIDAL_MIGRATE_VERSION 1
/* Pre-copy rounds, the full copy (round 0) included, that a migration may send. */
#define TIDAL_MIGRATE_MAX_ROUNDS 32
/* Longest text of a refusal the target sends back. */
#define TIDAL_MIGRATE_MAX_MESSAGE 1024

/* What one round moved. Pages are counted once each: those sent with their data plus
 * those sent as zero (a run record without data). */
struct tidal_migrate_round {
    uint64_t pages;      /* pages sent with their data */
    uint64_t zero_pages; /* pages found all zero: sent as a zero run, no data */
    uint64_t bytes;      /* bytes of the stream, record headers included */
    uint64_t ns;         /* CLOCK_MONOTONIC duration */
};

/* Filled by both sides (each its own copy); every time is CLOCK_MONOTONIC in ns, 0 when
 * that point was not reached. The source's downtime is from the caller's pause request
 * (which it measures itself) to the target's t_ready, or, as the source sees it, to
 * t_acked. The source passes the same struct to begin, each round and finish: it
 * carries where the stream is (rounds, bytes, crc). */
struct tidal_migrate_stats {
    unsigned rounds; /* pre-copy rounds done, round 0 (all of memory) included */
    struct tidal_migrate_round round[TIDAL_MIGRATE_MAX_ROUNDS];
    struct tidal_migrate_round final; /* stop-and-copy: the pages sent while paused */
    uint64_t bytes;                   /* the whole stream, header and state included */
    /* CRC32C of the stream so far (its end record holds that of the bytes before it) */
    uint32_t crc;
    uint64_t dirty_log_reads; /* KVM_GET_DIRTY_LOG ioctls (source) */
    bool converged;           /* tidal_migrate_precopy: the last round was small */
    /* source */
    uint64_t t_begin;  /* tidal_migrate_begin called */
    uint64_t t_finish; /* tidal_migrate_finish called (the VM paused) */
    uint64_t t_sent;   /* the last byte handed to the stream */
    uint64_t t_acked;  /* the target's acknowledgement read */
    /* target */
    uint64_t t_header; /* the stream's header read */
    uint64_t t_end;    /* its end record read and checked */
    uint64_t t_ready;  /* the VM built, ready for tidal_vm_run */
};

/* Sends the stream header (memory size, guest ABI, CPU features: what the target
 * checks before any memory comes), starts tracking dirty pages, then sends all of
 * memory (round 0), pages that are all zero as zero runs. The VM may be running on
 * its runner thread meanwhile. `fd` is a connected stream socket or pipe, blocking;
 * give it SO_SNDTIMEO/SO_RCVTIMEO to bound a peer that stops reading or answering.
 * *st is reset here. Returns 0, or -1 with err set (the VM runs on untouched: its
 * dirty tracking for migration is stopped). Refused for a VM reused in place. */
int tidal_migrate_begin(struct tidal_vm *vm, int fd, struct tidal_migrate_stats *st,
                        struct tidal_err *err);

/* Sends the pages dirtied since the last round (guest writes from KVM's dirty log and
 * the monitor's own writes); *dirty_pages is how many that was. While the guest runs,
 * as begin. Returns 0 or -1 (then as begin). Refused once TIDAL_MIGRATE_MAX_ROUNDS
 * rounds were sent: finish then. */
int tidal_migrate_round(struct tidal_vm *vm, int fd, uint64_t *dirty_pages,
                        struct tidal_migrate_stats *st, struct tidal_err *err);

/* When to stop pre-copying: after a round that sent at most max_dirty_pages (the
 * guest converged), or after max_rounds rounds past round 0 (it did not: it is
 * stopped and copied anyway). */
struct tidal_migrate_policy {
    uint64_t max_dirty_pages; /* 0: TIDAL_MIGRATE_DEFAULT_DIRTY_PAGES */
    unsigned max_rounds;      /* 0: TIDAL_MIGRATE_DEFAULT_ROUNDS; at most MAX_ROUNDS - 1 */
};
#define TIDAL_MIGRATE_DEFAULT_DIRTY_PAGES 256 /* 1 MiB: a millisecond or so on a LAN */
#define TIDAL_MIGRATE_DEFAULT_ROUNDS 8

/* tidal_migrate_begin, then rounds as the policy says (NULL: the defaults);
 * st->converged tells which way it ended. Returns 0 or -1, as begin. */
int tidal_migrate_precopy(struct tidal_vm *vm, int fd, const struct tidal_migrate_policy *policy,
                          struct tidal_migrate_stats *st, struct tidal_err *err);

/* What tidal_migrate_finish (and tidal_migrate_cancel) leave the source to do. */
enum tidal_migrate_outcome {
    /* The target acknowledged: it runs the guest now. Destroy the source's VM; never
     * run it again. */
    TIDAL_MIGRATE_DONE = 0,
    /* Failed (err says why: the target refused, or the stream broke before the end
     * record was sent), and the target cannot be running the guest: resume it here
     * (tidal_vm_run again). */
    TIDAL_MIGRATE_RESUME_HERE = -1,
    /* Everything was sent but no acknowledgement came (the stream broke, the target
     * died or timed out after the end record): the target may or may not have started
     * the guest. Resume it here only once the target cannot start it any more (e.g.
     * the ownership record in etcd was not moved to the target, and the source takes
     * it back); otherwise two copies would run. */
    TIDAL_MIGRATE_IN_DOUBT = -2,
};

/* For a VM whose runner's tidal_vm_run last returned TIDAL_EXIT_PAUSED or _READY and
 * that no thread runs until this returns (any thread may call it): captures its
 * state as a snapshot does (tidal_vm_save_state: the console ring is drained here, so
 * the target repeats no output), sends the pages dirtied since the last round, the
 * state and the end record, then waits for the target's acknowledgement. Dirty
 * tracking for migration stops whatever the outcome. */
enum tidal_migrate_outcome tidal_migrate_finish(struct tidal_vm *vm, int fd,
                                                struct tidal_migrate_stats *st,
                                                struct tidal_err *err);

/* Gives up a migration between begin (or a round) and finish, e.g. the operator
 * cancelled it: stops the dirty tracking. The guest never stopped, and the target,
 * without an end record, cannot start it: close fd. */
void tidal_migrate_cancel(struct tidal_vm *vm);

/* Target: reads a stream from fd and builds its VM: memory of the size the stream
 * states (the guest's files and scratch space are in it), the VM and vCPU made while
 * the pre-copy rounds still arrive, the state applied as a snapshot restore does
 * (tidal_vm_restore: the CPU features are checked as soon as the header is read; the
 * guest keeps its clone id; a guest that has called tidal_ready() sees its generation
 * advance, as after any restore). cfg supplies the guest's stdin/stdout/stderr on this
 * host, whether stdout is a terminal, and the timeout (counted afresh from the first
 * run here); its memory size, files and scratch settings are ignored. Every field of
 * the stream is checked: a malformed, truncated or foreign stream is refused with a
 * message naming the record and field, and the refusal is sent back to the source
 * (tidal_migrate_ack(fd, false, ...)). Returns 0 with *out ready for tidal_vm_run, or
 * a TIDAL_CREATE_* code (BAD_INPUT: the stream's fault; NO_KVM, SYSTEM: this host's);
 * on failure pass *out to tidal_vm_destroy. */
int tidal_migrate_receive(int fd, const struct tidal_vm_config *cfg, struct tidal_vm **out,
                          struct tidal_migrate_stats *st, struct tidal_err *err);

/* Target: answers the source. ok: the guest runs here now (call it once the runner
 * has started it; until then a source that hears nothing is in doubt). !ok: the
 * guest will not run here, `message` says why (at most TIDAL_MIGRATE_MAX_MESSAGE
 * bytes are sent); what the source still sends is then read and dropped until it
 * closes its end or stops sending (at most a few seconds), so that it hears the
 * refusal rather than a reset connection. Returns 0 or -1 with err set (err may be
 * NULL: a source that is gone cannot be told anything anyway). */
int tidal_migrate_ack(int fd, bool ok, const char *message, struct tidal_err *err);

#endif
