/* Batch windows: a cron schedule says when the window opens each day, a duration how
 * long it stays open, a time zone in which both are read. Cron and zone parsing are
 * the scheduler's (scheduler/cron.c, scheduler/tz.c): one definition for plans and
 * for the live host. */
#include "tidal/daemon.h"
#include "tidal/scheduler.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define DAY 86400L

int tidal_window_parse(const char *cron, const char *duration, const char *tz,
                       struct tidal_window *w, struct tidal_err *err)
{
    struct tsched_err serr;
    memset(w, 0, sizeof(*w));
    if (!cron || strlen(cron) >= sizeof(w->cron))
        return tidal_err_set(err, "window.cron: expected a cron schedule \"min hour * * *\"");
    if (tsched_parse_cron(cron, &w->start_s, &serr))
        return tidal_err_set(err, "window.cron: %s", serr.msg);
    if (!duration || tsched_parse_duration(duration, &w->duration_s) || w->duration_s > DAY)
        return tidal_err_set(err,
                             "window.duration \"%s\": expected a duration up to a day, "
                             "such as \"8h\" or \"90m\"",
                             duration ? duration : "");
    if (!tz)
        tz = "UTC";
    int off;
    if (strlen(tz) >= sizeof(w->tz) || tsched_tz_offset(tz, 0, &off, &serr))
        return tidal_err_set(err,
                             "window.tz \"%s\": expected \"UTC\", \"+HH:MM\" or an IANA "
                             "zone such as \"Europe/Paris\"",
                             tz);
    snprintf(w->cron, sizeof(w->cron), "%s", cron);
    snprintf(w->tz, sizeof(w->tz), "%s", tz);
    return 0;
}

/* Seconds after local midnight at `epoch`. */
static long local_secs(const struct tidal_window *w, double epoch)
{
    long t = (long)floor(epoch);
    int off = 0;
    struct tsched_err serr;
    if (tsched_tz_offset(w->tz, t / DAY, &off, &serr)) /* checked at parse: cannot fail */
        off = 0;
    long local = t + off;
    return ((local % DAY) + DAY) % DAY;
}

bool tidal_window_open(const struct tidal_window *w, double epoch)
{
    long since_open = ((local_secs(w, epoch) - w->start_s) % DAY + DAY) % DAY;
    return since_open < w->duration_s;
}

double tidal_window_next_change(const struct tidal_window *w, double epoch)
{
    /* Minute steps: every window edge falls on a minute, even across zone changes. */
    bool open = tidal_window_open(w, epoch);
    double t = floor(epoch / 60) * 60 + 60;
    for (int i = 0; i < 2 * 24 * 60; i++, t += 60)
        if (tidal_window_open(w, t) != open)
            return t;
    return epoch + 2 * DAY; /* open all day: never changes */
}
