/* Cron schedules as Kubernetes CronJobs write them; a plan covers one repeating day, so
 * only the minute and hour fields may restrict, and the job's window opens at the first
 * firing of the day. */
#include "sched_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Marks the values a field allows in set[lo..hi]; returns -1 on bad syntax. */
static int parse_field(const char *f, int lo, int hi, bool *set)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", f);
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        int a = lo, b = hi, step = 1;
        char *slash = strchr(item, '/');
        if (slash) {
            *slash = '\0';
            char *end;
            step = (int)strtol(slash + 1, &end, 10);
            if (*end || step <= 0 || slash[1] == '\0')
                return -1;
        }
        if (strcmp(item, "*") != 0) {
            char *end;
            if (!isdigit((unsigned char)item[0]))
                return -1;
            a = (int)strtol(item, &end, 10);
            b = a;
            if (*end == '-') {
                if (!isdigit((unsigned char)end[1]))
                    return -1;
                b = (int)strtol(end + 1, &end, 10);
            } else if (slash) {
                b = hi; /* "5/15" means from 5 every 15 */
            }
            if (*end || a < lo || b > hi || a > b)
                return -1;
        }
        for (int v = a; v <= b; v += step)
            set[v] = true;
    }
    return 0;
}

int tsched_parse_cron(const char *s, long *first_secs, struct tsched_err *err)
{
    char f[5][64];
    char extra[2];
    if (!s || sscanf(s, "%63s %63s %63s %63s %63s %1s", f[0], f[1], f[2], f[3], f[4], extra) != 5)
        return tsched_errf(err, "schedule \"%s\": expected 5 cron fields \"min hour dom mon dow\"",
                           s ? s : "");
    for (int i = 2; i < 5; i++)
        if (strcmp(f[i], "*") != 0 && strcmp(f[i], "?") != 0)
            return tsched_errf(err,
                               "schedule \"%s\": day-of-month, month and day-of-week must "
                               "be \"*\" (a plan is one repeating day)",
                               s);
    bool mins[60] = {0}, hours[24] = {0};
    if (parse_field(f[0], 0, 59, mins) < 0)
        return tsched_errf(err, "schedule \"%s\": bad minute field \"%s\"", s, f[0]);
    if (parse_field(f[1], 0, 23, hours) < 0)
        return tsched_errf(err, "schedule \"%s\": bad hour field \"%s\"", s, f[1]);
    for (int h = 0; h < 24; h++)
        for (int mi = 0; mi < 60; mi++)
            if (hours[h] && mins[mi]) {
                *first_secs = h * 3600L + mi * 60L;
                return 0;
            }
    return tsched_errf(err, "schedule \"%s\": never fires", s);
}
