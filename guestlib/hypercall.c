#include "guest.h"

#include <errno.h>
#include <string.h>

static struct tidal_call call_block;

static inline __attribute__((always_inline)) int64_t call_host(uint32_t nr, uint64_t a0,
                                                               uint64_t a1, uint64_t a2,
                                                               uint64_t a3, uint64_t a4)
{
    call_block.nr = nr;
    call_block.reserved = 0;
    call_block.arg[0] = a0;
    call_block.arg[1] = a1;
    call_block.arg[2] = a2;
    call_block.arg[3] = a3;
    call_block.arg[4] = a4;
    call_block.ret = 0;
    __asm__ volatile("outl %0, %w1"
                     :
                     : "a"((uint32_t)(uintptr_t)&call_block), "Nd"((uint16_t)TIDAL_PORT_CALL)
                     : "memory");
    return call_block.ret;
}

int64_t tidal_hypercall5(uint32_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
                         uint64_t a4)
{
    return call_host(nr, a0, a1, a2, a3, a4);
}

int64_t tidal_hypercall(uint32_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
    return tidal_hypercall5(nr, a0, a1, a2, 0, 0);
}

/* READY has an `out` of its own. A reused VM goes back to the point just after it
 * when a request ends, and that request's last exit is always another `out`; so KVM,
 * which finishes a pending `out` at the next entry only if RIP still points at it,
 * drops it by itself, and the host needs no extra KVM_RUN to finish it first. */
__attribute__((noinline)) int64_t tidal_hypercall_ready(uint64_t info_gpa)
{
    return call_host(TIDAL_CALL_READY, info_gpa, 0, 0, 0, 0);
}

static const unsigned char *placed;
static size_t placed_len, placed_pos;
static int placed_complete;

void tidal_stdin_placed(const unsigned char *data, size_t len, int complete)
{
    placed = data;
    placed_len = len;
    placed_pos = 0;
    placed_complete = complete;
}

int64_t tidal_read_stdin(void *buf, size_t len)
{
    if (placed_pos < placed_len) {
        size_t n = placed_len - placed_pos < len ? placed_len - placed_pos : len;
        memcpy(buf, placed + placed_pos, n);
        placed_pos += n;
        return (int64_t)n;
    }
    if (placed_complete)
        return 0;
    /* A service that answers line by line is seen answering before it blocks: the
     * host drains the console ring before it handles the READ. */
    if (len > TIDAL_CALL_LEN_MAX)
        len = TIDAL_CALL_LEN_MAX;
    int64_t n;
    do
        n = tidal_hypercall(TIDAL_CALL_READ, 0, (uint64_t)(uintptr_t)buf, len);
    while (n == -EINTR);
    return n;
}
