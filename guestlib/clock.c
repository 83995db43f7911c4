/* Clocks from rdtsc: native on every host, so reading the time costs no exit. The
 * monitor publishes the TSC rate and one (TSC, wall clock) pair taken at boot. */
#include "guest.h"

#include <errno.h>
#include <time.h>

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

uint64_t tidal_monotonic_ns(void)
{
    uint64_t ticks = rdtsc() - tidal_boot->boot_tsc;
    uint64_t khz = tidal_boot->tsc_khz ? tidal_boot->tsc_khz : 1000000;
    return tidal_boot->mono_base_ns + (uint64_t)((unsigned __int128)ticks * 1000000u / khz);
}

uint64_t tidal_realtime_ns(void)
{
    return tidal_boot->boot_wall_ns + (tidal_monotonic_ns() - tidal_boot->mono_base_ns);
}

void tidal_sleep_ns(uint64_t ns)
{
    tidal_hypercall(TIDAL_CALL_SLEEP, ns, 0, 0);
}

int __clock_gettime(clockid_t clk, struct timespec *ts);

int __clock_gettime(clockid_t clk, struct timespec *ts)
{
    uint64_t ns;
    switch (clk) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_TAI:
        ns = tidal_realtime_ns();
        break;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    case CLOCK_PROCESS_CPUTIME_ID: /* the guest is the only process on its vCPU */
    case CLOCK_THREAD_CPUTIME_ID:
        ns = tidal_monotonic_ns();
        break;
    default:
        errno = EINVAL;
        return -1;
    }
    ts->tv_sec = (time_t)(ns / 1000000000u);
    ts->tv_nsec = (long)(ns % 1000000000u);
    return 0;
}

int clock_gettime(clockid_t clk, struct timespec *ts)
{
    return __clock_gettime(clk, ts);
}

/* Returns an error number, like clock_nanosleep(3). */
int __clock_nanosleep(clockid_t clk, int flags, const struct timespec *req, struct timespec *rem)
{
    (void)rem;
    if (req->tv_sec < 0 || req->tv_nsec < 0 || req->tv_nsec >= 1000000000L)
        return EINVAL;
    uint64_t want = (uint64_t)req->tv_sec * 1000000000u + (uint64_t)req->tv_nsec;
    if (flags & TIMER_ABSTIME) {
        uint64_t now = clk == CLOCK_REALTIME ? tidal_realtime_ns() : tidal_monotonic_ns();
        if (want <= now)
            return 0;
        want -= now;
    }
    if (want)
        tidal_sleep_ns(want);
    return 0;
}

int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req, struct timespec *rem)
{
    return __clock_nanosleep(clk, flags, req, rem);
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
    int e = __clock_nanosleep(CLOCK_MONOTONIC, 0, req, rem);
    if (e) {
        errno = e;
        return -1;
    }
    return 0;
}
