/* Times as users write them (scheduler/cron.c, tz.c, timefmt.c; host/daemon_window.c,
 * host/daemon_clock.c): cron schedules, durations, clock times, dates and time zones of
 * workloads.json and hosts.json, and a batch job's window and deadline. Input: up to
 * three lines, read as (cron, duration, zone) and each also as the other kinds. */
#include "fuzz_util.h"

#include "tidal/daemon.h"
#include "tidal/scheduler.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line[3];
    size_t pos = 0;
    for (int i = 0; i < 3; i++) {
        size_t len = 0;
        const uint8_t *piece = fuzz_next_piece(data, size, &pos, '\n', &len);
        line[i] = fuzz_strndup(piece ? piece : data, piece ? len : 0);
    }
    struct tsched_err serr;
    struct tidal_err err;
    for (int i = 0; i < 3; i++) {
        const char *s = line[i];
        long secs, day;
        int off;
        char buf[32];
        tsched_parse_cron(s, &secs, &serr);
        if (tsched_parse_duration(s, &secs) == 0)
            tsched_fmt_clock(secs, buf);
        if (tsched_parse_clock(s, &secs) == 0)
            tsched_fmt_clock(secs, buf);
        if (tsched_parse_date(s, &day) == 0) {
            tsched_fmt_date(day, buf);
            tsched_tz_offset(line[(i + 2) % 3], day, &off, &serr);
        }
        tsched_tz_offset(s, 20454, &off, &serr);
        double epoch;
        if (tidal_parse_time(s, &epoch, &err) == 0)
            tidal_format_time(epoch, buf);
    }
    struct tidal_window w;
    double at;
    if (tidal_window_parse(line[0], line[1], line[2], &w, &err) == 0 &&
        tidal_parse_time(line[1], &at, &err) == 0)
        tidal_window_open(&w, at);
    for (int i = 0; i < 3; i++)
        free(line[i]);
    return 0;
}
