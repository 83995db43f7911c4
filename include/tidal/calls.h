/* Guest-to-monitor calls: decoding and bounds checking. Everything a guest passes is
 * an address or a length it chose, so nothing here trusts it: every range is checked
 * against guest memory before a byte is touched, and a bad call ends the guest with
 * a message, never the monitor. Pure over a memory buffer and file descriptors, so
 * it is tested without KVM. */
#ifndef TIDAL_CALLS_H
#define TIDAL_CALLS_H

#include "tidal/abi.h"

#include <stddef.h>
#include <stdint.h>

struct tidal_guest_mem {
    uint8_t *base;
    uint64_t size;
    /* When set (dirty tracking for diff snapshots), one bit per guest page that the
     * monitor writes: KVM's dirty log sees only the guest's own writes. */
    uint64_t *host_dirty;
};

/* Records a monitor write to guest memory in host_dirty (if tracking). */
void tidal_guest_mark_written(const struct tidal_guest_mem *mem, uint64_t gpa, uint64_t len);

/* Host pointer for guest range [gpa, gpa+len), or NULL when any byte lies outside
 * guest memory (or, with `writable`, inside the monitor's own low pages). */
void *tidal_guest_range(const struct tidal_guest_mem *mem, uint64_t gpa, uint64_t len,
                        int writable);

/* Console output kept in host memory instead of written to a descriptor (a reused
 * VM's reply): at most cap bytes; a piece that does not fit is refused whole, and
 * the guest gets -EFBIG, as from a bounded file. */
struct tidal_out_buf {
    uint8_t *data;
    size_t cap, len;
};

struct tidal_call_io {
    int in_fd, out_fd, err_fd;
    struct tidal_out_buf *capture[2]; /* stdout, stderr: when set, used instead of the fds */
    volatile int *interrupted; /* set asynchronously (timeout, pause): stops a SLEEP or READ */
    uint64_t bytes_out;        /* console bytes written, for stats */
    uint64_t stdout_errors;    /* host writes of the guest's stdout that failed (e.g. a
                                  full, bounded output file): the guest got the error */
    /* The guest's last TIDAL_CALL_PROGRESS (0/0: none yet). Written by the vCPU's
     * thread, read by any other (tidal_vm_progress), hence accessed atomically. */
    uint64_t progress_done, progress_total;
};

enum tidal_call_outcome {
    TIDAL_CALL_CONTINUE, /* resume the guest */
    TIDAL_CALL_EXITED,   /* the guest called EXIT: *status holds its status */
    TIDAL_CALL_FAULTED,  /* the guest reported an exception: *fault holds it */
    TIDAL_CALL_INVALID,  /* a malformed call: msg says what was wrong; kill the guest */
    TIDAL_CALL_READIED,  /* the guest called READY: ready_gpa holds its info block */
};

struct tidal_call_result {
    int status;
    uint64_t ready_gpa;
    struct tidal_fault fault;
    uint32_t nr;
    uint64_t out_gpa, out_len; /* EXIT: the /out archive, checked to lie in guest memory */
    char msg[256];
};

/* Writes console output to the capture buffer or descriptor of `fd` (1 or 2) and
 * counts it in io. Returns 0 or the -errno of the host write (counted in
 * stdout_errors for stdout). */
int tidal_console_emit(struct tidal_call_io *io, uint32_t fd, const uint8_t *p, size_t len);

/* Where a guest's console ring is (tidal_image_note); gpa 0: it has none. */
struct tidal_console_ring_place {
    uint64_t gpa, size;
};

/* Whether a ring's place is well formed: 0, or -1 and what is wrong in msg. Its
 * memory is checked at every drain. */
int tidal_console_ring_check(const struct tidal_console_ring_place *ring, char *msg,
                             size_t msg_size);

/* Writes out every record the guest has published and advances the ring's tail past
 * them. The ring is the guest's: each record is read once and checked before its text
 * is written; the first malformed one stops the drain (those before it are written)
 * and returns -1 with what is wrong in msg, which the caller treats as an invalid
 * call. The caller serialises drains of one ring. */
int tidal_console_ring_drain(const struct tidal_guest_mem *mem, struct tidal_call_io *io,
                             const struct tidal_console_ring_place *ring, char *msg,
                             size_t msg_size);

/* Handles the call whose block is at guest-physical `block_gpa`. */
enum tidal_call_outcome tidal_call_handle(const struct tidal_guest_mem *mem,
                                          struct tidal_call_io *io, uint64_t block_gpa,
                                          struct tidal_call_result *res);

const char *tidal_call_name(uint32_t nr);

#endif
