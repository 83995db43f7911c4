/* Durations, clock times and dates as users write them in JSON and on the command line. */
#include "sched_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

int tsched_parse_duration(const char *s, long *secs)
{
    /* A bare number means seconds, like Kubernetes' activeDeadlineSeconds. */
    long total = 0;
    const char *p = s;
    if (!s || !*s)
        return -1;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        char *end;
        long v = strtol(p, &end, 10);
        if (v < 0 || v > 100000000)
            return -1;
        long unit = 1;
        switch (*end) {
        case '\0':
            if (p != s)
                return -1; /* "5m3": a bare number only stands alone */
            unit = 1;
            break;
        case 's':
            unit = 1;
            end++;
            break;
        case 'm':
            unit = 60;
            end++;
            break;
        case 'h':
            unit = 3600;
            end++;
            break;
        case 'd':
            unit = 86400;
            end++;
            break;
        default:
            return -1;
        }
        total += v * unit;
        if (total > 100L * 86400)
            return -1;
        p = end;
    }
    if (total <= 0)
        return -1;
    *secs = total;
    return 0;
}

int tsched_parse_clock(const char *s, long *secs)
{
    int h, mi, sec = 0, n = 0;
    if (!s)
        return -1;
    if (sscanf(s, "%2d:%2d%n", &h, &mi, &n) != 2)
        return -1;
    if (s[n] == ':') {
        int n2 = 0;
        if (sscanf(s + n + 1, "%2d%n", &sec, &n2) != 1)
            return -1;
        n += 1 + n2;
    }
    if (s[n] != '\0' || h < 0 || h > 24 || mi < 0 || mi > 59 || sec < 0 || sec > 59)
        return -1;
    if (h == 24 && (mi || sec))
        return -1;
    *secs = (long)h * 3600 + mi * 60 + sec;
    return 0;
}

/* Days from civil date (Howard Hinnant's algorithm): avoids timegm's global state. */
static long days_from_civil(long y, unsigned mo, unsigned d)
{
    y -= mo <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long)doe - 719468;
}

int tsched_parse_date(const char *s, long *day)
{
    int y, mo, d, n = 0;
    if (!s || sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || s[n] != '\0')
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return -1;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return -1;
    *day = days_from_civil(y, (unsigned)mo, (unsigned)d);
    return 0;
}

void tsched_fmt_clock(long secs, char buf[6])
{
    secs = tsched_mod(secs, 86400);
    snprintf(buf, 6, "%02d:%02d", (int)(secs / 3600) % 100, (int)(secs / 60 % 60));
}

/* The inverse of days_from_civil, by the same method (eras of 400 years, March-based
 * years). Days before 1970 never reach here (tsched_parse_date refuses them). */
void tsched_fmt_date(long day, char buf[11])
{
    long z = day + 719468, era = z / 146097, doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    long d = doy - (153 * mp + 2) / 5 + 1, mo = mp < 10 ? mp + 3 : mp - 9;
    long y = yoe + era * 400 + (mo <= 2);
    snprintf(buf, 11, "%04u-%02u-%02u", (unsigned)y % 10000, (unsigned)mo % 100, (unsigned)d % 100);
}
