/* The host side of the console ring (tidal/abi.h). The guest may scribble over the
 * ring at any time, even while a daemon thread drains it, so every header is copied
 * once and checked before use, and every offset is taken modulo the size: nothing
 * read from the ring can reach outside it. */
#include "tidal/calls.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ALIGN 8u

static int fail(char *msg, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, size, fmt, ap);
    va_end(ap);
    return -1;
}

int tidal_console_ring_check(const struct tidal_console_ring_place *ring, char *msg,
                             size_t msg_size)
{
    if (!ring->gpa)
        return ring->size ? fail(msg, msg_size, "console ring of %llu bytes at address 0",
                                 (unsigned long long)ring->size)
                          : 0;
    if (ring->gpa % ALIGN || ring->size % ALIGN ||
        ring->size < 2 * sizeof(struct tidal_console_record) || ring->size > TIDAL_CONSOLE_RING_MAX)
        return fail(msg, msg_size,
                    "console ring at 0x%llx with %llu data bytes: expected an 8-byte aligned "
                    "address and a multiple of 8 between 16 and %u bytes",
                    (unsigned long long)ring->gpa, (unsigned long long)ring->size,
                    TIDAL_CONSOLE_RING_MAX);
    return 0;
}

static uint64_t padded(uint64_t len)
{
    return (len + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
}

int tidal_console_ring_drain(const struct tidal_guest_mem *mem, struct tidal_call_io *io,
                             const struct tidal_console_ring_place *ring, char *msg,
                             size_t msg_size)
{
    if (!ring->gpa)
        return 0;
    if (tidal_console_ring_check(ring, msg, msg_size))
        return -1;
    struct tidal_console_ring *hdr =
        tidal_guest_range(mem, ring->gpa, sizeof(*hdr) + ring->size, 1);
    if (!hdr)
        return fail(msg, msg_size,
                    "console ring [0x%llx, +%llu) lies outside the guest's writable memory",
                    (unsigned long long)ring->gpa, (unsigned long long)(sizeof(*hdr) + ring->size));
    const uint8_t *data = (const uint8_t *)(hdr + 1);
    /* acquire: the records up to head are complete before head is read */
    uint64_t head = __atomic_load_n(&hdr->head, __ATOMIC_ACQUIRE);
    uint64_t tail = __atomic_load_n(&hdr->tail, __ATOMIC_RELAXED);
    if (head == tail)
        return 0;
    if (head % ALIGN || tail % ALIGN || head - tail > ring->size)
        return fail(msg, msg_size,
                    "console ring: head %llu and tail %llu do not describe records in %llu bytes",
                    (unsigned long long)head, (unsigned long long)tail,
                    (unsigned long long)ring->size);
    int rc = 0;
    while (tail != head) {
        struct tidal_console_record rec;
        memcpy(&rec, data + tail % ring->size, sizeof(rec));
        uint64_t room = head - tail - sizeof(rec);
        if (rec.fd != 1 && rec.fd != 2) {
            rc = fail(msg, msg_size, "console ring: record at %llu names fd %u (expected 1 or 2)",
                      (unsigned long long)tail, rec.fd);
            break;
        }
        if (padded(rec.len) > room) {
            rc = fail(msg, msg_size,
                      "console ring: record at %llu claims %u bytes, but head is %llu bytes on",
                      (unsigned long long)tail, rec.len, (unsigned long long)(head - tail));
            break;
        }
        /* len < size here, so the text wraps at most once */
        uint64_t at = (tail + sizeof(rec)) % ring->size;
        uint64_t first = rec.len < ring->size - at ? rec.len : ring->size - at;
        if (!tidal_console_emit(io, rec.fd, data + at, first))
            tidal_console_emit(io, rec.fd, data, rec.len - first);
        tail += sizeof(rec) + padded(rec.len);
    }
    /* release: the guest may reuse the space once it sees this tail */
    __atomic_store_n(&hdr->tail, tail, __ATOMIC_RELEASE);
    tidal_guest_mark_written(mem, ring->gpa + offsetof(struct tidal_console_ring, tail),
                             sizeof(hdr->tail));
    return rc;
}
