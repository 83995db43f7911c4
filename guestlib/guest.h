/* guestlib's private interfaces: shared by its files, never by guest programs. */
#ifndef TIDAL_GUESTLIB_PRIVATE_H
#define TIDAL_GUESTLIB_PRIVATE_H

#include "tidal/abi.h"

#include <stddef.h>
#include <stdint.h>

extern const struct tidal_boot_info *tidal_boot;

/* One call into the monitor: a single `out`, i.e. one VM exit. The call block is
 * static because it must sit below 4 GiB (the port value is 32 bits) and the guest
 * has one vCPU. */
int64_t tidal_hypercall(uint32_t nr, uint64_t a0, uint64_t a1, uint64_t a2);
int64_t tidal_hypercall5(uint32_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
                         uint64_t a4);
int64_t tidal_hypercall_ready(uint64_t info_gpa);

/* Reads stdin (at most TIDAL_CALL_LEN_MAX per call). A READ the host cut short to
 * stop the vCPU (a pause, a snapshot of a running guest) answers -EINTR: this asks
 * again, so input survives a suspend and resume. */
int64_t tidal_read_stdin(void *buf, size_t len);
/* The host placed the start of stdin in guest memory (ready.c): reads take those bytes
 * first, and when `complete` they are all of it, so end of file costs no exit either. */
void tidal_stdin_placed(const unsigned char *data, size_t len, int complete);

/* Console: published in the ring, which the monitor drains at every exit (console.c). */
struct iovec;
void tidal_console_writev(int fd, const struct iovec *iov, int cnt);

_Noreturn void tidal_exit_now(int status);

/* Memory for mmap/brk/malloc: page ranges inside the boot-info heap region. */
void tidal_pages_init(uint64_t start, uint64_t end);
void *tidal_pages_alloc(size_t len);                   /* page-rounded, zeroed; NULL if full */
void tidal_pages_free(void *p, size_t len);            /* zeroes, then returns to the pool */
int tidal_pages_brk(uint64_t want, uint64_t *current); /* grows/shrinks the brk area */

/* Time from rdtsc, calibrated by the boot info. */
uint64_t tidal_monotonic_ns(void);
uint64_t tidal_realtime_ns(void);
void tidal_sleep_ns(uint64_t ns);
struct timespec;
int __clock_nanosleep(int clk, int flags, const struct timespec *req, struct timespec *rem);

void tidal_random_init(const uint8_t seed[32]);
void tidal_random_fill(void *buf, size_t len);

#endif
