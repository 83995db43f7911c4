/* JSON inputs: the examples load; every user mistake gets a message naming the file,
 * the field and the value. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tidal/scheduler.h>

#include "helpers.h"

static const char *root(void)
{
    const char *r = getenv("TIDAL_ROOT");
    return r ? r : ".";
}

static void load_hosts_ok(struct tsched_model *m)
{
    struct tsched_err err;
    cr_assert_eq(tsched_model_init(m, 300, &err), 0);
    const char *h = th_write("h.json", "{\"hostTypes\": [{\"name\": \"a\", \"cpu\": 32, "
                                       "\"memoryGB\": 128}]}");
    cr_assert_eq(tsched_load_hosts(m, h, &err), 0, "%s", err.msg);
}

Test(input, examples_load_and_plan)
{
    char hp[512], wp[512];
    snprintf(hp, sizeof hp, "%s/examples/plan/hosts.json", root());
    snprintf(wp, sizeof wp, "%s/examples/plan/workloads.json", root());
    struct tsched_model m;
    struct tsched_err err;
    cr_assert_eq(tsched_model_init(&m, 300, &err), 0);
    cr_assert_eq(tsched_load_hosts(&m, hp, &err), 0, "%s", err.msg);
    cr_assert_eq(tsched_load_workloads(&m, wp, &err), 0, "%s", err.msg);
    cr_assert_gt(m.nw, 5);
    struct tsched_plan p;
    th_plan_checked(&m, &p);
    tsched_plan_free(&p);
    tsched_model_free(&m);
}

/* Loads `text` as workloads.json and expects failure with all `parts` in the message. */
static void expect_bad(const char *text, const char *const *parts)
{
    struct tsched_model m;
    struct tsched_err err = {.code = TSCHED_E_INPUT};
    load_hosts_ok(&m);
    const char *path = th_write("w.json", text);
    cr_assert_eq(tsched_load_workloads(&m, path, &err), -1, "accepted: %s", text);
    cr_assert(strstr(err.msg, "w.json"), "no file name in: %s", err.msg);
    for (int i = 0; parts[i]; i++)
        cr_assert(strstr(err.msg, parts[i]), "\"%s\" missing from: %s", parts[i], err.msg);
    tsched_model_free(&m);
}

#define BAD(text, ...) expect_bad(text, (const char *const[]){__VA_ARGS__, NULL})

Test(input, rejects_bad_workloads)
{
    BAD("{\"workloads\": [", "invalid JSON", ":1:");
    BAD("{\"workloads\": 3}", "workloads", "array");
    BAD("[{\"type\": \"service\"}]", "workloads[0]", "name", "missing");
    BAD("[{\"name\": \"a\", \"type\": \"vm\"}]", "workloads[0]", "type", "\"vm\"", "service");
    BAD("[{\"name\": \"a\", \"type\": \"service\", \"cpu\": \"two\", \"memoryGB\": 1}]",
        "(\"a\").cpu", "\"two\"", "expected a number");
    BAD("[{\"name\": \"a\", \"type\": \"service\", \"cpu\": [1, -2], \"memoryGB\": 1}]", "cpu",
        "[1] = -2");
    BAD("[{\"name\": \"a\", \"type\": \"service\", \"cpu\": 1}]", "memoryGB", "missing");
    BAD("[{\"name\": \"a\", \"type\": \"service\", \"cpu\": 1, \"memoryGB\": 1, \"cpus\": 2}]",
        "cpus", "unknown field");
    BAD("[{\"name\": \"a\", \"type\": \"service\", \"cpu\": 1, \"memoryGB\": 1, "
        "\"replicas\": 1.5}]",
        "replicas", "whole number");
    BAD("[{\"name\": \"f\", \"type\": \"function\", \"ratePerSec\": 1, "
        "\"memoryMBPerInstance\": 128}]",
        "(\"f\").durationMs", "missing");
    BAD("[{\"name\": \"b\", \"type\": \"batch\", \"cpu\": 1, \"memoryGB\": 1}]", "runTime",
        "exactly one");
    BAD("[{\"name\": \"b\", \"type\": \"batch\", \"cpu\": 1, \"memoryGB\": 1, "
        "\"runTime\": \"2 hours\"}]",
        "runTime", "\"2 hours\"", "duration");
    BAD("[{\"name\": \"b\", \"type\": \"batch\", \"cpu\": 1, \"memoryGB\": 1, \"runTime\": "
        "\"1h\", \"start\": \"25:00\"}]",
        "start", "\"25:00\"", "HH:MM");
    BAD("[{\"name\": \"b\", \"type\": \"batch\", \"cpu\": 1, \"memoryGB\": 1, \"runTime\": "
        "\"1h\", \"schedule\": \"0 22 * * MON\"}]",
        "schedule", "day-of-week");
    BAD("[{\"name\": \"b\", \"type\": \"batch\", \"cpu\": 1, \"memoryGB\": 1, \"runTime\": "
        "\"3h\", \"start\": \"22:00\", \"deadline\": \"23:00\"}]",
        "(\"b\")", "never be met");
    BAD("[{\"name\": \"b\", \"type\": \"batch\", \"cpu\": 1, \"memoryGB\": 1, \"runTime\": "
        "\"1h\", \"timeZone\": \"Moon/Base\"}]",
        "timeZone", "Moon/Base");
    BAD("[{\"name\": \"b\", \"type\": \"batch\", \"cpu\": 1, \"memoryGB\": 1, \"runTime\": "
        "\"1h\", \"suspendable\": \"yes\"}]",
        "suspendable", "true or false");
}

Test(input, rejects_bad_hosts)
{
    struct {
        const char *text, *part;
    } cases[] = {
        {"{}", "hostTypes"},
        {"{\"hostTypes\": []}", "non-empty"},
        {"{\"hostTypes\": [{\"name\": \"a\", \"cpu\": 0, \"memoryGB\": 1}]}", "hostTypes[0].cpu"},
        {"{\"hostTypes\": [{\"name\": \"a\", \"cpu\": 4}]}", "memoryGB"},
        {"{\"hostTypes\": [{\"name\": \"a\", \"cpu\": 4, \"memoryGB\": 8}, {\"name\": \"b\", "
         "\"cpu\": 4, \"memoryGB\": 8}]}",
         "only allowed on the last"},
        {"{\"hostTypes\": [{\"name\": \"a\", \"cpu\": 4, \"memoryGB\": 8}], \"timeZone\": 5}",
         "timeZone"},
        {"{\"hostTypes\": [{\"name\": \"a\", \"cpu\": 4, \"memoryGB\": 8}], \"date\": "
         "\"2026-13-01\"}",
         "YYYY-MM-DD"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tsched_model m;
        struct tsched_err err;
        tsched_model_init(&m, 300, &err);
        const char *path = th_write("hosts.json", cases[i].text);
        cr_assert_eq(tsched_load_hosts(&m, path, &err), -1, "accepted %s", cases[i].text);
        cr_assert(strstr(err.msg, "hosts.json") && strstr(err.msg, cases[i].part),
                  "\"%s\" missing from: %s", cases[i].part, err.msg);
        tsched_model_free(&m);
    }
    struct tsched_model m;
    struct tsched_err err;
    tsched_model_init(&m, 300, &err);
    cr_assert_eq(tsched_load_hosts(&m, "/nonexistent/hosts.json", &err), -1);
    cr_assert(strstr(err.msg, "/nonexistent/hosts.json") && strstr(err.msg, "cannot open"));
    cr_assert_eq(tsched_model_init(&m, 7, &err), -1);
    cr_assert(strstr(err.msg, "slot length 7"), "%s", err.msg);
}

Test(input, oversized_workload_is_an_error_not_a_crash)
{
    struct tsched_model m;
    struct tsched_err err;
    load_hosts_ok(&m);
    const char *w = th_write("big.json", "[{\"name\": \"huge\", \"type\": \"service\", "
                                         "\"cpu\": 64, \"memoryGB\": 1}]");
    cr_assert_eq(tsched_load_workloads(&m, w, &err), 0, "%s", err.msg);
    struct tsched_plan p;
    cr_assert_eq(tsched_plan_build(&m, 0, &p, &err), -1);
    cr_assert(strstr(err.msg, "huge") && strstr(err.msg, "replicas"), "%s", err.msg);
    tsched_model_free(&m);
}

Test(input, time_zones_shift_curves_and_windows)
{
    struct tsched_model m;
    struct tsched_err err;
    load_hosts_ok(&m); /* plan zone UTC */
    const char *w = th_write(
        "tz.json", "[{\"name\": \"s\", \"type\": \"service\", \"timeZone\": \"+02:00\", "
                   "\"cpu\": [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,8], \"memoryGB\": 1},"
                   " {\"name\": \"b\", \"type\": \"batch\", \"cpu\": 1, \"memoryGB\": 1, "
                   "\"runTime\": \"1h\", \"start\": \"22:00\", \"deadline\": \"02:00\", "
                   "\"timeZone\": \"-01:00\"}]");
    cr_assert_eq(tsched_load_workloads(&m, w, &err), 0, "%s", err.msg);
    /* 23:00 at +02:00 is 21:00 UTC: slots 252..263. */
    cr_assert_float_eq(m.w[0].demand[TSCHED_CPU][252], 8, 1e-6);
    cr_assert_float_eq(m.w[0].demand[TSCHED_CPU][264], 0, 1e-6);
    cr_assert_float_eq(m.w[0].demand[TSCHED_CPU][276], 0, 1e-6);
    /* 22:00 at -01:00 is 23:00 UTC; the window wraps midnight and lasts 4 h. */
    cr_assert_eq(m.w[1].win_start, 276);
    cr_assert_eq(m.w[1].win_len, 48);
    tsched_model_free(&m);
}

/* Truncated and byte-flipped versions of the example never crash the loader: each
 * either loads or fails with a message naming the file. */
Test(input, mutated_inputs_never_crash)
{
    char wp[512];
    snprintf(wp, sizeof wp, "%s/examples/plan/workloads.json", root());
    FILE *f = fopen(wp, "r");
    cr_assert_not_null(f);
    static char orig[1 << 16], buf[1 << 16];
    size_t n = fread(orig, 1, sizeof orig - 1, f);
    fclose(f);
    uint64_t s = 12345;
    for (int k = 0; k < 400; k++) {
        memcpy(buf, orig, n);
        size_t len = n;
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        if (k % 4 == 0) {
            len = (size_t)(s >> 33) % n; /* truncation */
        } else {
            for (int j = 0; j < 1 + k % 3; j++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                static const char pool[] = "0-9e.\"{}[],: xyz\\";
                buf[(s >> 33) % n] = pool[(s >> 20) % (sizeof pool - 1)];
            }
        }
        buf[len] = '\0';
        struct tsched_model m;
        struct tsched_err err = {.code = TSCHED_E_INPUT};
        load_hosts_ok(&m);
        const char *path = th_write("mut.json", buf);
        if (tsched_load_workloads(&m, path, &err) < 0)
            cr_assert(strstr(err.msg, "mut.json"), "%s", err.msg);
        else
            tsched_check(&m, &err);
        tsched_model_free(&m);
    }
}
