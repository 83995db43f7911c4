/* Forecast mode on a synthetic week: a known daily pattern, then a day with an anomaly
 * the replay must report (an overload and a job running longer than ever before). */
#include <criterion/criterion.h>
#include <tidal/scheduler.h>

#include "helpers.h"

#include <libgen.h>
#include <stdio.h>
#include <string.h>

static const char hosts[] =
    "{\"timeZone\": \"UTC\", \"hostTypes\": [{\"name\": \"h\", \"cpu\": 32, \"memoryGB\": 128}]}";

/* web: 4 cores at night, 12 from 08:00 to 18:00 (or `spike` cores 10:00-12:00); db: 4
 * cores; etl: 8 cores for `etl_h` hours between 20:00 and 06:00. */
static void write_day(const char *date, int spike, int etl_h)
{
    char web[256] = "", text[1024], name[32];
    for (int h = 0; h < 24; h++) {
        int cpu = h >= 10 && h < 12 && spike ? spike : h >= 8 && h < 18 ? 12 : 4;
        snprintf(web + strlen(web), sizeof web - strlen(web), "%s%d", h ? ", " : "", cpu);
    }
    snprintf(text, sizeof text,
             "{\"workloads\": ["
             "{\"name\": \"web\", \"type\": \"service\", \"cpu\": [%s], \"memoryGB\": 8},"
             "{\"name\": \"db\", \"type\": \"service\", \"cpu\": 4, \"memoryGB\": 16},"
             "{\"name\": \"etl\", \"type\": \"batch\", \"cpu\": 8, \"memoryGB\": 8,"
             " \"runTime\": \"%dh\", \"start\": \"20:00\", \"deadline\": \"06:00\"}]}",
             web, etl_h);
    snprintf(name, sizeof name, "%s.json", date);
    th_write(name, text);
}

/* Plans `date` from the week before it and replays it. */
static void plan_and_replay(const char *dir, const char *date, struct tsched_replay *r)
{
    struct tsched_model m;
    struct tsched_err err;
    long day;
    int ndays;
    cr_assert_eq(tsched_model_init(&m, 300, &err), 0);
    cr_assert_eq(tsched_load_hosts(&m, th_write("hosts.json", hosts), &err), 0, "%s", err.msg);
    cr_assert_eq(tsched_parse_date(date, &day), 0);
    cr_assert_eq(tsched_forecast(&m, dir, day, 0.1, &ndays, &err), 0, "%s", err.msg);
    cr_assert_eq(ndays, 7);
    /* The forecast is the pattern plus 10%: web peaks at 13.2 cores, etl runs 4.4 h. */
    for (int i = 0; i < m.nw; i++) {
        if (strcmp(m.w[i].name, "web") == 0)
            cr_assert_float_eq(m.w[i].peak[TSCHED_CPU], 13.2, 1e-4);
        if (strcmp(m.w[i].name, "etl") == 0)
            cr_assert_float_eq(m.w[i].duration_s, 4.4 * 3600, 1e-6);
    }
    struct tsched_plan p;
    cr_assert_eq(th_plan_checked(&m, &p), 1);
    struct tsched_model actual;
    cr_assert_eq(tsched_load_day(&m, dir, day, &actual, &err), 0, "%s", err.msg);
    cr_assert_eq(tsched_replay(&m, &p, &actual, r, &err), 0, "%s", err.msg);
    tsched_model_free(&actual);
    tsched_plan_free(&p);
    tsched_model_free(&m);
}

Test(forecast, a_normal_day_replays_clean)
{
    char days[7][11];
    for (int d = 0; d < 7; d++) {
        snprintf(days[d], sizeof days[d], "2026-03-%02d", d + 1);
        write_day(days[d], 0, 4);
    }
    write_day("2026-03-08", 0, 4);
    char path[256];
    snprintf(path, sizeof path, "%s", th_write("notes.txt", "not a day"));
    struct tsched_replay r;
    plan_and_replay(dirname(path), "2026-03-08", &r);
    cr_assert_eq(r.overloaded_host_slots, 0);
    cr_assert_eq(r.deadline_misses, 0);
    cr_assert_eq(r.unplanned, 0);
    cr_assert_float_eq(r.unserved[TSCHED_CPU], 0, 1e-9);
}

Test(forecast, the_anomaly_is_reported)
{
    for (int d = 0; d < 7; d++) {
        char date[11];
        snprintf(date, sizeof date, "2026-03-%02d", d + 1);
        write_day(date, 0, 4);
    }
    /* web needs 30 cores 10:00-12:00 (with db's 4, 2 over the host's 32) and etl 6 h,
     * more than the 4.4 h planned. */
    write_day("2026-03-08", 30, 6);
    char path[256];
    snprintf(path, sizeof path, "%s", th_write("notes.txt", "not a day"));
    struct tsched_replay r;
    plan_and_replay(dirname(path), "2026-03-08", &r);
    cr_assert_eq(r.overloaded_host_slots, 24, "two hours of 5-min slots: %d",
                 r.overloaded_host_slots);
    cr_assert_float_eq(r.unserved[TSCHED_CPU], 2 * 2, 1e-6);
    cr_assert_eq(r.deadline_misses, 1);
    cr_assert_eq(r.unplanned, 0);
}

Test(forecast, no_history_is_named)
{
    struct tsched_model m;
    struct tsched_err err;
    char path[256];
    int ndays;
    snprintf(path, sizeof path, "%s", th_write("2026-03-05.json", "{\"workloads\": []}"));
    cr_assert_eq(tsched_model_init(&m, 300, &err), 0);
    long day;
    cr_assert_eq(tsched_parse_date("2026-03-05", &day), 0);
    cr_assert_eq(tsched_forecast(&m, dirname(path), day, 0.1, &ndays, &err), -1);
    cr_assert(strstr(err.msg, "no history before the planned day"), "%s", err.msg);
    cr_assert(strstr(err.msg, "tidal-sched-test"), "names the folder: %s", err.msg);
    tsched_model_free(&m);
}
