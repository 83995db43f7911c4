/* Console output batching. Every flush is an exit (~50 us on PVM), so bytes collect
 * here and leave in one call: when the buffer fills, at exit, and per write only
 * when stdout is a terminal (a person is watching). Pieces keep their fd and order,
 * so interleaved stdout/stderr arrive at the host as written. */
#include "guest.h"

#include <string.h>

#define CONSOLE_BYTES (64 * 1024)
#define CONSOLE_PIECES 64

static unsigned char console_buf[CONSOLE_BYTES];
static size_t console_used;
static struct tidal_iov pieces[CONSOLE_PIECES];
static uint64_t npieces;

void tidal_console_pending(uint64_t *iov_gpa, uint64_t *count)
{
    *iov_gpa = (uint64_t)(uintptr_t)pieces;
    *count = npieces;
}

void tidal_console_reset(void)
{
    npieces = 0;
    console_used = 0;
}

void tidal_console_flush(void)
{
    if (npieces)
        tidal_hypercall(TIDAL_CALL_WRITE, (uint64_t)(uintptr_t)pieces, npieces, 0);
    tidal_console_reset();
}

static void write_direct(int fd, const unsigned char *p, size_t len)
{
    while (len) {
        size_t n = len < TIDAL_CALL_LEN_MAX ? len : TIDAL_CALL_LEN_MAX;
        struct tidal_iov one = {.fd = (uint32_t)fd, .len = (uint32_t)n, .gpa = (uintptr_t)p};
        tidal_hypercall(TIDAL_CALL_WRITE, (uint64_t)(uintptr_t)&one, 1, 0);
        p += n;
        len -= n;
    }
}

void tidal_console_write(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    if (!len)
        return;
    if (len > CONSOLE_BYTES - console_used ||
        (npieces == CONSOLE_PIECES && pieces[npieces - 1].fd != (uint32_t)fd))
        tidal_console_flush();
    if (len > CONSOLE_BYTES) {
        write_direct(fd, p, len);
        return;
    }
    memcpy(console_buf + console_used, p, len);
    if (npieces && pieces[npieces - 1].fd == (uint32_t)fd &&
        pieces[npieces - 1].gpa + pieces[npieces - 1].len ==
            (uintptr_t)(console_buf + console_used)) {
        pieces[npieces - 1].len += (uint32_t)len;
    } else {
        pieces[npieces].fd = (uint32_t)fd;
        pieces[npieces].len = (uint32_t)len;
        pieces[npieces].gpa = (uintptr_t)(console_buf + console_used);
        npieces++;
    }
    console_used += len;
    if (tidal_boot->flags & TIDAL_BOOT_STDOUT_TTY)
        tidal_console_flush();
}
