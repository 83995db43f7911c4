/* Time zones: fixed offsets, or IANA names looked up in the system's zoneinfo. */
#include "sched_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int parse_fixed(const char *s, int *off)
{
    int sign = s[0] == '-' ? -1 : 1, h = 0, mi = 0, n = 0;
    if (s[0] != '+' && s[0] != '-')
        return -1;
    if (sscanf(s + 1, "%2d%n", &h, &n) != 1)
        return -1;
    const char *p = s + 1 + n;
    if (*p == ':') {
        int n2 = 0;
        if (sscanf(p + 1, "%2d%n", &mi, &n2) != 1 || n2 != 2)
            return -1;
        p += 1 + n2;
    }
    if (*p || h > 14 || mi > 59)
        return -1;
    *off = sign * (h * 3600 + mi * 60);
    return 0;
}

/* Names are checked against the zoneinfo files because tzset() silently falls back to
 * UTC for a name it does not know, which would shift a plan without a word. */
static bool known_zone(const char *tz)
{
    if (!*tz || tz[0] == '/' || strstr(tz, ".."))
        return false;
    for (const char *p = tz; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("/_-+", *p))
            return false;
    char path[256];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", tz);
    return access(path, R_OK) == 0;
}

int tsched_tz_offset(const char *tz, long ref_day, int *offset_s, struct tsched_err *err)
{
    if (!tz)
        return tsched_errf(err, "missing time zone");
    if (!strcmp(tz, "UTC") || !strcmp(tz, "Z") || !strcmp(tz, "Etc/UTC")) {
        *offset_s = 0;
        return 0;
    }
    if (tz[0] == '+' || tz[0] == '-') {
        if (parse_fixed(tz, offset_s) < 0)
            return tsched_errf(err, "time zone \"%s\": expected +HH:MM or -HH:MM (|HH| <= 14)", tz);
        return 0;
    }
    if (!known_zone(tz))
        return tsched_errf(err,
                           "time zone \"%s\": not a known IANA name (like "
                           "\"Europe/Paris\") nor an offset like \"+01:00\"",
                           tz);
    /* The process-wide TZ is borrowed and restored: inputs are loaded single-threaded. */
    char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    setenv("TZ", tz, 1);
    tzset();
    time_t t = (time_t)ref_day * 86400 + 43200;
    struct tm tm;
    localtime_r(&t, &tm);
    *offset_s = (int)tm.tm_gmtoff;
    if (saved) {
        setenv("TZ", saved, 1);
        free(saved);
    } else {
        unsetenv("TZ");
    }
    tzset();
    return 0;
}
