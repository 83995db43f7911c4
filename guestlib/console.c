/* Console output through the ring in guest memory (tidal/abi.h): a write is a memcpy
 * and a release store, no exit; the monitor drains the ring at every exit and a
 * daemon also on a timer. Only a full ring costs an exit, and when stdout is a
 * terminal (a person is watching) every write does, so output shows at once.
 * Records keep their fd and order, so interleaved stdout/stderr arrive as written. */
#include "console_ring.h"
#include "guest.h"

#include <string.h>
#include <sys/uio.h>

#define RING_BYTES TIDAL_GUEST_CONSOLE_RING_BYTES
#define RECORD sizeof(struct tidal_console_record)

/* Named in the image note (entry.S); the monitor writes only its tail. */
struct {
    struct tidal_console_ring hdr;
    unsigned char data[RING_BYTES];
} tidal_console_ring __attribute__((aligned(64)));

_Static_assert(RING_BYTES % 8 == 0 && RING_BYTES <= TIDAL_CONSOLE_RING_MAX, "ring size");

/* The guest's own copy of head: the published one may be read by the host at any time. */
static uint64_t head;

static void drain(void)
{
    if (head != __atomic_load_n(&tidal_console_ring.hdr.tail, __ATOMIC_ACQUIRE))
        tidal_hypercall(TIDAL_CALL_WRITE, 0, 0, 0);
}

/* Copies the next `len` bytes of the pieces into the ring at offset `at`, wrapping at
 * its end, and moves *iov and *off past them (over empty pieces too). */
static void gather(uint64_t at, const struct iovec **iov, size_t *off, size_t len)
{
    while (len) {
        size_t n = (*iov)->iov_len - *off;
        if (n > len)
            n = len;
        if (n > RING_BYTES - at)
            n = RING_BYTES - at;
        memcpy(tidal_console_ring.data + at, (const unsigned char *)(*iov)->iov_base + *off, n);
        at = (at + n) % RING_BYTES;
        len -= n;
        if ((*off += n) == (*iov)->iov_len) {
            ++*iov;
            *off = 0;
        }
    }
}

void tidal_console_writev(int fd, const struct iovec *iov, int cnt)
{
    size_t len = 0, off = 0;
    for (int i = 0; i < cnt; i++)
        len += iov[i].iov_len;
    const struct iovec *piece = iov;
    while (len) {
        uint64_t room =
            RING_BYTES - (head - __atomic_load_n(&tidal_console_ring.hdr.tail, __ATOMIC_ACQUIRE));
        if (room < 2 * RECORD) { /* no room for a header and a byte: the host makes some */
            drain();
            continue;
        }
        /* One record per write (musl's buffer and the caller's bytes together); a
         * write larger than the room left goes in pieces, in order */
        size_t n = len < room - RECORD ? len : room - RECORD;
        struct tidal_console_record rec = {.fd = (uint32_t)fd, .len = (uint32_t)n};
        memcpy(tidal_console_ring.data + head % RING_BYTES, &rec, RECORD);
        gather((head + RECORD) % RING_BYTES, &piece, &off, n);
        head += RECORD + ((n + 7) & ~(size_t)7);
        __atomic_store_n(&tidal_console_ring.hdr.head, head, __ATOMIC_RELEASE);
        len -= n;
    }
    if (tidal_boot->flags & TIDAL_BOOT_STDOUT_TTY)
        drain();
}
