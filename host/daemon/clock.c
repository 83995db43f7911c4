/* The daemon's notion of "now": real time, or a simulated clock that starts at a
 * given instant and runs `scale` times faster than real time (or only moves when a
 * test asks, with scale 0), so that tests cross days and nights in seconds. */
#include "tidal/daemon.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void tidal_clock_init(struct tidal_clock *c, bool simulated, double start, double scale)
{
    *c = (struct tidal_clock){.simulated = simulated, .scale = scale, .real_start = mono_seconds()};
    if (start == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        start = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    }
    c->start = start;
}

double tidal_clock_now(const struct tidal_clock *c)
{
    if (!c->simulated) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    }
    double offset; /* moved by API threads while others read it */
    __atomic_load(&c->manual_offset, &offset, __ATOMIC_RELAXED);
    return c->start + offset + (mono_seconds() - c->real_start) * c->scale;
}

int tidal_clock_advance(struct tidal_clock *c, double seconds, struct tidal_err *err)
{
    if (!c->simulated || c->scale != 0)
        return tidal_err_set(err, "the clock moves by request only when the daemon was started "
                                  "with --clock-scale 0 (a manual simulated clock)");
    if (!(seconds >= 0) || seconds > 366 * 86400.0)
        return tidal_err_set(err, "advance %g: expected seconds in 0..31622400", seconds);
    double offset;
    __atomic_load(&c->manual_offset, &offset, __ATOMIC_RELAXED);
    offset += seconds; /* callers serialise advances; readers only need a whole value */
    __atomic_store(&c->manual_offset, &offset, __ATOMIC_RELAXED);
    return 0;
}

/* The last second with a four-digit year, 9999-12-31T23:59:59Z: times are printed as
 * YYYY-MM-DDTHH:MM:SSZ, and a later one (1e300 is a valid number) does not fit a
 * time_t, let alone that format. */
#define TIME_MAX 253402300799.0

int tidal_parse_time(const char *s, double *epoch, struct tidal_err *err)
{
    char *end;
    double v = strtod(s, &end);
    if (*s && !*end && isfinite(v) && v >= 0 && v <= TIME_MAX) {
        *epoch = v;
        return 0;
    }
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest || (*rest && strcmp(rest, "Z") != 0))
        return tidal_err_set(
            err, "time \"%s\": expected \"YYYY-MM-DDTHH:MM:SSZ\" (UTC) or epoch seconds", s);
    *epoch = (double)timegm(&tm);
    return 0;
}

void tidal_format_time(double epoch, char out[32])
{
    /* Times also come from state.json, which need not have been written by us:
     * clamped, every value converts to a time_t and prints in the format. */
    time_t t = (time_t)floor(epoch > 0 ? fmin(epoch, TIME_MAX) : 0);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
