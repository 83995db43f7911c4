/* Durations, clock times, dates, cron schedules and time zones. */
#include <criterion/criterion.h>
#include <string.h>
#include <tidal/scheduler.h>

Test(time, durations)
{
    long s;
    cr_assert_eq(tsched_parse_duration("300", &s), 0);
    cr_assert_eq(s, 300);
    cr_assert_eq(tsched_parse_duration("5m", &s), 0);
    cr_assert_eq(s, 300);
    cr_assert_eq(tsched_parse_duration("1h30m", &s), 0);
    cr_assert_eq(s, 5400);
    cr_assert_eq(tsched_parse_duration("2d", &s), 0);
    cr_assert_eq(s, 172800);
    const char *bad[] = {"", "0", "5x", "-5m", "m", "5m3", " 5m", "99999999999", NULL};
    for (int i = 0; bad[i]; i++)
        cr_assert_eq(tsched_parse_duration(bad[i], &s), -1, "accepted \"%s\"", bad[i]);
}

Test(time, clocks_and_dates)
{
    long s;
    cr_assert_eq(tsched_parse_clock("22:30", &s), 0);
    cr_assert_eq(s, 81000);
    cr_assert_eq(tsched_parse_clock("06:00:30", &s), 0);
    cr_assert_eq(s, 21630);
    cr_assert_eq(tsched_parse_clock("24:00", &s), 0);
    cr_assert_eq(s, 86400);
    cr_assert_eq(tsched_parse_clock("24:01", &s), -1);
    cr_assert_eq(tsched_parse_clock("7pm", &s), -1);
    cr_assert_eq(tsched_parse_clock("12:60", &s), -1);
    long d;
    cr_assert_eq(tsched_parse_date("1970-01-02", &d), 0);
    cr_assert_eq(d, 1);
    cr_assert_eq(tsched_parse_date("2026-01-01", &d), 0);
    cr_assert_eq(d, 20454);
    cr_assert_eq(tsched_parse_date("2025-02-29", &d), -1);
    cr_assert_eq(tsched_parse_date("2024-02-29", &d), 0);
    char buf[6];
    tsched_fmt_clock(-300, buf);
    cr_assert_str_eq(buf, "23:55");
}

Test(time, cron)
{
    long s;
    struct tsched_err err;
    cr_assert_eq(tsched_parse_cron("0 22 * * *", &s, &err), 0, "%s", err.msg);
    cr_assert_eq(s, 22 * 3600);
    cr_assert_eq(tsched_parse_cron("30 1,13 * * *", &s, &err), 0);
    cr_assert_eq(s, 3600 + 1800);
    cr_assert_eq(tsched_parse_cron("*/15 9-17 * * *", &s, &err), 0);
    cr_assert_eq(s, 9 * 3600);
    cr_assert_eq(tsched_parse_cron("0 22 * * 1", &s, &err), -1);
    cr_assert(strstr(err.msg, "day-of-week"), "%s", err.msg);
    cr_assert_eq(tsched_parse_cron("61 22 * * *", &s, &err), -1);
    cr_assert(strstr(err.msg, "minute"), "%s", err.msg);
    cr_assert_eq(tsched_parse_cron("0 22 * *", &s, &err), -1);
    cr_assert_eq(tsched_parse_cron("0 22 * * * *", &s, &err), -1);
}

Test(time, zones)
{
    int off;
    struct tsched_err err;
    cr_assert_eq(tsched_tz_offset("UTC", 20454, &off, &err), 0);
    cr_assert_eq(off, 0);
    cr_assert_eq(tsched_tz_offset("+05:30", 20454, &off, &err), 0);
    cr_assert_eq(off, 19800);
    cr_assert_eq(tsched_tz_offset("-08", 20454, &off, &err), 0);
    cr_assert_eq(off, -28800);
    cr_assert_eq(tsched_tz_offset("+15:00", 20454, &off, &err), -1);
    cr_assert_eq(tsched_tz_offset("Mars/Olympus", 20454, &off, &err), -1);
    cr_assert(strstr(err.msg, "Mars/Olympus"), "%s", err.msg);
    cr_assert_eq(tsched_tz_offset("../etc/passwd", 20454, &off, &err), -1);
    /* IANA names follow daylight saving at the reference date (skipped without tzdata). */
    if (tsched_tz_offset("Europe/Paris", 20454, &off, &err) == 0) {
        cr_assert_eq(off, 3600);
        long summer;
        cr_assert_eq(tsched_parse_date("2026-07-01", &summer), 0);
        cr_assert_eq(tsched_tz_offset("Europe/Paris", summer, &off, &err), 0);
        cr_assert_eq(off, 7200);
    }
}
